using System.Text.RegularExpressions;
using AksAuditd.Core.Logging;

namespace AksAuditd.Core.Host;

/// <summary>
/// Makes the kernel enforce what the sync wrote: loads rules or signals/restarts auditd, then verifies that
/// auditd runs and that the kernel's rules equal the augenrules merge of rules.d. When the kernel rejects a
/// rule, rules.d goes back to its state before the last sync and that is loaded again.
/// </summary>
public sealed partial class AuditdRestarter
{
    public const string RulesKind = "rules";
    public const string PluginsKind = "plugins";

    private readonly IHostCommandRunner _runner;
    private readonly IKernelRuleCanon _canon;
    private readonly ISyncHistory? _history;
    private readonly NodeApplyState _state;
    private readonly string _rulesDirectory;
    private readonly ILogSink _log;

    /// <summary><paramref name="rulesDirectory"/> and <paramref name="stateDirectory"/> are the node's paths as this process reaches them.</summary>
    public AuditdRestarter(IHostCommandRunner runner, IKernelRuleCanon canon, ISyncHistory? history, string rulesDirectory, string stateDirectory, ILogSink? log = null)
    {
        _runner = runner;
        _canon = canon;
        _history = history;
        _rulesDirectory = rulesDirectory;
        _state = new NodeApplyState(stateDirectory);
        _log = log ?? NullLogSink.Instance;
    }

    /// <summary>How long a started auditd has to register with the kernel.</summary>
    public TimeSpan StartWait { get; init; } = TimeSpan.FromSeconds(15);

    /// <summary>
    /// Applies <paramref name="mode"/>. <paramref name="approve"/> is asked with the exact command line (or restore)
    /// right before each change; false skips it (-WhatIf).
    /// </summary>
    public RestartResult Restart(RestartMode mode, Func<string, bool> approve)
    {
        var reader = new AuditdStatusReader(_runner, _log);
        var before = reader.Read();
        if (before.Immutable)
        {
            // enabled 2: the kernel refuses every rule and setting change until reboot. Restarting would not help,
            // so say it (loudly once per boot) and do nothing.
            var first = _state.MarkRebootReported(BootId());
            return new RestartResult
            {
                Method = "None",
                Succeeded = false,
                Immutable = true,
                RebootRequired = true,
                RebootRequiredFirstReport = first,
                LoadedRuleCount = before.LoadedRuleCount,
                Message = "The kernel's audit configuration is immutable (enabled 2): new rules load only after the node reboots." +
                    (first ? string.Empty : " Already reported for this boot."),
                HostRoot = _runner.HostRoot,
            };
        }

        var distribution = NodeDistribution.Detect(_runner.HostRoot);
        var service = new AuditdService(distribution.Family, AuditdService.DetectInit(_runner.HostRoot), _runner.Mode);
        var pending = Pending();
        var methods = Choose(mode, before, pending);
        _log.Debug(
            "restart plan",
            new LogField("mode", mode.ToString()),
            new LogField("methods", methods.Count == 0 ? "none" : string.Join(',', methods)),
            new LogField("pending", string.Join(',', pending.Select(p => $"{p.Kind}/{p.Id}"))));

        if (before.Pid != 0 && before.PidHolder != "auditd" && methods.Any(m => m is "Start" or "Restart" or "Reload"))
        {
            return Failed(
                string.Join('+', methods),
                $"Another process, {before.PidHolder ?? "unknown"} (PID {before.Pid}), holds the kernel's audit PID; only one audit daemon can run, so auditd was not started or signalled.",
                before.LoadedRuleCount,
                Array.Empty<string>());
        }

        var executed = new List<string>();
        HostCommandResult? load = null;
        foreach (var method in methods)
        {
            var command = method switch
            {
                "LoadRules" => service.LoadRules() with { AcceptedExitCodes = new[] { 1 } },
                "Reload" => service.Reload(),
                "Restart" => service.Restart(),
                _ => service.Start(),
            };
            var line = _runner.Render(command);
            if (!approve(line))
            {
                return new RestartResult
                {
                    Method = string.Join('+', methods),
                    Succeeded = false,
                    LoadedRuleCount = before.LoadedRuleCount,
                    Message = $"Not run: {line}",
                    HostRoot = _runner.HostRoot,
                };
            }

            var result = _runner.Run(command);
            executed.Add(line);
            _log.Info("changed the node", new LogField("command", line), new LogField("exitCode", result.ExitCode));
            if (method == "LoadRules")
            {
                load = result;
            }
        }

        var methodName = methods.Count == 0 ? "None" : string.Join('+', methods);
        var after = methods.Any(m => m is "Start" or "Restart") ? WaitRunning(reader) : reader.Read();
        var drift = Drift();
        var missing = drift.Where(d => d.Status == KernelDriftStatus.Missing).ToList();

        if (load is null && missing.Count > 0 && methods.Any(m => m is "Start" or "Restart") && after.Enabled && !after.Immutable)
        {
            // The unit loaded rules.d itself and ignored failures (ExecStartPost=-...); load again to hear the kernel's reason.
            var command = service.LoadRules() with { AcceptedExitCodes = new[] { 1 } };
            var line = _runner.Render(command);
            if (approve(line))
            {
                load = _runner.Run(command);
                executed.Add(line);
                drift = Drift();
                missing = drift.Where(d => d.Status == KernelDriftStatus.Missing).ToList();
            }
        }

        if ((load is { ExitCode: not 0 }) || (missing.Count > 0 && load is not null))
        {
            return Reject(load!, missing, methodName, executed, service, approve, reader);
        }

        if (!after.Running)
        {
            return Failed(methodName, after.Pid == 0
                ? "auditd is not running: no process holds the kernel's audit PID."
                : $"auditd is not running: {after.PidHolder ?? "an unknown process"} (PID {after.Pid}) holds the kernel's audit PID.", after.LoadedRuleCount, executed, drift);
        }

        if (drift.Count > 0)
        {
            return Failed(
                methodName,
                $"The kernel's rules differ from rules.d: {missing.Count} missing, {drift.Count - missing.Count} unexpected" +
                (methods.Contains("LoadRules") ? "." : "; Restart-Auditd -Mode LoadRules loads rules.d."),
                after.LoadedRuleCount,
                executed,
                drift);
        }

        foreach (var generation in pending.Where(p => Covers(methods, p.Kind)))
        {
            _state.MarkApplied(generation);
        }

        return new RestartResult
        {
            Method = methodName,
            Succeeded = true,
            LoadedRuleCount = after.LoadedRuleCount,
            Message = methods.Count == 0
                ? $"Nothing to apply; auditd runs with the {after.LoadedRuleCount} rules of rules.d."
                : $"auditd runs and the kernel enforces the {after.LoadedRuleCount} rules of rules.d.",
            Commands = executed,
            HostRoot = _runner.HostRoot,
        };
    }

