using AksAuditd.Tests.Shared;
using System.Net;
using System.Net.Sockets;
using AksAuditd.Core.Configuration;
using AksAuditd.Core.Health;
using AksAuditd.Core.Host;
using AksAuditd.Core.Sync;
using AksAuditd.Core.Tests.Host;
using k8s;
using Xunit;

namespace AksAuditd.Core.Tests.Health;

/// <summary>
/// The Node status publisher against <see cref="FakeApiServer"/>: every request it makes has the API's shape,
/// and every failure answer (409, 422, 429, 500, 401, no network) is logged and retried without touching the
/// recorder's callers.
/// </summary>
public sealed class NodeStatusPublisherTests : IDisposable
{
    private const string NodeName = "aks-nodepool1-12345678-vmss000000";
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(20);

    private readonly FakeApiServer _server;
    private readonly NodeHealthRecorder _recorder = new();
    private readonly RecordingLogSink _log = new();

    public NodeStatusPublisherTests()
    {
        // A whole AKS Node, with the kubelet's and node-problem-detector's conditions: what the API server answers.
        _server = new FakeApiServer(FakeApiServer.AksNode(
            NodeName,
            ("AuditdProblem", "False", "AuditdIsRunning", "from an earlier agent")));
    }

    public void Dispose() => _server.Dispose();

    [Fact]
    public async Task WritesTheThreeConditionsByStrategicMergeAndAnEventOnTheNode()
    {
        using var publisher = Publisher();
        Healthy();

        await Flushed(publisher);
        var requests = _server.Requests.ToList();
        Assert.Empty(_server.Violations);
        Assert.Equal(("GET", $"/api/v1/nodes/{NodeName}"), (requests[0].Method, requests[0].Path));
        var patch = requests.Last(r => r.Method == "PATCH" && r.Path.EndsWith("/status", StringComparison.Ordinal));
        Assert.Equal("application/strategic-merge-patch+json", patch.ContentType);
        Assert.Equal($"Bearer {FakeApiServer.Token}", patch.Authorization);

        var conditions = _server.Nodes[NodeName]["status"]!["conditions"]!.AsArray().ToDictionary(c => c!["type"]!.GetValue<string>(), c => c!);
        Assert.Equal("True", conditions["Ready"]!["status"]!.GetValue<string>()); // the kubelet's condition is untouched
        Assert.Equal(("False", "AuditdIsRunning"), (conditions["AuditdProblem"]!["status"]!.GetValue<string>(), conditions["AuditdProblem"]!["reason"]!.GetValue<string>()));
        Assert.Equal(("False", "RulesInSync"), (conditions["AuditRulesDrift"]!["status"]!.GetValue<string>(), conditions["AuditRulesDrift"]!["reason"]!.GetValue<string>()));
        Assert.Equal(("False", "NoEventsLost"), (conditions["AuditEventsLost"]!["status"]!.GetValue<string>(), conditions["AuditEventsLost"]!["reason"]!.GetValue<string>()));
        Assert.Matches(@"\[agent 9\.9\.9; applied \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ\]$", conditions["AuditRulesDrift"]!["message"]!.GetValue<string>());
        // An agent restart is not a transition: AuditdProblem was False before, so its time stays.
        Assert.Equal("2026-01-01T00:00:00Z", conditions["AuditdProblem"]!["lastTransitionTime"]!.GetValue<string>());

        var created = Assert.Single(_server.Events.Values);
        Assert.Equal("RulesApplied", created["reason"]!.GetValue<string>());
        Assert.Equal("Normal", created["type"]!.GetValue<string>());
        Assert.Equal(NodeName, created["regarding"]!["name"]!.GetValue<string>());
        Assert.Equal(NodeStatusPublisher.ReportingController, created["reportingController"]!.GetValue<string>());
        var create = requests.Single(r => r.Method == "POST");
        Assert.Equal("/apis/events.k8s.io/v1/namespaces/default/events", create.Path);
        Assert.Equal("application/json", create.ContentType);
    }

