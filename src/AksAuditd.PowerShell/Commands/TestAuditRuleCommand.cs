using System.Management.Automation;
using AksAuditd.Core.Rules;

namespace AksAuditd.PowerShell.Commands;

/// <summary>
/// Checks audit rules before they reach a node: each finding is a RuleDiagnostic with a stable code, a severity and
/// the file, line and column; -Quiet answers with one bool (true when nothing is an Error).
/// </summary>
[Cmdlet(VerbsDiagnostic.Test, "AuditRule", DefaultParameterSetName = PathSet)]
[OutputType("AksAuditd.Core.Rules.RuleDiagnostic")]
[OutputType("AksAuditd.Core.Rules.RuleArchitectureSummary")]
[OutputType(typeof(bool))]
public sealed class TestAuditRuleCommand : RuleCommandBase
{
    /// <summary>Return only $true (no Error in any input) or $false.</summary>
    [Parameter]
    public SwitchParameter Quiet { get; set; }

    private RuleValidator? _validator;
    private readonly List<string> _lines = [];
    private readonly List<string> _files = [];
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
            if (Arch.Length > 1)
            {
                // Several arches: every file is checked for each at the end, and summarised file by file.
                _files.Add(path);
                continue;
            }

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
            foreach (var arch in Arch)
            {
                Emit(new RuleValidator(Options with { Arch = arch }).ValidateLines(_lines));
            }
        }
        else if (Arch.Length > 1 && _files.Count > 0)
        {
            CheckArches();
        }
        if (Quiet.IsPresent)
        {
            WriteObject(!_anyError && !Failed);
        }
    }

    /// <summary>Each finding once per arch it applies to (the arch in verbose), then which file loads on which arch.</summary>
    private void CheckArches()
    {
        RuleArchitectureResult result;
        try
        {
            result = new RuleArchitectureCheck(Options).Check(_files, Arch);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            WriteError(e, "RulesFileUnreadable", e is UnauthorizedAccessException ? ErrorCategory.PermissionDenied : ErrorCategory.ReadError, _files);
            Failed = true;
            return;
        }

        foreach (var (arch, diagnostic) in result.Diagnostics)
        {
            WriteVerbose($"{arch}: {diagnostic}");
            Emit([diagnostic]);
        }

        foreach (var summary in result.Summaries)
        {
            if (!Quiet.IsPresent)
            {
                WriteObject(summary);
            }
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
