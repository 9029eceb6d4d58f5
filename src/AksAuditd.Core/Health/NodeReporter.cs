using System.Runtime.CompilerServices;
using AksAuditd.Core.Logging;

namespace AksAuditd.Core.Health;

/// <summary>
/// What the loop starts once: the metrics and health endpoint and, with the fleet-status component, the Node
/// status publisher, both reading the process-wide recorder. prometheus-net and KubernetesClient are loaded only
/// by the constructor of the part that is on, so a loop with both off pays for neither.
/// </summary>
public sealed class NodeReporter : IDisposable
{
    private readonly NodeHealthRecorder _recorder;
    private MetricsEndpoint? _metrics;
    private NodeStatusPublisher? _publisher;

    private NodeReporter(NodeHealthRecorder recorder, bool verifiesKernel)
    {
        _recorder = recorder;
        VerifiesKernel = verifiesKernel;
        recorder.VerifiesKernel = verifiesKernel;
    }

    /// <summary>The listen address of /metrics, /healthz and /readyz; null when off.</summary>
    public string? MetricsAddress => _metrics?.Address;

    /// <summary>The Node whose conditions and events are written; null when node status is off.</summary>
    public string? NodeName { get; private set; }

    /// <summary>False on a sandbox node (-NoRestart): readiness then means the files match the source.</summary>
    public bool VerifiesKernel { get; }

    /// <summary>Starts what is asked for; a part that fails to start throws and leaves nothing running.</summary>
    /// <exception cref="System.Net.HttpListenerException">The metrics address cannot be bound.</exception>
    /// <exception cref="InvalidOperationException">Node status is on but the pod has no service account token.</exception>
    public static NodeReporter Start(string? metricsAddress, string? nodeName, string version, bool verifiesKernel, ILogSink? log = null, NodeHealthRecorder? recorder = null)
    {
        var reporter = new NodeReporter(recorder ?? NodeHealthRecorder.Shared, verifiesKernel);
        try
        {
            if (metricsAddress is not null)
            {
                reporter._metrics = StartMetrics(metricsAddress, version, reporter._recorder, log);
            }

            if (nodeName is not null)
            {
                reporter._publisher = StartPublisher(nodeName, version, reporter._recorder, log);
                reporter.NodeName = nodeName;
            }
        }
        catch
        {
            reporter.Dispose();
            throw;
        }

        return reporter;
    }

    /// <summary>The loop is alive (called with each heartbeat).</summary>
    public void Beat() => _recorder.Beat();

    public void Dispose()
    {
        _publisher?.Dispose();
        _metrics?.Dispose();
    }

    // Separate methods: the JIT loads prometheus-net or KubernetesClient only when the one that names it runs.
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static MetricsEndpoint StartMetrics(string address, string version, NodeHealthRecorder recorder, ILogSink? log) =>
        new(address, version, recorder, log);

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static NodeStatusPublisher StartPublisher(string nodeName, string version, NodeHealthRecorder recorder, ILogSink? log)
    {
        k8s.IKubernetes client;
        try
        {
            client = NodeStatusPublisher.InClusterClient();
        }
        catch (k8s.Exceptions.KubeConfigException e)
        {
            throw new InvalidOperationException($"Node status is on but the pod has no service account to reach the Kubernetes API: {e.Message} (is the fleet-status component applied, with its token mounted?)", e);
        }

        return new NodeStatusPublisher(client, nodeName, version, recorder, log);
    }
}
