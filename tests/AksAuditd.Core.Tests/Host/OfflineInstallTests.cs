using System.Diagnostics;
using AksAuditd.Core.Host;
using Xunit;

namespace AksAuditd.Core.Tests.Host;

/// <summary>
/// Install-Auditd's core in a copy of the cached Debian 12 root, for real and with the network unusable: every
/// package command runs in a network namespace of its own (<c>unshare -n</c>). A dpkg killed while configuring
/// a package leaves the root as a killed apt-get would; the install finishes that first, then installs auditd
/// from Debian's own packages in a folder (tools/prepare-offline-packages.sh caches them).
/// </summary>
public sealed class OfflineInstallTests : IDisposable
{
    private const string PackageCache = "/var/cache/aks-auditd-tests/debs-bookworm";

    private readonly string _root = Path.Combine("/var/tmp", $"aks-auditd-offline-root-{Guid.NewGuid():N}");
    private readonly HostCommandRunner _host = new("/", HostAccessMode.Direct);
    private readonly bool _procMounted;

    public OfflineInstallTests()
    {
        Assert.True(File.Exists(Path.Combine(DebianRoot.CachePath, "etc", "debian_version")), $"{DebianRoot.CachePath} is missing: run tools/prepare-node-root.sh");
        Assert.True(File.Exists(Path.Combine(PackageCache, ".aks-auditd-debs-complete")), $"{PackageCache} is missing: run tools/prepare-offline-packages.sh");
        _host.Run(new HostCommand("cp", "-a", DebianRoot.CachePath, _root) { Timeout = TimeSpan.FromMinutes(5) });
        _host.Run(new HostCommand("mount", "-t", "proc", "proc", Path.Combine(_root, "proc")));
        _procMounted = true;
        // The package's postinst must not start a daemon here: this test never touches the kernel's audit state.
        File.WriteAllText(Path.Combine(_root, "usr/sbin/policy-rc.d"), "#!/bin/sh\nexit 101\n");
        File.SetUnixFileMode(Path.Combine(_root, "usr/sbin/policy-rc.d"), (UnixFileMode)Convert.ToInt32("755", 8));
    }

    public void Dispose()
    {
        if (_procMounted)
        {
            _host.Run(new HostCommand("umount", "-l", Path.Combine(_root, "proc")) { AcceptedExitCodes = new[] { 1, 32 } });
        }

        _host.Run(new HostCommand("rm", "-rf", "--one-file-system", _root) { Timeout = TimeSpan.FromMinutes(5) });
    }

    [Fact]
    public void AnInstallKilledMidwayIsFinishedFirstThenAuditdComesFromTheFolderWithoutTheNetwork()
    {
        KillDpkgWhileItConfiguresAPackage();
        var audit = new HostCommandRunner(_root, HostAccessMode.Chroot).Run(new HostCommand("dpkg", "--audit") { AcceptedExitCodes = new[] { 1 } });
        Assert.Contains("aks-auditd-slow", audit.StandardOutput, StringComparison.Ordinal);

        var runner = new NoNetworkRunner(new HostCommandRunner(_root, HostAccessMode.Chroot));
        var installer = new AuditdInstaller(runner) { PackagePath = PackageCache };
        var result = installer.Install(line => line.Contains(" dpkg ", StringComparison.Ordinal) || line.Contains(" apt-get ", StringComparison.Ordinal));

        Assert.Equal($"DEBIAN_FRONTEND=noninteractive chroot {_root} dpkg --configure -a", result.Commands[0]);
        Assert.StartsWith($"DEBIAN_FRONTEND=noninteractive chroot {_root} apt-get -q -y -o DPkg::Lock::Timeout=60 -o Dir::Etc::SourceList=/dev/null -o Dir::Etc::SourceParts=/dev/null --no-install-recommends install /tmp/aks-auditd-packages-", result.Commands[1], StringComparison.Ordinal);
        Assert.Contains("/auditd_1_3.0.9-1_amd64.deb", result.Commands[1], StringComparison.Ordinal);
        Assert.Equal(2, result.Commands.Count);
        Assert.DoesNotContain(runner.Ran, c => c.Contains("update", StringComparison.Ordinal));
        Assert.True(File.Exists(Path.Combine(_root, "sbin/auditctl")));
        Assert.True(File.Exists(Path.Combine(_root, "sbin/audisp-syslog")));
        var states = new HostCommandRunner(_root, HostAccessMode.Chroot).Run(new HostCommand("dpkg-query", "-W", "-f=${Package} ${db:Status-Status}\\n", "auditd", "audispd-plugins", "aks-auditd-slow"));
        Assert.Equal(new[] { "aks-auditd-slow installed", "audispd-plugins installed", "auditd installed" }, states.StandardOutput.Split('\n', StringSplitOptions.RemoveEmptyEntries).Order(StringComparer.Ordinal));
        Assert.Empty(new HostCommandRunner(_root, HostAccessMode.Chroot).Run(new HostCommand("dpkg", "--audit")).StandardOutput.Trim());
        Assert.Empty(Directory.EnumerateDirectories(Path.Combine(_root, "tmp"), "aks-auditd-packages-*"));
    }

