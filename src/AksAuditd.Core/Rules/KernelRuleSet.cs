namespace AksAuditd.Core.Rules;

/// <summary>
/// Replays a rules file against an empty kernel rule list, line by line, as auditctl -R does: -D clears, -a appends,
/// -A prepends, -d/-W delete, a second identical rule is refused ("Rule exists"), -e 2 locks everything after it,
/// and the load stops at the first error unless -c or -i came earlier. The result is the kernel's listing after the
/// load, in the kernel's order (by filter list, then rule order), and the findings only the whole file shows.
/// </summary>
public sealed class KernelRuleSet
{
    private readonly List<(AuditRule Rule, int Line)> _rules = [];

    /// <summary>The rules the kernel holds, in the order auditctl -l lists them.</summary>
    public IReadOnlyList<AuditRule> Rules =>
        _rules.Select((r, index) => (r.Rule, index))
            .OrderBy(r => ListOrder(r.Rule.List))
            .ThenBy(r => r.index)
            .Select(r => r.Rule)
            .ToList();

    /// <summary>What auditctl -l prints after the load, one line per rule (empty when no rules are loaded).</summary>
    public IReadOnlyList<string> Listing => Rules.Select(r => r.Canonical).ToList();

    /// <summary>True once -e 2 is loaded: nothing after it changes the kernel.</summary>
    public bool IsLocked { get; private set; }

    public static KernelRuleSet Load(RuleFile file, ICollection<RuleDiagnostic>? findings = null)
    {
        var set = new KernelRuleSet();
        set.Apply(file, findings);
        return set;
    }

    private void Apply(RuleFile file, ICollection<RuleDiagnostic>? findings)
    {
        var ignoreErrors = false;
        var stopped = false;
        var ruleLines = file.Lines.Where(l => l.Kind == RuleLineKind.Rule).ToList();
        for (var index = 0; index < ruleLines.Count; index++)
        {
            var line = ruleLines[index];
            var rule = line.Rule!;
            if (IsLocked)
            {
                findings?.Add(Finding(file, line, DiagnosticSeverity.Error, RuleDiagnosticCodes.AfterLock,
                    "comes after -e 2, which locks the audit configuration: the kernel refuses every change until the node reboots",
                    "Error sending add rule data request (Operation not permitted)"));
                continue;
            }
            if (stopped)
            {
                continue;
            }

            var failed = !rule.IsAccepted;
            if (!failed)
            {
                failed = !Apply(file, line, rule, findings);
            }
            if (rule.ControlOption is "-c" or "-i" && rule.IsAccepted)
            {
                ignoreErrors = true;
            }
            if (failed && !ignoreErrors)
            {
                stopped = true;
                var remaining = ruleLines.Count - index - 1;
                if (remaining > 0)
                {
                    findings?.Add(Finding(file, line, DiagnosticSeverity.Information, RuleDiagnosticCodes.LoadStopsHere,
                        $"auditctl -R stops at this error: the {remaining} rule line{(remaining == 1 ? " that follows is" : "s that follow are")} not loaded " +
                        "(a -c line at the top makes auditctl continue past errors)", null));
                }
            }
        }
    }

    /// <returns>false when the kernel refuses the line in the state the file has built so far.</returns>
    private bool Apply(RuleFile file, ParsedRuleLine line, AuditRule rule, ICollection<RuleDiagnostic>? findings)
    {
        if (rule.Kind == AuditRuleKind.Control)
        {
            if (rule.ControlOption == "-D")
            {
                if (rule.ControlValue is null)
                {
                    _rules.Clear();
                }
                else
                {
                    // auditctl -D -k deletes the rules whose key text contains the given key.
                    _rules.RemoveAll(r => string.Join('\u0001', r.Rule.Keys).Contains(rule.ControlValue, StringComparison.Ordinal));
                }
            }
            if (rule.Options.Any(o => o.Name == "-e" && o.Value == "2"))
            {
                IsLocked = true;
            }
            return true;
        }
        if (rule.Identity is null)
        {
            // Accepted without a kernel request (the deprecated 'possible' action): nothing changes.
            return true;
        }

        var existing = _rules.FindIndex(r => r.Rule.Identity == rule.Identity);
        if (rule.IsDelete)
        {
            if (existing < 0)
            {
                findings?.Add(Finding(file, line, DiagnosticSeverity.Error, RuleDiagnosticCodes.DeleteOfUnknownRule,
                    "deletes a rule that is not loaded at this point of the file (no identical rule was added before it, or -D removed it); " +
                    "the kernel refuses the delete", "Error sending delete rule data request (No such file or directory)"));
                return false;
            }
            _rules.RemoveAt(existing);
            return true;
        }
        if (existing >= 0)
        {
            findings?.Add(Finding(file, line, DiagnosticSeverity.Error, RuleDiagnosticCodes.DuplicateRule,
                $"the same rule as line {_rules[existing].Line}; the kernel refuses the second copy",
                "Error sending add rule data request (Rule exists)"));
            return false;
        }
        if (rule.Prepend)
        {
            _rules.Insert(0, (rule, line.LineNumber));
        }
        else
        {
            _rules.Add((rule, line.LineNumber));
        }
        return true;
    }

    /// <summary>The kernel lists its filter lists in number order: user, task, exit, exclude, filesystem.</summary>
    private static int ListOrder(string? list) => list switch
    {
        "user" => 0,
        "task" => 1,
        "exit" => 4,
        "exclude" => 5,
        "filesystem" => 6,
        _ => 9,
    };

    private static RuleDiagnostic Finding(RuleFile file, ParsedRuleLine line, DiagnosticSeverity severity, string code, string message, string? auditctl) =>
        new(file.Path, line.LineNumber, line.Tokens.Count > 0 ? line.Tokens[0].Column : 1, severity, code,
            auditctl is null ? message : $"{message} [auditctl: {auditctl}]", line.Text);
}
