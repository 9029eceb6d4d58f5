using AksAuditd.Tests.Shared;
using Xunit;

namespace AksAuditd.PowerShell.Tests;

/// <summary>
/// ModuleRunspace puts the kernel load guard in front of Restart-Auditd and Install-Auditd: a node root whose rules
/// would lock (-e 2) or panic (-f 2) this machine's kernel is refused before the cmdlet runs anything. The roots
/// here are scratch folders, and the guard stops the cmdlets before any command, so the kernel is never touched.
/// </summary>
public sealed class KernelLoadGuardCmdletTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("aks-auditd-guard-cmdlet-").FullName;

    public KernelLoadGuardCmdletTests()
    {
        Directory.CreateDirectory(Path.Combine(_root, "etc", "audit", "rules.d"));
        File.WriteAllText(Path.Combine(_root, "etc", "os-release"), "ID=debian\nVERSION_ID=\"12\"\nPRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\n");
    }

    public void Dispose() => Directory.Delete(_root, recursive: true);

    [Theory]
    [InlineData("Restart-Auditd -HostRoot $root -StatePath (Join-Path $root 'state') -Mode LoadRules -Confirm:$false", "-e 2", "enabled 2")]
    [InlineData("Restart-Auditd -HostRoot $root -StatePath (Join-Path $root 'state') -Confirm:$false", "-f 2", "failure 2")]
    [InlineData("Install-Auditd -HostRoot $root -Confirm:$false", "-e 2", "enabled 2")]
    public void ANodeCmdletRefusesARootWhoseRulesWouldLockThisKernel(string script, string setting, string named)
    {
        var locking = Path.Combine(_root, "etc", "audit", "rules.d", "99-finalize.rules");
        File.WriteAllText(locking, $"-w /etc/passwd -p wa -k passwd\n{setting}\n");
        using var shell = new ModuleRunspace();

        var run = shell.Invoke($"param($root) {script}", new Dictionary<string, object?> { ["root"] = _root });

        var error = Assert.Single(run.AllErrors);
        var refusal = Assert.IsType<UnsafeKernelLoadException>(error.Exception.InnerException ?? error.Exception);
        Assert.Contains($"{locking} line 2", refusal.Message);
        Assert.Contains(named, refusal.Message);
        Assert.Empty(run.Output);
        Assert.False(Directory.Exists(Path.Combine(_root, "state")), "the cmdlet must not have started");
    }

    [Fact]
    public void TheGuardedCmdletsStillBindEveryParameterAndCommonParameter()
    {
        using var shell = new ModuleRunspace();

        var run = shell.Invoke("(Get-Command Restart-Auditd).CommandType; (Get-Command Restart-Auditd).Parameters.Keys -join ','");

        Assert.Empty(run.AllErrors);
        Assert.Equal("Function", run.Output[0].ToString());
        foreach (var name in new[] { "HostRoot", "StatePath", "Mode", "WhatIf", "Confirm", "ErrorVariable" })
        {
            Assert.Contains(name, run.Output[1].ToString()!.Split(','));
        }
    }
}