    [Fact]
    public void AFolderWithoutPackagesOfTheNodesKindIsAnErrorNamingIt()
    {
        var empty = Directory.CreateTempSubdirectory("aks-auditd-no-debs-").FullName;
        try
        {
            File.WriteAllText(Path.Combine(empty, "audit-3.1.rpm"), "not for Debian");
            var installer = new AuditdInstaller(new NoNetworkRunner(new HostCommandRunner(_root, HostAccessMode.Chroot))) { PackagePath = empty };

            var error = Assert.Throws<PackageFolderException>(() => installer.Install(_ => true));

            Assert.Equal(empty, error.Folder);
            Assert.Contains(empty, error.Message, StringComparison.Ordinal);
            Assert.Contains(".deb", error.Message, StringComparison.Ordinal);
            Assert.False(File.Exists(Path.Combine(_root, "sbin/auditctl")));
        }
        finally
        {
            Directory.Delete(empty, recursive: true);
        }
    }

    /// <summary>
    /// dpkg -i of a package whose postinst waits, then SIGKILL to dpkg and its children while it runs: the package
    /// stays half-configured, as after a killed apt-get. The postinst waits only while a flag file exists.
    /// </summary>
    private void KillDpkgWhileItConfiguresAPackage()
    {
        var build = Path.Combine(_root, "tmp", "slow");
        Directory.CreateDirectory(Path.Combine(build, "DEBIAN"));
        File.WriteAllText(Path.Combine(build, "DEBIAN", "control"),
            "Package: aks-auditd-slow\nVersion: 1.0\nArchitecture: all\nMaintainer: AksAuditd tests <tests@example.invalid>\nDescription: a package whose postinst waits\n");
        File.WriteAllText(Path.Combine(build, "DEBIAN", "postinst"),
            "#!/bin/sh\ntouch /tmp/postinst-started\nwhile [ -e /tmp/postinst-hang ]; do sleep 0.2; done\nexit 0\n");
        File.SetUnixFileMode(Path.Combine(build, "DEBIAN", "postinst"), (UnixFileMode)Convert.ToInt32("755", 8));
        _host.Run(new HostCommand("dpkg-deb", "--build", "--root-owner-group", build, Path.Combine(_root, "tmp", "slow.deb")));
        File.WriteAllText(Path.Combine(_root, "tmp", "postinst-hang"), string.Empty);

        // dpkg's output goes to a file: a pipe nobody reads could block it, and reading one would wait for its end.
        var output = Path.Combine(_root, "tmp", "dpkg.out");
        using var dpkg = Process.Start(new ProcessStartInfo("sh", new[] { "-c", $"exec chroot {_root} dpkg -i /tmp/slow.deb >{output} 2>&1" }))!;
        var started = Path.Combine(_root, "tmp", "postinst-started");
        var deadline = DateTime.UtcNow + TimeSpan.FromMinutes(2);
        while (!File.Exists(started) && !dpkg.HasExited && DateTime.UtcNow < deadline)
        {
            Thread.Sleep(100);
        }

        var ran = File.Exists(started);
        dpkg.Kill(entireProcessTree: true);
        dpkg.WaitForExit();
        Assert.True(ran, "the postinst never ran: " + File.ReadAllText(output));
        File.Delete(Path.Combine(_root, "tmp", "postinst-hang"));
    }

    /// <summary>Runs every command in a new, empty network namespace; renders it as the product does.</summary>
    private sealed class NoNetworkRunner : IHostCommandRunner
    {
        private readonly HostCommandRunner _inner;

        public NoNetworkRunner(HostCommandRunner inner) => _inner = inner;

        public List<string> Ran { get; } = new();

        public string HostRoot => _inner.HostRoot;

        public HostAccessMode Mode => _inner.Mode;

        public string Render(HostCommand command) => _inner.Render(command);

        public HostCommandResult Run(HostCommand command)
        {
            Ran.Add(Render(command));
            var isolated = new HostCommand("unshare", new[] { "-n", "--", command.Program }.Concat(command.Arguments).ToArray())
            {
                Environment = command.Environment,
                Timeout = command.Timeout,
                AcceptedExitCodes = command.AcceptedExitCodes,
            };
            return _inner.Run(isolated);
        }
    }
}
