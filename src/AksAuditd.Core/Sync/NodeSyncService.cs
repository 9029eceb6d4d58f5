using System.Diagnostics;
using System.Text.Json;
using AksAuditd.Core.Host;
using AksAuditd.Core.Logging;
using AksAuditd.Core.Rules;

namespace AksAuditd.Core.Sync;

/// <summary>The steps of one reconcile pass, in the order they run.</summary>
public enum NodeSyncStep
{
    Rules,
    Plugins,
    Restart,
    Status,
}

/// <summary>A step that could not run to the end; the pass went on with the next step.</summary>
public sealed record NodeSyncFailure(NodeSyncStep Step, Exception Error)
{
    public override string ToString() => $"{Step}: {Error.Message}";
}

/// <summary>What one pass over a node is asked to do.</summary>
public sealed class NodeSyncRequest
{
    /// <summary>The rules sync. Its <see cref="SyncRequest.StatePath"/> is the node's state directory for the whole pass.</summary>
    public required SyncRequest Rules { get; init; }

    public required SyncRequest Plugins { get; init; }

    public required IRuleFileValidator RulesValidator { get; init; }

    public required IRuleFileValidator PluginsValidator { get; init; }

    public SyncSession? RulesSession { get; init; }

    public SyncSession? PluginsSession { get; init; }

    /// <summary>False syncs files only: a node (or sandbox) where this process must not touch auditd or the kernel.</summary>
    public bool Restart { get; init; } = true;

    /// <summary>False skips the status check (the entrypoint asks for it every few minutes, not every poll).</summary>
    public bool Status { get; init; } = true;

    /// <summary>Runs Restart-Auditd -Mode Auto even when nothing is pending: starts a stopped auditd and checks the kernel's rules.</summary>
    public bool Verify { get; init; }

    /// <summary>
    /// The node's plugins.d as this process reaches it: when set, the restart also checks that auditd runs each active
    /// plugin with the arguments its file gives, and Auto restarts auditd once when a reload kept the old ones
    /// (auditd 3.0.9 does, for a changed path or args). Null skips the check.
    /// </summary>
    public string? PluginsDirectory { get; init; }

    /// <summary>Asked with each restart command line right before it runs; false skips it (-WhatIf).</summary>
    public Func<string, bool> ApproveRestart { get; init; } = _ => true;
}

/// <summary>What one reconcile pass did: each step's own typed result, and the steps that failed.</summary>
public sealed class NodeSyncResult
{
    /// <summary>The rules sync; null when it failed as a whole (see <see cref="Failures"/>).</summary>
    public SyncResult? Rules { get; init; }

    public SyncResult? Plugins { get; init; }

    /// <summary>Restart-Auditd -Mode Auto; null when nothing was pending, restarts were off, or the step failed.</summary>
    public RestartResult? Restart { get; init; }

    /// <summary>The kernel's counters after the pass; null when not asked for or when the step failed.</summary>
    public AuditdStatus? Status { get; init; }

    /// <summary>Why Restart ran: the pending backup generations, a restart still owed by an earlier pass, or a verification; empty when it did not.</summary>
    public IReadOnlyList<string> RestartReasons { get; init; } = Array.Empty<string>();

    public IReadOnlyList<NodeSyncFailure> Failures { get; init; } = Array.Empty<NodeSyncFailure>();

    /// <summary>Every step ran, no source was blocked by errors, and the kernel enforces rules.d (or only a reboot can change it).</summary>
    public bool Succeeded { get; init; }

    /// <summary>True when some node change was only shown, not made (-WhatIf, or not confirmed).</summary>
    public bool WhatIf { get; init; }

    public TimeSpan Duration { get; init; }

    public string HostRoot { get; init; } = "/";

    public override string ToString() =>
        $"{(Succeeded ? "succeeded" : "failed")}: rules {Rules?.ToString() ?? "failed"}; plugins {Plugins?.ToString() ?? "failed"}; " +
        $"restart {(Restart is null ? "not run" : Restart.Succeeded ? Restart.Method : "failed")}";
}

/// <summary>
/// One whole reconcile pass over a node: sync rules.d, sync plugins.d, apply what is pending with
/// Restart-Auditd -Mode Auto, then read the kernel's status. Each step runs whatever happened to the one
/// before: a refused rules source must not keep a plugin fix off the node, nor hide the kernel's counters.
/// What is pending is read from the state directory, never remembered by the caller, so a pass killed after
/// its rename, or a pod that restarted, still loads the new rules on the next pass.
/// </summary>
public sealed class NodeSyncService
{
    private readonly IHostCommandRunner _runner;
    private readonly IKernelRuleCanon _canon;
    private readonly ILogSink _log;
    private readonly INodeFileSystem _fs;

    public NodeSyncService(IHostCommandRunner runner, IKernelRuleCanon canon, ILogSink? log = null, INodeFileSystem? fileSystem = null)
    {
        _runner = runner;
        _canon = canon;
        _log = log ?? NullLogSink.Instance;
        _fs = fileSystem ?? LinuxNodeFileSystem.Instance;
    }

