namespace AksAuditd.Core.Events;

/// <summary>
/// -After and -Before as the record stamps they are compared with: Unix milliseconds, each end open when unset.
/// Get-AuditEvent and Measure-AuditEvent must cut a log at the same instants, so both take their window from here.
/// </summary>
internal readonly record struct AuditTimeWindow(long AfterMilliseconds, long BeforeMilliseconds)
{
    public static AuditTimeWindow From(DateTime? after, DateTime? before) => new(
        after is { } start ? ToUnixMilliseconds(start) : long.MinValue,
        before is { } end ? ToUnixMilliseconds(end) : long.MaxValue);

    /// <summary>A time of unspecified kind is taken as UTC, as auditd's stamps are.</summary>
    private static long ToUnixMilliseconds(DateTime time)
    {
        var utc = time.Kind == DateTimeKind.Local ? time.ToUniversalTime() : DateTime.SpecifyKind(time, DateTimeKind.Utc);
        return (long)(utc - DateTime.UnixEpoch).TotalMilliseconds;
    }
}
