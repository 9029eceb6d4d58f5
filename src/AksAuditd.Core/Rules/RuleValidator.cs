namespace AksAuditd.Core.Rules;

/// <summary>
/// Checks a rules file the way the node would load it: every line as auditctl 3.0.9 and the kernel judge it, then the
/// file as a whole (duplicate rules, deletes of rules that are not loaded, anything after -e 2, where a load stops).
/// An Error means the node would refuse that line; Warnings and Information explain risky or surprising lines.
/// </summary>
public sealed class RuleValidator : IRuleFileValidator
{
    private readonly RuleParser _parser;

    /// <summary>For an x86_64 node, without node facts (user names and watch directories are not checked).</summary>
    public RuleValidator()
        : this(null)
    {
    }

    public RuleValidator(RuleParserOptions? options)
    {
        _parser = new RuleParser(options);
    }

    public RuleParserOptions Options => _parser.Options;

    public RuleParser Parser => _parser;

    /// <summary>
    /// Checks the text of a rules file line by line, without keeping the parsed lines: only the rules the kernel
    /// would hold are remembered (for duplicates and deletes), so large files cost little memory.
    /// </summary>
    public IReadOnlyList<RuleDiagnostic> Validate(string path, string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var diagnostics = new List<RuleDiagnostic>();
        var set = new KernelRuleSet();
        foreach (var line in _parser.ReadLines(text, path))
        {
            diagnostics.AddRange(line.Diagnostics);
            set.Apply(path, line, diagnostics);
        }
        set.Complete(diagnostics);
        return Sort(diagnostics);
    }

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
        return Sort(diagnostics);
    }

    private static IReadOnlyList<RuleDiagnostic> Sort(List<RuleDiagnostic> diagnostics) =>
        diagnostics
            .OrderBy(d => d.LineNumber)
            .ThenByDescending(d => d.Severity)
            .ThenBy(d => d.Column)
            .ToList();
}
