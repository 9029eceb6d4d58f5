namespace AksAuditd.Core.Host;

/// <summary>
/// INTERIM until the rules engine (AksAuditd.Core.Rules: RuleMerger, AuditRule.Canonical, KernelRuleListing)
/// is on main: merges rules.d the way augenrules does (*.rules in <c>ls -v</c> order, comments, blank and control
/// lines dropped) and compares rule text with collapsed whitespace. Exact for watches written as auditctl lists
/// them (<c>-w PATH -p PERMS -k KEY</c>); syscall rules need the engine's canonical form.
/// </summary>
public sealed class InterimRuleCanon : IKernelRuleCanon
{
    public IReadOnlyList<DesiredRule> DesiredRules(string rulesDirectory)
    {
        var rules = new List<DesiredRule>();
        if (!Directory.Exists(rulesDirectory))
        {
            return rules;
        }

        foreach (var path in Directory.EnumerateFiles(rulesDirectory).Where(p => p.EndsWith(".rules", StringComparison.Ordinal)).Order(VersionOrder.Instance))
        {
            var lines = File.ReadAllLines(path);
            for (var i = 0; i < lines.Length; i++)
            {
                var text = Collapse(lines[i]);
                if (text.StartsWith("-a ", StringComparison.Ordinal) || text.StartsWith("-A ", StringComparison.Ordinal) || text.StartsWith("-w ", StringComparison.Ordinal))
                {
                    rules.Add(new DesiredRule(text, path, i + 1));
                }
            }
        }

        return rules;
    }

    public IReadOnlyList<string> LoadedRules(string listing) =>
        listing.Split('\n').Select(Collapse).Where(l => l.Length > 0 && l != "No rules").ToList();

    private static string Collapse(string line) => string.Join(' ', line.Split(new[] { ' ', '\t' }, StringSplitOptions.RemoveEmptyEntries));

    /// <summary>GNU ls -v: runs of digits compare as numbers.</summary>
    private sealed class VersionOrder : IComparer<string>
    {
        public static readonly VersionOrder Instance = new();

        public int Compare(string? x, string? y)
        {
            x ??= string.Empty;
            y ??= string.Empty;
            int i = 0, j = 0;
            while (i < x.Length && j < y.Length)
            {
                if (char.IsAsciiDigit(x[i]) && char.IsAsciiDigit(y[j]))
                {
                    var si = i;
                    var sj = j;
                    while (i < x.Length && char.IsAsciiDigit(x[i])) i++;
                    while (j < y.Length && char.IsAsciiDigit(y[j])) j++;
                    var a = x[si..i].TrimStart('0');
                    var b = y[sj..j].TrimStart('0');
                    var c = a.Length != b.Length ? a.Length.CompareTo(b.Length) : string.CompareOrdinal(a, b);
                    if (c != 0) return c;
                }
                else
                {
                    if (x[i] != y[j]) return x[i].CompareTo(y[j]);
                    i++;
                    j++;
                }
            }

            return (x.Length - i).CompareTo(y.Length - j);
        }
    }
}
