using AksAuditd.Core.Logging;

namespace AksAuditd.Core.Host;

/// <summary>What Install-Auditd found and did.</summary>
public sealed record InstallResult(
    string Distribution,
    string VersionId,
    string PackageManager,
    IReadOnlyList<string> Packages,
    bool AlreadyInstalled,
    bool Changed)
{
    /// <summary>The commands that changed the node, as executed (empty under -WhatIf or when nothing was needed).</summary>
    public IReadOnlyList<string> Commands { get; init; } = Array.Empty<string>();

    public string HostRoot { get; init; } = "/";
}

/// <summary>
/// Installs auditd and its plugins with the node's package manager, then enables and starts the service.
/// Idempotent: when dpkg-query or rpm says the packages are installed, no package manager runs. On Debian and
/// Ubuntu an install that dpkg reports as interrupted (a killed apt or dpkg) is finished first with
/// <c>dpkg --configure -a</c>, which apt would otherwise demand before doing anything. With
/// <see cref="PackagePath"/> the packages come from a folder of .deb or .rpm files, and no mirror is contacted.
/// </summary>
public sealed class AuditdInstaller
{
    // apt-get's messages when another process (unattended-upgrades on a fresh node) holds a dpkg or apt lock.
    private static readonly string[] LockMessages =
    {
        "Could not get lock",
        "Unable to acquire the dpkg frontend lock",
        "Unable to lock directory",
        "Unable to lock the administration directory",
    };

    private readonly IHostCommandRunner _runner;
    private readonly ILogSink _log;

    public AuditdInstaller(IHostCommandRunner runner, ILogSink? log = null)
    {
        _runner = runner;
        _log = log ?? NullLogSink.Instance;
    }

    /// <summary>How many more times apt-get runs after failing on a held lock.</summary>
    public int LockRetries { get; init; } = 10;

    public TimeSpan LockRetryDelay { get; init; } = TimeSpan.FromSeconds(15);

    /// <summary>How long each apt-get waits for the dpkg lock itself (DPkg::Lock::Timeout) before it fails and is retried.</summary>
    public TimeSpan AptLockTimeout { get; init; } = DefaultAptLockTimeout;

    public static readonly TimeSpan DefaultAptLockTimeout = TimeSpan.FromSeconds(60);

    /// <summary>
    /// A folder (in this process's view) of .deb files (Debian, Ubuntu) or .rpm files (the others) holding auditd,
    /// its plugins and whatever of their dependencies the node lacks; null installs from the distribution's mirrors.
    /// The files are copied into the node's /tmp for the install (the package manager runs in the node's root) and
    /// removed afterwards.
    /// </summary>
    public string? PackagePath { get; init; }

    /// <summary>
    /// Installs what is missing. <paramref name="approve"/> is asked with the exact command line right before each
    /// change and may say no (-WhatIf, -Confirm); probes that only read the node always run.
    /// </summary>
    /// <exception cref="UnsupportedDistributionException">The node's distribution is not supported.</exception>
    /// <exception cref="HostCommandException">A package manager or service command failed.</exception>
    /// <exception cref="PackageLockHeldException">Another process held the dpkg lock through every retry.</exception>
    public InstallResult Install(Func<string, bool> approve)
    {
        var distribution = NodeDistribution.Detect(_runner.HostRoot);
        var service = new AuditdService(distribution.Family, AuditdService.DetectInit(_runner.HostRoot), _runner.Mode);
        var executed = new List<string>();
        if (distribution.Family == DistributionFamily.Debian && DpkgInterrupted() is { } interruption)
        {
            // apt refuses to work until this is done ("dpkg was interrupted, you must manually run 'dpkg --configure -a'").
            _log.Warn("dpkg reports an interrupted install; finishing it first", new LogField("detail", interruption));
            Change(FinishInterruptedInstall(), approve, executed, retryOnLock: true);
        }

        var installed = PackagesInstalled(distribution);
        _log.Debug(
            installed ? "auditd packages are installed" : "auditd packages are missing",
            new LogField("distribution", distribution.Id),
            new LogField("versionId", distribution.VersionId),
            new LogField("packages", string.Join(' ', distribution.Packages)));

        var installedNow = false;
        if (!installed)
        {
            installedNow = PackagePath is null
                ? InstallFromMirrors(distribution, approve, executed)
                : InstallFromFolder(distribution, PackagePath, approve, executed);
        }

        // Under -WhatIf the packages were not installed, so service probes would only describe their absence;
        // list the service commands as they would run after the install.
        var whatIf = !installed && !installedNow;
        if (service.IsEnabled() is { } isEnabled && (whatIf || !Probe(isEnabled)))
        {
            Change(service.Enable()!, approve, executed, retryOnLock: false);
        }

        if (whatIf || !Probe(service.IsActive()))
        {
            Change(service.Start(), approve, executed, retryOnLock: false);
        }

        return new InstallResult(distribution.Name, distribution.VersionId, distribution.PackageManager, distribution.Packages, installed, executed.Count > 0)
        {
            Commands = executed,
            HostRoot = _runner.HostRoot,
        };
    }

