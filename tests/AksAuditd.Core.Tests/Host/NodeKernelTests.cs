using System.Net.Sockets;
using System.Text;
using AksAuditd.Core.Configuration;
using AksAuditd.Core.Host;
using AksAuditd.Core.Sync;
using AksAuditd.Core.Tests.Sync;
using AksAuditd.Tests.Shared;
using Xunit;

namespace AksAuditd.Core.Tests.Host;

/// <summary>Restart-Auditd's core against this machine's real kernel and auditd (HostRoot /).</summary>
public sealed class NodeKernelTests
{
    /// <summary>The rules engine's canon for this machine: Debian 12, mawk, x86_64 or aarch64.</summary>
    private static readonly IKernelRuleCanon Canon = KernelRuleCanon.ForNode("/");

    private static AuditdRestarter Restarter(MachineAudit machine, string? state = null) =>
        new(machine.Runner, Canon, MachineAudit.RulesDirectory, new BackupStore(state ?? machine.Scratch()));

    /// <summary>The real sync of a source directory into this machine's rules.d, backed up under <paramref name="state"/>.</summary>
    private static SyncResult Sync(string source, string state) => new SyncService(new AksAuditd.Core.Rules.RuleValidator()).Sync(new SyncRequest
    {
        Kind = SyncKind.Rules,
        SourcePath = source,
        TargetPath = MachineAudit.RulesDirectory,
        StatePath = state,
        Mode = SyncMode.Managed,
    });

    [Fact]
    public void LoadRulesMakesTheKernelListExactlyTheDesiredRulesAndAWatchedWriteIsLoggedWithItsKey()
    {
        using var machine = new MachineAudit();
        machine.StartAuditd();
        var scratch = machine.Scratch();
        var watched = Path.Combine(scratch, "watched.conf");
        File.WriteAllText(watched, "before\n");
        // What a sync writes into rules.d.
        File.WriteAllText(Path.Combine(MachineAudit.RulesDirectory, "50-aks-node-test.rules"), $"-w {watched} -p wa -k aks_node_watch\n-w {scratch}/other -p wa -k aks_node_other\n");
        File.WriteAllText(Path.Combine(scratch, "other"), string.Empty);
        // Syscall rules written in ways auditctl -l lists differently (order, names, several -S, -k on a syscall rule, 32-bit).
        File.WriteAllText(Path.Combine(MachineAudit.RulesDirectory, "60-aks-node-syscalls.rules"),
            "-a exit,always -F arch=b64 -S openat -S open -F auid>=1000 -F auid!=unset -F exit=-EACCES -k aks_node_access\n" +
            "-a always,exit -F arch=b32 -S chmod,fchmod -F uid=root -F key=aks_node_perm\n" +
            $"-w {scratch}/dir/ -p rwxa\n");

        var result = Restarter(machine).Restart(RestartMode.LoadRules, _ => true);

        Assert.True(result.Succeeded, result.Message);
        Assert.Equal("LoadRules", result.Method);
        Assert.Equal(new[] { "augenrules --load" }, result.Commands);
        Assert.Empty(result.Drift);
        var desired = Canon.DesiredRules(MachineAudit.RulesDirectory).Select(r => r.Rule).Order().ToList();
        var kernel = Canon.LoadedRules(machine.Auditctl("-l")).Order().ToList();
        Assert.Equal(desired, kernel);
        Assert.Equal(5, kernel.Count);
        Assert.Contains($"-w {watched} -p wa -k aks_node_watch", kernel);

        File.AppendAllText(watched, "after\n");
        Assert.True(
            WaitFor(() => File.ReadLines(MachineAudit.AuditLog).Any(l => l.Contains("key=\"aks_node_watch\"", StringComparison.Ordinal))),
            $"no record with key aks_node_watch in {MachineAudit.AuditLog}");
    }

