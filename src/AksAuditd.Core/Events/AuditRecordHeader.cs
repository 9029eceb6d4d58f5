using System.Runtime.CompilerServices;

namespace AksAuditd.Core.Events;

/// <summary>
/// Where the parts of one audit.log line are: <c>[node=N ]type=T msg=audit(SEC.MILLI:SERIAL): BODY[\x1dENRICHED]</c>.
/// Offsets are into the line; parsing allocates nothing.
/// </summary>
internal readonly struct AuditRecordHeader
{
    /// <summary>auditd's ENRICHED format appends the names it resolved after this byte (AUDIT_INTERP_SEPARATOR).</summary>
    public const byte EnrichmentSeparator = 0x1D;

    public int NodeStart { get; init; }

    public int NodeLength { get; init; }

    public int TypeStart { get; init; }

    public int TypeLength { get; init; }

    public long Seconds { get; init; }

    public int Milliseconds { get; init; }

    public long Serial { get; init; }

    /// <summary>First byte after "): ".</summary>
    public int BodyStart { get; init; }

    /// <summary>Index of the 0x1D separator, or the line length when the record is not enriched.</summary>
    public int BodyEnd { get; init; }

    public bool IsEnriched { get; init; }

    /// <summary>Parses the header, or says in a few words why the line is not an audit record.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static bool TryParse(ReadOnlySpan<byte> line, out AuditRecordHeader header, out string? problem)
    {
        header = default;
        if (HasControlBytes(line))
        {
            problem = "it contains binary data";
            return false;
        }

        var position = 0;
        int nodeStart = 0, nodeLength = 0;
        if (line.StartsWith("node="u8))
        {
            var space = line.IndexOf((byte)' ');
            if (space < 0)
            {
                problem = "it has no type= after node=";
                return false;
            }

            nodeStart = 5;
            nodeLength = space - 5;
            position = space + 1;
        }

        if (!line[position..].StartsWith("type="u8))
        {
            problem = "it does not start with type=";
            return false;
        }

        var typeStart = position + 5;
        var typeLength = line[typeStart..].IndexOf((byte)' ');
        if (typeLength <= 0)
        {
            problem = "it has no msg=audit(...) time stamp";
            return false;
        }

        position = typeStart + typeLength + 1;
        if (!line[position..].StartsWith("msg=audit("u8))
        {
            problem = "it has no msg=audit(...) time stamp";
            return false;
        }

        position += 10;
        if (!TryReadNumber(line, ref position, out var seconds) || position >= line.Length || line[position] != '.')
        {
            problem = "its time stamp is incomplete";
            return false;
        }

        position++;
        var milliStart = position;
        if (!TryReadNumber(line, ref position, out var milliseconds) || position - milliStart > 3 || position >= line.Length || line[position] != ':')
        {
            problem = "its time stamp is incomplete";
            return false;
        }

        position++;
        if (!TryReadNumber(line, ref position, out var serial) || position + 1 >= line.Length || line[position] != ')' || line[position + 1] != ':')
        {
            problem = "its time stamp is incomplete";
            return false;
        }

        position += 2;
        if (position < line.Length && line[position] == ' ')
        {
            position++;
        }

        var separator = line[position..].IndexOf(EnrichmentSeparator);
        var bodyEnd = separator < 0 ? line.Length : position + separator;

        // Quoted values never contain a quote (the kernel hex-encodes those), so an odd count means the
        // line was cut off inside a value.
        if ((line[position..bodyEnd].Count((byte)'"') & 1) != 0)
        {
            problem = "it ends inside a quoted value (truncated)";
            return false;
        }

        header = new AuditRecordHeader
        {
            NodeStart = nodeStart,
            NodeLength = nodeLength,
            TypeStart = typeStart,
            TypeLength = typeLength,
            Seconds = seconds,
            Milliseconds = (int)milliseconds,
            Serial = serial,
            BodyStart = position,
            BodyEnd = bodyEnd,
            IsEnriched = separator >= 0,
        };
        problem = null;
        return true;
    }

    /// <summary>
    /// The kernel hex-encodes every value that holds a control character, and auditd writes nothing below 0x20
    /// except the enrichment separator, so any other control byte means the line is not a record. Lines are
    /// printable ASCII but for that separator and the odd UTF-8 name, so the vectorized scan rarely stops.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static bool HasControlBytes(ReadOnlySpan<byte> line)
    {
        while (true)
        {
            var index = line.IndexOfAnyExceptInRange((byte)0x20, (byte)0x7e);
            if (index < 0)
            {
                return false;
            }

            var b = line[index];
            if (b == 0x7f || (b < 0x20 && b != EnrichmentSeparator))
            {
                return true;
            }

            line = line[(index + 1)..];
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static bool TryReadNumber(ReadOnlySpan<byte> line, ref int position, out long value)
    {
        value = 0;
        var start = position;
        while (position < line.Length && (uint)(line[position] - '0') <= 9)
        {
            if (position - start >= 18)
            {
                return false;
            }

            value = value * 10 + (line[position] - '0');
            position++;
        }

        return position > start;
    }
}
