using System.Management.Automation;
using AksAuditd.Core.Configuration;
using AksAuditd.Core.Rules;
using AksAuditd.Core.Sync;

namespace AksAuditd.PowerShell.Commands;

/// <summary>
/// What Sync-AuditRules and Sync-AuditPlugins share: parameters with configuration defaults, the shared
/// SyncSession (so repeated calls in one process only re-hash what changed), ShouldProcess on the whole plan,
/// and error records for the sync's failures and the source's diagnostics.
/// </summary>
public abstract class SyncCommandBase : SyncSettingsCommandBase
{
    /// <summary>The ConfigMap volume or directory to copy from.</summary>
    [Parameter(Position = 0, ValueFromPipelineByPropertyName = true)]
    [Alias("Source")]
    public string? SourcePath { get; set; }

    /// <summary>The node directory to keep (rules.d or plugins.d under the host root).</summary>
    [Parameter(Position = 1)]
    [Alias("Target")]
    public string? TargetPath { get; set; }

    [Parameter]
    public SwitchParameter PassThru { get; set; }

    /// <summary>"rules" or "plugins": the kind this cmdlet syncs (a string, so no Core enum is reflected over).</summary>
    private protected abstract string KindName { get; }

    private protected abstract string DefaultSource(AksAuditdConfiguration configuration);

    private protected abstract string DefaultTarget(AksAuditdConfiguration configuration);

    private protected abstract IRuleFileValidator CreateValidator(AksAuditdConfiguration configuration);

    protected override void ProcessRecord()
    {
        var configuration = LoadConfiguration();
        var kind = KindName == "plugins" ? SyncKind.Plugins : SyncKind.Rules;
        var source = ResolvePath(SourcePath) ?? DefaultSource(configuration);
        var target = ResolvePath(TargetPath) ?? DefaultTarget(configuration);
        var state = ResolvePath(StatePath) ?? configuration.HostStateDirectory;
        var mode = EffectiveMode(configuration);
        var request = new SyncRequest
        {
            Kind = kind,
            SourcePath = source,
            TargetPath = target,
            StatePath = state,
            Mode = mode,
            AllowEmpty = EffectiveAllowEmpty(configuration),
            AllowImmutable = configuration.AllowImmutable,
            AllowPanic = configuration.AllowPanic,
            Confirm = plan => ShouldProcess(target, $"Sync {KindName} from {source} ({mode}): {plan.Summary}"),
        };

        WriteVerbose($"Syncing {KindName} from {source} to {target} in {mode} mode (state in {state})");
        SyncResult result;
        try
        {
            result = new SyncService(CreateValidator(configuration), Log).Sync(request, SyncSession.Shared(kind, source, target));
        }
        catch (SyncException e)
        {
            ThrowTerminatingError(new ErrorRecord(e, e.ErrorId, SyncErrors.Category(e.Failure), e.Path));
            return;
        }

        SyncErrors.WriteDiagnostics(this, result.Diagnostics);
        if (result.CleanedUp.Count > 0)
        {
            WriteVerbose($"Removed {result.CleanedUp.Count} temporary files left by an interrupted sync");
        }

        WriteVerbose(result.ToString());
        if (PassThru.IsPresent)
        {
            WriteObject(result);
        }
    }
}

/// <summary>How sync failures and source diagnostics become PowerShell errors.</summary>
internal static class SyncErrors
{
    public static ErrorCategory Category(SyncFailure failure) => failure switch
    {
        SyncFailure.SourceMissing or SyncFailure.TargetMissing => ErrorCategory.ObjectNotFound,
        SyncFailure.SourceUnreadable => ErrorCategory.ReadError,
        SyncFailure.SourceEmpty or SyncFailure.SourceRejectedByKernel => ErrorCategory.InvalidData,
        SyncFailure.TargetNotADirectory or SyncFailure.TargetFileUnusable => ErrorCategory.InvalidType,
        SyncFailure.TargetLocked => ErrorCategory.ResourceBusy,
        SyncFailure.InsufficientSpace => ErrorCategory.ResourceUnavailable,
        _ => ErrorCategory.WriteError,
    };

    /// <summary>Errors as error records (target "file:line"), warnings on the warning stream.</summary>
    public static void WriteDiagnostics(AksAuditdCmdlet cmdlet, IEnumerable<RuleDiagnostic> diagnostics)
    {
        foreach (var diagnostic in diagnostics)
        {
            if (diagnostic.Severity == DiagnosticSeverity.Error)
            {
                var target = diagnostic.LineNumber > 0 ? $"{diagnostic.Path}:{diagnostic.LineNumber}" : diagnostic.Path;
                var category = diagnostic.Code is SyncDiagnosticCodes.NotARegularFile or SyncDiagnosticCodes.Unreadable
                    ? ErrorCategory.ReadError
                    : diagnostic.Code == SyncDiagnosticCodes.PluginPathNotAllowed ? ErrorCategory.PermissionDenied : ErrorCategory.InvalidData;
                cmdlet.WriteError(new InvalidDataException(diagnostic.ToString()), SyncDiagnosticCodes.ErrorId(diagnostic.Code), category, target);
            }
            else if (diagnostic.Severity == DiagnosticSeverity.Warning)
            {
                cmdlet.WriteWarning(diagnostic.ToString());
            }
        }
    }
}
