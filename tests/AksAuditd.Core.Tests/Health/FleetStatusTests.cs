using AksAuditd.Tests.Shared;
using AksAuditd.Core.Fleet;
using Xunit;

namespace AksAuditd.Core.Tests.Health;

/// <summary>Get-AuditFleetStatus's Core: a kubeconfig as kubectl reads it, the node list request, and one row per node.</summary>
public sealed class FleetStatusTests : IDisposable
{
    private readonly FakeApiServer _server = new(
        FakeApiServer.Node(
            "node-a",
            ("Ready", "True", "KubeletReady", "ready"),
            ("AuditdProblem", "False", "AuditdIsRunning", "auditd (PID 812) holds the kernel's audit PID."),
            ("AuditRulesDrift", "False", "RulesInSync", "The kernel enforces the 45 rules of the source. [agent 0.1.0; applied 2026-12-01T10:00:00Z]"),
            ("AuditEventsLost", "False", "NoEventsLost", "No audit events lost")),
        FakeApiServer.Node(
            "node-b",
            ("AuditdProblem", "True", "AuditdNotRunning", "No audit daemon"),
            ("AuditRulesDrift", "True", "KernelRulesDiffer", "3 rules differ [agent 0.0.9; applied never]"),
            ("AuditEventsLost", "True", "EventsLost", "lost")),
        FakeApiServer.Node("node-c", ("Ready", "True", "KubeletReady", "ready")));

    private readonly DirectoryInfo _home = Directory.CreateTempSubdirectory("aks-auditd-kubeconfig-");

    public void Dispose()
    {
        _server.Dispose();
        _home.Delete(recursive: true);
    }

    [Fact]
    public void OneRowPerNodeFromTheAgentsConditions()
    {
        var rows = FleetStatus.Read(Kubeconfig(FakeApiServer.Token), null, null);

        Assert.Empty(_server.Violations);
        var list = Assert.Single(_server.Requests);
        Assert.Equal(("GET", "/api/v1/nodes"), (list.Method, list.Path));
        Assert.Contains("limit=500", list.Query, StringComparison.Ordinal);
        Assert.Equal(new[] { "node-a", "node-b", "node-c" }, rows.Select(r => r.Node));

        var a = rows[0];
        Assert.Equal((true, true, false, "0.1.0", true), (a.AuditdRunning, a.RulesInSync, a.EventsLost, a.AgentVersion, a.Healthy));
        Assert.Equal(new DateTimeOffset(2026, 12, 1, 10, 0, 0, TimeSpan.Zero), a.LastApplied);
        var b = rows[1];
        Assert.Equal((false, false, true, "0.0.9", false), (b.AuditdRunning, b.RulesInSync, b.EventsLost, b.AgentVersion, b.Healthy));
        Assert.Null(b.LastApplied);
        Assert.Contains("AuditRulesDrift: KernelRulesDiffer", b.Problems);
        var c = rows[2];
        Assert.Equal(((bool?)null, (bool?)null, (bool?)null, (string?)null, false), (c.AuditdRunning, c.RulesInSync, c.EventsLost, c.AgentVersion, c.Healthy));
    }

    [Fact]
    public void TheContextChoosesTheClusterAndUser()
    {
        var path = Kubeconfig("wrong-token", extraContext: true);

        Assert.Equal(3, FleetStatus.Read(path, "good", null).Count);
        var failure = Assert.Throws<FleetStatusException>(() => FleetStatus.Read(path, null, null));
        Assert.Equal(FleetFailure.Unauthorized, failure.Failure);
    }

    [Fact]
    public void AnUnauthorizedAnswerIsNamed()
    {
        var failure = Assert.Throws<FleetStatusException>(() => FleetStatus.Read(Kubeconfig("expired"), null, null));

        Assert.Equal(FleetFailure.Unauthorized, failure.Failure);
        Assert.Contains("401", failure.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void AServerErrorAndAMissingKubeconfigAreNamed()
    {
        _server.FailNext("list-nodes", 500);
        Assert.Equal(FleetFailure.Unreachable, Assert.Throws<FleetStatusException>(() => FleetStatus.Read(Kubeconfig(FakeApiServer.Token), null, null)).Failure);

        var missing = Path.Combine(_home.FullName, "missing.yaml");
        var failure = Assert.Throws<FleetStatusException>(() => FleetStatus.Read(missing, null, null));
        Assert.Equal(FleetFailure.Configuration, failure.Failure);
        Assert.Equal(missing, failure.Target);
    }

    private string Kubeconfig(string token, bool extraContext = false)
    {
        var path = Path.Combine(_home.FullName, $"config-{Guid.NewGuid():N}");
        File.WriteAllText(path, $"""
            apiVersion: v1
            kind: Config
            clusters:
              - name: test
                cluster:
                  server: {_server.Url}
            users:
              - name: current
                user:
                  token: {token}
              - name: good
                user:
                  token: {FakeApiServer.Token}
            contexts:
              - name: current
                context:
                  cluster: test
                  user: current
            {(extraContext ? "  - name: good\n    context:\n      cluster: test\n      user: good\n" : string.Empty)}current-context: current
            """);
        return path;
    }
}
