using AksAuditd.Core.Events;
using Xunit;

namespace AksAuditd.Core.Tests.Events;

/// <summary>-Wait: following the live log like tail -f, across a real rotation (rename, then a new file), until cancelled.</summary>
public sealed class FollowTests
{
    private const string Login = "type=LOGIN msg=audit({0}): pid={1} uid=0 old-auid=4294967295 auid=0 tty=(none) old-ses=4294967295 ses=1 res=1";
    private const string Syscall = "type=SYSCALL msg=audit({0}): arch=c000003e syscall=59 success=yes exit=0 a0=1 a1=2 a2=3 a3=4 items=0 ppid=1 pid={1} auid=0 uid=0 gid=0 euid=0 suid=0 fsuid=0 egid=0 sgid=0 fsgid=0 tty=(none) ses=1 comm=\"x\" exe=\"/usr/bin/x\" key=\"k\"";

    [Fact]
    public void FollowsAcrossRotationAndStopsWhenCancelled()
    {
        var directory = Fixtures.NewTemporaryDirectory();
        try
        {
            var file = Path.Combine(directory, "audit.log");
            File.WriteAllLines(file, [Line(Login, 1), Line(Login, 2)]);
            File.WriteAllLines(file + ".1", [Line(Login, 0)]);
            var log = new TestLog();
            using var stream = new EventStream(new AuditEventReader(log), new AuditEventQuery { Paths = [directory], HostRoot = directory, Follow = true, PollInterval = TimeSpan.FromMilliseconds(50) });

            // What was there: the rotation first, then the live file.
            Assert.Equal([0L, 1, 2], Take(stream, 3));

            // auditd writes more, part of a line first: nothing until the line is whole.
            using (var writer = new StreamWriter(file, append: true))
            {
                writer.Write(Line(Login, 3)[..20]);
                writer.Flush();
                Assert.Null(stream.Next(TimeSpan.FromMilliseconds(400)));
                writer.WriteLine(Line(Login, 3)[20..]);
            }

            Assert.Equal([3L], Take(stream, 1));

            // Rotation the way auditd does it: rename to .1 (after one last line), then a new audit.log.
            File.AppendAllLines(file, [Line(Login, 4)]);
            File.Move(file + ".1", file + ".2");
            File.Move(file, file + ".1");
            File.AppendAllLines(file + ".1", [Line(Login, 5)]);
            File.WriteAllLines(file, [Line(Login, 6)]);
            File.AppendAllLines(file, [Line(Syscall, 7)]);

            Assert.Equal([4L, 5, 6], Take(stream, 3));

            // The SYSCALL event has no EOE; once the log is quiet for end_of_event_timeout it is complete.
            Assert.Equal([7L], Take(stream, 1));
            Assert.True(stream.Stop(TimeSpan.FromSeconds(5)), "the follower did not stop when cancelled");
            Assert.Null(stream.Failure);
            Assert.Empty(log.Warnings);
        }
        finally
        {
            Directory.Delete(directory, true);
        }
    }

    [Fact]
    public void StartsOverWhenTheLogIsTruncatedInPlace()
    {
        var directory = Fixtures.NewTemporaryDirectory();
        try
        {
            var file = Path.Combine(directory, "audit.log");
            File.WriteAllLines(file, [Line(Login, 1), Line(Login, 2), Line(Login, 3)]);
            using var stream = new EventStream(new AuditEventReader(new TestLog()), new AuditEventQuery { Paths = [file], HostRoot = directory, Follow = true, PollInterval = TimeSpan.FromMilliseconds(50) });
            Assert.Equal([1L, 2, 3], Take(stream, 3));

            // logrotate's copytruncate: same file, cut to nothing, then written from the start.
            using (var truncate = new FileStream(file, FileMode.Open, FileAccess.Write, FileShare.ReadWrite))
            {
                truncate.SetLength(0);
            }

            File.AppendAllLines(file, [Line(Login, 4)]);
            Assert.Equal([4L], Take(stream, 1));
        }
        finally
        {
            Directory.Delete(directory, true);
        }
    }

    [Fact]
    public void TailShowsTheLastEventsThenFollows()
    {
        var directory = Fixtures.NewTemporaryDirectory();
        try
        {
            var file = Path.Combine(directory, "audit.log");
            File.WriteAllLines(file, Enumerable.Range(1, 50).Select(i => Line(Login, i)));
            using var stream = new EventStream(new AuditEventReader(new TestLog()), new AuditEventQuery { Paths = [file], HostRoot = directory, Follow = true, Tail = 3, PollInterval = TimeSpan.FromMilliseconds(50) });

            Assert.Equal([48L, 49, 50], Take(stream, 3));
            File.AppendAllLines(file, [Line(Login, 51)]);
            Assert.Equal([51L], Take(stream, 1));
        }
        finally
        {
            Directory.Delete(directory, true);
        }
    }

    [Fact]
    public void TellsARenamedFileFromItsReplacement()
    {
        var directory = Fixtures.NewTemporaryDirectory();
        try
        {
            var file = Path.Combine(directory, "audit.log");
            File.WriteAllText(file, "a");
            using var handle = File.OpenHandle(file);
            Assert.True(FileIdentity.TryGet(handle, out var open));
            Assert.True(FileIdentity.TryGet(file, out var before));
            File.Move(file, file + ".1");
            File.WriteAllText(file, "b");
            Assert.True(FileIdentity.TryGet(file, out var after));

            Assert.Equal(open, before);
            Assert.NotEqual(open, after);
        }
        finally
        {
            Directory.Delete(directory, true);
        }
    }

    private static List<long> Take(EventStream stream, int count)
    {
        var serials = new List<long>();
        for (var i = 0; i < count; i++)
        {
            var auditEvent = stream.Next(TimeSpan.FromSeconds(20));
            Assert.True(auditEvent is not null, $"no event {i + 1} of {count} within 20 s (got {string.Join(",", serials)})");
            serials.Add(auditEvent.Serial);
        }

        return serials;
    }

    private static string Line(string format, long serial) =>
        string.Format(format, $"{1700000000 + serial}.000:{serial}", 1000 + serial);
}
