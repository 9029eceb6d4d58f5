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

    private protected override IRuleFileValidator CreateValidator(AksAuditdConfiguration configuration) => RulesEngine.Create(this);
}

/// <summary>The rules engine (AksAuditd.Core.Rules.RuleValidator), found by name while it lands on main.</summary>
internal static class RulesEngine
{
    public static IRuleFileValidator Create(PSCmdlet cmdlet)
    {
        var type = typeof(IRuleFileValidator).Assembly.GetType("AksAuditd.Core.Rules.RuleValidator");
        if (type is not null && Activator.CreateInstance(type) is IRuleFileValidator validator)
        {
            return validator;
        }

        cmdlet.WriteWarning("The rules engine (RuleValidator) is not in this build: rules files are checked for safety but not validated.");
        return new NoRuleValidation();
    }

    private sealed class NoRuleValidation : IRuleFileValidator
    {
        public IReadOnlyList<RuleDiagnostic> Validate(string path, string text) => Array.Empty<RuleDiagnostic>();
    }
}
