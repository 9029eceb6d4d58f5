using System.Runtime.CompilerServices;

namespace AksAuditd.Core.Events;

/// <summary>C's number parsing and hex digits over the bytes of a log value, as auparse calls them.</summary>
internal static class CNumberText
{
    /// <summary>strtoul(3): optional spaces and sign, then digits of the base; false only on overflow (ERANGE).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static bool StrToUL(ReadOnlySpan<byte> text, int numberBase, out ulong value)
    {
        value = 0;
        var i = 0;
        while (i < text.Length && text[i] is (byte)' ' or (byte)'\t')
        {
            i++;
        }

        var negative = false;
        if (i < text.Length && text[i] is (byte)'+' or (byte)'-')
        {
            negative = text[i] == '-';
            i++;
        }

        if (numberBase == 16 && i + 1 < text.Length && text[i] == '0' && (text[i + 1] | 0x20) == 'x' && i + 2 < text.Length && IsHexDigit(text[i + 2]))
        {
            i += 2;
        }

        for (; i < text.Length; i++)
        {
            var digit = numberBase == 16 ? (IsHexDigit(text[i]) ? HexValue(text[i]) : -1) : (uint)(text[i] - '0') <= 9 ? text[i] - '0' : -1;
            if (digit < 0)
            {
                break;
            }

            if (value > (ulong.MaxValue - (ulong)digit) / (ulong)numberBase)
            {
                return false;
            }

            value = value * (ulong)numberBase + (ulong)digit;
        }

        if (negative)
        {
            value = unchecked(0 - value);
        }

        return true;
    }

    /// <summary>strtoll(3) in base 10 (also strtol(3) for perm= and prom=: long is 64 bits on the platforms auditd runs on).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static bool StrToLL(ReadOnlySpan<byte> text, out long value)
    {
        value = 0;
        var i = 0;
        while (i < text.Length && text[i] is (byte)' ' or (byte)'\t')
        {
            i++;
        }

        var negative = false;
        if (i < text.Length && text[i] is (byte)'+' or (byte)'-')
        {
            negative = text[i] == '-';
            i++;
        }

        ulong magnitude = 0;
        for (; i < text.Length && (uint)(text[i] - '0') <= 9; i++)
        {
            magnitude = magnitude * 10 + (ulong)(text[i] - '0');
            if (magnitude > (negative ? 9223372036854775808UL : long.MaxValue))
            {
                return false;
            }
        }

        value = negative ? unchecked(-(long)magnitude) : (long)magnitude;
        return true;
    }

    internal static bool IsHex(ReadOnlySpan<byte> value)
    {
        foreach (var b in value)
        {
            if (!IsHexDigit(b))
            {
                return false;
            }
        }

        return true;
    }

    internal static bool IsDecimal(ReadOnlySpan<byte> value)
    {
        foreach (var b in value)
        {
            if ((uint)(b - '0') > 9)
            {
                return false;
            }
        }

        return true;
    }

    internal static bool IsHexDigit(byte b) => (uint)(b - '0') <= 9 || (uint)((b | 0x20) - 'a') <= 5;

    internal static int HexValue(byte b) => (uint)(b - '0') <= 9 ? b - '0' : (b | 0x20) - 'a' + 10;
}
