using System.Text;
using AksAuditd.Core.Rules;

namespace AksAuditd.Core.Sync;

/// <summary>
/// Checks an audisp plugin file (plugins.d/*.conf) by reading it exactly as auditd 3.0.9 does
/// (<see cref="AuditdPluginFile"/>, agreement recorded from the real auditd): whatever makes auditd skip the plugin,
/// drop a line (too long, no final newline) or drop words is reported at its line. On top of auditd's own checks,
/// what auditd accepts but would not do what the file says is an error too: a CR or TAB inside a line (auditd keeps it
/// as part of the value), a relative path or one with <c>..</c>, a builtin that is not <c>builtin_af_unix</c>. Because
/// a plugin runs as root on every node, a path not on the <see cref="PluginAllowList"/> is refused.
/// </summary>
public sealed class PluginConfigValidator : IRuleFileValidator
{
    /// <summary>The longest line auditd reads whole, in bytes before the newline.</summary>
    public const int MaxLineBytes = AuditdPluginFile.MaxLineBytes;

    private readonly PluginAllowList _allowList;
    private readonly Func<string, string?>? _checkProgram;

    /// <param name="allowedPaths">Plugin programs a file may name in <c>path</c>; null or empty is the audit package's own programs, <c>*</c> any.</param>
    public PluginConfigValidator(IEnumerable<string>? allowedPaths = null)
        : this(PluginAllowList.From(allowedPaths))
    {
    }

    /// <param name="allowList">The programs a file may name.</param>
    /// <param name="checkProgram">auditd's check of an active plugin's program on the node (<see cref="AuditdPluginFile.ProgramCheckOnNode"/>); null when the node is not reachable.</param>
    public PluginConfigValidator(PluginAllowList allowList, Func<string, string?>? checkProgram = null)
    {
        _allowList = allowList;
        _checkProgram = checkProgram;
    }

