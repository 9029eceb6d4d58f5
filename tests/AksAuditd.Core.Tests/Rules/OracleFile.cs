using System.Text;

namespace AksAuditd.Core.Tests.Rules;

/// <summary>One line of an oracle TSV: what the real auditctl and kernel said about a rule line.</summary>
public sealed record OracleCase(string SourceFile, int LineNumber, string Rule, string ExitCode, string Stderr, string KernelListing)
{
    public bool Skipped => ExitCode == "skipped-unsafe";

    public override string ToString() => $"{SourceFile}:{LineNumber}: {Rule}";
}

/// <summary>Reads the oracle TSVs (the audit-rules corpus and own cases): TAB-separated, with \\ \t \n \r escapes.</summary>
public static class OracleFile
{
    public static string RepoRoot { get; } = FindRepoRoot();

    /// <summary>The audit-rules corpus copied into the repository (tests/fixtures/corpora/audit-rules).</summary>
    public static string CorpusDirectory { get; } = FindCorpus();

    public static string OwnDirectory => Path.Combine(RepoRoot, "tests", "AksAuditd.Core.Tests", "Rules", "Oracle");

    public static IReadOnlyList<OracleCase> Read(string path)
    {
        var cases = new List<OracleCase>();
        foreach (var line in File.ReadLines(path).Skip(1))
        {
            if (line.Length == 0)
            {
                continue;
            }
            var c = line.Split('\t').Select(Unescape).ToArray();
            cases.Add(new OracleCase(c[0], int.Parse(c[1]), c[2], c[3], c[4], c[5]));
        }
        return cases;
    }

    /// <summary>environment-dependent.tsv: source_file, line_no, rule, reason, stderr.</summary>
    public static IReadOnlyDictionary<(string File, int Line), string> ReadEnvironmentDependent()
    {
        var reasons = new Dictionary<(string, int), string>();
        foreach (var line in File.ReadLines(Path.Combine(CorpusDirectory, "environment-dependent.tsv")).Skip(1))
        {
            var c = line.Split('\t').Select(Unescape).ToArray();
            reasons[(c[0], int.Parse(c[1]))] = c[3];
        }
        return reasons;
    }

    public static string Unescape(string s)
    {
        if (!s.Contains('\\'))
        {
            return s;
        }
        var b = new StringBuilder(s.Length);
        for (var i = 0; i < s.Length; i++)
        {
            if (s[i] == '\\' && i + 1 < s.Length)
            {
                i++;
                b.Append(s[i] switch { 't' => '\t', 'n' => '\n', 'r' => '\r', _ => s[i] });
            }
            else
            {
                b.Append(s[i]);
            }
        }
        return b.ToString();
    }

    private static string FindCorpus()
    {
        var corpus = Path.Combine(RepoRoot, "tests", "fixtures", "corpora", "audit-rules");
        return Directory.Exists(corpus)
            ? corpus
            : throw new InvalidOperationException($"the audit-rules corpus is missing from the repository: {corpus}");
    }

    private static string FindRepoRoot() => AksAuditd.Tests.Shared.RepositoryCheckout.Root;
}
