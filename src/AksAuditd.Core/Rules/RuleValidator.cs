namespace AksAuditd.Core.Rules;

/// <summary>
/// Checks a rules file the way the node would load it: every line as auditctl 3.0.9 and the kernel judge it, then the
/// file as a whole (duplicate rules, deletes of rules that are not loaded, anything after -e 2, where a load stops).
/// An Error means the node would refuse that line; Warnings and Information explain risky or surprising lines.
/// </summary>
public sealed class RuleValidator : IRuleFileValidator
{
    private readonly RuleParser _parser;

    public RuleValidator(RuleParserOptions? options = null)
    {
        _parser = new RuleParser(options);
    }

    public RuleParserOptions Options => _parser.Options;

    public RuleParser Parser => _parser;

    public IReadOnlyList<RuleDiagnostic> Validate(string path, string text) => Validate(_parser.Parse(text, path));

    public IReadOnlyList<RuleDiagnostic> ValidateFile(string path) => Validate(_parser.ParseFile(path));

    /// <summary>
    /// A rules file, or a Kubernetes manifest (.yaml/.yml) whose ConfigMaps hold .rules entries: each entry is checked
    /// as the rules file the sync would write, reported as "file.yaml[entry.rules]" with the line inside the entry
    /// (and the manifest's own line in the message, for literal blocks).
    /// </summary>
    public IReadOnlyList<RuleDiagnostic> ValidatePath(string path)
    {
        if (!ConfigMapRuleSource.IsManifestPath(path))
        {
            return ValidateFile(path);
        }
        var (entries, problems) = ConfigMapRuleSource.Read(path);
        var diagnostics = new List<RuleDiagnostic>(problems);
        foreach (var entry in entries)
        {
            foreach (var d in Validate(_parser.Parse(entry.Text, entry.Path)))
            {
                diagnostics.Add(entry.YamlLine(d.LineNumber) is { } yamlLine
                    ? d with { Message = $"{d.Message} ({Path.GetFileName(entry.File)} line {yamlLine})" }
                    : d);
            }
        }
        return diagnostics;
    }

    public IReadOnlyList<RuleDiagnostic> ValidateLines(IEnumerable<string> lines, string? path = null) =>
        Validate(_parser.ParseLines(lines, path));

    public IReadOnlyList<RuleDiagnostic> Validate(RuleFile file)
    {
        var diagnostics = new List<RuleDiagnostic>();
        foreach (var line in file.Lines)
        {
            diagnostics.AddRange(line.Diagnostics);
        }
        KernelRuleSet.Load(file, diagnostics);
        return diagnostics
            .OrderBy(d => d.LineNumber)
            .ThenBy(d => d.Column)
            .ThenByDescending(d => d.Severity)
            .ToList();
    }
}
