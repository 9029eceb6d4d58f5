using AksAuditd.Core.Configuration;
using AksAuditd.Core.Rules;
using AksAuditd.Core.Sync;
using Xunit;

namespace AksAuditd.Core.Tests.Sync;

public sealed class SyncTests
{
    private static readonly SyncService Service = new(new RuleValidator());

    private static SyncRequest Request(SyncTestDirectory dir, SyncMode mode = SyncMode.Managed, bool allowEmpty = false, Func<SyncPlan, bool>? confirm = null) => new()
    {
        Kind = SyncKind.Rules,
        SourcePath = dir.Source,
        TargetPath = dir.Target,
        StatePath = dir.State,
        Mode = mode,
        AllowEmpty = allowEmpty,
        Confirm = confirm,
    };

    [Fact]
    public void SyncWritesTheSourceWithMode0640RootAndBacksUpWhatItReplaces()
    {
        using var dir = new SyncTestDirectory();
        dir.WriteSource("10-base.rules", "-D\n-b 8192\n");
        dir.WriteSource("20-watch.rules", "-w /etc/passwd -p wa -k identity\n");
        dir.WriteTarget("10-base.rules", "-D\n");
        File.SetUnixFileMode(Path.Combine(dir.Target, "10-base.rules"), (UnixFileMode)Convert.ToInt32("644", 8));

        var result = Service.Sync(Request(dir));

        Assert.True(result.Changed);
        Assert.Equal(new[] { "20-watch.rules" }, result.Added);
        Assert.Equal(new[] { "10-base.rules" }, result.Modified);
        Assert.Empty(result.Removed);
        Assert.Equal("-D\n-b 8192\n", dir.ReadTarget("10-base.rules"));
        Assert.Equal("-w /etc/passwd -p wa -k identity\n", dir.ReadTarget("20-watch.rules"));
        foreach (var name in new[] { "10-base.rules", "20-watch.rules" })
        {
            var identity = LinuxNodeFileSystem.Instance.Stat(Path.Combine(dir.Target, name));
            Assert.Equal(Convert.ToUInt32("640", 8), identity.Mode);
            Assert.Equal(0u, identity.Uid);
            Assert.Equal(0u, identity.Gid);
        }

        Assert.Equal(new[] { "10-base.rules", "20-watch.rules" }, dir.TargetFiles().Keys.ToArray()); // no temporary file left

        var generation = new BackupStore(dir.State).Latest("rules")!;
        Assert.Equal(result.BackupPath, generation.Path);
        Assert.NotNull(generation.Completed);
        Assert.Equal("10-base.rules", Assert.Single(generation.Replaced).Name);
        Assert.Equal("0644", generation.Replaced[0].Mode);
        Assert.Equal("-D\n", File.ReadAllText(generation.SavedFile("10-base.rules")));
        Assert.Equal("20-watch.rules", Assert.Single(generation.Added).Name);

        var again = Service.Sync(Request(dir));
        Assert.False(again.Changed);
        Assert.Null(again.BackupPath);
        Assert.Single(new BackupStore(dir.State).List("rules"));
    }

    [Fact]
    public void RestoringTheLatestGenerationPutsTheDirectoryBackAsBeforeTheSync()
    {
        using var dir = new SyncTestDirectory();
        dir.WriteTarget("10-base.rules", "-D\n");
        dir.WriteTarget("99-distro.rules", "-a never,task\n");
        var before = dir.TargetFiles();
        dir.WriteSource("10-base.rules", "-D\n-b 8192\n");
        dir.WriteSource("20-new.rules", "-w /etc/shadow -p wa\n");
        Service.Sync(Request(dir, SyncMode.Mirror));
        Assert.Equal(new[] { "10-base.rules", "20-new.rules" }, dir.TargetFiles().Keys.ToArray());

        var store = new BackupStore(dir.State);
        var restored = store.Restore(store.Latest("rules")!, dir.Target);

        Assert.Equal(before, dir.TargetFiles());
        Assert.Equal(new[] { "10-base.rules", "99-distro.rules" }, restored.Written.Order(StringComparer.Ordinal).ToArray());
        Assert.Equal(new[] { "20-new.rules" }, restored.Deleted);
        Assert.NotNull(restored.Backup); // the restore saved what it replaced, so it can be undone too
        Assert.Equal(restored.Backup!.Path, store.Latest("rules")!.Path);
    }

