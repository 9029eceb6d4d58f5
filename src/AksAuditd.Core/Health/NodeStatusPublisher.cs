using System.Net;
using System.IO.Hashing;
using System.Text;
using System.Text.Json;
using AksAuditd.Core.Logging;
using k8s;
using k8s.Autorest;
using k8s.Models;

namespace AksAuditd.Core.Health;

/// <summary>
/// Writes the node's audit health to the Kubernetes API as node-problem-detector does: the three conditions on
/// the agent's own Node (a strategic merge patch of the status subresource, keyed by type) and Events on the
/// Node (events.k8s.io/v1) for what happened. It runs on a task of its own: the recorder only wakes it, so an
/// API server that is slow, refuses or is unreachable never delays or stops a sync (STYLE 20). Failures are
/// logged and retried with exponential backoff; the latest state wins, nothing queues without bound.
/// </summary>
public sealed class NodeStatusPublisher : INodeHealthObserver, IDisposable
{
    /// <summary>The namespace of Node events, where kubectl describe node looks (as the kubelet's).</summary>
    public const string EventNamespace = "default";

    /// <summary>events.k8s.io/v1 reportingController: a qualified name.</summary>
    public const string ReportingController = "aks-auditd/agent";

    /// <summary>The same event again within this window updates its series instead of creating another.</summary>
    public static readonly TimeSpan DeduplicationWindow = TimeSpan.FromMinutes(10);

    /// <summary>Conditions are written again this often even unchanged, so lastHeartbeatTime shows the agent is alive.</summary>
    public static readonly TimeSpan ResyncInterval = TimeSpan.FromMinutes(5);

    /// <summary>
    /// How long a newly started agent that reads the kernel waits for its first reading before it writes the conditions
    /// anyway (as Unknown): its first pass reads the kernel within seconds, and writing before that would flip the
    /// Node's conditions to Unknown and back, two transitions that did not happen.
    /// </summary>
    public static readonly TimeSpan FirstReadingGrace = TimeSpan.FromMinutes(2);

    private const int EventBurst = 10;
    private static readonly TimeSpan EventRefill = TimeSpan.FromMinutes(5);
    private static readonly TimeSpan MaxBackoff = TimeSpan.FromMinutes(5);

    private readonly IKubernetes _client;
    private readonly string _nodeName;
    private readonly string _agentVersion;
    private readonly NodeHealthRecorder _recorder;
    private readonly ILogSink _log;
    private readonly Func<DateTimeOffset> _clock;
    private readonly SemaphoreSlim _wake = new(0, 1);
    private readonly CancellationTokenSource _stop = new();
    private readonly Lock _gate = new();
    private readonly Queue<NodeHappening> _happenings = new();
    private readonly Dictionary<string, SentEvent> _sent = new(StringComparer.Ordinal);
    private readonly Dictionary<string, (string Status, DateTimeOffset Since)> _transitions = new(StringComparer.Ordinal);
    private readonly Task _running;
    private string? _published;
    private DateTimeOffset _lastPublish;
    private bool _transitionsRead;
    private double _tokens = EventBurst;
    private DateTimeOffset _tokensAt;
    private readonly DateTimeOffset _startedAt;

    public NodeStatusPublisher(IKubernetes client, string nodeName, string agentVersion, NodeHealthRecorder recorder, ILogSink? log = null, Func<DateTimeOffset>? clock = null)
    {
        _client = client;
        _nodeName = nodeName;
        _agentVersion = agentVersion;
        _recorder = recorder;
        _log = log ?? NullLogSink.Instance;
        _clock = clock ?? (() => DateTimeOffset.UtcNow);
        _startedAt = _clock();
        _tokensAt = _startedAt;
        MinBackoff = TimeSpan.FromSeconds(1);
        recorder.Subscribe(this);
        _running = Task.Run(RunAsync);
    }

    /// <summary>The first retry's delay; each failure in a row doubles it, up to five minutes.</summary>
    public TimeSpan MinBackoff { get; init; }

    /// <summary>API calls that failed since the start (tests and the log's figures).</summary>
    public int Failures { get; private set; }

    /// <summary>Events not sent because the rate limit was spent.</summary>
    public int EventsDropped { get; private set; }

    /// <summary>
    /// The client the agent uses: $KUBECONFIG when set (the benchmark, a test), otherwise in a pod the service
    /// account token, which the library reads again from its file as the kubelet rotates it.
    /// </summary>
    public static IKubernetes InClusterClient() => ApiObjectJson.Client(AgentKubeconfig.Resolve());

