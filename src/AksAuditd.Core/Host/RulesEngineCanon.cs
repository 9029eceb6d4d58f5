using AksAuditd.Core.Rules;

namespace AksAuditd.Core.Host;

/// <summary>
/// The rules engine as the node side's canon: rules.d merged exactly as augenrules does (<see cref="RuleMerger"/>),
/// replayed as auditctl -R would load it (<see cref="KernelRuleSet"/>), each rule in the text <c>auditctl -l</c>
/// prints for it, so a loaded rule and its source compare equal ("-F auid!=unset -k x" is listed as
/// "-S all ... -F auid!=-1 -F key=x"). Each desired rule keeps the rules.d file and line it came from.
/// </summary>
public sealed class RulesEngineCanon : IKernelRuleCanon
{
    private readonly RuleParser _parser;

    /// <param name="hostRoot">The node's / as this process reaches it: user names resolve from its passwd.</param>
    public RulesEngineCanon(string? hostRoot)
    {
        _parser = new RuleParser(new RuleParserOptions
        {
            HostRoot = hostRoot is not null && Directory.Exists(hostRoot) ? hostRoot : null,
            Arch = System.Runtime.InteropServices.RuntimeInformation.OSArchitecture == System.Runtime.InteropServices.Architecture.Arm64 ? "aarch64" : "x86_64",
        });
    }

    public IReadOnlyList<DesiredRule> DesiredRules(string rulesDirectory)
    {
        if (!Directory.Exists(rulesDirectory))
        {
            return Array.Empty<DesiredRule>();
        }

        var merger = new RuleMerger();
        var loaded = KernelRuleSet.Load(_parser.Parse(merger.Merge(rulesDirectory)));

        // The merge loses which file a line came from; each file's own rules, in order, give it back.
        var origins = new Dictionary<string, Queue<(string File, int Line)>>(StringComparer.Ordinal);
        foreach (var file in merger.SourceFiles(rulesDirectory).Where(File.Exists))
        {
            foreach (var line in _parser.ParseFile(file).Lines)
            {
                if (line.Rule is { Canonical.Length: > 0 } rule)
                {
                    if (!origins.TryGetValue(rule.Canonical, out var queue))
                    {
                        origins[rule.Canonical] = queue = new Queue<(string, int)>();
                    }

                    queue.Enqueue((file, line.LineNumber));
                }
            }
        }

        return loaded.Listing
            .Select(rule => origins.TryGetValue(rule, out var queue) && queue.TryDequeue(out var origin)
                ? new DesiredRule(rule, origin.File, origin.Line)
                : new DesiredRule(rule, null, 0))
            .ToList();
    }

    public IReadOnlyList<string> LoadedRules(string listing) => KernelRuleListing.Parse(listing);
}