    [Fact]
    public void ManagedModeNeverTouchesForeignFilesAndRemovesOnlyItsOwn()
    {
        using var dir = new SyncTestDirectory();
        dir.WriteTarget("audit.rules", "## distribution default\n-D\n");
        dir.WriteTarget("50-mde.rules", "-w /opt/microsoft -p wa -k mde\n");
        var foreign = new[] { "audit.rules", "50-mde.rules" }.ToDictionary(n => n, n => (dir.ReadTarget(n), File.GetLastWriteTimeUtc(Path.Combine(dir.Target, n))));
        dir.WriteSource("10-ours.rules", "-w /etc/passwd -p wa\n");
        dir.WriteSource("20-ours.rules", "-w /etc/group -p wa\n");

        var first = Service.Sync(Request(dir));
        Assert.Equal(new[] { "50-mde.rules", "audit.rules" }, first.Foreign.Order(StringComparer.Ordinal).ToArray());

        File.Delete(Path.Combine(dir.Source, "20-ours.rules"));
        var second = Service.Sync(Request(dir));

        Assert.Equal(new[] { "20-ours.rules" }, second.Removed);
        Assert.Equal(new[] { "10-ours.rules", "50-mde.rules", "audit.rules" }, dir.TargetFiles().Keys.ToArray());
        foreach (var (name, (text, written)) in foreign)
        {
            Assert.Equal(text, dir.ReadTarget(name));
            Assert.Equal(written, File.GetLastWriteTimeUtc(Path.Combine(dir.Target, name)));
        }

        var record = ManagedFileRecord.Load(dir.State, SyncKind.Rules, dir.Target, LinuxNodeFileSystem.Instance);
        Assert.Equal(new[] { "10-ours.rules" }, record.Files.Keys.ToArray());
        var drift = Service.GetDrift(SyncKind.Rules, dir.Source, dir.Target, dir.State, SyncMode.Managed).Drift;
        Assert.All(drift.Where(d => d.Name != "10-ours.rules"), d => Assert.Equal(DriftStatus.Foreign, d.Status));
    }

    [Fact]
    public void MirrorModeMatchesTheSourceExactlyAndBacksUpForeignFilesFirst()
    {
        using var dir = new SyncTestDirectory();
        dir.WriteTarget("audit.rules", "## distribution default\n-D\n");
        dir.WriteTarget("50-mde.rules", "-w /opt/microsoft -p wa -k mde\n");
        dir.WriteSource("10-ours.rules", "-w /etc/passwd -p wa\n");

        var result = Service.Sync(Request(dir, SyncMode.Mirror));

        Assert.Equal(new[] { "50-mde.rules", "audit.rules" }, result.Removed.Order(StringComparer.Ordinal).ToArray());
        Assert.Equal(new[] { "10-ours.rules" }, dir.TargetFiles().Keys.ToArray());
        var generation = BackupStore.Load(result.BackupPath!);
        Assert.Equal("## distribution default\n-D\n", File.ReadAllText(generation.SavedFile("audit.rules")));
        Assert.Equal("-w /opt/microsoft -p wa -k mde\n", File.ReadAllText(generation.SavedFile("50-mde.rules")));
    }

    [Fact]
    public void AnEmptySourceEmptiesNothingUnlessAllowed()
    {
        using var dir = new SyncTestDirectory();
        dir.WriteSource("10-ours.rules", "-w /etc/passwd -p wa\n");
        Service.Sync(Request(dir));
        File.Delete(Path.Combine(dir.Source, "10-ours.rules"));

        var e = Assert.Throws<SyncException>(() => Service.Sync(Request(dir)));
        Assert.Equal(SyncFailure.SourceEmpty, e.Failure);
        Assert.Contains("allowEmptySource", e.Message);
        Assert.Equal("-w /etc/passwd -p wa\n", dir.ReadTarget("10-ours.rules"));

        var allowed = Service.Sync(Request(dir, allowEmpty: true));
        Assert.Equal(new[] { "10-ours.rules" }, allowed.Removed);
        Assert.Empty(dir.TargetFiles());
    }

