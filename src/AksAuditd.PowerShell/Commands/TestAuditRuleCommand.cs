using System.Management.Automation;
using AksAuditd.Core.Rules;

namespace AksAuditd.PowerShell.Commands;

/// <summary>
/// Checks audit rules before they reach a node: each finding is a RuleDiagnostic with a stable code, a severity and
/// the file, line and column; -Quiet answers with one bool (true when nothing is an Error).
/// </summary>
[Cmdlet(VerbsDiagnostic.Test, "AuditRule", DefaultParameterSetName = PathSet)]
[OutputType("AksAuditd.Core.Rules.RuleDiagnostic")]
[OutputType(typeof(bool))]
public sealed class TestAuditRuleCommand : RuleCommandBase
{
    /// <summary>Return only $true (no Error in any input) or $false.</summary>
    [Parameter]
    public SwitchParameter Quiet { get; set; }

    private RuleValidator? _validator;
    private readonly List<string> _lines = [];
    private bool _anyError;

    protected override void ProcessRecord()
    {
        _validator ??= new RuleValidator(Options);
        if (ParameterSetName == LineSet)
        {
            // Lines piped one by one form one rules file, checked at the end (duplicates need the whole file).
            _lines.AddRange(Line);
            return;
        }
        foreach (var path in ResolveFiles())
        {
            WriteVerbose($"Checking {path}");
            IReadOnlyList<RuleDiagnostic> diagnostics = [];
            if (TryRead(path, () => diagnostics = _validator.ValidatePath(path)))
            {
                Emit(diagnostics);
            }
        }
    }

    protected override void EndProcessing()
    {
        if (ParameterSetName == LineSet && _validator is not null)
        {
            Emit(_validator.ValidateLines(_lines));
        }
        if (Quiet.IsPresent)
        {
            WriteObject(!_anyError && !Failed);
        }
    }

    private void Emit(IReadOnlyList<RuleDiagnostic> diagnostics)
    {
        foreach (var diagnostic in diagnostics)
        {
            _anyError |= diagnostic.Severity == DiagnosticSeverity.Error;
            if (!Quiet.IsPresent)
            {
                WriteObject(diagnostic);
            }
        }
    }
}
