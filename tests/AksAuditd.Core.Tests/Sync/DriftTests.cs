using AksAuditd.Core.Configuration;
using AksAuditd.Core.Rules;
using AksAuditd.Core.Sync;
using Xunit;

namespace AksAuditd.Core.Tests.Sync;

public sealed class DriftTests
{
    private static readonly SyncService Service = new(new RuleValidator());

    [Fact]
    public void EveryStatusIsReportedWithBothHashes()
    {
        using var dir = new SyncTestDirectory();
        dir.WriteSource("10-same.rules", "-w /etc/passwd -p wa\n");
        dir.WriteSource("20-changed.rules", "-w /etc/shadow -p wa\n");
        dir.WriteSource("30-new.rules", "-w /etc/group -p wa\n");
        dir.WriteTarget("10-same.rules", "-w /etc/passwd -p wa\n");
        dir.WriteTarget("20-changed.rules", "-w /etc/shadow -p r\n");
        dir.WriteTarget("40-ours.rules", "-w /etc/hosts -p wa\n");
        dir.WriteTarget("50-defender.rules", "-w /opt/mde -p wa\n");
        dir.WriteTarget("README", "not counted: augenrules reads only *.rules\n");
        new ManagedFileRecord { Kind = "rules", Target = dir.Target, Files = { ["40-ours.rules"] = "" } }.Save(dir.State, SyncKind.Rules, LinuxNodeFileSystem.Instance);

        var report = Service.GetDrift(SyncKind.Rules, dir.Source, dir.Target, dir.State, SyncMode.Managed);

        var byName = report.Drift.ToDictionary(d => d.Name);
        Assert.Equal(
            new[] { "10-same.rules", "20-changed.rules", "30-new.rules", "40-ours.rules", "50-defender.rules" },
            report.Drift.Select(d => d.Name).ToArray());
        Assert.Equal(DriftStatus.Unchanged, byName["10-same.rules"].Status);
        Assert.Equal(SyncTestDirectory.Sha("-w /etc/passwd -p wa\n"), byName["10-same.rules"].SourceHash);
        Assert.Equal(byName["10-same.rules"].SourceHash, byName["10-same.rules"].TargetHash);
        Assert.Equal(DriftStatus.Modified, byName["20-changed.rules"].Status);
        Assert.Equal(SyncTestDirectory.Sha("-w /etc/shadow -p r\n"), byName["20-changed.rules"].TargetHash);
        Assert.Equal(DriftStatus.Added, byName["30-new.rules"].Status);
        Assert.Null(byName["30-new.rules"].TargetHash);
        Assert.Equal(DriftStatus.Removed, byName["40-ours.rules"].Status);
        Assert.Null(byName["40-ours.rules"].SourceHash);
        Assert.Equal(DriftStatus.Foreign, byName["50-defender.rules"].Status);

        var mirror = Service.GetDrift(SyncKind.Rules, dir.Source, dir.Target, dir.State, SyncMode.Mirror);
        Assert.Equal(DriftStatus.Removed, mirror.Drift.Single(d => d.Name == "50-defender.rules").Status);
    }

    [Fact]
    public void OnlyRulesFilesCountAndOthersInTheSourceAreWarnings()
    {
        using var dir = new SyncTestDirectory();
        dir.WriteSource("10-base.rules", "-D\n");
        dir.WriteSource("README.md", "# rules for the cluster\n");
        dir.WriteSource("10-base.rules.bak", "-D\n");

        var report = Service.GetDrift(SyncKind.Rules, dir.Source, dir.Target, dir.State, SyncMode.Managed);

        Assert.Equal("10-base.rules", Assert.Single(report.Drift).Name);
        Assert.Equal(new[] { "10-base.rules.bak", "README.md" }, report.Problems.Select(p => p.Path).Order(StringComparer.Ordinal).ToArray());
        Assert.All(report.Problems, p => Assert.Equal(AksAuditd.Core.Rules.DiagnosticSeverity.Warning, p.Severity));
    }

