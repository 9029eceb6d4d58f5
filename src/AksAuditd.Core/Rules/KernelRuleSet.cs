using AksAuditd.Core.Audit;
using AksAuditd.Core.Rules.Auditctl;

namespace AksAuditd.Core.Rules;

/// <summary>
/// Replays a rules file against an empty kernel rule list, line by line, as auditctl -R does: -D clears, -a appends,
/// -A prepends, -d/-W delete, a second identical rule is refused ("Rule exists"), -e 2 locks everything after it,
/// and the load stops at the first error unless -c or -i came earlier. The result is the kernel's listing after the
/// load, in the kernel's order (by filter list, then rule order), and the findings only the whole file shows.
/// </summary>
public sealed class KernelRuleSet
{
    // In load order (-A inserts at the front); the index finds a rule by the kernel's identity in O(1).
    private readonly LinkedList<(AuditRule Rule, int Line)> _rules = new();
    private readonly Dictionary<string, LinkedListNode<(AuditRule Rule, int Line)>> _byIdentity = new(StringComparer.Ordinal);

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
        foreach (var line in file.Lines)
        {
            set.Apply(file.Path, line, findings);
        }
        set.Complete(findings);
        return set;
    }

    private bool _ignoreErrors;
    private ParsedRuleLine? _stoppedAt;
    private string? _stoppedPath;
    private int _notLoaded;

    /// <summary>Replays the next line of a file (lines can be fed one by one, so a file need not be kept whole).</summary>
    internal void Apply(string? path, ParsedRuleLine line, ICollection<RuleDiagnostic>? findings)
    {
        if (line.Kind != RuleLineKind.Rule)
        {
            return;
        }
        var rule = line.Rule!;
        if (IsLocked)
        {
            findings?.Add(Finding(path, line, DiagnosticSeverity.Error, RuleDiagnosticCodes.AfterLock,
                "comes after -e 2, which locks the audit configuration: the kernel refuses every change until the node reboots",
                "Error sending add rule data request (Operation not permitted)"));
            return;
        }
        if (_stoppedAt is not null)
        {
            _notLoaded++;
            return;
        }

        var failed = !rule.IsAccepted || !Apply(path, line, rule, findings);
        if (rule.ControlOption is "-c" or "-i" && rule.IsAccepted)
        {
            _ignoreErrors = true;
        }
        if (failed && !_ignoreErrors)
        {
            _stoppedAt = line;
            _stoppedPath = path;
        }
    }

    /// <summary>Ends the file: says where a load stopped and how many rule lines that cost.</summary>
    internal void Complete(ICollection<RuleDiagnostic>? findings)
    {
        if (_stoppedAt is not null && _notLoaded > 0)
        {
            findings?.Add(Finding(_stoppedPath, _stoppedAt, DiagnosticSeverity.Information, RuleDiagnosticCodes.LoadStopsHere,
                $"auditctl -R stops at this error: the {_notLoaded} rule line{(_notLoaded == 1 ? " that follows is" : "s that follow are")} not loaded " +
                "(a -c line at the top makes auditctl continue past errors)", null));
        }
    }

    /// <returns>false when the kernel refuses the line in the state the file has built so far.</returns>
    private bool Apply(string? path, ParsedRuleLine line, AuditRule rule, ICollection<RuleDiagnostic>? findings)
    {
        if (rule.Kind == AuditRuleKind.Control)
        {
            if (rule.ControlOption == "-D")
            {
                if (rule.ControlValue is null)
                {
                    _rules.Clear();
                    _byIdentity.Clear();
                }
                else
                {
                    // auditctl -D -k deletes the rules whose key text contains the given key.
                    for (var node = _rules.First; node is not null;)
                    {
                        var next = node.Next;
                        if (string.Join('\u0001', node.Value.Rule.Keys).Contains(rule.ControlValue, StringComparison.Ordinal))
                        {
                            _byIdentity.Remove(node.Value.Rule.Identity!);
                            _rules.Remove(node);
                        }
                        node = next;
                    }
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

        _byIdentity.TryGetValue(rule.Identity, out var existing);
        if (rule.IsDelete)
        {
            if (existing is null)
            {
                findings?.Add(Finding(path, line, DiagnosticSeverity.Error, RuleDiagnosticCodes.DeleteOfUnknownRule,
                    "deletes a rule that is not loaded at this point of the file (no identical rule was added before it, or -D removed it); " +
                    "the kernel refuses the delete", "Error sending delete rule data request (No such file or directory)"));
                return false;
            }
            _byIdentity.Remove(rule.Identity);
            _rules.Remove(existing);
            return true;
        }
        if (existing is not null)
        {
            findings?.Add(Finding(path, line, DiagnosticSeverity.Error, RuleDiagnosticCodes.DuplicateRule,
                $"the same rule as line {existing.Value.Line}; the kernel refuses the second copy",
                "Error sending add rule data request (Rule exists)"));
            return false;
        }
        _byIdentity[rule.Identity] = rule.Prepend
            ? _rules.AddFirst((rule, line.LineNumber))
            : _rules.AddLast((rule, line.LineNumber));
        return true;
    }

    /// <summary>The kernel lists its filter lists in number order: user, task, exit, exclude, filesystem.</summary>
    private static int ListOrder(string? list) => list is not null && AuditLookups.ListNumber(list) is >= 0 and var number ? number : int.MaxValue;

    private static RuleDiagnostic Finding(string? path, ParsedRuleLine line, DiagnosticSeverity severity, string code, string message, string? auditctl) =>
        new(path, line.LineNumber, line.Tokens.Count > 0 ? line.Tokens[0].Column : 1, severity, code,
            LineFinding.WithAuditctl(message, auditctl), line.Text, auditctl);
}