    [Fact]
    public void ARejectedRuleSetRollsBackThroughTheSyncsBackupAndNamesTheRule()
    {
        using var machine = new MachineAudit();
        var scratch = machine.Scratch();
        var source = machine.Scratch();
        var state = machine.Scratch();
        var good = $"-w {scratch} -p wa -k aks_node_good";
        File.WriteAllText(Path.Combine(source, "50-aks-good.rules"), good + "\n");
        Assert.True(Sync(source, state).Changed);
        var started = Restarter(machine, state).Restart(RestartMode.Auto, _ => true);
        Assert.True(started.Succeeded, started.Message);
        Assert.Equal("Start", started.Method);
        var filesBefore = MachineAudit.RulesFiles();
        var kernelBefore = machine.Auditctl("-l");
        Assert.Contains(good, kernelBefore);

        // The next ConfigMap version changes the good file and adds one whose second rule the kernel refuses (no such directory).
        var bad = "-a always,exit -F arch=b64 -S openat -F dir=/nonexistent/aks-auditd -F key=aks_node_bad";
        File.WriteAllText(Path.Combine(source, "50-aks-good.rules"), $"{good}\n-w {scratch}/y -p wa -k aks_node_changed\n");
        File.WriteAllText(Path.Combine(source, "60-aks-bad.rules"), $"-w {scratch}/x -p wa -k aks_node_new\n{bad}\n");
        var synced = Sync(source, state);
        Assert.Equal(new[] { "60-aks-bad.rules" }, synced.Added);
        Assert.Equal(new[] { "50-aks-good.rules" }, synced.Modified);

        var result = Restarter(machine, state).Restart(RestartMode.Auto, _ => true);

        Assert.False(result.Succeeded);
        Assert.True(result.RolledBack, result.Message);
        Assert.Equal("LoadRules", result.Method);
        var rejection = Assert.IsType<RuleRejectedException>(result.Rejection);
        Assert.Equal(bad, rejection.Rule);
        Assert.Contains("No such file or directory", rejection.KernelMessage);
        Assert.Equal(Path.Combine(MachineAudit.RulesDirectory, "60-aks-bad.rules"), rejection.File);
        Assert.Equal(2, rejection.Line);
        Assert.Contains(bad, result.Message);
        Assert.Equal(filesBefore, MachineAudit.RulesFiles());
        Assert.Equal(kernelBefore, machine.Auditctl("-l"));
        Assert.Empty(result.Drift);
        // The restore saved the rejected files as a generation of its own, which undoes the sync's.
        var backups = new BackupStore(state);
        var rollback = backups.Latest("rules")!;
        Assert.Equal(Path.GetFileName(synced.BackupPath), rollback.Restores);
        Assert.Contains($"{bad}\n", File.ReadAllText(rollback.SavedFile("60-aks-bad.rules")));

        // The next poll neither writes the rejected source again nor has anything to load.
        var record = RejectedSource.Load(state, SyncKind.Rules)!;
        Assert.Equal(new BackupStore(state).List("rules").Single(g => g.Path == synced.BackupPath).SourceFingerprint, record.SourceFingerprint);
        Assert.Equal(("60-aks-bad.rules", 2, bad), (record.File, record.Line, record.Rule));
        Assert.Contains("fix the rule in the rules ConfigMap", result.Message);
        var refused = Assert.Throws<SyncException>(() => Sync(source, state));
        Assert.Equal(SyncFailure.SourceRejectedByKernel, refused.Failure);
        Assert.Equal(filesBefore, MachineAudit.RulesFiles());
        var next = Restarter(machine, state).Restart(RestartMode.Auto, _ => true);
        Assert.True(next.Succeeded, next.Message);
        Assert.Equal("None", next.Method);
        Assert.Equal(kernelBefore, machine.Auditctl("-l"));
    }

    [Fact]
    public void ARejectedRuleInAFileTheLastSyncDidNotWriteIsReportedButNothingIsRolledBack()
    {
        using var machine = new MachineAudit();
        var scratch = machine.Scratch();
        var source = machine.Scratch();
        var state = machine.Scratch();
        machine.StartAuditd();
        File.WriteAllText(Path.Combine(source, "50-aks-synced.rules"), $"-w {scratch} -p wa -k aks_node_synced\n");
        Sync(source, state);
        // Another agent's file, written by hand, holds the rule the kernel refuses.
        var bad = "-w /nonexistent/aks-auditd/file -p wa -k aks_node_foreign";
        File.WriteAllText(Path.Combine(MachineAudit.RulesDirectory, "70-aks-foreign.rules"), bad + "\n");
        var files = MachineAudit.RulesFiles();

        var result = Restarter(machine, state).Restart(RestartMode.LoadRules, _ => true);

        Assert.False(result.Succeeded);
        Assert.False(result.RolledBack);
        Assert.Equal(bad, result.Rejection?.Rule);
        Assert.Contains("70-aks-foreign.rules, which the last sync did not change", result.Message);
        Assert.Equal(files, MachineAudit.RulesFiles());
        Assert.Single(new BackupStore(state).List("rules")); // no rollback generation
        Assert.False(Sync(source, state).Changed);
    }

