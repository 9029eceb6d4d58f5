using AksAuditd.Core.Host;
using AksAuditd.Tests.Shared;
using Xunit;

namespace AksAuditd.Core.Tests.Host;

/// <summary>
/// The guard in front of every load into this machine's kernel (tests/Shared/KernelLoadGuard.cs). Nothing here
/// touches the kernel: the refusals are checked on scratch node roots and on a runner that records what reached it.
/// </summary>
public sealed class KernelLoadGuardTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("aks-auditd-guard-").FullName;

    public void Dispose() => Directory.Delete(_root, recursive: true);

    [Theory]
    [InlineData("-e 2", "enabled 2")]
    [InlineData("  -e   2  ", "enabled 2")]
    [InlineData("-e2", "enabled 2")]
    [InlineData("-f 2", "failure 2")]
    [InlineData("-f2", "failure 2")]
    [InlineData("--loginuid-immutable", "login UIDs")]
    public void RefusesRulesThatLockOrPanicTheKernel(string line, string named)
    {
        var error = Assert.Throws<UnsafeKernelLoadException>(() => KernelLoadGuard.AssertSafeText($"-D\n-b 8192\n{line}\n", "99-test.rules"));

        Assert.Contains("99-test.rules line 3", error.Message);
        Assert.Contains(named, error.Message);
        Assert.Contains("tests/vm", error.Message);
    }

    [Theory]
    [InlineData("-e 1\n-f 1\n-b 8192\n-r 0\n--backlog_wait_time 60000\n")]
    [InlineData("-e 0\n-f 0\n")]
    [InlineData("# -e 2 in a comment is not loaded\n-w /etc/passwd -p wa -k passwd\n")]
    [InlineData("-a always,exit -F arch=b64 -S execve -F key=e2\n")]
    public void AcceptsWhatCanBeUndone(string rules) => KernelLoadGuard.AssertSafeText(rules, "ok.rules");

    [Fact]
    public void RefusesANodeWhoseRulesDOrAuditRulesLock()
    {
        var etcAudit = Path.Combine(_root, "etc", "audit");
        Directory.CreateDirectory(Path.Combine(etcAudit, "rules.d"));
        File.WriteAllText(Path.Combine(etcAudit, "rules.d", "audit.rules"), "-D\n-b 8192\n-f 1\n");
        KernelLoadGuard.AssertSafeHostRoot(_root);

        File.WriteAllText(Path.Combine(etcAudit, "rules.d", "99-finalize.rules"), "-e 2\n");
        var fromRulesD = Assert.Throws<UnsafeKernelLoadException>(() => KernelLoadGuard.AssertSafeHostRoot(_root));
        Assert.Contains(Path.Combine(etcAudit, "rules.d", "99-finalize.rules"), fromRulesD.Message);

        File.Delete(Path.Combine(etcAudit, "rules.d", "99-finalize.rules"));
        File.WriteAllText(Path.Combine(etcAudit, "audit.rules"), "-f 2\n");
        var fromMerged = Assert.Throws<UnsafeKernelLoadException>(() => KernelLoadGuard.AssertSafeHostRoot(_root));
        Assert.Contains(Path.Combine(etcAudit, "audit.rules"), fromMerged.Message);
    }

    [Fact]
    public void RefusesAuditctlArgumentsAndTheFileOfDashR()
    {
        Assert.Throws<UnsafeKernelLoadException>(() => KernelLoadGuard.AssertSafeCommand("auditctl", new[] { "-e", "2" }));
        Assert.Throws<UnsafeKernelLoadException>(() => KernelLoadGuard.AssertSafeCommand("/sbin/auditctl", new[] { "-f2" }));
        KernelLoadGuard.AssertSafeCommand("auditctl", new[] { "-e", "1" });

        var file = Path.Combine(_root, "load.rules");
        File.WriteAllText(file, "-w /etc/passwd -p wa\n-e 2\n");
        var error = Assert.Throws<UnsafeKernelLoadException>(() => KernelLoadGuard.AssertSafeCommand("auditctl", new[] { "-R", file }));
        Assert.Contains($"{file} line 2", error.Message);
    }

    [Theory]
    [InlineData("augenrules", "--load")]
    [InlineData("service", "auditd", "start")]
    [InlineData("systemctl", "restart", "auditd")]
    public void TheGuardedRunnerRefusesALoadOfALockingRulesDBeforeItRuns(string program, params string[] arguments)
    {
        Directory.CreateDirectory(Path.Combine(_root, "etc", "audit", "rules.d"));
        File.WriteAllText(Path.Combine(_root, "etc", "audit", "rules.d", "99-finalize.rules"), "-e 2\n");
        var inner = new RecordingRunner(_root);
        var runner = new GuardedHostCommandRunner(inner);

        Assert.Throws<UnsafeKernelLoadException>(() => runner.Run(new HostCommand(program, arguments)));

        Assert.Empty(inner.Ran);
    }

    [Fact]
    public void TheGuardedRunnerPassesSafeCommandsThrough()
    {
        var inner = new RecordingRunner(_root);
        var runner = new GuardedHostCommandRunner(inner);

        runner.Run(new HostCommand("auditctl", "-l"));
        runner.Run(new HostCommand("augenrules", "--load"));

        Assert.Equal(new[] { "auditctl -l", "augenrules --load" }, inner.Ran);
    }

    /// <summary>Records what would have run; runs nothing.</summary>
    private sealed class RecordingRunner : IHostCommandRunner
    {
        public RecordingRunner(string hostRoot) => HostRoot = hostRoot;

        public string HostRoot { get; }

        public HostAccessMode Mode => HostAccessMode.Chroot;

        public List<string> Ran { get; } = new();

        public string Render(HostCommand command) => command.ToString();

        public HostCommandResult Run(HostCommand command)
        {
            Ran.Add(command.ToString());
            return new HostCommandResult(command, command.ToString(), 0, string.Empty, string.Empty, TimeSpan.Zero);
        }
    }
}
