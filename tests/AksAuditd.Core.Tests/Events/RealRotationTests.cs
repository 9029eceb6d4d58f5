using System.Diagnostics;
using AksAuditd.Core.Events;
using AksAuditd.Tests.Shared;
using Xunit;

namespace AksAuditd.Core.Tests.Events;

/// <summary>
/// -Wait across a rotation done by the real auditd (SIGUSR1: it renames audit.log to audit.log.1 and opens a new
/// audit.log), not by a test that renames files the way it believes auditd does.
/// </summary>
public sealed class RealRotationTests
{
    [Fact]
    public void FollowCarriesOnAcrossARotationByTheRealAuditd()
    {
        var output = Fixtures.NewTemporaryDirectory();
        var conf = Fixtures.NewTemporaryDirectory();
        var watched = Fixtures.NewTemporaryDirectory();
        var machine = new MachineAudit();
        var before = machine.Status();
        Assert.True(before["pid"] == "0" && machine.Auditctl("-l").StartsWith("No rules", StringComparison.Ordinal), "the kernel is not in the idle state this test restores");
        var auditd = 0;
        try
        {
            Directory.CreateDirectory(Path.Combine(conf, "plugins.d"));
            var confFile = Path.Combine(conf, "auditd.conf");
            File.WriteAllText(confFile, string.Join('\n',
                "local_events = yes", "write_logs = yes", $"log_file = {output}/audit.log", "log_group = root", "log_format = RAW",
                "flush = DATA", "freq = 0", "max_log_file = 64", "num_logs = 5", "max_log_file_action = ROTATE",
                "space_left = 2", "space_left_action = IGNORE", "admin_space_left = 1", "admin_space_left_action = IGNORE",
                "disk_full_action = IGNORE", "disk_error_action = IGNORE", $"plugin_dir = {conf}/plugins.d", "end_of_event_timeout = 2", ""));
            File.SetUnixFileMode(confFile, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead);
            Run("/sbin/auditd", "-c", conf);
            WaitUntil(() => int.TryParse(machine.Status()["pid"], out auditd) && auditd > 0, "auditd to register with the kernel");
            machine.Auditctl("-w", watched, "-p", "wa", "-k", "aks_rotation");

            using var stream = new EventStream(new AuditEventReader(new TestLog()), new AuditEventQuery
            {
                Paths = [output], HostRoot = output, Follow = true, Keys = ["aks_rotation"], PollInterval = TimeSpan.FromMilliseconds(100),
            });
            File.WriteAllText(Path.Combine(watched, "before-rotation"), "1");
            var first = NextWithPath(stream, "before-rotation");

            Run("kill", "-USR1", auditd.ToString(System.Globalization.CultureInfo.InvariantCulture));
            WaitUntil(() => File.Exists(Path.Combine(output, "audit.log.1")), "auditd to rotate its log");
            File.WriteAllText(Path.Combine(watched, "after-rotation"), "2");
            var second = NextWithPath(stream, "after-rotation");

            Assert.True(second.Serial > first.Serial);
            Assert.Contains("after-rotation", File.ReadAllText(Path.Combine(output, "audit.log")));
            Assert.DoesNotContain("after-rotation", File.ReadAllText(Path.Combine(output, "audit.log.1")));
            Assert.True(stream.Stop(TimeSpan.FromSeconds(5)));
            Assert.Null(stream.Failure);
        }
        finally
        {
            machine.Auditctl("-D");
            if (auditd > 0)
            {
                Run("kill", "-TERM", auditd.ToString(System.Globalization.CultureInfo.InvariantCulture));
                var pid = auditd;
                WaitUntil(() => !Directory.Exists($"/proc/{pid}"), "auditd to stop");
            }

            machine.Dispose();
            foreach (var directory in new[] { output, conf, watched })
            {
                Directory.Delete(directory, true);
            }
        }
    }

    /// <summary>The next event of the watch that names <paramref name="name"/> (auditctl's own CONFIG_CHANGE carries the key too).</summary>
    private static AuditEvent NextWithPath(EventStream stream, string name)
    {
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (DateTime.UtcNow < deadline)
        {
            var auditEvent = stream.Next(TimeSpan.FromSeconds(5));
            if (auditEvent is not null && auditEvent.Paths.Any(p => p.EndsWith(name, StringComparison.Ordinal)))
            {
                Assert.Equal("aks_rotation", auditEvent.Key);
                return auditEvent;
            }
        }

        Assert.Fail($"no aks_rotation event naming {name} within 30 s");
        return null!;
    }

    private static void WaitUntil(Func<bool> condition, string what)
    {
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, $"timed out waiting for {what}");
            Thread.Sleep(100);
        }
    }

    private static void Run(string file, params string[] arguments)
    {
        var start = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        using var process = Process.Start(start)!;
        var error = process.StandardError.ReadToEndAsync();
        process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        Assert.True(process.ExitCode == 0, $"{file} {string.Join(' ', arguments)} exited {process.ExitCode}: {error.Result}");
    }
}
