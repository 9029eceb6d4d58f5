namespace AksAuditd.Core.Host;

/// <summary>
/// Why auditctl could not open the audit netlink socket. auditctl says "audit support not in kernel" for any
/// failure of socket(AF_NETLINK, SOCK_RAW, NETLINK_AUDIT), but in a container the kernel almost always has audit
/// support and something around the container refused the socket: this names those causes.
/// </summary>
public static class AuditSocketDiagnosis
{
    /// <summary>What auditctl (audit-userspace's audit_open) prints when the socket cannot be created.</summary>
    public const string AuditctlMessage = "Cannot open netlink audit socket";

    /// <summary>True when <paramref name="standardError"/> is auditctl's "cannot open the audit socket" message.</summary>
    public static bool IsSocketRefusal(string standardError) =>
        standardError.Contains(AuditctlMessage, StringComparison.Ordinal);

    /// <summary>
    /// The likely causes, most likely first; <paramref name="inInitialPidNamespace"/> says whether this process
    /// shares the node's PID namespace (hostPID), the only one whose audit requests the kernel accepts.
    /// </summary>
    public static string Explain(bool inInitialPidNamespace)
    {
        var causes = new List<string>
        {
            "the container's seccomp profile refuses socket(AF_NETLINK, SOCK_RAW, NETLINK_AUDIT) without CAP_AUDIT_WRITE " +
                "(the containers/common default of podman and CRI-O does): add AUDIT_WRITE to the container's capabilities",
            "the container lacks CAP_AUDIT_CONTROL (capabilities.add: AUDIT_CONTROL)",
        };
        causes.Add(inInitialPidNamespace
            ? "a seccomp profile or security module (SELinux, AppArmor) of the node's own refuses netlink sockets"
            : "this process is not in the node's PID namespace: the pod needs hostPID: true");
        return "auditctl could not open the audit netlink socket; 'audit support not in kernel' is its guess for any such " +
            "failure. Likely causes: " + string.Join("; ", causes.Select((c, i) => $"({i + 1}) {c}")) + ".";
    }
}
