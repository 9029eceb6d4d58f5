using System.Management.Automation;
using Xunit;

namespace AksAuditd.PowerShell.Tests;

public sealed class ConfigurationCmdletTests
{
    [Fact]
    public void EnvironmentVariableWinsAndPollIntervalIsATimeSpan()
    {
        using var shell = new ModuleRunspace(new Dictionary<string, string?> { ["AA_POLL_INTERVAL"] = "1h30m", ["AA_CONFIG_FILE"] = "/nonexistent/config.yaml" });

        var result = shell.Invoke("Get-AksAuditdConfiguration");

        Assert.Empty(result.Errors);
        var configuration = Assert.Single(result.Output);
        Assert.Equal(TimeSpan.FromMinutes(90), configuration.Properties["PollInterval"].Value);
        var source = (System.Collections.IDictionary)configuration.Properties["Source"].Value;
        Assert.Equal("Environment", source["PollInterval"]!.ToString());
        Assert.Equal("Default", source["RulesDirectory"]!.ToString());
    }

    [Fact]
    public void UnitlessPollIntervalIsATerminatingErrorNamingTheVariable()
    {
        using var shell = new ModuleRunspace(new Dictionary<string, string?> { ["AA_POLL_INTERVAL"] = "30", ["AA_CONFIG_FILE"] = "/nonexistent/config.yaml" });

        var result = shell.Invoke("Get-AksAuditdConfiguration");

        var error = Assert.Single(result.AllErrors);
        Assert.Equal("InvalidConfiguration,AksAuditd.PowerShell.Commands.GetAksAuditdConfigurationCommand", error.FullyQualifiedErrorId);
        Assert.Contains("AA_POLL_INTERVAL", error.Exception.Message);
        Assert.Equal(ErrorCategory.InvalidArgument, error.CategoryInfo.Category);
    }

    [Fact]
    public void UnknownKeyInFileIsAWarningNamingTheKey()
    {
        var file = Path.Combine(Path.GetTempPath(), $"aks-auditd-{Guid.NewGuid():N}.yaml");
        File.WriteAllText(file, "pollIntervall: 10s\nlogLevel: debug\n");
        try
        {
            using var shell = new ModuleRunspace(new Dictionary<string, string?> { ["AA_POLL_INTERVAL"] = null, ["AA_LOG_LEVEL"] = null });

            var result = shell.Invoke("param($p) Get-AksAuditdConfiguration -Path $p", new Dictionary<string, object?> { ["p"] = file });

            Assert.Empty(result.Errors);
            Assert.Contains(result.Warnings, w => w.Contains("pollIntervall") && w.Contains("pollInterval"));
            Assert.Equal("Debug", Assert.Single(result.Output).Properties["LogLevel"].Value.ToString());
        }
        finally
        {
            File.Delete(file);
        }
    }
}
