using System.Buffers;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Text;

namespace AksAuditd.Core.Events;

/// <summary>The counts of one group, kept while a log is measured.</summary>
internal sealed class VolumeCounter
{
    public long Events;
    public long Records;
    public long Bytes;
    public long FirstMilliseconds = long.MaxValue;
    public long LastMilliseconds = long.MinValue;

    /// <summary>Events per executable inside the group (for the top executable and its exclusion).</summary>
    public Dictionary<string, long>? Executables;

    /// <summary>For the Rule grouping: the syscall number and arch the group was named after, -1 when none.</summary>
    public int Syscall = -1;
    public uint Arch;
    public string? Executable;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void AddTime(long milliseconds)
    {
        if (milliseconds < FirstMilliseconds)
        {
            FirstMilliseconds = milliseconds;
        }

        if (milliseconds > LastMilliseconds)
        {
            LastMilliseconds = milliseconds;
        }
    }
}

/// <summary>
/// Counts records into events and events into groups, line by line. The fields it reads are found by name in the
/// record body: values never hold a space (the kernel hex-encodes those), so " key=" cannot appear inside a value.
/// </summary>
internal sealed class AuditVolumeTally
{
    internal const string NoneName = "(none)";

    private static readonly int Syscall = RecordTypeNumber("SYSCALL");
    private static readonly int UringOp = RecordTypeNumber("URINGOP");
    private static readonly int ConfigChange = RecordTypeNumber("CONFIG_CHANGE");
    private static readonly int MacPolicyLoad = RecordTypeNumber("MAC_POLICY_LOAD");
    private static readonly int MacUnlabeledStaticDelete = RecordTypeNumber("MAC_UNLBL_STCDEL");

    private readonly AuditVolumeGrouping _groupBy;
    private readonly long _timeoutSeconds;
    private readonly long _afterMilliseconds;
    private readonly long _beforeMilliseconds;
    private readonly RecordTypeCache _types = new();
    private readonly Dictionary<EventStamp, OpenEvent> _open = new();
    private readonly Stack<OpenEvent> _spare = new();
    private readonly List<OpenEvent> _expired = new();
    private readonly Dictionary<string, string> _strings = new(StringComparer.Ordinal);
    private readonly Dictionary<string, string>.AlternateLookup<ReadOnlySpan<char>> _stringLookup;
    private readonly Dictionary<RecordType, VolumeCounter> _byType = new();
    private OpenEvent? _last;
    private long _oldestOpenSecond = long.MaxValue;
    private byte[] _nodeBytes = [];
    private string? _node;

    public AuditVolumeTally(AuditVolumeGrouping groupBy, int timeoutSeconds, long afterMilliseconds, long beforeMilliseconds)
    {
        _groupBy = groupBy;
        _timeoutSeconds = Math.Max(0, timeoutSeconds);
        _afterMilliseconds = afterMilliseconds;
        _beforeMilliseconds = beforeMilliseconds;
        _stringLookup = _strings.GetAlternateLookup<ReadOnlySpan<char>>();
    }

    /// <summary>Groups by name (key, executable, "syscall=... exe=...").</summary>
    public Dictionary<string, VolumeCounter> Groups { get; } = new(StringComparer.Ordinal);

    public long Events { get; private set; }

    public long Records { get; private set; }

    public long Bytes { get; private set; }

    public long FirstMilliseconds { get; private set; } = long.MaxValue;

    public long LastMilliseconds { get; private set; } = long.MinValue;

    public long MalformedLines { get; private set; }

    public long FirstMalformedLine { get; private set; }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void ReadAll(AuditLogLineReader lines, CancellationToken cancellationToken)
    {
        var checkEvery = 0;
        while (true)
        {
            var status = lines.Next();
            if (status == LineStatus.Line)
            {
                Add(lines.Line, lines.LineNumber);
            }
            else if (status == LineStatus.TooLong)
            {
                Malformed(lines.SkippedLineNumber);
            }
            else
            {
                if (lines.TryTakeUnterminated())
                {
                    Add(lines.Line, lines.LineNumber);
                }

                return;
            }

            if (++checkEvery == 65536)
            {
                checkEvery = 0;
                cancellationToken.ThrowIfCancellationRequested();
            }
        }
    }

    /// <summary>The end of the input: every open event is complete.</summary>
    public void Finish()
    {
        foreach (var open in _open.Values.ToList())
        {
            Complete(open);
        }

        _open.Clear();
    }

