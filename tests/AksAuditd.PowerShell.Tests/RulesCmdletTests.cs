using System.Management.Automation;
using Xunit;

namespace AksAuditd.PowerShell.Tests;

/// <summary>Test-AuditRule and Get-AuditRule as a user calls them: binding, pipeline, output types and views.</summary>
public sealed class RulesCmdletTests : IDisposable
{
    private readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("rules-cmdlets.");

    public RulesCmdletTests()
    {
        File.WriteAllText(Path.Combine(_dir.FullName, "10-base.rules"), "-D\n-b 8192\n-f 1\n");
        File.WriteAllText(Path.Combine(_dir.FullName, "30-watch.rules"), "-w /etc/passwd -p wa -k passwd\n-w etc/shadow -p wa -k shadow\n");
        File.WriteAllText(Path.Combine(_dir.FullName, "99-finalize.rules"), "-e 1\n");
        File.WriteAllText(Path.Combine(_dir.FullName, "rules.yaml"), """
            apiVersion: v1
            kind: ConfigMap
            metadata:
              name: audit-rules
            data:
              20-exec.rules: |
                -a always,exit -F arch=b64 -S execve -k exec
                -a always,exit -F arch=b64 -S nosuchcall -k broken
            """);
    }

    public void Dispose() => _dir.Delete(recursive: true);

    private Dictionary<string, object?> Dir => new() { ["d"] = _dir.FullName };

    [Fact]
    public void TestAuditRuleReportsDiagnosticsWithPositionsForWildcardPaths()
    {
        using var shell = new ModuleRunspace();
        var result = shell.Invoke("param($d) Test-AuditRule -Path (Join-Path $d '*.rules')", Dir);

        Assert.Empty(result.AllErrors);
        var diagnostic = Assert.Single(result.Output);
        Assert.Equal("AksAuditd.Core.Rules.RuleDiagnostic", diagnostic.BaseObject.GetType().FullName);
        Assert.Equal(Path.Combine(_dir.FullName, "30-watch.rules"), diagnostic.Properties["Path"].Value);
        Assert.Equal(2, diagnostic.Properties["LineNumber"].Value);
        Assert.Equal(4, diagnostic.Properties["Column"].Value);
        Assert.Equal("Error", diagnostic.Properties["Severity"].Value.ToString());
        Assert.Equal("AR1401", diagnostic.Properties["Code"].Value);
        Assert.Equal("-w etc/shadow -p wa -k shadow", diagnostic.Properties["Rule"].Value);
    }

    [Fact]
    public void TestAuditRuleTakesGetChildItemFromThePipeline()
    {
        using var shell = new ModuleRunspace();
        var result = shell.Invoke("param($d) Get-ChildItem $d -Filter *.rules | Test-AuditRule | ForEach-Object Path", Dir);

        Assert.Empty(result.AllErrors);
        Assert.Equal([Path.Combine(_dir.FullName, "30-watch.rules")], result.Output.Select(o => o.BaseObject));
    }

    [Fact]
    public void TestAuditRuleReportsConfigMapEntriesAndLines()
    {
        using var shell = new ModuleRunspace();
        var result = shell.Invoke("param($d) Test-AuditRule -LiteralPath (Join-Path $d 'rules.yaml')", Dir);

        Assert.Empty(result.AllErrors);
        var diagnostic = Assert.Single(result.Output);
        Assert.Equal(Path.Combine(_dir.FullName, "rules.yaml") + "[20-exec.rules]", diagnostic.Properties["Path"].Value);
        Assert.Equal(2, diagnostic.Properties["LineNumber"].Value);
        Assert.Equal("AR1301", diagnostic.Properties["Code"].Value);
        Assert.EndsWith("(rules.yaml line 8)", (string)diagnostic.Properties["Message"].Value);
    }

    [Fact]
    public void QuietReturnsOneBoolean()
    {
        using var shell = new ModuleRunspace();
        var bad = shell.Invoke("param($d) Test-AuditRule -Path $d -Quiet", Dir);
        var good = shell.Invoke("'-D', '-w /etc/passwd -p wa' | Test-AuditRule -Quiet");
        var warningsOnly = shell.Invoke("Test-AuditRule -Line '-a always,exit -S openat' -Quiet");

        Assert.False((bool)Assert.Single(bad.Output).BaseObject);
        Assert.True((bool)Assert.Single(good.Output).BaseObject);
        Assert.True((bool)Assert.Single(warningsOnly.Output).BaseObject);
    }

    [Fact]
    public void LinesPipedOneByOneAreCheckedAsOneFile()
    {
        using var shell = new ModuleRunspace();
        var result = shell.Invoke("'-w /etc/passwd -p wa', '-w /etc/passwd -p wa' | Test-AuditRule | Where-Object Severity -eq Error");

        var duplicate = Assert.Single(result.Output);
        Assert.Equal("AR1701", duplicate.Properties["Code"].Value);
        Assert.Equal(2, duplicate.Properties["LineNumber"].Value);
    }