    [Fact]
    public async Task TheSameEventAgainIsOneMoreInItsSeriesNotANewEvent()
    {
        using var publisher = Publisher();
        Healthy();
        await Flushed(publisher);
        var happening = new RestartResult { Method = "LoadRules", Succeeded = false, RolledBack = true, Message = "The kernel rejected '-w /x -p wa'; rolled back." };
        _recorder.Record(happening);
        _recorder.Record(happening);

        await Flushed(publisher);
        Assert.Empty(_server.Violations);
        var rolledBack = Assert.Single(_server.Events.Values, e => e["reason"]!.GetValue<string>() == "RolledBack");
        Assert.Equal("Warning", rolledBack["type"]!.GetValue<string>());
        Assert.Equal(2, rolledBack["series"]!["count"]!.GetValue<int>());
        var patchEvent = _server.Requests.Single(r => r.Method == "PATCH" && r.Path.Contains("/events/", StringComparison.Ordinal));
        Assert.Equal("application/merge-patch+json", patchEvent.ContentType);
    }

    [Fact]
    public async Task EventsBeyondTheBurstAreDroppedNotQueued()
    {
        using var publisher = Publisher();
        Healthy();
        for (var i = 0; i < 15; i++)
        {
            _recorder.Record(new RestartResult { Method = "LoadRules", Succeeded = false, RolledBack = true, Message = $"rejected rule {i}" });
        }

        await Flushed(publisher);
        Assert.Empty(_server.Violations);
        Assert.Equal(10, _server.Events.Count);
        Assert.Equal(6, publisher.EventsDropped); // 16 events, a burst of 10
    }

    public static TheoryData<string, int> FailureAnswers() => new()
    {
        { "get-node", 500 },
        { "get-node", 401 },
        { "patch-status", 409 },
        { "patch-status", 422 },
        { "patch-status", 429 },
        { "patch-status", 500 },
        { "patch-status", 503 },
        { "patch-status", 401 },
        { "create-event", 429 },
        { "create-event", 500 },
        { "create-event", 401 },
    };

    [Theory]
    [MemberData(nameof(FailureAnswers))]
    public async Task AFailureAnswerIsLoggedAndRetriedUntilItGoesThrough(string route, int status)
    {
        _server.FailNext(route, status);
        using var publisher = Publisher();
        Healthy();

        await Flushed(publisher);
        Assert.Empty(_server.Violations);
        Assert.Equal(1, publisher.Failures);
        Assert.Contains(_log.Lines, l => l.Message.StartsWith("Cannot write the node's audit status", StringComparison.Ordinal)
            && l.Fields.Any(f => f.Name == "status" && (string?)f.Value == status.ToString(System.Globalization.CultureInfo.InvariantCulture)));
        Assert.Equal("False", NodeCondition("AuditRulesDrift")["status"]!.GetValue<string>());
        Assert.Single(_server.Events.Values, e => e["reason"]!.GetValue<string>() == "RulesApplied");
    }

    [Fact]
    public async Task AConflictOnCreateMeansTheEventIsThereAndAnInvalidEventIsDroppedNotRetried()
    {
        using var publisher = Publisher();
        Healthy();
        await Flushed(publisher);

        _server.FailNext("create-event", 409);
        _recorder.Record(new RestartResult { Method = "LoadRules", Succeeded = false, RolledBack = true, Message = "first" });
        await Flushed(publisher);
        _server.FailNext("create-event", 422);
        _recorder.Record(new RestartResult { Method = "LoadRules", Succeeded = false, RolledBack = true, Message = "second" });
        await Flushed(publisher);

        Assert.Equal(0, publisher.Failures);
        Assert.Equal(3, _server.Requests.Count(r => r.Method == "POST"));
        Assert.Contains(_log.Lines, l => l.Message.StartsWith("The Kubernetes API refused an event", StringComparison.Ordinal));
    }