    /// <summary>The record types seen, with their own counters (the RecordType grouping).</summary>
    public IEnumerable<(string Name, VolumeCounter Counter)> ByType() => _byType.Select(p => (p.Key.Name, p.Value));

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void Add(ReadOnlySpan<byte> line, long lineNumber)
    {
        if (line.IsEmpty)
        {
            return;
        }

        if (!AuditRecordHeader.TryParse(line, out var header, out _))
        {
            Malformed(lineNumber);
            return;
        }

        var milliseconds = header.Seconds * 1000 + header.Milliseconds;
        if (milliseconds < _afterMilliseconds || milliseconds > _beforeMilliseconds)
        {
            return;
        }

        var bytes = line.Length + 1;
        Records++;
        Bytes += bytes;
        var type = _types.Get(line.Slice(header.TypeStart, header.TypeLength));
        var node = header.NodeLength == 0 ? null : Node(line.Slice(header.NodeStart, header.NodeLength));
        var stamp = new EventStamp(header.Serial, header.Seconds, header.Milliseconds, node);

        // An event's records usually follow one another, so the last event is checked first.
        var open = _last is { Complete: false } last && last.Stamp.Same(stamp) ? last : _open.GetValueOrDefault(stamp);
        if (open is null)
        {
            if (type.Number == RecordType.EndOfEvent)
            {
                // A lone EOE belongs to an event already complete: its bytes still go to syslog, but to no group.
                return;
            }

            open = Start(stamp, type);
        }

        open.Records++;
        open.Bytes += bytes;
        if (_groupBy == AuditVolumeGrouping.RecordType)
        {
            var counter = TypeCounter(type);
            counter.Records++;
            counter.Bytes += bytes;
            if (!open.Types.Contains(type))
            {
                open.Types.Add(type);
            }
        }

        ReadFields(line, header, type, open);

        if (type.Number == RecordType.EndOfEvent || (open.Records == 1 && type.IsSingleRecordEvent))
        {
            Complete(open);
        }

        if (_oldestOpenSecond + _timeoutSeconds <= header.Seconds)
        {
            CompleteOlderThan(header.Seconds);
        }
    }

