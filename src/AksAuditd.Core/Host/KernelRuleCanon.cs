using System.Runtime.InteropServices;
using System.Text;
using AksAuditd.Core.Rules;

namespace AksAuditd.Core.Host;

/// <summary>
/// The rules engine as the node side uses it. Desired rules: rules.d merged as augenrules does
/// (<see cref="RuleMerger"/>), replayed as <c>auditctl -R</c> would load it (<see cref="KernelRuleSet"/>: -D, -d,
/// duplicates, -e 2) and listed in the engine's canonical <c>auditctl -l</c> form, parsed for the node's arch and
/// against its users, groups and paths. Loaded rules: <c>auditctl -l</c> as <see cref="KernelRuleListing"/> reads it.
/// </summary>
public sealed class KernelRuleCanon : IKernelRuleCanon
{
    private readonly RuleParser _parser;
    private readonly RuleMerger _merger;

    public KernelRuleCanon(RuleParserOptions parserOptions, RuleMergerOptions mergerOptions)
    {
        _parser = new RuleParser(parserOptions);
        _merger = new RuleMerger(mergerOptions);
    }

    /// <summary>The canon for the node at <paramref name="hostRoot"/>: its arch (this process runs on it), its accounts and paths, its awk.</summary>
    public static KernelRuleCanon ForNode(string hostRoot) => new(
        new RuleParserOptions { Arch = RuleParserOptions.CurrentNodeArch, HostRoot = hostRoot },
        new RuleMergerOptions { AwkMatchesWhitespaceClass = !NodeAwkIsMawk(hostRoot) });

    public IReadOnlyList<DesiredRule> DesiredRules(string rulesDirectory)
    {
        if (!Directory.Exists(rulesDirectory))
        {
            return Array.Empty<DesiredRule>();
        }

        // auditctl -R stops at the first line the kernel refuses. Desired is every rule rules.d asks for, so the
        // replay goes on past errors (-c), and what it refused is desired too, by its text: the kernel never lists it.
        var merged = _parser.Parse("-c\n" + _merger.Merge(rulesDirectory));
        var loaded = KernelRuleSet.Load(merged).Rules;
        var lastDeleteAll = merged.Rules.LastOrDefault(r => r.Kind == AuditRuleKind.Control && r.ControlOption == "-D" && r.ControlValue is null)?.LineNumber ?? 0;
        var refused = merged.Rules.Where(r => r.Kind != AuditRuleKind.Control && !r.IsAccepted && !r.IsDelete && r.LineNumber > lastDeleteAll);

        var origins = Origins(rulesDirectory, merged);
        return loaded.Concat(refused)
            .Select(r =>
            {
                var origin = origins.GetValueOrDefault(r.LineNumber);
                return new DesiredRule(r.Canonical.Length > 0 ? r.Canonical : r.Text.Trim(), origin.File, origin.Line);
            })
            .ToList();
    }

    public IReadOnlyList<string> LoadedRules(string listing) => KernelRuleListing.Parse(listing);

    /// <summary>
    /// The rules.d file and line of each rule line of the merged file. augenrules keeps rule lines verbatim and in
    /// file order, so each is the next equal line of the files it read. (A file without a final newline glues its
    /// last line to the next file's first, as cat does; such a line has no origin.)
    /// </summary>
    private Dictionary<int, (string? File, int Line)> Origins(string rulesDirectory, RuleFile merged)
    {
        var sourceLines = new List<(string File, int Line, string Text)>();
        foreach (var path in _merger.SourceFiles(rulesDirectory).Where(File.Exists))
        {
            // Bytes decoded the way the merge decodes them, so equal lines compare equal (BOM and CR included).
            var lines = Encoding.UTF8.GetString(File.ReadAllBytes(path)).Split('\n');
            for (var i = 0; i < lines.Length; i++)
            {
                sourceLines.Add((path, i + 1, lines[i]));
            }
        }

        var origins = new Dictionary<int, (string?, int)>();
        var next = 0;
        foreach (var line in merged.Lines.Where(l => l.Rule is { Kind: not AuditRuleKind.Control }))
        {
            var found = sourceLines.FindIndex(next, s => s.Text == line.Text);
            if (found >= 0)
            {
                origins[line.LineNumber] = (sourceLines[found].File, sourceLines[found].Line);
                next = found + 1;
            }
        }

        return origins;
    }

    /// <summary>
    /// augenrules filters with the node's awk. Debian and Ubuntu default to mawk, which reads \s as the letter s
    /// (see <see cref="RuleMergerOptions.AwkMatchesWhitespaceClass"/>); follow /usr/bin/awk's links inside the host root.
    /// </summary>
    private static bool NodeAwkIsMawk(string hostRoot)
    {
        var path = "/usr/bin/awk";
        for (var hop = 0; hop < 16; hop++)
        {
            var target = new FileInfo(Configuration.HostPath.Join(hostRoot, path)).LinkTarget;
            if (target is null)
            {
                break;
            }

            path = target.StartsWith('/') ? target : Path.GetFullPath(Path.Combine(Path.GetDirectoryName(path)!, target));
        }

        return Path.GetFileName(path).Contains("mawk", StringComparison.Ordinal);
    }
}
