using AksAuditd.Core.Audit;
using AksAuditd.Core.Events;
using Xunit;

namespace AksAuditd.Core.Tests.Events;

/// <summary>The filters an operator combines, over the committed real log.</summary>
public sealed class QueryTests
{
    private static readonly string HostRoot = Path.Combine(Fixtures.Recorded, "host");

    private static List<AuditEvent> Read(AuditEventQuery query) =>
        new AuditEventReader(new TestLog()).Read(query).ToList();

    private static List<AuditEvent> All() => Read(new AuditEventQuery { Paths = [Fixtures.Recorded], HostRoot = HostRoot });

    [Fact]
    public void FiltersMatchWhatTheEventsSay()
    {
        var all = All();

        var denied = Read(new AuditEventQuery { Paths = [Fixtures.Recorded], HostRoot = HostRoot, Keys = ["den*"], Success = false });
        Assert.NotEmpty(denied);
        Assert.Equal(all.Count(e => e.Key == "denied" && e.Success == false), denied.Count);
        Assert.All(denied, e => Assert.Equal(-13, e.Exit));

        var logins = Read(new AuditEventQuery { Paths = [Fixtures.Recorded], HostRoot = HostRoot, MessageTypes = ["login"] });
        Assert.Equal(all.Count(e => e.Types.Contains("LOGIN")), logins.Count);
        Assert.NotEmpty(logins);

        var pid = all.First(e => e.Key == "procmon").ProcessId!.Value;
        var byPid = Read(new AuditEventQuery { Paths = [Fixtures.Recorded], HostRoot = HostRoot, ProcessIds = [pid] });
        Assert.Contains(byPid, e => e.Key == "procmon");
        Assert.All(byPid, e => Assert.Contains(e.Records, r => r.GetRaw("pid") == pid.ToString()));

        var chmod = Read(new AuditEventQuery { Paths = [Fixtures.Recorded], HostRoot = HostRoot, Executables = ["/usr/bin/ch[mo]*"] });
        Assert.Equal(all.Count(e => e.Executable is "/usr/bin/chmod" or "/usr/bin/chown"), chmod.Count);

        var middle = all[all.Count / 2].Timestamp;
        var after = Read(new AuditEventQuery { Paths = [Fixtures.Recorded], HostRoot = HostRoot, After = middle });
        var before = Read(new AuditEventQuery { Paths = [Fixtures.Recorded], HostRoot = HostRoot, Before = middle });
        Assert.Equal(all.Count(e => e.Timestamp >= middle), after.Count);
        Assert.Equal(all.Count(e => e.Timestamp <= middle), before.Count);

        // Like ausearch -k: the key of any record counts, so auditctl's own CONFIG_CHANGE for the rule matches too.
        var procmon = Read(new AuditEventQuery { Paths = [Fixtures.Recorded], HostRoot = HostRoot, Keys = ["procmon"] });
        Assert.Contains(procmon, e => e.Types.Contains("CONFIG_CHANGE"));
        Assert.Equal(AusearchComparison.Parse(File.ReadAllText(Path.Combine(Fixtures.Recorded, "ausearch-interpreted.txt")))
            .Count(e => e.Records.Any(r => System.Text.RegularExpressions.Regex.IsMatch(r.Fields, @"(^| )key=procmon( |$)"))), procmon.Count);

        var tail = Read(new AuditEventQuery { Paths = [Fixtures.Recorded], HostRoot = HostRoot, Tail = 5, Keys = ["procmon"] });
        Assert.Equal(all.Where(e => e.Key == "procmon").TakeLast(5).Select(e => e.Serial), tail.Select(e => e.Serial));
    }

