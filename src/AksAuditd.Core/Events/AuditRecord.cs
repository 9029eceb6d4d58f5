using System.Globalization;
using System.Runtime.CompilerServices;
using System.Text;

namespace AksAuditd.Core.Events;

/// <summary>
/// One line of audit.log. Keeps the line's bytes and splits them into fields only when asked, and interprets
/// a field (uid to name, syscall number to name...) only when its <see cref="AuditField.Interpreted"/> is read.
/// </summary>
public sealed class AuditRecord
{
    private readonly byte[] _line;
    private readonly int _bodyStart;
    private readonly int _bodyEnd;
    private readonly AuditValueInterpreter _interpreter;
    private FieldSlice[]? _slices;
    private FieldSlice[]? _enrichment;
    private AuditField[]? _fields;
    private string? _text;
    private SyscallContext? _syscall;

    /// <summary>Where the last enriched name was found (a hint only: any value is a correct place to start).</summary>
    private int _enrichmentCursor;

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal AuditRecord(byte[] line, in AuditRecordHeader header, RecordType type, string? node, string file, long lineNumber, AuditValueInterpreter interpreter)
    {
        _line = line;
        _bodyStart = header.BodyStart;
        _bodyEnd = header.BodyEnd;
        _interpreter = interpreter;
        Type = type.Name;
        TypeNumber = type.Number;
        Node = node;
        Seconds = header.Seconds;
        Milliseconds = header.Milliseconds;
        Serial = header.Serial;
        IsEnriched = header.IsEnriched;
        File = file;
        LineNumber = lineNumber;
    }

    /// <summary>The record type as written (SYSCALL, PATH, USER_LOGIN, or UNKNOWN[1334] for types auditd did not know).</summary>
    public string Type { get; }

    /// <summary>The record type number (1300 for SYSCALL), or -1 when the name is not one libaudit 3.0.9 knows.</summary>
    public int TypeNumber { get; }

    /// <summary>The node= prefix auditd adds when name_format is set; null when absent.</summary>
    public string? Node { get; }

    public DateTime Timestamp => DateTime.UnixEpoch.AddSeconds(Seconds).AddMilliseconds(Milliseconds);

    public long Serial { get; }

    /// <summary>True when auditd wrote the names it resolved after the record (log_format = ENRICHED).</summary>
    public bool IsEnriched { get; }

    /// <summary>The log file the line was read from.</summary>
    public string File { get; }

    /// <summary>The line number in <see cref="File"/>, from 1.</summary>
    public long LineNumber { get; }

    internal long Seconds { get; }

    internal int Milliseconds { get; }

    /// <summary>The line exactly as auditd wrote it (an ENRICHED line keeps its 0x1D separator).</summary>
    public string Text => _text ??= Encoding.UTF8.GetString(_line);

    /// <summary>Every name=value pair of the record, in order; the enriched names are not fields of their own.</summary>
    public IReadOnlyList<AuditField> Fields
    {
        get
        {
            if (_fields is null)
            {
                var slices = Slices;
                var fields = new AuditField[slices.Length];
                for (var i = 0; i < slices.Length; i++)
                {
                    fields[i] = new AuditField(this, i);
                }

                _fields = fields;
            }

            return _fields;
        }
    }

    /// <summary>The value of the first field with this name as written in the log (quotes and hex kept), or null.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public string? GetRaw(string name)
    {
        var index = IndexOf(name);
        return index < 0 ? null : RawValue(index);
    }

    /// <summary>The value of the first field with this name as <c>ausearch -i</c> shows it, or null.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public string? GetInterpreted(string name)
    {
        var index = IndexOf(name);
        return index < 0 ? null : Interpret(index);
    }

    /// <summary>The record as <c>ausearch -i</c> prints it, with the time stamp in UTC.</summary>
    public override string ToString()
    {
        var builder = new StringBuilder(_line.Length + 64);
        AppendInterpreted(builder, string.Create(CultureInfo.InvariantCulture, $" msg=audit({Timestamp:yyyy-MM-dd HH:mm:ss.fff}:{Serial}) :"));
        return builder.ToString();
    }

