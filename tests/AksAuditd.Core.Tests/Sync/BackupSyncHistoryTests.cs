using AksAuditd.Core.Configuration;
using AksAuditd.Core.Host;
using AksAuditd.Core.Sync;
using Xunit;

namespace AksAuditd.Core.Tests.Sync;

/// <summary>The sync's backups as Restart-Auditd sees them: one pending generation per change, and the rollback.</summary>
public sealed class BackupSyncHistoryTests
{
    private static readonly SyncService Service = new(new LineShapeValidator());

    private static SyncRequest Request(SyncTestDirectory dir, SyncKind kind = SyncKind.Rules) => new()
    {
        Kind = kind,
        SourcePath = dir.Source,
        TargetPath = dir.Target,
        StatePath = dir.State,
        Mode = SyncMode.Managed,
    };

    [Fact]
    public void NoSyncThatChangedAnythingMeansNoGeneration()
    {
        using var dir = new SyncTestDirectory();

        Assert.Empty(new BackupSyncHistory(new BackupStore(dir.State), dir.Target).Latest());
    }

    [Fact]
    public void EachChangingSyncIsTheNewestGenerationOfItsKind()
    {
        using var dir = new SyncTestDirectory();
        var history = new BackupSyncHistory(new BackupStore(dir.State), dir.Target);
        dir.WriteSource("10-a.rules", "-w /etc/passwd -p wa -k a\n");
        Service.Sync(Request(dir));
        var first = Assert.Single(history.Latest());

        dir.WriteSource("10-a.rules", "-w /etc/passwd -p wa -k b\n");
        Service.Sync(Request(dir));
        var second = Assert.Single(history.Latest());
        Assert.Equal(AuditdRestarter.RulesKind, second.Kind);
        Assert.True(string.CompareOrdinal(second.Id, first.Id) > 0, "Auto applies a generation whose id sorts after the applied one");

        // A sync with nothing to change writes no generation: Auto has nothing new to apply.
        Service.Sync(Request(dir));
        Assert.Equal(second, Assert.Single(history.Latest()));
    }

    [Fact]
    public void RestoringRulesPutsRulesDBackAsBeforeTheLastSync()
    {
        using var dir = new SyncTestDirectory();
        dir.WriteTarget("10-a.rules", "-w /etc/passwd -p wa -k good\n");
        dir.WriteSource("10-a.rules", "-w /etc/passwd -p wa -k refused\n");
        dir.WriteSource("20-new.rules", "-w /etc/group -p wa -k new\n");
        Service.Sync(Request(dir));
        var history = new BackupSyncHistory(new BackupStore(dir.State), dir.Target);

        var said = history.RestoreRules(Assert.Single(history.Latest()));

        Assert.Equal("1 files put back, 1 removed", said);
        Assert.Equal("-w /etc/passwd -p wa -k good\n", dir.ReadTarget("10-a.rules"));
        Assert.False(File.Exists(Path.Combine(dir.Target, "20-new.rules")));
    }
}
