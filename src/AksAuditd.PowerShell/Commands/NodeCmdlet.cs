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
}