    public NodeSyncResult Run(NodeSyncRequest request)
    {
        var clock = Stopwatch.StartNew();
        var failures = new List<NodeSyncFailure>();
        var rules = Step(NodeSyncStep.Rules, failures, () => new SyncService(request.RulesValidator, _log, _fs).Sync(request.Rules, request.RulesSession));
        var plugins = Step(NodeSyncStep.Plugins, failures, () => new SyncService(request.PluginsValidator, _log, _fs).Sync(request.Plugins, request.PluginsSession));
        var whatIf = rules is { WhatIf: true } || plugins is { WhatIf: true };

        RestartResult? restart = null;
        AuditdStatus? status = null;
        IReadOnlyList<string> reasons = Array.Empty<string>();
        var restartDeclined = false;
        if (request.Restart)
        {
            var statePath = request.Rules.StatePath;
            var applyState = new NodeApplyState(statePath);
            var restarter = new AuditdRestarter(_runner, _canon, request.Rules.TargetPath, new BackupStore(statePath, _fs, _log), _log)
            {
                PluginsDirectory = request.PluginsDirectory,
            };
            reasons = Step(NodeSyncStep.Restart, failures, () => RestartReasons(request, applyState, restarter)) ?? Array.Empty<string>();
            if (reasons.Count > 0)
            {
                restart = Step(NodeSyncStep.Restart, failures, () => restarter.Restart(RestartMode.Auto, line =>
                {
                    var approved = request.ApproveRestart(line);
                    restartDeclined |= !approved;
                    return approved;
                }));
                whatIf |= restartDeclined;
                if (!restartDeclined)
                {
                    // Owed until a restart succeeds: a failure here is retried on the next pass even when no backup generation is pending.
                    var owed = restart is null || !(restart.Succeeded || restart.RebootRequired);
                    Step(NodeSyncStep.Restart, failures, () => applyState.SetRestartOwed(owed ? restart?.Message ?? failures.Last().Error.Message : null));
                }

                Report(restart, reasons);
            }

            if (request.Status)
            {
                status = Step(NodeSyncStep.Status, failures, () => new AuditdStatusReader(_runner, _log).Read());
                if (status is not null)
                {
                    _log.Info("auditd status",
                        new LogField("running", status.Running), new LogField("enabled", status.EnabledFlag), new LogField("lost", status.Lost),
                        new LogField("backlog", status.Backlog), new LogField("backlogLimit", status.BacklogLimit), new LogField("loadedRuleCount", status.LoadedRuleCount));
                }
            }
        }

        var succeeded = failures.Count == 0
            && rules is { Blocked: false } && plugins is { Blocked: false }
            && (restart is null || restart.Succeeded || restart.RebootRequired || restartDeclined);
        return new NodeSyncResult
        {
            Rules = rules,
            Plugins = plugins,
            Restart = restart,
            Status = status,
            RestartReasons = restart is null && failures.All(f => f.Step != NodeSyncStep.Restart) ? Array.Empty<string>() : reasons,
            Failures = failures,
            Succeeded = succeeded,
            WhatIf = whatIf,
            Duration = clock.Elapsed,
            HostRoot = _runner.HostRoot,
        };
    }

    /// <summary>Why this pass must run Restart-Auditd; empty when nothing is pending.</summary>
    private static IReadOnlyList<string> RestartReasons(NodeSyncRequest request, NodeApplyState applyState, AuditdRestarter restarter)
    {
        var reasons = restarter.PendingChanges().Select(g => $"{g.Kind} backup generation {g.Id} not applied yet").ToList();
        if (applyState.RestartOwed() is { } owed)
        {
            reasons.Add($"an earlier restart did not succeed: {owed}");
        }

        if (request.Verify && reasons.Count == 0)
        {
            reasons.Add("verification asked for");
        }

        return reasons;
    }

    private void Report(RestartResult? restart, IReadOnlyList<string> reasons)
    {
        if (restart is null)
        {
            return;
        }

        var fields = new[]
        {
            new LogField("command", "Restart-Auditd"), new LogField("method", restart.Method), new LogField("succeeded", restart.Succeeded),
            new LogField("rebootRequired", restart.RebootRequired), new LogField("rolledBack", restart.RolledBack),
            new LogField("loadedRuleCount", restart.LoadedRuleCount), new LogField("reason", string.Join("; ", reasons)),
        };
        if (restart.Succeeded)
        {
            _log.Info($"Restart-Auditd: {restart.Message}", fields);
        }
        else if (restart.RebootRequired)
        {
            // -e 2 on the node: nothing loads until it reboots, and retrying changes nothing.
            _log.Warn($"Restart-Auditd: {restart.Message}", fields);
        }
        else
        {
            _log.Debug($"Restart-Auditd: {restart.Message}", fields); // the cmdlet reports the failure as an error record
        }
    }

    private T? Step<T>(NodeSyncStep step, List<NodeSyncFailure> failures, Func<T> run)
        where T : class
    {
        try
        {
            return run();
        }
        catch (Exception e) when (IsStepFailure(e))
        {
            failures.Add(new NodeSyncFailure(step, e));
            _log.Debug("A step of the pass failed; the pass goes on", new LogField("step", step.ToString()), new LogField("error", e.Message));
            return null;
        }
    }

    private void Step(NodeSyncStep step, List<NodeSyncFailure> failures, Action run) => Step<object>(step, failures, () =>
    {
        run();
        return new object();
    });

    /// <summary>What a step can meet on a node: its own failures, the node's file system, the host's commands, damaged state files.</summary>
    private static bool IsStepFailure(Exception e) =>
        e is SyncException or HostCommandException or UnsupportedDistributionException or PackageLockHeldException
            or IOException or UnauthorizedAccessException or InvalidDataException or JsonException or FormatException;
}
