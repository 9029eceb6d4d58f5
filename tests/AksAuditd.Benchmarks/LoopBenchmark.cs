using System.Diagnostics;
using System.Globalization;

namespace AksAuditd.Benchmarks;

/// <summary>
/// The DaemonSet's steady state: the entrypoint loop from the image layout at a 1 s poll over a ConfigMap of 100
/// rule files, next to a bare pwsh that only sleeps 1 s and touches a file, both measured in the same run.
/// The layout is the image's, compiled ahead of time as its build stage compiles it (ReadyToRun), and both
/// processes run its pwsh. Both run with the agent's runtime settings (the Dockerfile's ENV and the settings its
/// ENTRYPOINT gives the agent's process) and again with the
/// runtime's and glibc's defaults, so the effect of the settings is measured too. Reports steady-state RSS and
/// CPU per idle poll and how much the loop adds (target: at most 20 MB and 5 ms). AKSAUDITD_BENCH_LOOP_SECONDS sets
/// the duration (default 300, at least 90).
/// </summary>
public sealed class LoopBenchmark : IBenchmark
{
    private const int RuleFiles = 100;

    public string Name => "loop";

    private const string WithoutFleet = "loop (image settings, metrics and node status off)";

    public void Run(BenchmarkContext context)
    {
        var seconds = int.TryParse(Environment.GetEnvironmentVariable("AKSAUDITD_BENCH_LOOP_SECONDS"), out var s) && s >= 90 ? s : 300;
        // Steady state: after the first syncs and the JIT's tiering (which runs on a background thread for the
        // first minute or so of a 1 s loop) have settled.
        var warmUp = Math.Max(60, seconds / 4);
        var work = Directory.CreateTempSubdirectory("aks-auditd-bench-loop-");
        var processes = new List<Measured>();
        // With metrics and node status on, as the fleet-status component runs it: an API stand-in on loopback
        // takes the status patches and events over HTTPS (an API server's certificate, trusted through the
        // kubeconfig's authority, so the agent loads OpenSSL as it does on a cluster), and /metrics is scraped every
        // 30 s as Prometheus would.
        using var api = new ApiStandIn(File.ReadAllText(Path.Combine(context.RepositoryRoot, "tests", "fixtures", "kubernetes", "aks-node.json")));
        using var tls = new AksAuditd.Tests.Shared.TlsFront(new Uri(api.Url).Port);
        var kubeconfig = Path.Combine(work.FullName, "kubeconfig");
        File.WriteAllText(kubeconfig, AksAuditd.Tests.Shared.KubeconfigText.For(tls.Url, "bench", tls.CertificateAuthorityPem));
        var metricsPorts = new Dictionary<string, int>();
        using var scraper = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
        try
        {
            var psHome = Capture(context.RepositoryRoot, "dotnet", "pwsh", "-NoProfile", "-NonInteractive", "-Command", "$PSHOME").Trim();
            var pwsh = Path.Combine(psHome, "pwsh");
            var layout = Path.Combine(work.FullName, "layout");
            var setup = Path.Combine(work.FullName, "setup.ps1");
            File.WriteAllText(setup, SetupScript);
            Capture(context.RepositoryRoot, pwsh, "-NoProfile", "-NonInteractive", "-File", setup,
                "-RepositoryRoot", context.RepositoryRoot, "-ModulePath", context.ModulePath, "-Work", work.FullName, "-Count", RuleFiles.ToString(CultureInfo.InvariantCulture));

            // The agent's settings (ENV and its ENTRYPOINT's own), for the bare pwsh too: both processes run alike.
            var imageSettings = AgentEnvironment(Path.Combine(context.RepositoryRoot, "image", "Dockerfile"));
            var launcher = Path.Combine(layout, "usr", "local", "bin", "pwsh");
            var entrypoint = Path.Combine(layout, "app", "entrypoint.ps1");
            foreach (var (variant, settings) in new[] { ("image settings", imageSettings), ("runtime defaults", OnlyNonRuntime(imageSettings)) })
            {
                var tag = variant == "image settings" ? "image" : "defaults";
                var idle = Path.Combine(work.FullName, $"idle-{tag}.ps1");
                File.WriteAllText(idle, $"while ($true) {{ [System.IO.File]::WriteAllText('{Path.Combine(work.FullName, $"idle-{tag}.heartbeat")}', ''); Start-Sleep -Milliseconds 1000 }}\n");
                processes.Add(Measured.Start($"bare pwsh ({variant})", work.FullName, settings, new Dictionary<string, string>(), launcher, "-NoLogo", "-NoProfile", "-NonInteractive", "-File", idle));
                metricsPorts[tag] = ApiStandIn.FreePort();
                var loopEnvironment = LoopEnvironment(work.FullName, layout, tag);
                loopEnvironment["AA_METRICS_ADDRESS"] = $"127.0.0.1:{metricsPorts[tag]}";
                loopEnvironment["AA_NODE_STATUS"] = "true";
                loopEnvironment["NODE_NAME"] = $"bench-{tag}";
                loopEnvironment["KUBECONFIG"] = kubeconfig;
                processes.Add(Measured.Start($"loop ({variant})", work.FullName, settings, loopEnvironment, launcher, "-NoLogo", "-NoProfile", "-NonInteractive", "-File", entrypoint, "-NoRestart"));
            }

            // The same loop with metrics and node status off, as the base manifest runs without the component: the
            // difference is what the fleet view costs.
            var withoutFleet = LoopEnvironment(work.FullName, layout, "nofleet");
            withoutFleet["AA_METRICS_ADDRESS"] = "off";
            withoutFleet["AA_NODE_STATUS"] = "false";
            processes.Add(Measured.Start(WithoutFleet, work.FullName, imageSettings, withoutFleet, launcher, "-NoLogo", "-NoProfile", "-NonInteractive", "-File", entrypoint, "-NoRestart"));

            context.Report($"loop: {RuleFiles} rule files, 1 s poll, {seconds} s ({warmUp} s warm-up), the image layout compiled ReadyToRun, pwsh {psHome}");
            var clock = Stopwatch.StartNew();
            while (clock.Elapsed < TimeSpan.FromSeconds(seconds))
            {
                Thread.Sleep(1000);
                var steady = clock.Elapsed >= TimeSpan.FromSeconds(warmUp);
                foreach (var process in processes)
                {
                    process.Sample(steady);
                }

                if ((int)clock.Elapsed.TotalSeconds % 30 == 0)
                {
                    foreach (var port in metricsPorts.Values)
                    {
                        try
                        {
                            scraper.GetStringAsync($"http://127.0.0.1:{port}/metrics").GetAwaiter().GetResult();
                        }
                        catch (HttpRequestException)
                        {
                            // Not up yet in the warm-up; a loop that never serves shows in the checks below.
                        }
                    }
                }
            }

            foreach (var process in processes)
            {
                context.Report(process.Summary());
                if (process.ErrorLines > 0)
                {
                    var first = File.ReadLines(process.Log).Where(l => l.Contains("\"level\":\"error\"", StringComparison.Ordinal)).Take(3);
                    throw new InvalidOperationException($"{process.Name} logged {process.ErrorLines} errors, so this measured its failure path, not an idle loop:\n{string.Join('\n', first)}");
                }
            }

            foreach (var port in metricsPorts.Values)
            {
                var text = scraper.GetStringAsync($"http://127.0.0.1:{port}/metrics").GetAwaiter().GetResult();
                if (!text.Contains("aksauditd_source_files{kind=\"rules\"} 100", StringComparison.Ordinal))
                {
                    throw new InvalidOperationException($"The loop on port {port} did not serve its figures:\n{text}");
                }
            }

            context.Report($"node status: {api.StatusPatches} status patches and {api.EventsCreated} events taken by the API stand-in");
            if (api.StatusPatches == 0)
            {
                throw new InvalidOperationException("No loop wrote its Node status: node status publishing was not on");
            }

            foreach (var variant in new[] { "image settings", "runtime defaults" })
            {
                var bare = processes.Single(p => p.Name == $"bare pwsh ({variant})");
                var loop = processes.Single(p => p.Name == $"loop ({variant})");
                var rss = loop.MedianRssMb - bare.MedianRssMb;
                var cpu = loop.CpuMsPerSecond - bare.CpuMsPerSecond;
                context.Report(string.Create(CultureInfo.InvariantCulture,
                    $"loop adds ({variant}): {rss:+0.0;-0.0} MB RSS (x{loop.MedianRssMb / bare.MedianRssMb:0.00} of bare pwsh), {cpu:+0.00;-0.00} ms CPU per idle poll (x{loop.CpuMsPerSecond / Math.Max(0.01, bare.CpuMsPerSecond):0.0}); target <= 20 MB and <= 5 ms: {(rss <= 20 && cpu <= 5 ? "met" : "NOT met")}"));
            }

            var fleetOn = processes.Single(p => p.Name == "loop (image settings)");
            var fleetOff = processes.Single(p => p.Name == WithoutFleet);
            context.Report(string.Create(CultureInfo.InvariantCulture,
                $"metrics and node status cost (image settings): {fleetOn.MedianRssMb - fleetOff.MedianRssMb:+0.0;-0.0} MB RSS, {fleetOn.CpuMsPerSecond - fleetOff.CpuMsPerSecond:+0.00;-0.00} ms CPU per idle poll, start-up CPU x{fleetOn.StartupCpuMs / Math.Max(1, fleetOff.StartupCpuMs):0.00}"));

            var withSettings = processes.Single(p => p.Name == "loop (image settings)");
            var withDefaults = processes.Single(p => p.Name == "loop (runtime defaults)");
            context.Report(string.Create(CultureInfo.InvariantCulture,
                $"image settings vs runtime defaults (loop): RSS x{withSettings.MedianRssMb / withDefaults.MedianRssMb:0.00}, CPU per poll x{withSettings.CpuMsPerSecond / Math.Max(0.01, withDefaults.CpuMsPerSecond):0.00}, startup CPU x{withSettings.StartupCpuMs / Math.Max(1, withDefaults.StartupCpuMs):0.00}"));
        }
        finally
        {
            foreach (var process in processes)
            {
                process.Dispose();
            }

            work.Delete(recursive: true);
        }
    }

