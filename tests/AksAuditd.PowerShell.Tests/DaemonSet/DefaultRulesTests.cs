using System.Diagnostics;
using AksAuditd.Tests.Shared;
using k8s;
using k8s.Models;
using Xunit;

namespace AksAuditd.PowerShell.Tests.DaemonSet;

/// <summary>
/// The default auditd-rules ConfigMap is what every node loads on day one: it must never lock or panic a
/// node, and the real kernel must take every line of it.
/// </summary>
public sealed class DefaultRulesTests
{
    [Fact]
    public void DefaultRulesNeverLockTheRulesOrPanicTheNode()
    {
        foreach (var (file, number, line) in RuleLines())
        {
            var words = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            for (var i = 0; i < words.Length; i++)
            {
                // -e (any value: auditd enables auditing itself), -f 2 (panic), --loginuid-immutable (locked until reboot),
                // also written together ("-e2", "-f2") as auditctl's getopt accepts them.
                Assert.False(words[i].StartsWith("-e", StringComparison.Ordinal), $"{file}:{number}: '{line}' sets the enabled flag");
                Assert.False(
                    words[i] == "-f2" || (words[i] == "-f" && i + 1 < words.Length && words[i + 1] == "2"),
                    $"{file}:{number}: '{line}' would panic the node on lost records");
                Assert.False(words[i].StartsWith("--loginuid", StringComparison.Ordinal), $"{file}:{number}: '{line}' locks loginuid until reboot");
            }
        }
    }

    [Fact]
    public void BacklogSettingsDoNotStallABusyNode()
    {
        var controls = RuleLines().Select(r => r.Line).ToList();
        Assert.Contains("--backlog_wait_time 0", controls);
        var backlog = controls.Where(l => l.StartsWith("-b ", StringComparison.Ordinal)).Select(l => int.Parse(l[3..])).Single();
        Assert.InRange(backlog, 8192, 65536);

        // augenrules applies the last --backlog_wait_time: ours must sort after the auditd package's rules.d/audit.rules.
        var settingsFile = RuleLines().Single(r => r.Line.StartsWith("--backlog_wait_time", StringComparison.Ordinal)).File;
        Assert.True(string.CompareOrdinal(settingsFile, "audit.rules") > 0, $"{settingsFile} sorts before audit.rules");
    }

    [Fact]
    public void RealKernelAcceptsTheDefaultRules()
    {
        using var kernelLock = KernelTestLock.Acquire();
        var before = Status();
        Assert.True(before["enabled"] != "2", "the kernel's audit rules are locked (enabled 2); this machine needs a reboot");
        var previousRules = Auditctl("-l").Output;

        var files = RuleLines().GroupBy(r => r.File).OrderBy(g => g.Key, StringComparer.Ordinal).ToList();
        var work = Directory.CreateTempSubdirectory("aks-auditd-default-rules-");
        try
        {
            Auditctl("-D");

            // One rules file as augenrules builds it: -D, the last -b and -f first, the rest in file order.
            var lines = files.SelectMany(g => g).Select(r => r.Line).ToList();
            var loaded = new List<string> { "-D" };
            loaded.AddRange(lines.Where(l => l.StartsWith("-b ", StringComparison.Ordinal)).TakeLast(1));
            loaded.AddRange(lines.Where(l => l.StartsWith("-f ", StringComparison.Ordinal)).TakeLast(1));
            var rules = lines.Where(l => l != "-D" && !l.StartsWith("-b ", StringComparison.Ordinal) && !l.StartsWith("-f ", StringComparison.Ordinal)).ToList();
            loaded.AddRange(rules);
            var rulesFile = Path.Combine(work.FullName, "audit.rules");
            File.WriteAllLines(rulesFile, loaded);

            var load = Auditctl("-R", rulesFile);
            if (load.ExitCode != 0)
            {
                Assert.Fail("the kernel refused the default rules: " + string.Join("; ", RefusedLines(files.SelectMany(g => g), work.FullName)));
            }

            var listing = Auditctl("-l").Output.Split('\n', StringSplitOptions.RemoveEmptyEntries);
            Assert.Equal(rules.Count(l => !l.StartsWith("--", StringComparison.Ordinal)), listing.Length);
            var after = Status();
            Assert.Equal("8192", after["backlog_limit"]);
            Assert.Equal("0", after["backlog_wait_time"]);
            Assert.Equal("1", after["failure"]);
            Assert.Equal(before["enabled"], after["enabled"]);
        }
        finally
        {
            Auditctl("-D");
            Auditctl("-b", before["backlog_limit"]);
            Auditctl("--backlog_wait_time", before["backlog_wait_time"]);
            if (before["failure"] is "0" or "1")
            {
                Auditctl("-f", before["failure"]);
            }

            if (!previousRules.StartsWith("No rules", StringComparison.Ordinal))
            {
                var restore = Path.Combine(work.FullName, "previous.rules");
                File.WriteAllText(restore, previousRules);
                Auditctl("-R", restore);
            }

            work.Delete(recursive: true);
        }
    }

    /// <summary>Each rule line alone, to name the ones the kernel refuses (auditctl -R reports to syslog, not stderr).</summary>
    private static IEnumerable<string> RefusedLines(IEnumerable<(string File, int Number, string Line)> lines, string work)
    {
        var single = Path.Combine(work, "line.rules");
        foreach (var (file, number, line) in lines)
        {
            Auditctl("-D");
            File.WriteAllText(single, line + "\n");
            if (Auditctl("-R", single).ExitCode != 0)
            {
                yield return $"{file}:{number}: {line}";
            }
        }
    }

    /// <summary>Every rule line of the ConfigMap: (data key, line number in that file, text).</summary>
    internal static IReadOnlyList<(string File, int Number, string Line)> RuleLines()
    {
        var configMap = KubernetesYaml.Deserialize<V1ConfigMap>(File.ReadAllText(RepositoryPaths.InKubernetes("auditd-rules.yaml")), strict: true);
        var result = new List<(string, int, string)>();
        foreach (var (file, text) in configMap.Data.OrderBy(p => p.Key, StringComparer.Ordinal))
        {
            var lines = text.Split('\n');
            for (var i = 0; i < lines.Length; i++)
            {
                var line = lines[i].Trim();
                if (line.Length > 0 && !line.StartsWith('#'))
                {
                    result.Add((file, i + 1, line));
                }
            }
        }

        return result;
    }

    private static Dictionary<string, string> Status() =>
        Auditctl("-s").Output.Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(l => l.Split(' ', 2))
            .Where(p => p.Length == 2)
            .GroupBy(p => p[0])
            .ToDictionary(g => g.Key, g => g.First()[1].Trim());

    private static (int ExitCode, string Output) Auditctl(params string[] arguments)
    {
        Assert.DoesNotContain(arguments, a => a.StartsWith("-e", StringComparison.Ordinal) || a.StartsWith("--loginuid", StringComparison.Ordinal));
        KernelLoadGuard.AssertSafeCommand("auditctl", arguments);
        var start = new ProcessStartInfo("auditctl") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        process.StandardError.ReadToEnd();
        process.WaitForExit();
        return (process.ExitCode, output.Result);
    }
}
