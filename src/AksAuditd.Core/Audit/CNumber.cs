using System.Numerics;
using System.Runtime.CompilerServices;

namespace AksAuditd.Core.Audit;

/// <summary>
/// strtol/strtoul/strtoll as glibc does them on a 64-bit host, over text (rule words) or bytes (log values) alike:
/// leading white space, an optional sign, 0x for hex, a leading 0 for octal (base 0), the longest valid prefix,
/// saturation with ERANGE on overflow. auditctl then stores the result in a 32-bit rule value, so callers truncate.
/// </summary>
internal static class CNumber
{
    public readonly record struct Result(ulong Bits, bool Overflow, int Consumed);

    public static bool IsDigit(char c) => c is >= '0' and <= '9';

    public static bool StartsWithDigit(string s) => s.Length > 0 && IsDigit(s[0]);

    /// <summary>strtoul: negative input wraps (as C does); overflow gives ULONG_MAX.</summary>
    public static Result StrToUL(ReadOnlySpan<char> s, int numberBase = 0) => StrToUL<char>(s, numberBase);

    /// <summary>strtol: saturates at LONG_MIN/LONG_MAX with overflow.</summary>
    public static Result StrToL(ReadOnlySpan<char> s, int numberBase = 0) => StrToL<char>(s, numberBase);

    /// <summary>strtoul(3) over a log value: false only on overflow (ERANGE), as ausearch's interpreters test it.</summary>
    public static bool TryStrToUL(ReadOnlySpan<byte> text, int numberBase, out ulong value)
    {
        var result = StrToUL<byte>(text, numberBase);
        value = result.Bits;
        return !result.Overflow;
    }

    /// <summary>strtoll(3) in base 10 over a log value (also strtol: long is 64 bits where auditd runs); false on ERANGE.</summary>
    public static bool TryStrToLL(ReadOnlySpan<byte> text, out long value)
    {
        var result = StrToL<byte>(text, 10);
        value = unchecked((long)result.Bits);
        return !result.Overflow;
    }

    private static Result StrToUL<TChar>(ReadOnlySpan<TChar> s, int numberBase)
        where TChar : unmanaged, IBinaryInteger<TChar>
    {
        var (negative, magnitude, overflow, consumed) = Parse(s, numberBase);
        if (overflow)
        {
            return new Result(ulong.MaxValue, true, consumed);
        }
        return new Result(negative ? unchecked(0UL - magnitude) : magnitude, false, consumed);
    }

    private static Result StrToL<TChar>(ReadOnlySpan<TChar> s, int numberBase)
        where TChar : unmanaged, IBinaryInteger<TChar>
    {
        var (negative, magnitude, overflow, consumed) = Parse(s, numberBase);
        if (!negative && (overflow || magnitude > long.MaxValue))
        {
            return new Result(long.MaxValue, true, consumed);
        }
        if (negative && (overflow || magnitude > (ulong)long.MaxValue + 1))
        {
            return new Result(unchecked((ulong)long.MinValue), true, consumed);
        }
        var value = negative ? unchecked((long)(0UL - magnitude)) : (long)magnitude;
        return new Result(unchecked((ulong)value), false, consumed);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static (bool Negative, ulong Magnitude, bool Overflow, int Consumed) Parse<TChar>(ReadOnlySpan<TChar> s, int numberBase)
        where TChar : unmanaged, IBinaryInteger<TChar>
    {
        var i = 0;
        while (i < s.Length && IsSpace(Code(s[i])))
        {
            i++;
        }
        var negative = false;
        if (i < s.Length && Code(s[i]) is '+' or '-')
        {
            negative = Code(s[i]) == '-';
            i++;
        }
        var b = numberBase;
        if ((b == 0 || b == 16) && i + 2 < s.Length && Code(s[i]) == '0' && (Code(s[i + 1]) | 0x20) == 'x'
            && DigitValue(Code(s[i + 2])) < 16)
        {
            i += 2;
            b = 16;
        }
        else if (b == 0)
        {
            b = i < s.Length && Code(s[i]) == '0' ? 8 : 10;
        }

        var start = i;
        ulong magnitude = 0;
        var overflow = false;
        while (i < s.Length)
        {
            var d = DigitValue(Code(s[i]));
            if (d >= b)
            {
                break;
            }
            if (!overflow)
            {
                if (magnitude > (ulong.MaxValue - (ulong)d) / (ulong)b)
                {
                    overflow = true;
                }
                else
                {
                    magnitude = magnitude * (ulong)b + (ulong)d;
                }
            }
            i++;
        }
        if (i == start)
        {
            // No digits: nothing is consumed and the value is 0.
            return (false, 0, false, 0);
        }
        return (negative, magnitude, overflow, i);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int Code<TChar>(TChar c) where TChar : unmanaged, IBinaryInteger<TChar> => int.CreateTruncating(c);

    // isspace in the C locale.
    private static bool IsSpace(int c) => c == ' ' || (c >= '\t' && c <= '\r');

    private static int DigitValue(int c) => c switch
    {
        >= '0' and <= '9' => c - '0',
        >= 'a' and <= 'z' => c - 'a' + 10,
        >= 'A' and <= 'Z' => c - 'A' + 10,
        _ => 99,
    };
}
