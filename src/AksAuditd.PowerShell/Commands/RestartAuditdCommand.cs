using System.Management.Automation;
using AksAuditd.Core.Host;
using AksAuditd.Core.Sync;

namespace AksAuditd.PowerShell.Commands;

/// <summary>Makes the kernel enforce rules.d: loads rules, or reloads/restarts auditd; verifies; rolls back a rejected rule set.</summary>
[Cmdlet(VerbsLifecycle.Restart, "Auditd", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium)]
[OutputType("AksAuditd.Core.Host.RestartResult")]
public sealed class RestartAuditdCommand : AksAuditdCmdlet
{
    [Parameter(Position = 0, ValueFromPipelineByPropertyName = true)]
    public string? HostRoot { get; set; }

    /// <summary>The node's state directory as this process reaches it (default: HostRoot joined with the configured StateDirectory).</summary>
    [Parameter]
    public string? StatePath { get; set; }

    /// <summary>Auto, LoadRules, Reload or Restart (a string: Core types stay out of cmdlet signatures).</summary>
    [Parameter]
    [ValidateSet("Auto", "LoadRules", "Reload", "Restart", IgnoreCase = true)]
    public string Mode { get; set; } = "Auto";

    protected override void ProcessRecord()
    {
        var configuration = LoadConfiguration();
        var root = ResolveHostRoot(HostRoot, configuration);
        var state = StatePath is null
            ? Core.Configuration.HostPath.Join(root, configuration.StateDirectory)
            : SessionState.Path.GetUnresolvedProviderPathFromPSPath(StatePath);
        var rules = Core.Configuration.HostPath.Join(root, configuration.RulesDirectory);
        var runner = NodeRunner(root, $"; rules.d {rules}; state {state}");
        var mode = Enum.Parse<RestartMode>(Mode, ignoreCase: true);

        var restarter = new AuditdRestarter(runner, RuleCanon(root), rules, new BackupStore(state, log: Log), Log)
        {
            PluginsDirectory = Core.Configuration.HostPath.Join(root, configuration.PluginsDirectory),
        };
        var result = RunOnNode(root, () => restarter.Restart(mode, line => ShouldProcess(root, line)));

        if (result.RebootRequired)
        {
            if (result.RebootRequiredFirstReport)
            {
                WriteWarning(result.Message);
            }
            else
            {
                WriteVerbose(result.Message);
            }
        }
        else if (result.Rejection is { } rejection)
        {
            WriteError(rejection, "RuleRejected", ErrorCategory.InvalidData, rejection.File is null ? rejection.Rule : $"{rejection.File}:{rejection.Line}");
        }
        else if (result.Plugins.Count > 0)
        {
            foreach (var plugin in result.Plugins)
            {
                WriteError(new InvalidOperationException(plugin.ToString()), "PluginNotRunning", ErrorCategory.InvalidResult, plugin.File);
            }
        }
        else if (!result.Succeeded && !result.Message.StartsWith("Not run:", StringComparison.Ordinal))
        {
            WriteError(new InvalidOperationException(result.Message), "AuditdNotVerified", ErrorCategory.InvalidResult, root);
        }

        WriteObject(result);
    }
}
