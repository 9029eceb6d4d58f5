using System.Diagnostics;

namespace AksAuditd.Tests.Shared;

/// <summary>
/// This machine's real auditd and kernel audit state, held under the machine-wide kernel test lock and put back
/// exactly on Dispose: /etc/audit, the kernel's rules and settings, and a stopped daemon. Plain processes only,
/// so both test projects (one of them never loads Core) share it. Never loads -e 2 or -f 2: it refuses to start
/// when either is already set, every command it runs passes <see cref="KernelLoadGuard"/> first, and it restores
/// only the values it read. Each restore step runs even when an earlier one failed; the failures are reported
/// together once the lock is released.
/// </summary>
public sealed partial class MachineAudit : IDisposable
{
    public const string RulesDirectory = "/etc/audit/rules.d";
    public const string PluginsDirectory = "/etc/audit/plugins.d";
    public const string AuditLog = "/var/log/audit/audit.log";

    private readonly KernelTestLock _lock;
    private readonly string _savedEtc;
    private readonly Dictionary<string, string> _before;
    private readonly string[] _rulesBefore;
    private readonly List<string> _scratch = new();

    public MachineAudit()
    {
        _lock = KernelTestLock.Acquire();
        try
        {
            _before = Status();
            if (_before["enabled"] == "2")
            {
                throw new InvalidOperationException("This kernel's audit configuration is immutable; the node tests cannot run until reboot.");
            }

            if (_before["failure"] == "2")
            {
                throw new InvalidOperationException("The kernel's audit failure mode is 2 (panic); the node tests refuse to run, and never restore it.");
            }

            if (_before["pid"] != "0")
            {
                throw new InvalidOperationException($"PID {_before["pid"]} already holds the kernel's audit PID; stop it before running the node tests.");
            }

            _rulesBefore = Auditctl("-l").Split('\n', StringSplitOptions.RemoveEmptyEntries)
                .Where(l => l.Trim() != "No rules").ToArray();
            _savedEtc = Directory.CreateTempSubdirectory("aks-auditd-etc-audit-").FullName;
            Copy("/etc/audit", _savedEtc);
        }
        catch
        {
            _lock.Dispose();
            throw;
        }
    }

    /// <summary>A directory for watched files, sources or state, removed on Dispose.</summary>
    public string Scratch()
    {
        var path = Directory.CreateTempSubdirectory("aks-auditd-node-").FullName;
        _scratch.Add(path);
        return path;
    }

    public void StartAuditd()
    {
        // Starting auditd loads rules.d (the init script runs augenrules): checked first.
        KernelLoadGuard.AssertSafeNode();
        Run("service", "auditd", "start");
        for (var i = 0; i < 100; i++)
        {
            if (Status()["pid"] != "0")
            {
                return;
            }

            Thread.Sleep(100);
        }

        throw new InvalidOperationException("auditd did not register with the kernel within 10 s");
    }

    /// <summary>auditctl on this machine, after <see cref="KernelLoadGuard"/> checked its arguments.</summary>
    public string Auditctl(params string[] arguments)
    {
        KernelLoadGuard.AssertSafeCommand("auditctl", arguments);
        return Run("auditctl", arguments);
    }

    /// <summary><c>auditctl -s</c> as key and first value.</summary>
    public Dictionary<string, string> Status() =>
        Auditctl("-s").Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(l => l.Split(' ', StringSplitOptions.RemoveEmptyEntries))
            .Where(p => p.Length >= 2)
            .ToDictionary(p => p[0], p => p[1]);

    /// <summary>Every file in rules.d with its text.</summary>
    public static SortedDictionary<string, string> RulesFiles() =>
        new(Directory.EnumerateFiles(RulesDirectory).ToDictionary(p => Path.GetFileName(p), File.ReadAllText), StringComparer.Ordinal);

    public void Dispose()
    {
        var failures = new List<Exception>();
        void Step(string what, Action action)
        {
            try
            {
                action();
            }
            catch (Exception e)
            {
                failures.Add(new InvalidOperationException($"Restoring this machine's audit state: {what} failed: {e.Message}", e));
            }
        }

        try
        {
            Step("stopping auditd", () => Run(new[] { 0, 1 }, "service", "auditd", "stop"));
            Step("deleting the kernel's rules (auditctl -D)", () => Run("auditctl", "-D"));
            Step("putting /etc/audit back", () =>
            {
                foreach (var directory in new[] { RulesDirectory, PluginsDirectory })
                {
                    foreach (var file in Directory.EnumerateFiles(directory))
                    {
                        File.Delete(file);
                    }
                }

                Copy(_savedEtc, "/etc/audit");
                // Deleted only after a complete copy: a failed one keeps the backup for a hand restore.
                Directory.Delete(_savedEtc, recursive: true);
            });
            Step("restoring backlog_limit", () => Auditctl("-b", _before["backlog_limit"]));
            Step("restoring backlog_wait_time", () => Auditctl("--backlog_wait_time", _before["backlog_wait_time"]));
            Step("restoring failure", () => Auditctl("-f", _before["failure"]));
            Step("restoring rate_limit", () => Auditctl("-r", _before["rate_limit"]));
            Step("loading the rules the kernel had before (auditctl -l)", () =>
            {
                if (_rulesBefore.Length == 0)
                {
                    return;
                }

                var file = Path.GetTempFileName();
                try
                {
                    File.WriteAllLines(file, _rulesBefore);
                    Auditctl("-R", file);
                }
                finally
                {
                    File.Delete(file);
                }
            });
            Step("restoring enabled", () => Auditctl("-e", _before["enabled"]));
            foreach (var path in _scratch)
            {
                Step($"removing {path}", () => Directory.Delete(path, recursive: true));
            }
        }
        finally
        {
            _lock.Dispose();
        }

        if (failures.Count > 0)
        {
            throw new AggregateException($"Restoring this machine's audit state failed in {failures.Count} step(s); /etc/audit's backup is kept at {_savedEtc} when it was not copied back.", failures);
        }
    }

    /// <summary>cp -a keeps modes and owners: auditd refuses plugin files it does not trust.</summary>
    private static void Copy(string from, string to) => Run("cp", "-a", from + "/.", to + "/");

    private static string Run(string file, params string[] arguments) => Run(new[] { 0 }, file, arguments);

    private static string Run(int[] accepted, string file, params string[] arguments)
    {
        var start = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        using var process = Process.Start(start) ?? throw new InvalidOperationException($"{file} did not start");
        var error = process.StandardError.ReadToEndAsync();
        var output = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        if (!accepted.Contains(process.ExitCode))
        {
            throw new InvalidOperationException($"{file} {string.Join(' ', arguments)} exited {process.ExitCode}: {error.Result.Trim()}");
        }

        return output;
    }
}
