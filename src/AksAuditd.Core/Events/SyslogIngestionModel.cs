namespace AksAuditd.Core.Events;

/// <summary>
/// How one audit record becomes billed bytes in Log Analytics. The path is audisp-syslog (the record's text, as
/// auditd hands it to plugins, becomes one syslog message) → the node's syslog daemon → Azure Monitor Agent → one
/// row of the <c>Syslog</c> table. Azure Monitor bills the size of the string form of every stored column of a
/// row (the standard columns _ResourceId, _ItemId, _IsBillable, _BilledSize and Type excepted), so a row costs its
/// SyslogMessage plus the other columns, which are about the same for every row of a node.
/// </summary>
/// <param name="RowOverheadBytes">
/// The Syslog columns other than SyslogMessage: TimeGenerated and EventTime (ISO 8601, 28 each), Computer,
/// HostName and CollectorHostName (an AKS VMSS node name, about 35 each), HostIP (about 12), Facility (8),
/// SeverityLevel (4), ProcessName ("audisp-syslog", 13), ProcessID (7), SourceSystem ("Linux", 5) and TenantId
/// (a GUID, 36): about 250 bytes.
/// </param>
public sealed record SyslogIngestionModel(int RowOverheadBytes)
{
    public static SyslogIngestionModel Default { get; } = new(250);

    /// <summary>The billed size of the row one record of <paramref name="recordBytes"/> (its line without the newline) becomes.</summary>
    public long RowBytes(long recordBytes) => recordBytes + RowOverheadBytes;
}
