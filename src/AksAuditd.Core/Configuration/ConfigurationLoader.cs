using AksAuditd.Core.Logging;
using AksAuditd.Core.Sync;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace AksAuditd.Core.Configuration;

/// <summary>
/// Builds <see cref="AksAuditdConfiguration"/> with the precedence of the Go tool we replace:
/// environment variable, then config.yaml, then default. Every invalid value is an error that names the
/// setting, the value and where it came from; an unknown key is only a warning (it names the key, which
/// catches typos such as <c>pollIntervall</c>).
/// </summary>
public sealed class ConfigurationLoader
{
    public const string ConfigFileVariable = "AA_CONFIG_FILE";
    public const string DefaultConfigFile = "/etc/aks-auditd/config.yaml";

    /// <summary>Every setting: name, environment variable, config.yaml key, default.</summary>
    public static readonly IReadOnlyList<SettingDefinition> Settings = new SettingDefinition[]
    {
        new("LogLevel", "AA_LOG_LEVEL", "logLevel", "info"),
        new("PollInterval", "AA_POLL_INTERVAL", "pollInterval", "30s"),
        new("RulesDirectory", "AA_RULES_DIR", "rulesDirectory", AugenrulesDirectory),
        new("PluginsDirectory", "AA_PLUGINS_DIR", "pluginsDirectory", "/etc/audit/plugins.d"),
        new("HostRoot", "AA_HOST_ROOT", "hostRoot", "/node"),
        new("RulesSource", "AA_RULES_SOURCE", "rulesSource", "/auditd-rules"),
        new("PluginsSource", "AA_PLUGINS_SOURCE", "pluginsSource", "/audisp-plugins"),
        new("StateDirectory", "AA_STATE_DIR", "stateDirectory", "/var/lib/aks-auditd"),
        new("SyncMode", "AA_SYNC_MODE", "syncMode", "managed"),
        new("AllowEmptySource", "AA_ALLOW_EMPTY_SOURCE", "allowEmptySource", "false"),
        new("AllowedPluginPaths", "AA_ALLOWED_PLUGIN_PATHS", "allowedPluginPaths", string.Empty),
        new("PackagePath", "AA_PACKAGE_PATH", "packagePath", string.Empty),
        new("MetricsAddress", "AA_METRICS_ADDRESS", "metricsAddress", ":9877"),
        new("NodeStatus", "AA_NODE_STATUS", "nodeStatus", "false"),
        new("AllowImmutable", "AA_ALLOW_IMMUTABLE", "allowImmutable", "false"),
        new("AllowPanic", "AA_ALLOW_PANIC", "allowPanic", "false"),
    };

    /// <summary>Settings whose empty environment value counts as unset, so that it never widens what the file allows.</summary>
    private static readonly HashSet<string> EmptyEnvironmentIsUnset = new(StringComparer.Ordinal) { "AllowedPluginPaths" };

    private readonly Func<string, string?> _environment;

    /// <param name="environment">Reads an environment variable; tests pass a dictionary lookup.</param>
    public ConfigurationLoader(Func<string, string?>? environment = null)
    {
        _environment = environment ?? Environment.GetEnvironmentVariable;
    }

    /// <summary>The one folder augenrules merges into audit.rules (a constant of audit-userspace).</summary>
    public const string AugenrulesDirectory = "/etc/audit/rules.d";