    [Fact]
    public void DeletingOneRuleByHandIsKernelDriftMissing()
    {
        using var machine = new MachineAudit();
        var scratch = machine.Scratch();
        // Written differently from how auditctl -l lists it: the engine's canonical form is what is compared.
        var written = $"-a exit,always -F arch=b64 -S openat -F dir={scratch} -k aks_node_drift";
        var rule = $"-a always,exit -F arch=b64 -S openat -F dir={scratch} -F key=aks_node_drift";
        var watch = $"-w {scratch} -p wa -k aks_node_drift_watch";
        File.WriteAllText(Path.Combine(MachineAudit.RulesDirectory, "50-aks-drift.rules"), $"{written}\n{watch}\n");
        machine.StartAuditd();
        Assert.Empty(new KernelDriftReader(machine.Runner, Canon).Read(MachineAudit.RulesDirectory));

        machine.Auditctl("-d", "always,exit", "-F", "arch=b64", "-S", "openat", "-F", $"dir={scratch}", "-F", "key=aks_node_drift");
        var drift = new KernelDriftReader(machine.Runner, Canon).Read(MachineAudit.RulesDirectory);

        var missing = Assert.Single(drift);
        Assert.Equal(KernelDriftStatus.Missing, missing.Status);
        Assert.Equal(rule, missing.Rule);
        Assert.Equal(Path.Combine(MachineAudit.RulesDirectory, "50-aks-drift.rules"), missing.File);
        Assert.Equal(1, missing.Line);

        machine.Auditctl("-a", "always,exit", "-F", "arch=b64", "-S", "openat", "-F", "key=aks_node_extra");
        drift = new KernelDriftReader(machine.Runner, Canon).Read(MachineAudit.RulesDirectory);
        Assert.Contains(drift, d => d.Status == KernelDriftStatus.Unexpected && d.Rule == "-a always,exit -F arch=b64 -S openat -F key=aks_node_extra");
    }

    [Fact]
    public void AnIndentedDeleteAllInALaterFileClearsTheEarlierRulesOnAMawkNodeAndTheDesiredRulesAgree()
    {
        using var machine = new MachineAudit();
        var scratch = machine.Scratch();
        // Debian's augenrules filters with mawk, which does not see " -D" as -D: it stays in place and clears what came before.
        File.WriteAllText(Path.Combine(MachineAudit.RulesDirectory, "50-aks-first.rules"), $"-w {scratch}/a -p wa -k aks_node_first\n");
        File.WriteAllText(Path.Combine(MachineAudit.RulesDirectory, "60-aks-second.rules"), $" -D\n-w {scratch}/b -p wa -k aks_node_second\n");
        machine.StartAuditd();

        var result = Restarter(machine).Restart(RestartMode.LoadRules, _ => true);

        Assert.True(result.Succeeded, result.Message);
        Assert.Equal(new[] { $"-w {scratch}/b -p wa -k aks_node_second" }, Canon.LoadedRules(machine.Auditctl("-l")));
        var desired = Assert.Single(Canon.DesiredRules(MachineAudit.RulesDirectory));
        Assert.Equal((Path.Combine(MachineAudit.RulesDirectory, "60-aks-second.rules"), 2), (desired.File, desired.Line));
    }

