using AksAuditd.Core.Rules;

namespace AksAuditd.Core.Sync;

/// <summary>
/// Checks an audisp plugin file (plugins.d/*.conf) the way auditd 3.x reads it: one <c>key = value</c> per
/// line with spaces around <c>=</c> (auditd splits on spaces only), keys matched without regard to case, lines
/// shorter than 160 bytes. Keys and values: <c>active</c> yes|no; <c>direction</c> out (in is not supported);
/// <c>path</c> an absolute program path (auditd wants a directory name of at least 4 characters);
/// <c>type</c> always (builtin is obsolete); <c>args</c> anything; <c>format</c> binary|string. An active plugin
/// needs a path. Because a plugin runs as root on every node, a non-empty allow-list refuses any path not on it.
/// </summary>
public sealed class PluginConfigValidator : IRuleFileValidator
{
    /// <summary>auditd reads each line into a 160-byte buffer and skips longer lines.</summary>
    public const int MaxLineBytes = 159;

    private static readonly Dictionary<string, string[]?> Keys = new(StringComparer.OrdinalIgnoreCase)
    {
        ["active"] = new[] { "yes", "no" },
        ["direction"] = new[] { "out" },
        ["path"] = null,
        ["type"] = new[] { "always", "builtin" },
        ["args"] = null,
        ["format"] = new[] { "binary", "string" },
    };

    private readonly IReadOnlyList<string> _allowedPaths;

    /// <param name="allowedPaths">Plugin programs a file may name in <c>path</c>; empty allows any absolute path.</param>
    public PluginConfigValidator(IEnumerable<string>? allowedPaths = null)
    {
        _allowedPaths = (allowedPaths ?? Array.Empty<string>()).ToList();
    }

    public IReadOnlyList<RuleDiagnostic> Validate(string path, string text)
    {
        var diagnostics = new List<RuleDiagnostic>();
        var name = Path.GetFileName(path);
        if (name.Count(c => c == '.') > 1)
        {
            diagnostics.Add(new RuleDiagnostic(path, 0, 0, DiagnosticSeverity.Warning, SyncDiagnosticCodes.PluginIgnoredByAuditd,
                $"auditd skips plugin files whose names have more than one dot; {name} would never be loaded.", null));
        }

        var lines = text.Split('\n');
        string? active = null;
        string? pluginPath = null;
        var pathLine = 0;
        var pathInvalid = false;
        for (var i = 0; i < lines.Length; i++)
        {
            var number = i + 1;
            var line = lines[i].TrimEnd('\r');
            if (System.Text.Encoding.UTF8.GetByteCount(line) > MaxLineBytes)
            {
                diagnostics.Add(Error(path, number, SyncDiagnosticCodes.PluginSyntax, $"The line is longer than {MaxLineBytes} bytes; auditd skips it.", line));
                continue;
            }

            var tokens = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (tokens.Length == 0 || tokens[0].StartsWith('#'))
            {
                continue;
            }

            if (line.Contains('\t'))
            {
                diagnostics.Add(Error(path, number, SyncDiagnosticCodes.PluginSyntax, "auditd separates words with spaces only; replace the tab with a space.", line));
                continue;
            }

            if (tokens.Length < 3 || tokens[1] != "=")
            {
                diagnostics.Add(Error(path, number, SyncDiagnosticCodes.PluginSyntax,
                    tokens.Length >= 2 && tokens[1] != "=" ? "Expected 'key = value' with spaces around '='." : "Expected 'key = value'; the value is missing.", line));
                continue;
            }

            var key = tokens[0];
            if (!Keys.TryGetValue(key, out var allowed))
            {
                diagnostics.Add(Error(path, number, SyncDiagnosticCodes.PluginUnknownKey, $"Unknown key '{key}'; auditd refuses the whole file. Keys: active, direction, path, type, args, format.", line));
                continue;
            }

            var value = tokens[2];
            if (allowed is not null)
            {
                if (tokens.Length > 3)
                {
                    diagnostics.Add(Error(path, number, SyncDiagnosticCodes.PluginBadValue, $"'{key}' takes one value.", line));
                    continue;
                }

                if (!allowed.Contains(value, StringComparer.OrdinalIgnoreCase))
                {
                    diagnostics.Add(Error(path, number, SyncDiagnosticCodes.PluginBadValue, $"'{value}' is not a valid {key.ToLowerInvariant()}; use {string.Join(" or ", allowed.Where(a => a != "builtin"))}.", line));
                    continue;
                }

                if (key.Equals("type", StringComparison.OrdinalIgnoreCase) && value.Equals("builtin", StringComparison.OrdinalIgnoreCase))
                {
                    diagnostics.Add(new RuleDiagnostic(path, number, 1, DiagnosticSeverity.Warning, SyncDiagnosticCodes.PluginObsolete, "type = builtin is obsolete; auditd treats it as always.", line));
                }

                if (key.Equals("active", StringComparison.OrdinalIgnoreCase))
                {
                    active = value.ToLowerInvariant();
                }

                continue;
            }

            if (key.Equals("path", StringComparison.OrdinalIgnoreCase))
            {
                if (tokens.Length > 3)
                {
                    diagnostics.Add(Error(path, number, SyncDiagnosticCodes.PluginBadValue, "'path' takes one value; put arguments in 'args'.", line));
                    continue;
                }

                pluginPath = value;
                pathLine = number;
                if (value.StartsWith("builtin_", StringComparison.OrdinalIgnoreCase))
                {
                    diagnostics.Add(new RuleDiagnostic(path, number, 1, DiagnosticSeverity.Warning, SyncDiagnosticCodes.PluginObsolete, $"{value} is obsolete; auditd uses /sbin/audisp-af_unix instead.", line));
                }
                else if (!value.StartsWith('/') || (Path.GetDirectoryName(value)?.Length ?? 0) < 4 || value.Split('/').Contains(".."))
                {
                    diagnostics.Add(Error(path, number, SyncDiagnosticCodes.PluginBadValue, $"'{value}' must be an absolute program path in a real directory (such as /sbin/audisp-syslog), without '..'.", line));
                    pathInvalid = true;
                }
            }
            else if (key.Equals("args", StringComparison.OrdinalIgnoreCase) && tokens.Length - 2 > 2)
            {
                diagnostics.Add(new RuleDiagnostic(path, number, 1, DiagnosticSeverity.Warning, SyncDiagnosticCodes.PluginBadValue, "auditd 3.0 passes at most 2 arguments to a plugin; the rest are dropped.", line));
            }
        }

        if (active == "yes" && pluginPath is null)
        {
            diagnostics.Add(Error(path, 0, SyncDiagnosticCodes.PluginMissingPath, "The plugin is active but has no path; auditd refuses it.", null));
        }

        if (pluginPath is not null && !pathInvalid && _allowedPaths.Count > 0 && !_allowedPaths.Contains(pluginPath, StringComparer.Ordinal))
        {
            diagnostics.Add(Error(path, pathLine, SyncDiagnosticCodes.PluginPathNotAllowed,
                $"{pluginPath} is not an allowed plugin program (allowedPluginPaths: {string.Join(", ", _allowedPaths)}); a plugin runs as root on every node.", null));
        }

        return diagnostics;
    }

    private static RuleDiagnostic Error(string path, int line, string code, string message, string? text) =>
        new(path, line, 1, DiagnosticSeverity.Error, code, message, text);
}
