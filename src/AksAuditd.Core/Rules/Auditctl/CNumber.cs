namespace AksAuditd.Core.Rules.Auditctl;

/// <summary>
/// strtol/strtoul with base 0 (or 16) as glibc does them on a 64-bit host: an optional sign, 0x for hex, a leading 0
/// for octal, the longest valid prefix, saturation with ERANGE on overflow. auditctl then stores the result in a
/// 32-bit rule value, so callers truncate.
/// </summary>
internal static class CNumber
{
    public readonly record struct Result(ulong Bits, bool Overflow, int Consumed);

    public static bool IsDigit(char c) => c is >= '0' and <= '9';

    public static bool StartsWithDigit(string s) => s.Length > 0 && IsDigit(s[0]);

    /// <summary>strtoul: negative input wraps (as C does); overflow gives ULONG_MAX.</summary>
    public static Result StrToUL(string s, int numberBase = 0)
    {
        var (negative, magnitude, overflow, consumed) = Parse(s, numberBase);
        if (overflow)
        {
            return new Result(ulong.MaxValue, true, consumed);
        }
        return new Result(negative ? unchecked(0UL - magnitude) : magnitude, false, consumed);
    }

    /// <summary>strtol: saturates at LONG_MIN/LONG_MAX with overflow.</summary>
    public static Result StrToL(string s, int numberBase = 0)
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

    private static (bool Negative, ulong Magnitude, bool Overflow, int Consumed) Parse(string s, int numberBase)
    {
        var i = 0;
        while (i < s.Length && (s[i] == ' ' || (s[i] >= '\t' && s[i] <= '\r')))
        {
            i++;
        }
        var negative = false;
        if (i < s.Length && (s[i] == '+' || s[i] == '-'))
        {
            negative = s[i] == '-';
            i++;
        }
        var b = numberBase;
        if ((b == 0 || b == 16) && i + 1 < s.Length && s[i] == '0' && (s[i + 1] == 'x' || s[i + 1] == 'X')
            && i + 2 < s.Length && DigitValue(s[i + 2]) < 16)
        {
            i += 2;
            b = 16;
        }
        else if (b == 0)
        {
            b = i < s.Length && s[i] == '0' ? 8 : 10;
        }

        var start = i;
        ulong magnitude = 0;
        var overflow = false;
        while (i < s.Length)
        {
            var d = DigitValue(s[i]);
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

    private static int DigitValue(char c) => c switch
    {
        >= '0' and <= '9' => c - '0',
        >= 'a' and <= 'z' => c - 'a' + 10,
        >= 'A' and <= 'Z' => c - 'A' + 10,
        _ => 99,
    };
}
