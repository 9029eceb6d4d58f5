using System.Runtime.CompilerServices;
namespace AksAuditd.Core.Events;

/// <summary>
/// Where one name=value pair lies in its line, and whether it is one of the pairs inside a user record's
/// <c>msg='...'</c>, which ausearch prints inside that wrapper. 16 bytes, not the 20 of five plain fields: a log holds
/// millions of fields. A name is shorter than its line, and a line longer than <see cref="AuditLogLineReader.MaxLineLength"/>
/// (64 KiB) is never read, so the name's length fits in 16 bits.
/// </summary>
internal readonly record struct FieldSlice
{
    public FieldSlice(int nameStart, int nameLength, int valueStart, int valueLength, bool inMessage = false)
    {
        NameStart = nameStart;
        ValueStart = valueStart;
        ValueLength = valueLength;
        _nameLength = checked((ushort)nameLength);
        InMessage = inMessage;
    }

    public int NameStart { get; }

    public int ValueStart { get; }

    public int ValueLength { get; init; }

    private readonly ushort _nameLength;

    public int NameLength => _nameLength;

    /// <summary>Found inside a user record's <c>msg='...'</c>.</summary>
    public bool InMessage { get; }
}

/// <summary>
/// Splits a record body into name=value pairs the way ausearch reads them: values are "quoted", hex, {braced}
/// or bare words; a user record's <c>msg='...'</c> is opened and its inner pairs become the record's fields;
/// words without '=' (free text such as <c>text=operator note: checking</c>) continue the previous value.
/// </summary>
internal static class AuditFieldParser
{
    [ThreadStatic]
    private static FieldSlice[]? _scratch;

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static FieldSlice[] Parse(ReadOnlySpan<byte> line, int start, int end)
    {
        // Most records have fewer than 48 fields; EXECVE records of long command lines have hundreds.
        var slices = _scratch ??= new FieldSlice[64];
        var count = 0;
        var nestedEnd = -1;
        var position = start;
        while (position < end)
        {
            if (position == nestedEnd)
            {
                // The closing quote of msg='...'.
                position++;
                nestedEnd = -1;
                continue;
            }

            var limit = nestedEnd >= 0 ? nestedEnd : end;
            if (line[position] == ' ')
            {
                position++;
                continue;
            }

            // One scan finds whichever comes first: the space that ends a bare word, or the '=' that ends a name.
            var token = line[position..limit];
            var stop = token.IndexOfAny((byte)' ', (byte)'=');
            var equals = stop >= 0 && token[stop] == '=' ? stop : -1;
            if (equals <= 0)
            {
                var space = stop < 0 || token[stop] == ' ' ? stop : token.IndexOf((byte)' ');
                // A word with no '=' of its own belongs to the previous value (free text in user messages).
                var wordEnd = space < 0 ? limit : position + space;
                if (count > 0)
                {
                    var last = slices[count - 1];
                    slices[count - 1] = last with { ValueLength = wordEnd - last.ValueStart };
                }

                position = wordEnd;
                continue;
            }

            var nameStart = position;
            var valueStart = position + equals + 1;
            if (count == slices.Length)
            {
                Array.Resize(ref _scratch, slices.Length * 2);
                slices = _scratch;
            }

            if (valueStart >= limit)
            {
                slices[count++] = new FieldSlice(nameStart, equals, valueStart, 0, nestedEnd >= 0);
                position = valueStart;
                continue;
            }

            var first = line[valueStart];
            if (first == '\'' && nestedEnd < 0)
            {
                // msg='op=login acct="root" res=success': the pairs inside are the record's real fields.
                var close = line[(valueStart + 1)..end].LastIndexOf((byte)'\'');
                if (close >= 0)
                {
                    nestedEnd = valueStart + 1 + close;
                    position = valueStart + 1;
                    continue;
                }
            }

            int valueEnd;
            if (first == '"' || first == '\'')
            {
                var close = line[(valueStart + 1)..limit].IndexOf(first);
                valueEnd = close < 0 ? limit : valueStart + 2 + close;
            }
            else if (first == '{')
            {
                var close = line[valueStart..limit].IndexOf((byte)'}');
                valueEnd = close < 0 ? limit : valueStart + close + 1;
            }
            else
            {
                var nextSpace = line[valueStart..limit].IndexOf((byte)' ');
                valueEnd = nextSpace < 0 ? limit : valueStart + nextSpace;
            }

            slices[count++] = new FieldSlice(nameStart, equals, valueStart, valueEnd - valueStart, nestedEnd >= 0);
            position = valueEnd;
        }

        return slices.AsSpan(0, count).ToArray();
    }
}
