using AksAuditd.Core.Rules;
using AksAuditd.Core.Sync;
using Xunit;

namespace AksAuditd.Core.Tests.Sync;

/// <summary>
/// After the kernel rejected what a sync wrote and rules.d was rolled back, the sync refuses exactly that source
/// and leaves the node alone, until the source changes.
/// </summary>
public sealed class RejectedSourceTests
{
    private static readonly SyncService Service = new(new RuleValidator());

    private static SyncRequest Request(SyncTestDirectory dir, Func<SyncPlan, bool>? confirm = null) => new()
    {
        Kind = SyncKind.Rules,
        SourcePath = dir.Source,
        TargetPath = dir.Target,
        StatePath = dir.State,
        Confirm = confirm,
    };

    /// <summary>What Restart-Auditd does when the kernel refuses line 2 of 20-app.rules: restore the sync's generation, record its source.</summary>
    private static BackupGeneration RollBack(SyncTestDirectory dir)
    {
        var store = new BackupStore(dir.State);
        var generation = store.Latest("rules")!;
        store.Restore(generation, dir.Target);
        new RejectedSource
        {
            Kind = "rules",
            SourceFingerprint = generation.SourceFingerprint!,
            Source = generation.Source,
            Generation = generation.Id,
            Rule = "-w /nonexistent/app/file -p wa",
            File = "20-app.rules",
            Line = 2,
            KernelMessage = "Error sending add rule data request (No such file or directory)",
            Rejected = DateTimeOffset.UtcNow,
        }.Save(dir.State);
        return generation;
    }

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
        using var dir = new SyncTestDirectory();
        dir.WriteTarget("10-base.rules", "-D\n");
        dir.WriteSource("10-base.rules", "-D\n-b 8192\n");
        dir.WriteSource("20-app.rules", "-w /etc/app -p wa\n-w /nonexistent/app/file -p wa\n");
        Service.Sync(Request(dir));
        var generation = RollBack(dir);
        var node = dir.TargetFiles();
        var generations = new BackupStore(dir.State).List("rules").Count;

        // A fresh session (the next pod) as well as the same one: the refusal lives in the state directory.
        var refused = Assert.Throws<SyncException>(() => Service.Sync(Request(dir)));
        var again = Assert.Throws<SyncException>(() => new SyncService(new RuleValidator()).Sync(Request(dir), new SyncSession(SyncKind.Rules, dir.Source, dir.Target)));

        Assert.Equal(SyncFailure.SourceRejectedByKernel, refused.Failure);
        Assert.Equal("SourceRejectedByKernel", refused.ErrorId);
        Assert.Equal(Path.Combine(dir.Source, "20-app.rules") + ":2", refused.Path);
        Assert.Contains("'-w /nonexistent/app/file -p wa' in 20-app.rules line 2", refused.Message);
        Assert.Contains("No such file or directory", refused.Message);
        Assert.Contains(generation.Id, refused.Message);
        Assert.Contains("fix the rule in the rules ConfigMap", refused.Message);
        Assert.Equal(refused.Message, again.Message);
        Assert.Equal(node, dir.TargetFiles());
        Assert.Equal(generations, new BackupStore(dir.State).List("rules").Count);
        Assert.True(File.Exists(RejectedSource.PathFor(dir.State, SyncKind.Rules)));
    }

    [Fact]
    public void AChangedSourceClearsTheRejectionAndIsSynced()
    {
        using var dir = new SyncTestDirectory();
        dir.WriteSource("20-app.rules", "-w /etc/app -p wa\n-w /nonexistent/app/file -p wa\n");
        Service.Sync(Request(dir));
        RollBack(dir);

        // -WhatIf on the fixed source shows the plan but keeps the record: nothing was written yet.
        dir.WriteSource("20-app.rules", "-w /etc/app -p wa\n");
        var whatIf = Service.Sync(Request(dir, confirm: _ => false));
        Assert.True(whatIf.WhatIf);
        Assert.True(File.Exists(RejectedSource.PathFor(dir.State, SyncKind.Rules)));

        var fixedSync = Service.Sync(Request(dir));

        Assert.True(fixedSync.Changed);
        Assert.Equal("-w /etc/app -p wa\n", dir.ReadTarget("20-app.rules"));
        Assert.False(File.Exists(RejectedSource.PathFor(dir.State, SyncKind.Rules)));
        Assert.Null(RejectedSource.Load(dir.State, SyncKind.Rules));
    }

    [Fact]
    public void ASourceRevertedToWhatTheNodeHasClearsTheRejectionWithoutWriting()
    {
        using var dir = new SyncTestDirectory();
        dir.WriteSource("20-app.rules", "-w /etc/app -p wa\n");
        Service.Sync(Request(dir));
        dir.WriteSource("20-app.rules", "-w /etc/app -p wa\n-w /nonexistent/app/file -p wa\n");
        Service.Sync(Request(dir));
        RollBack(dir);

        dir.WriteSource("20-app.rules", "-w /etc/app -p wa\n");
        var reverted = Service.Sync(Request(dir));

        Assert.False(reverted.Changed);
        Assert.Null(RejectedSource.Load(dir.State, SyncKind.Rules));
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
