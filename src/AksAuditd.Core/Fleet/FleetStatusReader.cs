using System.Globalization;
using System.Text.RegularExpressions;
using AksAuditd.Core.Health;
using k8s;
using k8s.Models;

namespace AksAuditd.Core.Fleet;

/// <summary>One node's audit health, read from the conditions its agent wrote. Null: the agent never reported.</summary>
public sealed class FleetNodeStatus
{
    public required string Node { get; init; }

    /// <summary>AuditdProblem is False; null when the condition is missing or Unknown.</summary>
    public bool? AuditdRunning { get; init; }

    /// <summary>AuditRulesDrift is False.</summary>
    public bool? RulesInSync { get; init; }

    /// <summary>AuditEventsLost is True: the kernel dropped events in the last window.</summary>
    public bool? EventsLost { get; init; }

    /// <summary>When the agent last wrote rules or plugins to the node.</summary>
    public DateTimeOffset? LastApplied { get; init; }

    public string? AgentVersion { get; init; }

    /// <summary>When the agent last wrote the conditions (their lastHeartbeatTime).</summary>
    public DateTimeOffset? LastReport { get; init; }

    /// <summary>The reasons of the conditions that are True or Unknown, for a person to read.</summary>
    public IReadOnlyList<string> Problems { get; init; } = Array.Empty<string>();

    /// <summary>Every condition known and healthy: auditd running, rules in sync, no events lost.</summary>
    public bool Healthy => AuditdRunning == true && RulesInSync == true && EventsLost == false;
}

/// <summary>Reads every Node and turns the AksAuditd conditions into one row per node.</summary>
public sealed partial class FleetStatusReader
{
    private readonly IKubernetes _client;

    public FleetStatusReader(IKubernetes client)
    {
        _client = client;
    }

    /// <summary>
    /// A client configured as kubectl is: <paramref name="kubeconfig"/>, else $KUBECONFIG, else ~/.kube/config,
    /// else the pod's service account; <paramref name="context"/> overrides the current context.
    /// </summary>
    /// <exception cref="k8s.Exceptions.KubeConfigException">No usable kubeconfig and not in a pod.</exception>
    public static IKubernetes ClientFor(string? kubeconfig, string? context)
    {
        KubernetesClientConfiguration configuration;
        if (kubeconfig is not null || context is not null)
        {
            configuration = KubernetesClientConfiguration.BuildConfigFromConfigFile(kubeconfig, context);
        }
        else
        {
            configuration = KubernetesClientConfiguration.BuildDefaultConfig();
        }

        return ApiObjectJson.Client(configuration);
    }

    /// <summary>One row per node, read from the conditions the agents wrote.</summary>
    /// <param name="labelSelector">Restricts the nodes, as kubectl get nodes -l does; null for all.</param>
    /// <param name="cancellation">Ends the read (Ctrl+C in the cmdlet).</param>
    public async Task<IReadOnlyList<FleetNodeStatus>> ReadAsync(string? labelSelector = null, CancellationToken cancellation = default)
    {
        var rows = new List<FleetNodeStatus>();
        string? next = null;
        do
        {
            var page = await _client.CoreV1.ListNodeAsync(labelSelector: labelSelector, continueParameter: next, limit: 500, cancellationToken: cancellation).ConfigureAwait(false);
            rows.AddRange(page.Items.Select(Row));
            next = page.Metadata?.ContinueProperty;
        }
        while (!string.IsNullOrEmpty(next));

        return rows.OrderBy(r => r.Node, StringComparer.Ordinal).ToList();
    }

