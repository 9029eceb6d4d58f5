using AksAuditd.Core.Sync;

namespace AksAuditd.Core.Health;

/// <summary>One kind's last pass: how it ended, its source and what still differs.</summary>
public sealed record KindHealth(SyncOutcome Outcome, DateTimeOffset? LastSuccess, int SourceFiles, int DriftFiles, bool SourceRejected, DateTimeOffset? ChangedAt);

/// <summary>A Node condition as node-problem-detector writes it: True means a problem, with a CamelCase reason.</summary>
public sealed record NodeConditionState(string Type, string Status, string Reason, string Message);

/// <summary>A consistent copy of the recorder's figures at one moment.</summary>
public sealed class NodeHealthSnapshot
{
    /// <summary>How long the loop may go without a beat before /healthz fails (a step may wait on a slow auditctl).</summary>
    public static readonly TimeSpan AliveWindow = TimeSpan.FromMinutes(5);

    public const string AuditdProblem = "AuditdProblem";
    public const string AuditRulesDrift = "AuditRulesDrift";
    public const string AuditEventsLost = "AuditEventsLost";

    public required DateTimeOffset Time { get; init; }

    public required DateTimeOffset LastBeat { get; init; }

    public required IReadOnlyDictionary<SyncKind, KindHealth> Kinds { get; init; }

    public required IReadOnlyDictionary<(SyncKind Kind, SyncOutcome Outcome), long> SyncRuns { get; init; }

    public required IReadOnlyDictionary<(string Method, string Result), long> Restarts { get; init; }

    public int? DesiredRules { get; init; }

    public int? LoadedRules { get; init; }

    public int? KernelRuleDrift { get; init; }

    public bool? AuditdRunning { get; init; }

    public string? PidHolder { get; init; }

    public int? AuditPid { get; init; }

    public int? EnabledFlag { get; init; }

    public long? Lost { get; init; }

    /// <summary>The kernel's lost counter grew within <see cref="NodeHealthRecorder.LostEventsWindow"/>.</summary>
    public bool LostGrowing { get; init; }

    public long? Backlog { get; init; }

    public long? BacklogLimit { get; init; }

    public bool KernelRead { get; init; }

    public bool RebootRequired { get; init; }

    public DateTimeOffset? LastApplied { get; init; }

    public DateTimeOffset? VerifiedAt { get; init; }

    public bool VerifiesKernel { get; init; }

    public bool? LastRestartSucceeded { get; init; }

    public string? LastRestartMessage { get; init; }

    /// <summary>/healthz: the loop beat recently.</summary>
    public bool Alive => Time - LastBeat < AliveWindow;

    /// <summary>/readyz: why the node is not done yet, or null when the last pass applied and verified the current sources.</summary>
    public string? NotReadyReason
    {
        get
        {
            foreach (var kind in new[] { SyncKind.Rules, SyncKind.Plugins })
            {
                if (!Kinds.TryGetValue(kind, out var health))
                {
                    return $"no {kind.StateName()} pass yet";
                }

                if (health.SourceRejected)
                {
                    return $"the kernel rejected the current {kind.StateName()} source; the node keeps its previous files";
                }

                if (health.Outcome is SyncOutcome.Refused or SyncOutcome.Failed)
                {
                    return $"the last {kind.StateName()} pass {health.Outcome.ToString().ToLowerInvariant()}";
                }
            }

            if (!VerifiesKernel)
            {
                return null;
            }

            if (RebootRequired)
            {
                // Immutable: done when the kernel already enforces the source, waiting for a reboot otherwise.
                return KernelRuleDrift is 0 ? null : "the kernel's audit rules are immutable (enabled 2) and differ from rules.d: the node needs a reboot";
            }

            if (VerifiedAt is not { } verified)
            {
                return LastRestartMessage is null ? "the kernel has not been verified yet" : $"not verified: {LastRestartMessage}";
            }

            if (Kinds.Values.Any(k => k.ChangedAt is { } changed && changed > verified))
            {
                return "files changed since the kernel was last verified";
            }

            return LastRestartSucceeded == false ? $"not verified: {LastRestartMessage}" : null;
        }
    }

    /// <summary>The three Node conditions; Unknown while the kernel has not been read (a sandbox node, -NoRestart).</summary>
    public IReadOnlyList<NodeConditionState> Conditions()
    {
        var conditions = new List<NodeConditionState>(3);
        if (AuditdRunning is not { } running)
        {
            conditions.Add(new(AuditdProblem, "Unknown", "AuditdNotChecked", "The agent has not read the kernel's audit state yet."));
        }
        else if (running)
        {
            conditions.Add(new(AuditdProblem, "False", "AuditdIsRunning", $"auditd (PID {AuditPid}) holds the kernel's audit PID."));
        }
        else if (AuditPid is > 0)
        {
            conditions.Add(new(AuditdProblem, "True", "AuditPidHeldByOther", $"{PidHolder ?? "Another process"} (PID {AuditPid}), not auditd, holds the kernel's audit PID."));
        }
        else
        {
            conditions.Add(new(AuditdProblem, "True", "AuditdNotRunning", "No audit daemon is registered with the kernel: audit records go to the kernel log or are lost."));
        }

        var rejected = Kinds.Values.Any(k => k.SourceRejected);
        if (EnabledFlag == 2 && KernelRuleDrift is > 0)
        {
            conditions.Add(new(AuditRulesDrift, "True", "RebootRequired", "The kernel's audit rules are immutable (enabled 2) and rules.d changed: the node loads them after a reboot."));
        }
        else if (rejected)
        {
            conditions.Add(new(AuditRulesDrift, "True", "SourceRejected", "The kernel rejected a rule of the current source; the node keeps its previous rules."));
        }
        else if (KernelRuleDrift is { } drift)
        {
            conditions.Add(drift == 0
                ? new(AuditRulesDrift, "False", "RulesInSync", $"The kernel enforces the {LoadedRules} rules of the source.")
                : new(AuditRulesDrift, "True", "KernelRulesDiffer", $"{drift} rules differ between the kernel and rules.d (missing plus unexpected)."));
        }
        else
        {
            conditions.Add(new(AuditRulesDrift, "Unknown", "RulesNotChecked", "The agent has not compared the kernel's rules with the source yet."));
        }

        if (Lost is not { } lost)
        {
            conditions.Add(new(AuditEventsLost, "Unknown", "LostNotChecked", "The agent has not read the kernel's lost counter yet."));
        }
        else
        {
            conditions.Add(LostGrowing
                ? new(AuditEventsLost, "True", "EventsLost", $"The kernel dropped audit events in the last {NodeHealthRecorder.LostEventsWindow.TotalMinutes:0} minutes (lost {lost} since boot).")
                : new(AuditEventsLost, "False", "NoEventsLost", $"No audit events lost in the last {NodeHealthRecorder.LostEventsWindow.TotalMinutes:0} minutes (lost {lost} since boot)."));
        }

        return conditions;
    }
}
