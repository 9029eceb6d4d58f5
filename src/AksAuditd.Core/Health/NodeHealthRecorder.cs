using AksAuditd.Core.Host;
using AksAuditd.Core.Sync;

namespace AksAuditd.Core.Health;

/// <summary>How one sync pass of a kind ended, as the metric <c>aksauditd_sync_runs_total{result}</c> names it.</summary>
public enum SyncOutcome
{
    Changed,
    Unchanged,

    /// <summary>The source was not written: it has errors, or the kernel rejected exactly this source before.</summary>
    Refused,

    /// <summary>The sync could not run (source or target unreadable, lock busy, disk full...).</summary>
    Failed,
}

/// <summary>A transient happening on the node, worth an Event on the Node (node-problem-detector's split).</summary>
public enum NodeHappeningKind
{
    RulesApplied,
    RulesRejected,
    RolledBack,
    DriftRepaired,
    RebootRequired,
}

/// <summary>One happening: its kind, Normal or Warning, and the text a person reads.</summary>
public sealed record NodeHappening(NodeHappeningKind Kind, bool Warning, string Message, DateTimeOffset Time);

/// <summary>What the process-wide recorder tells its observers (the metrics endpoint reads; the status publisher listens).</summary>
public interface INodeHealthObserver
{
    /// <summary>Called after a fact changed, on the thread that reported it: must return at once (queue, never call the network).</summary>
    void Changed(NodeHealthRecorder recorder, NodeHappening? happening);
}

/// <summary>
/// The node's health as the Core services saw it: every SyncResult, RestartResult and kernel reading is reported
/// here by the service that produced it (whoever calls it: the loop's cmdlets, Sync-AuditNode, a person), and
/// the metrics endpoint, the readiness probe and the Node conditions are all read from it. Keeping the facts in
/// Core, not in the entrypoint's variables, is why every caller of the services updates the same figures.
/// Recording is a few assignments under a lock: it costs the idle poll nothing measurable.
/// </summary>
public sealed class NodeHealthRecorder
{
    /// <summary>How long AuditEventsLost stays True after the kernel's lost counter grew.</summary>
    public static readonly TimeSpan LostEventsWindow = TimeSpan.FromMinutes(10);

    private readonly Lock _gate = new();
    private readonly Func<DateTimeOffset> _clock;
    private readonly Dictionary<(SyncKind Kind, SyncOutcome Outcome), long> _syncRuns = new();
    private readonly Dictionary<(string Method, string Result), long> _restarts = new();
    private readonly Dictionary<SyncKind, KindState> _kinds = new();
    private readonly List<INodeHealthObserver> _observers = new();
    private DateTimeOffset _lastBeat;

    public NodeHealthRecorder(Func<DateTimeOffset>? clock = null)
    {
        _clock = clock ?? (() => DateTimeOffset.UtcNow);
        _lastBeat = _clock();
        Started = _lastBeat;
    }

    /// <summary>The one recorder of this process: the services report to it unless given another.</summary>
    public static NodeHealthRecorder Shared { get; } = new();

    public DateTimeOffset Started { get; }

    /// <summary>True when the pass ends in Restart-Auditd, so a changed source is only done once the kernel verified it.</summary>
    public bool VerifiesKernel { get; set; } = true;

    public void Subscribe(INodeHealthObserver observer)
    {
        lock (_gate)
        {
            _observers.Add(observer);
        }
    }

    public void Unsubscribe(INodeHealthObserver observer)
    {
        lock (_gate)
        {
            _observers.Remove(observer);
        }
    }

    /// <summary>The loop is alive: it finished a step or a slice of its wait.</summary>
    public void Beat()
    {
        lock (_gate)
        {
            _lastBeat = _clock();
        }
    }

