using System.Net.Sockets;
using System.Text;
using AksAuditd.Core.Host;
using Xunit;

namespace AksAuditd.Core.Tests.Host;

/// <summary>Restart-Auditd's core against this machine's real kernel and auditd (HostRoot /).</summary>
public sealed class NodeKernelTests
{
    private static AuditdRestarter Restarter(MachineAudit machine, ISyncHistory? history = null) =>
        new(machine.Runner, new InterimRuleCanon(), history, MachineAudit.RulesDirectory, machine.Scratch());

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

        var result = Restarter(machine).Restart(RestartMode.LoadRules, _ => true);

        Assert.True(result.Succeeded, result.Message);
        Assert.Equal("LoadRules", result.Method);
        Assert.Equal(new[] { "augenrules --load" }, result.Commands);
        var desired = new InterimRuleCanon().DesiredRules(MachineAudit.RulesDirectory).Select(r => r.Rule).Order().ToList();
        var kernel = new InterimRuleCanon().LoadedRules(machine.Auditctl("-l")).Order().ToList();
        Assert.Equal(desired, kernel);
        Assert.Contains($"-w {watched} -p wa -k aks_node_watch", kernel);

        File.AppendAllText(watched, "after\n");
        Assert.True(
            WaitFor(() => File.ReadLines(MachineAudit.AuditLog).Any(l => l.Contains("key=\"aks_node_watch\"", StringComparison.Ordinal))),
            $"no record with key aks_node_watch in {MachineAudit.AuditLog}");
    }

    [Fact]
    public void ARejectedRuleSetRollsBackToThePreviousFilesAndRulesAndNamesTheRule()
    {
        using var machine = new MachineAudit();
        using var history = new SnapshotSyncHistory(MachineAudit.RulesDirectory);
        var scratch = machine.Scratch();
        var good = $"-w {scratch} -p wa -k aks_node_good";
        File.WriteAllText(Path.Combine(MachineAudit.RulesDirectory, "50-aks-good.rules"), good + "\n");
        machine.StartAuditd();
        var before = machine.Auditctl("-l");
        Assert.Contains(good, before);

        // The sync backs rules.d up, then adds a file whose second rule the kernel refuses (no such directory).
        history.Snapshot();
        var bad = "-a always,exit -F arch=b64 -S openat -F dir=/nonexistent/aks-auditd -F key=aks_node_bad";
        File.WriteAllText(Path.Combine(MachineAudit.RulesDirectory, "60-aks-bad.rules"), $"-w {scratch}/x -p wa -k aks_node_new\n{bad}\n");

        var result = Restarter(machine, history).Restart(RestartMode.LoadRules, _ => true);

        Assert.False(result.Succeeded);
        Assert.True(result.RolledBack);
        var rejection = Assert.IsType<RuleRejectedException>(result.Rejection);
        Assert.Equal(bad, rejection.Rule);
        Assert.Contains("No such file or directory", rejection.KernelMessage);
        Assert.Equal(Path.Combine(MachineAudit.RulesDirectory, "60-aks-bad.rules"), rejection.File);
        Assert.Equal(2, rejection.Line);
        Assert.Contains(bad, result.Message);
        Assert.False(File.Exists(Path.Combine(MachineAudit.RulesDirectory, "60-aks-bad.rules")));
        Assert.Equal(before, machine.Auditctl("-l"));
    }

    [Fact]
    public void DeletingOneRuleByHandIsKernelDriftMissing()
    {
        using var machine = new MachineAudit();
        var scratch = machine.Scratch();
        // Written the way auditctl -l lists it, which the interim canon compares literally.
        var rule = $"-a always,exit -F arch=b64 -S openat -F dir={scratch} -F key=aks_node_drift";
        var watch = $"-w {scratch} -p wa -k aks_node_drift_watch";
        File.WriteAllText(Path.Combine(MachineAudit.RulesDirectory, "50-aks-drift.rules"), $"{rule}\n{watch}\n");
        machine.StartAuditd();
        Assert.Empty(new KernelDriftReader(machine.Runner, new InterimRuleCanon()).Read(MachineAudit.RulesDirectory));

        machine.Auditctl("-d", "always,exit", "-F", "arch=b64", "-S", "openat", "-F", $"dir={scratch}", "-F", "key=aks_node_drift");
        var drift = new KernelDriftReader(machine.Runner, new InterimRuleCanon()).Read(MachineAudit.RulesDirectory);

        var missing = Assert.Single(drift);
        Assert.Equal(KernelDriftStatus.Missing, missing.Status);
        Assert.Equal(rule, missing.Rule);
        Assert.Equal(Path.Combine(MachineAudit.RulesDirectory, "50-aks-drift.rules"), missing.File);
        Assert.Equal(1, missing.Line);

        machine.Auditctl("-a", "always,exit", "-F", "arch=b64", "-S", "openat", "-F", "key=aks_node_extra");
        drift = new KernelDriftReader(machine.Runner, new InterimRuleCanon()).Read(MachineAudit.RulesDirectory);
        Assert.Contains(drift, d => d.Status == KernelDriftStatus.Unexpected && d.Rule == "-a always,exit -F arch=b64 -S openat -F key=aks_node_extra");
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
            var restarter = new AuditdRestarter(runner, new InterimRuleCanon(), null, "/nonexistent", state);

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
