using AksAuditd.Core.Host;
using AksAuditd.Core.Logging;
using Xunit;

namespace AksAuditd.Core.Tests.Host;

/// <summary>
/// Install-Auditd while another process holds the dpkg frontend lock, for real: apt-get through chroot into a copy
/// of the cached Debian 12 root, with the lock held the way dpkg and apt hold it (an fcntl write lock on
/// var/lib/dpkg/lock-frontend, which FileStream.Lock takes on Linux) by this test process. The bounds are
/// shortened through the installer's options so the test takes seconds, not the product's minutes.
/// </summary>
public sealed class DpkgLockTests : IDisposable
{
    private readonly string _root = Path.Combine("/var/tmp", $"aks-auditd-lock-root-{Guid.NewGuid():N}");
    private readonly HostCommandRunner _host = new("/", HostAccessMode.Direct);
    private bool _procMounted;

    public DpkgLockTests()
    {
        Assert.True(File.Exists(Path.Combine(DebianRoot.CachePath, "etc", "debian_version")), $"{DebianRoot.CachePath} is missing: run tools/prepare-node-root.sh");
        _host.Run(new HostCommand("cp", "-a", DebianRoot.CachePath, _root) { Timeout = TimeSpan.FromMinutes(5) });
        _host.Run(new HostCommand("mount", "-t", "proc", "proc", Path.Combine(_root, "proc")));
        _procMounted = true;
        // The package's postinst must not start a daemon here: this test never touches the kernel's audit state.
        File.WriteAllText(Path.Combine(_root, "usr/sbin/policy-rc.d"), "#!/bin/sh\nexit 101\n");
        File.SetUnixFileMode(Path.Combine(_root, "usr/sbin/policy-rc.d"), (UnixFileMode)Convert.ToInt32("755", 8));
    }

    private string LockFile => Path.Combine(_root, "var", "lib", "dpkg", "lock-frontend");

    public void Dispose()
    {
        if (_procMounted)
        {
            _host.Run(new HostCommand("umount", "-l", Path.Combine(_root, "proc")) { AcceptedExitCodes = new[] { 1, 32 } });
        }

        _host.Run(new HostCommand("rm", "-rf", "--one-file-system", _root) { Timeout = TimeSpan.FromMinutes(5) });
    }

    [Fact]
    public void HeldPastTheBoundFailsNamingTheLockThenWaitsForABriefHolderAndInstalls()
    {
        // 1. The lock is held for the whole run: every attempt fails, and the error names the lock.
        var log = new LockWatchingLogSink();
        using (HoldLock())
        {
            var installer = new AuditdInstaller(new HostCommandRunner(_root, HostAccessMode.Chroot, log), log)
            {
                AptLockTimeout = TimeSpan.FromSeconds(1),
                LockRetries = 2,
                LockRetryDelay = TimeSpan.FromMilliseconds(200),
            };

            var error = Assert.Throws<PackageLockHeldException>(() => installer.Install(ApproveOnlyPackageManager));

            Assert.Equal("/var/lib/dpkg/lock-frontend", error.LockPath);
            Assert.Contains("/var/lib/dpkg/lock-frontend", error.Message, StringComparison.Ordinal);
            Assert.Equal(3, error.Attempts);
            Assert.Contains("apt-get -q -y -o DPkg::Lock::Timeout=1 install auditd audispd-plugins", error.CommandLine, StringComparison.Ordinal);
            var apt = Assert.IsType<HostCommandException>(error.InnerException);
            Assert.Equal(100, apt.ExitCode);
            Assert.Equal(2, log.LockWarnings);
        }

        Assert.False(File.Exists(Path.Combine(_root, "sbin", "auditctl")));

        // 2. The lock is released while Install-Auditd waits between attempts: the next attempt installs.
        log = new LockWatchingLogSink();
        var holder = HoldLock();
        log.OnFirstLockWarning = holder.Dispose;
        try
        {
            var installer = new AuditdInstaller(new HostCommandRunner(_root, HostAccessMode.Chroot, log), log)
            {
                AptLockTimeout = TimeSpan.FromSeconds(1),
                LockRetries = 5,
                LockRetryDelay = TimeSpan.FromMilliseconds(500),
            };

            var result = installer.Install(ApproveOnlyPackageManager);

            Assert.True(result.Changed);
            Assert.Contains(result.Commands, c => c.EndsWith("install auditd audispd-plugins", StringComparison.Ordinal));
            Assert.Equal(1, log.LockWarnings);
            Assert.True(File.Exists(Path.Combine(_root, "sbin", "auditctl")));
        }
        finally
        {
            holder.Dispose();
        }
    }

    // Starting auditd would make it the kernel's audit daemon; this test is about the package lock only.
    private static bool ApproveOnlyPackageManager(string commandLine) => commandLine.Contains("apt-get", StringComparison.Ordinal);

    /// <summary>An fcntl write lock on the whole of lock-frontend, as dpkg and apt take it.</summary>
    private FileStream HoldLock()
    {
        var stream = new FileStream(LockFile, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.ReadWrite);
        stream.Lock(0, 1);
        return stream;
    }

    private sealed class LockWatchingLogSink : ILogSink
    {
        private int _lockWarnings;

        public Action? OnFirstLockWarning { get; set; }

        public int LockWarnings => _lockWarnings;

        public bool IsEnabled(LogLevel level) => true;

        public void Write(LogLevel level, string message, IReadOnlyList<LogField> fields)
        {
            if (level == LogLevel.Warn && message.Contains("holds the package lock", StringComparison.Ordinal)
                && Interlocked.Increment(ref _lockWarnings) == 1)
            {
                OnFirstLockWarning?.Invoke();
            }
        }
    }
}
