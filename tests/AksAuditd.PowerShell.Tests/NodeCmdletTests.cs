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
    public void AnUnknownModeIsABindingError()
    {
        using var shell = new ModuleRunspace();

        var result = shell.Invoke("Restart-Auditd -HostRoot / -Mode Bounce");

        var error = Assert.Single(result.AllErrors);
        Assert.StartsWith("ParameterArgumentValidationError", error.FullyQualifiedErrorId);
    }

    [Fact]
    public void StatusAndKernelDriftAreTypedObjects()
    {
        using var shell = new ModuleRunspace();

        var status = shell.Invoke("Get-AuditdStatus -HostRoot /");
        var drift = shell.Invoke("Get-AuditRuleDrift -Kernel -HostRoot / | ForEach-Object { $_.GetType().FullName } | Select-Object -Unique");

        Assert.Empty(status.AllErrors);
        Assert.Equal("AksAuditd.Core.Host.AuditdStatus", Assert.Single(status.Output).TypeNames[0]);
        Assert.Empty(drift.AllErrors);
        Assert.All(drift.Output, t => Assert.Equal("AksAuditd.Core.Host.KernelRuleDrift", t.BaseObject));
    }
}
