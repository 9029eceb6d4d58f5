using AksAuditd.Core.Host;
using Xunit;

namespace AksAuditd.Core.Tests.Host;

/// <summary>Recorded os-release files of every supported distribution, mapped to the exact commands Install-Auditd would run.</summary>
public sealed class DistributionPlanTests
{
    public static TheoryData<string, string, string, string, string[]> Distributions => new()
    {
        { "ubuntu-20.04", "ubuntu", "20.04", "apt-get", new[] { "auditd", "audispd-plugins" } },
        { "ubuntu-22.04", "ubuntu", "22.04", "apt-get", new[] { "auditd", "audispd-plugins" } },
        { "ubuntu-24.04", "ubuntu", "24.04", "apt-get", new[] { "auditd", "audispd-plugins" } },
        { "debian-11", "debian", "11", "apt-get", new[] { "auditd", "audispd-plugins" } },
        { "debian-12", "debian", "12", "apt-get", new[] { "auditd", "audispd-plugins" } },
        { "azurelinux-2.0", "mariner", "2.0", "tdnf", new[] { "audit" } },
        { "azurelinux-3.0", "azurelinux", "3.0", "tdnf", new[] { "audit" } },
        { "rhel-8", "rhel", "8.10", "dnf", new[] { "audit", "audispd-plugins" } },
        { "rhel-9", "rhel", "9.4", "dnf", new[] { "audit", "audispd-plugins" } },
        { "rocky-8", "rocky", "8.9", "dnf", new[] { "audit", "audispd-plugins" } },
        { "rocky-9", "rocky", "9.3", "dnf", new[] { "audit", "audispd-plugins" } },
        { "almalinux-8", "almalinux", "8.10", "dnf", new[] { "audit", "audispd-plugins" } },
        { "almalinux-9", "almalinux", "9.4", "dnf", new[] { "audit", "audispd-plugins" } },
    };