    public static FleetNodeStatus Row(V1Node node)
    {
        var conditions = node.Status?.Conditions ?? [];
        V1NodeCondition? Find(string type) => conditions.FirstOrDefault(c => c.Type == type);
        static bool? Is(V1NodeCondition? condition, string status) =>
            condition is null || condition.Status is not ("True" or "False") ? null : condition.Status == status;

        var problem = Find(NodeHealthSnapshot.AuditdProblem);
        var drift = Find(NodeHealthSnapshot.AuditRulesDrift);
        var lost = Find(NodeHealthSnapshot.AuditEventsLost);
        string? version = null;
        DateTimeOffset? applied = null;
        if (drift?.Message is { } message && AgentSuffix().Match(message) is { Success: true } match)
        {
            version = match.Groups["version"].Value;
            if (DateTimeOffset.TryParse(match.Groups["applied"].Value, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var time))
            {
                applied = time;
            }
        }

        var heartbeats = new[] { problem, drift, lost }.Where(c => c?.LastHeartbeatTime is not null).Select(c => c!.LastHeartbeatTime!.Value).ToList();
        return new FleetNodeStatus
        {
            Node = node.Metadata.Name,
            AuditdRunning = Is(problem, "False"),
            RulesInSync = Is(drift, "False"),
            EventsLost = Is(lost, "True"),
            LastApplied = applied,
            AgentVersion = version,
            LastReport = heartbeats.Count == 0 ? null : new DateTimeOffset(DateTime.SpecifyKind(heartbeats.Max(), DateTimeKind.Utc)),
            Problems = new[] { problem, drift, lost }.Where(c => c is not null && c.Status != "False").Select(c => $"{c!.Type}: {c.Reason}").ToList(),
        };
    }

    [GeneratedRegex(@"\[agent (?<version>[^;\]]+); applied (?<applied>[^\]]+)\]$")]
    private static partial Regex AgentSuffix();
}

/// <summary>Why the fleet could not be read: named so a cmdlet maps it without knowing the client library's types.</summary>
public enum FleetFailure
{
    /// <summary>No usable kubeconfig, context or service account.</summary>
    Configuration,

    /// <summary>The API server refused the credentials (401).</summary>
    Unauthorized,

    /// <summary>The credentials may not list nodes (403).</summary>
    Forbidden,

    /// <summary>The API server's TLS certificate is not issued by the authority the kubeconfig trusts.</summary>
    UntrustedServer,

    /// <summary>Any other answer, or no answer at all.</summary>
    Unreachable,
}

/// <summary>The fleet could not be read; <see cref="Target"/> names the kubeconfig or the API resource at fault.</summary>
public sealed class FleetStatusException : Exception
{
    public FleetStatusException(FleetFailure failure, string target, string message, Exception inner)
        : base(message, inner)
    {
        Failure = failure;
        Target = target;
    }

    public FleetFailure Failure { get; }

    public string Target { get; }
}

/// <summary>The cmdlet's one call: configure as kubectl does, list, and turn the library's failures into ours.</summary>
public static class FleetStatus
{
    /// <exception cref="FleetStatusException">The kubeconfig is unusable or the API server cannot be asked.</exception>
    public static IReadOnlyList<FleetNodeStatus> Read(string? kubeconfig, string? context, string? labelSelector)
    {
        IKubernetes client;
        try
        {
            client = FleetStatusReader.ClientFor(kubeconfig, context);
        }
        catch (Exception e) when (e is k8s.Exceptions.KubeConfigException or FileNotFoundException or ArgumentException)
        {
            throw new FleetStatusException(FleetFailure.Configuration, kubeconfig ?? "kubeconfig", $"No usable Kubernetes configuration{(kubeconfig is null ? string.Empty : $" in {kubeconfig}")}: {e.Message}", e);
        }

        using (client as IDisposable)
        {
            try
            {
                return new FleetStatusReader(client).ReadAsync(labelSelector).GetAwaiter().GetResult();
            }
            catch (k8s.Autorest.HttpOperationException e)
            {
                var status = (int)e.Response.StatusCode;
                var failure = status switch { 401 => FleetFailure.Unauthorized, 403 => FleetFailure.Forbidden, _ => FleetFailure.Unreachable };
                throw new FleetStatusException(failure, "nodes", $"The Kubernetes API answered {status} to listing nodes: {e.Response.Content}", e);
            }
            catch (HttpRequestException e) when (ApiTlsFailure.Of(e) is { } tls)
            {
                throw new FleetStatusException(FleetFailure.UntrustedServer, client is k8s.Kubernetes k ? k.BaseUri.ToString() : "nodes",
                    $"The Kubernetes API server's certificate is not trusted by the certificate authority of {kubeconfig ?? "the kubeconfig"}: {tls.Message}", e);
            }
            catch (HttpRequestException e)
            {
                throw new FleetStatusException(FleetFailure.Unreachable, "nodes", $"Cannot reach the Kubernetes API: {e.Message}", e);
            }
        }
    }
}