    [Fact]
    public async Task AnExpiredEventStartsANewOne()
    {
        using var publisher = Publisher();
        Healthy();
        await Flushed(publisher);
        var happening = new RestartResult { Method = "LoadRules", Succeeded = false, RolledBack = true, Message = "again" };
        _recorder.Record(happening);
        await Flushed(publisher);

        _server.FailNext("patch-event", 404);
        _recorder.Record(happening);
        await Flushed(publisher);

        Assert.Empty(_server.Violations);
        Assert.Equal(2, _server.Events.Values.Count(e => e["reason"]!.GetValue<string>() == "RolledBack"));
    }

    [Fact]
    public async Task WithNoNetworkTheRecorderStaysFastAndThePublisherKeepsRetrying()
    {
        var closed = FakeApiServer.FreePort();
        var client = ApiObjectJson.Client(new KubernetesClientConfiguration { Host = $"http://127.0.0.1:{closed}", AccessToken = FakeApiServer.Token });
        using var publisher = new NodeStatusPublisher(client, NodeName, "9.9.9", _recorder, _log) { MinBackoff = TimeSpan.FromMilliseconds(20) };

        var recording = Task.Run(() =>
        {
            for (var i = 0; i < 1000; i++)
            {
                Healthy();
            }
        });
        Assert.True(recording.Wait(Patience), "recording must never wait for the API");

        await Until(() => publisher.Failures >= 3);

        Assert.True(publisher.Failures >= 3);
        Assert.Contains(_log.Lines, l => l.Fields.Any(f => f.Name == "status" && (string?)f.Value == "unreachable"));
    }

    [Fact]
    public async Task OverTlsTheAgentTrustsTheApiServerThroughItsKubeconfigsAuthority()
    {
        // An API server is HTTPS with a certificate of the cluster's own authority, which the agent is given (the
        // pod's ca.crt, a kubeconfig's certificate-authority-data) and nothing else: the system store cannot vouch for it.
        using var tls = new TlsFront(_server.Port);
        using var kubeconfig = new TemporaryKubeconfig(tls.Url, tls.CertificateAuthorityPem);
        var client = ApiObjectJson.Client(AgentKubeconfig.FromFile(kubeconfig.Path));
        using var publisher = new NodeStatusPublisher(client, NodeName, "9.9.9", _recorder, _log) { MinBackoff = TimeSpan.FromMilliseconds(20) };
        Healthy();

        await Flushed(publisher);
        Assert.Empty(_server.Violations);
        Assert.True(tls.Handshakes >= 1);
        Assert.All(_server.Requests, r => Assert.Equal($"Bearer {FakeApiServer.Token}", r.Authorization));
        Assert.Equal("False", NodeCondition("AuditRulesDrift")["status"]!.GetValue<string>());
        Assert.Single(_server.Events.Values, e => e["reason"]!.GetValue<string>() == "RulesApplied");
    }

