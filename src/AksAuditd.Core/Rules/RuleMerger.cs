using System.Text;

namespace AksAuditd.Core.Rules;

public sealed record RuleMergerOptions
{
    /// <summary>
    /// augenrules runs its filter with the system awk. Debian and Ubuntu ship mawk, which reads the <c>\s</c> of
    /// augenrules' patterns as a plain 's': there, only comments starting in the first column are dropped and only an
    /// exact "-D" line is moved to the top. gawk (Azure Linux, RHEL) reads <c>\s</c> as whitespace. False is mawk.
    /// </summary>
    public bool AwkMatchesWhitespaceClass { get; init; }

    /// <summary>The directory named in the first line of the merged file (augenrules always names its own).</summary>
    public string SourceDirectoryLabel { get; init; } = "/etc/audit/rules.d";
}

/// <summary>
/// Builds the single audit.rules from a rules.d directory byte for byte as augenrules (auditd 3.0.9) does: the
/// names ending in ".rules" in <c>ls -1v</c> order (split at whitespace, as the shell's unquoted loop does),
/// concatenated, blank and comment lines dropped, the last bare -D first, then the last -b and -f lines, the rules,
/// and the last -e line at the end.
/// </summary>
public sealed class RuleMerger
{
    private static readonly Encoding Bytes = Encoding.Latin1;

    public RuleMerger(RuleMergerOptions? options = null)
    {
        Options = options ?? new RuleMergerOptions();
    }

    public RuleMergerOptions Options { get; }

    /// <summary>The merged audit.rules text (UTF-8).</summary>
    public string Merge(string rulesDirectory) => Encoding.UTF8.GetString(MergeBytes(rulesDirectory));

    public byte[] MergeBytes(string rulesDirectory)
    {
        var sources = SourceFiles(rulesDirectory);
        using var concatenated = new MemoryStream();
        foreach (var file in sources)
        {
            // cat: a directory or a missing name (from a name split at a space) contributes nothing.
            if (File.Exists(file))
            {
                var content = File.ReadAllBytes(file);
                concatenated.Write(content);
            }
        }
        return Filter(concatenated.ToArray());
    }

    /// <summary>Merges in-memory entries (ConfigMap data: name and text) as if they were the files of rules.d.</summary>
    public string MergeEntries(IEnumerable<KeyValuePair<string, string>> entries)
    {
        var byName = entries.ToDictionary(e => e.Key, e => e.Value, StringComparer.Ordinal);
        var builder = new StringBuilder();
        foreach (var word in OrderedWords(byName.Keys))
        {
            if (byName.TryGetValue(word, out var text))
            {
                builder.Append(text);
            }
        }
        return Encoding.UTF8.GetString(Filter(Encoding.UTF8.GetBytes(builder.ToString())));
    }

    /// <summary>The paths augenrules would cat, in order (a name with spaces becomes several, usually missing, paths).</summary>
    public IReadOnlyList<string> SourceFiles(string rulesDirectory)
    {
        if (!Directory.Exists(rulesDirectory))
        {
            throw new DirectoryNotFoundException($"No rules directory - {rulesDirectory}");
        }
        var names = new DirectoryInfo(rulesDirectory).EnumerateFileSystemInfos()
            .Select(i => i.Name)
            .Where(n => !n.StartsWith('.'));
        return OrderedWords(names).Select(w => Path.Combine(rulesDirectory, w)).ToList();
    }

    private static IEnumerable<string> OrderedWords(IEnumerable<string> names)
    {
        var sorted = names.ToList();
        sorted.Sort(CompareVersions);
        foreach (var name in sorted)
        {
            // `ls -1v | grep "\.rules$"` works per output line; the for loop then splits at spaces, TABs and newlines.
            foreach (var line in name.Split('\n'))
            {
                if (!line.EndsWith(".rules", StringComparison.Ordinal))
                {
                    continue;
                }
                foreach (var word in line.Split([' ', '\t'], StringSplitOptions.RemoveEmptyEntries))
                {
                    yield return word;
                }
            }
        }
    }

    private byte[] Filter(byte[] input)
    {
        var text = Bytes.GetString(input);
        var records = text.Split('\n').ToList();
        if (records.Count > 0 && records[^1].Length == 0)
        {
            // The newline that ends the last record does not start another one.
            records.RemoveAt(records.Count - 1);
        }
        string minusE = string.Empty, minusD = string.Empty, minusF = string.Empty, minusB = string.Empty;
        var rules = new List<string>();
        foreach (var record in records)
        {
            if (record.Length < 1 || StartsAfterSpace(record, "#"))
            {
                continue;
            }
            if (StartsAfterSpace(record, "-e"))
            {
                minusE = record;
            }
            else if (IsBareDeleteAll(record))
            {
                minusD = record;
            }
            else if (StartsAfterSpace(record, "-f"))
            {
                minusF = record;
            }
            else if (StartsAfterSpace(record, "-b"))
            {
                minusB = record;
            }
            else
            {
                rules.Add(record);
            }
        }
        var output = new StringBuilder();
        output.Append("## This file is automatically generated from ").Append(Options.SourceDirectoryLabel).Append('\n');
        output.Append(minusD).Append('\n').Append(minusB).Append('\n').Append(minusF).Append('\n');
        foreach (var rule in rules)
        {
            output.Append(rule).Append('\n');
        }
        output.Append(minusE).Append('\n');
        return Bytes.GetBytes(output.ToString());
    }

    /// <summary>match($0, "^\\s*" prefix): optional "whitespace" (or, in mawk, the letter s), then the prefix.</summary>
    private bool StartsAfterSpace(string record, string prefix)
    {
        var i = SkipSpace(record, 0);
        return string.CompareOrdinal(record, i, prefix, 0, prefix.Length) == 0;
    }