    /// <summary>Generations newer than the ones already applied.</summary>
    private IReadOnlyList<SyncGeneration> Pending() =>
        _history is null
            ? Array.Empty<SyncGeneration>()
            : _history.Latest().Where(g => string.CompareOrdinal(g.Id, _state.Applied(g.Kind)) > 0).ToList();

    private static List<string> Choose(RestartMode mode, AuditdStatus status, IReadOnlyList<SyncGeneration> pending)
    {
        // A stopped auditd is started whatever was asked: starting it loads rules.d and reads auditd.conf and plugins.
        if (!status.Running && status.Pid == 0)
        {
            return new List<string> { "Start" };
        }

        return mode switch
        {
            RestartMode.LoadRules => new List<string> { "LoadRules" },
            RestartMode.Reload => new List<string> { "Reload" },
            RestartMode.Restart => new List<string> { "Restart" },
            _ => pending.Any(p => p.Kind == PluginsKind)
                ? (pending.Any(p => p.Kind == RulesKind) ? new List<string> { "Reload", "LoadRules" } : new List<string> { "Reload" })
                : pending.Any(p => p.Kind == RulesKind) ? new List<string> { "LoadRules" } : new List<string>(),
        };
    }

    private static bool Covers(IReadOnlyList<string> methods, string kind) =>
        methods.Any(m => m is "Start" or "Restart") || (kind == RulesKind ? methods.Contains("LoadRules") : methods.Contains("Reload"));

    private RestartResult Reject(
        HostCommandResult load,
        IReadOnlyList<KernelRuleDrift> missing,
        string method,
        List<string> executed,
        AuditdService service,
        Func<string, bool> approve,
        AuditdStatusReader reader)
    {
        var rejection = Rejection(load, missing);
        _log.Error(rejection.Message, new LogField("rule", rejection.Rule), new LogField("file", rejection.File), new LogField("line", rejection.Line));

        var generation = _history?.Latest().Where(g => g.Kind == RulesKind).MaxBy(g => g.Id, StringComparer.Ordinal);
        if (generation is null)
        {
            var count = reader.Read().LoadedRuleCount;
            return new RestartResult
            {
                Method = method,
                Succeeded = false,
                LoadedRuleCount = count,
                Message = rejection.Message + " No backup of rules.d exists to roll back to; the kernel keeps what loaded before the rejected rule.",
                Commands = executed,
                Rejection = rejection,
                Drift = Drift(),
                HostRoot = _runner.HostRoot,
            };
        }

        var restore = $"restore rules.d from backup generation {generation.Id} (before the last sync)";
        if (!approve(restore))
        {
            return Failed(method, rejection.Message + " Rollback skipped.", reader.Read().LoadedRuleCount, executed) with { Rejection = rejection };
        }

        var restored = _history!.RestoreRules(generation);
        executed.Add(restore);
        _log.Warn("rolled rules.d back", new LogField("generation", generation.Id), new LogField("detail", restored));
        var reload = service.LoadRules() with { AcceptedExitCodes = new[] { 1 } };
        var line = _runner.Render(reload);
        var reloaded = approve(line) ? _runner.Run(reload) : null;
        if (reloaded is not null)
        {
            executed.Add(line);
        }

        var after = reader.Read();
        var drift = Drift();
        var previousLoaded = reloaded is { ExitCode: 0 } && drift.Count == 0;
        return new RestartResult
        {
            Method = method,
            Succeeded = false,
            RolledBack = true,
            LoadedRuleCount = after.LoadedRuleCount,
            Message = rejection.Message + (previousLoaded
                ? $" rules.d was rolled back to before the last sync ({restored}) and the previous {after.LoadedRuleCount} rules are loaded again."
                : $" rules.d was rolled back ({restored}), but the previous rules did not load cleanly either" +
                  (reloaded is { ExitCode: not 0 } ? $": {reloaded.StandardError.Trim()}" : ".")),
            Commands = executed,
            Rejection = rejection,
            Drift = drift,
            HostRoot = _runner.HostRoot,
        };
    }

