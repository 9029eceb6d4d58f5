namespace AksAuditd.Core.Events;

/// <summary>What a volume measurement puts together as one group.</summary>
public enum AuditVolumeGrouping
{
    /// <summary>The rule key (-k) of each event, as <c>aureport --key --summary</c> counts it; "(none)" for events without one.</summary>
    Key,

    /// <summary>The executable (exe=) of each event; "(none)" for events that name none.</summary>
    Executable,

    /// <summary>Each record type: records and bytes of that type, events that hold one.</summary>
    RecordType,

    /// <summary>The key when the event has one, else its syscall and executable (the rule that most likely fired).</summary>
    Rule,
}

/// <summary>What to measure: the same inputs as <see cref="AuditEventQuery"/> without its event filters.</summary>
public sealed class AuditVolumeQuery
{
    /// <summary>Log files, or directories holding audit.log and its rotations; empty means the node's log_file and its rotations.</summary>
    public IReadOnlyList<string> Paths { get; init; } = [];

    /// <summary>Where the node's / is: auditd.conf is read under it, and executables are looked up there for exclusions.</summary>
    public string HostRoot { get; init; } = "/";

    /// <summary>Only events at or after this time (UTC).</summary>
    public DateTime? After { get; init; }

    /// <summary>Only events at or before this time (UTC).</summary>
    public DateTime? Before { get; init; }

    public AuditVolumeGrouping GroupBy { get; init; } = AuditVolumeGrouping.Key;

    /// <summary>How rows of the Syslog table are sized (see <see cref="SyslogIngestionModel"/>).</summary>
    public SyslogIngestionModel Ingestion { get; init; } = SyslogIngestionModel.Default;
}