    public void Changed(NodeHealthRecorder recorder, NodeHappening? happening)
    {
        if (happening is not null)
        {
            lock (_gate)
            {
                // Bounded: an API server away for hours must not grow the agent's memory.
                if (_happenings.Count >= 64)
                {
                    _happenings.Dequeue();
                    EventsDropped++;
                }

                _happenings.Enqueue(happening);
            }
        }
        else if (!ConditionsDue(recorder.Snapshot(), out _))
        {
            // The loop reports every pass; waking the thread pool for a pass that changes nothing the Node shows
            // cost the idle loop more CPU than the rest of the fleet view (its workers spin before they sleep).
            return;
        }

        Wake();
    }

    /// <summary>True when the conditions may be written and differ from those last written, or the resync is due.</summary>
    private bool ConditionsDue(NodeHealthSnapshot snapshot, out string rendered)
    {
        rendered = Render(snapshot);
        if (!MayWriteConditions(snapshot))
        {
            return false;
        }

        lock (_gate)
        {
            return rendered != _published || _clock() - _lastPublish >= ResyncInterval;
        }
    }

    /// <summary>
    /// False while an agent that reads the kernel has not yet read both its audit state and its rules, within
    /// <see cref="FirstReadingGrace"/> of its start: Restart-Auditd reads the state before it compares the rules, and
    /// writing between the two turned a restarted agent's AuditRulesDrift from False to Unknown and back.
    /// </summary>
    private bool MayWriteConditions(NodeHealthSnapshot snapshot) =>
        !snapshot.VerifiesKernel || (snapshot.KernelRead && snapshot.KernelRuleDrift is not null) || _clock() - _startedAt >= FirstReadingGrace;

    /// <summary>Waits until everything recorded so far was sent or failed once (tests).</summary>
    public async Task<bool> FlushAsync(TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (DateTime.UtcNow < deadline)
        {
            lock (_gate)
            {
                var snapshot = _recorder.Snapshot();
                if (_happenings.Count == 0 && (_published == Render(snapshot) || !MayWriteConditions(snapshot)) && !_busy)
                {
                    return true;
                }
            }

            await Task.Delay(20).ConfigureAwait(false);
        }

        return false;
    }

    private bool _busy;

    public void Dispose()
    {
        _recorder.Unsubscribe(this);
        _stop.Cancel();
        try
        {
            _running.Wait(TimeSpan.FromSeconds(5));
        }
        catch (AggregateException)
        {
        }

        _stop.Dispose();
    }

    private void Wake()
    {
        try
        {
            if (_wake.CurrentCount == 0)
            {
                _wake.Release();
            }
        }
        catch (SemaphoreFullException)
        {
        }
        catch (ObjectDisposedException)
        {
        }
    }

    private async Task RunAsync()
    {
        var failures = 0;
        while (!_stop.IsCancellationRequested)
        {
            try
            {
                if (failures == 0)
                {
                    await _wake.WaitAsync(ResyncInterval, _stop.Token).ConfigureAwait(false);
                }
                else
                {
                    // The backoff holds even when the recorder changes meanwhile: the next attempt sends the latest state.
                    await Task.Delay(Backoff(failures), _stop.Token).ConfigureAwait(false);
                }
            }
            catch (OperationCanceledException)
            {
                return;
            }

            lock (_gate)
            {
                _busy = true;
            }

            try
            {
                await PublishConditionsAsync().ConfigureAwait(false);
                await SendEventsAsync().ConfigureAwait(false);
                failures = 0;
            }
            catch (OperationCanceledException) when (_stop.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e)
            {
                failures++;
                Failures++;
                var retry = MinBackoff * Math.Pow(2, Math.Min(failures - 1, 16));
                _log.Warn("Cannot write the node's audit status to the Kubernetes API; the sync loop is not affected, retrying",
                    new LogField("node", _nodeName), new LogField("status", StatusOf(e)), new LogField("reason", ReasonOf(e)),
                    new LogField("failures", failures), new LogField("retryInSeconds", Math.Min(retry.TotalSeconds, MaxBackoff.TotalSeconds)));
            }
            finally
            {
                lock (_gate)
                {
                    _busy = false;
                }
            }
        }
    }

