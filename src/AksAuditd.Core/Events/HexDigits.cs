using System.Buffers;

namespace AksAuditd.Core.Events;

/// <summary>Hex and decimal digits in the bytes of a log value (C numbers themselves are parsed by Audit.CNumber).</summary>
internal static class HexDigits
{
    /// <summary>The hex digits, for the vectorised searches over long values.</summary>
    public static readonly SearchValues<byte> HexDigitBytes = SearchValues.Create("0123456789abcdefABCDEF"u8);

    public static bool IsHex(ReadOnlySpan<byte> value) => value.IndexOfAnyExcept(HexDigitBytes) < 0;

    /// <summary>How many hex digits <paramref name="value"/> starts with (all of it when it is all hex).</summary>
    public static int LeadingHexDigits(ReadOnlySpan<byte> value)
    {
        var end = value.IndexOfAnyExcept(HexDigitBytes);
        return end < 0 ? value.Length : end;
    }

    public static bool IsDecimal(ReadOnlySpan<byte> value)
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

    public static int HexValue(byte b) => (uint)(b - '0') <= 9 ? b - '0' : (b | 0x20) - 'a' + 10;
}