    /// <summary>The sandbox: the image layout (compiled as the image is), a node with /etc/audit, and kubelet-style ConfigMap volumes.</summary>
    private const string SetupScript = """
        param([string] $RepositoryRoot, [string] $ModulePath, [string] $Work, [int] $Count)
        $ErrorActionPreference = 'Stop'
        $null = & (Join-Path $RepositoryRoot 'image/New-ImageLayout.ps1') -ModulePath $ModulePath -Destination (Join-Path $Work 'layout') -ReadyToRun
        . (Join-Path $RepositoryRoot 'image/Sandbox.ps1')
        $baseline = @((Read-ConfigMapData (Join-Path $RepositoryRoot 'kubernetes/auditd-rules.yaml')).Values -split "`n" | Where-Object { $_ -match '^-[aw] ' })
        foreach ($tag in 'image', 'defaults', 'nofleet') {
            # A node with the folders the rules watch (the sync checks them), and the kubelet's volumes.
            $sandbox = New-SandboxNode
            $rules = [ordered]@{}
            for ($i = 1; $i -le $Count; $i++) {
                # Five real rules per file, taken round the default ConfigMap, with a key of their own.
                $lines = 0..4 | ForEach-Object { ($baseline[(($i * 5) + $_) % $baseline.Count] -replace '\s*-k \S+$', '') + " -k bench$i" }
                $rules[('{0:000}-bench.rules' -f $i)] = ($lines -join "`n") + "`n"
            }
            Write-ConfigMapVolume $sandbox.RulesVolume $rules
            Move-Item -LiteralPath $sandbox.Node -Destination (Join-Path $Work "node-$tag")
            Move-Item -LiteralPath $sandbox.RulesVolume -Destination (Join-Path $Work "rules-$tag")
            Move-Item -LiteralPath $sandbox.PluginsVolume -Destination (Join-Path $Work "plugins-$tag")
            Remove-Item -LiteralPath $sandbox.Root -Recurse -Force
        }
        """;