    /// <summary>
    /// Which rule the kernel refused and why. auditctl -R (which augenrules --load runs) prints the reason, then
    /// "There was an error in line N of /etc/audit/audit.rules", and stops at that line; the merged file is on
    /// the node, so line N is the rule, and its text leads back to the rules.d file it came from.
    /// </summary>
    private RuleRejectedException Rejection(HostCommandResult load, IReadOnlyList<KernelRuleDrift> missing)
    {
        var lines = load.StandardError.Split('\n').Select(l => l.Trim()).Where(l => l.Length > 0).ToList();
        var at = lines.FindIndex(l => ErrorLine().IsMatch(l));
        var kernelMessage = at > 0 ? lines[at - 1] : lines.FirstOrDefault() ?? $"exit code {load.ExitCode}";
        string? rule = null;
        if (at >= 0)
        {
            var match = ErrorLine().Match(lines[at]);
            var number = int.Parse(match.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture);
            var merged = Configuration.HostPath.Join(_runner.HostRoot, match.Groups[2].Value);
            if (File.Exists(merged))
            {
                var mergedLines = File.ReadAllLines(merged);
                rule = number >= 1 && number <= mergedLines.Length ? mergedLines[number - 1].Trim() : null;
            }
        }

        string? file = null;
        int? lineNumber = null;
        if (rule is not null && FindSource(rule) is { } source)
        {
            (file, lineNumber) = source;
        }
        else if (rule is null && missing.Count > 0)
        {
            // No line number to go by (the unit loaded the rules): the first desired rule the kernel lacks.
            rule = missing[0].Rule;
            file = missing[0].File;
            lineNumber = missing[0].Line;
        }

        rule ??= "<unknown rule>";
        var where = file is null ? string.Empty : $" ({file}:{lineNumber})";
        return new RuleRejectedException(rule, kernelMessage, file, lineNumber, $"The kernel rejected the rule '{rule}'{where}: {kernelMessage}.");
    }

    private (string File, int Line)? FindSource(string rule)
    {
        if (!Directory.Exists(_rulesDirectory))
        {
            return null;
        }

        foreach (var path in Directory.EnumerateFiles(_rulesDirectory, "*.rules").Order(StringComparer.Ordinal))
        {
            var lines = File.ReadAllLines(path);
            for (var i = 0; i < lines.Length; i++)
            {
                if (lines[i].Trim() == rule)
                {
                    return (path, i + 1);
                }
            }
        }

        return null;
    }

    private IReadOnlyList<KernelRuleDrift> Drift() => new KernelDriftReader(_runner, _canon).Read(_rulesDirectory);

    private AuditdStatus WaitRunning(AuditdStatusReader reader)
    {
        var deadline = DateTime.UtcNow + StartWait;
        while (true)
        {
            var status = reader.Read();
            if (status.Running || DateTime.UtcNow >= deadline)
            {
                return status;
            }

            Thread.Sleep(200);
        }
    }

    private RestartResult Failed(string method, string message, int loaded, IReadOnlyList<string> executed, IReadOnlyList<KernelRuleDrift>? drift = null) => new()
    {
        Method = method.Length == 0 ? "None" : method,
        Succeeded = false,
        LoadedRuleCount = loaded,
        Message = message,
        Commands = executed,
        Drift = drift ?? Array.Empty<KernelRuleDrift>(),
        HostRoot = _runner.HostRoot,
    };

    private static string BootId()
    {
        try
        {
            return File.ReadAllText("/proc/sys/kernel/random/boot_id").Trim();
        }
        catch (IOException)
        {
            return "unknown";
        }
    }

    [GeneratedRegex(@"^There was an error in line (\d+) of (/\S+)$")]
    private static partial Regex ErrorLine();
}
