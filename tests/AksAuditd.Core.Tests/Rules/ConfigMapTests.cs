using AksAuditd.Core.Rules;
using Xunit;

namespace AksAuditd.Core.Tests.Rules;

public sealed class ConfigMapTests
{
    [Theory]
    [InlineData("Azure-aks-auditd/kubernetes/configmap/auditd-rules.yaml")]
    [InlineData("KiPIDesTAN-aks-auditd/kubernetes/configmap/auditd-rules.yaml")]
    public void EntryLinesMapToTheManifestLinesTheOracleRecorded(string relative)
    {
        // oracle.tsv numbers the rule lines of these manifests by their line in the YAML file.
        var manifest = Path.Combine(OracleFile.CorpusDirectory, relative);
        var oracle = OracleFile.Read(Path.Combine(OracleFile.CorpusDirectory, "oracle.tsv")).Where(c => c.SourceFile == relative).ToList();
        var (entries, problems) = ConfigMapRuleSource.Read(manifest);
        Assert.Empty(problems);
        var parser = new RuleParser();
        var mapped = entries
            .SelectMany(e => parser.Parse(e.Text, e.Path).Lines.Where(l => l.Kind == RuleLineKind.Rule)
                .Select(l => (Line: e.YamlLine(l.LineNumber)!.Value, l.Text)))
            .ToList();
        Assert.Equal(oracle.Select(c => (c.LineNumber, c.Rule.Trim())), mapped.Select(m => (m.Line, m.Text.Trim())));
    }

    [Fact]
    public void ReportsByEntryAndLineInsideIt()
    {
        var dir = Directory.CreateTempSubdirectory("configmap.");
        try
        {
            var manifest = Path.Combine(dir.FullName, "rules.yaml");
            File.WriteAllText(manifest, """
                apiVersion: apps/v1
                kind: DaemonSet
                metadata:
                  name: not-rules
                ---
                apiVersion: v1
                kind: ConfigMap
                metadata:
                  name: audit-rules
                data:
                  10-base.rules: |
                    -D
                    -b 8192
                  30-watch.rules: |
                    -w /etc/passwd -p wa -k passwd
                    -a always,exit -F arch=b64 -S nosuchcall -k broken
                  README.md: |
                    -w not checked
                  40-folded.rules: "-w etc/shadow -p wa\n"
                """);
            var diagnostics = new RuleValidator().ValidatePath(manifest);
            var broken = Assert.Single(diagnostics, d => d.Code == RuleDiagnosticCodes.UnknownSyscall);
            Assert.Equal((manifest + "[30-watch.rules]", 2, 31), (broken.Path, broken.LineNumber, broken.Column));
            Assert.EndsWith("(rules.yaml line 16)", broken.Message);
            var relative = Assert.Single(diagnostics, d => d.Code == RuleDiagnosticCodes.RelativePath);
            Assert.Equal((manifest + "[40-folded.rules]", 1), (relative.Path, relative.LineNumber));
            Assert.DoesNotContain(diagnostics, d => d.Path!.Contains("README"));
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }

    [Fact]
    public void SaysWhenAManifestHoldsNoRules()
    {
        var (entries, problems) = ConfigMapRuleSource.Parse("apiVersion: v1\nkind: ConfigMap\ndata:\n  a.conf: x\n", "cm.yaml");
        Assert.Empty(entries);
        Assert.Equal(DiagnosticSeverity.Warning, Assert.Single(problems).Severity);
        var (_, broken) = ConfigMapRuleSource.Parse("data: [unclosed\n", "bad.yaml");
        var error = Assert.Single(broken);
        Assert.Equal((DiagnosticSeverity.Error, RuleDiagnosticCodes.YamlEntry), (error.Severity, error.Code));
    }
}
