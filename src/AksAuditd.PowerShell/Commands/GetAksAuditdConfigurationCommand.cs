using System.Management.Automation;
using AksAuditd.Core.Configuration;

namespace AksAuditd.PowerShell.Commands;

/// <summary>Returns the effective settings and where each came from.</summary>
[Cmdlet(VerbsCommon.Get, "AksAuditdConfiguration")]
[OutputType("AksAuditd.Core.Configuration.AksAuditdConfiguration")]
public sealed class GetAksAuditdConfigurationCommand : AksAuditdCmdlet
{
    /// <summary>The config.yaml to read instead of AA_CONFIG_FILE or /etc/aks-auditd/config.yaml.</summary>
    [Parameter(Position = 0, ValueFromPipelineByPropertyName = true)]
    [Alias("FullName", "ConfigFile")]
    public string? Path { get; set; }

    protected override void ProcessRecord()
    {
        var path = Path is null ? null : SessionState.Path.GetUnresolvedProviderPathFromPSPath(Path);
        WriteVerbose(path is null ? "Reading configuration from AA_CONFIG_FILE or the default file" : $"Reading configuration from {path}");
        WriteObject(LoadConfiguration(path, everyWarning: true));
    }
}
