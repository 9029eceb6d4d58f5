using System.Management.Automation;
using AksAuditd.Core.Configuration;
using AksAuditd.Core.Rules;
using AksAuditd.Core.Sync;

namespace AksAuditd.PowerShell.Commands;

/// <summary>Makes the node's plugins.d match a plugins ConfigMap, refusing plugin programs not on the allow-list.</summary>
[Cmdlet(VerbsData.Sync, "AuditPlugins", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium)]
[OutputType("AksAuditd.Core.Sync.SyncResult")]
public sealed class SyncAuditPluginsCommand : SyncCommandBase
{
    /// <summary>Plugin programs a file may name in its path (or * for any); overrides the configuration's allowedPluginPaths. None: the audit package's own programs.</summary>
    [Parameter]
    public string[]? AllowedPluginPath { get; set; }

    private protected override string KindName => "plugins";

    private protected override string DefaultSource(AksAuditdConfiguration configuration) => configuration.PluginsSource;

    private protected override string DefaultTarget(AksAuditdConfiguration configuration) => configuration.HostPluginsDirectory;

    /// <remarks>
    /// The plugin's program is not checked on the node here (a sandbox or an init-less node root may not have it yet):
    /// Restart-Auditd verifies that auditd runs every active plugin, and names the one it does not.
    /// </remarks>
    private protected override IRuleFileValidator CreateValidator(AksAuditdConfiguration configuration) =>
        new PluginConfigValidator(PluginAllowList.From(AllowedPluginPath ?? configuration.AllowedPluginPaths));
}
