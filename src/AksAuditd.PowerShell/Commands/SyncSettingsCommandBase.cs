using System.Management.Automation;
using AksAuditd.Core.Configuration;
using AksAuditd.Core.Sync;

namespace AksAuditd.PowerShell.Commands;

/// <summary>
/// The sync settings every sync cmdlet takes (Sync-AuditRules, Sync-AuditPlugins, Sync-AuditNode) and how each
/// falls back to the configuration, so a setting means the same whichever cmdlet the operator or the entrypoint runs.
/// </summary>
public abstract class SyncSettingsCommandBase : AksAuditdCmdlet
{
    /// <summary>Where the managed-file record and backup generations live, as this process reaches it (default: the configured StateDirectory under the host root).</summary>
    [Parameter]
    public string? StatePath { get; set; }

    /// <summary>Managed (remove only files we placed) or Mirror (match the source exactly).</summary>
    [Parameter]
    [ValidateSet("Managed", "Mirror", IgnoreCase = true)]
    public string? Mode { get; set; }

    [Parameter]
    public SwitchParameter AllowEmpty { get; set; }

    /// <summary>-Mode, else the configured SyncMode.</summary>
    private protected SyncMode EffectiveMode(AksAuditdConfiguration configuration) =>
        Mode is null ? configuration.SyncMode : Enum.Parse<SyncMode>(Mode, ignoreCase: true);

    /// <summary>-AllowEmpty or the configured AllowEmptySource.</summary>
    private protected bool EffectiveAllowEmpty(AksAuditdConfiguration configuration) =>
        AllowEmpty.IsPresent || configuration.AllowEmptySource;

    /// <summary>A path parameter resolved against the current location; null when it was not given.</summary>
    private protected string? ResolvePath(string? path) => path is null ? null : SessionState.Path.GetUnresolvedProviderPathFromPSPath(path);
}
