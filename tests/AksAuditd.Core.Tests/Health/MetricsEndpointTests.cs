using AksAuditd.Tests.Shared;
using System.Diagnostics;
using System.Net;
using AksAuditd.Core.Configuration;
using AksAuditd.Core.Health;
using AksAuditd.Core.Host;
using AksAuditd.Core.Sync;
using Xunit;

namespace AksAuditd.Core.Tests.Health;

/// <summary>The recorder's figures as /metrics, /healthz and /readyz serve them; promtool checks the text.</summary>
public sealed class MetricsEndpointTests : IDisposable
{
    private static readonly HttpClient Http = new() { Timeout = TimeSpan.FromSeconds(10) };
    private readonly NodeHealthRecorder _recorder = new();
    private readonly MetricsEndpoint _endpoint;
    private readonly string _url;

    public MetricsEndpointTests()
    {
        var port = FakeApiServer.FreePort();
        _url = $"http://127.0.0.1:{port}";
        _endpoint = new MetricsEndpoint($"127.0.0.1:{port}", "1.2.3", _recorder);
    }

    public void Dispose() => _endpoint.Dispose();

    [Fact]
    public async Task EveryFigureHasItsNameAndTheValueRecorded()
    {
        _recorder.Record(Sync(SyncKind.Rules, changed: true, files: 7, desired: 45));
        _recorder.Record(Sync(SyncKind.Rules, changed: false, files: 7, desired: 45));
        _recorder.Record(Sync(SyncKind.Plugins, changed: false, files: 1));
        _recorder.RecordFailure(SyncKind.Plugins, new SyncException(SyncFailure.SourceRejectedByKernel, "/audisp-plugins", "rejected"));
        _recorder.Record(new AuditdStatus { EnabledFlag = 1, Pid = 812, PidHolder = "auditd", Lost = 17, Backlog = 3, BacklogLimit = 8192, LoadedRuleCount = 44 });
        _recorder.Record(new RestartResult { Method = "LoadRules", Succeeded = false, Drift = [new KernelRuleDrift("-w /x -p wa", KernelDriftStatus.Missing, "60.rules", 2)], LoadedRuleCount = 44, Message = "1 rule missing" });

        var text = await Http.GetStringAsync($"{_url}/metrics");

        Assert.Contains("aksauditd_build_info{version=\"1.2.3\"} 1", text, StringComparison.Ordinal);
        Assert.Contains("aksauditd_sync_runs_total{kind=\"rules\",result=\"changed\"} 1", text, StringComparison.Ordinal);
        Assert.Contains("aksauditd_sync_runs_total{kind=\"rules\",result=\"unchanged\"} 1", text, StringComparison.Ordinal);
        Assert.Contains("aksauditd_sync_runs_total{kind=\"plugins\",result=\"refused\"} 1", text, StringComparison.Ordinal);
        Assert.Contains("aksauditd_sync_runs_total{kind=\"plugins\",result=\"failed\"} 0", text, StringComparison.Ordinal);
        Assert.Matches(@"aksauditd_sync_last_success_timestamp_seconds\{kind=""rules""\} 1\d{9}", text);
        Assert.Contains("aksauditd_source_files{kind=\"rules\"} 7", text, StringComparison.Ordinal);
        Assert.Contains("aksauditd_drift_files{kind=\"rules\"} 0", text, StringComparison.Ordinal);
        Assert.Contains("aksauditd_source_rejected{kind=\"plugins\"} 1", text, StringComparison.Ordinal);
        Assert.Contains("aksauditd_source_rejected{kind=\"rules\"} 0", text, StringComparison.Ordinal);
        Assert.Contains("aksauditd_rules_desired 45", text, StringComparison.Ordinal);
        Assert.Contains("aksauditd_rules_loaded 44", text, StringComparison.Ordinal);
        Assert.Contains("aksauditd_kernel_rule_drift 1", text, StringComparison.Ordinal);
        Assert.Contains("aksauditd_auditd_running 1", text, StringComparison.Ordinal);
        Assert.Contains("aksauditd_audit_enabled 1", text, StringComparison.Ordinal);
        Assert.Contains("aksauditd_kernel_lost_events_total 17", text, StringComparison.Ordinal);
        Assert.Contains("aksauditd_kernel_backlog 3", text, StringComparison.Ordinal);
        Assert.Contains("aksauditd_kernel_backlog_limit 8192", text, StringComparison.Ordinal);
        Assert.Contains("aksauditd_restarts_total{method=\"LoadRules\",result=\"failed\"} 1", text, StringComparison.Ordinal);
        Assert.Equal(string.Empty, PromtoolCheckMetrics(text));
    }

