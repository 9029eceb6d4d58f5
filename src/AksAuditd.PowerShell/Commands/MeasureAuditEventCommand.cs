using System.Management.Automation;
using AksAuditd.Core.Configuration;
using AksAuditd.Core.Events;

namespace AksAuditd.PowerShell.Commands;

/// <summary>
/// Measures what the audit log costs: events, records and bytes per key, executable, record type or rule, per day,
/// and the Log Analytics ingestion a day of it makes, with the noisiest executable of each group and an exclusion.
/// Reads the same inputs as Get-AuditEvent, streaming, at the record level (counts equal aureport --key --summary).
/// </summary>
[Cmdlet(VerbsDiagnostic.Measure, "AuditEvent", DefaultParameterSetName = PathSet)]
[OutputType("AksAuditd.Core.Events.AuditVolumeGroup")]
public sealed class MeasureAuditEventCommand : AksAuditdCmdlet
{
    private const string PathSet = "Path";
    private const string LiteralPathSet = "LiteralPath";

    private readonly List<string> _files = new();
    private readonly CancellationTokenSource _stop = new();

    /// <summary>Log files or directories (audit.log and its rotations); wildcards allowed. Default: the node's log_file.</summary>
    [Parameter(Position = 0, ParameterSetName = PathSet, ValueFromPipeline = true, ValueFromPipelineByPropertyName = true)]
    [SupportsWildcards]
    [ValidateNotNullOrEmpty]
    public string[]? Path { get; set; }

    [Parameter(Mandatory = true, ParameterSetName = LiteralPathSet, ValueFromPipelineByPropertyName = true)]
    [Alias("PSPath", "LP")]
    [ValidateNotNullOrEmpty]
    public string[]? LiteralPath { get; set; }

    /// <summary>Where the node's / is mounted (/host in kubectl debug node/...).</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string? HostRoot { get; set; }

    [Parameter]
    public DateTime After { get; set; }

    [Parameter]
    public DateTime Before { get; set; }

    /// <summary>Key (default), Executable, RecordType or Rule; a string, as Core types stay out of cmdlet signatures.</summary>
    [Parameter(Position = 1)]
    [ValidateSet(nameof(AuditVolumeGrouping.Key), nameof(AuditVolumeGrouping.Executable), nameof(AuditVolumeGrouping.RecordType), nameof(AuditVolumeGrouping.Rule))]
    public string GroupBy { get; set; } = nameof(AuditVolumeGrouping.Key);

    /// <summary>Bytes each Syslog row costs besides its message (the other columns); see the README's cost model.</summary>
    [Parameter]
    [ValidateRange(0, 100_000)]
    public int RowOverheadBytes { get; set; } = SyslogIngestionModel.Default.RowOverheadBytes;

    protected override void ProcessRecord()
    {
        if (ParameterSetName == LiteralPathSet)
        {
            foreach (var path in LiteralPath!)
            {
                _files.Add(SessionState.Path.GetUnresolvedProviderPathFromPSPath(path));
            }

            return;
        }

        foreach (var path in Path ?? [])
        {
            try
            {
                _files.AddRange(SessionState.Path.GetResolvedProviderPathFromPSPath(path, out _));
            }
            catch (ItemNotFoundException e)
            {
                WriteError(e, "PathNotFound", ErrorCategory.ObjectNotFound, path);
            }
        }
    }

    protected override void EndProcessing()
    {
        if ((Path is not null || LiteralPath is not null) && _files.Count == 0)
        {
            return;
        }

        var bound = MyInvocation.BoundParameters;
        var query = new AuditVolumeQuery
        {
            Paths = _files,
            HostRoot = ResolveHostRoot(),
            After = bound.ContainsKey(nameof(After)) ? After.ToUniversalTime() : null,
            Before = bound.ContainsKey(nameof(Before)) ? Before.ToUniversalTime() : null,
            GroupBy = Enum.Parse<AuditVolumeGrouping>(GroupBy),
            Ingestion = new SyslogIngestionModel(RowOverheadBytes),
        };

        AuditVolumeReport report;
        try
        {
            report = new AuditVolumeMeter(Log).Measure(query, _stop.Token);
        }
        catch (OperationCanceledException)
        {
            return;
        }
        catch (FileNotFoundException e)
        {
            ThrowTerminatingError(new ErrorRecord(e, "AuditLogNotFound", ErrorCategory.ObjectNotFound, e.FileName));
            return;
        }
        catch (UnauthorizedAccessException e)
        {
            ThrowTerminatingError(new ErrorRecord(e, "AuditLogAccessDenied", ErrorCategory.PermissionDenied, query.Paths.Count > 0 ? query.Paths : query.HostRoot));
            return;
        }
        catch (IOException e)
        {
            ThrowTerminatingError(new ErrorRecord(e, "AuditLogUnreadable", ErrorCategory.ReadError, query.Paths.Count > 0 ? query.Paths : query.HostRoot));
            return;
        }

        WriteVerbose($"Measured {report.Events} events, {report.Records} records, {report.Bytes} bytes over {report.MeasuredSpan} in {string.Join(", ", report.Files)}");
        foreach (var group in report.Groups)
        {
            WriteObject(group);
        }
    }

    protected override void StopProcessing() => _stop.Cancel();

    /// <summary>-HostRoot, else the configured host root when it is mounted here, else / (as Get-AuditEvent does).</summary>
    private string ResolveHostRoot()
    {
        if (HostRoot is not null)
        {
            var root = SessionState.Path.GetUnresolvedProviderPathFromPSPath(HostRoot);
            if (!Directory.Exists(root))
            {
                ThrowTerminatingError(new ErrorRecord(
                    new DirectoryNotFoundException($"The host root {root} does not exist."), "HostRootNotFound", ErrorCategory.ObjectNotFound, root));
            }

            return root;
        }

        string configured;
        try
        {
            configured = new ConfigurationLoader().Load().HostRoot;
        }
        catch (ConfigurationException e)
        {
            WriteVerbose($"Using / as the host root: the configuration is invalid ({e.Message})");
            return "/";
        }

        return Directory.Exists(System.IO.Path.Combine(configured, "etc")) ? configured : "/";
    }
}
