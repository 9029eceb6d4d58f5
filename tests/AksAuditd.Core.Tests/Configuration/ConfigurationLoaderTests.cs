using AksAuditd.Core.Configuration;
using AksAuditd.Core.Logging;
using Xunit;

namespace AksAuditd.Core.Tests.Configuration;

public sealed class ConfigurationLoaderTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("aks-auditd-config-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    /// <summary>For every setting: a value to put in the environment, another for the file, and how each reads back.</summary>
    public static TheoryData<string, string, string, string, string> EverySetting => new()
    {
        // setting, env value, file value (YAML), expected from env, expected from file
        { "LogLevel", "DEBUG", "warn", "Debug", "Warn" },
        { "PollInterval", "1m30s", "45s", "00:01:30", "00:00:45" },
        { "RulesDirectory", "/etc/audit/custom.d", "/opt/rules.d/", "/etc/audit/custom.d", "/opt/rules.d" },
        { "PluginsDirectory", "/etc/audisp/plugins.d", "/opt/plugins.d", "/etc/audisp/plugins.d", "/opt/plugins.d" },
        { "HostRoot", "/host", "/", "/host", "/" },
        { "RulesSource", "/config/rules", "/mnt/rules", "/config/rules", "/mnt/rules" },
        { "PluginsSource", "/config/plugins", "/mnt/plugins", "/config/plugins", "/mnt/plugins" },
        { "StateDirectory", "/var/lib/other", "/var/tmp/state", "/var/lib/other", "/var/tmp/state" },
        { "SyncMode", "Mirror", "mirror", "Mirror", "Mirror" },
        { "AllowEmptySource", "true", "yes", "True", "True" },
        { "AllowedPluginPaths", "/sbin/audisp-syslog,/usr/sbin/audisp-remote", "[/sbin/audisp-syslog]", "/sbin/audisp-syslog;/usr/sbin/audisp-remote", "/sbin/audisp-syslog" },
        { "PackagePath", "/var/cache/auditd-debs", "/opt/packages/", "/var/cache/auditd-debs", "/opt/packages" },
        { "MetricsAddress", "127.0.0.1:9100", "off", "127.0.0.1:9100", "off" },
        { "NodeStatus", "true", "yes", "True", "True" },
        { "AllowImmutable", "true", "true", "True", "True" },
        { "AllowPanic", "1", "yes", "True", "True" },
    };

    [Fact]
    public void EverySettingIsCoveredByThePrecedenceMatrix()
    {
        var covered = EverySetting.Select(row => (string)row[0]).ToHashSet();
        Assert.Equal(ConfigurationLoader.Settings.Select(s => s.Name).ToHashSet(), covered);
    }

    [Theory]
    [MemberData(nameof(EverySetting))]
    public void DefaultAppliesWhenNeitherEnvironmentNorFileSetsIt(string setting, string env, string file, string fromEnv, string fromFile)
    {
        _ = (env, file, fromEnv, fromFile);
        var definition = ConfigurationLoader.Settings.Single(s => s.Name == setting);

        var configuration = Load(new Dictionary<string, string>(), fileText: null);

        Assert.Equal(ConfigurationSource.Default, configuration.Source[setting]);
        Assert.Equal(Normalize(setting, definition.Default), Read(configuration, setting));
    }

    [Theory]
    [MemberData(nameof(EverySetting))]
    public void FileBeatsDefault(string setting, string env, string file, string fromEnv, string fromFile)
    {
        _ = (env, fromEnv);
        var key = ConfigurationLoader.Settings.Single(s => s.Name == setting).Key;

        var configuration = Load(new Dictionary<string, string>(), $"{key}: {file}\n");

        Assert.Equal(ConfigurationSource.File, configuration.Source[setting]);
        Assert.Equal(fromFile, Read(configuration, setting));
    }

    [Theory]
    [MemberData(nameof(EverySetting))]
    public void EnvironmentBeatsDefault(string setting, string env, string file, string fromEnv, string fromFile)
    {
        _ = (file, fromFile);
        var variable = ConfigurationLoader.Settings.Single(s => s.Name == setting).EnvironmentVariable;

        var configuration = Load(new Dictionary<string, string> { [variable] = env }, fileText: null);

        Assert.Equal(ConfigurationSource.Environment, configuration.Source[setting]);
        Assert.Equal(fromEnv, Read(configuration, setting));
    }

    [Theory]
    [MemberData(nameof(EverySetting))]
    public void EnvironmentBeatsFile(string setting, string env, string file, string fromEnv, string fromFile)
    {
        _ = fromFile;
        var definition = ConfigurationLoader.Settings.Single(s => s.Name == setting);

        var configuration = Load(new Dictionary<string, string> { [definition.EnvironmentVariable] = env }, $"{definition.Key}: {file}\n");

        Assert.Equal(ConfigurationSource.Environment, configuration.Source[setting]);
        Assert.Equal(fromEnv, Read(configuration, setting));
    }

    [Fact]
    public void GoToolVariableNamesAndDefaultsAreKept()
    {
        // Existing DaemonSets and ConfigMaps written for the Go tool must keep working unchanged.
        var byName = ConfigurationLoader.Settings.ToDictionary(s => s.Name);
        Assert.Equal(("AA_LOG_LEVEL", "logLevel", "info"), (byName["LogLevel"].EnvironmentVariable, byName["LogLevel"].Key, byName["LogLevel"].Default));
        Assert.Equal(("AA_POLL_INTERVAL", "pollInterval", "30s"), (byName["PollInterval"].EnvironmentVariable, byName["PollInterval"].Key, byName["PollInterval"].Default));
        Assert.Equal(("AA_RULES_DIR", "rulesDirectory", "/etc/audit/rules.d"), (byName["RulesDirectory"].EnvironmentVariable, byName["RulesDirectory"].Key, byName["RulesDirectory"].Default));
        Assert.Equal(("AA_PLUGINS_DIR", "pluginsDirectory", "/etc/audit/plugins.d"), (byName["PluginsDirectory"].EnvironmentVariable, byName["PluginsDirectory"].Key, byName["PluginsDirectory"].Default));
    }

    [Fact]
    public void ConfigFileVariableChoosesTheFile()
    {
        var path = Path.Combine(_directory, "elsewhere.yaml");
        File.WriteAllText(path, "pollInterval: 2m\n");

        var configuration = new ConfigurationLoader(new Dictionary<string, string> { ["AA_CONFIG_FILE"] = path }.GetValueOrDefault).Load();

        Assert.Equal(path, configuration.ConfigFile);
        Assert.True(configuration.ConfigFileFound);
        Assert.Equal(TimeSpan.FromMinutes(2), configuration.PollInterval);
    }

    [Fact]
    public void MissingConfigFileMeansDefaults()
    {
        var configuration = new ConfigurationLoader(_ => null).Load(Path.Combine(_directory, "absent.yaml"));

        Assert.False(configuration.ConfigFileFound);
        Assert.All(configuration.Source.Values, source => Assert.Equal(ConfigurationSource.Default, source));
        Assert.Empty(configuration.Warnings);
    }

    [Fact]
    public void EmptyConfigFileMeansDefaults()
    {
        var configuration = Load(new Dictionary<string, string>(), "# nothing set yet\n");

        Assert.True(configuration.ConfigFileFound);
        Assert.All(configuration.Source.Values, source => Assert.Equal(ConfigurationSource.Default, source));
    }

    [Theory]
    [InlineData("logLevel: info\npollInterval: \"30s\n", 2, 15)] // unclosed quote
    [InlineData("logLevel: info\n  pollInterval: 30s\n", 2, 15)] // bad indentation
    [InlineData("logLevel: info\nlogLevel: debug\n", 2, 1)] // duplicate key
    [InlineData("pollInterval: a: b\n", 1, 16)] // a mapping inside a plain value
    public void InvalidYamlIsAnErrorWithLineAndColumn(string text, int line, int column)
    {
        var e = Assert.Throws<ConfigurationException>(() => Load(new Dictionary<string, string>(), text));

        Assert.Contains($"line {line}, column {column}", e.Message);
        Assert.Contains("config.yaml", e.Message);
        Assert.EndsWith($"config.yaml:{line}:{column}", e.Origin);
    }

    [Fact]
    public void ConfigFileThatIsNotAMappingIsAnError()
    {
        var e = Assert.Throws<ConfigurationException>(() => Load(new Dictionary<string, string>(), "- pollInterval\n- 30s\n"));

        Assert.Contains("must be a YAML mapping", e.Message);
    }

    [Fact]
    public void AnUnchangedFileKeepsItsWarningsAndARewriteOfTheSameSizeIsReadAgain()
    {
        // The loop loads the configuration for every cmdlet and reuses the last parse while the bytes are the same:
        // the reuse must keep the file's warnings, and a rewrite that keeps size and (coarse) mtime must still count.
        var first = Load(new Dictionary<string, string>(), "logLevel: debug\npollIntervall: 10s\n");
        var again = Load(new Dictionary<string, string>(), "logLevel: debug\npollIntervall: 10s\n");
        var rewritten = Load(new Dictionary<string, string>(), "logLevel: error\npollIntervall: 10s\n");

        Assert.Equal(LogLevel.Debug, first.LogLevel);
        Assert.Equal(first.Warnings, again.Warnings);
        Assert.Contains("'pollIntervall'", Assert.Single(again.Warnings));
        Assert.Equal(LogLevel.Error, rewritten.LogLevel);
        Assert.Contains("'pollIntervall'", Assert.Single(rewritten.Warnings));
    }

    [Fact]
    public void UnknownKeyIsAWarningNamingTheKeyAndSuggestingTheRightOne()
    {
        var configuration = Load(new Dictionary<string, string>(), "logLevel: debug\npollIntervall: 10s\n");

        var warning = Assert.Single(configuration.Warnings);
        Assert.Contains("'pollIntervall'", warning);
        Assert.Contains("config.yaml:2:1", warning);
        Assert.Contains("did you mean 'pollInterval'", warning);
        Assert.Equal(TimeSpan.FromSeconds(30), configuration.PollInterval);
        Assert.Equal(LogLevel.Debug, configuration.LogLevel);
    }

    [Fact]
    public void ARulesDirectoryAugenrulesDoesNotReadIsAWarningNamingBothFolders()
    {
        var configuration = Load(new Dictionary<string, string> { ["AA_RULES_DIR"] = "/etc/audit/custom.d" }, fileText: null);

        Assert.Equal("/etc/audit/custom.d", configuration.RulesDirectory);
        var warning = Assert.Single(configuration.Warnings);
        Assert.Contains("/etc/audit/custom.d", warning);
        Assert.Contains("AA_RULES_DIR", warning);
        Assert.Contains("loads only /etc/audit/rules.d", warning);
    }

    [Theory]
    [InlineData("/etc/audit/rules.d")]
    [InlineData("/etc/audit/rules.d/")]
    public void TheRulesDirectoryAugenrulesReadsIsNoWarning(string directory)
    {
        var configuration = Load(new Dictionary<string, string> { ["AA_RULES_DIR"] = directory }, fileText: null);

        Assert.Empty(configuration.Warnings);
    }

    [Fact]
    public void UnknownLogLevelFallsBackToInfoWithAWarningLikeTheGoTool()
    {
        var configuration = Load(new Dictionary<string, string> { ["AA_LOG_LEVEL"] = "verbose" }, fileText: null);

        Assert.Equal(LogLevel.Info, configuration.LogLevel);
        var warning = Assert.Single(configuration.Warnings);
        Assert.Contains("'verbose'", warning);
        Assert.Contains("AA_LOG_LEVEL", warning);
    }

    [Theory]
    [InlineData("panic", LogLevel.Panic)]
    [InlineData("FATAL", LogLevel.Fatal)]
    [InlineData("Error", LogLevel.Error)]
    [InlineData("warn", LogLevel.Warn)]
    [InlineData("warning", LogLevel.Warn)]
    [InlineData("info", LogLevel.Info)]
    [InlineData("debug", LogLevel.Debug)]
    [InlineData("trace", LogLevel.Trace)]
    public void LogLevelsAreCaseInsensitive(string text, LogLevel expected)
    {
        Assert.Equal(expected, Load(new Dictionary<string, string> { ["AA_LOG_LEVEL"] = text }, fileText: null).LogLevel);
    }

    [Theory]
    [InlineData("AA_POLL_INTERVAL", "30", "PollInterval")]
    [InlineData("AA_POLL_INTERVAL", "1d", "PollInterval")]
    [InlineData("AA_POLL_INTERVAL", "0s", "PollInterval")]
    [InlineData("AA_POLL_INTERVAL", "-5s", "PollInterval")]
    [InlineData("AA_RULES_DIR", "etc/audit/rules.d", "RulesDirectory")]
    [InlineData("AA_PLUGINS_DIR", "/etc/../tmp", "PluginsDirectory")]
    [InlineData("AA_HOST_ROOT", "", "HostRoot")]
    [InlineData("AA_SYNC_MODE", "replace", "SyncMode")]
    [InlineData("AA_ALLOW_EMPTY_SOURCE", "maybe", "AllowEmptySource")]
    [InlineData("AA_ALLOWED_PLUGIN_PATHS", "audisp-syslog", "AllowedPluginPaths")]
    [InlineData("AA_POLL_INTERVAL", "500ms", "PollInterval")]
    [InlineData("AA_POLL_INTERVAL", "999ms", "PollInterval")]
    [InlineData("AA_ALLOW_IMMUTABLE", "sure", "AllowImmutable")]
    [InlineData("AA_ALLOW_PANIC", "2", "AllowPanic")]
    public void InvalidEnvironmentValueNamesSettingValueAndVariable(string variable, string value, string setting)
    {
        var e = Assert.Throws<ConfigurationException>(() => Load(new Dictionary<string, string> { [variable] = value }, fileText: null));

        Assert.Equal(setting, e.Setting);
        Assert.Equal(variable, e.Origin);
        Assert.Contains(variable, e.Message);
        Assert.Contains(setting, e.Message);
        Assert.Contains($"'{value}'", e.Message);
    }

    [Fact]
    public void InvalidFileValueNamesTheFileAndLine()
    {
        var e = Assert.Throws<ConfigurationException>(() => Load(new Dictionary<string, string>(), "logLevel: info\n\npollInterval: 1d\n"));

        Assert.Equal("PollInterval", e.Setting);
        Assert.Contains("config.yaml:3:1", e.Message);
        Assert.Contains("unknown unit \"d\"", e.Message);
    }

    [Theory]
    [InlineData("")]
    [InlineData(" ")]
    public void AnEmptyPluginAllowListInTheEnvironmentNeverWidensTheFilesList(string env)
    {
        var configuration = Load(new Dictionary<string, string> { ["AA_ALLOWED_PLUGIN_PATHS"] = env }, "allowedPluginPaths: [/opt/vendor/bin/plugin]\n");

        Assert.Equal(new[] { "/opt/vendor/bin/plugin" }, configuration.AllowedPluginPaths);
        Assert.Equal(ConfigurationSource.File, configuration.Source["AllowedPluginPaths"]);
    }

    [Fact]
    public void AStarInThePluginAllowListIsAllowedWithAWarning()
    {
        var configuration = Load(new Dictionary<string, string> { ["AA_ALLOWED_PLUGIN_PATHS"] = "*" }, fileText: null);

        Assert.Equal(new[] { "*" }, configuration.AllowedPluginPaths);
        Assert.Contains(configuration.Warnings, w => w.Contains("AllowedPluginPaths is *") && w.Contains("AA_ALLOWED_PLUGIN_PATHS"));
        Assert.DoesNotContain(Load(new Dictionary<string, string>(), fileText: null).Warnings, w => w.Contains("AllowedPluginPaths"));
    }

    [Fact]
    public void AOneSecondPollIntervalIsTheShortestAllowed()
    {
        Assert.Equal(TimeSpan.FromSeconds(1), Load(new Dictionary<string, string> { ["AA_POLL_INTERVAL"] = "1s" }, fileText: null).PollInterval);
    }

    [Fact]
    public void AConfigFileOver64KiBIsAnErrorNamingIt()
    {
        var e = Assert.Throws<ConfigurationException>(() => Load(new Dictionary<string, string>(), "logLevel: info\n" + new string('#', 64 * 1024) + "\n"));

        Assert.Contains(Path.Combine(_directory, "config.yaml"), e.Message);
        Assert.Contains("65536", e.Message);
    }

    [Theory]
    [InlineData(200_000)]
    [InlineData(60_000)]
    [InlineData(65)]
    public void DeeplyNestedYamlIsAnErrorNamingTheFileNotACrash(int depth)
    {
        // YamlDotNet 16.3.0 recurses once per level: 200,000 '[' overflowed the stack and killed the process.
        var e = Assert.Throws<ConfigurationException>(() => Load(new Dictionary<string, string>(), "logLevel: " + new string('[', depth) + "\n"));

        Assert.Contains(Path.Combine(_directory, "config.yaml"), e.Message);
        Assert.Contains(depth > 64 * 1024 ? "bytes" : "levels deep", e.Message);
    }

    [Fact]
    public void SixtyFourLevelsAreRead()
    {
        var e = Assert.Throws<ConfigurationException>(() => Load(new Dictionary<string, string>(), "logLevel: " + new string('[', 63) + new string(']', 63) + "\n"));

        // The root mapping is level 1: 63 more is the limit, and the value is then only wrong, not refused as too deep.
        Assert.DoesNotContain("levels deep", e.Message);
    }

    [Fact]
    public void AFifoAsTheConfigFileIsAnErrorNotAHang()
    {
        var path = Path.Combine(_directory, "config.yaml");
        File.Delete(path);
        AksAuditd.Core.Tests.Sync.BadInputTests.Run("mkfifo", path);

        var load = Task.Run(() => new ConfigurationLoader(_ => null).Load(path));

        Assert.True(((IAsyncResult)load).AsyncWaitHandle.WaitOne(TimeSpan.FromSeconds(20)), "loading a FIFO blocked");
        var e = Assert.Throws<ConfigurationException>(() => load.GetAwaiter().GetResult());
        Assert.Contains(path, e.Message);
    }

    [Fact]
    public void HostPathsJoinUnderTheHostRoot()
    {
        var configuration = Load(new Dictionary<string, string> { ["AA_HOST_ROOT"] = "/node" }, fileText: null);

        Assert.Equal("/node/etc/audit/rules.d", configuration.HostRulesDirectory);
        Assert.Equal("/node/etc/audit/plugins.d", configuration.HostPluginsDirectory);
        Assert.Equal("/node/var/lib/aks-auditd", configuration.HostStateDirectory);
        Assert.Equal("/etc/audit/rules.d", HostPath.Join("/", "/etc/audit/rules.d"));
    }

    private AksAuditdConfiguration Load(Dictionary<string, string> environment, string? fileText)
    {
        var path = Path.Combine(_directory, "config.yaml");
        if (fileText is null)
        {
            File.Delete(path);
        }
        else
        {
            File.WriteAllText(path, fileText);
        }

        return new ConfigurationLoader(environment.GetValueOrDefault).Load(path);
    }

    private static string Normalize(string setting, string defaultText) => setting switch
    {
        "LogLevel" => "Info",
        "PollInterval" => "00:00:30",
        "SyncMode" => "Managed",
        "AllowEmptySource" or "AllowImmutable" or "AllowPanic" or "NodeStatus" => "False",
        _ => defaultText,
    };

    private static string Read(AksAuditdConfiguration c, string setting) => setting switch
    {
        "LogLevel" => c.LogLevel.ToString(),
        "PollInterval" => c.PollInterval.ToString(),
        "RulesDirectory" => c.RulesDirectory,
        "PluginsDirectory" => c.PluginsDirectory,
        "HostRoot" => c.HostRoot,
        "RulesSource" => c.RulesSource,
        "PluginsSource" => c.PluginsSource,
        "StateDirectory" => c.StateDirectory,
        "SyncMode" => c.SyncMode.ToString(),
        "AllowEmptySource" => c.AllowEmptySource.ToString(),
        "AllowedPluginPaths" => string.Join(";", c.AllowedPluginPaths),
        "PackagePath" => c.PackagePath ?? string.Empty,
        "MetricsAddress" => c.MetricsAddress ?? "off",
        "NodeStatus" => c.NodeStatus.ToString(),
        "AllowImmutable" => c.AllowImmutable.ToString(),
        "AllowPanic" => c.AllowPanic.ToString(),
        _ => throw new ArgumentOutOfRangeException(nameof(setting), setting, "no reader for this setting"),
    };
}