    [Fact]
    public async Task KernelFiguresNobodyMeasuredAreAbsentNotZero()
    {
        _recorder.Record(Sync(SyncKind.Rules, changed: false, files: 2, desired: 3));

        var text = await Http.GetStringAsync($"{_url}/metrics");

        Assert.DoesNotContain("aksauditd_auditd_running 0", text, StringComparison.Ordinal);
        Assert.DoesNotContain("\naksauditd_kernel_lost_events_total ", text, StringComparison.Ordinal);
        Assert.Contains("aksauditd_rules_desired 3", text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ReadyOnlyOnceTheLastPassAppliedAndTheKernelVerifiedIt()
    {
        Assert.Equal(HttpStatusCode.OK, (await Http.GetAsync($"{_url}/healthz")).StatusCode);
        var notYet = await Http.GetAsync($"{_url}/readyz");
        Assert.Equal(HttpStatusCode.ServiceUnavailable, notYet.StatusCode);
        Assert.Contains("no rules pass yet", await notYet.Content.ReadAsStringAsync(), StringComparison.Ordinal);

        _recorder.Record(Sync(SyncKind.Rules, changed: true, files: 2, desired: 3));
        _recorder.Record(Sync(SyncKind.Plugins, changed: false, files: 1));
        var unverified = await Http.GetAsync($"{_url}/readyz");
        Assert.Equal(HttpStatusCode.ServiceUnavailable, unverified.StatusCode);

        _recorder.Record(new RestartResult { Method = "LoadRules", Succeeded = true, LoadedRuleCount = 3, Message = "loaded" });
        Assert.Equal(HttpStatusCode.OK, (await Http.GetAsync($"{_url}/readyz")).StatusCode);

        _recorder.Record(Sync(SyncKind.Rules, changed: false, files: 2, desired: 3, blocked: true));
        var refused = await Http.GetAsync($"{_url}/readyz");
        Assert.Equal(HttpStatusCode.ServiceUnavailable, refused.StatusCode);
        Assert.Contains("the last rules pass refused", await refused.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.NotFound, (await Http.GetAsync($"{_url}/other")).StatusCode);
    }

    [Fact]
    public async Task HealthzFailsWhenTheLoopStopsBeating()
    {
        var now = DateTimeOffset.UtcNow;
        var recorder = new NodeHealthRecorder(() => now);
        var port = FakeApiServer.FreePort();
        using var endpoint = new MetricsEndpoint($"127.0.0.1:{port}", "1.2.3", recorder);

        Assert.Equal(HttpStatusCode.OK, (await Http.GetAsync($"http://127.0.0.1:{port}/healthz")).StatusCode);
        now += TimeSpan.FromMinutes(6);
        Assert.Equal(HttpStatusCode.ServiceUnavailable, (await Http.GetAsync($"http://127.0.0.1:{port}/healthz")).StatusCode);
        recorder.Beat();
        Assert.Equal(HttpStatusCode.OK, (await Http.GetAsync($"http://127.0.0.1:{port}/healthz")).StatusCode);
    }

    [Fact]
    public void DisposingGivesThePortBackAtOnce()
    {
        // The reporter is disposed when the loop ends or restarts it: the next one must be able to bind the port.
        var port = FakeApiServer.FreePort();
        var endpoint = new MetricsEndpoint($"127.0.0.1:{port}", "1.2.3", new NodeHealthRecorder());
        endpoint.Dispose();

        var next = new System.Net.Sockets.TcpListener(IPAddress.Loopback, port);
        next.Start();
        next.Stop();
    }

    [Fact]
    public void ASandboxLoopIsReadyWhenTheFilesMatch()
    {
        var recorder = new NodeHealthRecorder { VerifiesKernel = false };
        recorder.Record(Sync(SyncKind.Rules, changed: true, files: 2, desired: 3));
        recorder.Record(Sync(SyncKind.Plugins, changed: false, files: 1));

        Assert.Null(recorder.Snapshot().NotReadyReason);
        Assert.All(recorder.Snapshot().Conditions(), c => Assert.Equal("Unknown", c.Status));
    }

    [Fact]
    public void ConditionsFollowNodeProblemDetectorConventions()
    {
        var now = DateTimeOffset.UtcNow;
        var recorder = new NodeHealthRecorder(() => now);
        recorder.Record(new AuditdStatus { EnabledFlag = 1, Pid = 912, PidHolder = "mdatp_audisp_pl", Lost = 5 });
        recorder.Record(new AuditdStatus { EnabledFlag = 2, Pid = 912, PidHolder = "mdatp_audisp_pl", Lost = 9 });
        recorder.RecordKernelRules(desired: 10, loaded: 8, drift: 2);

        var conditions = recorder.Snapshot().Conditions().ToDictionary(c => c.Type);
        Assert.Equal(("True", "AuditPidHeldByOther"), (conditions["AuditdProblem"].Status, conditions["AuditdProblem"].Reason));
        Assert.Equal(("True", "RebootRequired"), (conditions["AuditRulesDrift"].Status, conditions["AuditRulesDrift"].Reason));
        Assert.Equal(("True", "EventsLost"), (conditions["AuditEventsLost"].Status, conditions["AuditEventsLost"].Reason));

        now += NodeHealthRecorder.LostEventsWindow + TimeSpan.FromSeconds(1);
        Assert.Equal("False", recorder.Snapshot().Conditions().Single(c => c.Type == "AuditEventsLost").Status);
    }

    private static SyncResult Sync(SyncKind kind, bool changed, int files, int? desired = null, bool blocked = false) => new()
    {
        Kind = kind,
        SourcePath = "/src",
        TargetPath = "/dst",
        Mode = SyncMode.Managed,
        Changed = changed,
        Blocked = blocked,
        SourceFileCount = files,
        DriftFileCount = blocked ? files : 0,
        DesiredRuleCount = kind == SyncKind.Rules ? desired : null,
    };

    /// <summary>promtool check metrics (Debian's prometheus package): its complaints, empty when none.</summary>
    private static string PromtoolCheckMetrics(string text)
    {
        var start = new ProcessStartInfo("promtool", "check metrics") { RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true };
        using var process = Process.Start(start)!;
        process.StandardInput.Write(text);
        process.StandardInput.Close();
        var output = process.StandardOutput.ReadToEnd() + process.StandardError.ReadToEnd();
        process.WaitForExit();
        return process.ExitCode == 0 ? output.Trim() : $"exit {process.ExitCode}: {output}";
    }
}
