using System.Runtime.CompilerServices;
using System.Text;
using AksAuditd.Core.Audit;
using AksAuditd.Core.Rules;

namespace AksAuditd.Core.Events;

/// <summary>A record type as written in a log line and its number (-1 when libaudit does not know the name).</summary>
internal sealed record RecordType(string Name, int Number, byte[] Bytes)
{
    private static readonly int FirstEvent = 1300;
    private static readonly int FirstAnomaly = 1700;
    private static readonly int Proctitle = Lookup("PROCTITLE");
    private static readonly int Kernel = Lookup("KERNEL");
    private static readonly int MacUnlabeledAllow = Lookup("MAC_UNLBL_ALLOW");
    private static readonly int MacCalipsoDelete = Lookup("MAC_CALIPSO_DEL");

    public static readonly int EndOfEvent = Lookup("EOE");

    /// <summary>auditd's own records (DAEMON_START...) carry auditd's sequence, not the kernel's serial.</summary>
    public bool IsDaemon => Number is >= 1200 and <= 1299;

    /// <summary>
    /// Types that are a whole event on their own, by ausearch's rule: anything below the kernel's multi-record
    /// range (user-space messages, daemon and config records), anomalies and above, KERNEL, PROCTITLE when it
    /// comes first, and the labelled-networking configuration records.
    /// </summary>
    public bool IsSingleRecordEvent =>
        Number == Proctitle || Number < FirstEvent || Number >= FirstAnomaly || Number == Kernel
        || (Number >= MacUnlabeledAllow && Number <= MacCalipsoDelete);

    private static int Lookup(string name) => MessageTypes.TryGetNumber(name, out var number) ? number : -1;
}

/// <summary>A log has a handful of distinct types; remembering them avoids a string and a lookup per line.</summary>
internal sealed class RecordTypeCache
{
    private RecordType[] _known = [];

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public RecordType Get(ReadOnlySpan<byte> name)
    {
        foreach (var type in _known)
        {
            if (name.SequenceEqual(type.Bytes))
            {
                return type;
            }
        }

        var text = Encoding.UTF8.GetString(name);
        int number;
        if (text.StartsWith("UNKNOWN[", StringComparison.Ordinal) && text.EndsWith(']') && int.TryParse(text.AsSpan(8, text.Length - 9), out var unknown))
        {
            number = unknown;
        }
        else if (!MessageTypes.TryGetNumber(text, out number))
        {
            number = -1;
        }

        var created = new RecordType(text, number, name.ToArray());
        if (_known.Length < 256)
        {
            _known = [.. _known, created];
        }

        return created;
    }
}