    /// <summary>Writes the record as <c>ausearch -i</c> does; <paramref name="stamp"/> is the " msg=audit(...) :" part its event shares.</summary>
    internal void AppendInterpreted(StringBuilder builder, string stamp)
    {
        if (Node is not null)
        {
            builder.Append("node=").Append(Node).Append(' ');
        }

        builder.Append("type=").Append(Type).Append(stamp);
        var slices = Slices;
        var inMessage = false;
        for (var i = 0; i < slices.Length; i++)
        {
            // A user record's inner pairs are its fields, printed inside msg='...' as ausearch prints them.
            if (inMessage && !slices[i].InMessage)
            {
                builder.Append('\'');
                inMessage = false;
            }

            if (slices[i].InMessage && !inMessage)
            {
                builder.Append(" msg='");
                inMessage = true;
            }
            else
            {
                builder.Append(' ');
            }

            // The interpreted value is kept when an AuditField already holds it, or worked out without creating one.
            var name = NameOf(i, out var kind);
            builder.Append(name).Append('=').Append(_fields is { } fields ? fields[i].Interpreted : Interpret(i, name, kind));
        }

        if (inMessage)
        {
            builder.Append('\'');
        }
    }

    internal ReadOnlySpan<byte> Line => _line;

    internal FieldSlice[] Slices => _slices ??= AuditFieldParser.Parse(_line, _bodyStart, _bodyEnd);

    /// <summary>The enriched NAME=value pairs after the 0x1D separator (names upper case), or an empty array.</summary>
    internal FieldSlice[] Enrichment => _enrichment ??= IsEnriched
        ? AuditFieldParser.Parse(_line, _bodyEnd + 1, _line.Length)
        : [];

    internal AuditValueInterpreter Interpreter => _interpreter;

    internal SyscallContext Syscall => _syscall ??= _interpreter.CreateSyscallContext(this);

    internal ReadOnlySpan<byte> NameSpan(int index)
    {
        var slice = Slices[index];
        return _line.AsSpan(slice.NameStart, slice.NameLength);
    }

