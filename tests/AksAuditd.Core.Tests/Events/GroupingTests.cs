using System.Text;
using AksAuditd.Core.Events;
using Xunit;

namespace AksAuditd.Core.Tests.Events;

/// <summary>How records become events, checked against the real ausearch on interleaved input.</summary>
public sealed class GroupingTests
{
    private const string Syscall = "type=SYSCALL msg=audit({0}): arch=c000003e syscall=59 success=yes exit=0 a0=1 a1=2 a2=3 a3=4 items=1 ppid=1 pid={1} auid=0 uid=0 gid=0 euid=0 suid=0 fsuid=0 egid=0 sgid=0 fsgid=0 tty=(none) ses=1 comm=\"x\" exe=\"/usr/bin/x\" key=\"k\"";
    private const string Cwd = "type=CWD msg=audit({0}): cwd=\"/\"";
    private const string PathRecord = "type=PATH msg=audit({0}): item=0 name=\"/usr/bin/x\" inode=1 dev=fe:00 mode=0100755 ouid=0 ogid=0 rdev=00:00 nametype=NORMAL cap_fp=0 cap_fi=0 cap_fe=0 cap_fver=0 cap_frootid=0";
    private const string Proctitle = "type=PROCTITLE msg=audit({0}): proctitle=\"x\"";
    private const string Login = "type=LOGIN msg=audit({0}): pid={1} uid=0 old-auid=4294967295 auid=0 tty=(none) old-ses=4294967295 ses=1 res=1";

    [Fact]
    public void InterleavedEventsSingleRecordTypesAndReusedSerialsGroupLikeAusearch()
    {
        var lines = new List<string>
        {
            // Two events whose records interleave (two CPUs), a LOGIN that is complete on its own,
            // then SYSCALL records with the LOGIN's serial (a second event, as in ausearch).
            Line(Syscall, 100, 1, 0), Line(Syscall, 150, 2, 0), Line(Cwd, 100, 1), Line(Cwd, 150, 2),
            Line(PathRecord, 150, 2), Line(PathRecord, 100, 1), Line(Proctitle, 100, 1), Line(Proctitle, 150, 2),
            Line(Login, 101, 3, 0), Line(Syscall, 101, 3, 0), Line(Proctitle, 101, 3),
            // A record arriving one second late still joins its event; three seconds late it is an event of its own.
            Line(Syscall, 102, 4, 0), Line(Syscall, 103, 5, 1), Line(Proctitle, 102, 4),
            Line(Syscall, 104, 6, 2), Line(Syscall, 105, 7, 5), Line(Proctitle, 104, 6),
            Line(Proctitle, 106, 8, 5),
        };
        var directory = Fixtures.NewTemporaryDirectory();
        try
        {
            var file = Path.Combine(directory, "audit.log");
            File.WriteAllText(file, string.Join("\n", lines) + "\n");
            var golden = AusearchComparison.Parse(AusearchComparison.Run(file));

            var events = new AuditEventReader(new TestLog()).Read(new AuditEventQuery { Paths = [file], HostRoot = "/" }).ToList();

            var problems = AusearchComparison.Compare(golden, events);
            Assert.True(problems.Count == 0, string.Join("\n", problems));
            Assert.Equal(golden.Count, events.Count);
            Assert.Equal(2, events.Count(e => e.Serial == 101));
            Assert.Equal(["SYSCALL", "CWD", "PATH", "PROCTITLE"], events.Single(e => e.Serial == 150).Types);
        }
        finally
        {
            Directory.Delete(directory, true);
        }
    }

    [Fact]
    public void EventsAreWrittenWhenCompleteNotAtTheEnd()
    {
        // A node whose auditd waits an hour for an event's records: only EOE, single-record types and the
        // log moving an hour on can complete an event while the log is being followed.
        var hostRoot = Fixtures.NewTemporaryDirectory();
        try
        {
            Directory.CreateDirectory(Path.Combine(hostRoot, "etc", "audit"));
            Directory.CreateDirectory(Path.Combine(hostRoot, "var", "log", "audit"));
            File.WriteAllText(Path.Combine(hostRoot, "etc", "audit", "auditd.conf"), "log_file = /var/log/audit/audit.log\nend_of_event_timeout = 3600\n");
            var file = Path.Combine(hostRoot, "var", "log", "audit", "audit.log");
            File.WriteAllLines(file, [Line(Syscall, 200, 1), Line(Proctitle, 200, 1), Line("type=EOE msg=audit({0}): ", 200, 1), Line(Login, 201, 2, 1), Line(Syscall, 202, 3, 2)]);
            using var stream = new EventStream(new AuditEventReader(new TestLog()), new AuditEventQuery { HostRoot = hostRoot, Follow = true, PollInterval = TimeSpan.FromMilliseconds(50) });

            var first = stream.Next(TimeSpan.FromSeconds(20));
            var second = stream.Next(TimeSpan.FromSeconds(20));
            Assert.Equal(200, first?.Serial);
            Assert.Equal(["SYSCALL", "PROCTITLE", "EOE"], first!.Types);
            Assert.Equal(201, second?.Serial);

            File.AppendAllLines(file, [Line(Proctitle, 202, 3, 2), Line(Syscall, 203, 4, 4000)]);
            var third = stream.Next(TimeSpan.FromSeconds(20));
            Assert.Equal(202, third?.Serial);
            Assert.Equal(["SYSCALL", "PROCTITLE"], third!.Types);
            Assert.True(stream.Stop(TimeSpan.FromSeconds(10)));
            Assert.Null(stream.Failure);
        }
        finally
        {
            Directory.Delete(hostRoot, true);
        }
    }

    [Fact]
    public void ReportsSerialsThatNeverAppearAsLostEvents()
    {
        var lines = new List<string>();
        for (var serial = 1; serial <= 30; serial++)
        {
            if (serial is 10 or 11 or 12 or 20)
            {
                continue;
            }

            lines.Add(Line(Login, serial, serial, serial));
        }

        // A record that arrives a little late fills its hole and is not reported.
        lines.Insert(25, Line(Login, 20, 20, 20));
        var directory = Fixtures.NewTemporaryDirectory();
        try
        {
            var file = Path.Combine(directory, "audit.log");
            File.WriteAllLines(file, lines);
            var log = new TestLog();

            var events = new AuditEventReader(log).Read(new AuditEventQuery { Paths = [file], HostRoot = "/" }).ToList();

            Assert.Equal(27, events.Count);
            var warning = Assert.Single(log.Warnings);
            Assert.Contains("serials 10-12 (3 events)", warning.Message);
            Assert.Equal(file, warning.Fields["file"]);
        }
        finally
        {
            Directory.Delete(directory, true);
        }
    }

    private static string Line(string format, long serial, int pid, int secondsLater = 0) =>
        string.Format(format, $"{1700000000 + secondsLater}.{serial % 1000:000}:{serial}", 1000 + pid);
}