    /// <summary>
    /// The reader drops events by their first record (key, result, program) and by the type of single-record events
    /// before building them; every filter and combination must keep exactly the events that filtering the whole
    /// log afterwards keeps, in the same order, on each recorded log.
    /// </summary>
    [Theory]
    [InlineData("recorded")]
    [InlineData("churn-before")]
    [InlineData("churn-after")]
    public void FilteringBeforeEventsAreBuiltKeepsWhatFilteringAfterwardsKeeps(string log)
    {
        var logPath = Path.Combine(Fixtures.Directory, log);
        var all = Read(new AuditEventQuery { Paths = [logPath], HostRoot = HostRoot });
        // The busiest process of the system-call events (decided on their SYSCALL record), and a user-space one.
        var pid = all.Where(e => e.Syscall is not null && e.ProcessId is not null).GroupBy(e => e.ProcessId!.Value).MaxBy(g => g.Count())!.Key;
        var userPid = all.FirstOrDefault(e => e.Syscall is null && e.ProcessId is not null && e.ProcessId != pid)?.ProcessId ?? -1;
        var cases = new (AuditEventQuery Query, Func<AuditEvent, bool> Wanted)[]
        {
            (Query(keys: ["denied"]), e => e.Keys.Contains("denied")),
            (Query(keys: ["proc*", "net"]), e => e.Keys.Any(k => k.StartsWith("proc", StringComparison.Ordinal) || k == "net")),
            (Query(keys: ["no-such-key"]), _ => false),
            (Query(success: true), e => e.Success == true),
            (Query(success: false), e => e.Success == false),
            (Query(executables: ["/usr/bin/ch[mo]*"]), e => e.Executable is "/usr/bin/chmod" or "/usr/bin/chown"),
            (Query(executables: ["*/bash"]), e => e.Executable?.EndsWith("/bash", StringComparison.Ordinal) == true),
            (Query(types: ["login"]), e => e.Types.Contains("LOGIN")),
            (Query(types: ["CONFIG_CHANGE", "daemon_start"]), e => e.Types.Contains("CONFIG_CHANGE") || e.Types.Contains("DAEMON_START")),
            (Query(types: ["PATH"]), e => e.Types.Contains("PATH")),
            (Query(pids: [pid]), e => e.ProcessId == pid),
            (Query(pids: [userPid, pid, int.MaxValue]), e => e.ProcessId == userPid || e.ProcessId == pid),
            (Query(pids: [pid], success: true, keys: ["procmon"]), e => e.ProcessId == pid && e.Success == true && e.Keys.Contains("procmon")),
            (Query(pids: [pid], types: ["CONFIG_CHANGE"]), e => e.ProcessId == pid && e.Types.Contains("CONFIG_CHANGE")),
            (Query(keys: ["denied"], success: false), e => e.Keys.Contains("denied") && e.Success == false),
            (Query(keys: ["watched"], success: true, types: ["SYSCALL"]), e => e.Keys.Contains("watched") && e.Success == true && e.Types.Contains("SYSCALL")),
            (Query(success: true, executables: ["/usr/bin/*"], types: ["EXECVE", "USER"]),
                e => e.Success == true && e.Executable?.StartsWith("/usr/bin/", StringComparison.Ordinal) == true && (e.Types.Contains("EXECVE") || e.Types.Contains("USER"))),
        };

        foreach (var (query, wanted) in cases)
        {
            var expected = all.Where(wanted).Select(e => (e.Timestamp, e.Serial)).ToList();
            var read = Read(query).Select(e => (e.Timestamp, e.Serial)).ToList();
            Assert.True(expected.SequenceEqual(read), $"{Describe(query)}: {read.Count} events read, {expected.Count} expected");
        }

        Assert.Contains(cases, c => all.Count(c.Wanted) > 0 && all.Count(c.Wanted) < all.Count);

        AuditEventQuery Query(string[]? keys = null, bool? success = null, string[]? executables = null, string[]? types = null, int[]? pids = null) =>
            new()
            {
                Paths = [logPath], HostRoot = HostRoot, Keys = keys ?? [], Success = success,
                Executables = executables ?? [], MessageTypes = types ?? [], ProcessIds = pids ?? [],
            };

        static string Describe(AuditEventQuery q) =>
            $"keys [{string.Join(",", q.Keys)}] success {q.Success} exe [{string.Join(",", q.Executables)}] types [{string.Join(",", q.MessageTypes)}] pids [{string.Join(",", q.ProcessIds)}]";
    }

