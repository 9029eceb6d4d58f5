using System.Globalization;
using System.Net;
using System.Text;
using AksAuditd.Core.Logging;
using AksAuditd.Core.Sync;
using Prometheus;

namespace AksAuditd.Core.Health;

/// <summary>
/// The loop's HTTP endpoint: <c>/metrics</c> (prometheus-net renders the exposition format), <c>/healthz</c>
/// (the loop beat within five minutes) and <c>/readyz</c> (the last pass applied and verified the current
/// sources). The figures are copied from the recorder when a scrape asks for them, so a poll pays nothing for
/// metrics nobody reads. Served by the runtime's HttpListener on its own threads: a slow scraper never delays a sync.
/// </summary>
public sealed class MetricsEndpoint : IDisposable
{
    private static readonly string[] Kinds = ["rules", "plugins"];
    private static readonly string[] Outcomes = ["changed", "unchanged", "refused", "failed"];

    private readonly NodeHealthRecorder _recorder;
    private readonly ILogSink _log;
    private readonly HttpListener _listener = new();
    private readonly CollectorRegistry _registry;
    private readonly Task _serving;

    private readonly Counter _syncRuns;
    private readonly Gauge _lastSuccess;
    private readonly Gauge _sourceFiles;
    private readonly Gauge _driftFiles;
    private readonly Gauge _sourceRejected;
    private readonly Gauge _rulesDesired;
    private readonly Gauge _rulesLoaded;
    private readonly Gauge _kernelDrift;
    private readonly Gauge _auditdRunning;
    private readonly Gauge _auditEnabled;
    private readonly Counter _lost;
    private readonly Gauge _backlog;
    private readonly Gauge _backlogLimit;
    private readonly Counter _restarts;

    /// <param name="address"><c>host:port</c> as in the configuration; an empty host is every address.</param>
    /// <param name="version">The agent's version, the label of <c>aksauditd_build_info</c>.</param>
    /// <param name="recorder">What the loop recorded: the figures, /healthz and /readyz answer from its snapshot.</param>
    /// <param name="log">Where the endpoint says it serves, and the answers it failed to give.</param>
    /// <exception cref="HttpListenerException">The address cannot be bound (in use, not permitted).</exception>
    public MetricsEndpoint(string address, string version, NodeHealthRecorder recorder, ILogSink? log = null)
    {
        _recorder = recorder;
        _log = log ?? NullLogSink.Instance;
        Address = address;
        Metrics.SuppressDefaultMetrics();
        _registry = Metrics.NewCustomRegistry();
        var factory = Metrics.WithCustomRegistry(_registry);

        factory.CreateGauge("aksauditd_build_info", "The running agent's version; always 1.", "version").WithLabels(version).Set(1);
        _syncRuns = factory.CreateCounter("aksauditd_sync_runs_total", "Sync passes by kind (rules, plugins) and result (changed, unchanged, refused, failed).", "kind", "result");
        _lastSuccess = factory.CreateGauge("aksauditd_sync_last_success_timestamp_seconds", "Unix time of the last pass that was not refused and did not fail.", "kind");
        _sourceFiles = factory.CreateGauge("aksauditd_source_files", "Files in the ConfigMap source at the last pass.", "kind");
        _driftFiles = factory.CreateGauge("aksauditd_drift_files", "Node files that differ from the source after the last pass.", "kind");
        _sourceRejected = factory.CreateGauge("aksauditd_source_rejected", "1 while a source the kernel rejected is held back.", "kind");
        _rulesDesired = factory.CreateGauge("aksauditd_rules_desired", "Rules the source adds to the kernel.");
        _rulesLoaded = factory.CreateGauge("aksauditd_rules_loaded", "Rules loaded in the kernel (auditctl -l) at the last reading.");
        _kernelDrift = factory.CreateGauge("aksauditd_kernel_rule_drift", "Rules missing from the kernel plus rules loaded but not desired.");
        _auditdRunning = factory.CreateGauge("aksauditd_auditd_running", "1 when auditd holds the kernel's audit PID.");
        _auditEnabled = factory.CreateGauge("aksauditd_audit_enabled", "The kernel's audit enabled flag: 0 off, 1 on, 2 immutable.");
        _lost = factory.CreateCounter("aksauditd_kernel_lost_events_total", "The kernel's count of lost audit events (auditctl -s lost).");
        _backlog = factory.CreateGauge("aksauditd_kernel_backlog", "Audit events waiting in the kernel's backlog.");
        _backlogLimit = factory.CreateGauge("aksauditd_kernel_backlog_limit", "The kernel's audit backlog limit.");
        _restarts = factory.CreateCounter("aksauditd_restarts_total", "Restart-Auditd runs by method and result.", "method", "result");
        foreach (var kind in Kinds)
        {
            foreach (var outcome in Outcomes)
            {
                _syncRuns.WithLabels(kind, outcome);
            }
        }

        _registry.AddBeforeCollectCallback(Update);

        var prefix = Prefix(address);
        _listener.Prefixes.Add(prefix);
        _listener.IgnoreWriteExceptions = true;
        _listener.Start();
        _serving = Task.Run(ServeAsync);
        _log.Info("Serving metrics and health", new LogField("address", address), new LogField("paths", "/metrics /healthz /readyz"));
    }