    /// <summary>Loads the configuration. <paramref name="path"/> overrides AA_CONFIG_FILE and the default file.</summary>
    /// <exception cref="ConfigurationException">A value is invalid, or the file is not valid YAML.</exception>
    public AksAuditdConfiguration Load(string? path = null)
    {
        var configFile = path ?? NonEmpty(_environment(ConfigFileVariable)) ?? DefaultConfigFile;
        var warnings = new List<string>();
        var fileValues = ReadFile(configFile, warnings, out var found);

        var raw = new Dictionary<string, RawSetting>(StringComparer.Ordinal);
        foreach (var setting in Settings)
        {
            var env = _environment(setting.EnvironmentVariable);
            if (env is not null && string.IsNullOrWhiteSpace(env) && EmptyEnvironmentIsUnset.Contains(setting.Name))
            {
                env = null;
            }

            if (env is not null)
            {
                raw[setting.Name] = new RawSetting(env, ConfigurationSource.Environment, setting.EnvironmentVariable, null);
            }
            else if (fileValues.TryGetValue(setting.Key, out var fromFile))
            {
                raw[setting.Name] = fromFile;
            }
            else
            {
                raw[setting.Name] = new RawSetting(setting.Default, ConfigurationSource.Default, "default", null);
            }
        }

        var rulesDirectory = ParseAbsolutePath("RulesDirectory", raw["RulesDirectory"]);
        if (rulesDirectory.TrimEnd('/') != AugenrulesDirectory)
        {
            // Kept for the Go tool's AA_RULES_DIR, but augenrules (which Restart-Auditd runs, and the node's auditd
            // service at boot) merges only this one folder: rules synced elsewhere are never loaded by it.
            warnings.Add(
                $"RulesDirectory is {rulesDirectory} (from {raw["RulesDirectory"].Origin}), but augenrules, which Restart-Auditd " +
                $"and the node's auditd service run, loads only {AugenrulesDirectory}: rules synced to {rulesDirectory} are not " +
                "loaded into the kernel unless something else on the node loads them.");
        }

        return new AksAuditdConfiguration
        {
            LogLevel = ParseLogLevel(raw["LogLevel"], warnings),
            PollInterval = ParsePollInterval(raw["PollInterval"]),
            RulesDirectory = rulesDirectory,
            PluginsDirectory = ParseAbsolutePath("PluginsDirectory", raw["PluginsDirectory"]),
            HostRoot = ParseAbsolutePath("HostRoot", raw["HostRoot"]),
            RulesSource = ParseAbsolutePath("RulesSource", raw["RulesSource"]),
            PluginsSource = ParseAbsolutePath("PluginsSource", raw["PluginsSource"]),
            StateDirectory = ParseAbsolutePath("StateDirectory", raw["StateDirectory"]),
            SyncMode = ParseSyncMode(raw["SyncMode"]),
            AllowEmptySource = ParseBoolean("AllowEmptySource", raw["AllowEmptySource"]),
            MetricsAddress = ParseListenAddress("MetricsAddress", raw["MetricsAddress"]),
            NodeStatus = ParseBoolean("NodeStatus", raw["NodeStatus"]),
            AllowedPluginPaths = ParsePluginAllowList(raw["AllowedPluginPaths"], warnings),
            AllowImmutable = ParseBoolean("AllowImmutable", raw["AllowImmutable"]),
            AllowPanic = ParseBoolean("AllowPanic", raw["AllowPanic"]),
            PackagePath = raw["PackagePath"].Value.Trim().Length == 0 ? null : ParseAbsolutePath("PackagePath", raw["PackagePath"]),
            ConfigFile = configFile,
            ConfigFileFound = found,
            Source = raw.ToDictionary(p => p.Key, p => p.Value.Source, StringComparer.Ordinal),
            Warnings = warnings,
        };
    }

    /// <summary>Parses a log level name as the Go tool did (case-insensitive); also accepts "warning".</summary>
    public static bool TryParseLogLevel(string? text, out LogLevel level)
    {
        var normalized = text?.Trim().ToLowerInvariant();
        if (normalized == "warning")
        {
            normalized = "warn";
        }

        foreach (var candidate in Enum.GetValues<LogLevel>())
        {
            if (candidate.ToString().ToLowerInvariant() == normalized)
            {
                level = candidate;
                return true;
            }
        }

        level = LogLevel.Info;
        return false;
    }

    private static string? NonEmpty(string? value) => string.IsNullOrEmpty(value) ? null : value;

