using AksAuditd.Core.Rules;
using AksAuditd.Core.Sync;
using Xunit;

namespace AksAuditd.Core.Tests.Sync;

/// <summary>
/// The README promises that after every whole-run failure "the node's files are exactly as they were". These put
/// the state directory on real file systems that fail: read-only, and too small for the backup of a change.
/// </summary>
public sealed class StateFailureTests
{
    private const string OldRule = "-w /etc/passwd -p wa -k identity\n";

    [Fact]
    public void AReadOnlyStateDirectoryIsStateUnusableAndTheNodeKeepsItsFiles()
    {
        using var dir = new SyncTestDirectory();
        Directory.CreateDirectory(dir.State);
        dir.WriteTarget("10-base.rules", OldRule);
        dir.WriteSource("10-base.rules", "-w /etc/group -p wa -k identity\n");
        dir.WriteSource("20-new.rules", "-w /etc/shadow -p wa -k identity\n");
        var before = BadInputTests.Snapshot(dir.Target);
        BadInputTests.Run("mount", "-t", "tmpfs", "-o", "size=1m,ro", "aks-auditd-test-ro", dir.State);
        try
        {
            var e = Assert.Throws<SyncException>(() => Sync(dir));

            Assert.Equal(SyncFailure.StateUnusable, e.Failure);
            Assert.Equal(before, BadInputTests.Snapshot(dir.Target));
        }
        finally
        {
            BadInputTests.Run("umount", dir.State);
        }
    }

    [Fact]
    public void AStateDirectoryThatFillsWhileSavingTheBackupLeavesTheNodeAsItWas()
    {
        // 64 KiB of state and 10 node files of 12 KiB each that the change replaces: their backup cannot fit, so
        // the failure comes after the sync has started writing, midway through its backup.
        using var dir = new SyncTestDirectory();
        Directory.CreateDirectory(dir.State);
        for (var i = 0; i < 10; i++)
        {
            dir.WriteTarget($"{i:D2}-app.rules", $"# old {i}\n" + new string('#', 12_000) + "\n" + OldRule);
            dir.WriteSource($"{i:D2}-app.rules", $"# new {i}\n" + OldRule);
        }

        var before = BadInputTests.Snapshot(dir.Target);
        BadInputTests.Run("mount", "-t", "tmpfs", "-o", "size=64k", "aks-auditd-test-full", dir.State);
        try
        {
            var e = Assert.Throws<SyncException>(() => Sync(dir));

            Assert.Contains(e.Failure, new[] { SyncFailure.StateUnusable, SyncFailure.InsufficientSpace, SyncFailure.WriteFailed });
            Assert.Equal(before, BadInputTests.Snapshot(dir.Target));
            // Nothing half-made is left to look like a generation: only complete generations are listed.
            Assert.Empty(new BackupStore(dir.State).List("rules"));
        }
        finally
        {
            BadInputTests.Run("umount", dir.State);
        }

        // With room again, the same sync goes through and every replaced file is in its backup.
        var result = Sync(dir);
        Assert.True(result.Changed);
        var generation = Assert.Single(new BackupStore(dir.State).List("rules"));
        Assert.Equal(10, result.Modified.Count);
        Assert.StartsWith("# old 3\n", File.ReadAllText(generation.SavedFile("03-app.rules")));
    }

    private static SyncResult Sync(SyncTestDirectory dir) =>
        new SyncService(new RuleValidator()).Sync(new SyncRequest { Kind = SyncKind.Rules, SourcePath = dir.Source, TargetPath = dir.Target, StatePath = dir.State });
}
