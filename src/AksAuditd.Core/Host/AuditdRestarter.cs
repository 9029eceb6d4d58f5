using System.Text.RegularExpressions;
using AksAuditd.Core.Logging;
using AksAuditd.Core.Sync;

namespace AksAuditd.Core.Host;

/// <summary>
/// Makes the kernel enforce what the sync wrote: loads rules or signals/restarts auditd, then verifies that
/// auditd runs and that the kernel's rules equal the augenrules merge of rules.d. When the kernel rejects a
/// rule the last sync wrote, rules.d goes back to its state before that sync (the sync's own backup generation)
/// and that is loaded again.
/// </summary>
public sealed partial class AuditdRestarter
{
    public const string RulesKind = "rules";
    public const string PluginsKind = "plugins";

    private readonly IHostCommandRunner _runner;
    private readonly IKernelRuleCanon _canon;
    private readonly BackupStore _backups;
    private readonly NodeApplyState _state;
    private readonly string _rulesDirectory;
    private readonly ILogSink _log;

    /// <summary>
    /// <paramref name="rulesDirectory"/> is the node's rules.d as this process reaches it; <paramref name="backups"/>
    /// are the sync's backup generations in the node's state directory: which changes are not applied yet, and what
    /// rules.d looked like before the last one. What was applied is recorded in that state directory too.
    /// </summary>
    public AuditdRestarter(IHostCommandRunner runner, IKernelRuleCanon canon, string rulesDirectory, BackupStore backups, ILogSink? log = null)
    {
        _runner = runner;
        _canon = canon;
        _backups = backups;
        _rulesDirectory = rulesDirectory;
        _state = new NodeApplyState(backups.StatePath);
        _log = log ?? NullLogSink.Instance;
    }

    /// <summary>
    /// The node's plugins.d as this process reaches it: when set, a restart succeeds only when auditd runs every active
    /// plugin there with the arguments its file gives (<see cref="AuditdPluginCheck"/>). Null skips the check.
    /// </summary>
    public string? PluginsDirectory { get; init; }

