using System.Diagnostics;
using Xunit;
using YamlDotNet.RepresentationModel;

namespace AksAuditd.PowerShell.Tests.DaemonSet;

/// <summary>
/// kubernetes/monitoring: the alert rules pass Debian's promtool (check and unit tests with series fixtures),
/// and the PrometheusRule holds exactly the groups of the plain rules file, their one source.
/// </summary>
public sealed class MonitoringTests
{
    private static string Monitoring => Path.Combine(RepositoryPaths.Kubernetes, "monitoring");

    [Fact]
    public void PromtoolChecksTheRules()
    {
        var (exit, output) = Promtool("check", "rules", Path.Combine(Monitoring, "aksauditd.rules.yml"));

        Assert.True(exit == 0, output);
        Assert.Contains("SUCCESS: 8 rules found", output, StringComparison.Ordinal);
    }

    [Fact]
    public void PromtoolUnitTestsOfTheRulesPass()
    {
        var (exit, output) = Promtool("test", "rules", Path.Combine(Monitoring, "tests", "aksauditd.rules.test.yml"));

        Assert.True(exit == 0, output);
        Assert.Contains("SUCCESS", output, StringComparison.Ordinal);
    }

    [Fact]
    public void ThePrometheusRuleHoldsTheGroupsOfTheRulesFile()
    {
        var rules = Load(Path.Combine(Monitoring, "aksauditd.rules.yml"));
        var resource = Load(Path.Combine(Monitoring, "prometheusrule.yaml"));

        Assert.Equal("PrometheusRule", ((YamlScalarNode)resource["kind"]).Value);
        Assert.Equal(Canonical(rules["groups"]), Canonical(((YamlMappingNode)resource["spec"])["groups"]));
    }

    [Fact]
    public void EveryMetricTheRulesNameIsOneTheAgentExports()
    {
        var exported = new[]
        {
            "aksauditd_build_info", "aksauditd_sync_runs_total", "aksauditd_sync_last_success_timestamp_seconds", "aksauditd_source_files",
            "aksauditd_drift_files", "aksauditd_rules_desired", "aksauditd_rules_loaded", "aksauditd_kernel_rule_drift", "aksauditd_auditd_running",
            "aksauditd_audit_enabled", "aksauditd_kernel_lost_events_total", "aksauditd_kernel_backlog", "aksauditd_kernel_backlog_limit",
            "aksauditd_restarts_total", "aksauditd_source_rejected",
        };
        var text = File.ReadAllText(Path.Combine(Monitoring, "aksauditd.rules.yml"));
        var named = System.Text.RegularExpressions.Regex.Matches(text, @"aksauditd_[a-z_]+").Select(m => m.Value).Distinct();

        Assert.All(named, name => Assert.Contains(name, exported));
        var source = File.ReadAllText(Path.Combine(RepositoryPaths.Root, "src/AksAuditd.Core/Health/MetricsEndpoint.cs"));
        Assert.All(exported, name => Assert.Contains($"\"{name}\"", source, StringComparison.Ordinal));
    }

    private static YamlMappingNode Load(string path)
    {
        var stream = new YamlStream();
        stream.Load(new StringReader(File.ReadAllText(path)));
        return (YamlMappingNode)stream.Documents[0].RootNode;
    }

    /// <summary>A node as text that ignores quoting and layout: mappings, sequences and scalar values only.</summary>
    private static string Canonical(YamlNode node) => node switch
    {
        YamlMappingNode mapping => "{" + string.Join(",", mapping.Children.Select(p => $"{((YamlScalarNode)p.Key).Value}:{Canonical(p.Value)}")) + "}",
        YamlSequenceNode sequence => "[" + string.Join(",", sequence.Children.Select(Canonical)) + "]",
        YamlScalarNode scalar => System.Text.Json.JsonSerializer.Serialize(scalar.Value),
        _ => throw new InvalidDataException($"unexpected YAML node {node.NodeType}"),
    };

    private static (int Exit, string Output) Promtool(params string[] arguments)
    {
        var start = new ProcessStartInfo("promtool") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEnd() + process.StandardError.ReadToEnd();
        process.WaitForExit();
        return (process.ExitCode, output);
    }
}