    /// <summary>match($0, "^\\s*-D\\s*$").</summary>
    private bool IsBareDeleteAll(string record)
    {
        var i = SkipSpace(record, 0);
        if (string.CompareOrdinal(record, i, "-D", 0, 2) != 0)
        {
            return false;
        }
        return SkipSpace(record, i + 2) == record.Length;
    }

    private int SkipSpace(string record, int i)
    {
        while (i < record.Length && IsSpaceClass(record[i]))
        {
            i++;
        }
        return i;
    }

    private bool IsSpaceClass(char c) => Options.AwkMatchesWhitespaceClass
        ? c is ' ' or '\t' or '\n' or '\v' or '\f' or '\r'
        : c == 's';

    /// <summary>
    /// The order of <c>ls -v</c> (GNU coreutils 9.1): version order of the names (gnulib filevercmp, with a name's
    /// trailing suffixes like ".rules" set aside on the first pass), ties broken by byte order.
    /// </summary>
    public static int CompareVersions(string a, string b)
    {
        // File names are bytes on Linux; .NET holds them decoded from UTF-8.
        var x = Encoding.UTF8.GetBytes(a);
        var y = Encoding.UTF8.GetBytes(b);
        var diff = FileVersionCompare(x, y);
        return diff != 0 ? diff : ByteCompare(x, y);
    }

    private static int ByteCompare(byte[] x, byte[] y) => x.AsSpan().SequenceCompareTo(y);

    private static int FileVersionCompare(byte[] a, byte[] b)
    {
        var aEmpty = a.Length == 0;
        var bEmpty = b.Length == 0;
        if (aEmpty)
        {
            return bEmpty ? 0 : -1;
        }
        if (bEmpty)
        {
            return 1;
        }
        // "." first, then "..", then other hidden names, then the rest.
        if (a[0] == '.')
        {
            if (b[0] != '.')
            {
                return -1;
            }
            var aDot = a.Length == 1;
            var bDot = b.Length == 1;
            if (aDot)
            {
                return bDot ? 0 : -1;
            }
            if (bDot)
            {
                return 1;
            }
            var aDotDot = a[1] == '.' && a.Length == 2;
            var bDotDot = b[1] == '.' && b.Length == 2;
            if (aDotDot)
            {
                return bDotDot ? 0 : -1;
            }
            if (bDotDot)
            {
                return 1;
            }
        }
        else if (b[0] == '.')
        {
            return 1;
        }

        var aPrefix = PrefixLength(a);
        var bPrefix = PrefixLength(b);
        var onePass = aPrefix == a.Length && bPrefix == b.Length;
        var result = VersionCompare(a, aPrefix, b, bPrefix);
        return result != 0 || onePass ? result : VersionCompare(a, a.Length, b, b.Length);
    }

    /// <summary>The length of the name without its longest suffix of the form (\.[A-Za-z~][A-Za-z0-9~]*)*.</summary>
    private static int PrefixLength(byte[] s)
    {
        var prefix = 0;
        var i = 0;
        while (i < s.Length)
        {
            i++;
            prefix = i;
            while (i + 1 < s.Length && s[i] == '.' && (IsAlpha(s[i + 1]) || s[i + 1] == '~'))
            {
                i += 2;
                while (i < s.Length && (IsAlnum(s[i]) || s[i] == '~'))
                {
                    i++;
                }
            }
        }
        return prefix;
    }

    private static int Order(byte[] s, int pos, int length)
    {
        if (pos == length)
        {
            return -1;
        }
        var c = s[pos];
        if (IsDigit(c))
        {
            return 0;
        }
        if (IsAlpha(c))
        {
            return c;
        }
        if (c == '~')
        {
            return -2;
        }
        return c + 256;
    }

    /// <summary>Debian's version comparison: non-digit runs by character order (~ lowest), digit runs numerically.</summary>
    private static int VersionCompare(byte[] s1, int len1, byte[] s2, int len2)
    {
        int p1 = 0, p2 = 0;
        while (p1 < len1 || p2 < len2)
        {
            var firstDiff = 0;
            while ((p1 < len1 && !IsDigit(s1[p1])) || (p2 < len2 && !IsDigit(s2[p2])))
            {
                var c1 = Order(s1, p1, len1);
                var c2 = Order(s2, p2, len2);
                if (c1 != c2)
                {
                    return c1 - c2;
                }
                p1++;
                p2++;
            }
            while (p1 < len1 && s1[p1] == '0')
            {
                p1++;
            }
            while (p2 < len2 && s2[p2] == '0')
            {
                p2++;
            }
            while (p1 < len1 && p2 < len2 && IsDigit(s1[p1]) && IsDigit(s2[p2]))
            {
                if (firstDiff == 0)
                {
                    firstDiff = s1[p1] - s2[p2];
                }
                p1++;
                p2++;
            }
            if (p1 < len1 && IsDigit(s1[p1]))
            {
                return 1;
            }
            if (p2 < len2 && IsDigit(s2[p2]))
            {
                return -1;
            }
            if (firstDiff != 0)
            {
                return firstDiff;
            }
        }
        return 0;
    }

    private static bool IsDigit(byte c) => c is >= (byte)'0' and <= (byte)'9';

    private static bool IsAlpha(byte c) => c is >= (byte)'a' and <= (byte)'z' or >= (byte)'A' and <= (byte)'Z';

    private static bool IsAlnum(byte c) => IsDigit(c) || IsAlpha(c);
}