    /// <summary>How long plugins have to appear under auditd after a start or reload.</summary>
    public TimeSpan PluginWait { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>How long a started auditd has to register with the kernel.</summary>
    public TimeSpan StartWait { get; init; } = TimeSpan.FromSeconds(15);

    /// <summary>How long auditd has to exit after SIGTERM (a unit that refuses a manual stop) before a restart gives up.</summary>
    public TimeSpan StopWait { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>
    /// Applies <paramref name="mode"/>. <paramref name="approve"/> is asked with the exact command line (or restore)
    /// right before each change; false skips it (-WhatIf).
    /// </summary>
    public RestartResult Restart(RestartMode mode, Func<string, bool> approve)
    {
        var result = RestartUnrecorded(mode, approve);
        Recorder.Record(result);
        return result;
    }

    /// <summary>Where every result and kernel reading is reported; the process-wide recorder by default.</summary>
    public Health.NodeHealthRecorder Recorder { get; init; } = Health.NodeHealthRecorder.Shared;

    private RestartResult RestartUnrecorded(RestartMode mode, Func<string, bool> approve)
    {
        var reader = new AuditdStatusReader(_runner, _log) { Recorder = Recorder };
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
                // Reading the rules is allowed when immutable: it tells whether a reboot would change anything.
                Drift = Drift(),
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
            if (method == "Restart" && service.Restart(RefusesManualStop(service)) is null)
            {
                if (RestartBySignal(service, approve, executed, before) is { } stopped)
                {
                    return stopped;
                }

                continue;
            }

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

        if (PluginsDirectory is not null)
        {
            var plugins = VerifyPlugins(after.Pid);
            if (plugins.Count > 0 && mode == RestartMode.Auto && methods.Contains("Reload"))
            {
                // On SIGHUP auditd 3.0.9 only signals a plugin whose file name, active state and binary are unchanged:
                // a new path or args take a restart. Auto asked for the plugins to apply, so restart once.
                var command = service.Restart();
                var line = _runner.Render(command);
                _log.Info("auditd kept plugins with their old path or arguments after a reload; restarting it",
                    new LogField("plugins", string.Join(",", plugins.Select(p => Path.GetFileName(p.File)))));
                if (approve(line))
                {
                    _runner.Run(command);
                    executed.Add(line);
                    methods.Add("Restart");
                    methodName = string.Join('+', methods);
                    after = WaitRunning(reader);
                    drift = Drift();
                    if (!after.Running || drift.Count > 0)
                    {
                        return Failed(methodName, after.Running
                            ? $"After restarting auditd for its plugins, the kernel's rules differ from rules.d: {drift.Count} rules."
                            : "After restarting auditd for its plugins, auditd is not running.", after.LoadedRuleCount, executed, drift);
                    }

                    plugins = VerifyPlugins(after.Pid);
                }
            }

            if (plugins.Count > 0)
            {
                foreach (var generation in pending.Where(p => p.Kind == RulesKind && Covers(methods, p.Kind)))
                {
                    _state.MarkApplied(generation);
                }

                _log.Error("auditd does not run its plugins as plugins.d says", new LogField("plugins", string.Join(",", plugins.Select(p => Path.GetFileName(p.File)))));
                return Failed(
                    methodName,
                    $"The kernel enforces the {after.LoadedRuleCount} rules of rules.d, but auditd does not run its plugins as plugins.d says: " +
                    string.Join("; ", plugins) + (methods.Any(m => m is "Start" or "Restart")
                        ? ". Check the plugin program on the node and auditd's log."
                        : "; Restart-Auditd -Mode Restart makes auditd read plugins.d (a reload keeps a plugin's old path and arguments)."),
                    after.LoadedRuleCount,
                    executed) with { Plugins = plugins };
            }
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

    /// <summary>
    /// The changes the kernel or auditd does not enforce yet: the newest finished backup generation of each kind,
    /// when it is newer than the one applied last. Read from the state directory, so it survives the process.
    /// </summary>
    public IReadOnlyList<BackupGeneration> PendingChanges() => Pending();

    /// <summary>The newest finished generation of each kind, when it is newer than the one already applied.</summary>
    private IReadOnlyList<BackupGeneration> Pending() =>
        new[] { RulesKind, PluginsKind }
            .Select(kind => _backups.List(kind).LastOrDefault(g => g.Completed is not null))
            .OfType<BackupGeneration>()
            .Where(_state.IsPending)
            .ToList();

    private static List<string> Choose(RestartMode mode, AuditdStatus status, IReadOnlyList<BackupGeneration> pending)
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

        var generation = _backups.Latest(RulesKind);
        if (RollbackRefusal(generation, rejection) is { } refusal)
        {
            _log.Warn("rules.d not rolled back", new LogField("generation", generation?.Id), new LogField("reason", refusal));
            return new RestartResult
            {
                Method = method,
                Succeeded = false,
                LoadedRuleCount = reader.Read().LoadedRuleCount,
                Message = $"{rejection.Message} {refusal}; the kernel keeps what loaded before the rejected rule.",
                Commands = executed,
                Rejection = rejection,
                Drift = Drift(),
                HostRoot = _runner.HostRoot,
            };
        }

        var restore = $"restore rules.d from backup generation {generation!.Id} (before the last sync)";
        if (!approve(restore))
        {
            return Failed(method, rejection.Message + " Rollback skipped.", reader.Read().LoadedRuleCount, executed) with { Rejection = rejection };
        }

        RestoreResult restored;
        try
        {
            restored = _backups.Restore(generation, _rulesDirectory);
        }
        catch (SyncException e)
        {
            _log.Error("could not roll rules.d back", new LogField("generation", generation.Path), new LogField("file", e.Path), new LogField("error", e.Message));
            return Failed(method, $"{rejection.Message} Rolling rules.d back to before the last sync failed: {e.Message}", reader.Read().LoadedRuleCount, executed, Drift()) with { Rejection = rejection };
        }

        executed.Add(restore);
        var what = Describe(restored);
        _log.Warn("rolled rules.d back", new LogField("generation", generation.Id), new LogField("detail", what));
        var blocked = RecordRejectedSource(generation, rejection);
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
        if (previousLoaded && restored.Backup is { } rollback)
        {
            // The rollback is itself the newest change to rules.d, and the kernel enforces it: nothing left for Auto to load.
            _state.MarkApplied(rollback);
        }

        return new RestartResult
        {
            Method = method,
            Succeeded = false,
            RolledBack = true,
            LoadedRuleCount = after.LoadedRuleCount,
            Message = rejection.Message + (previousLoaded
                ? $" rules.d was rolled back to before the last sync ({what}) and the previous {after.LoadedRuleCount} rules are loaded again."
                : $" rules.d was rolled back ({what}), but the previous rules did not load cleanly either" +
                  (reloaded is { ExitCode: not 0 } ? $": {reloaded.StandardError.Trim()}" : ".")) +
                blocked,
            Commands = executed,
            Rejection = rejection,
            Drift = drift,
            HostRoot = _runner.HostRoot,
        };
    }

    /// <summary>
    /// Why undoing the last sync would not undo the rejected rule; null when it would. A rollback only ever undoes
    /// a sync that has not loaded yet and that wrote the file holding the rule: anything else would throw away good
    /// rules (and block their source) for a rule that came from somewhere else.
    /// </summary>
    private string? RollbackRefusal(BackupGeneration? generation, RuleRejectedException rejection)
    {
        if (generation is null)
        {
            return "No backup of rules.d exists to roll back to";
        }

        if (generation.Restores is { } undone)
        {
            return $"The last change to rules.d was itself a rollback (of backup generation {undone}), so rules.d is left as it is";
        }

        if (!_state.IsPending(generation))
        {
            return $"The last sync of rules.d (backup generation {generation.Id}) already loaded cleanly, so the rejected rule did not come from it and rules.d is left as it is";
        }

        if (rejection.File is { } file && !generation.Covers(Path.GetFileName(file)))
        {
            return $"The rejected rule is in {Path.GetFileName(file)}, which the last sync did not change, so rules.d is left as it is";
        }

        return null;
    }

    /// <summary>
    /// Records the rolled-back sync's source as rejected, so the sync does not write it again on the next poll;
    /// returns the sentence that tells the operator so.
    /// </summary>
    private string RecordRejectedSource(BackupGeneration generation, RuleRejectedException rejection)
    {
        if (generation.SourceFingerprint is not { } fingerprint)
        {
            // A generation from before sources were fingerprinted: nothing to recognise the source by.
            return " The sync's source is not known, so a sync may write it again.";
        }

        var record = new RejectedSource
        {
            Kind = RulesKind,
            SourceFingerprint = fingerprint,
            Source = generation.Source,
            Generation = generation.Id,
            Rule = rejection.Rule,
            File = rejection.File is null ? null : Path.GetFileName(rejection.File),
            Line = rejection.Line,
            KernelMessage = rejection.KernelMessage,
            Rejected = DateTimeOffset.UtcNow,
        };
        try
        {
            record.Save(_backups.StatePath);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            _log.Error("could not record the rejected source", new LogField("file", RejectedSource.PathFor(_backups.StatePath, SyncKind.Rules)), new LogField("error", e.Message));
            return $" Recording the rejected source failed ({e.Message}), so the next sync may write it again.";
        }

        _log.Info("recorded the rejected source", new LogField("source", generation.Source), new LogField("fingerprint", fingerprint));
        return " Sync-AuditRules will not write this source again: fix the rule in the rules ConfigMap.";
    }

    private static string Describe(RestoreResult restored)
    {
        var parts = new List<string>();
        if (restored.Written.Count > 0)
        {
            parts.Add("put back " + string.Join(", ", restored.Written));
        }

        if (restored.Deleted.Count > 0)
        {
            parts.Add("removed " + string.Join(", ", restored.Deleted));
        }

        return parts.Count == 0 ? $"backup generation {restored.Restored.Id} changed nothing" : string.Join("; ", parts);
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

    private IReadOnlyList<PluginMismatch> VerifyPlugins(int auditdPid) =>
        new AuditdPluginCheck(_runner, PluginsDirectory!) { Wait = PluginWait }.Verify(auditdPid);

    private IReadOnlyList<KernelRuleDrift> Drift() => new KernelDriftReader(_runner, _canon) { Recorder = Recorder }.Read(_rulesDirectory);

    /// <summary>
    /// Whether the node's auditd unit refuses <c>systemctl stop</c>/<c>restart</c> (RefuseManualStop=yes: upstream's
    /// unit, or a drop-in). Only asked under systemd, where it matters.
    /// </summary>
    private bool RefusesManualStop(AuditdService service)
    {
        if (service.Init != InitSystem.Systemd)
        {
            return false;
        }

        var shown = _runner.Run(service.ShowRefuseManualStop());
        return shown.StandardOutput.Trim() == "yes";
    }

    /// <summary>
    /// Restart for a unit that refuses a manual stop, as upstream's legacy restart action does it: auditd's main
    /// process is asked to stop (SIGTERM, which systemd allows), systemd is given time to see it exit, and the unit
    /// is started. Returns a result only when it cannot go on (not approved, or auditd did not stop).
    /// </summary>
    private RestartResult? RestartBySignal(AuditdService service, Func<string, bool> approve, List<string> executed, AuditdStatus before)
    {
        foreach (var (command, stops) in new[] { (service.StopBySignal(), true), (service.Start(), false) })
        {
            var line = _runner.Render(command);
            if (!approve(line))
            {
                return new RestartResult
                {
                    Method = "Restart",
                    Succeeded = false,
                    LoadedRuleCount = before.LoadedRuleCount,
                    Message = $"Not run: {line}",
                    Commands = executed,
                    HostRoot = _runner.HostRoot,
                };
            }

            var result = _runner.Run(command);
            executed.Add(line);
            _log.Info("changed the node", new LogField("command", line), new LogField("exitCode", result.ExitCode));
            if (stops && !WaitInactive(service))
            {
                return Failed(
                    "Restart",
                    $"auditd's unit refuses a manual stop (RefuseManualStop=yes), so auditd was sent SIGTERM, but it was still active after {StopWait.TotalSeconds:0} s; it was not started again.",
                    before.LoadedRuleCount,
                    executed);
            }
        }

        return null;
    }

    private bool WaitInactive(AuditdService service)
    {
        // is-active exits non-zero from the moment the unit is deactivating; a start queued then waits for the stop.
        var deadline = DateTime.UtcNow + StopWait;
        while (true)
        {
            if (_runner.Run(service.IsActive()).ExitCode != 0)
            {
                return true;
            }

            if (DateTime.UtcNow >= deadline)
            {
                return false;
            }

            Thread.Sleep(200);
        }
    }

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
