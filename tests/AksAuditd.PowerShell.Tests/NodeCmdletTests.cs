using AksAuditd.Tests.Shared;
using Xunit;

namespace AksAuditd.PowerShell.Tests;

/// <summary>The node cmdlets in a real runspace: binding, -WhatIf, typed output, error ids.</summary>
public sealed class NodeCmdletTests
{
    [Fact]
    public void RestartWhatIfChangesNothingAndSaysWhatItWouldRun()
    {
        using var kernel = KernelTestLock.Acquire();
        using var shell = new ModuleRunspace();
        var state = Directory.CreateTempSubdirectory("aks-auditd-state-").FullName;
        try
        {
            var before = File.ReadAllText("/etc/audit/audit.rules");

            var result = shell.Invoke("param($s) Restart-Auditd -HostRoot / -StatePath $s -Mode LoadRules -WhatIf", new Dictionary<string, object?> { ["s"] = state });

            Assert.Empty(result.AllErrors);
            var restart = Assert.Single(result.Output);
            Assert.Equal("AksAuditd.Core.Host.RestartResult", restart.TypeNames[0]);
            Assert.False((bool)restart.Properties["Succeeded"].Value);
            // No auditd runs between tests, so it would be started (which loads rules.d); with one, augenrules --load.
            Assert.Matches("^Not run: (service auditd start|augenrules --load)$", (string)restart.Properties["Message"].Value);
            Assert.Equal(before, File.ReadAllText("/etc/audit/audit.rules"));
        }
        finally
        {
            Directory.Delete(state, recursive: true);
        }
    }

    [Fact]
    public void SyncThenRestartOfASetTheKernelRejectsPutsRulesDAndTheKernelBackAndNamesTheRule()
    {
        using var machine = new MachineAudit();
        var source = machine.Scratch();
        var state = machine.Scratch();
        var watched = machine.Scratch();
        // The node's / is this machine's, and the cmdlets find the source and the state directory through the configuration.
        using var shell = new ModuleRunspace(new Dictionary<string, string?>
        {
            ["AA_HOST_ROOT"] = "/",
            ["AA_RULES_SOURCE"] = source,
            ["AA_STATE_DIR"] = state,
            ["AA_CONFIG_FILE"] = Path.Combine(state, "no-config.yaml"),
        });
        File.WriteAllText(Path.Combine(source, "50-aks-cmdlet.rules"), $"-w {watched} -p wa -k aks_cmdlet_good\n");
        var firstSync = shell.Invoke("Sync-AuditRules -Confirm:$false -PassThru");
        Assert.Empty(firstSync.AllErrors);
        Assert.True((bool)Assert.Single(firstSync.Output).Properties["Changed"].Value);
        var firstRestart = shell.Invoke("Restart-Auditd -Confirm:$false");
        Assert.Empty(firstRestart.AllErrors);
        Assert.True((bool)Assert.Single(firstRestart.Output).Properties["Succeeded"].Value);
        var filesBefore = MachineAudit.RulesFiles();
        var kernelBefore = machine.Auditctl("-l");
        Assert.Contains($"-w {watched} -p wa -k aks_cmdlet_good", kernelBefore);

        // The validator checks watches against the node (HostRoot /), and the directory exists when the sync runs;
        // it is gone when the rules load (an application removed it), and the kernel refuses a watch without its parent.
        var gone = Path.Combine(watched, "app");
        Directory.CreateDirectory(gone);
        var bad = $"-w {gone}/app.conf -p wa -k aks_cmdlet_bad";
        File.WriteAllText(Path.Combine(source, "60-aks-bad.rules"), $"-w {watched}/new -p wa -k aks_cmdlet_new\n{bad}\n");
        var badSync = shell.Invoke("Sync-AuditRules -Confirm:$false -PassThru");
        Assert.Empty(badSync.AllErrors);
        Assert.Equal(new[] { "60-aks-bad.rules" }, ((IEnumerable<string>)Assert.Single(badSync.Output).Properties["Added"].Value).ToArray());
        Assert.Contains(bad, File.ReadAllText(Path.Combine(MachineAudit.RulesDirectory, "60-aks-bad.rules")));
        Directory.Delete(gone);

        var restart = shell.Invoke("Restart-Auditd -Confirm:$false");

        var error = Assert.Single(restart.AllErrors);
        Assert.Equal("RuleRejected,AksAuditd.PowerShell.Commands.RestartAuditdCommand", error.FullyQualifiedErrorId);
        Assert.Equal(System.Management.Automation.ErrorCategory.InvalidData, error.CategoryInfo.Category);
        Assert.Equal($"{MachineAudit.RulesDirectory}/60-aks-bad.rules:2", error.TargetObject);
        Assert.Contains($"'{bad}'", error.Exception.Message);
        Assert.Contains("No such file or directory", error.Exception.Message);
        var result = Assert.Single(restart.Output);
        Assert.True((bool)result.Properties["RolledBack"].Value);
        Assert.False((bool)result.Properties["Succeeded"].Value);
        Assert.Equal(filesBefore, MachineAudit.RulesFiles());
        Assert.Equal(kernelBefore, machine.Auditctl("-l"));

        // The next poll: the same source is refused and the node is left alone.
        var refused = shell.Invoke("Sync-AuditRules -Confirm:$false -PassThru");
        var refusal = Assert.Single(refused.AllErrors);
        Assert.Equal("SourceRejectedByKernel,AksAuditd.PowerShell.Commands.SyncAuditRulesCommand", refusal.FullyQualifiedErrorId);
        Assert.Equal(System.Management.Automation.ErrorCategory.InvalidData, refusal.CategoryInfo.Category);
        Assert.Equal($"{source}/60-aks-bad.rules:2", refusal.TargetObject);
        Assert.Contains($"'{bad}' in 60-aks-bad.rules line 2", refusal.Exception.Message);
        Assert.Contains("ConfigMap", refusal.Exception.Message);
        Assert.Equal(filesBefore, MachineAudit.RulesFiles());

        // A fixed ConfigMap is synced and loaded.
        File.WriteAllText(Path.Combine(source, "60-aks-bad.rules"), $"-w {watched}/new -p wa -k aks_cmdlet_new\n");
        var fixedSync = shell.Invoke("Sync-AuditRules -Confirm:$false -PassThru");
        Assert.Empty(fixedSync.AllErrors);
        Assert.True((bool)Assert.Single(fixedSync.Output).Properties["Changed"].Value);
        var fixedRestart = shell.Invoke("Restart-Auditd -Confirm:$false");
        Assert.Empty(fixedRestart.AllErrors);
        Assert.Equal("LoadRules", Assert.Single(fixedRestart.Output).Properties["Method"].Value);
        Assert.Contains($"-w {watched}/new -p wa -k aks_cmdlet_new", machine.Auditctl("-l"));
    }

