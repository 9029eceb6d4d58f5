using System.Management.Automation;
using AksAuditd.Core.Configuration;
using AksAuditd.Core.Sync;

namespace AksAuditd.PowerShell.Commands;

/// <summary>
/// Compares the rules source with the node's rules.d, file by file (this file), or rules.d with the rules
/// loaded in the kernel (the Kernel parameter set, in GetAuditRuleDriftCommand.Kernel.cs).
/// </summary>
[Cmdlet(VerbsCommon.Get, "AuditRuleDrift", DefaultParameterSetName = FileParameterSet)]
[OutputType("AksAuditd.Core.Sync.FileDrift", ParameterSetName = new[] { FileParameterSet })]
[OutputType("AksAuditd.Core.Host.KernelRuleDrift", ParameterSetName = new[] { KernelParameterSet })]
public sealed partial class GetAuditRuleDriftCommand : AksAuditdCmdlet
{
    public const string FileParameterSet = "File";

    /// <summary>The rules ConfigMap volume or directory; default: the configuration's rulesSource.</summary>
    [Parameter(ParameterSetName = FileParameterSet, Position = 0, ValueFromPipelineByPropertyName = true)]
    [Alias("Source")]
    public string? SourcePath { get; set; }

    /// <summary>The node's rules.d; default: hostRoot joined with rulesDirectory.</summary>
    [Parameter(ParameterSetName = FileParameterSet, Position = 1)]
    [Alias("Target")]
    public string? TargetPath { get; set; }

    /// <summary>Where the managed-file record is (it tells our files from foreign ones).</summary>
    [Parameter(ParameterSetName = FileParameterSet)]
    public string? StatePath { get; set; }

    [Parameter(ParameterSetName = FileParameterSet)]
    [ValidateSet("Managed", "Mirror", IgnoreCase = true)]
    public string? Mode { get; set; }

    [Parameter(ParameterSetName = FileParameterSet)]
    public SwitchParameter IncludeUnchanged { get; set; }

    /// <summary>Where the node's / is mounted (default: the configured HostRoot); the default TargetPath and StatePath are under it.</summary>
    [Parameter(ValueFromPipelineByPropertyName = true)]
    public string? HostRoot { get; set; }

    protected override void ProcessRecord()
    {
        switch (ParameterSetName)
        {
            case FileParameterSet:
                WriteFileDrift();
                break;
            case KernelParameterSet:
                WriteKernelDrift();
                break;
        }
    }

    private void WriteFileDrift()
    {
        var configuration = LoadConfiguration();
        var source = Resolve(SourcePath) ?? configuration.RulesSource;
        var hostRoot = Resolve(HostRoot) ?? configuration.HostRoot;
        var target = Resolve(TargetPath) ?? HostPath.Join(hostRoot, configuration.RulesDirectory);
        var state = Resolve(StatePath) ?? HostPath.Join(hostRoot, configuration.StateDirectory);
        var mode = Mode is null ? configuration.SyncMode : Enum.Parse<SyncMode>(Mode, ignoreCase: true);
        WriteVerbose($"Comparing {source} with {target} ({mode} mode, managed-file record in {state})");

        DriftReport report;
        try
        {
            report = new SyncService(new NoValidation(), Log).GetDrift(SyncKind.Rules, source, target, state, mode, SyncSession.Shared(SyncKind.Rules, source, target));
        }
        catch (SyncException e)
        {
            ThrowTerminatingError(new ErrorRecord(e, e.ErrorId, SyncErrors.Category(e.Failure), e.Path));
            return;
        }

        SyncErrors.WriteDiagnostics(this, report.Problems);
        foreach (var drift in report.Drift)
        {
            if (IncludeUnchanged.IsPresent || drift.Status != DriftStatus.Unchanged)
            {
                WriteObject(drift);
            }
        }
    }

    private string? Resolve(string? path) => path is null ? null : SessionState.Path.GetUnresolvedProviderPathFromPSPath(path);

    /// <summary>Drift compares bytes; validating rules is Test-AuditRule's and the sync's job.</summary>
    private sealed class NoValidation : Core.Rules.IRuleFileValidator
    {
        public IReadOnlyList<Core.Rules.RuleDiagnostic> Validate(string path, string text) => Array.Empty<Core.Rules.RuleDiagnostic>();
    }
}
