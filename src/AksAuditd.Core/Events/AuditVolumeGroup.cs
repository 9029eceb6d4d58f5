namespace AksAuditd.Core.Events;

/// <summary>
/// The volume of one group of a measured log: how many events, records and bytes, over what time, what that makes
/// per day, and what a day of it costs in Log Analytics; with the executable behind most of it and how to exclude it.
/// </summary>
public sealed class AuditVolumeGroup
{
    public required AuditVolumeGrouping GroupBy { get; init; }

    /// <summary>The key, executable, record type, or "syscall=NAME exe=PATH" of the group.</summary>
    public required string Name { get; init; }

    public required long Events { get; init; }

    public required long Records { get; init; }

    /// <summary>Bytes of the group's lines in audit.log, newlines included.</summary>
    public required long Bytes { get; init; }

    /// <summary>The first and last event of the group (UTC).</summary>
    public required DateTime First { get; init; }

    public required DateTime Last { get; init; }

    /// <summary>From the group's first event to its last.</summary>
    public TimeSpan Span => Last - First;

    /// <summary>The time the whole measured log covers; the per-day rates are over this, not the group's own span.</summary>
    public required TimeSpan MeasuredSpan { get; init; }

    public required double EventsPerDay { get; init; }

    public required double BytesPerDay { get; init; }

    /// <summary>Estimated bytes a day in the Log Analytics Syslog table: one row per record (see <see cref="SyslogIngestionModel"/>).</summary>
    public required double IngestionBytesPerDay { get; init; }

    /// <summary>The same in GB (10^9 bytes), the unit Log Analytics bills in.</summary>
    public double IngestionGBPerDay => IngestionBytesPerDay / 1e9;

    /// <summary>The share of all measured events this group holds (0..1).</summary>
    public required double EventShare { get; init; }

    /// <summary>The executable with the most events in the group, if any names one.</summary>
    public string? TopExecutable { get; init; }

    public long TopExecutableEvents { get; init; }

    /// <summary>A rule line that would drop the top executable's events of processes outside a login session.</summary>
    public string? SuggestedExclusion { get; init; }

    /// <summary>Why <see cref="SuggestedExclusion"/> may not match (or why there is none), when that is known.</summary>
    public string? ExclusionNote { get; init; }

    public override string ToString() => $"{Name}: {Events} events, {Records} records, {Bytes} bytes";
}

/// <summary>All groups of one measurement and what was read.</summary>
public sealed class AuditVolumeReport
{
    /// <summary>Groups, the largest (by bytes) first.</summary>
    public required IReadOnlyList<AuditVolumeGroup> Groups { get; init; }

    public required IReadOnlyList<string> Files { get; init; }

    public required long Events { get; init; }

    public required long Records { get; init; }

    public required long Bytes { get; init; }

    public required TimeSpan MeasuredSpan { get; init; }

    /// <summary>Lines that are not audit records (skipped, as Get-AuditEvent skips them).</summary>
    public required long MalformedLines { get; init; }
}
