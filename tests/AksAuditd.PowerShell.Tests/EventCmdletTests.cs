using System.Collections.ObjectModel;
using System.Management.Automation;
using System.Management.Automation.Runspaces;
using Xunit;

namespace AksAuditd.PowerShell.Tests;

/// <summary>Get-AuditEvent in a real runspace over the committed real log (tests/fixtures/events/recorded).</summary>
public sealed class EventCmdletTests
{
    private static readonly string Recorded = Path.Combine(RepositoryRoot(), "tests", "fixtures", "events", "recorded");
    private static readonly string HostRoot = Path.Combine(Recorded, "host");

    [Fact]
    public void WritesTypedEventsAndTheExeAliasFiltersThem()
    {
        using var shell = new ModuleRunspace();

        var result = shell.Invoke(
            "param($p, $h) Get-AuditEvent -Path $p -HostRoot $h -Key procmon | Where-Object Exe -like '*/ls'",
            new Dictionary<string, object?> { ["p"] = Recorded, ["h"] = HostRoot });

        Assert.Empty(result.AllErrors);
        Assert.Empty(result.Warnings);
        Assert.NotEmpty(result.Output);
        Assert.All(result.Output, e =>
        {
            Assert.Equal("AksAuditd.Core.Events.AuditEvent", e.BaseObject.GetType().FullName);
            Assert.Equal("procmon", e.Properties["Key"].Value);
            Assert.EndsWith("/ls", (string)e.Properties["Executable"].Value);
            Assert.Equal("execve", e.Properties["Syscall"].Value);
        });
        Assert.Contains(result.Output, e => ((string[])e.Properties["Paths"].Value).Any(p => p.EndsWith("/ls", StringComparison.Ordinal)));
    }

    [Fact]
    public void RawWritesTheOriginalLinesOfMatchingEvents()
    {
        using var shell = new ModuleRunspace();
        var lines = new[] { "audit.log.2", "audit.log.1", "audit.log" }.SelectMany(f => File.ReadAllLines(Path.Combine(Recorded, f))).ToHashSet();

        var result = shell.Invoke(
            "param($p, $h) Get-ChildItem $p -Filter 'audit.log*' | Get-AuditEvent -HostRoot $h -MessageType LOGIN -Raw",
            new Dictionary<string, object?> { ["p"] = Recorded, ["h"] = HostRoot });

        Assert.Empty(result.AllErrors);
        Assert.NotEmpty(result.Output);
        Assert.All(result.Output, line => Assert.Contains((string)line.BaseObject, lines));
        Assert.Contains(result.Output, line => ((string)line.BaseObject).Contains("type=LOGIN", StringComparison.Ordinal));
    }

    [Fact]
    public void DefaultViewReadsLikeAusearchAndTableHasOneLinePerEvent()
    {
        using var shell = new ModuleRunspace();
        var parameters = new Dictionary<string, object?> { ["p"] = Recorded, ["h"] = HostRoot };

        var list = shell.Invoke("param($p, $h) Get-AuditEvent -Path $p -HostRoot $h -Key procmon -Tail 1 | Out-String -Width 400", parameters);
        var table = shell.Invoke("param($p, $h) Get-AuditEvent -Path $p -HostRoot $h -Key procmon -Tail 3 | Format-Table | Out-String -Width 400", parameters);

        var text = (string)list.Output.Single().BaseObject;
        Assert.Contains("----", text);
        Assert.Matches(@"node=aks-node-1 type=SYSCALL msg=audit\(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}:\d+\) : arch=x86_64 syscall=\w+ success=yes", text);
        Assert.Contains("key=procmon", text);
        var rows = ((string)table.Output.Single().BaseObject).Split('\n').Where(l => l.Contains("procmon", StringComparison.Ordinal)).ToList();
        Assert.Equal(3, rows.Count);
        Assert.Contains("Timestamp (UTC)", (string)table.Output.Single().BaseObject);
    }

    [Fact]
    public void MalformedLinesAreWarningsNamingFileAndLine()
    {
        var directory = Directory.CreateTempSubdirectory("aksauditd-cmdlet-");
        try
        {
            var file = Path.Combine(directory.FullName, "audit.log");
            File.WriteAllLines(file, [File.ReadLines(Path.Combine(Recorded, "audit.log")).First(), "type=SYSCALL msg=audit(17", new string('x', 1024 * 1024)]);
            using var shell = new ModuleRunspace();

            var result = shell.Invoke("param($p, $h) Get-AuditEvent -LiteralPath $p -HostRoot $h", new Dictionary<string, object?> { ["p"] = file, ["h"] = HostRoot });

            Assert.Empty(result.AllErrors);
            Assert.Single(result.Output);
            Assert.Equal(2, result.Warnings.Count);
            Assert.Contains(result.Warnings, w => w.Contains($"line 2 of {file}", StringComparison.Ordinal));
            Assert.Contains(result.Warnings, w => w.Contains($"line 3 of {file}", StringComparison.Ordinal) && w.Contains("longer than", StringComparison.Ordinal));
        }
        finally
        {
            directory.Delete(true);
        }
    }

