using AksAuditd.Core.Configuration;
using AksAuditd.Core.Host;
using AksAuditd.Core.Rules;
using AksAuditd.Core.Sync;
using AksAuditd.Tests.Shared;
using Xunit;

namespace AksAuditd.Core.Tests.Sync;

/// <summary>
/// After the kernel rejected what a sync wrote and rules.d was rolled back, the sync refuses exactly that source
/// and leaves the node alone, until the source changes. The rejection record is the one Restart-Auditd's core
/// writes: the real restarter loads this machine's rules.d into the real kernel (under the kernel test lock), the
/// kernel refuses a watch whose folder is missing, and the restarter rolls back and records the source.
/// </summary>
public sealed class RejectedSourceTests
{
    private const string RejectedRule = "-w /nonexistent/aks-auditd-rejected/file -p wa -k aks_rejected";

    private static readonly SyncService Service = new(new RuleValidator());

    private static SyncRequest Request(SyncTestDirectory dir, Func<SyncPlan, bool>? confirm = null) => new()
    {
        Kind = SyncKind.Rules,
        SourcePath = dir.Source,
        TargetPath = dir.Target,
        StatePath = dir.State,
        Confirm = confirm,
    };

    /// <summary>A sync of <paramref name="source"/> into this machine's rules.d, its backups under <paramref name="state"/>.</summary>
    private static SyncRequest NodeRequest(string source, string state, Func<SyncPlan, bool>? confirm = null) => new()
    {
        Kind = SyncKind.Rules,
        SourcePath = source,
        TargetPath = MachineAudit.RulesDirectory,
        StatePath = state,
        Mode = SyncMode.Managed,
        Confirm = confirm,
    };

    /// <summary>
    /// Restart-Auditd's core after a sync: augenrules --load into the real kernel, which refuses
    /// <see cref="RejectedRule"/>; the restarter rolls rules.d back and records the source. Returns the sync's
    /// generation, the one the record names.
    /// </summary>
    private static BackupGeneration LoadAndRollBack(MachineAudit machine, string state, SyncResult synced)
    {
        var restarter = new AuditdRestarter(machine.Runner, KernelRuleCanon.ForNode("/"), MachineAudit.RulesDirectory, new BackupStore(state));

        var result = restarter.Restart(RestartMode.LoadRules, _ => true);

        Assert.False(result.Succeeded, result.Message);
        Assert.True(result.RolledBack, result.Message);
        Assert.Equal(RejectedRule, result.Rejection?.Rule);
        return new BackupStore(state).List("rules").Single(g => g.Path == synced.BackupPath);
    }

    /// <summary>Every file in rules.d this test placed (the machine's own files are left as they are).</summary>
    private static SortedDictionary<string, string> TestRulesFiles() =>
        new(MachineAudit.RulesFiles().Where(f => f.Key.Contains("aks-rejected", StringComparison.Ordinal)).ToDictionary(f => f.Key, f => f.Value), StringComparer.Ordinal);

    [Fact]
    public void TheSyncGenerationRecordsTheSourceItCameFrom()
    {
        using var dir = new SyncTestDirectory();
        dir.WriteSource("10-base.rules", "-D\n");
        dir.WriteSource("20-app.rules", "-w /etc/app -p wa\n");
        Service.Sync(Request(dir));
        var first = new BackupStore(dir.State).Latest("rules")!;

        dir.WriteSource("20-app.rules", "-w /etc/app -p r\n");
        Service.Sync(Request(dir));
        var second = new BackupStore(dir.State).Latest("rules")!;

        Assert.Equal(dir.Source, first.Source);
        Assert.Matches("^[0-9a-f]{64}$", first.SourceFingerprint);
        Assert.NotEqual(first.SourceFingerprint, second.SourceFingerprint);
        Assert.Null(first.Restores);
    }

