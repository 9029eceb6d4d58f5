using System.Management.Automation;
using AksAuditd.Core.Events;

namespace AksAuditd.PowerShell.Commands;

/// <summary>
/// Measures what the audit log costs: events, records and bytes per key, executable, record type or rule, per day,
/// and the Log Analytics ingestion a day of it makes, with the noisiest executable of each group and an exclusion.
/// Reads the same inputs as Get-AuditEvent, streaming, at the record level (counts equal aureport --key --summary).
/// </summary>
[Cmdlet(VerbsDiagnostic.Measure, "AuditEvent", DefaultParameterSetName = AuditLogCommandBase.PathSet)]
[OutputType("AksAuditd.Core.Events.AuditVolumeGroup")]
public sealed class MeasureAuditEventCommand : AuditLogCommandBase
{
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

    protected override void EndProcessing()
    {
        if (NothingToRead)
        {
            return;
        }

        var bound = MyInvocation.BoundParameters;
        var query = new AuditVolumeQuery
        {
            Paths = Files,
            HostRoot = ResolveLogHostRoot(),
            After = bound.ContainsKey(nameof(After)) ? After.ToUniversalTime() : null,
            Before = bound.ContainsKey(nameof(Before)) ? Before.ToUniversalTime() : null,
            GroupBy = Enum.Parse<AuditVolumeGrouping>(GroupBy),
            Ingestion = new SyslogIngestionModel(RowOverheadBytes),
        };

        AuditVolumeReport report;
        try
        {
            report = new AuditVolumeMeter(Log).Measure(query, Stop.Token);
        }
        catch (OperationCanceledException)
        {
            return;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            ThrowTerminatingError(LogReadError(e, query.Paths, query.HostRoot));
            return;
        }

        WriteVerbose($"Measured {report.Events} events, {report.Records} records, {report.Bytes} bytes over {report.MeasuredSpan} in {string.Join(", ", report.Files)}");
        foreach (var group in report.Groups)
        {
            WriteObject(group);
        }
    }
}
