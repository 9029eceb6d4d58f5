using System.Management.Automation;
using AksAuditd.Core.Rules;

namespace AksAuditd.PowerShell.Commands;

/// <summary>
/// Reads audit rules into AuditRule objects (kind, list, action, fields, syscalls, keys, and the Canonical line
/// auditctl -l prints), or builds the audit.rules augenrules would make from a rules.d directory (-Merged).
/// </summary>
[Cmdlet(VerbsCommon.Get, "AuditRule", DefaultParameterSetName = PathSet)]
[OutputType("AksAuditd.Core.Rules.AuditRule")]
[OutputType(typeof(string), ParameterSetName = new[] { MergedSet })]
public sealed class GetAuditRuleCommand : RuleCommandBase
{
    public const string MergedSet = "Merged";

    /// <summary>A rules.d directory: returns the rules of the audit.rules augenrules builds from it.</summary>
    [Parameter(ParameterSetName = MergedSet, Mandatory = true)]
    [ValidateNotNullOrEmpty]
    public string Merged { get; set; } = string.Empty;

    /// <summary>With -Merged: the merged audit.rules text itself, byte for byte as augenrules writes it.</summary>
    [Parameter(ParameterSetName = MergedSet)]
    public SwitchParameter Raw { get; set; }

    /// <summary>Leave out comment-only and blank lines (always) and control lines (-D, -b, -e ...) too.</summary>
    [Parameter]
    public SwitchParameter ExcludeControl { get; set; }

    private RuleParser? _parser;
    private readonly List<string> _lines = [];

    protected override void BeginProcessing()
    {
        if (Arch.Length > 1)
        {
            ThrowTerminatingError(new ErrorRecord(
                new ArgumentException($"Get-AuditRule reads rules for one arch; {string.Join(", ", Arch)} are several. Test-AuditRule checks several at once."),
                "OneArchOnly", ErrorCategory.InvalidArgument, Arch));
        }
    }

    protected override void ProcessRecord()
    {
        _parser ??= new RuleParser(Options);
        switch (ParameterSetName)
        {
            case LineSet:
                _lines.AddRange(Line);
                break;
            case MergedSet:
                WriteMerged();
                break;
            default:
                foreach (var path in ResolveFiles())
                {
                    WriteVerbose($"Reading {path}");
                    IReadOnlyList<RuleFile> files = [];
                    if (TryRead(path, () => files = _parser.ParsePath(path)))
                    {
                        foreach (var file in files)
                        {
                            Emit(file);
                        }
                    }
                }
                break;
        }
    }

    protected override void EndProcessing()
    {
        if (ParameterSetName == LineSet && _parser is not null)
        {
            Emit(_parser.ParseLines(_lines));
        }
    }

    private void WriteMerged()
    {
        var directory = SessionState.Path.GetUnresolvedProviderPathFromPSPath(Merged);
        if (!Directory.Exists(directory))
        {
            ThrowTerminatingError(new ErrorRecord(new DirectoryNotFoundException($"No rules directory - {directory}"),
                "RulesDirectoryNotFound", ErrorCategory.ObjectNotFound, Merged));
        }
        WriteVerbose($"Merging the *.rules files of {directory} as augenrules does");
        var text = new RuleMerger().Merge(directory);
        if (Raw.IsPresent)
        {
            WriteObject(text);
            return;
        }
        Emit(_parser!.Parse(text, System.IO.Path.Combine(directory, "audit.rules (merged)")));
    }

    private void Emit(RuleFile file)
    {
        foreach (var rule in file.Rules)
        {
            if (ExcludeControl.IsPresent && rule.Kind == AuditRuleKind.Control)
            {
                continue;
            }
            WriteObject(rule);
        }
    }
}
