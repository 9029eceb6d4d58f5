namespace AksAuditd.Core.Rules;

/// <summary>
/// One word of a rule line as auditctl reads it from a rules file, with the 1-based column where it starts in
/// the line. <see cref="Text"/> is the word after auditctl's own unescaping (<c>\ </c> is a space, <c>\\</c> a backslash).
/// </summary>
public readonly record struct RuleToken(string Text, int Column, int Length)
{
    public override string ToString() => Text;
}
