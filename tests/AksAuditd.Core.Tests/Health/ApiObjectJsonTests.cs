using AksAuditd.Core.Fleet;
using AksAuditd.Core.Health;
using AksAuditd.Tests.Shared;
using k8s;
using k8s.Models;
using Xunit;

namespace AksAuditd.Core.Tests.Health;

/// <summary>
/// The agent's API client reads a whole AKS Node (as the API server answers a status patch) with its own JSON
/// metadata: the name and conditions come through, the rest is skipped, and patches keep their wire form.
/// </summary>
public sealed class ApiObjectJsonTests : IDisposable
{
    private const string NodeName = "aks-nodepool1-12345678-vmss000000";

    private readonly FakeApiServer _server = new(FakeApiServer.AksNode(
        NodeName,
        ("AuditdProblem", "False", "AuditdIsRunning", "from an earlier agent")));

    public void Dispose() => _server.Dispose();

    [Fact]
    public async Task AWholeNodeIsReadDownToItsNameAndConditions()
    {
        using var client = (Kubernetes)ApiObjectJson.Client(new KubernetesClientConfiguration { Host = _server.Url, AccessToken = FakeApiServer.Token });

        var node = await client.CoreV1.ReadNodeAsync(NodeName);

        Assert.Empty(_server.Violations);
        Assert.Equal(NodeName, node.Metadata.Name);
        Assert.Equal(16, node.Status.Conditions.Count);
        var auditd = Assert.Single(node.Status.Conditions, c => c.Type == "AuditdProblem");
        Assert.Equal(("False", "AuditdIsRunning", new DateTime(2026, 1, 1, 0, 0, 0, DateTimeKind.Utc)), (auditd.Status, auditd.Reason, auditd.LastTransitionTime));
        // What neither the agent nor the fleet view reads is skipped, not built.
        Assert.Null(node.Spec);
        Assert.Null(node.Status.Images);
        Assert.Null(node.Status.Capacity);
        Assert.Null(node.Status.NodeInfo);
        Assert.Null(node.Metadata.Labels);
        Assert.Null(node.Metadata.ManagedFields);
    }

    [Fact]
    public void TheFleetViewReadsWholeNodes()
    {
        var kubeconfig = Path.Combine(Directory.CreateTempSubdirectory("aks-auditd-kubeconfig-").FullName, "config");
        try
        {
            File.WriteAllText(kubeconfig, $"apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    server: {_server.Url}\nusers:\n- name: u\n  user:\n    token: {FakeApiServer.Token}\ncontexts:\n- name: x\n  context:\n    cluster: c\n    user: u\ncurrent-context: x\n");

            var row = Assert.Single(FleetStatus.Read(kubeconfig, null, null));

            Assert.Empty(_server.Violations);
            Assert.Equal((NodeName, (bool?)true, (bool?)null), (row.Node, row.AuditdRunning, row.RulesInSync));
        }
        finally
        {
            Directory.Delete(Path.GetDirectoryName(kubeconfig)!, recursive: true);
        }
    }

    [Fact]
    public void APatchBodyHoldsOnlyWhatIsSet()
    {
        var condition = new V1NodeCondition
        {
            Type = "AuditRulesDrift",
            Status = "False",
            Reason = "RulesInSync",
            Message = "in sync",
            LastHeartbeatTime = new DateTime(2026, 12, 7, 10, 0, 0, DateTimeKind.Utc),
            LastTransitionTime = new DateTime(2026, 12, 1, 8, 30, 0, DateTimeKind.Utc),
        };

        Assert.Equal(
            """{"status":{"conditions":[{"lastHeartbeatTime":"2026-12-07T10:00:00Z","lastTransitionTime":"2026-12-01T08:30:00Z","message":"in sync","reason":"RulesInSync","status":"False","type":"AuditRulesDrift"}]}}""",
            ApiObjectJson.PatchBody(new V1Node { Status = new V1NodeStatus { Conditions = [condition] } }));
        Assert.Equal(
            """{"series":{"count":2,"lastObservedTime":"2026-12-07T10:00:00.000000Z"}}""",
            ApiObjectJson.PatchBody(new EventSeriesPatch(new(2, "2026-12-07T10:00:00.000000Z"))));
    }
}