    /// <summary>The largest config.yaml read; a settings file is a few hundred bytes.</summary>
    public const int MaxConfigFileBytes = 64 * 1024;

    /// <summary>The deepest nesting of YAML collections read: YamlDotNet's node model recurses once per level, with no limit of its own.</summary>
    public const int MaxConfigDepth = 64;

    /// <summary>The shortest poll interval: the loop re-reads the ConfigMaps and the node's files every poll.</summary>
    public static readonly TimeSpan MinPollInterval = TimeSpan.FromSeconds(1);

    private static IReadOnlyDictionary<string, RawSetting> ReadFile(string file, List<string> warnings, out bool found)
    {
        var values = new Dictionary<string, RawSetting>(StringComparer.Ordinal);
        FileIdentity identity;
        try
        {
            identity = LinuxNodeFileSystem.Instance.Stat(file);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ConfigurationException($"Config file {file} cannot be read: {e.Message}", origin: file, inner: e);
        }

        found = identity.Exists;
        if (!found)
        {
            return values;
        }

        if (identity.Type == NodeFileType.Directory)
        {
            throw new ConfigurationException($"Config file {file} is a directory, not a YAML file.", origin: file);
        }

        if (identity.Type != NodeFileType.Regular)
        {
            // A FIFO or a device would block the reader, or never end.
            throw new ConfigurationException($"Config file {file} is not a regular file (a FIFO, socket or device); it must be a YAML file.", origin: file);
        }

        byte[] bytes;
        try
        {
            bytes = LinuxNodeFileSystem.Instance.Read(file, MaxConfigFileBytes);
        }
        catch (FileTooLargeException e)
        {
            throw new ConfigurationException(
                $"Config file {file} is {e.Size} bytes; the limit is {MaxConfigFileBytes} bytes (64 KiB).", origin: file, inner: e);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ConfigurationException($"Config file {file} cannot be read: {e.Message}", origin: file, inner: e);
        }

        // Every cmdlet the loop runs loads the configuration (the JSON log's level comes from it), so a file whose
        // bytes are those parsed last time is not parsed again. The bytes, not the times: a rewrite within the
        // kernel's timestamp granularity keeps size and mtime.
        lock (LastParsedGate)
        {
            if (_lastParsed is { } last && last.File == file && last.Bytes.AsSpan().SequenceEqual(bytes))
            {
                warnings.AddRange(last.Warnings);
                return last.Values;
            }
        }

        var fileWarnings = new List<string>();
        var parsed = Parse(file, System.Text.Encoding.UTF8.GetString(bytes), fileWarnings);
        warnings.AddRange(fileWarnings);
        lock (LastParsedGate)
        {
            _lastParsed = new ParsedFile(file, bytes, parsed, fileWarnings.ToArray());
        }

        return parsed;
    }

    private static readonly Lock LastParsedGate = new();

    private static ParsedFile? _lastParsed;

    /// <summary>A config file's bytes as last parsed, and what they gave.</summary>
    private sealed record ParsedFile(string File, byte[] Bytes, IReadOnlyDictionary<string, RawSetting> Values, string[] Warnings);