    [Fact]
    public void APluginChangePlusReloadActivatesSyslogAndAnEventReachesTheSyslogSocket()
    {
        using var machine = new MachineAudit();
        Assert.False(File.Exists("/dev/log"), "/dev/log exists: a syslog daemon runs here; this test binds its own receiver there");
        using var receiver = new Socket(AddressFamily.Unix, SocketType.Dgram, ProtocolType.Unspecified);
        receiver.Bind(new UnixDomainSocketEndPoint("/dev/log"));
        try
        {
            var scratch = machine.Scratch();
            File.WriteAllText(Path.Combine(MachineAudit.RulesDirectory, "50-aks-syslog.rules"), $"-w {scratch} -p wa -k aks_node_syslog\n");
            machine.StartAuditd();

            // The plugin change a sync of plugins.d makes.
            var plugin = Path.Combine(MachineAudit.PluginsDirectory, "syslog.conf");
            File.WriteAllText(plugin, File.ReadAllText(plugin).Replace("active = no", "active = yes", StringComparison.Ordinal));
            var result = Restarter(machine).Restart(RestartMode.Reload, _ => true);

            Assert.True(result.Succeeded, result.Message);
            Assert.Equal(new[] { "service auditd reload" }, result.Commands);
            receiver.ReceiveTimeout = 500;
            var buffer = new byte[65536];
            var received = new StringBuilder();
            var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(20);
            while (DateTime.UtcNow < deadline && !received.ToString().Contains("aks_node_syslog", StringComparison.Ordinal))
            {
                File.WriteAllText(Path.Combine(scratch, $"event-{Guid.NewGuid():N}"), "x");
                try
                {
                    var n = receiver.Receive(buffer);
                    received.Append(Encoding.UTF8.GetString(buffer, 0, n)).Append('\n');
                }
                catch (SocketException e) when (e.SocketErrorCode == SocketError.TimedOut || e.SocketErrorCode == SocketError.WouldBlock)
                {
                }
            }

            Assert.Contains("key=\"aks_node_syslog\"", received.ToString());
        }
        finally
        {
            File.Delete("/dev/log");
        }
    }

    [Fact]
    public void ImmutableModeIsReportedOnceAndNothingIsRestarted()
    {
        // Simulated: the recorded "enabled 2" status is what the kernel would say; never load -e 2 here.
        var immutable = File.ReadAllText(NodeTestSupport.HostTestData("Golden", "auditctl-s-immutable.txt"));
        var runner = new ReplayRunner(new Dictionary<string, string>
        {
            ["auditctl -s"] = immutable,
            ["auditctl -l"] = "-w /etc/passwd -p wa -k identity\n",
            ["auditctl -v"] = "auditctl version 3.0.9\n",
            ["cat /proc/26538/comm"] = "auditd\n",
        });
        var state = Directory.CreateTempSubdirectory("aks-auditd-state-").FullName;
        try
        {
            var restarter = new AuditdRestarter(runner, Canon, "/nonexistent", new BackupStore(state));

            var first = restarter.Restart(RestartMode.Restart, _ => true);
            var second = restarter.Restart(RestartMode.Restart, _ => true);

            Assert.True(first.Immutable && first.RebootRequired && first.RebootRequiredFirstReport);
            Assert.True(second.RebootRequired);
            Assert.False(second.RebootRequiredFirstReport);
            Assert.Equal("None", second.Method);
            Assert.Equal(1, first.LoadedRuleCount);
            Assert.DoesNotContain(runner.Ran, c => !c.StartsWith("auditctl -", StringComparison.Ordinal) && !c.StartsWith("cat ", StringComparison.Ordinal));
        }
        finally
        {
            Directory.Delete(state, recursive: true);
        }
    }

    private static bool WaitFor(Func<bool> condition)
    {
        for (var i = 0; i < 100; i++)
        {
            if (condition())
            {
                return true;
            }

            Thread.Sleep(100);
        }

        return false;
    }

    /// <summary>Replays recorded outputs for the few commands a status read runs; anything else fails the test.</summary>
    private sealed class ReplayRunner : IHostCommandRunner
    {
        private readonly IReadOnlyDictionary<string, string> _outputs;

        public ReplayRunner(IReadOnlyDictionary<string, string> outputs) => _outputs = outputs;

        public List<string> Ran { get; } = new();

        public string HostRoot => "/nonexistent-node";

        public HostAccessMode Mode => HostAccessMode.Direct;

        public string Render(HostCommand command) => command.ToString();

        public HostCommandResult Run(HostCommand command)
        {
            var line = command.ToString();
            Ran.Add(line);
            return _outputs.TryGetValue(line, out var output)
                ? new HostCommandResult(command, line, 0, output, string.Empty, TimeSpan.Zero)
                : throw new InvalidOperationException($"unexpected command in an immutable node: {line}");
        }
    }
}
