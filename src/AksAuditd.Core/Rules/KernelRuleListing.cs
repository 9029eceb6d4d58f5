namespace AksAuditd.Core.Rules;

/// <summary>
/// The rules as <c>auditctl -l</c> prints them, one canonical line per rule: read from the kernel's side (the output of
/// auditctl -l on a node) or computed for a rules file (what the kernel would list after loading it). Both sides use
/// the same text, so drift between desired and loaded rules is a comparison of lines.
/// </summary>
public static class KernelRuleListing
{
    /// <summary>What auditctl -l prints when the kernel holds no rules.</summary>
    public const string NoRules = "No rules";

    /// <summary>
    /// The canonical lines of <c>auditctl -l</c> output: one per rule, in the kernel's order, without the
    /// "No rules" line. Lines are kept byte for byte (auditctl's own rendering quirks included), only the line ends go.
    /// </summary>
    public static IReadOnlyList<string> Parse(string auditctlListOutput)
    {
        ArgumentNullException.ThrowIfNull(auditctlListOutput);
        var lines = new List<string>();
        foreach (var raw in auditctlListOutput.Split('\n'))
        {
            var line = raw.EndsWith('\r') ? raw[..^1] : raw;
            if (line.Length == 0 || line == NoRules)
            {
                continue;
            }
            lines.Add(line);
        }
        return lines;
    }

    /// <summary>What auditctl -l would print after auditctl -R loads <paramref name="file"/> into an empty kernel.</summary>
    public static IReadOnlyList<string> Expected(RuleFile file) => KernelRuleSet.Load(file).Listing;

    /// <summary>The listing lines the kernel holds but the file would not load (extra), and the reverse (missing).</summary>
    public static (IReadOnlyList<string> Extra, IReadOnlyList<string> Missing) Compare(IReadOnlyList<string> kernel, IReadOnlyList<string> expected)
    {
        var remaining = expected.GroupBy(l => l, StringComparer.Ordinal).ToDictionary(g => g.Key, g => g.Count(), StringComparer.Ordinal);
        var extra = new List<string>();
        foreach (var line in kernel)
        {
            if (remaining.TryGetValue(line, out var count) && count > 0)
            {
                remaining[line] = count - 1;
            }
            else
            {
                extra.Add(line);
            }
        }
        var missing = new List<string>();
        var seen = kernel.GroupBy(l => l, StringComparer.Ordinal).ToDictionary(g => g.Key, g => g.Count(), StringComparer.Ordinal);
        foreach (var line in expected)
        {
            if (seen.TryGetValue(line, out var count) && count > 0)
            {
                seen[line] = count - 1;
            }
            else
            {
                missing.Add(line);
            }
        }
        return (extra, missing);
    }
}
