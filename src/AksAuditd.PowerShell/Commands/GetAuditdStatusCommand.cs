using System.Management.Automation;
using AksAuditd.Core.Host;

namespace AksAuditd.PowerShell.Commands;

/// <summary>The kernel's audit state, what is loaded, and who holds the audit PID.</summary>
[Cmdlet(VerbsCommon.Get, "AuditdStatus")]
[OutputType("AksAuditd.Core.Host.AuditdStatus")]
public sealed class GetAuditdStatusCommand : AksAuditdCmdlet
{
    [Parameter(Position = 0, ValueFromPipelineByPropertyName = true)]
    public string? HostRoot { get; set; }

    protected override void ProcessRecord()
    {
        var root = ResolveHostRoot(HostRoot);
        var runner = NodeRunner(root);
        AuditdStatus status;
        try
        {
            status = RunOnNode(root, () => new AuditdStatusReader(runner, Log).Read());
        }
        catch (FormatException e)
        {
            ThrowTerminatingError(new ErrorRecord(e, "UnreadableAuditStatus", ErrorCategory.InvalidData, root));
            return;
        }

        // The shared monitor remembers the previous reading, so the entrypoint loop hears about lost-event growth.
        foreach (var warning in AuditdStatusMonitor.Shared.Observe(status))
        {
            WriteWarning(warning.Message);
        }

        WriteObject(status);
    }
}
