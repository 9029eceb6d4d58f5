using System.Diagnostics;
using System.Text.RegularExpressions;
using AksAuditd.Core.Rules;
using AksAuditd.Tests.Shared;
using Xunit;

namespace AksAuditd.Core.Tests.Rules;

public sealed class WholeFileTests
{
    private static readonly RuleValidator Validator = new(new RuleParserOptions { HostRoot = "/" });

    public static TheoryData<string> RecordedFiles()
    {
        var data = new TheoryData<string>();
        foreach (var line in File.ReadLines(Path.Combine(OracleFile.OwnDirectory, "own-files.tsv")).Skip(1))
        {
            data.Add(line.Split('\t')[0]);
        }
        return data;
    }

    [Theory]
    [MemberData(nameof(RecordedFiles))]
    public void AgreesWithTheRealAuditctlOnWholeFiles(string name)
    {
        // own-files.tsv: each Oracle/files/*.rules loaded with auditctl -R into an empty kernel (tools/generate-rule-oracle.py).
        var record = File.ReadLines(Path.Combine(OracleFile.OwnDirectory, "own-files.tsv")).Skip(1)
            .Select(l => l.Split('\t').Select(OracleFile.Unescape).ToArray())
            .Single(c => c[0] == name);
        var refusedLines = Regex.Matches(record[2], @"There was an error in line (\d+)").Select(m => int.Parse(m.Groups[1].Value)).ToList();
        var file = Validator.Parser.ParseFile(Path.Combine(OracleFile.OwnDirectory, "files", name));

        var diagnostics = Validator.Validate(file);
        var errorLines = diagnostics.Where(d => d.Severity == DiagnosticSeverity.Error).Select(d => d.LineNumber).Distinct().ToList();
        Assert.Equal(refusedLines, errorLines);
        Assert.Equal(KernelRuleListing.Parse(record[3]), KernelRuleListing.Expected(file));
    }

    [Fact]
    public void LoadingAFileIntoTheRealKernelListsWhatWeExpect()
    {
        var source = Path.Combine(OracleFile.OwnDirectory, "files", "order.rules");
        var file = Validator.Parser.ParseFile(source);
        Assert.DoesNotContain(file.Rules, r => r.Options.Any(o => o.Name is "-e" or "-f" or "--loginuid-immutable"));
        var copy = Path.Combine(Path.GetTempPath(), $"aks-rules-{Environment.ProcessId}.rules");
        using var kernel = KernelTestLock.Acquire();
        // Only a kernel that is not auditing and holds no rules may be used: the cleanup's -D then restores exactly
        // what was there. On a machine that audits for real the test fails here and changes nothing.
        Assert.Equal("enabled 0", Auditctl("-s").Split('\n')[0]);
        Assert.Equal("No rules", Auditctl("-l").Trim());
        try
        {
            File.Copy(source, copy, overwrite: true);
            File.SetUnixFileMode(copy, UnixFileMode.UserRead | UnixFileMode.UserWrite);
            Auditctl("-R", copy);
            Assert.Equal(KernelRuleListing.Expected(file), KernelRuleListing.Parse(Auditctl("-l")));
        }
        finally
        {
            Auditctl("-D");
            File.Delete(copy);
        }
    }

    [Fact]
    public void ReportsDuplicatesWithTheLineOfTheFirstCopy()
    {
        var diagnostics = Validator.Validate("dup.rules", "-D\n-w /etc/passwd -p wa -k passwd\n# again\n-a always,exit -F path=/etc/passwd -F perm=wa -F key=passwd\n");
        var duplicate = Assert.Single(diagnostics, d => d.Code == RuleDiagnosticCodes.DuplicateRule);
        Assert.Equal(4, duplicate.LineNumber);
        Assert.Equal(DiagnosticSeverity.Error, duplicate.Severity);
        Assert.Contains("line 2", duplicate.Message);
        Assert.Equal("dup.rules", duplicate.Path);
    }