    [Fact]
    public void MissingLogsAreErrorsWithStableIds()
    {
        var empty = Directory.CreateTempSubdirectory("aksauditd-cmdlet-");
        try
        {
            using var shell = new ModuleRunspace();

            var missingPath = shell.Invoke("Get-AuditEvent -Path /nonexistent/audit.log");
            var noLog = shell.Invoke("param($h) Get-AuditEvent -HostRoot $h", new Dictionary<string, object?> { ["h"] = empty.FullName });
            var badType = shell.Invoke("param($p, $h) Get-AuditEvent -Path $p -HostRoot $h -MessageType NOT_A_TYPE", new Dictionary<string, object?> { ["p"] = Recorded, ["h"] = HostRoot });

            var pathError = Assert.Single(missingPath.AllErrors);
            Assert.Equal("PathNotFound,AksAuditd.PowerShell.Commands.GetAuditEventCommand", pathError.FullyQualifiedErrorId);
            Assert.Equal(ErrorCategory.ObjectNotFound, pathError.CategoryInfo.Category);
            var logError = Assert.Single(noLog.AllErrors);
            Assert.Equal("AuditLogNotFound,AksAuditd.PowerShell.Commands.GetAuditEventCommand", logError.FullyQualifiedErrorId);
            Assert.Contains(Path.Combine(empty.FullName, "var/log/audit/audit.log"), logError.Exception.Message);
            var typeError = Assert.Single(badType.AllErrors);
            Assert.Equal("UnknownMessageType,AksAuditd.PowerShell.Commands.GetAuditEventCommand", typeError.FullyQualifiedErrorId);
            Assert.Equal(ErrorCategory.InvalidArgument, typeError.CategoryInfo.Category);
        }
        finally
        {
            empty.Delete(true);
        }
    }

    [Fact]
    public void ReadsALogEvenWhenAnUnrelatedSettingIsInvalid()
    {
        using var shell = new ModuleRunspace(new Dictionary<string, string?> { ["AA_POLL_INTERVAL"] = "30", ["AA_CONFIG_FILE"] = "/nonexistent/config.yaml" });

        var result = shell.Invoke("param($p) Get-AuditEvent -Path $p -MessageType DAEMON_START", new Dictionary<string, object?> { ["p"] = Recorded });

        Assert.Empty(result.AllErrors);
        Assert.Equal("DAEMON_START", ((string[])Assert.Single(result.Output).Properties["Types"].Value)[0]);
    }

    [Fact]
    public void WaitFollowsARenameRotationAndStopsOnCtrlC()
    {
        var directory = Directory.CreateTempSubdirectory("aksauditd-wait-");
        var state = InitialSessionState.CreateDefault2();
        using var runspace = RunspaceFactory.CreateRunspace(state);
        runspace.Open();
        try
        {
            var file = Path.Combine(directory.FullName, "audit.log");
            File.WriteAllLines(file, [Login(1)]);
            using var shell = System.Management.Automation.PowerShell.Create();
            shell.Runspace = runspace;
            shell.AddScript("param($m, $d) Import-Module $m; Get-AuditEvent -Path $d -HostRoot $d -Wait")
                .AddParameter("m", ModuleRunspace.ModulePath).AddParameter("d", directory.FullName);
            var output = new PSDataCollection<PSObject>();
            var input = new PSDataCollection<PSObject>();
            input.Complete();
            var running = shell.BeginInvoke(input, output);

            WaitFor(() => output.Count >= 1, "the event already in the log");
            File.AppendAllLines(file, [Login(2)]);
            WaitFor(() => output.Count >= 2, "an event appended to the live log");

            // auditd's rotation: the live file becomes audit.log.1 and a new audit.log starts.
            File.Move(file, file + ".1");
            File.AppendAllLines(file + ".1", [Login(3)]);
            File.WriteAllLines(file, [Login(4)]);
            WaitFor(() => output.Count >= 4, "events on both sides of a rotation");

            var stopped = shell.BeginStop(null, null);
            Assert.True(stopped.AsyncWaitHandle.WaitOne(TimeSpan.FromSeconds(10)), "Get-AuditEvent -Wait did not stop");
            shell.EndStop(stopped);
            Assert.True(running.IsCompleted);
            Assert.Equal([1L, 2, 3, 4], output.Select(o => (long)o.Properties["Serial"].Value));
            Assert.Empty(shell.Streams.Error);
        }
        finally
        {
            runspace.Close();
            directory.Delete(true);
        }

        static void WaitFor(Func<bool> condition, string what)
        {
            var deadline = DateTime.UtcNow.AddSeconds(30);
            while (!condition())
            {
                Assert.True(DateTime.UtcNow < deadline, $"timed out waiting for {what}");
                Thread.Sleep(50);
            }
        }
    }

    private static string Login(long serial) =>
        $"type=LOGIN msg=audit({1700000000 + serial}.000:{serial}): pid={1000 + serial} uid=0 old-auid=4294967295 auid=0 tty=(none) old-ses=4294967295 ses=1 res=1";

    private static string RepositoryRoot() => AksAuditd.Tests.Shared.RepositoryCheckout.Root;
}
