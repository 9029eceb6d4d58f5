using System.Globalization;
using System.Numerics;

namespace AksAuditd.Core.Configuration;

/// <summary>
/// Go's <c>time.ParseDuration</c> grammar, so that AA_POLL_INTERVAL values written for the Go tool keep
/// their meaning: an optional sign, then one or more decimal numbers each with a unit
/// (ns, us, µs, μs, ms, s, m, h), such as <c>300ms</c>, <c>-1.5h</c>, <c>2h45m</c> or <c>.5s</c>.
/// A lone <c>0</c> is the only number allowed without a unit.
/// </summary>
public static class GoDuration
{
    private static readonly BigInteger MaxNanoseconds = long.MaxValue;

    private static readonly (string Unit, long Nanoseconds)[] Units =
    {
        ("ns", 1L),
        ("us", 1_000L),
        ("\u00b5s", 1_000L), // MICRO SIGN, as Go accepts
        ("\u03bcs", 1_000L), // GREEK SMALL LETTER MU, as Go accepts
        ("ms", 1_000_000L),
        ("s", 1_000_000_000L),
        ("m", 60_000_000_000L),
        ("h", 3_600_000_000_000L),
    };

    /// <summary>Parses <paramref name="text"/> to whole nanoseconds, or returns an error in Go's words.</summary>
    public static bool TryParseNanoseconds(string? text, out long nanoseconds, out string error)
    {
        nanoseconds = 0;
        error = string.Empty;
        if (text is null)
        {
            error = "invalid duration \"\"";
            return false;
        }

        var quoted = "\"" + text + "\"";
        var s = text.AsSpan();
        var negative = false;
        if (s.Length > 0 && (s[0] == '-' || s[0] == '+'))
        {
            negative = s[0] == '-';
            s = s[1..];
        }

        if (s.SequenceEqual("0"))
        {
            return true;
        }

        if (s.IsEmpty)
        {
            error = $"invalid duration {quoted}";
            return false;
        }

        BigInteger total = 0;
        while (!s.IsEmpty)
        {
            if (!(s[0] == '.' || char.IsAsciiDigit(s[0])))
            {
                error = $"invalid duration {quoted}";
                return false;
            }

            var intLength = CountDigits(s);
            var intDigits = s[..intLength];
            s = s[intLength..];
            BigInteger fraction = 0;
            BigInteger scale = 1;
            var fracDigits = s[..0];
            if (!s.IsEmpty && s[0] == '.')
            {
                s = s[1..];
                var fracLength = CountDigits(s);
                fracDigits = s[..fracLength];
                s = s[fracLength..];
            }

            if (intDigits.IsEmpty && fracDigits.IsEmpty)
            {
                // ".s" or "." has no digits at all.
                error = $"invalid duration {quoted}";
                return false;
            }

            var integer = intDigits.IsEmpty ? BigInteger.Zero : BigInteger.Parse(intDigits, NumberStyles.None, CultureInfo.InvariantCulture);
            if (!fracDigits.IsEmpty)
            {
                fraction = BigInteger.Parse(fracDigits, NumberStyles.None, CultureInfo.InvariantCulture);
                scale = BigInteger.Pow(10, fracDigits.Length);
            }

            var unitLength = 0;
            while (unitLength < s.Length && s[unitLength] != '.' && !char.IsAsciiDigit(s[unitLength]))
            {
                unitLength++;
            }

            if (unitLength == 0)
            {
                error = $"missing unit in duration {quoted}";
                return false;
            }

            var unitText = s[..unitLength].ToString();
            s = s[unitLength..];
            var unit = Array.Find(Units, u => u.Unit == unitText);
            if (unit.Unit is null)
            {
                error = $"unknown unit \"{unitText}\" in duration {quoted}";
                return false;
            }

            total += integer * unit.Nanoseconds + fraction * unit.Nanoseconds / scale;
            if (total > MaxNanoseconds + (negative ? 1 : 0))
            {
                error = $"invalid duration {quoted}";
                return false;
            }
        }

        nanoseconds = negative ? (long)(-total) : (long)total;
        return true;
    }

    /// <summary>Parses to a <see cref="TimeSpan"/> (100 ns resolution; finer parts are truncated).</summary>
    public static bool TryParse(string? text, out TimeSpan duration, out string error)
    {
        duration = TimeSpan.Zero;
        if (!TryParseNanoseconds(text, out var nanoseconds, out error))
        {
            return false;
        }

        duration = TimeSpan.FromTicks(nanoseconds / 100);
        return true;
    }

    /// <summary>Formats like Go's <c>Duration.String</c> for the common cases (<c>1h30m0s</c>, <c>300ms</c>).</summary>
    public static string Format(TimeSpan duration)
    {
        if (duration == TimeSpan.Zero)
        {
            return "0s";
        }

        var sign = duration < TimeSpan.Zero ? "-" : string.Empty;
        var d = duration.Duration();
        if (d < TimeSpan.FromSeconds(1))
        {
            var ms = d.TotalMilliseconds;
            return sign + (ms >= 1
                ? ms.ToString("0.######", CultureInfo.InvariantCulture) + "ms"
                : (d.Ticks / 10.0).ToString("0.###", CultureInfo.InvariantCulture) + "µs");
        }

        var hours = (long)d.TotalHours;
        var seconds = d.Seconds + (d.Ticks % TimeSpan.TicksPerSecond) / (double)TimeSpan.TicksPerSecond;
        var secondsText = seconds.ToString("0.#######", CultureInfo.InvariantCulture) + "s";
        if (hours > 0)
        {
            return $"{sign}{hours}h{d.Minutes}m{secondsText}";
        }

        return d.Minutes > 0 ? $"{sign}{d.Minutes}m{secondsText}" : sign + secondsText;
    }

    private static int CountDigits(ReadOnlySpan<char> s)
    {
        var n = 0;
        while (n < s.Length && char.IsAsciiDigit(s[n]))
        {
            n++;
        }

        return n;
    }
}