    [Fact]
    public void AnUnknownModeIsABindingError()
    {
        using var shell = new ModuleRunspace();

        var result = shell.Invoke("Restart-Auditd -HostRoot / -Mode Bounce");

        var error = Assert.Single(result.AllErrors);
        Assert.StartsWith("ParameterArgumentValidationError", error.FullyQualifiedErrorId);
    }

    [Fact]
    public void LostEventsSinceTheLastStatusReachTheWarningStream()
    {
        // The real kernel loses events for us: a rate limit of one record a second and a watch we write to quickly.
        using var machine = new MachineAudit();
        var watched = Path.Combine(machine.Scratch(), "written");
        File.WriteAllText(watched, string.Empty);
        machine.Auditctl("-e", "1");
        machine.Auditctl("-r", "1");
        machine.Auditctl("-w", watched, "-p", "wa", "-k", "aks_cmdlet_lost");
        using var shell = new ModuleRunspace();

        // The monitor is process-wide, so this first reading may compare with another test's; it sets the baseline.
        var before = shell.Invoke("Get-AuditdStatus -HostRoot /");
        for (var i = 0; i < 100; i++)
        {
            File.AppendAllText(watched, "x");
        }

        var after = shell.Invoke("Get-AuditdStatus -HostRoot /");
        var quiet = shell.Invoke("Get-AuditdStatus -HostRoot / -WarningAction SilentlyContinue; Get-AuditdStatus -HostRoot /");

        Assert.Empty(before.AllErrors);
        Assert.Empty(after.AllErrors);
        var lostBefore = (long)Assert.Single(before.Output).Properties["Lost"].Value;
        var lostAfter = (long)Assert.Single(after.Output).Properties["Lost"].Value;
        Assert.True(lostAfter > lostBefore, $"the kernel lost no events ({lostBefore} -> {lostAfter})");
        Assert.Contains($"The kernel lost {lostAfter - lostBefore} audit events since the last check ({lostAfter} in all): raise the backlog limit (-b) or lower the event rate.", after.Warnings);
        Assert.DoesNotContain(quiet.Warnings, w => w.StartsWith("The kernel lost", StringComparison.Ordinal)); // nothing lost since
    }

    [Fact]
    public void StatusAndKernelDriftAreTypedObjects()
    {
        // A rule loaded by hand and absent from rules.d: drift has one Unexpected entry, so the typed-output check
        // runs over real output rather than over the empty list a clean machine gives.
        using var machine = new MachineAudit();
        var watched = machine.Scratch();
        machine.Auditctl("-w", watched, "-p", "wa", "-k", "aks_drift_typed");
        using var shell = new ModuleRunspace();

        var status = shell.Invoke("Get-AuditdStatus -HostRoot /");
        var drift = shell.Invoke("Get-AuditRuleDrift -Kernel -HostRoot /");

        Assert.Empty(status.AllErrors);
        var statusObject = Assert.Single(status.Output);
        Assert.Equal("AksAuditd.Core.Host.AuditdStatus", statusObject.TypeNames[0]);
        Assert.Equal(1, Convert.ToInt32(statusObject.Properties["LoadedRuleCount"].Value));
        Assert.Empty(drift.AllErrors);
        var unexpected = Assert.Single(drift.Output, d => ((string)d.Properties["Rule"].Value).Contains("aks_drift_typed"));
        Assert.Equal("AksAuditd.Core.Host.KernelRuleDrift", unexpected.TypeNames[0]);
        Assert.Equal("Unexpected", unexpected.Properties["Status"].Value.ToString());
    }
}
