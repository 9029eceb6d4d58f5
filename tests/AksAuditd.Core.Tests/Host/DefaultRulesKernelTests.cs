using AksAuditd.Core.Host;
using AksAuditd.Core.Rules;
using AksAuditd.Core.Sync;
using AksAuditd.Tests.Shared;
using Xunit;

namespace AksAuditd.Core.Tests.Host;

/// <summary>The DaemonSet's first day on a node: the default auditd-rules ConfigMap, loaded and verified for real.</summary>
public sealed class DefaultRulesKernelTests
{
    [Fact]
    public void TheDefaultConfigMapLoadsAndVerifiesWithoutDriftOnTheRealKernel()
    {
        // The ConfigMap next to the package's audit.rules, loaded with LoadRules and checked against auditctl -l.
        // Every default rule is listed by the kernel in another form than it is written (-S all, auid!=-1, -F key=);
        // a canon that misreads that takes the set for rejected and rolls it back.
        using var machine = new MachineAudit();
        machine.StartAuditd();
        var (entries, problems) = ConfigMapRuleSource.Read(Path.Combine(NodeTestSupport.RepositoryRoot, "kubernetes", "auditd-rules.yaml"));
        Assert.Empty(problems);
        foreach (var entry in entries)
        {
            File.WriteAllText(Path.Combine(MachineAudit.RulesDirectory, entry.Name), entry.Text);
        }

        var canon = KernelRuleCanon.ForNode("/");
        var result = new AuditdRestarter(machine.Runner, canon, MachineAudit.RulesDirectory, new BackupStore(machine.Scratch()))
            .Restart(RestartMode.LoadRules, _ => true);

        Assert.True(result.Succeeded, result.Message + " " + string.Join("; ", result.Drift));
        Assert.Empty(result.Drift);
        Assert.Equal(canon.DesiredRules(MachineAudit.RulesDirectory).Count, result.LoadedRuleCount);
        Assert.True(result.LoadedRuleCount >= 40, $"only {result.LoadedRuleCount} rules loaded");
        var status = machine.Status();
        Assert.Equal("8192", status["backlog_limit"]);
        Assert.Equal("0", status["backlog_wait_time"]);
        Assert.Equal("1", status["failure"]);
    }
}
