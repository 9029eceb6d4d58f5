using AksAuditd.Core.Rules;

namespace AksAuditd.Core.Sync;

/// <summary>
/// Two rules settings cannot be taken back once a ConfigMap edit has applied them to every node at once: <c>-e 2</c>
/// makes the audit configuration immutable until each node reboots (no later sync, rollback or fix can load), and
/// <c>-f 2</c> panics the kernel whenever audit records are lost. A rules source containing either is refused unless
/// the operator consented (allowImmutable, allowPanic); an allowed <c>-e 2</c> must be the last rule of the source in
/// the order augenrules merges the files, so that nothing meant to load is left behind the lock.
/// </summary>
public sealed class IrreversibleSettingsConsent
{
    private readonly RuleParser _parser = new();

    public bool AllowImmutable { get; init; }

    public bool AllowPanic { get; init; }

    /// <summary>Errors naming file and line for each refused setting, for source files given as (display path, text).</summary>
    public IReadOnlyList<RuleDiagnostic> Check(IEnumerable<(string Name, string Path, string Text)> files)
    {
        var diagnostics = new List<RuleDiagnostic>();
        (string Path, ParsedRuleLine Line)? immutable = null;
        (string Path, ParsedRuleLine Line)? afterImmutable = null;
        var ordered = files.Where(f => f.Name.EndsWith(".rules", StringComparison.Ordinal)).ToList();
        ordered.Sort((a, b) => RuleMerger.CompareVersions(a.Name, b.Name));
        foreach (var (_, path, text) in ordered)
        {
            foreach (var line in _parser.ReadLines(text, path))
            {
                if (line.Rule is not { } rule)
                {
                    continue;
                }

                if (immutable is not null)
                {
                    afterImmutable ??= (path, line);
                }

                if (rule.Options.Any(o => o.Name == "-e" && o.Value == "2"))
                {
                    if (!AllowImmutable)
                    {
                        diagnostics.Add(Error(path, line, SyncDiagnosticCodes.ImmutableNotAllowed,
                            "-e 2 makes the audit rules immutable on every node until it reboots: no later sync, fix or rollback can " +
                            "load. Set allowImmutable: true (AA_ALLOW_IMMUTABLE=true) to consent, or remove the line."));
                    }

                    immutable = (path, line);
                    afterImmutable = null;
                }

                if (rule.Options.Any(o => o.Name == "-f" && o.Value == "2") && !AllowPanic)
                {
                    diagnostics.Add(Error(path, line, SyncDiagnosticCodes.PanicNotAllowed,
                        "-f 2 makes the kernel panic (the node crashes) whenever audit records are lost, such as under a burst of " +
                        "events. Set allowPanic: true (AA_ALLOW_PANIC=true) to consent, or use -f 1."));
                }
            }
        }

        if (AllowImmutable && immutable is { } locked && afterImmutable is { } after)
        {
            diagnostics.Add(Error(locked.Path, locked.Line, SyncDiagnosticCodes.ImmutableNotLast,
                $"-e 2 must be the last rule of the rules source (in the order augenrules merges the files), but " +
                $"{Path.GetFileName(after.Path)} line {after.Line.LineNumber} ('{after.Line.Text.Trim()}') comes after it."));
        }

        return diagnostics;
    }

    private static RuleDiagnostic Error(string path, ParsedRuleLine line, string code, string message) =>
        new(path, line.LineNumber, 1, DiagnosticSeverity.Error, code, message, line.Text);
}
