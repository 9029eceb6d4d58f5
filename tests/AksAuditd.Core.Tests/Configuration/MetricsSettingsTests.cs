using AksAuditd.Core.Configuration;
using Xunit;

namespace AksAuditd.Core.Tests.Configuration;

/// <summary>metricsAddress and nodeStatus: Go's listen syntax, "off", and a clear error naming the setting.</summary>
public sealed class MetricsSettingsTests
{
    [Theory]
    [InlineData(":9877", ":9877")]
    [InlineData("127.0.0.1:9100", "127.0.0.1:9100")]
    [InlineData("off", null)]
    [InlineData("OFF", null)]
    [InlineData("", null)]
    public void TheAddressIsHostPortOrOff(string value, string? expected)
    {
        var configuration = Load(new() { ["AA_METRICS_ADDRESS"] = value });

        Assert.Equal(expected, configuration.MetricsAddress);
    }

    [Theory]
    [InlineData("9877")]
    [InlineData(":0")]
    [InlineData(":65536")]
    [InlineData("localhost:http")]
    public void ABadAddressNamesTheSettingAndTheVariable(string value)
    {
        var failure = Assert.Throws<ConfigurationException>(() => Load(new() { ["AA_METRICS_ADDRESS"] = value }));

        Assert.Equal("MetricsAddress", failure.Setting);
        Assert.Contains("AA_METRICS_ADDRESS", failure.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void NodeStatusIsOffUnlessTurnedOn()
    {
        Assert.False(Load(new()).NodeStatus);
        Assert.True(Load(new() { ["AA_NODE_STATUS"] = "true" }).NodeStatus);
    }

    private static AksAuditdConfiguration Load(Dictionary<string, string> environment) =>
        new ConfigurationLoader(name => environment.GetValueOrDefault(name)).Load(Path.Combine(Path.GetTempPath(), $"aks-auditd-none-{Guid.NewGuid():N}.yaml"));
}