    internal ReadOnlySpan<byte> ValueSpan(int index)
    {
        var slice = Slices[index];
        return _line.AsSpan(slice.ValueStart, slice.ValueLength);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal string NameOf(int index) => FieldNames.Get(NameSpan(index));

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal string NameOf(int index, out FieldKind kindOfName) => FieldNames.Get(NameSpan(index), out kindOfName);

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal string RawValue(int index) => Encoding.UTF8.GetString(ValueSpan(index));

    internal string Interpret(int index)
    {
        var name = NameOf(index, out var kind);
        return Interpret(index, name, kind);
    }

    /// <summary>True when <paramref name="text"/> is the field's value exactly as written (an uninterpreted value).</summary>
    internal bool RawEquals(int index, string text)
    {
        var value = ValueSpan(index);
        return value.Length == text.Length && Ascii.Equals(value, text);
    }

    internal string Interpret(int index, string name, FieldKind kindOfName) => _interpreter.Interpret(this, index, name, kindOfName) ?? RawValue(index);

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal int IndexOf(string name)
    {
        var slices = Slices;
        for (var i = 0; i < slices.Length; i++)
        {
            if (slices[i].NameLength == name.Length && Ascii.Equals(_line.AsSpan(slices[i].NameStart, slices[i].NameLength), name))
            {
                return i;
            }
        }

        return -1;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal int IndexOf(ReadOnlySpan<byte> name)
    {
        var slices = Slices;
        for (var i = 0; i < slices.Length; i++)
        {
            if (slices[i].NameLength == name.Length && _line.AsSpan(slices[i].NameStart, slices[i].NameLength).SequenceEqual(name))
            {
                return i;
            }
        }

        return -1;
    }

    /// <summary>The enriched value for a field name (compared ignoring case, as auditd writes them upper case).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal bool TryGetEnriched(ReadOnlySpan<byte> name, out ReadOnlySpan<byte> value)
    {
        // auditd writes the names in the order of the fields they resolve (AUID, UID, GID, EUID...), so reading a
        // record's fields in order finds each one where the search for the previous one stopped.
        var enrichment = Enrichment;
        var start = _enrichmentCursor;
        for (var step = 0; step < enrichment.Length; step++)
        {
            var i = start + step < enrichment.Length ? start + step : start + step - enrichment.Length;
            var slice = enrichment[i];
            if (slice.NameLength == name.Length && Ascii.EqualsIgnoreCase(_line.AsSpan(slice.NameStart, slice.NameLength), name))
            {
                _enrichmentCursor = i + 1 < enrichment.Length ? i + 1 : 0;
                value = _line.AsSpan(slice.ValueStart, slice.ValueLength);
                return true;
            }
        }

        value = default;
        return false;
    }
}

/// <summary>One name=value pair of a record: as written in the log, and as <c>ausearch -i</c> shows it.</summary>
/// <remarks>
/// A log holds millions of fields, and reading every one makes one of these each: it keeps only its record, its
/// place and the interpreted text once worked out (40 bytes instead of 56). The name is the record's shared string
/// for it, and the raw text is cut from the line when asked for.
/// </remarks>
public sealed class AuditField
{
    private readonly AuditRecord _record;
    private readonly int _index;
    private string? _interpreted;

    internal AuditField(AuditRecord record, int index)
    {
        _record = record;
        _index = index;
    }

    public string Name => _record.NameOf(_index);

    /// <summary>The value as written: "quoted", hex-encoded, or a number.</summary>
    public string Raw => _interpreted is { } known && _record.RawEquals(_index, known) ? known : _record.RawValue(_index);

    /// <summary>The value as <c>ausearch -i</c> shows it: names for ids, syscalls and flags, decoded strings.</summary>
    public string Interpreted => _interpreted ??= _record.Interpret(_index);

    public override string ToString() => $"{Name}={Interpreted}";
}

/// <summary>
/// Field names repeat on every line; one string per distinct name keeps them from being allocated per record, and
/// the name's kind in the field-kind table is kept with it, so interpreting a field looks nothing up by name again.
/// </summary>
internal static class FieldNames
{
    private const int ShortSlots = 512;

    [ThreadStatic]
    private static Dictionary<int, KnownName[]>? _byHash;

    /// <summary>
    /// Names of up to 8 bytes (nearly all of them: pid, uid, a0, syscall, name...) by their bytes packed into one
    /// number; no name holds a NUL byte, so the number alone tells names apart and a lookup costs one comparison.
    /// </summary>
    [ThreadStatic]
    private static ShortName[]? _short;

    public static string Get(ReadOnlySpan<byte> name) => Get(name, out _);

    /// <param name="name">The name's bytes.</param>
    /// <param name="kind">The table's kind for the name (<see cref="FieldKinds.KindOfName"/>), before the record's type refines it.</param>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static string Get(ReadOnlySpan<byte> name, out FieldKind kind)
    {
        if (name.Length is > 0 and <= 8)
        {
            ulong packed = 0;
            for (var i = name.Length - 1; i >= 0; i--)
            {
                packed = (packed << 8) | name[i];
            }

            var table = _short ??= new ShortName[ShortSlots];
            ref var slot = ref table[(int)((packed * 0x9E3779B97F4A7C15UL) >> 55)];
            if (slot.Packed == packed && slot.Name is { } known)
            {
                kind = slot.Kind;
                return known;
            }

            var found = GetByHash(name);
            slot = new ShortName(packed, found.Name, found.Kind);
            kind = found.Kind;
            return found.Name;
        }

        var named = GetByHash(name);
        kind = named.Kind;
        return named.Name;
    }

    private static KnownName GetByHash(ReadOnlySpan<byte> name)
    {
        var byHash = _byHash ??= new Dictionary<int, KnownName[]>();
        var hasher = new HashCode();
        hasher.AddBytes(name);
        var hash = hasher.ToHashCode();
        if (byHash.TryGetValue(hash, out var candidates))
        {
            foreach (var candidate in candidates)
            {
                if (Ascii.Equals(name, candidate.Name))
                {
                    return candidate;
                }
            }
        }

        var text = Encoding.UTF8.GetString(name);
        var created = new KnownName(text, FieldKinds.KindOfName(text));
        if (byHash.Count < 4096)
        {
            byHash[hash] = candidates is null ? [created] : [.. candidates, created];
        }

        return created;
    }

    private readonly record struct KnownName(string Name, FieldKind Kind);

    private readonly record struct ShortName(ulong Packed, string? Name, FieldKind Kind);
}
