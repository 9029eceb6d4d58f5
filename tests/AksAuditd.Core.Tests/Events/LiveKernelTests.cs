using System.Diagnostics;
using AksAuditd.Core.Events;
using AksAuditd.Tests.Shared;
using Xunit;

namespace AksAuditd.Core.Tests.Events;

/// <summary>
/// A fresh log from this machine's kernel and auditd (RAW format this time, no node name), generated at test
/// time by the same recorder as the committed fixture, then read by us and by the real ausearch -i.
/// </summary>
public sealed class LiveKernelTests
{
    [Fact]
    public void FreshRawLogFromTheKernelMatchesAusearch()
    {
        var output = Fixtures.NewTemporaryDirectory();
        try
        {
            using (KernelTestLock.Acquire())
            {
                var (exitCode, text) = Run(Fixtures.RecorderScript, output, "RAW");
                Assert.True(exitCode == 0, $"record-audit-log.sh failed ({exitCode}): {text}");
                var (_, status) = Run("auditctl", "-s");
                var (_, rules) = Run("auditctl", "-l");
                Assert.Contains("enabled 0", status);
                Assert.Contains("No rules", rules);
            }

            var golden = AusearchComparison.Parse(File.ReadAllText(Path.Combine(output, "ausearch-interpreted.txt")));
            var log = new TestLog();

            var events = new AuditEventReader(log).Read(new AuditEventQuery { Paths = [output], HostRoot = Path.Combine(output, "host") }).ToList();

            Assert.Equal(3, Directory.GetFiles(output, "audit.log*").Length);
            Assert.All(events, e => Assert.Null(e.Node));
            Assert.DoesNotContain(events.SelectMany(e => e.Records), r => r.IsEnriched);
            foreach (var key in new[] { "procmon", "watched", "denied", "net", "signal", "perm" })
            {
                Assert.Contains(events, e => e.Key == key);
            }

            var problems = AusearchComparison.Compare(golden, events);
            Assert.True(problems.Count == 0, string.Join("\n", problems.Take(40)));
            Assert.Empty(log.Warnings);
        }
        finally
        {
            Directory.Delete(output, true);
        }
    }

    private static (int ExitCode, string Output) Run(string file, params string[] arguments)
    {
        var start = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        // This test holds the machine-wide kernel lock; the recorder must not wait for it again.
        start.Environment["AKSAUDITD_KERNEL_LOCK_HELD"] = "1";
        using var process = Process.Start(start)!;
        var errors = process.StandardError.ReadToEndAsync();
        var text = process.StandardOutput.ReadToEnd();
        if (!process.WaitForExit(TimeSpan.FromMinutes(2)))
        {
            process.Kill(entireProcessTree: true);
            return (-1, text + "(timed out)");
        }

        return (process.ExitCode, text + errors.Result);
    }
}