    private static Dictionary<string, RawSetting> Parse(string file, string text, List<string> warnings)
    {
        var values = new Dictionary<string, RawSetting>(StringComparer.Ordinal);
        var yaml = new YamlStream();
        try
        {
            CheckDepth(file, text);
            yaml.Load(new StringReader(text));
        }
        catch (YamlException e)
        {
            throw new ConfigurationException(
                $"Config file {file} is not valid YAML at line {e.Start.Line}, column {e.Start.Column}: {e.Message}",
                origin: $"{file}:{e.Start.Line}:{e.Start.Column}",
                inner: e);
        }

        if (yaml.Documents.Count == 0 || yaml.Documents[0].RootNode is YamlScalarNode { Value: null or "" })
        {
            return values;
        }

        if (yaml.Documents[0].RootNode is not YamlMappingNode root)
        {
            var node = yaml.Documents[0].RootNode;
            throw new ConfigurationException(
                $"Config file {file} must be a YAML mapping of settings (line {node.Start.Line}, column {node.Start.Column}).",
                origin: $"{file}:{node.Start.Line}:{node.Start.Column}");
        }

        var known = Settings.ToDictionary(s => s.Key, StringComparer.Ordinal);
        foreach (var (keyNode, valueNode) in root.Children)
        {
            var key = (keyNode as YamlScalarNode)?.Value ?? string.Empty;
            var origin = $"{file}:{keyNode.Start.Line}:{keyNode.Start.Column}";
            if (!known.ContainsKey(key))
            {
                var suggestion = Settings.Select(s => s.Key)
                    .FirstOrDefault(k => string.Equals(k, key, StringComparison.OrdinalIgnoreCase) || Distance(k, key) <= 2);
                warnings.Add($"Unknown key '{key}' in {origin} is ignored" + (suggestion is null ? "." : $"; did you mean '{suggestion}'?"));
                continue;
            }

            values[key] = valueNode switch
            {
                YamlScalarNode scalar => new RawSetting(scalar.Value ?? string.Empty, ConfigurationSource.File, origin, null),
                YamlSequenceNode sequence => new RawSetting(
                    string.Empty,
                    ConfigurationSource.File,
                    origin,
                    sequence.Children.Select(c => (c as YamlScalarNode)?.Value ?? throw new ConfigurationException(
                        $"{key} in {file} at line {c.Start.Line} must be a list of strings.", key, null, origin)).ToArray()),
                _ => throw new ConfigurationException(
                    $"{key} in {origin} must be a single value, not a mapping.", key, null, origin),
            };
        }

        return values;
    }

    /// <summary>Walks the parser's events (no recursion) and stops at the first collection nested too deep.</summary>
    private static void CheckDepth(string file, string text)
    {
        var parser = new Parser(new StringReader(text));
        var depth = 0;
        while (parser.MoveNext())
        {
            switch (parser.Current)
            {
                case YamlDotNet.Core.Events.MappingStart or YamlDotNet.Core.Events.SequenceStart:
                    if (++depth > MaxConfigDepth)
                    {
                        var at = parser.Current.Start;
                        throw new ConfigurationException(
                            $"Config file {file} nests collections more than {MaxConfigDepth} levels deep (line {at.Line}, column {at.Column}).",
                            origin: $"{file}:{at.Line}:{at.Column}");
                    }

                    break;
                case YamlDotNet.Core.Events.MappingEnd or YamlDotNet.Core.Events.SequenceEnd:
                    depth--;
                    break;
            }
        }
    }

    private static LogLevel ParseLogLevel(RawSetting raw, List<string> warnings)
    {
        if (TryParseLogLevel(raw.Value, out var level))
        {
            return level;
        }

        // The Go tool fell back to info on an unknown level instead of refusing to start; so do we.
        warnings.Add($"Unknown log level '{raw.Value}' from {raw.Origin}; using info. Valid levels: panic, fatal, error, warn, info, debug, trace.");
        return LogLevel.Info;
    }

    /// <summary>
    /// <c>host:port</c> as Go's net.Listen takes it (<c>:9877</c> is every address of the pod), or <c>off</c>
    /// (or empty) for no endpoint. Null means off.
    /// </summary>
    private static string? ParseListenAddress(string name, RawSetting raw)
    {
        var value = raw.Value.Trim();
        if (value.Length == 0 || value.Equals("off", StringComparison.OrdinalIgnoreCase))
        {
            return null;
        }

        var colon = value.LastIndexOf(':');
        if (colon < 0 || !int.TryParse(value[(colon + 1)..], System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var port) || port is < 1 or > 65535)
        {
            throw Invalid(name, raw, "use host:port (such as :9877 or 127.0.0.1:9877), with a port from 1 to 65535, or off");
        }

        return value;
    }

