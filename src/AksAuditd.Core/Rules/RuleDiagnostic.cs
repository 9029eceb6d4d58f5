namespace AksAuditd.Core.Rules;

public enum DiagnosticSeverity
{
    Information,
    Warning,
    Error,
}

/// <summary>
/// One finding about a rules file, at a position a person can go to. <see cref="Code"/> is stable
/// (AR1001...) so CI can allow or deny specific findings; <see cref="Path"/> is the file, or
/// "file.yaml[entry.rules]" for a ConfigMap entry, and <see cref="LineNumber"/> is the line inside it.
/// <see cref="Auditctl"/> is the text the real auditctl prints for the same line, when it prints one; the message
/// quotes it at its end for people, the property keeps it for comparing with the tool.
/// </summary>
public sealed record RuleDiagnostic(
    string? Path,
    int LineNumber,
    int Column,
    DiagnosticSeverity Severity,
    string Code,
    string Message,
    string? Rule,
    string? Auditctl = null)
{
    public override string ToString() =>
        $"{Path ?? "<line>"}:{LineNumber}:{Column}: {Severity.ToString().ToLowerInvariant()} {Code}: {Message}";
}

/// <summary>Checks the text of one rules file; the sync validates every source file with it before touching a node.</summary>
public interface IRuleFileValidator
{
    IReadOnlyList<RuleDiagnostic> Validate(string path, string text);
}