    /// <summary>A sync pass that produced a result (WhatIf results are ignored: nothing was applied).</summary>
    public void Record(SyncResult result)
    {
        if (result.WhatIf)
        {
            return;
        }

        var outcome = result.Blocked ? SyncOutcome.Refused : result.Changed ? SyncOutcome.Changed : SyncOutcome.Unchanged;
        NodeHappening? happening = null;
        lock (_gate)
        {
            var now = _clock();
            var state = State(result.Kind);
            Count(result.Kind, outcome);
            state.Outcome = outcome;
            state.SourceFiles = result.SourceFileCount;
            state.DriftFiles = result.DriftFileCount;
            state.SourceRejected = false;
            state.SourceVersion = result.SourceVersion;
            if (!result.Blocked)
            {
                state.LastSuccess = now;
            }

            if (result.Kind == SyncKind.Rules && result.DesiredRuleCount is { } desired)
            {
                DesiredRules = desired;
            }

            if (result.Changed)
            {
                state.ChangedAt = now;
                LastApplied = now;
                if (!VerifiesKernel)
                {
                    happening = new NodeHappening(NodeHappeningKind.RulesApplied, false,
                        $"{Capital(result.Kind)} synced from {result.SourcePath}: {result.Added.Count} added, {result.Modified.Count} modified, {result.Removed.Count} removed.", now);
                }
            }
            else if (result.Blocked)
            {
                happening = new NodeHappening(NodeHappeningKind.RulesRejected, true,
                    $"The {result.Kind.StateName()} source {result.SourcePath} has errors; the node keeps its current files.", now);
            }
        }

        Notify(happening);
    }

    /// <summary>A sync that could not run; a source the kernel rejected before counts as refused and is held back.</summary>
    public void RecordFailure(SyncKind kind, SyncException failure)
    {
        var rejected = failure.Failure == SyncFailure.SourceRejectedByKernel;
        lock (_gate)
        {
            var state = State(kind);
            var outcome = rejected ? SyncOutcome.Refused : SyncOutcome.Failed;
            Count(kind, outcome);
            state.Outcome = outcome;
            state.SourceRejected = rejected;
        }

        Notify(null);
    }

    /// <summary>What Restart-Auditd did; its verification is the kernel's word on the current rules.d.</summary>
    public void Record(RestartResult result)
    {
        if (result.Message.StartsWith("Not run:", StringComparison.Ordinal))
        {
            return;
        }

        NodeHappening? happening;
        lock (_gate)
        {
            var now = _clock();
            var verdict = result.Succeeded ? "succeeded" : result.RebootRequired ? "reboot_required" : result.RolledBack ? "rolled_back" : "failed";
            _restarts[(result.Method, verdict)] = _restarts.GetValueOrDefault((result.Method, verdict)) + 1;
            LastRestart = result;
            LastRestartAt = now;
            RebootRequired = result.RebootRequired;
            KernelRuleDrift = result.Drift.Count;
            LoadedRules = result.LoadedRuleCount;

            if (result.Succeeded)
            {
                VerifiedAt = now;
            }

            happening = result switch
            {
                { RebootRequired: true, RebootRequiredFirstReport: true } => new NodeHappening(NodeHappeningKind.RebootRequired, true, result.Message, now),
                { RolledBack: true } => new NodeHappening(NodeHappeningKind.RolledBack, true, result.Message, now),
                { Rejection: not null } => new NodeHappening(NodeHappeningKind.RulesRejected, true, result.Message, now),
                { Succeeded: true, Method: not "None" } when ChangedSince(LastVerifyAttempt) =>
                    new NodeHappening(NodeHappeningKind.RulesApplied, false, $"Rules loaded and verified ({result.LoadedRuleCount} rules, {result.Method}).", now),
                { Succeeded: true, Method: not "None" } => new NodeHappening(NodeHappeningKind.DriftRepaired, false,
                    $"The kernel's rules had drifted from rules.d; {result.Method} restored them ({result.LoadedRuleCount} rules).", now),
                _ => null,
            };
            LastVerifyAttempt = now;
        }

        Notify(happening);
    }

    /// <summary>A reading of the kernel's audit state (<c>auditctl -s</c>, <c>-l</c>).</summary>
    public void Record(AuditdStatus status)
    {
        lock (_gate)
        {
            var now = _clock();
            if (Lost is { } previous && status.Lost > previous)
            {
                LostGrewAt = now;
            }

            AuditdRunning = status.Running;
            PidHolder = status.PidHolder;
            AuditPid = status.Pid;
            EnabledFlag = status.EnabledFlag;
            Lost = status.Lost;
            Backlog = status.Backlog;
            BacklogLimit = status.BacklogLimit;
            LoadedRules = status.LoadedRuleCount;
            KernelReadAt = now;
        }

        Notify(null);
    }

    /// <summary>A comparison of the kernel's rules with rules.d (missing plus unexpected).</summary>
    public void RecordKernelRules(int desired, int loaded, int drift)
    {
        lock (_gate)
        {
            DesiredRules = desired;
            LoadedRules = loaded;
            KernelRuleDrift = drift;
            KernelReadAt = _clock();
        }

        Notify(null);
    }

