using System.Diagnostics;
using AksAuditd.Core.Host;
using AksAuditd.Core.Logging;
using Xunit;

namespace AksAuditd.Core.Tests.Host;

public sealed class HostCommandRunnerTests
{
    [Fact]
    public void HostRootSlashRunsDirectly()
    {
        Assert.Equal(HostAccessMode.Direct, HostCommandRunner.ChooseMode("/"));
        Assert.Equal(HostAccessMode.Chroot, HostCommandRunner.ChooseMode(Path.GetTempPath()));
    }

    [Fact]
    public void EachCommandIsLoggedAtDebugWithArgumentsExitCodeDurationAndStderr()
    {
        var log = new RecordingLogSink();
        var runner = new HostCommandRunner("/", HostAccessMode.Direct, log);

        var result = runner.Run(new HostCommand("sh", "-c", "echo out; echo err >&2; exit 3") { AcceptedExitCodes = new[] { 3 } });

        Assert.Equal(3, result.ExitCode);
        Assert.Equal("out\n", result.StandardOutput);
        var line = Assert.Single(log.Lines);
        Assert.Equal(LogLevel.Debug, line.Level);
        var fields = line.Fields.ToDictionary(f => f.Name, f => f.Value);
        Assert.Equal("sh -c 'echo out; echo err >&2; exit 3'", fields["command"]);
        Assert.Equal(3, fields["exitCode"]);
        Assert.IsType<long>(fields["durationMs"]);
        Assert.Equal("err", fields["stderr"]);
    }

    [Fact]
    public void AnAuditSocketRefusalNamesTheLikelyCausesInsteadOfOnlyTheKernel()
    {
        // auditctl 3.0.9's stderr, recorded in the main container under podman's default seccomp profile without
        // CAP_AUDIT_WRITE (issue 11), replayed by a real process that exits as auditctl did.
        var runner = new HostCommandRunner("/", HostAccessMode.Direct);
        var recorded = "echo 'Error - audit support not in kernel' >&2; echo 'Cannot open netlink audit socket' >&2; exit 1";

        var e = Assert.Throws<HostCommandException>(() => runner.Run(new HostCommand("sh", "-c", recorded)));

        Assert.Contains("audit support not in kernel", e.Message);
        Assert.Contains("seccomp profile", e.Message);
        Assert.Contains("AUDIT_WRITE", e.Message);
        Assert.Contains("AUDIT_CONTROL", e.Message);
        // This test runs in the machine's own PID namespace, so hostPID is not among the causes here...
        Assert.True(HostCommandRunner.InInitialPidNamespace());
        Assert.DoesNotContain("hostPID", e.Message);
        // ...and is for a process outside it.
        Assert.Contains("hostPID: true", AuditSocketDiagnosis.Explain(inInitialPidNamespace: false));
    }

    [Fact]
    public void AnyOtherFailureGetsNoAuditSocketHint()
    {
        var runner = new HostCommandRunner("/", HostAccessMode.Direct);
        var e = Assert.Throws<HostCommandException>(() => runner.Run(new HostCommand("sh", "-c", "echo 'Error sending add rule data request' >&2; exit 1")));
        Assert.DoesNotContain("seccomp", e.Message);
    }

    [Fact]
    public void AFailureNamesTheCommandAndQuotesStderr()
    {
        var runner = new HostCommandRunner("/", HostAccessMode.Direct);

        var error = Assert.Throws<HostCommandException>(() => runner.Run(new HostCommand("auditctl", "-a", "never,nosuchlist")));

        Assert.Contains("'auditctl -a never,nosuchlist'", error.Message);
        Assert.Contains("exit code", error.Message);
        Assert.False(string.IsNullOrWhiteSpace(error.StandardError));
        Assert.Contains(error.StandardError.Trim().Split('\n')[0], error.Message);
        Assert.False(error.TimedOut);
    }

    [Fact]
    public void TheNodesToolsRunWithGlibcsDefaultsNotTheImagesAllocatorSettings()
    {
        var runner = new HostCommandRunner("/", HostAccessMode.Direct);
        var saved = Environment.GetEnvironmentVariable("MALLOC_ARENA_MAX");
        try
        {
            Environment.SetEnvironmentVariable("MALLOC_ARENA_MAX", "2");

            var inherited = runner.Run(new HostCommand("env"));
            var asked = runner.Run(new HostCommand("env") { Environment = new Dictionary<string, string> { ["MALLOC_ARENA_MAX"] = "4" } });

            Assert.DoesNotContain("MALLOC_ARENA_MAX=", inherited.StandardOutput);
            Assert.Contains("MALLOC_ARENA_MAX=4", asked.StandardOutput);
            Assert.Contains("PATH=", inherited.StandardOutput);
        }
        finally
        {
            Environment.SetEnvironmentVariable("MALLOC_ARENA_MAX", saved);
        }
    }

