namespace AksAuditd.Core.Host;

/// <summary>Families that package and run auditd the same way.</summary>
public enum DistributionFamily
{
    /// <summary>Debian and Ubuntu: apt-get, dpkg, packages auditd and audispd-plugins.</summary>
    Debian,

    /// <summary>RHEL, Rocky and AlmaLinux: dnf, rpm, packages audit and audispd-plugins; the unit refuses manual stop.</summary>
    RedHat,

    /// <summary>Azure Linux 2.0 (CBL-Mariner) and 3.0: tdnf, rpm, one package audit with the plugins inside.</summary>
    AzureLinux,
}

/// <summary>
/// A supported node distribution and what installing auditd means there. The package names were checked
/// against the distributions' own packaging (see the table in <see cref="Detect(OsRelease)"/>).
/// </summary>
public sealed record NodeDistribution(
    string Id,
    string VersionId,
    string Name,
    DistributionFamily Family,
    string PackageManager,
    IReadOnlyList<string> Packages)
{
    /// <summary>Reads the host root's os-release and maps it to a supported distribution.</summary>
    /// <exception cref="UnsupportedDistributionException">The distribution or version is not one we support.</exception>
    public static NodeDistribution Detect(string hostRoot) => Detect(OsRelease.Read(hostRoot));

    public static NodeDistribution Detect(OsRelease release)
    {
        var id = release.Id.ToLowerInvariant();
        var version = release.VersionId;
        var major = version.Split('.')[0];

        // Sources for the package names:
        // - Debian 11/12, Ubuntu 20.04/22.04/24.04: source package "audit" builds binary packages auditd and
        //   audispd-plugins (apt-cache show auditd on Debian 12: auditd 1:3.0.9-1 "Suggests: audispd-plugins").
        //   On Debian 12 audisp-syslog itself ships in auditd (dpkg -x of auditd_3.0.9-1), au-remote in audispd-plugins.
        // - RHEL/Rocky/Alma 8 and 9: the RPM spec (upstream audit-userspace audit.spec, v3.0.7 and later) builds
        //   "audit" and "%package -n audispd-plugins", which holds /sbin/audisp-syslog; el8 installs show
        //   audispd-plugins-3.0.7-2.el8.2, and RHEL 9 guides install it with "dnf install audispd-plugins".
        // - Azure Linux 2.0 and 3.0: microsoft/azurelinux SPECS/audit/audit.spec builds "audit" (with audisp-syslog,
        //   syslog.conf and au-remote.conf in its %files), libs, devel and python3-audit: no plugins package.
        return (id, major) switch
        {
            ("ubuntu", _) when version is "20.04" or "22.04" or "24.04" =>
                new(id, version, release.PrettyName, DistributionFamily.Debian, "apt-get", new[] { "auditd", "audispd-plugins" }),
            ("debian", "11" or "12") =>
                new(id, major, release.PrettyName, DistributionFamily.Debian, "apt-get", new[] { "auditd", "audispd-plugins" }),
            ("rhel" or "rocky" or "almalinux", "8" or "9") =>
                new(id, version, release.PrettyName, DistributionFamily.RedHat, "dnf", new[] { "audit", "audispd-plugins" }),
            ("mariner", "2") when version is "2.0" =>
                new(id, version, release.PrettyName, DistributionFamily.AzureLinux, "tdnf", new[] { "audit" }),
            ("azurelinux", "3") when version is "3.0" =>
                new(id, version, release.PrettyName, DistributionFamily.AzureLinux, "tdnf", new[] { "audit" }),
            _ => throw new UnsupportedDistributionException(
                $"The node runs {release.PrettyName} (ID={release.Id}, VERSION_ID={(version.Length == 0 ? "<none>" : version)}, from {release.Path}), " +
                "which AksAuditd does not support. Supported: Ubuntu 20.04/22.04/24.04, Debian 11/12, Azure Linux 2.0 (CBL-Mariner) and 3.0, RHEL/Rocky/AlmaLinux 8/9.",
                release.Id,
                version),
        };
    }
}

/// <summary>The node's distribution is not one AksAuditd knows how to install and run auditd on.</summary>
public sealed class UnsupportedDistributionException : Exception
{
    public UnsupportedDistributionException(string message, string? id, string? versionId)
        : base(message)
    {
        Id = id;
        VersionId = versionId;
    }

    public string? Id { get; }

    public string? VersionId { get; }
}
