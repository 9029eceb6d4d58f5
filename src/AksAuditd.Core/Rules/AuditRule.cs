namespace AksAuditd.Core.Rules;

/// <summary>What a rule line does: change the audit configuration, watch a path, or filter syscalls/records.</summary>
public enum AuditRuleKind
{
    /// <summary>-D, -b, -f, -e, -r, --backlog_wait_time, -c, -i and the other options that are not a rule.</summary>
    Control,

    /// <summary>-w / -W: a file system watch.</summary>
    Watch,

    /// <summary>-a / -A / -d: a rule on a filter list (exit, task, user, exclude, filesystem).</summary>
    Syscall,
}

/// <summary>One option of a rule line (<c>-F auid&gt;=1000</c>) with the tokens it came from.</summary>
public sealed record AuditRuleOption(string Name, string? Value, RuleToken OptionToken, RuleToken? ValueToken)
{
    public override string ToString() => Value is null ? Name : $"{Name} {Value}";
}

/// <summary>
/// A <c>-F name op value</c> field (or a <c>-C left op right</c> comparison) as written, with the name auditctl lists
/// it under (<c>loginuid</c> is listed as <c>auid</c>).
/// </summary>
public sealed record AuditRuleField(string Name, string WrittenName, string Operator, string Value, bool IsComparison, RuleToken Token)
{
    public override string ToString() => IsComparison ? $"-C {WrittenName}{Operator}{Value}" : $"-F {WrittenName}{Operator}{Value}";
}

/// <summary>A syscall of a <c>-S</c> option as written and the number it resolves to for the rule's arch (-1: unknown).</summary>
public sealed record AuditRuleSyscall(string Written, string? Name, int Number, RuleToken Token)
{
    public override string ToString() => Written;
}

/// <summary>
/// One rule line of an audit rules file as a typed model. <see cref="Canonical"/> is the line <c>auditctl -l</c> prints
/// for the rule once the kernel holds it (empty for control lines and for lines auditctl or the kernel refuses), so
/// rules on disk and rules in the kernel compare as text.
/// </summary>
public sealed class AuditRule
{
    internal AuditRule(AuditRuleKind kind, string text, string? path, int lineNumber)
    {
        Kind = kind;
        Text = text;
        Path = path;
        LineNumber = lineNumber;
    }

    public AuditRuleKind Kind { get; }

    /// <summary>The line as written in the file.</summary>
    public string Text { get; }

    public string? Path { get; }

    public int LineNumber { get; }

    /// <summary>The filter list: exit, task, user, exclude or filesystem (exit for watches); null for control lines.</summary>
    public string? List { get; internal set; }

    /// <summary>always or never; null for control lines.</summary>
    public string? Action { get; internal set; }

    /// <summary>True for -A (insert at the head of the list).</summary>
    public bool Prepend { get; internal set; }

    /// <summary>True for -d, -W and -D: the line removes rules instead of adding one.</summary>
    public bool IsDelete { get; internal set; }

    /// <summary>The <c>-F arch=</c> value as written, if any.</summary>
    public string? Arch { get; internal set; }

    /// <summary>The arch whose syscall table names the syscalls: the -F arch value, or the node's arch when none is given.</summary>
    public string? SyscallArch { get; internal set; }

    public IReadOnlyList<AuditRuleField> Fields { get; internal set; } = [];

    public IReadOnlyList<AuditRuleSyscall> Syscalls { get; internal set; } = [];

    /// <summary>True for <c>-S all</c>, and for exit rules without -S (auditctl then adds every syscall).</summary>
    public bool AllSyscalls { get; internal set; }

    /// <summary>The watched path of -w/-W, or the path=/dir= field.</summary>
    public string? WatchPath { get; internal set; }

    /// <summary>The permission letters (-p or perm=), as auditctl lists them (subset of rwxa in that order).</summary>
    public string? Permissions { get; internal set; }

    public IReadOnlyList<string> Keys { get; internal set; } = [];

    /// <summary>For control lines, the option (-b, -f, -e, -D, --backlog_wait_time ...); null otherwise.</summary>
    public string? ControlOption { get; internal set; }

    /// <summary>For control lines, the option's value as written (8192 for -b 8192).</summary>
    public string? ControlValue { get; internal set; }

    /// <summary>Every option of the line in the order auditctl processes them, with token positions.</summary>
    public IReadOnlyList<AuditRuleOption> Options { get; internal set; } = [];

    /// <summary>The line <c>auditctl -l</c> prints for this rule; empty for control lines.</summary>
    public string Canonical { get; internal set; } = string.Empty;

    /// <summary>True when auditctl and the kernel accept the line (as far as this machine-independent check can tell).</summary>
    public bool IsAccepted { get; internal set; }

    /// <summary>
    /// The kernel's identity of the rule (list, action, syscall mask and fields in order): two lines with the same
    /// identity are the same kernel rule, and the second is refused with "Rule exists". Null for control lines.
    /// </summary>
    internal string? Identity { get; set; }

    public override string ToString() => Canonical.Length > 0 ? Canonical : Text;
}