    private OpenEvent Start(EventStamp stamp, RecordType type)
    {
        var open = _spare.Count > 0 ? _spare.Pop() : new OpenEvent();
        open.Reset(stamp, type);
        _last = open;
        if (!type.IsSingleRecordEvent)
        {
            _open[stamp] = open;
            open.Indexed = true;
            if (stamp.Seconds < _oldestOpenSecond)
            {
                _oldestOpenSecond = stamp.Seconds;
            }
        }

        return open;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void ReadFields(ReadOnlySpan<byte> line, in AuditRecordHeader header, RecordType type, OpenEvent open)
    {
        var body = line[header.BodyStart..header.BodyEnd];
        var number = type.Number;
        var isSyscall = number == Syscall || number == UringOp;

        // aureport takes keys from these records only (ausearch-parse.c: parse_syscall, parse_simple_message).
        if (isSyscall || number == ConfigChange || (number >= MacPolicyLoad && number <= MacUnlabeledStaticDelete))
        {
            if (TryFindValue(body, " key="u8, out var key))
            {
                AddKeys(key, open);
            }
        }

        if (isSyscall)
        {
            if (TryFindValue(body, " syscall="u8, out var syscall) && TryParseDecimal(syscall, out var syscallNumber))
            {
                open.Syscall = syscallNumber;
            }

            if (body.StartsWith("arch="u8) && TryParseHex(body[5..Math.Max(5, body.IndexOf((byte)' '))], out var arch))
            {
                open.Arch = arch;
            }
        }

        if (open.Executable is null && _groupBy != AuditVolumeGrouping.RecordType && TryFindValue(body, " exe="u8, out var exe))
        {
            open.Executable = Text(exe);
        }
    }

    private void AddKeys(ReadOnlySpan<byte> value, OpenEvent open)
    {
        if (value.Length > 0 && value[0] == '"')
        {
            // A quoted key is one key, taken as written.
            var inner = value[1..];
            var close = inner.IndexOf((byte)'"');
            open.AddKey(Intern(close < 0 ? inner : inner[..close]));
            return;
        }

        if (value.SequenceEqual("(null)"u8))
        {
            return;
        }

        // Several keys (-k a -k b) are hex-encoded and separated by 0x01 (AUDIT_KEY_SEPARATOR).
        var decoded = Decode(value);
        foreach (var range in decoded.AsSpan().Split((byte)1))
        {
            var part = decoded.AsSpan(range);
            if (!part.IsEmpty)
            {
                open.AddKey(Intern(part));
            }
        }
    }

    private string Text(ReadOnlySpan<byte> value)
    {
        if (value.Length >= 2 && value[0] == '"' && value[^1] == '"')
        {
            return Intern(value[1..^1]);
        }

        return value.SequenceEqual("(null)"u8) ? NoneName : Intern(Decode(value));
    }

    /// <summary>Hex as the kernel writes values with special characters; anything else as it is.</summary>
    private static byte[] Decode(ReadOnlySpan<byte> value)
    {
        if (value.Length % 2 != 0 || !HexDigits.IsHex(value))
        {
            return value.ToArray();
        }

        var bytes = new byte[value.Length / 2];
        for (var i = 0; i < bytes.Length; i++)
        {
            bytes[i] = (byte)((HexDigits.HexValue(value[2 * i]) << 4) | HexDigits.HexValue(value[2 * i + 1]));
        }

        return bytes;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static bool TryFindValue(ReadOnlySpan<byte> body, ReadOnlySpan<byte> spacedName, out ReadOnlySpan<byte> value)
    {
        int start;
        if (body.StartsWith(spacedName[1..]))
        {
            start = spacedName.Length - 1;
        }
        else
        {
            var at = body.IndexOf(spacedName);
            if (at < 0)
            {
                value = default;
                return false;
            }

            start = at + spacedName.Length;
        }

        var rest = body[start..];
        var end = rest.IndexOf((byte)' ');
        value = end < 0 ? rest : rest[..end];
        return true;
    }

    private static bool TryParseDecimal(ReadOnlySpan<byte> text, out int value)
    {
        value = 0;
        if (text.IsEmpty || text.Length > 9)
        {
            return false;
        }

        foreach (var c in text)
        {
            if ((uint)(c - '0') > 9)
            {
                return false;
            }

            value = value * 10 + (c - '0');
        }

        return true;
    }

    private static bool TryParseHex(ReadOnlySpan<byte> text, out uint value)
    {
        value = 0;
        if (text.IsEmpty || text.Length > 8)
        {
            return false;
        }

        foreach (var c in text)
        {
            if (!char.IsAsciiHexDigit((char)c))
            {
                return false;
            }

            value = (value << 4) | (uint)HexDigits.HexValue(c);
        }

        return true;
    }

    /// <summary>One string per distinct key or path: a log repeats a few hundred of them millions of times.</summary>
    private string Intern(ReadOnlySpan<byte> utf8)
    {
        char[]? rented = null;
        var chars = utf8.Length <= 512 ? stackalloc char[utf8.Length] : (rented = ArrayPool<char>.Shared.Rent(utf8.Length));
        var count = Encoding.UTF8.GetChars(utf8, chars);
        var text = chars[..count];
        if (!_stringLookup.TryGetValue(text, out var interned))
        {
            interned = text.ToString();
            _strings[interned] = interned;
        }

        if (rented is not null)
        {
            ArrayPool<char>.Shared.Return(rented);
        }

        return interned;
    }

    private void CompleteOlderThan(long second)
    {
        var oldest = long.MaxValue;
        foreach (var open in _open.Values)
        {
            if (open.Stamp.Seconds + _timeoutSeconds <= second)
            {
                _expired.Add(open);
            }
            else
            {
                oldest = Math.Min(oldest, open.Stamp.Seconds);
            }
        }

        foreach (var open in _expired)
        {
            Complete(open);
        }

        _expired.Clear();
        _oldestOpenSecond = oldest;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void Complete(OpenEvent open)
    {
        if (open.Complete)
        {
            return;
        }

        open.Complete = true;
        if (open.Indexed)
        {
            _open.Remove(open.Stamp);
            open.Indexed = false;
        }

        var milliseconds = open.Stamp.Seconds * 1000 + open.Stamp.Milliseconds;
        Events++;
        FirstMilliseconds = Math.Min(FirstMilliseconds, milliseconds);
        LastMilliseconds = Math.Max(LastMilliseconds, milliseconds);
        switch (_groupBy)
        {
            case AuditVolumeGrouping.Key:
                CountByKeys(open, milliseconds, byRule: false);
                break;
            case AuditVolumeGrouping.Rule:
                CountByKeys(open, milliseconds, byRule: true);
                break;
            case AuditVolumeGrouping.Executable:
                Count(Group(open.Executable ?? NoneName), open, milliseconds);
                break;
            case AuditVolumeGrouping.RecordType:
                foreach (var type in open.Types)
                {
                    var counter = TypeCounter(type);
                    counter.Events++;
                    counter.AddTime(milliseconds);
                }

                break;
        }

        if (ReferenceEquals(_last, open))
        {
            _last = null;
        }

        _spare.Push(open);
    }

    private void CountByKeys(OpenEvent open, long milliseconds, bool byRule)
    {
        if (open.Key is null)
        {
            if (!byRule)
            {
                Count(Group(NoneName), open, milliseconds);
                return;
            }

            // Without a key, the syscall and executable say which rule most likely fired.
            var name = RuleName(open);
            var group = Group(name);
            if (group.Events == 0)
            {
                group.Syscall = open.Syscall;
                group.Arch = open.Arch;
                group.Executable = open.Executable;
            }

            Count(group, open, milliseconds);
            return;
        }

        Count(Group(open.Key), open, milliseconds);
        if (open.MoreKeys is { } more)
        {
            // aureport counts the event once for each of its keys.
            foreach (var key in more)
            {
                Count(Group(key), open, milliseconds);
            }
        }
    }

    private string RuleName(OpenEvent open)
    {
        var what = open.Syscall >= 0
            ? AuditVolumeNames.Syscall(open.Arch, open.Syscall)
            : "type=" + open.FirstType.Name;
        return Intern(what + " exe=" + (open.Executable ?? NoneName));
    }

    private string Intern(string text)
    {
        if (!_strings.TryGetValue(text, out var interned))
        {
            _strings[text] = interned = text;
        }

        return interned;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Count(VolumeCounter group, OpenEvent open, long milliseconds)
    {
        group.Events++;
        group.Records += open.Records;
        group.Bytes += open.Bytes;
        group.AddTime(milliseconds);
        if (open.Executable is { } exe)
        {
            var executables = group.Executables ??= new Dictionary<string, long>(StringComparer.Ordinal);
            ref var count = ref CollectionsMarshal.GetValueRefOrAddDefault(executables, exe, out _);
            count++;
        }
    }

    private VolumeCounter Group(string name)
    {
        ref var group = ref CollectionsMarshal.GetValueRefOrAddDefault(Groups, name, out var exists);
        if (!exists)
        {
            group = new VolumeCounter();
        }

        return group!;
    }

    private VolumeCounter TypeCounter(RecordType type)
    {
        ref var counter = ref CollectionsMarshal.GetValueRefOrAddDefault(_byType, type, out var exists);
        if (!exists)
        {
            counter = new VolumeCounter();
        }

        return counter!;
    }

    private void Malformed(long lineNumber)
    {
        if (MalformedLines == 0)
        {
            FirstMalformedLine = lineNumber;
        }

        MalformedLines++;
    }

    private string Node(ReadOnlySpan<byte> bytes)
    {
        if (!bytes.SequenceEqual(_nodeBytes))
        {
            _nodeBytes = bytes.ToArray();
            _node = Encoding.UTF8.GetString(bytes);
        }

        return _node!;
    }

    private static int RecordTypeNumber(string name) => Audit.MessageTypes.TryGetNumber(name, out var number) ? number : -1;

    /// <summary>Which event a record belongs to: ausearch's identity of an event.</summary>
    private readonly record struct EventStamp(long Serial, long Seconds, int Milliseconds, string? Node)
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public bool Same(in EventStamp other) =>
            Serial == other.Serial && Seconds == other.Seconds && Milliseconds == other.Milliseconds
            && (ReferenceEquals(Node, other.Node) || string.Equals(Node, other.Node, StringComparison.Ordinal));
    }

    /// <summary>An event still taking records; reused once counted.</summary>
    private sealed class OpenEvent
    {
        public EventStamp Stamp;
        public RecordType FirstType = null!;
        public int Records;
        public long Bytes;
        public string? Key;
        public List<string>? MoreKeys;
        public string? Executable;
        public int Syscall;
        public uint Arch;
        public bool Complete;
        public bool Indexed;
        public readonly List<RecordType> Types = new(4);

        public void Reset(EventStamp stamp, RecordType firstType)
        {
            Stamp = stamp;
            FirstType = firstType;
            Records = 0;
            Bytes = 0;
            Key = null;
            MoreKeys?.Clear();
            Executable = null;
            Syscall = -1;
            Arch = 0;
            Complete = false;
            Indexed = false;
            Types.Clear();
        }

        public void AddKey(string key)
        {
            if (Key is null)
            {
                Key = key;
            }
            else
            {
                (MoreKeys ??= new List<string>(2)).Add(key);
            }
        }
    }
}
