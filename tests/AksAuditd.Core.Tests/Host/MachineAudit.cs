using AksAuditd.Core.Host;
using AksAuditd.Tests.Shared;

namespace AksAuditd.Core.Tests.Host;

/// <summary>
/// This machine's real auditd and kernel audit state, held under the machine-wide kernel test lock and put back
/// exactly on Dispose: /etc/audit, the kernel's rules and settings, and a stopped daemon.
/// Never loads -e 2 or -f 2.
/// </summary>
internal sealed class MachineAudit : IDisposable
{
    public const string RulesDirectory = "/etc/audit/rules.d";
    public const string PluginsDirectory = "/etc/audit/plugins.d";
    public const string AuditLog = "/var/log/audit/audit.log";

    private readonly KernelTestLock _lock;
    private readonly string _savedEtc;
    private readonly AuditdStatus _before;
    private readonly List<string> _scratch = new();

    public MachineAudit()
    {
        _lock = KernelTestLock.Acquire();
        try
        {
            Runner = new HostCommandRunner("/", HostAccessMode.Direct);
            _before = AuditStatusParser.Parse(Runner.Run(new HostCommand("auditctl", "-s")).StandardOutput);
            if (_before.Immutable)
            {
                throw new InvalidOperationException("This kernel's audit configuration is immutable; the node tests cannot run until reboot.");
            }

            if (_before.Pid != 0)
            {
                throw new InvalidOperationException($"PID {_before.Pid} already holds the kernel's audit PID; stop it before running the node tests.");
            }

            _savedEtc = Directory.CreateTempSubdirectory("aks-auditd-etc-audit-").FullName;
            Copy("/etc/audit", _savedEtc);
        }
        catch
        {
            _lock.Dispose();
            throw;
        }
    }

    public HostCommandRunner Runner { get; }

    /// <summary>A directory for watched files, removed on Dispose.</summary>
    public string Scratch()
    {
        var path = Directory.CreateTempSubdirectory("aks-auditd-node-").FullName;
        _scratch.Add(path);
        return path;
    }

    public void StartAuditd()
    {
        Runner.Run(new HostCommand("service", "auditd", "start"));
        for (var i = 0; i < 100; i++)
        {
            if (AuditStatusParser.Parse(Runner.Run(new HostCommand("auditctl", "-s")).StandardOutput).Pid != 0)
            {
                return;
            }

            Thread.Sleep(100);
        }

        throw new InvalidOperationException("auditd did not register with the kernel within 10 s");
    }

    public string Auditctl(params string[] arguments) => Runner.Run(new HostCommand("auditctl", arguments)).StandardOutput;

    public void Dispose()
    {
        try
        {
            Runner.Run(new HostCommand("service", "auditd", "stop") { AcceptedExitCodes = new[] { 1 } });
            Runner.Run(new HostCommand("auditctl", "-D"));
            foreach (var directory in new[] { RulesDirectory, PluginsDirectory })
            {
                foreach (var file in Directory.EnumerateFiles(directory))
                {
                    File.Delete(file);
                }
            }

            Copy(_savedEtc, "/etc/audit");
            Directory.Delete(_savedEtc, recursive: true);
            Runner.Run(new HostCommand(
                "auditctl",
                "-b", _before.BacklogLimit.ToString(),
                "--backlog_wait_time", _before.BacklogWaitTime.ToString(),
                "-f", _before.Failure.ToString(),
                "-r", _before.RateLimit.ToString()));
            Runner.Run(new HostCommand("auditctl", "-e", _before.EnabledFlag.ToString()));
            foreach (var path in _scratch)
            {
                Directory.Delete(path, recursive: true);
            }
        }
        finally
        {
            _lock.Dispose();
        }
    }

    private static void Copy(string from, string to)
    {
        // cp -a keeps modes and owners: auditd refuses plugin files it does not trust.
        var copy = new HostCommandRunner("/", HostAccessMode.Direct).Run(new HostCommand("cp", "-a", from + "/.", to + "/"));
        _ = copy;
    }
}

/// <summary>
/// Stands in for the sync's BackupStore (AksAuditd.Core.Sync) until it is on main: one generation is a copy of
/// rules.d taken before a change, and restoring puts that copy back.
/// </summary>
internal sealed class SnapshotSyncHistory : ISyncHistory, IDisposable
{
    private readonly string _rulesDirectory;
    private readonly List<(SyncGeneration Generation, string Copy)> _generations = new();

    public SnapshotSyncHistory(string rulesDirectory) => _rulesDirectory = rulesDirectory;

    public SyncGeneration Snapshot(string kind = "rules")
    {
        var copy = Directory.CreateTempSubdirectory("aks-auditd-backup-").FullName;
        foreach (var file in Directory.EnumerateFiles(_rulesDirectory))
        {
            File.Copy(file, Path.Combine(copy, Path.GetFileName(file)));
        }

        var generation = new SyncGeneration(kind, DateTime.UtcNow.ToString("yyyyMMddTHHmmssfffffffZ"), DateTimeOffset.UtcNow);
        _generations.Add((generation, copy));
        return generation;
    }

    public IReadOnlyList<SyncGeneration> Latest() =>
        _generations.GroupBy(g => g.Generation.Kind).Select(g => g.Last().Generation).ToList();

    public string RestoreRules(SyncGeneration generation)
    {
        var copy = _generations.Single(g => g.Generation == generation).Copy;
        var removed = Directory.EnumerateFiles(_rulesDirectory).Select(Path.GetFileName).Except(Directory.EnumerateFiles(copy).Select(Path.GetFileName)).ToList();
        foreach (var name in removed)
        {
            File.Delete(Path.Combine(_rulesDirectory, name!));
        }

        foreach (var file in Directory.EnumerateFiles(copy))
        {
            File.Copy(file, Path.Combine(_rulesDirectory, Path.GetFileName(file)), overwrite: true);
        }

        return $"removed {string.Join(", ", removed)}";
    }

    public void Dispose()
    {
        foreach (var (_, copy) in _generations)
        {
            Directory.Delete(copy, recursive: true);
        }
    }
}
