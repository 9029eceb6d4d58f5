namespace AksAuditd.Core.Rules;

public enum RuleLineKind
{
    /// <summary>Empty, or only spaces (auditctl skips it).</summary>
    Blank,

    /// <summary>The first word starts with '#'.</summary>
    Comment,

    /// <summary>Anything else: auditctl runs it as a rule or a control command.</summary>
    Rule,
}

/// <summary>One line of a rules file: what auditctl makes of it, and the findings about that line alone.</summary>
public sealed class ParsedRuleLine
{
    internal ParsedRuleLine(int lineNumber, string text, RuleLineKind kind, IReadOnlyList<RuleToken> tokens,
        AuditRule? rule, IReadOnlyList<RuleDiagnostic> diagnostics)
    {
        LineNumber = lineNumber;
        Text = text;
        Kind = kind;
        Tokens = tokens;
        Rule = rule;
        Diagnostics = diagnostics;
    }

    public int LineNumber { get; }

    public string Text { get; }

    public RuleLineKind Kind { get; }

    /// <summary>The words of the line as auditctl splits them (spaces only; quotes are literal).</summary>
    public IReadOnlyList<RuleToken> Tokens { get; }

    /// <summary>The rule; null for blank and comment lines.</summary>
    public AuditRule? Rule { get; }

    /// <summary>Findings about this line on its own (whole-file findings come from <see cref="RuleValidator"/>).</summary>
    public IReadOnlyList<RuleDiagnostic> Diagnostics { get; }

    public bool HasError => Diagnostics.Any(d => d.Severity == DiagnosticSeverity.Error);
}

/// <summary>A parsed rules file (or a ConfigMap entry, or a set of lines).</summary>
public sealed class RuleFile
{
    internal RuleFile(string? path, IReadOnlyList<ParsedRuleLine> lines)
    {
        Path = path;
        Lines = lines;
    }

    public string? Path { get; }

    public IReadOnlyList<ParsedRuleLine> Lines { get; }

    /// <summary>The rules of the file (control lines included), in file order.</summary>
    public IEnumerable<AuditRule> Rules => Lines.Where(l => l.Rule is not null).Select(l => l.Rule!);
}