    [Fact]
    public void MissingFilesAreNonTerminatingErrorsWithAStableId()
    {
        using var shell = new ModuleRunspace();
        var result = shell.Invoke("param($d) Test-AuditRule -LiteralPath (Join-Path $d 'missing.rules'), (Join-Path $d '30-watch.rules')", Dir);

        var error = Assert.Single(result.Errors);
        Assert.Equal("RulesFileNotFound,AksAuditd.PowerShell.Commands.TestAuditRuleCommand", error.FullyQualifiedErrorId);
        Assert.Equal(ErrorCategory.ObjectNotFound, error.CategoryInfo.Category);
        Assert.Single(result.Output); // the second file is still checked
    }

    [Fact]
    public void ArchIsValidated()
    {
        using var shell = new ModuleRunspace();
        var result = shell.Invoke("Test-AuditRule -Line '-D' -Arch sparc");

        Assert.Contains("ParameterArgumentValidationError", Assert.Single(result.AllErrors).FullyQualifiedErrorId);
    }

    [Fact]
    public void ArchChangesWhatB32Means()
    {
        using var shell = new ModuleRunspace();
        var x86 = shell.Invoke("(Get-AuditRule -Line '-a always,exit -F arch=b32 -S 5').Canonical");
        var arm = shell.Invoke("(Get-AuditRule -Line '-a always,exit -F arch=b32 -S 5' -Arch arm64).Canonical");

        Assert.Equal("-a always,exit -F arch=b32 -S open", Assert.Single(x86.Output).BaseObject);
        Assert.Equal("-a always,exit -F arch=b32 -S open", Assert.Single(arm.Output).BaseObject);
        var armOpenat = shell.Invoke("(Get-AuditRule -Line '-a always,exit -F arch=b32 -S 322' -Arch aarch64).Canonical");
        Assert.Equal("-a always,exit -F arch=b32 -S openat", Assert.Single(armOpenat.Output).BaseObject);
    }

    [Fact]
    public void GetAuditRuleReturnsTypedRulesWithTheKernelListing()
    {
        using var shell = new ModuleRunspace();
        var result = shell.Invoke("Get-AuditRule -Line '-a exit,always -F arch=b64 -S execve -k procmon', '-w /etc/sudoers.d/ -p wa -k sudoers', '-b 8192'");

        Assert.Empty(result.AllErrors);
        Assert.Equal(3, result.Output.Count);
        Assert.All(result.Output, o => Assert.Equal("AksAuditd.Core.Rules.AuditRule", o.BaseObject.GetType().FullName));
        Assert.Equal("-a always,exit -F arch=b64 -S execve -F key=procmon", result.Output[0].Properties["Canonical"].Value);
        Assert.Equal("Syscall", result.Output[0].Properties["Kind"].Value.ToString());
        Assert.Equal("-w /etc/sudoers.d -p wa -k sudoers", result.Output[1].Properties["Canonical"].Value);
        Assert.Equal("Watch", result.Output[1].Properties["Kind"].Value.ToString());
        Assert.Equal(string.Empty, result.Output[2].Properties["Canonical"].Value);
        Assert.Equal("Control", result.Output[2].Properties["Kind"].Value.ToString());
    }

    [Fact]
    public void GetAuditRuleMergesLikeAugenrules()
    {
        using var shell = new ModuleRunspace();
        var raw = shell.Invoke("param($d) Get-AuditRule -Merged $d -Raw", Dir);
        var rules = shell.Invoke("param($d) Get-AuditRule -Merged $d -ExcludeControl | ForEach-Object Text", Dir);

        Assert.Equal(
            "## This file is automatically generated from /etc/audit/rules.d\n-D\n-b 8192\n-f 1\n-w /etc/passwd -p wa -k passwd\n-w etc/shadow -p wa -k shadow\n-e 1\n",
            Assert.Single(raw.Output).BaseObject);
        Assert.Equal(["-w /etc/passwd -p wa -k passwd", "-w etc/shadow -p wa -k shadow"], rules.Output.Select(o => o.BaseObject));
    }

    [Fact]
    public void MergedNeedsAnExistingDirectory()
    {
        using var shell = new ModuleRunspace();
        var result = shell.Invoke("Get-AuditRule -Merged /nonexistent/rules.d");

        var error = Assert.Single(result.AllErrors);
        Assert.Equal("RulesDirectoryNotFound,AksAuditd.PowerShell.Commands.GetAuditRuleCommand", error.FullyQualifiedErrorId);
    }

    [Fact]
    public void ViewsReadLikeAuditctl()
    {
        using var shell = new ModuleRunspace();
        var rules = string.Concat(shell.Invoke("Get-AuditRule -Line '-a exit,always -F arch=b64 -S execve -k procmon' | Out-String -Width 200").Output);
        var findings = string.Concat(shell.Invoke("Test-AuditRule -Line '-w etc/passwd' | Out-String -Width 200").Output);

        Assert.Contains("Rule (as auditctl -l lists it)", rules);
        Assert.Contains("-a always,exit -F arch=b64 -S execve -F key=procmon", rules);
        Assert.Contains("1:4", findings);
        Assert.Contains("AR1401", findings);
        Assert.Contains("-w etc/passwd", findings);
    }
}