    private bool InstallFromMirrors(NodeDistribution distribution, Func<string, bool> approve, List<string> executed)
    {
        var done = true;
        foreach (var command in InstallCommands(distribution, AptLockTimeout))
        {
            done &= Change(command, approve, executed, retryOnLock: distribution.Family == DistributionFamily.Debian);
        }

        return done;
    }

    private bool InstallFromFolder(NodeDistribution distribution, string folder, Func<string, bool> approve, List<string> executed)
    {
        var suffix = distribution.Family == DistributionFamily.Debian ? ".deb" : ".rpm";
        if (!Directory.Exists(folder))
        {
            throw new PackageFolderException(folder, $"The package folder {folder} (packagePath, AA_PACKAGE_PATH, -PackagePath) does not exist.");
        }

        var files = Directory.EnumerateFiles(folder, "*" + suffix).Order(StringComparer.Ordinal).ToList();
        if (files.Count == 0)
        {
            throw new PackageFolderException(folder, $"The package folder {folder} holds no {suffix} file; {distribution.Name} installs auditd from {suffix} files.");
        }

        // The package manager runs in the node's root, so the files go where it can see them.
        var staging = "/tmp/aks-auditd-packages-" + Guid.NewGuid().ToString("N")[..12];
        var staged = files.ToDictionary(f => f, StagedName, StringComparer.Ordinal);
        var command = OfflineInstallCommand(distribution, files.Select(f => staging + "/" + staged[f]).ToList(), AptLockTimeout);
        var line = _runner.Render(command);
        if (!approve(line))
        {
            return false;
        }

        var stagingOnHost = Configuration.HostPath.Join(_runner.HostRoot, staging);
        Directory.CreateDirectory(stagingOnHost);
        try
        {
            foreach (var file in files)
            {
                File.Copy(file, Path.Combine(stagingOnHost, staged[file]));
            }

            return Change(command, _ => true, executed, retryOnLock: distribution.Family == DistributionFamily.Debian);
        }
        finally
        {
            Directory.Delete(stagingOnHost, recursive: true);
        }
    }

    /// <summary>
    /// The name a package file gets in the node's /tmp. apt-get download names files as the archive does, with the
    /// epoch's colon escaped (auditd_1%3a3.0.9-1_amd64.deb), and apt 2.6 refuses such a path ("Pathname to install
    /// is not absolute"); the name means nothing to apt, which reads the package's own control data.
    /// </summary>
    private static string StagedName(string file) => System.Text.RegularExpressions.Regex.Replace(Path.GetFileName(file), "%[0-9A-Fa-f]{2}", "_");

    /// <summary>
    /// Installs exactly the given package files, with no mirror: apt-get with no sources
    /// (dependencies must be among the files or already installed), or <c>rpm -U</c>, which resolves nothing and installs the files.
    /// </summary>
    public static HostCommand OfflineInstallCommand(NodeDistribution distribution, IReadOnlyList<string> files, TimeSpan? aptLockTimeout = null)
    {
        if (distribution.Family == DistributionFamily.Debian)
        {
            var lockTimeout = "DPkg::Lock::Timeout=" + (long)(aptLockTimeout ?? DefaultAptLockTimeout).TotalSeconds;
            // No sources: apt then knows only the installed packages and these files. With its lists it would take
            // the same version from the mirror instead of the file, and fail offline.
            return new HostCommand("apt-get", new[]
            {
                "-q", "-y", "-o", lockTimeout, "-o", "Dir::Etc::SourceList=/dev/null", "-o", "Dir::Etc::SourceParts=/dev/null",
                "--no-install-recommends", "install",
            }.Concat(files).ToArray())
            {
                Environment = new Dictionary<string, string> { ["DEBIAN_FRONTEND"] = "noninteractive" },
                Timeout = TimeSpan.FromMinutes(15),
            };
        }

        return new HostCommand("rpm", new[] { "-U", "--replacepkgs" }.Concat(files).ToArray()) { Timeout = TimeSpan.FromMinutes(15) };
    }