    [Theory]
    [MemberData(nameof(Distributions))]
    public void EachSupportedDistributionMapsToItsPackageManagerAndPackages(string fixture, string id, string version, string manager, string[] packages)
    {
        var root = NodeTestSupport.FixtureRoot(fixture);
        try
        {
            var distribution = NodeDistribution.Detect(root);

            Assert.Equal(id, distribution.Id);
            Assert.Equal(version, distribution.VersionId);
            Assert.Equal(manager, distribution.PackageManager);
            Assert.Equal(packages, distribution.Packages);
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }

    [Theory]
    [MemberData(nameof(Distributions))]
    public void WhatIfListsTheExactCommandsThroughChroot(string fixture, string id, string version, string manager, string[] packages)
    {
        _ = (id, version);
        var root = NodeTestSupport.FixtureRoot(fixture);
        try
        {
            var asked = new List<string>();
            var runner = new HostCommandRunner(root, HostAccessMode.Chroot);

            // The fixture root has no dpkg-query or rpm, so the real chroot check finds nothing installed.
            var result = new AuditdInstaller(runner).Install(line => { asked.Add(line); return false; });

            var install = manager switch
            {
                "apt-get" => new[]
                {
                    $"DEBIAN_FRONTEND=noninteractive chroot {root} apt-get -q -o DPkg::Lock::Timeout=60 update",
                    $"DEBIAN_FRONTEND=noninteractive chroot {root} apt-get -q -y -o DPkg::Lock::Timeout=60 install {string.Join(' ', packages)}",
                },
                _ => new[] { $"chroot {root} {manager} install -y {string.Join(' ', packages)}" },
            };
            var expected = install.Concat(new[]
            {
                $"SYSTEMD_IGNORE_CHROOT=1 chroot {root} systemctl enable auditd",
                $"SYSTEMD_IGNORE_CHROOT=1 chroot {root} systemctl start auditd",
            });
            Assert.Equal(expected, asked);
            Assert.False(result.AlreadyInstalled);
            Assert.False(result.Changed);
            Assert.Empty(result.Commands);
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }

    [Fact]
    public void AnUnknownDistributionIsAnErrorNamingIt()
    {
        var root = NodeTestSupport.FixtureRoot("unknown-alpine-3.19");
        try
        {
            var error = Assert.Throws<UnsupportedDistributionException>(() => NodeDistribution.Detect(root));

            Assert.Contains("Alpine Linux v3.19", error.Message);
            Assert.Contains("ID=alpine", error.Message);
            Assert.Equal("alpine", error.Id);
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }

    [Fact]
    public void AnUnsupportedVersionOfAKnownDistributionIsAnErrorToo()
    {
        var release = OsRelease.Parse("ID=ubuntu\nVERSION_ID=\"18.04\"\nPRETTY_NAME=\"Ubuntu 18.04.6 LTS\"\n");

        var error = Assert.Throws<UnsupportedDistributionException>(() => NodeDistribution.Detect(release));

        Assert.Contains("Ubuntu 18.04.6 LTS", error.Message);
    }

    [Fact]
    public void OsReleaseValuesAreUnquotedAsTheShellWould()
    {
        var release = OsRelease.Parse("# comment\nID='rocky'\nPRETTY_NAME=\"A \\\"quoted\\\" \\$name\"\nID_LIKE=\"rhel centos fedora\"\n");

        Assert.Equal("rocky", release.Id);
        Assert.Equal("A \"quoted\" $name", release.PrettyName);
        Assert.Equal(new[] { "rhel", "centos", "fedora" }, release.IdLike);
    }

    [Theory]
    [InlineData(DistributionFamily.Debian, "systemctl restart auditd")]
    [InlineData(DistributionFamily.AzureLinux, "systemctl restart auditd")]
    // RefuseManualStop=yes in the RHEL unit: systemctl would refuse, the legacy service action does not.
    [InlineData(DistributionFamily.RedHat, "service auditd restart")]
    public void RestartUsesTheServiceCommandWhereSystemdRefusesManualStop(DistributionFamily family, string expected)
    {
        var service = new AuditdService(family, InitSystem.Systemd, HostAccessMode.Direct);

        Assert.Equal(expected, service.Restart().ToString());
        Assert.Equal("systemctl kill --kill-who=main --signal=SIGHUP auditd.service", service.Reload().ToString());
        Assert.Equal("augenrules --load", service.LoadRules().ToString());
    }

    [Theory]
    [InlineData(DistributionFamily.Debian, InitSystem.Systemd, null)]
    [InlineData(DistributionFamily.AzureLinux, InitSystem.Systemd, null)]
    // RHEL's legacy action stops auditd itself, so it works whatever the unit says.
    [InlineData(DistributionFamily.RedHat, InitSystem.Systemd, "service auditd restart")]
    [InlineData(DistributionFamily.Debian, InitSystem.SysV, "service auditd restart")]
    public void AUnitThatRefusesAManualStopGetsNoSystemctlRestart(DistributionFamily family, InitSystem init, string? expected)
    {
        var service = new AuditdService(family, init, HostAccessMode.Direct);

        Assert.Equal(expected, service.Restart(unitRefusesManualStop: true)?.ToString());
        Assert.Equal(service.Restart().ToString(), service.Restart(unitRefusesManualStop: false)!.ToString());
        Assert.Equal("systemctl kill --kill-who=main --signal=SIGTERM auditd.service", service.StopBySignal().ToString());
        Assert.Equal("systemctl show --property=RefuseManualStop --value auditd.service", service.ShowRefuseManualStop().ToString());
    }

    [Fact]
    public void WithoutSystemdTheInitScriptDoesEverything()
    {
        var service = new AuditdService(DistributionFamily.Debian, InitSystem.SysV, HostAccessMode.Direct);

        Assert.Equal("service auditd reload", service.Reload().ToString());
        Assert.Equal("service auditd restart", service.Restart().ToString());
        Assert.Equal("service auditd start", service.Start().ToString());
        Assert.Null(service.Enable());
    }
}