    private static TimeSpan ParsePollInterval(RawSetting raw)
    {
        if (!GoDuration.TryParse(raw.Value.Trim(), out var interval, out var error))
        {
            throw Invalid("PollInterval", raw, $"{error}; use Go duration syntax such as 30s, 1m30s or 500ms");
        }

        if (interval < MinPollInterval)
        {
            throw Invalid("PollInterval", raw, "the poll interval must be at least 1s");
        }

        return interval;
    }

    private static string ParseAbsolutePath(string name, RawSetting raw)
    {
        var value = raw.Value.Trim();
        if (value.Length == 0 || !value.StartsWith('/'))
        {
            throw Invalid(name, raw, "it must be an absolute path (starting with /)");
        }

        if (value.Split('/').Contains(".."))
        {
            throw Invalid(name, raw, "it must not contain '..'");
        }

        return value.Length > 1 ? value.TrimEnd('/') : value;
    }

    private static SyncMode ParseSyncMode(RawSetting raw)
    {
        return Enum.TryParse<SyncMode>(raw.Value.Trim(), ignoreCase: true, out var mode) && Enum.IsDefined(mode)
            ? mode
            : throw Invalid("SyncMode", raw, "valid values are managed and mirror");
    }

    private static bool ParseBoolean(string name, RawSetting raw)
    {
        return raw.Value.Trim().ToLowerInvariant() switch
        {
            "true" or "yes" or "1" => true,
            "false" or "no" or "0" or "" => false,
            _ => throw Invalid(name, raw, "valid values are true and false"),
        };
    }

    /// <summary>Absolute paths, builtin_af_unix, or * (any program, warned about at every start); none is the audit package's programs.</summary>
    private static IReadOnlyList<string> ParsePluginAllowList(RawSetting raw, List<string> warnings)
    {
        const string name = "AllowedPluginPaths";
        var items = (raw.List ?? raw.Value.Split(new[] { ',', ':' }, StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
            .Where(i => !string.IsNullOrWhiteSpace(i)).Select(i => i.Trim()).ToArray();
        foreach (var item in items)
        {
            if (item != PluginAllowList.AnyProgram && !item.StartsWith('/') && !item.Equals("builtin_af_unix", StringComparison.OrdinalIgnoreCase))
            {
                throw Invalid(name, raw with { Value = item }, "each entry must be an absolute path, builtin_af_unix, or * for any program");
            }
        }

        if (items.Contains(PluginAllowList.AnyProgram))
        {
            warnings.Add(
                $"AllowedPluginPaths is * (from {raw.Origin}): a plugins ConfigMap may run ANY program as root on every node. " +
                "List the plugin programs instead (the default allows only the audit package's own).");
        }

        return items;
    }

    private static ConfigurationException Invalid(string name, RawSetting raw, string reason)
    {
        return new ConfigurationException(
            $"Invalid {name} '{raw.Value}' from {raw.Origin}: {reason}.", name, raw.Value, raw.Origin);
    }

    private static int Distance(string a, string b)
    {
        var d = new int[a.Length + 1, b.Length + 1];
        for (var i = 0; i <= a.Length; i++)
        {
            d[i, 0] = i;
        }

        for (var j = 0; j <= b.Length; j++)
        {
            d[0, j] = j;
        }

        for (var i = 1; i <= a.Length; i++)
        {
            for (var j = 1; j <= b.Length; j++)
            {
                var cost = char.ToLowerInvariant(a[i - 1]) == char.ToLowerInvariant(b[j - 1]) ? 0 : 1;
                d[i, j] = Math.Min(Math.Min(d[i - 1, j] + 1, d[i, j - 1] + 1), d[i - 1, j - 1] + cost);
            }
        }

        return d[a.Length, b.Length];
    }

    private sealed record RawSetting(string Value, ConfigurationSource Source, string Origin, string[]? List);
}

/// <summary>One setting: its name, environment variable, config.yaml key and default text.</summary>
public sealed record SettingDefinition(string Name, string EnvironmentVariable, string Key, string Default);