    /// <summary>Finishes what a killed dpkg left half-installed or half-configured.</summary>
    public static HostCommand FinishInterruptedInstall() => new("dpkg", "--configure", "-a")
    {
        Environment = new Dictionary<string, string> { ["DEBIAN_FRONTEND"] = "noninteractive" },
        Timeout = TimeSpan.FromMinutes(15),
    };

    /// <summary>
    /// What dpkg says is unfinished, or null: a journal in /var/lib/dpkg/updates (apt's own test for "dpkg was
    /// interrupted"), or a package <c>dpkg --audit</c> names as half-installed or half-configured.
    /// </summary>
    private string? DpkgInterrupted()
    {
        var updates = Configuration.HostPath.Join(_runner.HostRoot, "/var/lib/dpkg/updates");
        if (Directory.Exists(updates) && Directory.EnumerateFileSystemEntries(updates).Any())
        {
            return "/var/lib/dpkg/updates holds a journal of an unfinished dpkg run";
        }

        try
        {
            var audit = _runner.Run(new HostCommand("dpkg", "--audit") { AcceptedExitCodes = new[] { 1 } }).StandardOutput.Trim();
            return audit.Length == 0 ? null : HostCommandException.Shorten(audit);
        }
        catch (HostCommandException e) when (e.ExitCode is null or 126 or 127)
        {
            return null; // no dpkg on the node: nothing for it to finish
        }
    }

    /// <summary>The package manager commands for a distribution, in order.</summary>
    public static IReadOnlyList<HostCommand> InstallCommands(NodeDistribution distribution, TimeSpan? aptLockTimeout = null)
    {
        var lockTimeout = "DPkg::Lock::Timeout=" + (long)(aptLockTimeout ?? DefaultAptLockTimeout).TotalSeconds;
        var packages = distribution.Packages.ToArray();
        switch (distribution.Family)
        {
            case DistributionFamily.Debian:
                // Non-interactive: a debconf or conffile prompt must never wait for a person who is not there.
                // DPkg::Lock::Timeout (apt 1.9.11 and later, so every supported release) makes apt wait for the lock itself.
                var environment = new Dictionary<string, string> { ["DEBIAN_FRONTEND"] = "noninteractive" };
                return new[]
                {
                    new HostCommand("apt-get", "-q", "-o", lockTimeout, "update") { Environment = environment, Timeout = TimeSpan.FromMinutes(10) },
                    new HostCommand("apt-get", new[] { "-q", "-y", "-o", lockTimeout, "install" }.Concat(packages).ToArray())
                    {
                        Environment = environment,
                        Timeout = TimeSpan.FromMinutes(15),
                    },
                };
            case DistributionFamily.RedHat:
                return new[] { new HostCommand("dnf", new[] { "install", "-y" }.Concat(packages).ToArray()) { Timeout = TimeSpan.FromMinutes(15) } };
            default:
                return new[] { new HostCommand("tdnf", new[] { "install", "-y" }.Concat(packages).ToArray()) { Timeout = TimeSpan.FromMinutes(15) } };
        }
    }

    /// <summary>The read-only check: dpkg-query on Debian and Ubuntu, rpm elsewhere.</summary>
    public static HostCommand InstalledCheck(NodeDistribution distribution) => distribution.Family == DistributionFamily.Debian
        ? new HostCommand("dpkg-query", new[] { "-W", "-f=${Package} ${db:Status-Status}\\n" }.Concat(distribution.Packages).ToArray()) { AcceptedExitCodes = new[] { 1 } }
        // rpm -q exits with the number of packages that are not installed.
        : new HostCommand("rpm", new[] { "-q" }.Concat(distribution.Packages).ToArray()) { AcceptedExitCodes = Enumerable.Range(1, distribution.Packages.Count).ToArray() };

    private bool PackagesInstalled(NodeDistribution distribution)
    {
        HostCommandResult result;
        try
        {
            result = _runner.Run(InstalledCheck(distribution));
        }
        catch (HostCommandException e) when (e.ExitCode is null or 126 or 127)
        {
            // No dpkg-query or rpm on the node at all: nothing is installed through it.
            _log.Debug("package check could not run", new LogField("command", e.CommandLine), new LogField("stderr", e.StandardError.Trim()));
            return false;
        }

        if (distribution.Family != DistributionFamily.Debian)
        {
            return result.ExitCode == 0;
        }

        // "auditd installed" per package; a removed-but-configured package says "config-files".
        var states = result.StandardOutput.Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(l => l.Split(' ', 2))
            .Where(p => p.Length == 2)
            .ToDictionary(p => p[0].Split(':')[0], p => p[1].Trim(), StringComparer.Ordinal);
        return distribution.Packages.All(p => states.TryGetValue(p, out var state) && state == "installed");
    }

