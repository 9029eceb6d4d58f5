using System.Globalization;
using System.Runtime.CompilerServices;
using System.Text;

namespace AksAuditd.Core.Events;

/// <summary>A reusable byte buffer for building one interpreted value, then escaped for a terminal.</summary>
internal sealed class ValueBuilder
{
    [ThreadStatic]
    private static ValueBuilder? _forThread;

    private byte[] _buffer = new byte[512];

    public int Length { get; private set; }

    /// <summary>This thread's builder, emptied: interpretation runs wherever a lazy value is first read.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static ValueBuilder ForThread()
    {
        var builder = _forThread ??= new ValueBuilder();
        builder.Length = 0;
        return builder;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public ValueBuilder Append(byte value)
    {
        Ensure(1);
        _buffer[Length++] = value;
        return this;
    }

    public ValueBuilder Append(char value) => Append((byte)value);

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public ValueBuilder Append(ReadOnlySpan<byte> value)
    {
        Ensure(value.Length);
        value.CopyTo(_buffer.AsSpan(Length));
        Length += value.Length;
        return this;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public ValueBuilder Append(string value)
    {
        Ensure(Encoding.UTF8.GetMaxByteCount(value.Length));
        Length += Encoding.UTF8.GetBytes(value, _buffer.AsSpan(Length));
        return this;
    }

    public ValueBuilder Append(long value)
    {
        Ensure(24);
        value.TryFormat(_buffer.AsSpan(Length), out var written, default, CultureInfo.InvariantCulture);
        Length += written;
        return this;
    }

    public ValueBuilder AppendHex(uint value)
    {
        Ensure(8);
        value.TryFormat(_buffer.AsSpan(Length), out var written, "x", CultureInfo.InvariantCulture);
        Length += written;
        return this;
    }

    public ValueBuilder AppendOctal(uint value, int minimumDigits)
    {
        Span<byte> digits = stackalloc byte[12];
        var count = 0;
        do
        {
            digits[count++] = (byte)('0' + (value & 7));
            value >>= 3;
        }
        while (value != 0);

        for (var i = count; i < minimumDigits; i++)
        {
            Append('0');
        }

        for (var i = count - 1; i >= 0; i--)
        {
            Append(digits[i]);
        }

        return this;
    }

    /// <summary>Room for <paramref name="count"/> more bytes; <see cref="Advance"/> then counts those written.</summary>
    public Span<byte> GetSpan(int count)
    {
        Ensure(count);
        return _buffer.AsSpan(Length, count);
    }

    public void Advance(int count) => Length += count;

    public ReadOnlySpan<byte> Slice(int start) => _buffer.AsSpan(start, Length - start);

    /// <summary>Turns NUL bytes written since <paramref name="start"/> into spaces (process title arguments).</summary>
    public void ReplaceNul(int start) => _buffer.AsSpan(start, Length - start).Replace((byte)0, (byte)' ');

    /// <summary>The value as text, with control characters shown as \ooo the way ausearch's tty escaping does.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public string ToEscapedString() => Escape(_buffer.AsSpan(0, Length));

    /// <summary>Several keys are separated by 0x01; ausearch prints each as its own key=, so the value reads "a key=b".</summary>
    public string ToKeyString()
    {
        var value = _buffer.AsSpan(0, Length);
        if (value.IndexOf((byte)1) < 0)
        {
            return Escape(value);
        }

        var parts = new List<string>();
        foreach (var range in value.Split((byte)1))
        {
            parts.Add(Escape(value[range]));
        }

        return string.Join(" key=", parts);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static string Escape(ReadOnlySpan<byte> value)
    {
        // Nearly every value has no control character: one vectorised search says so.
        var firstControl = value.IndexOfAnyInRange((byte)0, (byte)31);
        if (firstControl < 0)
        {
            return Encoding.UTF8.GetString(value);
        }

        var controls = 0;
        foreach (var b in value[firstControl..])
        {
            if (b < 32)
            {
                controls++;
            }
        }

        var escaped = new byte[value.Length + 3 * controls];
        var j = 0;
        foreach (var b in value)
        {
            if (b < 32)
            {
                escaped[j++] = (byte)'\\';
                escaped[j++] = (byte)('0' + ((b >> 6) & 3));
                escaped[j++] = (byte)('0' + ((b >> 3) & 7));
                escaped[j++] = (byte)('0' + (b & 7));
            }
            else
            {
                escaped[j++] = b;
            }
        }

        return Encoding.UTF8.GetString(escaped);
    }

    private void Ensure(int count)
    {
        if (Length + count > _buffer.Length)
        {
            Array.Resize(ref _buffer, Math.Max(_buffer.Length * 2, Length + count));
        }
    }
}
