using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace AksAuditd.Core.Rules;

/// <summary>
/// One <c>data</c> entry of a ConfigMap whose name ends in ".rules": a rules file as the sync would write it to rules.d.
/// <see cref="Path"/> names it for diagnostics as "file.yaml[entry.rules]".
/// </summary>
public sealed record ConfigMapRuleEntry(string File, string ConfigMapName, string Name, string Text, int ValueLine, bool IsLiteralBlock)
{
    public string Path => $"{File}[{Name}]";

    /// <summary>
    /// The line of the YAML file that holds line <paramref name="entryLine"/> of the entry, when the entry is a literal
    /// block (<c>|</c>), whose lines are the file's lines; null for other scalar styles.
    /// </summary>
    public int? YamlLine(int entryLine) => IsLiteralBlock ? ValueLine + entryLine : null;
}

/// <summary>Reads the rules entries of the ConfigMaps in a Kubernetes manifest (several documents allowed).</summary>
public static class ConfigMapRuleSource
{
    public static bool IsManifestPath(string path) =>
        path.EndsWith(".yaml", StringComparison.OrdinalIgnoreCase) || path.EndsWith(".yml", StringComparison.OrdinalIgnoreCase);

    /// <summary>The .rules entries of every ConfigMap in the file, and a diagnostic for a file YAML cannot read.</summary>
    public static (IReadOnlyList<ConfigMapRuleEntry> Entries, IReadOnlyList<RuleDiagnostic> Problems) Read(string yamlPath) =>
        Parse(File.ReadAllText(yamlPath), yamlPath);

    public static (IReadOnlyList<ConfigMapRuleEntry> Entries, IReadOnlyList<RuleDiagnostic> Problems) Parse(string yaml, string path)
    {
        var entries = new List<ConfigMapRuleEntry>();
        var problems = new List<RuleDiagnostic>();
        var stream = new YamlStream();
        try
        {
            stream.Load(new StringReader(yaml));
        }
        catch (YamlException e)
        {
            problems.Add(new RuleDiagnostic(path, (int)e.Start.Line, (int)e.Start.Column, DiagnosticSeverity.Error, RuleDiagnosticCodes.YamlEntry,
                $"not a valid YAML file: {e.InnerException?.Message ?? e.Message}", null));
            return (entries, problems);
        }

        var configMaps = 0;
        foreach (var document in stream.Documents)
        {
            if (document.RootNode is not YamlMappingNode root || Scalar(root, "kind") != "ConfigMap")
            {
                continue;
            }
            configMaps++;
            var name = root.Children.TryGetValue(new YamlScalarNode("metadata"), out var metadata) && metadata is YamlMappingNode meta
                ? Scalar(meta, "name") ?? string.Empty
                : string.Empty;
            if (!root.Children.TryGetValue(new YamlScalarNode("data"), out var data) || data is not YamlMappingNode dataMap)
            {
                continue;
            }
            foreach (var (key, value) in dataMap.Children)
            {
                if (key is not YamlScalarNode { Value: { } entryName } || !entryName.EndsWith(".rules", StringComparison.Ordinal))
                {
                    continue;
                }
                if (value is not YamlScalarNode scalar)
                {
                    problems.Add(new RuleDiagnostic($"{path}[{entryName}]", (int)value.Start.Line, (int)value.Start.Column, DiagnosticSeverity.Error,
                        RuleDiagnosticCodes.YamlEntry, $"the data entry {entryName} of ConfigMap {name} is not a string", null));
                    continue;
                }
                entries.Add(new ConfigMapRuleEntry(path, name, entryName, scalar.Value ?? string.Empty, (int)scalar.Start.Line,
                    scalar.Style == ScalarStyle.Literal));
            }
        }
        if (entries.Count == 0 && problems.Count == 0)
        {
            problems.Add(new RuleDiagnostic(path, 1, 1, DiagnosticSeverity.Warning, RuleDiagnosticCodes.YamlEntry,
                configMaps == 0
                    ? "the file holds no ConfigMap, so there are no rules to check"
                    : "no data entry of the ConfigMap ends in .rules, so there are no rules to check", null));
        }
        return (entries, problems);
    }

    private static string? Scalar(YamlMappingNode map, string key) =>
        map.Children.TryGetValue(new YamlScalarNode(key), out var node) && node is YamlScalarNode scalar ? scalar.Value : null;
}