    /// <summary>Doubling from <see cref="MinBackoff"/>, capped at five minutes, with up to 20 % jitter so a fleet does not retry in step.</summary>
    private TimeSpan Backoff(int failures)
    {
        var seconds = Math.Min(MaxBackoff.TotalSeconds, MinBackoff.TotalSeconds * Math.Pow(2, Math.Min(failures - 1, 16)));
        return TimeSpan.FromSeconds(seconds * (1 + (Random.Shared.NextDouble() * 0.2)));
    }

    private async Task PublishConditionsAsync()
    {
        var snapshot = _recorder.Snapshot();
        if (!ConditionsDue(snapshot, out var rendered))
        {
            return;
        }

        // metav1.Time keeps whole seconds: send what the API server will store and give back.
        var now = _clock();
        now = new DateTimeOffset(now.Ticks - (now.Ticks % TimeSpan.TicksPerSecond), TimeSpan.Zero);

        if (!_transitionsRead)
        {
            // Keep the transition times the Node already shows (an agent restart is not a transition).
            var node = await _client.CoreV1.ReadNodeAsync(_nodeName, cancellationToken: _stop.Token).ConfigureAwait(false);
            foreach (var condition in node.Status?.Conditions ?? [])
            {
                if (condition.LastTransitionTime is { } since)
                {
                    _transitions[condition.Type] = (condition.Status, new DateTimeOffset(DateTime.SpecifyKind(since, DateTimeKind.Utc)));
                }
            }

            _transitionsRead = true;
        }

        var conditions = new List<V1NodeCondition>();
        foreach (var state in snapshot.Conditions())
        {
            var since = _transitions.TryGetValue(state.Type, out var known) && known.Status == state.Status ? known.Since : now;
            conditions.Add(new V1NodeCondition
            {
                Type = state.Type,
                Status = state.Status,
                Reason = state.Reason,
                Message = state.Type == NodeHealthSnapshot.AuditRulesDrift ? state.Message + AgentSuffix(snapshot) : state.Message,
                LastHeartbeatTime = now.UtcDateTime,
                LastTransitionTime = since.UtcDateTime,
            });
        }

        // A strategic merge patch: the API server merges conditions by type, so other agents' conditions stay.
        var body = ApiObjectJson.PatchBody(new V1Node { Status = new V1NodeStatus { Conditions = conditions } });
        var patch = new V1Patch(body, V1Patch.PatchType.StrategicMergePatch);
        await _client.CoreV1.PatchNodeStatusAsync(patch, _nodeName, cancellationToken: _stop.Token).ConfigureAwait(false);
        foreach (var condition in conditions)
        {
            _transitions[condition.Type] = (condition.Status, new DateTimeOffset(condition.LastTransitionTime!.Value, TimeSpan.Zero));
        }

        lock (_gate)
        {
            _published = rendered;
            _lastPublish = now;
        }
    }

