using AksAuditd.Core.Host;
using AksAuditd.Tests.Shared;
using Xunit;

namespace AksAuditd.Core.Tests.Host;

/// <summary>
/// Install-Auditd's core for real: apt-get through chroot into a Debian 12 root built by debootstrap
/// (tools/prepare-node-root.sh caches it; each run works on a copy).
/// </summary>
public sealed class DebianInstallTests
{
    [Fact]
    public void InstallsThroughChrootStartsTheServiceAndASecondRunRunsNoPackageManager()
    {
        Assert.True(File.Exists(Path.Combine(DebianRoot.CachePath, "etc", "debian_version")), $"{DebianRoot.CachePath} is missing: run tools/prepare-node-root.sh");
        // The chroot's auditd becomes the kernel's audit daemon, so this holds the kernel lock and restores the kernel.
        using var machine = new MachineAudit();
        var root = Path.Combine("/var/tmp", $"aks-auditd-node-root-{Guid.NewGuid():N}");
        var host = new HostCommandRunner("/", HostAccessMode.Direct);
        host.Run(new HostCommand("cp", "-a", DebianRoot.CachePath, root) { Timeout = TimeSpan.FromMinutes(5) });
        var procMounted = false;
        try
        {
            // A node's root has /proc (start-stop-daemon needs it); policy-rc.d keeps the package's postinst from
            // starting the daemon, so starting it is Install-Auditd's own step.
            host.Run(new HostCommand("mount", "-t", "proc", "proc", Path.Combine(root, "proc")));
            procMounted = true;
            File.WriteAllText(Path.Combine(root, "usr/sbin/policy-rc.d"), "#!/bin/sh\nexit 101\n");
            File.SetUnixFileMode(Path.Combine(root, "usr/sbin/policy-rc.d"), (UnixFileMode)Convert.ToInt32("755", 8));
            var log = new RecordingLogSink();
            // The chroot's service start loads its rules.d into this machine's kernel: behind the kernel load guard.
            var runner = new GuardedHostCommandRunner(new HostCommandRunner(root, HostAccessMode.Chroot, log));

            var first = new AuditdInstaller(runner, log).Install(_ => true);

            Assert.Equal("Debian GNU/Linux 12 (bookworm)", first.Distribution);
            Assert.Equal("apt-get", first.PackageManager);
            Assert.False(first.AlreadyInstalled);
            Assert.True(first.Changed);
            Assert.Equal(
                new[]
                {
                    $"DEBIAN_FRONTEND=noninteractive chroot {root} apt-get -q -o DPkg::Lock::Timeout=60 update",
                    $"DEBIAN_FRONTEND=noninteractive chroot {root} apt-get -q -y -o DPkg::Lock::Timeout=60 install auditd audispd-plugins",
                    $"chroot {root} service auditd start",
                },
                first.Commands);
            Assert.True(File.Exists(Path.Combine(root, "sbin/auditctl")));
            var status = AuditStatusParser.Parse(machine.Auditctl("-s"));
            Assert.NotEqual(0, status.Pid);
            Assert.Equal(root, new FileInfo($"/proc/{status.Pid}/root").LinkTarget);

            log.Lines.Clear();
            var second = new AuditdInstaller(runner, log).Install(_ => true);

            Assert.True(second.AlreadyInstalled);
            Assert.False(second.Changed);
            Assert.Empty(second.Commands);
            var ran = log.Lines.Select(l => l.Fields.FirstOrDefault(f => f.Name == "command").Value as string).Where(c => c is not null).ToList();
            // Only queries: dpkg-query for the packages, dpkg --audit for an interrupted install; nothing that installs.
            Assert.DoesNotContain(ran, c => c!.Contains("apt-get", StringComparison.Ordinal) ||
                (c.Contains("dpkg ", StringComparison.Ordinal) && !c.Contains("dpkg --audit", StringComparison.Ordinal)));
            Assert.Contains(ran, c => c!.Contains("dpkg-query", StringComparison.Ordinal));
        }
        finally
        {
            host.Run(new HostCommand("chroot", root, "service", "auditd", "stop") { AcceptedExitCodes = Enumerable.Range(1, 255).ToArray() });
            if (procMounted)
            {
                host.Run(new HostCommand("umount", "-l", Path.Combine(root, "proc")) { AcceptedExitCodes = new[] { 1, 32 } });
            }

            host.Run(new HostCommand("rm", "-rf", "--one-file-system", root) { Timeout = TimeSpan.FromMinutes(5) });
        }
    }
}
