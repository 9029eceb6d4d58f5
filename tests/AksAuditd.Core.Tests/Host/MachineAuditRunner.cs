using AksAuditd.Core.Host;

namespace AksAuditd.Tests.Shared;

/// <summary>The Core tests' view of the machine: the real host command runner on HostRoot /.</summary>
public sealed partial class MachineAudit
{
    public HostCommandRunner Runner { get; } = new("/", HostAccessMode.Direct);
}
