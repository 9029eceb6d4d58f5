using AksAuditd.Core.Rules;
using AksAuditd.Core.Sync;
using AksAuditd.Core.Tests.Rules;
using Xunit;

namespace AksAuditd.Core.Tests.Sync;

/// <summary>
/// Every crafted plugin file of PluginOracle/cases as the real auditd 3.0.9 read it (plugin-oracle.tsv, recorded by
/// tools/record-plugin-oracle.sh): our reading of the file must say the same, message for message, and the validator
/// must refuse every file auditd skips or cuts short.
/// </summary>
public sealed class PluginOracleTests
{
    private const string ProbeProgram = "/tmp/aa-plugin-oracle/probe";
    private const string PluginDir = "<plugin_dir>";

    private static readonly string OracleDirectory = Path.Combine(OracleFile.RepoRoot, "tests", "AksAuditd.Core.Tests", "Sync", "PluginOracle");

    /// <summary>
    /// Files auditd loads as written whose effect is not what the file says; the validator refuses them on purpose.
    /// </summary>
    private static readonly Dictionary<string, string> StricterThanAuditd = new()
    {
        ["crlf-last-line.conf"] = "auditd passes 'a2\\r' to the program",
        ["tab-in-args.conf"] = "auditd passes 'a1\\ta2' as one argument",
        ["builtin-type-probe-path.conf"] = "auditd counts it active but runs nothing (Unknown builtin)",
    };

    public static TheoryData<string> Cases()
    {
        var data = new TheoryData<string>();
        foreach (var row in Rows())
        {
            data.Add(row.Case);
        }

        return data;
    }

    [Fact]
    public void EveryCraftedFileIsRecorded()
    {
        var files = Directory.GetFiles(Path.Combine(OracleDirectory, "cases")).Select(Path.GetFileName).Where(n => n != ".gitattributes").Order(StringComparer.Ordinal);
        Assert.Equal(files, Rows().Select(r => r.Case).Order(StringComparer.Ordinal));
        Assert.True(Rows().Count >= 70);
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void OurReadingAgreesWithAuditd(string name)
    {
        var row = Rows().Single(r => r.Case == name);
        var contents = File.ReadAllBytes(Path.Combine(OracleDirectory, "cases", name));

        var reading = AuditdPluginFile.Read($"{PluginDir}//{name}", contents, ProgramCheckAsRecorded);

        Assert.Equal(row.Verdict, reading.Verdict.ToString().ToLowerInvariant());
        Assert.Equal(row.Argv, string.Join(' ', reading.Argv));
        Assert.Equal(row.Messages, string.Join('\n', reading.Messages.Select(m => m.Text)));
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void TheValidatorRefusesWhatAuditdSkipsOrCutsShort(string name)
    {
        var row = Rows().Single(r => r.Case == name);
        var text = File.ReadAllText(Path.Combine(OracleDirectory, "cases", name));

        var errors = new PluginConfigValidator(PluginAllowList.From(new[] { PluginAllowList.AnyProgram }), ProgramCheckAsRecorded).Validate($"/src/{name}", text)
            .Where(d => d.Severity == DiagnosticSeverity.Error).ToList();

        // auditd dropped the plugin or one of its lines: the file does not do what it says.
        var auditdDropsSomething = row.Verdict == "refused" || row.Messages.Contains("too long", StringComparison.Ordinal);
        if (auditdDropsSomething || StricterThanAuditd.ContainsKey(name))
        {
            Assert.NotEmpty(errors);
            Assert.All(errors, e => Assert.Equal($"/src/{name}", e.Path));
        }
        else
        {
            Assert.Empty(errors);
        }
    }

    /// <summary>The facts of the recording host: the probe existed (root, 0755); every other program is checked here, for real.</summary>
    private static string? ProgramCheckAsRecorded(string program) =>
        program == ProbeProgram ? null : AuditdPluginFile.ProgramCheckOnNode("/")(program);

    private static IReadOnlyList<OracleRow> Rows()
    {
        var rows = new List<OracleRow>();
        foreach (var line in File.ReadLines(Path.Combine(OracleDirectory, "plugin-oracle.tsv")))
        {
            if (line.StartsWith('#') || line.StartsWith("case\t", StringComparison.Ordinal) || line.Length == 0)
            {
                continue;
            }

            var c = line.Split('\t').Select(OracleFile.Unescape).ToArray();
            rows.Add(new OracleRow(c[0], c[1], c[2], c[3]));
        }

        return rows;
    }

    private sealed record OracleRow(string Case, string Verdict, string Argv, string Messages);
}
