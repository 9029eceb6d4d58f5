using System.Management.Automation;
using AksAuditd.Core.Health;

namespace AksAuditd.PowerShell.Commands;

/// <summary>
/// Starts the loop's reporting: /metrics, /healthz and /readyz on the configured address and, when node status
/// is on, the Node conditions and Events. Everything it reports comes from what the other cmdlets' Core services
/// record in this process, so it is started once and then only told that the loop is alive (Beat()).
/// </summary>
[Cmdlet(VerbsLifecycle.Start, "AksAuditdReporter", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Low)]
[OutputType("AksAuditd.Core.Health.NodeReporter")]
public sealed class StartAksAuditdReporterCommand : AksAuditdCmdlet
{
    /// <summary>host:port of the endpoint (default: metricsAddress / AA_METRICS_ADDRESS); "off" for none.</summary>
    [Parameter]
    public string? MetricsAddress { get; set; }

    /// <summary>Write Node conditions and Events (default: nodeStatus / AA_NODE_STATUS).</summary>
    [Parameter]
    public SwitchParameter NodeStatus { get; set; }

    /// <summary>The Node to write to (default: $env:NODE_NAME, set by the DaemonSet from spec.nodeName).</summary>
    [Parameter]
    public string? NodeName { get; set; }

    /// <summary>The loop never runs Restart-Auditd (a sandbox node): ready means the files match the source.</summary>
    [Parameter]
    public SwitchParameter NoKernel { get; set; }

    protected override void EndProcessing()
    {
        var configuration = LoadConfiguration();
        var address = MetricsAddress ?? configuration.MetricsAddress;
        if (address is not null && (address.Length == 0 || address.Equals("off", StringComparison.OrdinalIgnoreCase)))
        {
            address = null;
        }

        var statusOn = MyInvocation.BoundParameters.ContainsKey(nameof(NodeStatus)) ? NodeStatus.IsPresent : configuration.NodeStatus;
        var node = NodeName ?? Environment.GetEnvironmentVariable("NODE_NAME");
        if (statusOn && string.IsNullOrEmpty(node))
        {
            ThrowTerminatingError(new ErrorRecord(
                new InvalidOperationException("Node status is on but no node name is known: set NODE_NAME (the DaemonSet sets it from spec.nodeName) or pass -NodeName."),
                "NodeNameMissing", ErrorCategory.InvalidArgument, nameof(NodeName)));
        }

        var what = $"metrics {(address ?? "off")}; node status {(statusOn ? $"on Node {node}" : "off")}";
        if (!ShouldProcess(what, "Start reporting"))
        {
            return;
        }

        var version = MyInvocation.MyCommand.Module?.Version?.ToString() ?? typeof(NodeReporter).Assembly.GetName().Version?.ToString(3) ?? "unknown";
        try
        {
            var reporter = NodeReporter.Start(address, statusOn ? node : null, version, !NoKernel.IsPresent, Log);
            WriteVerbose($"Reporting: metrics {(address ?? "off")}; node status {(statusOn ? node : "off")}");
            WriteObject(reporter);
        }
        catch (System.Net.HttpListenerException e)
        {
            ThrowTerminatingError(new ErrorRecord(new InvalidOperationException($"Cannot serve metrics on {address}: {e.Message}", e), "MetricsAddressUnavailable", ErrorCategory.ResourceUnavailable, address));
        }
        catch (InvalidOperationException e)
        {
            ThrowTerminatingError(new ErrorRecord(e, "NoServiceAccount", ErrorCategory.AuthenticationError, node));
        }
    }
}
