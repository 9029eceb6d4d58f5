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

    /// <remarks>
    /// With the node's root mounted, the rules are checked against the node itself (user names from its passwd,
    /// watch parents that must exist), so a set the kernel would reject never reaches rules.d. Without the mount
    /// (a sandbox, a CI checkout) those node-dependent checks are skipped.
    /// </remarks>
    private protected override IRuleFileValidator CreateValidator(AksAuditdConfiguration configuration) => Validator(configuration);

    /// <summary>The rules engine the rules sync uses (Sync-AuditNode's too).</summary>
    internal static IRuleFileValidator Validator(AksAuditdConfiguration configuration) =>
        new RuleValidator(new RuleParserOptions
        {
            HostRoot = Directory.Exists(configuration.HostRoot) ? configuration.HostRoot : null,
            Arch = RuleParserOptions.CurrentNodeArch,
        });
}
