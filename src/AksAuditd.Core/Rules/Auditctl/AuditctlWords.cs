using System.Text;

namespace AksAuditd.Core.Rules.Auditctl;

/// <summary>
/// Splits a rules-file line into words exactly as auditctl 3.0.9 does when it reads a file with -R (fileopt):
/// only spaces separate words (a TAB is part of a word), quotes are literal characters, <c>\ </c> is an escaped
/// space and <c>\\</c> an escaped backslash. The first word is not unescaped (auditctl only unescapes the others).
/// </summary>
internal static class AuditctlWords
{
    /// <summary>fgets buffer of auditctl: a longer line is read as several lines.</summary>
    public const int LineBufferSize = 6144;

    private const char EscapedSpace = '\u0007';
    private const char EscapedBackslash = '\u0004';

    /// <summary>True when auditctl skips the line as blank (empty or spaces only; a TAB is not blank).</summary>
    public static bool IsBlank(string line)
    {
        foreach (var c in line)
        {
            if (c != ' ')
            {
                return false;
            }
        }
        return true;
    }

    public static List<RuleToken> Split(string line)
    {
        if (!line.Contains('\\'))
        {
            return SplitPlain(line);
        }
        // preprocess(): mark "\ " and "\\" pairs; both characters of a pair are replaced so the split ignores them.
        var marked = line.ToCharArray();
        var escaped = false;
        for (var i = 0; i < marked.Length; i++)
        {
            if (marked[i] == '\\' && !escaped)
            {
                escaped = true;
            }
            else
            {
                if (escaped)
                {
                    if (marked[i] == ' ')
                    {
                        marked[i] = marked[i - 1] = EscapedSpace;
                    }
                    else if (marked[i] == '\\')
                    {
                        marked[i] = marked[i - 1] = EscapedBackslash;
                    }
                    escaped = false;
                }
            }
        }

        var tokens = new List<RuleToken>();
        var start = -1;
        for (var i = 0; i <= marked.Length; i++)
        {
            var end = i == marked.Length || marked[i] == ' ';
            if (end)
            {
                if (start >= 0)
                {
                    tokens.Add(MakeToken(marked, start, i - start, unescape: tokens.Count > 0));
                    start = -1;
                }
            }
            else if (start < 0)
            {
                start = i;
            }
        }
        return tokens;
    }

    /// <summary>The common case: no backslash, so no escapes, and words are plain substrings.</summary>
    private static List<RuleToken> SplitPlain(string line)
    {
        var tokens = new List<RuleToken>(12);
        var i = 0;
        while (i < line.Length)
        {
            while (i < line.Length && line[i] == ' ')
            {
                i++;
            }
            if (i == line.Length)
            {
                break;
            }
            var end = line.IndexOf(' ', i);
            if (end < 0)
            {
                end = line.Length;
            }
            tokens.Add(new RuleToken(line.Substring(i, end - i), i + 1, end - i));
            i = end;
        }
        return tokens;
    }

    /// <summary>
    /// auditctl keeps at most strlen(line)/3+1 words of a line (its argv array is sized from the line length);
    /// more words are dropped without a message.
    /// </summary>
    public static int MaxWords(string line) => Encoding.UTF8.GetByteCount(line) / 3 + 1;

    private static RuleToken MakeToken(char[] marked, int start, int length, bool unescape)
    {
        var builder = new StringBuilder(length);
        for (var i = start; i < start + length; i++)
        {
            var c = marked[i];
            if (unescape && (c == EscapedSpace || c == EscapedBackslash))
            {
                // postprocess(): each marked pair becomes one character.
                builder.Append(c == EscapedSpace ? ' ' : '\\');
                i++;
                continue;
            }
            builder.Append(c);
        }
        return new RuleToken(builder.ToString(), start + 1, length);
    }
}
