using System.Management.Automation;
using AksAuditd.Core.Fleet;

namespace AksAuditd.PowerShell.Commands;

/// <summary>One row per node from the conditions the agents write: is auditd running, with our rules, on every node?</summary>
[Cmdlet(VerbsCommon.Get, "AuditFleetStatus")]
[OutputType("AksAuditd.Core.Fleet.FleetNodeStatus")]
public sealed class GetAuditFleetStatusCommand : AksAuditdCmdlet
{
    /// <summary>Only these nodes (wildcards).</summary>
    [Parameter(Position = 0, ValueFromPipelineByPropertyName = true)]
    [Alias("Name")]
    [SupportsWildcards]
    public string[]? Node { get; set; }

    /// <summary>The kubeconfig file (default as kubectl: $KUBECONFIG, then ~/.kube/config, then the pod's service account).</summary>
    [Parameter]
    public string? Kubeconfig { get; set; }

    /// <summary>The kubeconfig context (default: its current-context).</summary>
    [Parameter]
    public string? Context { get; set; }

    /// <summary>A label selector, as kubectl get nodes -l.</summary>
    [Parameter]
    [Alias("l")]
    public string? Selector { get; set; }

    /// <summary>Only nodes that are not healthy (auditd not running, rules not in sync, events lost, or unknown).</summary>
    [Parameter]
    public SwitchParameter Unhealthy { get; set; }

    private IReadOnlyList<FleetNodeStatus>? _rows;

    protected override void ProcessRecord()
    {
        _rows ??= Read();
        var patterns = Node?.Select(n => new WildcardPattern(n, WildcardOptions.IgnoreCase)).ToList();
        foreach (var row in _rows)
        {
            if (patterns is not null && !patterns.Any(p => p.IsMatch(row.Node)))
            {
                continue;
            }

            if (Unhealthy.IsPresent && row.Healthy)
            {
                continue;
            }

            WriteObject(row);
        }
    }

    private IReadOnlyList<FleetNodeStatus> Read()
    {
        var kubeconfig = Kubeconfig is null ? null : SessionState.Path.GetUnresolvedProviderPathFromPSPath(Kubeconfig);
        WriteVerbose($"Listing nodes{(Selector is null ? string.Empty : $" with labels {Selector}")}");
        try
        {
            return FleetStatus.Read(kubeconfig, Context, Selector);
        }
        catch (FleetStatusException e)
        {
            var (id, category) = e.Failure switch
            {
                FleetFailure.Configuration => ("KubeconfigUnusable", ErrorCategory.InvalidArgument),
                FleetFailure.Unauthorized => ("KubernetesUnauthorized", ErrorCategory.AuthenticationError),
                FleetFailure.Forbidden => ("KubernetesForbidden", ErrorCategory.PermissionDenied),
                FleetFailure.UntrustedServer => ("KubernetesServerUntrusted", ErrorCategory.SecurityError),
                _ => ("KubernetesApiUnreachable", ErrorCategory.ConnectionError),
            };
            ThrowTerminatingError(new ErrorRecord(e, id, category, e.Target));
            throw; // not reached
        }
    }
}
