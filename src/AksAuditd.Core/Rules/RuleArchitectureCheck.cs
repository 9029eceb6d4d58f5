namespace AksAuditd.Core.Rules;

/// <summary>Whether one rules file (or ConfigMap entry) loads on one node arch: no Error among its findings.</summary>
public sealed record RuleArchitectureSummary(string Path, string Arch, int Errors, int Warnings)
{
    public bool Loads => Errors == 0;
}

/// <summary>What a check of some rules for several arches found: every finding with its arch, and a summary per file and arch.</summary>
public sealed record RuleArchitectureResult(
    IReadOnlyList<(string Arch, RuleDiagnostic Diagnostic)> Diagnostics,
    IReadOnlyList<RuleArchitectureSummary> Summaries);

/// <summary>
/// Checks rules files, folders' files or ConfigMap manifests for several node arches at once: one cluster may have
/// x86_64 and arm64 node pools that load the same ConfigMap, and a line refused on one arch stops that node's load.
/// </summary>
public sealed class RuleArchitectureCheck(RuleParserOptions options)
{
    public RuleArchitectureResult Check(IEnumerable<string> paths, IReadOnlyList<string> arches)
    {
        var diagnostics = new List<(string, RuleDiagnostic)>();
        var summaries = new List<RuleArchitectureSummary>();
        var files = paths.ToList();
        foreach (var arch in arches)
        {
            var validator = new RuleValidator(options with { Arch = arch });
            foreach (var path in files)
            {
                var found = validator.ValidatePath(path);
                diagnostics.AddRange(found.Select(d => (arch, d)));
                foreach (var file in FilesIn(path))
                {
                    summaries.Add(new RuleArchitectureSummary(file, arch,
                        found.Count(d => d.Path == file && d.Severity == DiagnosticSeverity.Error),
                        found.Count(d => d.Path == file && d.Severity == DiagnosticSeverity.Warning)));
                }
            }
        }

        // File by file, each arch beside the other.
        return new RuleArchitectureResult(diagnostics,
            summaries.OrderBy(s => files.FindIndex(f => s.Path == f || s.Path.StartsWith(f + "[", StringComparison.Ordinal)))
                .ThenBy(s => s.Path, StringComparer.Ordinal).ToList());
    }

    /// <summary>The rules files a path stands for: itself, or each .rules entry of a manifest's ConfigMaps.</summary>
    private static IEnumerable<string> FilesIn(string path) =>
        ConfigMapRuleSource.IsManifestPath(path) ? ConfigMapRuleSource.Read(path).Entries.Select(e => e.Path) : [path];
}