    /// <summary>
    /// What Get-AuditFleetStatus reads back: the agent's version and when it last applied files. Kept in a
    /// condition's message because a status patch cannot write annotations and the ClusterRole grants no more.
    /// </summary>
    private string AgentSuffix(NodeHealthSnapshot snapshot) =>
        $" [agent {_agentVersion}; applied {(snapshot.LastApplied is { } applied ? applied.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", System.Globalization.CultureInfo.InvariantCulture) : "never")}]";

    private string Render(NodeHealthSnapshot snapshot) =>
        string.Join('\n', snapshot.Conditions().Select(c => $"{c.Type}|{c.Status}|{c.Reason}|{c.Message}")) + AgentSuffix(snapshot);

    private async Task SendEventsAsync()
    {
        while (true)
        {
            NodeHappening happening;
            lock (_gate)
            {
                if (!_happenings.TryPeek(out happening!))
                {
                    return;
                }
            }

            await SendAsync(happening).ConfigureAwait(false);
            lock (_gate)
            {
                _happenings.Dequeue();
            }
        }
    }

    private async Task SendAsync(NodeHappening happening)
    {
        var reason = happening.Kind.ToString();
        var note = happening.Message.Length > 1024 ? happening.Message[..1021] + "..." : happening.Message;
        var key = $"{reason}\n{note}";
        var now = _clock();
        foreach (var stale in _sent.Where(s => now - s.Value.LastSeen > DeduplicationWindow).Select(s => s.Key).ToList())
        {
            _sent.Remove(stale);
        }

        if (_sent.TryGetValue(key, out var sent))
        {
            // The same event again: one more in its series, as the kubelet's recorder does.
            var series = ApiObjectJson.PatchBody(new EventSeriesPatch(new(sent.Count + 1, now.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.ffffff'Z'", System.Globalization.CultureInfo.InvariantCulture))));
            try
            {
                await _client.EventsV1.PatchNamespacedEventAsync(new V1Patch(series, V1Patch.PatchType.MergePatch), sent.Name, EventNamespace, cancellationToken: _stop.Token).ConfigureAwait(false);
                _sent[key] = sent with { Count = sent.Count + 1, LastSeen = now };
                return;
            }
            catch (HttpOperationException e) when (e.Response.StatusCode == HttpStatusCode.NotFound)
            {
                // The API server expired it (events live an hour by default): start a new one.
                _sent.Remove(key);
            }
        }

        if (!TakeToken(now))
        {
            EventsDropped++;
            _log.Debug("Event rate limit reached; not sent", new LogField("reason", reason));
            return;
        }

        var name = $"{_nodeName}.{Hash(key)}{now.ToUnixTimeMilliseconds():x}";
        var body = new Eventsv1Event
        {
            ApiVersion = "events.k8s.io/v1",
            Kind = "Event",
            Metadata = new V1ObjectMeta { Name = name, NamespaceProperty = EventNamespace },
            EventTime = now.UtcDateTime,
            ReportingController = ReportingController,
            ReportingInstance = $"aks-auditd-{_nodeName}".Length <= 128 ? $"aks-auditd-{_nodeName}" : $"aks-auditd-{_nodeName}"[..128],
            Action = Action(happening.Kind),
            Reason = reason,
            Note = note,
            Type = happening.Warning ? "Warning" : "Normal",
            Regarding = new V1ObjectReference { ApiVersion = "v1", Kind = "Node", Name = _nodeName, Uid = _nodeName },
        };
        try
        {
            await _client.EventsV1.CreateNamespacedEventAsync(body, EventNamespace, cancellationToken: _stop.Token).ConfigureAwait(false);
        }
        catch (HttpOperationException e) when (e.Response.StatusCode is HttpStatusCode.Conflict)
        {
            // 409 AlreadyExists: a retry of a create whose answer was lost. The event is there.
        }
        catch (HttpOperationException e) when (e.Response.StatusCode is HttpStatusCode.UnprocessableEntity or HttpStatusCode.BadRequest or HttpStatusCode.Forbidden)
        {
            // 422/400/403: the API server will refuse this exact event every time; say so and move on.
            _log.Warn("The Kubernetes API refused an event; it is dropped",
                new LogField("reason", reason), new LogField("status", (int)e.Response.StatusCode), new LogField("answer", e.Response.Content));
            return;
        }

        _sent[key] = new SentEvent(name, 1, now);
    }

    private bool TakeToken(DateTimeOffset now)
    {
        _tokens = Math.Min(EventBurst, _tokens + ((now - _tokensAt).TotalSeconds / EventRefill.TotalSeconds));
        _tokensAt = now;
        if (_tokens < 1)
        {
            return false;
        }

        _tokens--;
        return true;
    }

    private static string Action(NodeHappeningKind kind) => kind switch
    {
        NodeHappeningKind.RulesApplied => "Apply",
        NodeHappeningKind.RulesRejected => "Validate",
        NodeHappeningKind.RolledBack => "Rollback",
        NodeHappeningKind.DriftRepaired => "Verify",
        _ => "Load",
    };

    private static string Hash(string text) => Convert.ToHexStringLower(XxHash64.Hash(Encoding.UTF8.GetBytes(text)))[..8];

    private static string StatusOf(Exception e) => e switch
    {
        HttpOperationException http => ((int)http.Response.StatusCode).ToString(System.Globalization.CultureInfo.InvariantCulture),
        _ when ApiTlsFailure.Of(e) is not null => "untrusted-server-certificate",
        HttpRequestException => "unreachable",
        TaskCanceledException => "timeout",
        _ => e.GetType().Name,
    };

    /// <summary>The message, and its cause's: HttpClient's own says only "see inner exception" for a TLS failure.</summary>
    private static string ReasonOf(Exception e) =>
        e is HttpRequestException { InnerException: { } inner } ? $"{e.Message} {inner.Message}" : e.Message;

    private sealed record SentEvent(string Name, int Count, DateTimeOffset LastSeen);
}