    [Fact]
    public async Task AnApiServerCertificateFromAnotherAuthorityIsRefusedAndTheLogSaysSo()
    {
        // The wrong ca.crt (a cluster's CA rotated, a kubeconfig of another cluster): nothing is sent, and the log
        // names the certificate rather than calling the API server unreachable.
        using var tls = new TlsFront(_server.Port);
        using var other = new TlsFront(_server.Port);
        using var kubeconfig = new TemporaryKubeconfig(tls.Url, other.CertificateAuthorityPem);
        var client = ApiObjectJson.Client(AgentKubeconfig.FromFile(kubeconfig.Path));
        using var publisher = new NodeStatusPublisher(client, NodeName, "9.9.9", _recorder, _log) { MinBackoff = TimeSpan.FromMilliseconds(20) };
        Healthy();

        await Until(() => publisher.Failures >= 2);

        Assert.True(publisher.Failures >= 2);
        // .NET checks the certificate once the handshake is done, and closes the connection before a request.
        Assert.True(tls.Handshakes >= 1);
        Assert.Empty(_server.Requests);
        var warning = _log.Lines.First(l => l.Message.StartsWith("Cannot write the node's audit status", StringComparison.Ordinal));
        Assert.Equal("untrusted-server-certificate", (string?)warning.Fields.Single(f => f.Name == "status").Value);
        Assert.Contains("certificate", (string?)warning.Fields.Single(f => f.Name == "reason").Value, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public async Task AnApiServerThatNeverAnswersDoesNotHoldTheRecorder()
    {
        using var silent = new TcpListener(IPAddress.Loopback, 0);
        silent.Start();
        var client = ApiObjectJson.Client(new KubernetesClientConfiguration { Host = $"http://127.0.0.1:{((IPEndPoint)silent.LocalEndpoint).Port}", AccessToken = FakeApiServer.Token });
        using var publisher = new NodeStatusPublisher(client, NodeName, "9.9.9", _recorder, _log);

        var recording = Task.Run(() =>
        {
            for (var i = 0; i < 1000; i++)
            {
                Healthy();
            }
        });

        Assert.True(await Task.WhenAny(recording, Task.Delay(Patience)) == recording, "recording must never wait for the API");
    }

    [Fact]
    public async Task PassesThatChangeNothingWriteNothingUntilTheResyncIsDue()
    {
        var now = DateTimeOffset.UtcNow;
        using var publisher = Publisher(() => now);
        Healthy();
        await Flushed(publisher);
        Assert.Equal(1, StatusPatches());

        // An idle loop reports a pass every poll: the Node's conditions are not written again for them.
        for (var i = 0; i < 5; i++)
        {
            UnchangedPass();
        }

        await Flushed(publisher);
        Assert.Equal(1, StatusPatches());

        // Once the resync interval is over, the next pass writes them again (lastHeartbeatTime shows the agent alive).
        now += NodeStatusPublisher.ResyncInterval + TimeSpan.FromSeconds(1);
        UnchangedPass();
        await Until(() => StatusPatches() >= 2);

        Assert.Equal(2, StatusPatches());
        Assert.Empty(_server.Violations);
    }

    [Fact]
    public async Task ARestartedAgentWritesNoConditionsUntilItHasReadTheKernel()
    {
        // A restarted agent's first pass syncs files before it reads the kernel: writing then would turn the Node's
        // AuditdProblem from False to Unknown and back, two transitions that did not happen.
        var now = DateTimeOffset.UtcNow;
        using var publisher = Publisher(() => now);

        UnchangedPass();
        await Flushed(publisher);
        Assert.Equal(0, StatusPatches());

        // Restart-Auditd reads the kernel's state before it compares the rules: nothing yet, or AuditRulesDrift
        // would be written Unknown in between.
        _recorder.Record(new AuditdStatus { EnabledFlag = 1, Pid = 812, PidHolder = "auditd", Lost = 0, Backlog = 0, BacklogLimit = 8192, LoadedRuleCount = 5 });
        await Flushed(publisher);
        Assert.Equal(0, StatusPatches());

        _recorder.Record(new RestartResult { Method = "None", Succeeded = true, LoadedRuleCount = 5, Message = "Nothing to apply" });
        await Flushed(publisher);
        Assert.Equal(1, StatusPatches());
        var problem = NodeCondition("AuditdProblem");
        Assert.Equal(("False", "2026-01-01T00:00:00Z"), (problem["status"]!.GetValue<string>(), problem["lastTransitionTime"]!.GetValue<string>()));
        Assert.Equal("False", NodeCondition("AuditRulesDrift")["status"]!.GetValue<string>());
    }

    [Fact]
    public async Task AnAgentThatCannotReadTheKernelWritesUnknownOnceTheGraceIsOver()
    {
        var now = DateTimeOffset.UtcNow;
        using var publisher = Publisher(() => now);
        UnchangedPass();
        await Flushed(publisher);
        Assert.DoesNotContain(_server.Requests, r => r.Method == "PATCH");

        now += NodeStatusPublisher.FirstReadingGrace;
        UnchangedPass();
        await Flushed(publisher);
        var problem = NodeCondition("AuditdProblem");
        Assert.Equal(("Unknown", "AuditdNotChecked"), (problem["status"]!.GetValue<string>(), problem["reason"]!.GetValue<string>()));
    }

    /// <summary>A kubeconfig file as a cluster hands it out: an https server, its authority inline, a bearer token.</summary>
    private sealed class TemporaryKubeconfig : IDisposable
    {
        private readonly DirectoryInfo _folder = Directory.CreateTempSubdirectory("aks-auditd-tls-kubeconfig-");

        public TemporaryKubeconfig(string server, string authorityPem)
        {
            Path = System.IO.Path.Combine(_folder.FullName, "config");
            File.WriteAllText(Path, KubeconfigText.For(server, FakeApiServer.Token, authorityPem));
        }

        public string Path { get; }

        public void Dispose() => _folder.Delete(recursive: true);
    }

    /// <summary>A pass that found the node's files as the source has them.</summary>
    private void UnchangedPass() => Pass(rulesChanged: false);

    private void Pass(bool rulesChanged)
    {
        foreach (var kind in new[] { SyncKind.Rules, SyncKind.Plugins })
        {
            _recorder.Record(new SyncResult { Kind = kind, SourcePath = "/auditd-rules", TargetPath = "/node/etc/audit/rules.d", Mode = SyncMode.Managed, Changed = rulesChanged && kind == SyncKind.Rules, SourceFileCount = 3, DesiredRuleCount = kind == SyncKind.Rules ? 5 : null });
        }
    }

    private async Task Flushed(NodeStatusPublisher publisher)
    {
        if (!await publisher.FlushAsync(Patience))
        {
            Assert.Fail("Not flushed. Requests: " + string.Join("; ", _server.Requests.Select(r => $"{r.Method} {r.Path} {r.ContentType}")) +
                " Violations: " + string.Join("; ", _server.Violations) + " Log: " + string.Join("; ", _log.Lines.Select(l => $"{l.Message} {string.Join(",", l.Fields.Select(f => $"{f.Name}={f.Value}"))}")));
        }
    }

    private NodeStatusPublisher Publisher(Func<DateTimeOffset>? clock = null)
    {
        var client = ApiObjectJson.Client(new KubernetesClientConfiguration { Host = _server.Url, AccessToken = FakeApiServer.Token });
        return new NodeStatusPublisher(client, NodeName, "9.9.9", _recorder, _log, clock) { MinBackoff = TimeSpan.FromMilliseconds(20) };
    }

    /// <summary>One condition of the Node as the API stand-in holds it.</summary>
    private System.Text.Json.Nodes.JsonNode NodeCondition(string type) =>
        _server.Nodes[NodeName]["status"]!["conditions"]!.AsArray().Single(c => c!["type"]!.GetValue<string>() == type)!;

    /// <summary>Waits, at most <see cref="Patience"/>, for work the publisher does on its own thread; the caller asserts.</summary>
    private static async Task Until(Func<bool> done)
    {
        var deadline = DateTime.UtcNow + Patience;
        while (!done() && DateTime.UtcNow < deadline)
        {
            await Task.Delay(20);
        }
    }

    private int StatusPatches() => _server.Requests.Count(r => r.Method == "PATCH" && r.Path.EndsWith("/status", StringComparison.Ordinal));

    /// <summary>A pass that changed rules, loaded and verified them, and a kernel reading with auditd running.</summary>
    private void Healthy()
    {
        Pass(rulesChanged: true);
        _recorder.Record(new AuditdStatus { EnabledFlag = 1, Pid = 812, PidHolder = "auditd", Lost = 0, Backlog = 0, BacklogLimit = 8192, LoadedRuleCount = 5 });
        _recorder.Record(new RestartResult { Method = "LoadRules", Succeeded = true, LoadedRuleCount = 5, Message = "loaded" });
    }
}
