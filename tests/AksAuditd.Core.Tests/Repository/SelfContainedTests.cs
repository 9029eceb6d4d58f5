using System.Text.RegularExpressions;
using AksAuditd.Core.Tests.Rules;
using Xunit;

namespace AksAuditd.Core.Tests.Repository;

/// <summary>
/// A clone from GitHub has nothing beside it: every test and build step must read only what the repository holds.
/// This guard fails when a code or build file names a folder outside the clone (the CI machine's ../shared).
/// </summary>
public sealed class SelfContainedTests
{
    // This file names the patterns it looks for, so it is the one file the guard skips.
    private static readonly Regex OutsideTheClone = new(
        string.Join("|",
            Regex.Escape("../shared"),
            Regex.Escape("..\\shared"),
            Regex.Escape("shared/corpora"),
            Regex.Escape("/work/shared"),
            "\"\\.\\.\"\\s*,\\s*\"shared\""),
        RegexOptions.Compiled);

    private static readonly string[] CodeExtensions =
        [".cs", ".csproj", ".props", ".targets", ".ps1", ".psm1", ".psd1", ".sh", ".py", ".yaml", ".yml", ".json", ".conf"];

    private static readonly string[] ScannedRoots = ["tests", "src", "image", "tools", "kubernetes", ".ci"];

    private static readonly string[] ScannedFiles = ["build.ps1", "AksAuditd.psd1", "Directory.Build.props", "Directory.Packages.props"];

    public static IEnumerable<string> CodeFiles()
    {
        var root = OracleFile.RepoRoot;
        var files = ScannedFiles.Select(f => Path.Combine(root, f)).Where(File.Exists).ToList();
        foreach (var folder in ScannedRoots.Select(r => Path.Combine(root, r)).Where(Directory.Exists))
        {
            files.AddRange(Directory.EnumerateFiles(folder, "*", SearchOption.AllDirectories)
                .Where(f => !IsBuildOutput(root, f) && Path.GetFileName(f) != "SelfContainedTests.cs")
                .Where(f => CodeExtensions.Contains(Path.GetExtension(f)) || Path.GetFileName(f) is "Dockerfile" or "run"));
        }
        return files;
    }

    [Fact]
    public void NoCodeOrBuildFileReadsOutsideTheClone()
    {
        var files = CodeFiles().ToList();
        Assert.Contains(files, f => f.EndsWith(Path.Combine("Rules", "OracleFile.cs"), StringComparison.Ordinal));
        var offenders = new List<string>();
        foreach (var file in files)
        {
            var lineNumber = 0;
            foreach (var line in File.ReadLines(file))
            {
                lineNumber++;
                if (OutsideTheClone.IsMatch(line))
                {
                    offenders.Add($"{Path.GetRelativePath(OracleFile.RepoRoot, file)}:{lineNumber}: {line.Trim()}");
                }
            }
        }
        Assert.True(offenders.Count == 0,
            "these lines point outside the repository; copy the data into tests/fixtures instead:\n" + string.Join("\n", offenders));
    }

    [Theory]
    [InlineData("var corpus = Path.Combine(root, \"..\", \"shared\", \"corpora\");")]
    [InlineData("$corpus = Join-Path $PSScriptRoot '../shared/corpora/audit-rules'")]
    [InlineData("cp -r /work/shared/corpora/audit-rules .")]
    public void TheGuardRecognisesAReadOutsideTheClone(string line) => Assert.Matches(OutsideTheClone, line);

    [Fact]
    public void TheCorpusTheTestsReadIsInsideTheRepository()
    {
        Assert.StartsWith(OracleFile.RepoRoot, OracleFile.CorpusDirectory, StringComparison.Ordinal);
        Assert.True(File.Exists(Path.Combine(OracleFile.CorpusDirectory, "oracle.tsv")));
        Assert.True(File.Exists(Path.Combine(OracleFile.CorpusDirectory, "SOURCES.md")));
    }

    private static bool IsBuildOutput(string root, string file)
    {
        var parts = Path.GetRelativePath(root, file).Split(Path.DirectorySeparatorChar);
        return parts.Any(p => p is "bin" or "obj" or "out" or "TestResults" or "node_modules");
    }
}
