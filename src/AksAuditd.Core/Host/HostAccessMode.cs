namespace AksAuditd.Core.Host;

/// <summary>How a command reaches the node.</summary>
public enum HostAccessMode
{
    /// <summary>This process is on the node (HostRoot <c>/</c>): run the command as is.</summary>
    Direct,

    /// <summary>
    /// <c>chroot HostRoot command</c>: the node's files and binaries, but this container's namespaces. Enough for
    /// packages and files; kernel audit requests also need the pod to share the host's PID namespace.
    /// </summary>
    Chroot,

    /// <summary>
    /// <c>nsenter --target 1 --mount --uts --ipc --net --pid command</c>: the node's own namespaces, through PID 1.
    /// Needs hostPID. The kernel accepts audit netlink requests only from the initial PID namespace, so this
    /// (or hostPID with chroot) is what lets auditctl work from a pod.
    /// </summary>
    Nsenter,
}