    public DateTimeOffset LastBeat
    {
        get
        {
            lock (_gate)
            {
                return _lastBeat;
            }
        }
    }

    public int? DesiredRules { get; private set; }

    public int? LoadedRules { get; private set; }

    public int? KernelRuleDrift { get; private set; }

    public bool? AuditdRunning { get; private set; }

    public string? PidHolder { get; private set; }

    public int? AuditPid { get; private set; }

    public int? EnabledFlag { get; private set; }

    public long? Lost { get; private set; }

    public DateTimeOffset? LostGrewAt { get; private set; }

    public long? Backlog { get; private set; }

    public long? BacklogLimit { get; private set; }

    public DateTimeOffset? KernelReadAt { get; private set; }

    public RestartResult? LastRestart { get; private set; }

    public DateTimeOffset? LastRestartAt { get; private set; }

    public bool RebootRequired { get; private set; }

    /// <summary>When a sync last changed node files.</summary>
    public DateTimeOffset? LastApplied { get; private set; }

    /// <summary>When Restart-Auditd last verified that the kernel enforces rules.d.</summary>
    public DateTimeOffset? VerifiedAt { get; private set; }

    private DateTimeOffset? LastVerifyAttempt { get; set; }

    /// <summary>A consistent copy of every figure, for a scrape or a status update.</summary>
    public NodeHealthSnapshot Snapshot()
    {
        lock (_gate)
        {
            var now = _clock();
            var kinds = _kinds.ToDictionary(k => k.Key, k => new KindHealth(k.Value.Outcome, k.Value.LastSuccess, k.Value.SourceFiles, k.Value.DriftFiles, k.Value.SourceRejected, k.Value.ChangedAt));
            return new NodeHealthSnapshot
            {
                Time = now,
                LastBeat = _lastBeat,
                Kinds = kinds,
                SyncRuns = new Dictionary<(SyncKind, SyncOutcome), long>(_syncRuns),
                Restarts = new Dictionary<(string, string), long>(_restarts),
                DesiredRules = DesiredRules,
                LoadedRules = LoadedRules,
                KernelRuleDrift = KernelRuleDrift,
                AuditdRunning = AuditdRunning,
                PidHolder = PidHolder,
                AuditPid = AuditPid,
                EnabledFlag = EnabledFlag,
                Lost = Lost,
                LostGrowing = LostGrewAt is { } grew && now - grew < LostEventsWindow,
                Backlog = Backlog,
                BacklogLimit = BacklogLimit,
                KernelRead = KernelReadAt is not null,
                RebootRequired = RebootRequired,
                LastApplied = LastApplied,
                VerifiedAt = VerifiedAt,
                VerifiesKernel = VerifiesKernel,
                LastRestartSucceeded = LastRestart?.Succeeded,
                LastRestartMessage = LastRestart?.Message,
            };
        }
    }

    private bool ChangedSince(DateTimeOffset? time) =>
        _kinds.Values.Any(k => k.ChangedAt is { } changed && (time is null || changed > time));

    private KindState State(SyncKind kind)
    {
        if (!_kinds.TryGetValue(kind, out var state))
        {
            state = new KindState();
            _kinds[kind] = state;
        }

        return state;
    }

    private void Count(SyncKind kind, SyncOutcome outcome) => _syncRuns[(kind, outcome)] = _syncRuns.GetValueOrDefault((kind, outcome)) + 1;

    private void Notify(NodeHappening? happening)
    {
        INodeHealthObserver[] observers;
        lock (_gate)
        {
            if (_observers.Count == 0)
            {
                return;
            }

            observers = _observers.ToArray();
        }

        foreach (var observer in observers)
        {
            observer.Changed(this, happening);
        }
    }

    private static string Capital(SyncKind kind) => kind == SyncKind.Rules ? "Rules" : "Plugins";

    private sealed class KindState
    {
        public SyncOutcome Outcome { get; set; }

        public DateTimeOffset? LastSuccess { get; set; }

        public int SourceFiles { get; set; }

        public int DriftFiles { get; set; }

        public bool SourceRejected { get; set; }

        public string? SourceVersion { get; set; }

        public DateTimeOffset? ChangedAt { get; set; }
    }
}