    private static Dictionary<string, string> LoopEnvironment(string work, string layout, string tag) => new()
    {
        ["PSModulePath"] = Path.Combine(layout, "usr", "local", "share", "powershell", "Modules"),
        ["AA_CONFIG_FILE"] = Path.Combine(layout, "etc", "aks-auditd", "config.yaml"),
        ["AA_HOST_ROOT"] = Path.Combine(work, $"node-{tag}"),
        ["AA_RULES_SOURCE"] = Path.Combine(work, $"rules-{tag}"),
        ["AA_PLUGINS_SOURCE"] = Path.Combine(work, $"plugins-{tag}"),
        ["AA_HEARTBEAT_FILE"] = Path.Combine(work, $"heartbeat-{tag}"),
        ["AA_POLL_INTERVAL"] = "1s",
    };

    /// <summary>The ENV of the Dockerfile's final stage: what every process in the image gets, a person's pwsh too.</summary>
    internal static Dictionary<string, string> DockerfileEnvironment(string dockerfile)
    {
        var environment = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var line in FinalStage(dockerfile).Where(l => l.StartsWith("ENV ", StringComparison.Ordinal)))
        {
            foreach (var pair in line[4..].Split(' ', StringSplitOptions.RemoveEmptyEntries))
            {
                var equals = pair.IndexOf('=', StringComparison.Ordinal);
                environment[pair[..equals]] = pair[(equals + 1)..];
            }
        }

