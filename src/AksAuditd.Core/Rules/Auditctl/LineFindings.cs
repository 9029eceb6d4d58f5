using AksAuditd.Core.Audit;

namespace AksAuditd.Core.Rules.Auditctl;

/// <summary>
/// A finding about one line, before it becomes a <see cref="RuleDiagnostic"/>: our explanation in
/// <see cref="Message"/>, and in <see cref="Auditctl"/> what the real auditctl prints for the line, if anything.
/// </summary>
internal readonly record struct LineFinding(string Code, DiagnosticSeverity Severity, int Column, string Message, string? Auditctl = null)
{
    /// <summary>The message as people read it: ours, then auditctl's own words in brackets.</summary>
    public string Text => WithAuditctl(Message, Auditctl);

    public static string WithAuditctl(string message, string? auditctl) =>
        auditctl is null ? message : $"{message} [auditctl: {auditctl}]";
}

/// <summary>
/// The findings of one auditctl line. auditctl stops at its first error, so only the first error is kept (later
/// ones are consequences); warnings and notes are all kept.
/// </summary>
internal sealed class LineFindings
{
    private readonly List<LineFinding> _findings = [];
    private bool _errorReported;

    public IReadOnlyList<LineFinding> All => _findings;

    /// <summary>True when auditctl reports an error for the line (the rest of a file is then not loaded without -c/-i).</summary>
    public bool Failed { get; private set; }

    /// <summary>The auditctl message of the first error (for comparing with the real tool's stderr); "" when it prints none.</summary>
    public string? AuditctlError
    {
        get
        {
            foreach (var finding in _findings)
            {
                if (finding.Severity == DiagnosticSeverity.Error)
                {
                    return finding.Auditctl ?? string.Empty;
                }
            }
            return null;
        }
    }

    /// <summary>auditctl fails the line without a message of its own (an error already counted).</summary>
    public void MarkFailed() => Failed = true;

    public void Fail(string code, RuleToken token, string message, string? auditctl) => Fail(code, token.Column, message, auditctl);

    public void Fail(string code, int column, string message, string? auditctl)
    {
        Failed = true;
        if (_errorReported)
        {
            return;
        }
        _errorReported = true;
        _findings.Add(new LineFinding(code, DiagnosticSeverity.Error, Math.Max(column, 1), message, auditctl));
    }

    public void Warn(string code, RuleToken token, string message, string? auditctl = null) => Warn(code, token.Column, message, auditctl);

    public void Warn(string code, int column, string message, string? auditctl = null) =>
        _findings.Add(new LineFinding(code, DiagnosticSeverity.Warning, Math.Max(column, 1), message, auditctl));

    public void Info(string code, RuleToken token, string message) => Info(code, token.Column, message);

    public void Info(string code, int column, string message) =>
        _findings.Add(new LineFinding(code, DiagnosticSeverity.Information, Math.Max(column, 1), message));

    /// <summary>strtol read only a prefix of the word: auditctl goes on with that number and says nothing.</summary>
    public void NotePartialNumber(string text, CNumber.Result parsed, RuleToken token, string option)
    {
        if (parsed.Consumed > 0 && parsed.Consumed < text.Length)
        {
            Warn(RuleDiagnosticCodes.PartialNumber, token,
                $"{option} {text}: auditctl reads the number {text[..parsed.Consumed]} and ignores '{text[parsed.Consumed..]}'");
        }
    }
}