    [Fact]
    public void ConfigMapVolumeIsReadThroughItsDataLinkAndItsHiddenEntriesAreNotFiles()
    {
        using var dir = new SyncTestDirectory();
        var configMap = new ConfigMapVolumeWriter(dir.Source);
        var first = configMap.Update(new Dictionary<string, string> { ["10-base.rules"] = "-D\n", ["20-watch.rules"] = "-w /etc/passwd -p wa\n" });

        var report = Service.GetDrift(SyncKind.Rules, dir.Source, dir.Target, dir.State, SyncMode.Managed);

        Assert.Equal(first, report.SourceVersion);
        Assert.Equal(new[] { "10-base.rules", "20-watch.rules" }, report.Drift.Select(d => d.Name).ToArray());
        Assert.All(report.Drift, d => Assert.Equal(DriftStatus.Added, d.Status));
        Assert.Empty(report.Problems);

        // A kubelet update: one key changed, one removed, one added.
        var second = configMap.Update(new Dictionary<string, string> { ["10-base.rules"] = "-D\n-b 8192\n", ["30-new.rules"] = "-w /etc/group -p wa\n" });
        var session = new SyncSession(SyncKind.Rules, dir.Source, dir.Target);
        report = Service.GetDrift(SyncKind.Rules, dir.Source, dir.Target, dir.State, SyncMode.Managed, session);

        Assert.Equal(second, report.SourceVersion);
        Assert.Equal(new[] { "10-base.rules", "30-new.rules" }, report.Drift.Select(d => d.Name).ToArray());
        Assert.Equal(SyncTestDirectory.Sha("-D\n-b 8192\n"), report.Drift[0].SourceHash);
        Assert.False(Directory.Exists(Path.Combine(dir.Source, first)));
    }

    [Fact]
    public void ReadsThatRaceAKubeletUpdateSeeOneWholeVersion()
    {
        using var dir = new SyncTestDirectory();
        var configMap = new ConfigMapVolumeWriter(dir.Source);
        static Dictionary<string, string> Version(int v) =>
            Enumerable.Range(0, 20).ToDictionary(i => $"{i:D2}-rule.rules", i => $"# version {v}\n-w /etc/file{i} -p wa -k v{v}\n");
        configMap.Update(Version(0));

        using var stop = new CancellationTokenSource();
        var writer = Task.Run(() =>
        {
            for (var v = 1; !stop.IsCancellationRequested; v++)
            {
                configMap.Update(Version(v));
            }
        });

        var reads = 0;
        var deadline = DateTime.UtcNow.AddSeconds(3);
        var session = new SyncSession(SyncKind.Rules, dir.Source, dir.Target);
        while (DateTime.UtcNow < deadline && reads < 300)
        {
            var set = new ConfigMapVolume(dir.Source, SyncKind.Rules).Read(reads % 2 == 0 ? session.Source : null);
            var versions = set.Files.Select(f => f.Text.Split('\n')[0]).Distinct().ToList();
            Assert.Equal(20, set.Files.Count);
            Assert.Single(versions);
            Assert.Empty(set.Problems);
            reads++;
        }

        stop.Cancel();
        writer.GetAwaiter().GetResult();
        Assert.True(reads > 20, $"only {reads} reads");
    }

    [Fact]
    public void MissingSourceAndMissingTargetAreErrorsNamingThePath()
    {
        using var dir = new SyncTestDirectory();
        var missing = Path.Combine(dir.Root, "nope");

        var e = Assert.Throws<SyncException>(() => Service.GetDrift(SyncKind.Rules, missing, dir.Target, dir.State, SyncMode.Managed));
        Assert.Equal(SyncFailure.SourceMissing, e.Failure);
        Assert.Contains(missing, e.Message);

        e = Assert.Throws<SyncException>(() => Service.GetDrift(SyncKind.Rules, dir.Source, missing, dir.State, SyncMode.Managed));
        Assert.Equal(SyncFailure.TargetMissing, e.Failure);
    }
}