    /// <summary>The default view's text and the table's columns are compiled properties; the text is built once.</summary>
    [Fact]
    public void PrintedTextIsAusearchsAndBuiltOnce()
    {
        var all = All();
        var call = all.First(e => e.Key == "procmon");
        Assert.Same(call.ToString(), call.ToString());
        Assert.StartsWith("----\n", call.ToString());
        Assert.Equal(call.Records.Count, call.ToString().Split('\n').Length - 1);
        Assert.Equal(call.Records.Reverse().Select(r => r.ToString()), call.ToString().Split('\n').Skip(1));
        Assert.Equal(call.Syscall, call.Kind);
        Assert.Equal(call.Success == true ? "yes" : "no", call.Result);
        Assert.Equal(call.ProcessTitle, call.Description);

        var daemon = all.First(e => e.Types[0] == "DAEMON_START");
        Assert.Equal("DAEMON_START", daemon.Kind);
        Assert.Equal(string.Join(' ', daemon.Records[0].Fields.Take(6)), daemon.Description);
    }

    [Fact]
    public void DefaultLogIsTheNodesLogFileFromAuditdConf()
    {
        var hostRoot = Fixtures.NewTemporaryDirectory();
        try
        {
            Directory.CreateDirectory(Path.Combine(hostRoot, "etc", "audit"));
            Directory.CreateDirectory(Path.Combine(hostRoot, "data", "audit"));
            File.WriteAllText(Path.Combine(hostRoot, "etc", "audit", "auditd.conf"), "# node settings\nlog_file = /data/audit/node.log\nend_of_event_timeout = 5\n");
            foreach (var (from, to) in new[] { ("audit.log.2", "node.log.2"), ("audit.log.1", "node.log.1"), ("audit.log", "node.log") })
            {
                File.Copy(Path.Combine(Fixtures.Recorded, from), Path.Combine(hostRoot, "data", "audit", to));
            }

            var location = AuditLogLocation.Read(hostRoot);
            var reader = new AuditEventReader(new TestLog(), new HostAccountNames(HostRoot));
            var files = reader.ResolveFiles(new AuditEventQuery { HostRoot = hostRoot });

            Assert.Equal(Path.Combine(hostRoot, "data", "audit", "node.log"), location.LogFile);
            Assert.Equal(5, location.EndOfEventTimeoutSeconds);
            Assert.Equal(["node.log.2", "node.log.1", "node.log"], files.Select(Path.GetFileName));
            Assert.Equal(All().Count, reader.Read(new AuditEventQuery { HostRoot = hostRoot }).Count());
        }
        finally
        {
            Directory.Delete(hostRoot, true);
        }
    }

    [Fact]
    public void MissingLogIsAFileNotFoundNamingTheConfiguredPath()
    {
        var hostRoot = Fixtures.NewTemporaryDirectory();
        try
        {
            var error = Assert.Throws<FileNotFoundException>(() => new AuditEventReader(new TestLog()).Read(new AuditEventQuery { HostRoot = hostRoot }));
            Assert.Equal(Path.Combine(hostRoot, "var/log/audit/audit.log"), error.FileName);
        }
        finally
        {
            Directory.Delete(hostRoot, true);
        }
    }

    [Fact]
    public void ExplicitFilesAreReadInRotationOrder()
    {
        var files = AuditEventReader.InRotationOrder(["/l/audit.log", "/l/audit.log.1", "/l/audit.log.10", "/l/audit.log.2", "/other.log"]);

        Assert.Equal(["/l/audit.log.10", "/l/audit.log.2", "/l/audit.log.1", "/l/audit.log", "/other.log"], files);
    }
}