    [Fact]
    public void TheExactRejectedSourceIsRefusedWithTheRuleAndTheNodeIsLeftAlone()
    {
        using var machine = new MachineAudit();
        var source = machine.Scratch();
        var state = machine.Scratch();
        machine.StartAuditd();
        File.WriteAllText(Path.Combine(source, "10-aks-rejected-base.rules"), "-b 8192\n");
        File.WriteAllText(Path.Combine(source, "20-aks-rejected-app.rules"), $"-w {source} -p wa -k aks_rejected\n{RejectedRule}\n");
        var synced = Service.Sync(NodeRequest(source, state));
        var generation = LoadAndRollBack(machine, state, synced);
        var node = MachineAudit.RulesFiles();
        var generations = new BackupStore(state).List("rules").Count;

        // A fresh session (the next pod) as well as the same one: the refusal lives in the state directory.
        var refused = Assert.Throws<SyncException>(() => Service.Sync(NodeRequest(source, state)));
        var again = Assert.Throws<SyncException>(() => new SyncService(new RuleValidator()).Sync(NodeRequest(source, state), new SyncSession(SyncKind.Rules, source, MachineAudit.RulesDirectory)));

        Assert.Empty(TestRulesFiles());
        Assert.Equal(SyncFailure.SourceRejectedByKernel, refused.Failure);
        Assert.Equal("SourceRejectedByKernel", refused.ErrorId);
        Assert.Equal(Path.Combine(source, "20-aks-rejected-app.rules") + ":2", refused.Path);
        Assert.Contains($"'{RejectedRule}' in 20-aks-rejected-app.rules line 2", refused.Message);
        Assert.Contains("No such file or directory", refused.Message);
        Assert.Contains(generation.Id, refused.Message);
        Assert.Contains("fix the rule in the rules ConfigMap", refused.Message);
        Assert.Equal(refused.Message, again.Message);
        Assert.Equal(node, MachineAudit.RulesFiles());
        Assert.Equal(generations, new BackupStore(state).List("rules").Count);
        var record = RejectedSource.Load(state, SyncKind.Rules)!;
        Assert.Equal(generation.SourceFingerprint, record.SourceFingerprint);
        Assert.Equal(source, record.Source);
    }

    [Fact]
    public void AChangedSourceClearsTheRejectionAndIsSynced()
    {
        using var machine = new MachineAudit();
        var source = machine.Scratch();
        var state = machine.Scratch();
        machine.StartAuditd();
        var good = $"-w {source} -p wa -k aks_rejected\n";
        File.WriteAllText(Path.Combine(source, "20-aks-rejected-app.rules"), $"{good}{RejectedRule}\n");
        LoadAndRollBack(machine, state, Service.Sync(NodeRequest(source, state)));

        // -WhatIf on the fixed source shows the plan but keeps the record: nothing was written yet.
        File.WriteAllText(Path.Combine(source, "20-aks-rejected-app.rules"), good);
        var whatIf = Service.Sync(NodeRequest(source, state, confirm: _ => false));
        Assert.True(whatIf.WhatIf);
        Assert.True(File.Exists(RejectedSource.PathFor(state, SyncKind.Rules)));

        var fixedSync = Service.Sync(NodeRequest(source, state));

        Assert.True(fixedSync.Changed);
        Assert.Equal(good, File.ReadAllText(Path.Combine(MachineAudit.RulesDirectory, "20-aks-rejected-app.rules")));
        Assert.False(File.Exists(RejectedSource.PathFor(state, SyncKind.Rules)));
        Assert.Null(RejectedSource.Load(state, SyncKind.Rules));
    }

    [Fact]
    public void ASourceRevertedToWhatTheNodeHasClearsTheRejectionWithoutWriting()
    {
        using var machine = new MachineAudit();
        var source = machine.Scratch();
        var state = machine.Scratch();
        machine.StartAuditd();
        var good = $"-w {source} -p wa -k aks_rejected\n";
        File.WriteAllText(Path.Combine(source, "20-aks-rejected-app.rules"), good);
        Service.Sync(NodeRequest(source, state));
        File.WriteAllText(Path.Combine(source, "20-aks-rejected-app.rules"), $"{good}{RejectedRule}\n");
        LoadAndRollBack(machine, state, Service.Sync(NodeRequest(source, state)));
        Assert.Equal(good, File.ReadAllText(Path.Combine(MachineAudit.RulesDirectory, "20-aks-rejected-app.rules")));

        File.WriteAllText(Path.Combine(source, "20-aks-rejected-app.rules"), good);
        var reverted = Service.Sync(NodeRequest(source, state));

        Assert.False(reverted.Changed);
        Assert.Null(RejectedSource.Load(state, SyncKind.Rules));
    }

    [Fact]
    public void ADamagedRecordIsAStateErrorThatSaysHowToClearIt()
    {
        using var dir = new SyncTestDirectory();
        dir.WriteSource("20-app.rules", "-w /etc/app -p wa\n");
        Directory.CreateDirectory(Path.Combine(dir.State, "rejected"));
        File.WriteAllText(RejectedSource.PathFor(dir.State, SyncKind.Rules), "{ not json");

        var error = Assert.Throws<SyncException>(() => Service.Sync(Request(dir)));

        Assert.Equal(SyncFailure.StateUnusable, error.Failure);
        Assert.Contains("Delete it", error.Message);
        Assert.Empty(dir.TargetFiles());
    }
}
