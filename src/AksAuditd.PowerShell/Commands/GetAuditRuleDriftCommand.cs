using System.Management.Automation;

namespace AksAuditd.PowerShell.Commands;

/// <summary>
/// Differences between the desired rules and what is loaded. The -Kernel parameter set (kernel drift) lives in
/// GetAuditRuleDriftCommand.Kernel.cs; the file-drift parameter set joins this class in its own file.
/// </summary>
[Cmdlet(VerbsCommon.Get, "AuditRuleDrift", DefaultParameterSetName = KernelParameterSet)]
[OutputType("AksAuditd.Core.Host.KernelRuleDrift", ParameterSetName = new[] { KernelParameterSet })]
public sealed partial class GetAuditRuleDriftCommand : AksAuditdCmdlet
{
    /// <summary>Where the node's / is mounted (default: the configured HostRoot).</summary>
    [Parameter(ValueFromPipelineByPropertyName = true)]
    public string? HostRoot { get; set; }

    protected override void ProcessRecord()
    {
        switch (ParameterSetName)
        {
            case KernelParameterSet:
                WriteKernelDrift();
                break;
        }
    }
}