        return environment;
    }

    /// <summary>
    /// What the agent's process gets: the ENV, and the settings its ENTRYPOINT gives through
    /// <c>/usr/bin/env NAME=value ...</c> to that process only.
    /// </summary>
    internal static Dictionary<string, string> AgentEnvironment(string dockerfile)
    {
        var environment = DockerfileEnvironment(dockerfile);
        var entrypoint = FinalStage(dockerfile).Single(l => l.StartsWith("ENTRYPOINT ", StringComparison.Ordinal));
        var words = System.Text.Json.JsonSerializer.Deserialize<string[]>(entrypoint["ENTRYPOINT ".Length..])!;
        if (words[0] == "/usr/bin/env")
        {
            foreach (var word in words.Skip(1).TakeWhile(w => w.Contains('=', StringComparison.Ordinal) && !w.StartsWith('/')))
            {
                var equals = word.IndexOf('=', StringComparison.Ordinal);
                environment[word[..equals]] = word[(equals + 1)..];
            }
        }

        return environment;
    }

    private static IEnumerable<string> FinalStage(string dockerfile)
    {
        var lines = File.ReadAllText(dockerfile).Replace("\\\n", " ", StringComparison.Ordinal).Split('\n');
        return lines.Skip(Array.FindLastIndex(lines, l => l.StartsWith("FROM ", StringComparison.Ordinal)));
    }

    private static Dictionary<string, string> OnlyNonRuntime(Dictionary<string, string> settings) =>
        settings.Where(p => !IsRuntimeSetting(p.Key)).ToDictionary(p => p.Key, p => p.Value);

    /// <summary>The settings of the .NET runtime and of glibc's allocator, which the "runtime defaults" variant leaves out.</summary>
    private static bool IsRuntimeSetting(string name) =>
        (name.StartsWith("DOTNET_", StringComparison.Ordinal) && name != "DOTNET_NOLOGO") || name.StartsWith("MALLOC_", StringComparison.Ordinal);

    private static string Capture(string directory, string program, params string[] arguments)
    {
        var start = new ProcessStartInfo(program) { WorkingDirectory = directory, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        process.WaitForExit();
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"{program} {string.Join(' ', arguments)} failed ({process.ExitCode}): {error.Result}");
        }

        return output.Result;
    }

    /// <summary>One process and its samples: RSS each second, CPU time at the start and end of the steady window.</summary>
    private sealed class Measured : IDisposable
    {
        private static readonly double TicksPerSecond = double.Parse(Capture("/", "getconf", "CLK_TCK").Trim(), CultureInfo.InvariantCulture);

        private readonly Process _process;
        private readonly List<double> _rss = new();
        private readonly Stopwatch _steadyClock = new();
        private double? _steadyStartCpuMs;
        private double _lastCpuMs;

        private Measured(string name, Process process, string log)
        {
            Name = name;
            _process = process;
            Log = log;
        }

        public string Name { get; }

        /// <summary>What the process wrote (the loop's JSON lines).</summary>
        public string Log { get; }

        /// <summary>Lines at level error or fatal: a loop that fails every poll measures its failure path, not its idle one.</summary>
        public int ErrorLines => File.Exists(Log) ? File.ReadLines(Log).Count(l => l.Contains("\"level\":\"error\"", StringComparison.Ordinal) || l.Contains("\"level\":\"fatal\"", StringComparison.Ordinal)) : 0;

        public double MedianRssMb => _rss.Count == 0 ? double.NaN : _rss.Order().ElementAt(_rss.Count / 2);

        /// <summary>CPU per second of the steady window, which at a 1 s poll is CPU per idle poll.</summary>
        public double CpuMsPerSecond => _steadyStartCpuMs is { } start && _steadyClock.Elapsed.TotalSeconds > 0
            ? (_lastCpuMs - start) / _steadyClock.Elapsed.TotalSeconds
            : double.NaN;

        /// <summary>CPU spent before the steady window: start-up, JIT, the first syncs.</summary>
        public double StartupCpuMs => _steadyStartCpuMs ?? double.NaN;

        public static Measured Start(string name, string directory, IReadOnlyDictionary<string, string> settings, IReadOnlyDictionary<string, string> environment, string program, params string[] arguments)
        {
            var start = new ProcessStartInfo("/bin/sh") { WorkingDirectory = directory };
            start.ArgumentList.Add("-c");
            // exec: the measured process is pwsh itself; its stdout (JSON lines) goes to a file the benchmark checks.
            start.ArgumentList.Add("exec \"$@\" >\"$AKS_AUDITD_BENCH_LOG\" 2>&1");
            start.ArgumentList.Add("measured");
            start.ArgumentList.Add(program);
            foreach (var argument in arguments)
            {
                start.ArgumentList.Add(argument);
            }

            foreach (var name2 in start.Environment.Keys.Where(k => k.StartsWith("AA_", StringComparison.Ordinal) || k.StartsWith("DOTNET_", StringComparison.Ordinal) || k.StartsWith("MALLOC_", StringComparison.Ordinal) || k == "PSModulePath").ToList())
            {
                start.Environment.Remove(name2);
            }

            foreach (var (key, value) in settings.Concat(environment))
            {
                start.Environment[key] = value;
            }

            var log = Path.Combine(directory, $"{name.Replace(' ', '-').Replace("(", string.Empty).Replace(")", string.Empty)}.log");
            start.Environment["AKS_AUDITD_BENCH_LOG"] = log;
            return new Measured(name, Process.Start(start)!, log);
        }

        public void Sample(bool steady)
        {
            if (_process.HasExited)
            {
                throw new InvalidOperationException($"{Name} exited with {_process.ExitCode} during the benchmark");
            }

            var cpu = CpuMs();
            if (!steady)
            {
                return;
            }

            if (_steadyStartCpuMs is null)
            {
                _steadyStartCpuMs = cpu;
                _steadyClock.Start();
            }

            _lastCpuMs = cpu;
            _rss.Add(RssMb());
        }

        public string Summary() => string.Create(CultureInfo.InvariantCulture,
            $"  {Name,-28} RSS median {MedianRssMb,6:0.0} MB (max {(_rss.Count == 0 ? double.NaN : _rss.Max()),6:0.0}), CPU {CpuMsPerSecond,6:0.00} ms per idle poll, start-up CPU {StartupCpuMs,6:0} ms");

        public void Dispose()
        {
            if (!_process.HasExited)
            {
                using var kill = Process.Start("kill", new[] { "-TERM", _process.Id.ToString(CultureInfo.InvariantCulture) });
                kill.WaitForExit();
                if (!_process.WaitForExit(5000))
                {
                    _process.Kill();
                }
            }

            _process.Dispose();
        }

        private double RssMb()
        {
            foreach (var line in File.ReadLines($"/proc/{_process.Id}/status"))
            {
                if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
                {
                    return double.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture) / 1024;
                }
            }

            return double.NaN;
        }

        private double CpuMs()
        {
            // Fields 14 and 15 of /proc/PID/stat (utime, stime), counted after the ")" that ends the command name.
            var stat = File.ReadAllText($"/proc/{_process.Id}/stat");
            var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
            return (double.Parse(fields[11], CultureInfo.InvariantCulture) + double.Parse(fields[12], CultureInfo.InvariantCulture)) * 1000 / TicksPerSecond;
        }
    }
}