    [Fact]
    public void InvalidRulesBlockTheWholeSyncAndEachErrorHasFileAndLine()
    {
        using var dir = new SyncTestDirectory();
        dir.WriteTarget("10-base.rules", "-D\n");
        dir.WriteSource("10-base.rules", "-D\n-b 8192\n");
        dir.WriteSource("20-bad.rules", "# comment\n-w /etc/passwd -p wa\nwatch everything please\n");
        dir.WriteSource("30-noisy.rules", "-a always,exit -S openat -k noisy\n");

        var result = Service.Sync(Request(dir));

        Assert.True(result.Blocked);
        Assert.False(result.Changed);
        var error = Assert.Single(result.Diagnostics, d => d.Severity == DiagnosticSeverity.Error);
        Assert.Equal(Path.Combine(dir.Source, "20-bad.rules"), error.Path);
        Assert.Equal(3, error.LineNumber);
        Assert.Equal(RuleDiagnosticCodes.StrayWord, error.Code);
        Assert.Contains(result.Diagnostics, d => d.Severity == DiagnosticSeverity.Warning && d.LineNumber == 1 && d.Path!.EndsWith("30-noisy.rules")); // -S without -F arch
        Assert.Equal(new[] { "10-base.rules" }, dir.TargetFiles().Keys.ToArray());
        Assert.Equal("-D\n", dir.ReadTarget("10-base.rules"));
        Assert.Empty(new BackupStore(dir.State).List("rules"));
    }

    [Fact]
    public void WarningsDoNotBlock()
    {
        using var dir = new SyncTestDirectory();
        dir.WriteSource("30-noisy.rules", "-a always,exit -S openat -k noisy\n");

        var result = Service.Sync(Request(dir));

        Assert.True(result.Changed);
        Assert.Equal(RuleDiagnosticCodes.MissingArch, Assert.Single(result.Diagnostics, d => d.Severity == DiagnosticSeverity.Warning).Code);
        Assert.DoesNotContain(result.Diagnostics, d => d.Severity == DiagnosticSeverity.Error);
    }

    [Fact]
    public void WhatIfReportsThePlanAndTouchesNothing()
    {
        using var dir = new SyncTestDirectory();
        dir.WriteTarget("10-base.rules", "-D\n");
        dir.WriteTarget("50-mde.rules", "-w /opt/microsoft -p wa\n");
        dir.WriteSource("10-base.rules", "-D\n-b 8192\n");
        dir.WriteSource("20-new.rules", "-w /etc/shadow -p wa\n");
        var before = dir.TargetFiles();
        SyncPlan? seen = null;

        var result = Service.Sync(Request(dir, SyncMode.Mirror, confirm: plan => { seen = plan; return false; }));

        Assert.True(result.WhatIf);
        Assert.False(result.Changed);
        Assert.Equal(new[] { "20-new.rules" }, result.Added);
        Assert.Equal(new[] { "10-base.rules" }, result.Modified);
        Assert.Equal(new[] { "50-mde.rules" }, result.Removed);
        Assert.Equal("1 added, 1 modified, 1 removed", seen!.Summary);
        Assert.Equal(before, dir.TargetFiles());
        Assert.False(Directory.Exists(Path.Combine(dir.State, "backup")));
    }

    [Fact]
    public void LeftoverTemporaryFilesOfAKilledRunAreRemoved()
    {
        using var dir = new SyncTestDirectory();
        dir.WriteSource("10-base.rules", "-D\n");
        var leftover = NodeFileSet.TemporaryPrefix + "0123456789abcdef";
        dir.WriteTarget(leftover, "-D\n-b 81");

        var result = Service.Sync(Request(dir));

        Assert.Equal(new[] { leftover }, result.CleanedUp);
        Assert.Equal(new[] { "10-base.rules" }, dir.TargetFiles().Keys.ToArray());
    }

    [Fact]
    public void OnlyTheLastTenGenerationsAreKept()
    {
        using var dir = new SyncTestDirectory();
        for (var i = 0; i < 13; i++)
        {
            dir.WriteSource("10-base.rules", $"-D\n-b {8192 + i}\n");
            Service.Sync(Request(dir));
        }

        var generations = new BackupStore(dir.State).List("rules");
        // The README promises "the last 10 generations of each kind are kept": the literal, not the constant.
        Assert.Equal(10, generations.Count);
        Assert.Equal(generations.Select(g => g.Id).Order(StringComparer.Ordinal), generations.Select(g => g.Id));
        Assert.Equal("-D\n-b 8203\n", File.ReadAllText(generations[^1].SavedFile("10-base.rules")));
        Assert.Empty(Directory.EnumerateDirectories(Path.Combine(dir.State, "backup", "rules"), ".*"));
    }
}
