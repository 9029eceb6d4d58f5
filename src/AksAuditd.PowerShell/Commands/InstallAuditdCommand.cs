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

    /// <summary>A folder of .deb or .rpm files to install from instead of the distribution's mirrors (default: the configured PackagePath).</summary>
    [Parameter]
    public string? PackagePath { get; set; }

    protected override void ProcessRecord()
    {
        var configuration = LoadConfiguration();
        var root = ResolveHostRoot(HostRoot, configuration);
        var packages = PackagePath is null ? configuration.PackagePath : SessionState.Path.GetUnresolvedProviderPathFromPSPath(PackagePath);
        var runner = NodeRunner(root, packages is null ? null : $"; installing from the packages in {packages}");
        var result = RunOnNode(root, () =>
        {
            try
            {
                return new AuditdInstaller(runner, Log) { PackagePath = packages }.Install(line => ShouldProcess(root, line));
            }
            catch (PackageFolderException e)
            {
                ThrowTerminatingError(new ErrorRecord(e, "PackageFolderUnusable", ErrorCategory.ObjectNotFound, e.Folder));
                throw; // not reached: ThrowTerminatingError always throws
            }
        });
        WriteVerbose(result.AlreadyInstalled
            ? $"{string.Join(", ", result.Packages)} already installed on {result.Distribution}; no package manager ran"
            : $"{result.PackageManager} installs {string.Join(", ", result.Packages)} on {result.Distribution}");
        WriteObject(result);
    }
}