    [Fact]
    public void TheInitialPidNamespaceIsRecognisedAsTheKernelSeesIt()
    {
        // The kernel's own answer: NSpid lists the process's pid in each namespace from the initial one down, so a
        // single entry means this process is in the initial PID namespace (where audit requests are accepted).
        var nspid = File.ReadLines("/proc/self/status").Single(l => l.StartsWith("NSpid:", StringComparison.Ordinal));
        var inInitial = nspid.Split((char[])['\t', ' '], StringSplitOptions.RemoveEmptyEntries).Length == 2;

        Assert.Equal(inInitial, HostCommandRunner.InInitialPidNamespace());
    }

    [Fact]
    public void AMissingProgramIsAnErrorNamingIt()
    {
        var runner = new HostCommandRunner("/", HostAccessMode.Direct);

        var error = Assert.Throws<HostCommandException>(() => runner.Run(new HostCommand("no-such-program-aks", "x")));

        Assert.Contains("no-such-program-aks", error.Message);
        Assert.Null(error.ExitCode);
    }

    [Fact]
    public void ACommandThatOutlivesItsTimeoutIsKilled()
    {
        var runner = new HostCommandRunner("/", HostAccessMode.Direct);
        var watch = Stopwatch.StartNew();

        var error = Assert.Throws<HostCommandException>(() => runner.Run(new HostCommand("sh", "-c", "echo started >&2; sleep 30") { Timeout = TimeSpan.FromSeconds(1) }));

        Assert.True(error.TimedOut);
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(20), $"took {watch.Elapsed}");
        Assert.Contains("did not finish within 1 s", error.Message);
    }

    [Fact]
    public void ChrootRunsTheNodesOwnBinariesAndFiles()
    {
        var root = DebianRoot.CachePath;
        Assert.True(File.Exists(Path.Combine(root, "etc", "debian_version")), $"{root} is missing: run tools/prepare-node-root.sh");
        var runner = new HostCommandRunner(root, HostAccessMode.Chroot);

        var result = runner.Run(new HostCommand("cat", "/etc/debian_version"));

        Assert.Equal(File.ReadAllText(Path.Combine(root, "etc", "debian_version")), result.StandardOutput);
        Assert.Equal($"chroot {root} cat /etc/debian_version", result.CommandLine);
    }

    [Fact]
    public void NsenterEntersTheTargetProcessesMountNamespace()
    {
        // A process of our own in a private mount namespace stands in for the node's PID 1: a tmpfs mounted there
        // is invisible here and visible through nsenter.
        var directory = Directory.CreateTempSubdirectory("aks-auditd-nsenter-").FullName;
        using var holder = Process.Start(new ProcessStartInfo("unshare", new[]
        {
            "--mount", "--propagation", "private", "--", "sh", "-c",
            $"mount -t tmpfs tmpfs {directory} && echo inside > {directory}/marker && exec sleep 60",
        })
        { RedirectStandardError = true })!;
        try
        {
            var runner = new HostCommandRunner("/proc/1/root", HostAccessMode.Nsenter, nsenterTarget: holder.Id);
            HostCommandResult? seen = null;
            for (var i = 0; i < 50 && seen is not { ExitCode: 0 }; i++)
            {
                seen = runner.Run(new HostCommand("cat", $"{directory}/marker") { AcceptedExitCodes = new[] { 1 } });
                if (seen.ExitCode != 0)
                {
                    Thread.Sleep(100);
                }
            }

            Assert.Equal("inside\n", seen!.StandardOutput);
            Assert.False(File.Exists(Path.Combine(directory, "marker")));
            Assert.StartsWith($"nsenter --target {holder.Id} --mount --uts --ipc --net --pid -- cat ", seen.CommandLine);
        }
        finally
        {
            holder.Kill();
            holder.WaitForExit();
            Directory.Delete(directory, recursive: true);
        }
    }
}

/// <summary>The Debian 12 root tools/prepare-node-root.sh caches; tests copy it before changing anything.</summary>
internal static class DebianRoot
{
    public static string CachePath =>
        Environment.GetEnvironmentVariable("AKS_AUDITD_NODE_ROOT_CACHE") ?? "/var/cache/aks-auditd-tests/debootstrap-bookworm";
}
