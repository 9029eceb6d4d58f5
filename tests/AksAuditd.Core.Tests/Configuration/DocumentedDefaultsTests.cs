using AksAuditd.Core.Configuration;
using AksAuditd.Core.Logging;
using Xunit;

namespace AksAuditd.Core.Tests.Configuration;

/// <summary>
/// The defaults the README's configuration table promises, written here as the README writes them. The precedence
/// tests compare with the loader's own table, so a wrong default there would pass them; this one would not.
/// </summary>
public sealed class DocumentedDefaultsTests
{
    [Fact]
    public void WithNoEnvironmentAndNoFileEverySettingHasTheReadmesDefault()
    {
        var missingFile = Path.Combine(Path.GetTempPath(), $"aks-auditd-no-config-{Guid.NewGuid():N}.yaml");

        var configuration = new ConfigurationLoader(_ => null).Load(missingFile);

        Assert.Equal(LogLevel.Info, configuration.LogLevel);
        Assert.Equal(TimeSpan.FromSeconds(30), configuration.PollInterval);
        Assert.Equal("/etc/audit/rules.d", configuration.RulesDirectory);
        Assert.Equal("/etc/audit/plugins.d", configuration.PluginsDirectory);
        Assert.Equal("/node", configuration.HostRoot);
        Assert.Equal("/auditd-rules", configuration.RulesSource);
        Assert.Equal("/audisp-plugins", configuration.PluginsSource);
        Assert.Equal("/var/lib/aks-auditd", configuration.StateDirectory);
        Assert.Equal(SyncMode.Managed, configuration.SyncMode);
        Assert.False(configuration.AllowEmptySource);
        Assert.Equal(":9877", configuration.MetricsAddress);
        Assert.False(configuration.NodeStatus);
        Assert.False(configuration.ConfigFileFound);
    }

    [Fact]
    public void TheConfigFileDefaultsToTheImagesPath()
    {
        var configuration = new ConfigurationLoader(_ => null).Load();

        Assert.Equal("/etc/aks-auditd/config.yaml", configuration.ConfigFile);
    }
}
