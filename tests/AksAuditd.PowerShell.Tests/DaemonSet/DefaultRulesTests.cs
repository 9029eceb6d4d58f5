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
        // The node's path: the ConfigMap's files beside the package's own rules.d/audit.rules, merged and loaded by
        // the real augenrules (its ordering of -D, -b, -f and -e, not ours), into this machine's kernel.
        using var machine = new MachineAudit();
        var before = machine.Status();
        var files = RuleLines().GroupBy(r => r.File).OrderBy(g => g.Key, StringComparer.Ordinal).ToList();
        foreach (var file in files)
        {
            File.WriteAllLines(Path.Combine(MachineAudit.RulesDirectory, file.Key), file.Select(r => r.Line));
        }

        var load = Run("augenrules", "--load");
        if (load.ExitCode != 0)
        {
            var work = Directory.CreateTempSubdirectory("aks-auditd-default-rules-");
            try
            {
                Assert.Fail($"augenrules --load failed ({load.Output.Trim()}); the kernel refused: " + string.Join("; ", RefusedLines(files.SelectMany(g => g), work.FullName)));
            }
            finally
            {
                work.Delete(recursive: true);
            }
        }

        var rules = File.ReadAllLines("/etc/audit/audit.rules")
            .Where(l => l.StartsWith("-a", StringComparison.Ordinal) || l.StartsWith("-w", StringComparison.Ordinal)).ToList();
        var listing = machine.Auditctl("-l").Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(rules.Count, listing.Length);
        Assert.Equal(RuleLines().Count(r => r.Line.StartsWith("-a", StringComparison.Ordinal) || r.Line.StartsWith("-w", StringComparison.Ordinal)), rules.Count);
        var after = machine.Status();
        // zz-settings.rules sorts after the package's audit.rules, so its -b, -f and --backlog_wait_time win.
        Assert.Equal("8192", after["backlog_limit"]);
        Assert.Equal("0", after["backlog_wait_time"]);
        Assert.Equal("1", after["failure"]);
        Assert.Equal(before["enabled"], after["enabled"]);
    }

    private static (int ExitCode, string Output) Run(string file, params string[] arguments)
    {
        var start = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        using var process = Process.Start(start)!;
        var error = process.StandardError.ReadToEndAsync();
        var output = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        return (process.ExitCode, output + error.Result);
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