    private bool Probe(HostCommand command)
    {
        try
        {
            return _runner.Run(command).Succeeded;
        }
        catch (HostCommandException e)
        {
            _log.Debug("probe failed", new LogField("command", e.CommandLine), new LogField("stderr", e.StandardError.Trim()));
            return false;
        }
    }

    private bool Change(HostCommand command, Func<string, bool> approve, List<string> executed, bool retryOnLock)
    {
        var line = _runner.Render(command);
        if (!approve(line))
        {
            return false;
        }

        var started = DateTime.UtcNow;
        for (var attempt = 0; ; attempt++)
        {
            try
            {
                _runner.Run(command);
                executed.Add(line);
                _log.Info("changed the node", new LogField("command", line), new LogField("attempts", attempt + 1));
                return true;
            }
            catch (HostCommandException e) when (retryOnLock && IsLockHeld(e) && attempt >= LockRetries)
            {
                throw new PackageLockHeldException(e, attempt + 1, DateTime.UtcNow - started);
            }
            catch (HostCommandException e) when (retryOnLock && IsLockHeld(e))
            {
                _log.Warn(
                    $"another process holds the package lock; retrying in {LockRetryDelay.TotalSeconds:0} s ({attempt + 1} of {LockRetries})",
                    new LogField("command", line),
                    new LogField("stderr", e.StandardError.Trim()));
                Thread.Sleep(LockRetryDelay);
            }
        }
    }

    private static bool IsLockHeld(HostCommandException e) => LockMessages.Any(m => e.StandardError.Contains(m, StringComparison.Ordinal));
}

/// <summary>
/// apt-get could not get a dpkg or apt lock on any attempt: another package manager (unattended-upgrades on a fresh
/// node, or a person's apt) kept it for longer than Install-Auditd waits. Nothing was installed by that command.
/// </summary>
public sealed class PackageLockHeldException : Exception
{
    public PackageLockHeldException(HostCommandException last, int attempts, TimeSpan waited)
        : base(Describe(last, attempts, waited), last)
    {
        CommandLine = last.CommandLine;
        LockPath = LockPathIn(last.StandardError);
        HolderPid = HolderPidIn(last.StandardError);
        Attempts = attempts;
        Waited = waited;
    }

    public string CommandLine { get; }

    /// <summary>The lock file apt named (inside the node's root), such as /var/lib/dpkg/lock-frontend; null when apt named none.</summary>
    public string? LockPath { get; }

    /// <summary>The process apt said holds the lock, when it said so.</summary>
    public int? HolderPid { get; }

    public int Attempts { get; }

    public TimeSpan Waited { get; }

    private static string Describe(HostCommandException last, int attempts, TimeSpan waited)
    {
        var holder = HolderPidIn(last.StandardError) is { } pid ? $" (held by process {pid})" : string.Empty;
        return $"Another process kept the package lock {LockPathIn(last.StandardError) ?? "(apt named none)"}{holder} for {waited.TotalSeconds:0} s, " +
            $"through {attempts} attempts of '{last.CommandLine}'; nothing was installed. Wait for the other package manager " +
            $"(unattended-upgrades on a new node) to finish and run Install-Auditd again. apt-get said: \"{HostCommandException.Shorten(last.StandardError.Trim())}\"";
    }

    // apt writes "Could not get lock /var/lib/dpkg/lock-frontend. It is held by process 884" or
    // "Unable to acquire the dpkg frontend lock (/var/lib/dpkg/lock-frontend), ...".
    private static string? LockPathIn(string stderr) =>
        System.Text.RegularExpressions.Regex.Match(stderr, @"(?:Could not get lock |lock \()(/[^\s,()]+?)\.?(?:[\s),]|$)") is { Success: true } m ? m.Groups[1].Value : null;

    private static int? HolderPidIn(string stderr) =>
        System.Text.RegularExpressions.Regex.Match(stderr, @"held by process (\d+)") is { Success: true } m ? int.Parse(m.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture) : null;
}

/// <summary>The folder given for an offline install is missing or holds no package of the node's kind.</summary>
public sealed class PackageFolderException : Exception
{
    public PackageFolderException(string folder, string message)
        : base(message)
    {
        Folder = folder;
    }

    public string Folder { get; }
}