    [Fact]
    public void EverythingAfterEnable2IsAnErrorAndEnable2ItselfAWarning()
    {
        var diagnostics = Validator.Validate("lock.rules", "-D\n-w /etc/passwd -p wa\n-e 2\n-w /etc/shadow -p wa\n\n-b 100\n");
        var locked = Assert.Single(diagnostics, d => d.Code == RuleDiagnosticCodes.EnableLocked);
        Assert.Equal((3, DiagnosticSeverity.Warning, 4), (locked.LineNumber, locked.Severity, locked.Column));
        var after = diagnostics.Where(d => d.Code == RuleDiagnosticCodes.AfterLock).ToList();
        Assert.Equal([4, 6], after.Select(d => d.LineNumber));
        Assert.All(after, d => Assert.Equal(DiagnosticSeverity.Error, d.Severity));
    }

    [Fact]
    public void FailureModePanicIsAWarning()
    {
        var diagnostics = Validator.Validate("panic.rules", "-f 2\n");
        var panic = Assert.Single(diagnostics);
        Assert.Equal((RuleDiagnosticCodes.PanicOnFailure, DiagnosticSeverity.Warning), (panic.Code, panic.Severity));
        Assert.Contains("panic", panic.Message);
    }

    [Fact]
    public void SaysWhereALoadStopsAndHowManyLinesAreLost()
    {
        var diagnostics = Validator.Validate("stop.rules", "-D\n-a always,exit -F arch=b64 -S nosuchcall\n-w /etc/passwd\n# comment\n-w /etc/shadow\n");
        var stop = Assert.Single(diagnostics, d => d.Code == RuleDiagnosticCodes.LoadStopsHere);
        Assert.Equal((2, DiagnosticSeverity.Information), (stop.LineNumber, stop.Severity));
        Assert.Contains("2 rule lines", stop.Message);
        Assert.DoesNotContain(Validator.Validate("c.rules", "-c\n-a always,exit -F arch=b64 -S nosuchcall\n-w /etc/passwd\n"),
            d => d.Code == RuleDiagnosticCodes.LoadStopsHere);
    }

    [Fact]
    public void ValidatingTextLineByLineFindsWhatValidatingTheParsedFileFinds()
    {
        // Validate(path, text) streams the lines and keeps only the kernel's rule set; it must not miss anything.
        var files = Directory.EnumerateFiles(OracleFile.CorpusDirectory, "*.rules", SearchOption.AllDirectories)
            .Concat(Directory.EnumerateFiles(Path.Combine(OracleFile.OwnDirectory, "files")));
        foreach (var path in files)
        {
            var text = File.ReadAllText(path);
            Assert.Equal(Validator.Validate(Validator.Parser.Parse(text, path)), Validator.Validate(path, text));
        }
    }

    [Fact]
    public void ParsesAuditctlListOutput()
    {
        Assert.Empty(KernelRuleListing.Parse("No rules\n"));
        Assert.Equal(["-w /etc/passwd -p wa -k passwd", " -p x-w /usr/bin/yum -k k"],
            KernelRuleListing.Parse("-w /etc/passwd -p wa -k passwd\n -p x-w /usr/bin/yum -k k\n"));
        var (extra, missing) = KernelRuleListing.Compare(["a", "b", "b"], ["b", "c"]);
        Assert.Equal(["a", "b"], extra);
        Assert.Equal(["c"], missing);
    }

    private static string Auditctl(params string[] args)
    {
        KernelLoadGuard.AssertSafeCommand("auditctl", args);
        var start = new ProcessStartInfo("/sbin/auditctl") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in args)
        {
            start.ArgumentList.Add(a);
        }
        using var p = Process.Start(start)!;
        var output = p.StandardOutput.ReadToEnd();
        var error = p.StandardError.ReadToEnd();
        p.WaitForExit();
        Assert.True(p.ExitCode == 0, $"auditctl {string.Join(' ', args)} failed ({p.ExitCode}): {error}");
        return output;
    }
}
