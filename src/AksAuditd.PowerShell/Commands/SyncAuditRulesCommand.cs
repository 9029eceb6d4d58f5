using System.Management.Automation;
using AksAuditd.Core.Configuration;
using AksAuditd.Core.Rules;

namespace AksAuditd.PowerShell.Commands;

/// <summary>Makes the node's rules.d match a rules ConfigMap (or directory), validated, atomic and backed up.</summary>
[Cmdlet(VerbsData.Sync, "AuditRules", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium)]
[OutputType("AksAuditd.Core.Sync.SyncResult")]
public sealed class SyncAuditRulesCommand : SyncCommandBase
{
    private protected override string KindName => "rules";

    private protected override string DefaultSource(AksAuditdConfiguration configuration) => configuration.RulesSource;

    private protected override string DefaultTarget(AksAuditdConfiguration configuration) => configuration.HostRulesDirectory;

    // Validated without the node's facts (users, paths): the same verdict as a CI check of the ConfigMap.
    private protected override IRuleFileValidator CreateValidator(AksAuditdConfiguration configuration) => new RuleValidator();
}