    public IReadOnlyList<RuleDiagnostic> Validate(string path, string text)
    {
        var diagnostics = new List<RuleDiagnostic>();
        var name = Path.GetFileName(path);
        if (!AuditdPluginFile.IsReadByAuditd(name))
        {
            diagnostics.Add(new RuleDiagnostic(path, 0, 0, DiagnosticSeverity.Warning, SyncDiagnosticCodes.PluginIgnoredByAuditd,
                $"auditd skips plugin files whose names start with a dot or have more than one dot; {name} would never be loaded.", null));
            return diagnostics;
        }

        var bytes = Encoding.UTF8.GetBytes(text);
        var reading = AuditdPluginFile.Read(path, bytes, _checkProgram);
        var lines = text.Split('\n');
        string Line(int number) => number >= 1 && number <= lines.Length ? lines[number - 1] : string.Empty;

        // CR and TAB: auditd splits on spaces only, so either one stays inside a word.
        var separatorLines = new HashSet<int>();
        for (var i = 0; i < lines.Length; i++)
        {
            var line = lines[i];
            if (line.TrimStart(' ').StartsWith('#') || (!line.Contains('\r') && !line.Contains('\t')))
            {
                continue;
            }

            separatorLines.Add(i + 1);
            diagnostics.Add(Error(path, i + 1, SyncDiagnosticCodes.PluginSyntax, line.Contains('\r')
                ? "The line ends with a carriage return (Windows CRLF line endings): auditd reads the CR as part of the value " +
                  "(\"Option yes\\r not found\") and skips the plugin, or passes it to the program. Save the file with LF line endings."
                : "auditd separates words with spaces only: a TAB becomes part of the word. Replace it with a space.", line));
        }

        var refused = reading.Verdict == AuditdPluginVerdict.Refused;
        foreach (var message in reading.Messages)
        {
            var line = Line(message.LineNumber);
            switch (message.Kind)
            {
                case AuditdPluginMessageKind.Skipped:
                    break;
                case AuditdPluginMessageKind.LineDropped:
                    var last = !text.EndsWith('\n') && message.LineNumber == lines.Length;
                    diagnostics.Add(Error(path, message.LineNumber, SyncDiagnosticCodes.PluginSyntax, last
                        ? "The last line has no newline at its end: auditd drops it (\"too long\"). End the file with a newline."
                        : $"The line is {Encoding.UTF8.GetByteCount(line)} bytes; auditd reads at most {MaxLineBytes} bytes a line and drops longer ones.", line));
                    break;
                case AuditdPluginMessageKind.WrongNumberOfWords when !refused:
                    diagnostics.Add(new RuleDiagnostic(path, message.LineNumber, 1, DiagnosticSeverity.Warning, SyncDiagnosticCodes.PluginBadValue,
                        "auditd 3.0 passes at most 2 arguments to a plugin; the rest are dropped.", line));
                    break;
                case AuditdPluginMessageKind.OptionNotFound or AuditdPluginMessageKind.MissingEqualSign or AuditdPluginMessageKind.WrongNumberOfWords
                    when separatorLines.Contains(message.LineNumber):
                    break;
                default:
                    diagnostics.Add(Error(path, message.LineNumber, CodeFor(message.Kind),
                        $"auditd skips this plugin: {message.Text.Replace(path, name, StringComparison.Ordinal)}.", message.LineNumber == 0 ? null : line));
                    break;
            }
        }

        if (refused || reading.Path is not { } program)
        {
            return diagnostics;
        }

        var pathLine = Line(reading.PathLine);
        var builtin = program.StartsWith("builtin_", StringComparison.OrdinalIgnoreCase);
        var builtinType = string.Equals(reading.Type, "builtin", StringComparison.Ordinal);
        if (builtin && !program.Equals("builtin_af_unix", StringComparison.OrdinalIgnoreCase))
        {
            diagnostics.Add(Error(path, reading.PathLine, SyncDiagnosticCodes.PluginBadValue, $"auditd 3.0 has one builtin plugin, builtin_af_unix; {program} would never run.", pathLine));
            return diagnostics;
        }

        if (builtin != builtinType && reading.Active == "yes")
        {
            diagnostics.Add(Error(path, reading.PathLine, SyncDiagnosticCodes.PluginBadValue, builtin
                ? $"{program} needs type = builtin; with type = always auditd tries to run a program of that name."
                : $"type = builtin runs only builtin_af_unix; auditd would not run {program}. Use type = always.", pathLine));
        }

        if (builtin)
        {
            diagnostics.Add(new RuleDiagnostic(path, reading.PathLine, 1, DiagnosticSeverity.Warning, SyncDiagnosticCodes.PluginObsolete,
                $"{program} works on auditd 3.0 only; auditd 3.1 replaced it with the program /sbin/audisp-af_unix.", pathLine));
        }
        else if (!program.StartsWith('/') || program.Split('/').Contains(".."))
        {
            diagnostics.Add(Error(path, reading.PathLine, SyncDiagnosticCodes.PluginBadValue,
                $"'{program}' must be an absolute program path (such as /sbin/audisp-syslog), without '..'.", pathLine));
            return diagnostics;
        }

        if (!_allowList.Allows(program))
        {
            diagnostics.Add(Error(path, reading.PathLine, SyncDiagnosticCodes.PluginPathNotAllowed,
                $"{program} is not an allowed plugin program (allowedPluginPaths: {_allowList}); a plugin runs as root on every node. " +
                "List it in allowedPluginPaths (AA_ALLOWED_PLUGIN_PATHS, -AllowedPluginPath) to allow it.", pathLine));
        }

        return diagnostics;
    }

    private static string CodeFor(AuditdPluginMessageKind kind) => kind switch
    {
        AuditdPluginMessageKind.UnknownKeyword => SyncDiagnosticCodes.PluginUnknownKey,
        AuditdPluginMessageKind.NoPath => SyncDiagnosticCodes.PluginMissingPath,
        AuditdPluginMessageKind.MissingEqualSign or AuditdPluginMessageKind.WrongNumberOfWords => SyncDiagnosticCodes.PluginSyntax,
        _ => SyncDiagnosticCodes.PluginBadValue,
    };

    private static RuleDiagnostic Error(string path, int line, string code, string message, string? text) =>
        new(path, line, 1, DiagnosticSeverity.Error, code, message, text);
}
