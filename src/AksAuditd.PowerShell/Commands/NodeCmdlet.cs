using AksAuditd.Core.Configuration;
using AksAuditd.Core.Host;

namespace AksAuditd.PowerShell.Commands;

/// <summary>What the node cmdlets share: resolving the host root and choosing the rules engine.</summary>
internal static class NodeCmdlet
{
    public static string ResolveHostRoot(AksAuditdCmdlet cmdlet, string? hostRoot, AksAuditdConfiguration? configuration = null)
    {
        var root = hostRoot is null
            ? (configuration ?? cmdlet.LoadConfiguration()).HostRoot
            : cmdlet.SessionState.Path.GetUnresolvedProviderPathFromPSPath(hostRoot);
        return root.Length > 1 ? root.TrimEnd('/') : root;
    }

    public static IKernelRuleCanon RuleCanon(string hostRoot) => KernelRuleCanon.ForNode(hostRoot);

    public static IEnumerable<string> StatusWarnings(AuditdStatus status, long? previousLost)
    {
        if (previousLost is { } before && status.Lost > before)
        {
            yield return $"The kernel lost {status.Lost - before} audit events since the last check ({status.Lost} in all): raise the backlog limit (-b) or lower the event rate.";
        }

        if (status.BacklogNearLimit)
        {
            yield return $"The audit backlog is {status.Backlog} of {status.BacklogLimit}: events will be lost when it is full.";
        }

        if (status.Pid != 0 && status.PidHolder != "auditd")
        {
            yield return $"{status.PidHolder ?? "An unknown process"} (PID {status.Pid}) holds the kernel's audit PID, not auditd.";
        }

        if (status.Immutable)
        {
            yield return "Audit rules are immutable (enabled 2) until the node reboots.";
        }
    }
}
