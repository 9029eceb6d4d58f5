using System.Management.Automation;
using AksAuditd.Core.Host;

namespace AksAuditd.PowerShell.Commands;

/// <summary>Installs auditd and its plugins on the node with its package manager, then enables and starts it.</summary>
[Cmdlet(VerbsLifecycle.Install, "Auditd", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium)]
[OutputType("AksAuditd.Core.Host.InstallResult")]
public sealed class InstallAuditdCommand : AksAuditdCmdlet
{
    /// <summary>Where the node's / is mounted (default: the configured HostRoot, /node in the DaemonSet).</summary>
    [Parameter(Position = 0, ValueFromPipelineByPropertyName = true)]
    public string? HostRoot { get; set; }

    protected override void ProcessRecord()
    {
        var root = ResolveHostRoot(HostRoot);
        var runner = NodeRunner(root);
        var result = RunOnNode(root, () => new AuditdInstaller(runner, Log).Install(line => ShouldProcess(root, line)));
        WriteVerbose(result.AlreadyInstalled
            ? $"{string.Join(", ", result.Packages)} already installed on {result.Distribution}; no package manager ran"
            : $"{result.PackageManager} installs {string.Join(", ", result.Packages)} on {result.Distribution}");
        WriteObject(result);
    }
}