    public string Address { get; }

    /// <summary>The HttpListener prefix for a Go-style listen address: <c>:9877</c> is <c>http://+:9877/</c>.</summary>
    public static string Prefix(string address)
    {
        var colon = address.LastIndexOf(':');
        var host = address[..colon].Trim('[', ']');
        var port = address[(colon + 1)..];
        return $"http://{(host.Length == 0 || host == "0.0.0.0" ? "+" : host)}:{port}/";
    }

    public void Dispose()
    {
        try
        {
            // Close alone: after Stop the managed HttpListener has already given its endpoint back, and Close would
            // look it up again and bind the port anew only to remove it (failing when something else took the port).
            _listener.Close();
        }
        catch (ObjectDisposedException)
        {
        }
        catch (HttpListenerException)
        {
            // Serving has stopped either way, and a failed unbind at shutdown is nothing a caller can act on.
        }

        try
        {
            _serving.Wait(TimeSpan.FromSeconds(2));
        }
        catch (AggregateException)
        {
        }
    }

    private void Update()
    {
        var snapshot = _recorder.Snapshot();
        foreach (var ((kind, outcome), count) in snapshot.SyncRuns)
        {
            _syncRuns.WithLabels(kind.StateName(), outcome.ToString().ToLowerInvariant()).IncTo(count);
        }

        foreach (var (kind, health) in snapshot.Kinds)
        {
            var name = kind.StateName();
            if (health.LastSuccess is { } success)
            {
                _lastSuccess.WithLabels(name).Set(success.ToUnixTimeMilliseconds() / 1000.0);
            }

            _sourceFiles.WithLabels(name).Set(health.SourceFiles);
            _driftFiles.WithLabels(name).Set(health.DriftFiles);
            _sourceRejected.WithLabels(name).Set(health.SourceRejected ? 1 : 0);
        }

        foreach (var ((method, result), count) in snapshot.Restarts)
        {
            _restarts.WithLabels(method, result).IncTo(count);
        }

        SetWhenKnown(_rulesDesired, snapshot.DesiredRules);
        SetWhenKnown(_rulesLoaded, snapshot.LoadedRules);
        SetWhenKnown(_kernelDrift, snapshot.KernelRuleDrift);
        SetWhenKnown(_auditdRunning, snapshot.AuditdRunning is { } running ? (running ? 1 : 0) : null);
        SetWhenKnown(_auditEnabled, snapshot.EnabledFlag);
        SetWhenKnown(_backlog, snapshot.Backlog);
        SetWhenKnown(_backlogLimit, snapshot.BacklogLimit);
        if (snapshot.Lost is { } lost)
        {
            // The kernel's own counter: it only falls when the kernel resets it (auditctl --reset-lost, a reboot).
            if (lost < _lost.Value)
            {
                _lost.Unpublish();
            }

            _lost.IncTo(lost);
            _lost.Publish();
        }
        else
        {
            _lost.Unpublish();
        }
    }

