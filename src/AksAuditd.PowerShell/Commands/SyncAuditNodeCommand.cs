using System.Management.Automation;
using AksAuditd.Core.Configuration;
using AksAuditd.Core.Host;
using AksAuditd.Core.Sync;

namespace AksAuditd.PowerShell.Commands;

/// <summary>
/// One whole reconcile pass: Sync-AuditRules, Sync-AuditPlugins, Restart-Auditd -Mode Auto when anything is
/// pending, then Get-AuditdStatus. Each step runs whatever the one before did; the result carries each step's own object.
/// </summary>
[Cmdlet(VerbsData.Sync, "AuditNode", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium)]
[OutputType("AksAuditd.Core.Sync.NodeSyncResult")]
public sealed class SyncAuditNodeCommand : SyncSettingsCommandBase
{
    /// <summary>Where the node's / is mounted (default: the configured HostRoot, /node in the DaemonSet).</summary>
    [Parameter(Position = 0, ValueFromPipelineByPropertyName = true)]
    public string? HostRoot { get; set; }

    [Parameter]
    public string? RulesSourcePath { get; set; }

    /// <summary>
    /// The settings to use instead of reading config.yaml and the environment (what Get-AksAuditdConfiguration
    /// returned). The entrypoint passes the configuration it last read successfully, so a broken edit of the file
    /// does not stop the passes. An object, not the Core type: Core types stay out of cmdlet signatures (the module
    /// resolves its Dependencies only after the signatures are read).
    /// </summary>
    [Parameter]
    public object? Configuration { get; set; }

    [Parameter]
    public string? PluginsSourcePath { get; set; }

    /// <summary>Sync files only: never restart auditd, never read the kernel (a sandbox node without auditd).</summary>
    [Parameter]
    public SwitchParameter NoRestart { get; set; }

    /// <summary>Skip the status check at the end of the pass.</summary>
    [Parameter]
    public SwitchParameter SkipStatus { get; set; }

    /// <summary>Run Restart-Auditd -Mode Auto even when nothing is pending: it starts a stopped auditd and checks the kernel's rules.</summary>
    [Parameter]
    public SwitchParameter Verify { get; set; }

    protected override void ProcessRecord()
    {
        var configuration = GivenConfiguration() ?? LoadConfiguration();
        var root = ResolveHostRoot(HostRoot, configuration);
        var state = ResolvePath(StatePath) ?? HostPath.Join(root, configuration.StateDirectory);
        var rulesSource = ResolvePath(RulesSourcePath) ?? configuration.RulesSource;
        var pluginsSource = ResolvePath(PluginsSourcePath) ?? configuration.PluginsSource;
        var rulesTarget = HostPath.Join(root, configuration.RulesDirectory);
        var pluginsTarget = HostPath.Join(root, configuration.PluginsDirectory);
        var mode = EffectiveMode(configuration);
        var allowEmpty = EffectiveAllowEmpty(configuration);

        SyncRequest Sync(SyncKind kind, string source, string target) => new()
        {
            Kind = kind,
            SourcePath = source,
            TargetPath = target,
            StatePath = state,
            Mode = mode,
            AllowEmpty = allowEmpty,
            AllowImmutable = configuration.AllowImmutable,
            AllowPanic = configuration.AllowPanic,
            Confirm = plan => ShouldProcess(target, $"Sync {kind.StateName()} from {source} ({mode}): {plan.Summary}"),
        };

        var runner = HostCommandRunner.For(root, Log);
        WriteVerbose($"One pass over the node at {root} ({runner.Mode}): rules {rulesSource} -> {rulesTarget}, plugins {pluginsSource} -> {pluginsTarget}, state {state}");
        var request = new NodeSyncRequest
        {
            Rules = Sync(SyncKind.Rules, rulesSource, rulesTarget),
            Plugins = Sync(SyncKind.Plugins, pluginsSource, pluginsTarget),
            RulesValidator = SyncAuditRulesCommand.Validator(configuration),
            PluginsValidator = SyncAuditPluginsCommand.Validator(configuration, null),
            RulesSession = SyncSession.Shared(SyncKind.Rules, rulesSource, rulesTarget),
            PluginsSession = SyncSession.Shared(SyncKind.Plugins, pluginsSource, pluginsTarget),
            Restart = !NoRestart.IsPresent,
            Status = !NoRestart.IsPresent && !SkipStatus.IsPresent,
            Verify = Verify.IsPresent,
            // As Restart-Auditd does: a plugin change is done only when auditd runs the plugin as plugins.d says.
            PluginsDirectory = pluginsTarget,
            ApproveRestart = line => ShouldProcess(root, line),
        };

        var result = new NodeSyncService(runner, RuleCanon(root), Log).Run(request);
        Report(result, root);
        WriteObject(result);
    }

    /// <summary>-Configuration as the Core's configuration; anything else is a terminating error naming the parameter.</summary>
    private AksAuditdConfiguration? GivenConfiguration()
    {
        var given = Configuration is PSObject wrapped ? wrapped.BaseObject : Configuration;
        if (given is null or AksAuditdConfiguration)
        {
            return (AksAuditdConfiguration?)given;
        }

        ThrowTerminatingError(new ErrorRecord(
            new PSArgumentException($"-Configuration takes what Get-AksAuditdConfiguration returns, not a {given.GetType().FullName}.", nameof(Configuration)),
            "InvalidConfigurationObject", ErrorCategory.InvalidArgument, given));
        return null; // not reached: ThrowTerminatingError always throws
    }

    /// <summary>Each step's problems as the step's own cmdlet reports them, so a log reader sees the same ids.</summary>
    private void Report(NodeSyncResult result, string root)
    {
        foreach (var sync in new[] { result.Rules, result.Plugins }.OfType<SyncResult>())
        {
            SyncErrors.WriteDiagnostics(this, sync.Diagnostics);
            WriteVerbose(sync.ToString());
        }

        foreach (var failure in result.Failures)
        {
            WriteError(failure.Error switch
            {
                SyncException e => new ErrorRecord(e, e.ErrorId, SyncErrors.Category(e.Failure), e.Path),
                HostCommandException e => new ErrorRecord(e, e.TimedOut ? "HostCommandTimedOut" : "HostCommandFailed", ErrorCategory.InvalidResult, e.CommandLine),
                UnsupportedDistributionException e => new ErrorRecord(e, "UnsupportedDistribution", ErrorCategory.NotImplemented, root),
                FormatException e => new ErrorRecord(e, "UnreadableAuditStatus", ErrorCategory.InvalidData, root),
                var e => new ErrorRecord(e, $"{failure.Step}StepFailed", ErrorCategory.NotSpecified, root),
            });
        }

        if (result.Restart is { } restart)
        {
            if (restart.RebootRequired)
            {
                if (restart.RebootRequiredFirstReport)
                {
                    WriteWarning(restart.Message);
                }
            }
            else if (restart.Rejection is { } rejection)
            {
                WriteError(rejection, "RuleRejected", ErrorCategory.InvalidData, rejection.File is null ? rejection.Rule : $"{rejection.File}:{rejection.Line}");
            }
            else if (!restart.Succeeded && !restart.Message.StartsWith("Not run:", StringComparison.Ordinal))
            {
                WriteError(new InvalidOperationException(restart.Message), "AuditdNotVerified", ErrorCategory.InvalidResult, root);
            }
        }

        if (result.Status is { } status)
        {
            // The shared monitor remembers the previous reading, so the entrypoint loop hears about lost-event growth.
            foreach (var warning in AuditdStatusMonitor.Shared.Observe(status))
            {
                WriteWarning(warning.Message);
            }
        }
    }
}
