using AksAuditd.Core.Host;
using AksAuditd.Core.Rules;
using Xunit;

namespace AksAuditd.Core.Tests.Host;

/// <summary>
/// The node side's canon from the rules engine: desired rules in auditctl -l's text, with their rules.d origin, so
/// that a correctly loaded set shows no drift and Restart-Auditd does not mistake it for a refused one.
/// </summary>
public sealed class RulesEngineCanonTests
{
    [Fact]
    public void DesiredRulesAreInAuditctlListFormWithTheirFileAndLine()
    {
        var directory = Directory.CreateTempSubdirectory("aks-auditd-canon-");
        try
        {
            File.WriteAllText(Path.Combine(directory.FullName, "10-a.rules"), "## privileged\n-a always,exit -F path=/usr/bin/sudo -F perm=x -F auid!=unset -k privileged\n");
            File.WriteAllText(Path.Combine(directory.FullName, "20-b.rules"), "-D\n-b 8192\n-w /etc/passwd -p wa -k identity\n");

            var desired = new RulesEngineCanon(hostRoot: null).DesiredRules(directory.FullName);

            Assert.Equal(
                new[]
                {
                    new DesiredRule("-a always,exit -S all -F path=/usr/bin/sudo -F perm=x -F auid!=-1 -F key=privileged", Path.Combine(directory.FullName, "10-a.rules"), 2),
                    new DesiredRule("-w /etc/passwd -p wa -k identity", Path.Combine(directory.FullName, "20-b.rules"), 3),
                },
                desired);
        }
        finally
        {
            directory.Delete(recursive: true);
        }
    }

    [Fact]
    public void LoadedRulesAreTheListingLines()
    {
        Assert.Equal(
            new[] { "-w /etc/passwd -p wa -k identity", "-a never,exit -S all -F exe=/usr/bin/runc" },
            new RulesEngineCanon(null).LoadedRules("-w /etc/passwd -p wa -k identity\n-a never,exit -S all -F exe=/usr/bin/runc\n"));
        Assert.Empty(new RulesEngineCanon(null).LoadedRules("No rules\n"));
    }

    [Fact]
    public void TheDefaultConfigMapLoadsWithoutDriftOnTheRealKernel()
    {
        // What the DaemonSet does on day one: the auditd-rules ConfigMap next to the package's audit.rules, loaded
        // with LoadRules and verified against auditctl -l. With a canon that misreads the kernel's listing, this
        // rolls the whole set back as "rejected".
        using var machine = new MachineAudit();
        machine.StartAuditd();
        var (entries, problems) = ConfigMapRuleSource.Read(Path.Combine(RepositoryRoot(), "kubernetes", "auditd-rules.yaml"));
        Assert.Empty(problems);
        foreach (var entry in entries)
        {
            File.WriteAllText(Path.Combine(MachineAudit.RulesDirectory, entry.Name), entry.Text);
        }

        var restarter = new AuditdRestarter(machine.Runner, new RulesEngineCanon("/"), null, MachineAudit.RulesDirectory, machine.Scratch());
        var result = restarter.Restart(RestartMode.LoadRules, _ => true);

        Assert.True(result.Succeeded, result.Message + " " + string.Join("; ", result.Drift));
        Assert.Empty(result.Drift);
        Assert.Equal(new RulesEngineCanon("/").DesiredRules(MachineAudit.RulesDirectory).Count, result.LoadedRuleCount);
        Assert.True(result.LoadedRuleCount >= 40, $"only {result.LoadedRuleCount} rules loaded");
    }

    private static string RepositoryRoot()
    {
        var directory = new DirectoryInfo(AppContext.BaseDirectory);
        while (directory is not null && !File.Exists(Path.Combine(directory.FullName, "AksAuditd.psd1")))
        {
            directory = directory.Parent;
        }

        return directory?.FullName ?? throw new InvalidOperationException("repository root not found");
    }
}