    /// <summary>A figure nobody has measured yet (no kernel read on a sandbox node) is absent, not a false 0.</summary>
    private static void SetWhenKnown(Gauge gauge, double? value)
    {
        if (value is { } known)
        {
            gauge.Set(known);
            gauge.Publish();
        }
        else
        {
            gauge.Unpublish();
        }
    }

    private async Task ServeAsync()
    {
        while (_listener.IsListening)
        {
            HttpListenerContext context;
            try
            {
                context = await _listener.GetContextAsync().ConfigureAwait(false);
            }
            catch (Exception e) when (e is HttpListenerException or ObjectDisposedException or InvalidOperationException)
            {
                return;
            }

            try
            {
                await HandleAsync(context).ConfigureAwait(false);
            }
            catch (Exception e) when (e is HttpListenerException or IOException or ObjectDisposedException)
            {
                // The scraper went away mid-answer: nothing to tell it.
            }
            catch (Exception e)
            {
                _log.Warn("The metrics endpoint failed to answer", new LogField("path", context.Request.Url?.AbsolutePath), new LogField("reason", e.Message));
                try
                {
                    context.Response.StatusCode = 500;
                    context.Response.Close();
                }
                catch (Exception)
                {
                }
            }
        }
    }

    private async Task HandleAsync(HttpListenerContext context)
    {
        var response = context.Response;
        var path = context.Request.Url?.AbsolutePath ?? "/";
        if (context.Request.HttpMethod is not ("GET" or "HEAD"))
        {
            await Text(response, 405, "only GET and HEAD\n").ConfigureAwait(false);
            return;
        }

        switch (path)
        {
            case "/metrics":
                response.StatusCode = 200;
                response.ContentType = PrometheusConstants.ExporterContentTypeValue.ToString();
                using (var buffer = new MemoryStream())
                {
                    await _registry.CollectAndExportAsTextAsync(buffer).ConfigureAwait(false);
                    response.ContentLength64 = buffer.Length;
                    buffer.Position = 0;
                    await buffer.CopyToAsync(response.OutputStream).ConfigureAwait(false);
                }

                response.Close();
                return;
            case "/healthz":
            {
                var snapshot = _recorder.Snapshot();
                var age = (snapshot.Time - snapshot.LastBeat).TotalSeconds.ToString("0", CultureInfo.InvariantCulture);
                await Text(response, snapshot.Alive ? 200 : 503, snapshot.Alive ? $"ok: the loop beat {age} s ago\n" : $"the loop has not beaten for {age} s\n").ConfigureAwait(false);
                return;
            }

            case "/readyz":
            {
                var reason = _recorder.Snapshot().NotReadyReason;
                await Text(response, reason is null ? 200 : 503, reason is null ? "ok: the last pass applied and verified the current sources\n" : $"not ready: {reason}\n").ConfigureAwait(false);
                return;
            }

            default:
                await Text(response, 404, "not found: /metrics, /healthz, /readyz\n").ConfigureAwait(false);
                return;
        }
    }

    private static async Task Text(HttpListenerResponse response, int status, string text)
    {
        var bytes = Encoding.UTF8.GetBytes(text);
        response.StatusCode = status;
        response.ContentType = "text/plain; charset=utf-8";
        response.ContentLength64 = bytes.Length;
        await response.OutputStream.WriteAsync(bytes).ConfigureAwait(false);
        response.Close();
    }
}
