using AksAuditd.Core.Host;

namespace AksAuditd.Tests.Shared;

/// <summary>The Core tests' view of the machine: the real host command runner on HostRoot /, behind the kernel load guard.</summary>
public sealed partial class MachineAudit
{
    public IHostCommandRunner Runner { get; } = new GuardedHostCommandRunner(new HostCommandRunner("/", HostAccessMode.Direct));
}

/// <summary>
/// Runs every command through <see cref="KernelLoadGuard"/> first, so a restarter or drift reader under test can
/// never load -e 2 or -f 2 into this machine's kernel, whatever rules.d holds.
/// </summary>
public sealed class GuardedHostCommandRunner : IHostCommandRunner
{
    private readonly IHostCommandRunner _inner;

    public GuardedHostCommandRunner(IHostCommandRunner inner) => _inner = inner;

    public string HostRoot => _inner.HostRoot;

    public HostAccessMode Mode => _inner.Mode;

    public string Render(HostCommand command) => _inner.Render(command);

    public HostCommandResult Run(HostCommand command)
    {
        KernelLoadGuard.AssertSafeCommand(command.Program, command.Arguments, _inner.HostRoot);
        return _inner.Run(command);
    }
}