/// <summary>
/// Answers the agent's API calls as an API server would when all goes well: the whole Node for a read and for a
/// status patch (an AKS node's shape, tests/fixtures/kubernetes/aks-node.json, renamed), 201 with the body back for an event.
/// </summary>
internal sealed class ApiStandIn : IDisposable
{
    private readonly System.Net.HttpListener _listener = new();
    private readonly string _node;
    private int _patches;
    private int _events;

    public ApiStandIn(string node)
    {
        _node = node;
        Url = $"http://127.0.0.1:{FreePort()}";
        _listener.Prefixes.Add(Url + "/");
        _listener.Start();
        _ = Task.Run(ServeAsync);
    }

    public string Url { get; }

    public int StatusPatches => Volatile.Read(ref _patches);

    public int EventsCreated => Volatile.Read(ref _events);

    public static int FreePort()
    {
        var probe = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        probe.Start();
        var port = ((System.Net.IPEndPoint)probe.LocalEndpoint).Port;
        probe.Stop();
        return port;
    }

    public void Dispose() => _listener.Close();

    private async Task ServeAsync()
    {
        while (_listener.IsListening)
        {
            System.Net.HttpListenerContext context;
            try
            {
                context = await _listener.GetContextAsync();
            }
            catch (Exception e) when (e is System.Net.HttpListenerException or ObjectDisposedException or InvalidOperationException)
            {
                return;
            }

            var path = context.Request.Url!.AbsolutePath;
            string body;
            using (var reader = new StreamReader(context.Request.InputStream))
            {
                body = reader.ReadToEnd();
            }

            if (context.Request.HttpMethod == "GET" || path.EndsWith("/status", StringComparison.Ordinal))
            {
                if (context.Request.HttpMethod != "GET")
                {
                    Interlocked.Increment(ref _patches);
                }

                var node = System.Text.Json.Nodes.JsonNode.Parse(_node)!;
                node["metadata"]!["name"] = path.Split('/')[4];
                body = node.ToJsonString();
            }
            else
            {
                Interlocked.Increment(ref _events);
            }

            var bytes = System.Text.Encoding.UTF8.GetBytes(body);
            context.Response.StatusCode = context.Request.HttpMethod == "POST" ? 201 : 200;
            context.Response.ContentType = "application/json";
            context.Response.ContentLength64 = bytes.Length;
            context.Response.OutputStream.Write(bytes);
            context.Response.Close();
        }
    }
}
