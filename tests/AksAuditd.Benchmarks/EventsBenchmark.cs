using System.Diagnostics;
using System.Globalization;
using System.Text;
using AksAuditd.Core.Events;
using AksAuditd.Core.Logging;

namespace AksAuditd.Benchmarks;

/// <summary>
/// Get-AuditEvent against <c>ausearch -i</c> where people look, on three logs of at least 100 MiB each:
/// <list type="bullet">
/// <item>the committed real log (recorded by tests/fixtures/events/record-audit-log.sh) replicated with times and
/// serials moved on;</item>
/// <item>a diverse log written by this machine's kernel and auditd from a real workload (generate-diverse-log.sh:
/// exec, file changes, network, denied opens, user records), generated once under the kernel lock and kept in
/// /var/tmp/aksauditd-bench for later runs;</item>
/// <item>the same diverse log with its time stamps spread to a node's rate (<see cref="AtNodeRate"/>).</item>
/// </list>
/// The headline lines are the printing path (a fresh pwsh printing the default view, timed from its start to its
/// exit, as a person waits for it) and the every-field path (the Core API interpreting every field of every record).
/// The lazy ratios (events counted, values not read) are secondary. A cold-start line measures a fresh pwsh's time
/// to the first line of <c>Get-AuditEvent -HostRoot ... -Tail 20</c> and its JIT share, on the staged module and on
/// the image layout compiled ReadyToRun. The benchmark fails when an event count disagrees with ausearch's.
/// </summary>
public sealed class EventsBenchmark : IBenchmark
{
    private const long ReplicatedBytes = 100L * 1024 * 1024;
    private const int DiverseMegabytes = 160;

    /// <summary>
    /// The rate the diverse log's third reading spreads its events to (see <see cref="AtNodeRate"/>): a busy node
    /// under an exec-auditing rule set, where ausearch reads as it did the real node log measured in issue #16.
    /// </summary>
    private const double NodeEventsPerSecond = 200;
    private const int Rounds = 2;
    private const int MaxPairedRounds = 7;
    private const double PairedBudgetSeconds = 20;

    public string Name => "events";

    public void Run(BenchmarkContext context)
    {
        var fixture = Path.Combine(context.RepositoryRoot, "tests", "fixtures", "events", "recorded");
        var work = Path.Combine(Path.GetTempPath(), $"aksauditd-bench-events-{Environment.ProcessId}");
        Directory.CreateDirectory(work);
        var failures = new List<string>();
        try
        {
            var psHome = Capture(context.RepositoryRoot, "dotnet", "pwsh", "-NoProfile", "-NonInteractive", "-Command", "$PSHOME").Trim();
            var pwsh = new PowerShell(Path.Combine(psHome, "pwsh"), Path.Combine(context.ModulePath, "AksAuditd.psd1"));
            context.Report($"pwsh: {pwsh.Launcher} (each printing run is a fresh process, timed from its start to its exit)");

            // What the person in the README's investigation runs: the image's pwsh and module (ReadyToRun) with the
            // image's runtime settings, as `kubectl debug node/... --image=<the image> -- pwsh` starts them.
            var image = ImageLayout(context, pwsh, work);
            ColdStart(context, image is null ? [("staged module, IL", pwsh)] : [("staged module, IL", pwsh), ("image layout, ReadyToRun, image settings", image)],
                fixture, work, failures);

            var replicated = Path.Combine(work, "audit.log");
            var replicatedBytes = Replicate(fixture, replicated);
            var diverse = DiverseLog(context);
            var logs = new[]
            {
                new BenchLog("replicated fixture", replicated, Path.Combine(fixture, "host"), replicatedBytes,
                    $"{replicatedBytes / 1048576.0:F1} MiB replicated from {fixture} (ENRICHED, node= prefix)"),
                diverse,
                AtNodeRate(diverse, Path.Combine(work, "diverse-at-node-rate.log"), NodeEventsPerSecond),
            };

            foreach (var log in logs)
            {
                MeasureLog(context, log, pwsh, image, fixture, failures);
            }
        }
        finally
        {
            Directory.Delete(work, true);
        }

        if (failures.Count > 0)
        {
            throw new BenchmarkFailedException($"events: {string.Join("; ", failures)}");
        }
    }

    private static void MeasureLog(BenchmarkContext context, BenchLog log, PowerShell pwsh, PowerShell? image, string fixture, List<string> failures)
    {
        var megabytes = log.Bytes / 1048576.0;
        context.Report(string.Empty);
        context.Report($"log ({log.Name}): {log.Description}");

        // The machine is shared: every tool runs in each round, and the best round of each counts.
        var rounds = Enumerable.Range(0, Rounds).Select(_ => new
        {
            Ausearch = MeasureAusearch(log.Path, "-i"),
            Printing = MeasurePrinting(image ?? pwsh, log),
            StagedPrinting = image is null ? null : MeasurePrinting(pwsh, log),
            PrintingText = MeasurePrinting(image ?? pwsh, log, "-AsText"),
            EveryField = MeasureCore(log, fixture, Use.EveryField),
            Lazy = MeasureCore(log, fixture, Use.Events),
            Summary = MeasureCore(log, fixture, Use.Summary),
            Cmdlet = MeasureCmdlet(context, pwsh, log, fixture),
            Floor = MeasureHostFloor(image ?? pwsh, log),
        }).ToList();
        // On a fast machine's replicated log the every-field pass takes half a second, and one round slowed by a
        // neighbour on this shared machine moved its ratio by a third: ausearch and the every-field pass go on in
        // pairs while ausearch's runs add up to under PairedBudgetSeconds, and the best of each counts. The extra
        // ausearch runs are the baseline of every ratio, so they can only lower the others.
        var ausearchRuns = rounds.Select(r => r.Ausearch).ToList();
        var everyFieldRuns = rounds.Select(r => r.EveryField).ToList();
        while (ausearchRuns.Count < MaxPairedRounds && ausearchRuns.Sum(m => m.Seconds) < PairedBudgetSeconds)
        {
            ausearchRuns.Add(MeasureAusearch(log.Path, "-i"));
            everyFieldRuns.Add(MeasureCore(log, fixture, Use.EveryField));
        }

        var ausearch = Best(ausearchRuns);
        var printing = Best(rounds.Select(r => r.Printing));
        var printingText = Best(rounds.Select(r => r.PrintingText));
        var everyField = Best(everyFieldRuns);
        var lazy = Best(rounds.Select(r => r.Lazy));
        var summary = Best(rounds.Select(r => r.Summary));
        var cmdletFirst = Best(rounds.Select(r => r.Cmdlet.First));
        var cmdlet = Best(rounds.Select(r => r.Cmdlet.Second));
        var floor = Best(rounds.Select(r => r.Floor));
        var stagedPrinting = image is null ? null : Best(rounds.Select(r => r.StagedPrinting!));
        var printingName = image is null ? "staged module, runtime defaults" : "image layout and settings";

        context.Report($"best of {Rounds} rounds; ausearch -i and the every-field pass best of {ausearchRuns.Count} paired runs");
        context.Report($"{"",-52} {"seconds",8} {"MB/s",8} {"events/s",10} {"events",8} {"RSS growth",10}");
        Report(context, "ausearch -i (to a pipe)", ausearch, megabytes);
        Report(context, $"Get-AuditEvent, default view printed ({(image is null ? "staged" : "image")})", printing, megabytes);
        if (stagedPrinting is not null)
        {
            Report(context, "Get-AuditEvent, default view printed (staged, defaults)", stagedPrinting, megabytes);
        }

        Report(context, $"Get-AuditEvent -AsText printed ({(image is null ? "staged" : "image")})", printingText, megabytes);

        Report(context, "Core API, every field interpreted", everyField, megabytes);
        Report(context, "Core API, events (lazy values)", lazy, megabytes);
        Report(context, "Core API, Key Exe User Syscall read", summary, megabytes);
        Report(context, "Get-AuditEvent | Measure-Object (first run)", cmdletFirst, megabytes);
        Report(context, "Get-AuditEvent | Measure-Object (second run)", cmdlet, megabytes);
        Report(context, "pwsh printing ausearch's own text (fresh pwsh)", floor, megabytes);

        var baseline = ausearch.Seconds;
        context.Report($"HEADLINE {log.Name}: printing the default view / ausearch -i: {baseline / printing.Seconds:F2}x (target >= 1.5x, pwsh start counted; {printingName})");
        context.Report($"HEADLINE {log.Name}: printing with -AsText (ausearch -i's text as one string per event) / ausearch -i: {baseline / printingText.Seconds:F2}x (pwsh start counted; {printingName}; RSS growth {printingText.RssGrowthMegabytes:F0} MB)");
        context.Report($"HEADLINE {log.Name}: Core API, every field interpreted / ausearch -i: {baseline / everyField.Seconds:F2}x (target >= 3x)");
        context.Report($"HEADLINE {log.Name}: RSS growth printing {megabytes:F0} MiB: {printing.RssGrowthMegabytes:F0} MB (target < 64 MB; {printingName}; ausearch -i peaked at {ausearch.RssGrowthMegabytes:F0} MB)" +
                       (stagedPrinting is null ? string.Empty : $"; the staged module with the runtime's defaults: {baseline / stagedPrinting.Seconds:F2}x, {stagedPrinting.RssGrowthMegabytes:F0} MB"));
        context.Report($"secondary {log.Name}: Core API lazy {baseline / lazy.Seconds:F2}x, reading Key/Exe/User/Syscall {baseline / summary.Seconds:F2}x, " +
                       $"cmdlet counting events {baseline / cmdlet.Seconds:F2}x (first run in a fresh pwsh {baseline / cmdletFirst.Seconds:F2}x)");
        context.Report($"FLOOR {log.Name}: a fresh pwsh printing ausearch -i's finished text, one string per event, needs " +
                       $"{floor.Seconds:F2} s = {baseline / floor.Seconds:F2}x ausearch -i (pwsh's start and its host's output, no module: " +
                       "no cmdlet's printing ratio can be higher)");

        var counts = new (string Name, long Events)[]
        {
            ("printing", printing.Events), ("printing -AsText", printingText.Events), ("staged printing", stagedPrinting?.Events ?? ausearch.Events), ("every field", everyField.Events), ("lazy", lazy.Events), ("summary", summary.Events),
            ("cmdlet first", cmdletFirst.Events), ("cmdlet second", cmdlet.Events), ("floor", floor.Events),
        };
        var wrong = counts.Where(c => c.Events != ausearch.Events).ToList();
        if (wrong.Count == 0)
        {
            context.Report($"event counts agree with ausearch -i: {ausearch.Events}");
        }
        else
        {
            var message = $"EVENT COUNTS DIFFER on the {log.Name} log: ausearch -i {ausearch.Events}, " + string.Join(", ", wrong.Select(c => $"{c.Name} {c.Events}"));
            context.Report(message);
            failures.Add(message);
        }
    }

    private static void Report(BenchmarkContext context, string name, Measurement m, double megabytes) =>
        context.Report(string.Create(CultureInfo.InvariantCulture,
            $"{name,-52} {m.Seconds,8:F2} {megabytes / m.Seconds,8:F1} {(m.Events > 0 ? (m.Events / m.Seconds).ToString("F0", CultureInfo.InvariantCulture) : "-"),10} {(m.Events > 0 ? m.Events.ToString(CultureInfo.InvariantCulture) : "-"),8} {(m.RssGrowthMegabytes is { } rss ? $"{rss:F0} MB" : "-"),10}"));

    /// <summary>
    /// The diverse log: kept between runs (generating it holds the kernel lock for a minute or two), made again
    /// when it is missing or the generator changed.
    /// </summary>
    internal static BenchLog DiverseLog(BenchmarkContext context)
    {
        var script = Path.Combine(context.RepositoryRoot, "tests", "AksAuditd.Benchmarks", "generate-diverse-log.sh");
        var version = Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(File.ReadAllBytes(script)))[..12].ToLowerInvariant();
        var directory = Path.Combine("/var/tmp/aksauditd-bench", $"diverse-{DiverseMegabytes}-{version}");
        var log = Path.Combine(directory, "audit.log");
        var generated = "kept from an earlier run";
        if (!File.Exists(log) || new FileInfo(log).Length < DiverseMegabytes * 1048576L || !File.Exists(Path.Combine(directory, "host", "etc", "passwd")))
        {
            var watch = Stopwatch.StartNew();
            context.Report($"generating the diverse log ({DiverseMegabytes} MiB) with {script} under the kernel lock...");
            Capture(context.RepositoryRoot, script, directory, DiverseMegabytes.ToString(CultureInfo.InvariantCulture));
            generated = $"generated now in {watch.Elapsed.TotalSeconds:F0} s";
        }

        var types = new Dictionary<string, long>(StringComparer.Ordinal);
        foreach (var line in File.ReadLines(log))
        {
            var type = line.Split(' ', 2)[0];
            types[type] = types.GetValueOrDefault(type) + 1;
        }

        var bytes = new FileInfo(log).Length;
        var mix = string.Join(", ", types.OrderByDescending(t => t.Value).Take(12).Select(t => $"{t.Key[5..]} {t.Value}"));
        return new BenchLog("diverse", log, Path.Combine(directory, "host"), bytes,
            $"{bytes / 1048576.0:F1} MiB of this machine's kernel activity at {log} ({generated}); records: {mix}");
    }

    /// <summary>Copies the real log over and over, each copy later in time and with higher serials.</summary>
    internal static long Replicate(string fixture, string destination)
    {
        var lines = AuditLogLocation.WithRotations(Path.Combine(fixture, "audit.log"))
            .SelectMany(File.ReadAllLines)
            .Where(l => l.Length > 0)
            .Select(l => (Text: l, Stamp: Stamp.Of(l)))
            .ToList();
        var span = (lines.Max(l => l.Stamp.Milliseconds / 1000) - lines.Min(l => l.Stamp.Milliseconds / 1000) + 10) * 1000;

        // Kernel serials continue from copy to copy (auditd's own DAEMON_* records count separately), so the
        // reader sees no lost events.
        var kernel = lines.Where(l => !l.Text.AsSpan(0, l.Stamp.Open).Contains("type=DAEMON_", StringComparison.Ordinal)).ToList();
        var serials = kernel.Max(l => l.Stamp.Serial) - kernel.Min(l => l.Stamp.Serial) + 1;
        using var output = new StreamWriter(destination, false, new UTF8Encoding(false), 1 << 20);
        long written = 0;
        for (var copy = 0; written < ReplicatedBytes; copy++)
        {
            foreach (var (line, stamp) in lines)
            {
                var text = stamp.Moved(line, stamp.Milliseconds + copy * span, stamp.Serial + copy * serials);
                output.Write(text);
                output.Write('\n');
                written += Encoding.UTF8.GetByteCount(text) + 1;
            }
        }

        return written;
    }

    /// <summary>
    /// The diverse log with its events spread out in time to <paramref name="eventsPerSecond"/>: every record
    /// as the kernel and auditd wrote it, in the same order, only the time stamps moved (an event's records keep
    /// one time stamp, so events group as before).
    /// </summary>
    /// <remarks>
    /// The generator writes as fast as the machine runs its workload (2,000 to 15,000 events a second on the
    /// machines so far), and at that rate both readers hold every event of the last end_of_event_timeout
    /// seconds open: ausearch then looks for each record's event among thousands of open ones and reads 1 to
    /// 3 MB/s, where on the real node log of issue #16 (151,849 events in 160 MiB) it read 43 MB/s. Spread to a
    /// node's rate, the same records measure the readers as an investigation of a node's log meets them.
    /// </remarks>
    internal static BenchLog AtNodeRate(BenchLog diverse, string destination, double eventsPerSecond)
    {
        long first = long.MaxValue, last = long.MinValue;
        var events = new HashSet<(long, long)>();
        foreach (var line in File.ReadLines(diverse.Path))
        {
            var stamp = Stamp.Of(line);
            first = Math.Min(first, stamp.Milliseconds);
            last = Math.Max(last, stamp.Milliseconds);
            events.Add((stamp.Milliseconds, stamp.Serial));
        }

        var writtenRate = events.Count / Math.Max(0.001, (last - first) / 1000.0);
        var stretch = Math.Max(1.0, writtenRate / eventsPerSecond);
        using (var output = new StreamWriter(destination, false, new UTF8Encoding(false), 1 << 20))
        {
            foreach (var line in File.ReadLines(diverse.Path))
            {
                var stamp = Stamp.Of(line);
                output.Write(stamp.Moved(line, first + (long)Math.Round((stamp.Milliseconds - first) * stretch), stamp.Serial));
                output.Write('\n');
            }
        }

        var bytes = new FileInfo(destination).Length;
        return new BenchLog("diverse at a node's rate", destination, diverse.HostRoot, bytes,
            string.Create(CultureInfo.InvariantCulture,
                $"the diverse log's {events.Count} events, written at {writtenRate:F0} a second, spread to {eventsPerSecond:F0} a second " +
                $"({(last - first) * stretch / 60000:F0} min of log time); records and their order unchanged, at {destination}"));
    }

    /// <summary>Where a record's <c>msg=audit(SECONDS.MILLIS:SERIAL)</c> stamp lies in its line, and its values.</summary>
    private readonly record struct Stamp(int Open, int Close, long Milliseconds, long Serial)
    {
        public static Stamp Of(string line)
        {
            var open = line.IndexOf("msg=audit(", StringComparison.Ordinal) + 10;
            var dot = line.IndexOf('.', open);
            var colon = line.IndexOf(':', dot);
            var close = line.IndexOf(')', colon);
            var milliseconds = long.Parse(line.AsSpan(open, dot - open), CultureInfo.InvariantCulture) * 1000 +
                               long.Parse(line.AsSpan(dot + 1, colon - dot - 1), CultureInfo.InvariantCulture);
            return new Stamp(open, close, milliseconds, long.Parse(line.AsSpan(colon + 1, close - colon - 1), CultureInfo.InvariantCulture));
        }

        /// <summary>The line with this stamp replaced by one at another time and serial, written as auditd writes it.</summary>
        public string Moved(string line, long milliseconds, long serial) =>
            string.Create(CultureInfo.InvariantCulture, $"{line.AsSpan(0, Open)}{milliseconds / 1000}.{milliseconds % 1000:D3}:{serial}{line.AsSpan(Close)}");
    }

    /// <summary>Runs ausearch on the file; events are counted from -i's separators while its output streams past.</summary>
    /// <remarks>
    /// Its peak RSS is sampled from /proc every 50 ms while it runs (VmHWM is a high-water mark, so a late sample
    /// holds the peak); it starts at about 2.5 MB, so the peak stands for its growth.
    /// </remarks>
    private static Measurement MeasureAusearch(string log, string format)
    {
        var start = new ProcessStartInfo("ausearch") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var argument in new[] { format, "-if", log })
        {
            start.ArgumentList.Add(argument);
        }

        start.Environment["TZ"] = "UTC";
        start.Environment["LC_ALL"] = "C";
        var watch = Stopwatch.StartNew();
        using var process = Process.Start(start)!;
        long peakKilobytes = 0;
        using var sampler = new Timer(_ =>
        {
            try
            {
                var line = File.ReadLines($"/proc/{process.Id}/status").FirstOrDefault(l => l.StartsWith("VmHWM:", StringComparison.Ordinal));
                if (line is not null)
                {
                    Interlocked.Exchange(ref peakKilobytes, Math.Max(Interlocked.Read(ref peakKilobytes), long.Parse(line[6..].Trim().Split(' ')[0], CultureInfo.InvariantCulture)));
                }
            }
            catch (IOException)
            {
                // Gone between two samples.
            }
        }, null, 0, 50);
        var errors = process.StandardError.ReadToEndAsync();
        var separators = CountSeparators(process.StandardOutput);
        process.WaitForExit();
        watch.Stop();
        _ = errors.Result;
        return new Measurement(watch.Elapsed.TotalSeconds, format == "-i" ? separators : 0, Interlocked.Read(ref peakKilobytes) / 1024.0);
    }

    /// <summary>Lines that are exactly "----": one per event in ausearch -i's output and in the default view.</summary>
    private static long CountSeparators(StreamReader output)
    {
        long separators = 0;
        var buffer = new char[1 << 16];
        var dashes = 0; // dashes at the start of the current line; -1 once the line is anything else
        int read;
        while ((read = output.Read(buffer, 0, buffer.Length)) > 0)
        {
            for (var i = 0; i < read; i++)
            {
                var c = buffer[i];
                if (c == '\n')
                {
                    separators += dashes == 4 ? 1 : 0;
                    dashes = 0;
                }
                else if (c != '\r')
                {
                    dashes = dashes is >= 0 and < 4 && c == '-' ? dashes + 1 : -1;
                }
            }
        }

        return separators;
    }

    /// <summary>
    /// What a person waits for: a fresh pwsh that imports the module and prints every event in the default view to
    /// its standard output (a pipe read here), from the process's start to its exit. pwsh reports its own RSS
    /// growth from after the import to its peak.
    /// </summary>
    /// <param name="switches">Added to Get-AuditEvent's command line: empty for the default view, -AsText for its strings.</param>
    private static Measurement MeasurePrinting(PowerShell pwsh, BenchLog log, string switches = "")
    {
        var script = $$"""
            $ErrorActionPreference = 'Stop'
            Import-Module '{{pwsh.Module}}'
            function Get-Status([string] $name) { [long](((Get-Content /proc/self/status | Where-Object { $_ -like "$($name)*" }) -split '\s+')[1]) }
            [IO.File]::WriteAllText('/proc/self/clear_refs', '5')
            $before = Get-Status 'VmRSS:'
            Get-AuditEvent -LiteralPath '{{log.Path}}' -HostRoot '{{log.HostRoot}}' -WarningAction SilentlyContinue {{switches}}
            [Console]::Error.WriteLine("RSS $before $(Get-Status 'VmHWM:')")
            """;
        var (seconds, separators, rss) = RunPrinting(pwsh, script, "RSS", "printing");
        var growth = (long.Parse(rss[2], CultureInfo.InvariantCulture) - long.Parse(rss[1], CultureInfo.InvariantCulture)) / 1024.0;
        return new Measurement(seconds, separators, growth);
    }

    /// <summary>
    /// Runs a fresh pwsh that prints to its standard output (a pipe read here, counting events) and reports a line
    /// "<paramref name="report"/> ..." on its standard error; timed from the process's start to its exit.
    /// </summary>
    private static (double Seconds, long Separators, string[] Report) RunPrinting(PowerShell pwsh, string script, string report, string run)
    {
        var start = pwsh.Start("-NoProfile", "-NonInteractive", "-Command", script);
        var watch = Stopwatch.StartNew();
        using var process = Process.Start(start)!;
        var errors = process.StandardError.ReadToEndAsync();
        var separators = CountSeparators(process.StandardOutput);
        process.WaitForExit();
        watch.Stop();
        var line = errors.Result.Split('\n').FirstOrDefault(l => l.StartsWith(report + " ", StringComparison.Ordinal))?.Trim().Split(' ');
        if (process.ExitCode != 0 || line is null)
        {
            throw new InvalidOperationException($"the {run} run failed ({process.ExitCode}): {errors.Result}");
        }

        return (watch.Elapsed.TotalSeconds, separators, line);
    }

    /// <summary>
    /// What pwsh itself costs for the printing path, with no module: a fresh pwsh that writes <c>ausearch -i</c>'s own
    /// output for the log, already cut into one string per event, to its standard output (a pipe read here). Timed
    /// from the process's start to its exit, less the time pwsh reports for reading and cutting the text file (which
    /// a cmdlet does not do), so what is left is pwsh's start and its host writing the events.
    /// </summary>
    private static Measurement MeasureHostFloor(PowerShell pwsh, BenchLog log)
    {
        // Beside the log and named after it: two logs can share a folder (the replicated one and the diverse log at a
        // node's rate are both in the run's work folder).
        var text = log.Path + ".ausearch-i.txt";
        if (!File.Exists(text))
        {
            var start = new ProcessStartInfo("sh") { RedirectStandardError = true };
            foreach (var argument in new[] { "-c", "TZ=UTC LC_ALL=C ausearch -i -if \"$1\" > \"$2\"", "sh", log.Path, text })
            {
                start.ArgumentList.Add(argument);
            }

            using var ausearch = Process.Start(start)!;
            var errors = ausearch.StandardError.ReadToEnd();
            ausearch.WaitForExit();
            if (ausearch.ExitCode != 0)
            {
                File.Delete(text);
                throw new InvalidOperationException($"ausearch -i -if {log.Path} failed ({ausearch.ExitCode}): {errors}");
            }
        }

        // ausearch -i starts every event with "----"; the strings keep that line so the output is ausearch's.
        var script = $$"""
            $watch = [Diagnostics.Stopwatch]::StartNew()
            $events = [IO.File]::ReadAllText('{{text}}').Split("`n----`n")
            $events[0] = $events[0].Substring($events[0].IndexOf("----`n") + 5)
            for ($i = 0; $i -lt $events.Length; $i++) { $events[$i] = "----`n" + $events[$i].TrimEnd("`n") }
            $reading = $watch.Elapsed.TotalSeconds
            $events
            [Console]::Error.WriteLine("READ $reading")
            """;
        var (seconds, separators, read) = RunPrinting(pwsh, script, "READ", "floor");
        return new Measurement(seconds - double.Parse(read[1], CultureInfo.InvariantCulture), separators, null);
    }

    private static Measurement MeasureCore(BenchLog log, string fixture, Use use)
    {
        // Warm up the JIT on the small real log, as a long-running pwsh or entrypoint would be.
        Consume(new AuditEventQuery { Paths = [fixture], HostRoot = Path.Combine(fixture, "host") }, use);
        GC.Collect();
        GC.WaitForPendingFinalizers();
        ResetPeakRss();
        var before = ReadStatus("VmRSS:");
        var watch = Stopwatch.StartNew();
        var events = Consume(new AuditEventQuery { Paths = [log.Path], HostRoot = log.HostRoot }, use);
        watch.Stop();
        var peak = ReadStatus("VmHWM:");
        return new Measurement(watch.Elapsed.TotalSeconds, events, (peak - before) / 1024.0);
    }

    private static long Consume(AuditEventQuery query, Use use)
    {
        long events = 0, characters = 0;
        foreach (var auditEvent in new AuditEventReader(NullLogSink.Instance).Read(query))
        {
            events++;
            characters += auditEvent.Serial;
            if (use == Use.Summary)
            {
                characters += (auditEvent.Key?.Length ?? 0) + (auditEvent.Exe?.Length ?? 0) + (auditEvent.User?.Length ?? 0) + (auditEvent.Syscall?.Length ?? 0);
            }

            if (use != Use.EveryField)
            {
                continue;
            }

            foreach (var record in auditEvent.Records)
            {
                foreach (var field in record.Fields)
                {
                    characters += field.Interpreted.Length;
                }
            }
        }

        return characters == long.MinValue ? -1 : events;
    }

    /// <summary>
    /// The cmdlet counting events in a fresh pwsh, timed inside pwsh: the first run over the big log (after a
    /// warm-up on the small one), then a second once the JIT has settled. Values stay uncomputed (lazy).
    /// </summary>
    private static (Measurement First, Measurement Second) MeasureCmdlet(BenchmarkContext context, PowerShell pwsh, BenchLog log, string fixture)
    {
        var script = $$"""
            $ErrorActionPreference = 'Stop'
            Import-Module '{{pwsh.Module}}'
            $null = Get-AuditEvent -LiteralPath '{{fixture}}' -HostRoot '{{Path.Combine(fixture, "host")}}' | Measure-Object
            [GC]::Collect()
            [IO.File]::WriteAllText('/proc/self/clear_refs', '5')
            function Get-Status([string] $name) { [long](((Get-Content /proc/self/status | Where-Object { $_ -like "$($name)*" }) -split '\s+')[1]) }
            $before = Get-Status 'VmRSS:'
            foreach ($run in 'first', 'second') {
                $watch = [Diagnostics.Stopwatch]::StartNew()
                $count = (Get-AuditEvent -LiteralPath '{{log.Path}}' -HostRoot '{{log.HostRoot}}' -WarningVariable warnings -WarningAction SilentlyContinue | Measure-Object).Count
                $watch.Stop()
                $peak = Get-Status 'VmHWM:'
                "RESULT $run $($watch.Elapsed.TotalSeconds) $count $($peak - $before) $($warnings.Count)"
            }
            """;
        var output = Capture(context.RepositoryRoot, pwsh.Start("-NoProfile", "-NonInteractive", "-Command", script));
        var results = output.Split('\n').Where(l => l.StartsWith("RESULT ", StringComparison.Ordinal)).Select(l => l.Trim().Split(' ')).ToList();
        if (results.Count != 2)
        {
            throw new InvalidOperationException($"the cmdlet runs printed no result: {output}");
        }

        var runs = results.Select(r => new Measurement(double.Parse(r[2], CultureInfo.InvariantCulture), long.Parse(r[3], CultureInfo.InvariantCulture),
            long.Parse(r[4], CultureInfo.InvariantCulture) / 1024.0)).ToList();
        return (runs[0], runs[1]);
    }

    /// <summary>
    /// The first run: a fresh pwsh doing what the README's investigation starts with, <c>Import-Module AksAuditd;
    /// Get-AuditEvent -HostRoot /host -Tail 20</c>, on a host root holding the recorded log at the log_file its
    /// auditd.conf names. Timed to the first line of output; pwsh reports its JIT time (all of it, which for -Tail
    /// is spent before the first line: the tail is known only at the end of the log). Measured with the staged
    /// module (IL, as `build.ps1 build` writes it) and with the image layout compiled ReadyToRun, each against pwsh
    /// printing one line and exiting.
    /// </summary>
    private static void ColdStart(BenchmarkContext context, (string Name, PowerShell Pwsh)[] variants, string fixture, string work, List<string> failures)
    {
        var hostRoot = Path.Combine(work, "host");
        Directory.CreateDirectory(Path.Combine(hostRoot, "etc", "audit"));
        Directory.CreateDirectory(Path.Combine(hostRoot, "var", "log", "audit"));
        File.WriteAllText(Path.Combine(hostRoot, "etc", "audit", "auditd.conf"), "log_file = /var/log/audit/audit.log\nend_of_event_timeout = 2\n");
        foreach (var file in new[] { "audit.log", "audit.log.1", "audit.log.2" })
        {
            File.Copy(Path.Combine(fixture, file), Path.Combine(hostRoot, "var", "log", "audit", file));
        }

        foreach (var file in new[] { "passwd", "group" })
        {
            File.Copy(Path.Combine(fixture, "host", "etc", file), Path.Combine(hostRoot, "etc", file));
        }

        const int coldRounds = 3;
        foreach (var (name, pwsh) in variants)
        {
            var bare = Enumerable.Range(0, coldRounds).Select(_ => FirstLine(pwsh, "'ready'; [Console]::Error.WriteLine(\"JIT $([System.Runtime.JitInfo]::GetCompilationTime().TotalMilliseconds) $([System.Runtime.JitInfo]::GetCompiledMethodCount())\")")).MinBy(r => r.FirstLine)!;
            var tail = Enumerable.Range(0, coldRounds).Select(_ => FirstLine(pwsh,
                $"Import-Module '{pwsh.Module}'; Get-AuditEvent -HostRoot '{hostRoot}' -Tail 20; [Console]::Error.WriteLine(\"JIT $([System.Runtime.JitInfo]::GetCompilationTime().TotalMilliseconds) $([System.Runtime.JitInfo]::GetCompiledMethodCount())\")")).MinBy(r => r.FirstLine)!;
            if (tail.Separators != 20)
            {
                failures.Add($"cold start ({name}) printed {tail.Separators} events, not 20");
            }

            context.Report(string.Create(CultureInfo.InvariantCulture,
                $"COLD START ({name}): first line of Get-AuditEvent -HostRoot -Tail 20 after {tail.FirstLine:F2} s, exit after {tail.Total:F2} s; " +
                $"JIT {tail.JitMilliseconds / 1000:F2} s for {tail.JitMethods} methods = {tail.JitMilliseconds / 1000 / tail.FirstLine:P0} of the time to the first line " +
                $"(JIT time is summed over threads; pwsh alone: first line after {bare.FirstLine:F2} s, JIT {bare.JitMilliseconds / 1000:F2} s for {bare.JitMethods} methods = " +
                $"{bare.JitMilliseconds / 1000 / bare.FirstLine:P0}; Import-Module, Get-AuditEvent and formatting add {(tail.JitMilliseconds - bare.JitMilliseconds) / 1000:F2} s for {tail.JitMethods - bare.JitMethods} methods); best of {coldRounds}"));
        }
    }

    /// <summary>The image's file tree compiled ReadyToRun, its pwsh run with the Dockerfile's ENV; null when it cannot be built here.</summary>
    private static PowerShell? ImageLayout(BenchmarkContext context, PowerShell staged, string work)
    {
        var layout = Path.Combine(work, "layout");
        try
        {
            var watch = Stopwatch.StartNew();
            Capture(context.RepositoryRoot, staged.Start("-NoProfile", "-NonInteractive", "-Command",
                $"$null = & '{Path.Combine(context.RepositoryRoot, "image", "New-ImageLayout.ps1")}' -ModulePath '{context.ModulePath}' -Destination '{layout}' -ReadyToRun"));
            var settings = LoopBenchmark.DockerfileEnvironment(Path.Combine(context.RepositoryRoot, "image", "Dockerfile"));
            context.Report($"image layout compiled ReadyToRun in {watch.Elapsed.TotalSeconds:F0} s; its pwsh runs with the Dockerfile's ENV: " +
                           string.Join(' ', settings.Select(p => $"{p.Key}={p.Value}")));
            return new PowerShell(Path.Combine(layout, "usr", "local", "bin", "pwsh"),
                Path.Combine(layout, "usr", "local", "share", "powershell", "Modules", "AksAuditd", "AksAuditd.psd1"), settings);
        }
        catch (InvalidOperationException e)
        {
            context.Report($"no ReadyToRun layout: {e.Message.Split('\n')[0]}");
            return null;
        }
    }

    private static ColdRun FirstLine(PowerShell pwsh, string command)
    {
        var start = pwsh.Start("-NoProfile", "-NonInteractive", "-Command", command);
        var watch = Stopwatch.StartNew();
        using var process = Process.Start(start)!;
        var errors = process.StandardError.ReadToEndAsync();
        double? first = null;
        long separators = 0;
        while (process.StandardOutput.ReadLine() is { } line)
        {
            if (first is null && line.Length > 0)
            {
                first = watch.Elapsed.TotalSeconds;
            }

            separators += line == "----" ? 1 : 0;
        }

        process.WaitForExit();
        var total = watch.Elapsed.TotalSeconds;
        var jit = errors.Result.Split('\n').FirstOrDefault(l => l.StartsWith("JIT ", StringComparison.Ordinal))?.Trim().Split(' ');
        if (process.ExitCode != 0 || jit is null || first is null)
        {
            throw new InvalidOperationException($"the cold-start run failed ({process.ExitCode}): {errors.Result}");
        }

        return new ColdRun(first.Value, total, double.Parse(jit[1], CultureInfo.InvariantCulture), long.Parse(jit[2], CultureInfo.InvariantCulture), separators);
    }

    /// <summary>The fastest run, with the largest RSS growth seen in any run.</summary>
    private static Measurement Best(IEnumerable<Measurement> runs)
    {
        var all = runs.ToList();
        var fastest = all.MinBy(m => m.Seconds)!;
        return fastest with { RssGrowthMegabytes = all.Max(m => m.RssGrowthMegabytes) };
    }

    private static void ResetPeakRss() => File.WriteAllText("/proc/self/clear_refs", "5");

    /// <summary>A kB value from /proc/self/status.</summary>
    private static long ReadStatus(string name)
    {
        var line = File.ReadLines("/proc/self/status").First(l => l.StartsWith(name, StringComparison.Ordinal));
        return long.Parse(line[name.Length..].Trim().Split(' ')[0], CultureInfo.InvariantCulture);
    }

    internal static string Capture(string directory, string program, params string[] arguments)
    {
        var start = new ProcessStartInfo(program) { WorkingDirectory = directory, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        return Capture(directory, start);
    }

    private static string Capture(string directory, ProcessStartInfo start)
    {
        start.WorkingDirectory = directory;
        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        process.WaitForExit();
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"{start.FileName} {string.Join(' ', start.ArgumentList)} failed ({process.ExitCode}): {error.Result}{output.Result}");
        }

        return output.Result;
    }

    private enum Use
    {
        Events,
        Summary,
        EveryField,
    }

    private sealed record Measurement(double Seconds, long Events, double? RssGrowthMegabytes);

    private sealed record ColdRun(double FirstLine, double Total, double JitMilliseconds, long JitMethods, long Separators);

    internal sealed record BenchLog(string Name, string Path, string HostRoot, long Bytes, string Description);

    /// <summary>A pwsh launcher and the module manifest it imports.</summary>
    private sealed record PowerShell(string Launcher, string Module, IReadOnlyDictionary<string, string>? Environment = null)
    {
        public ProcessStartInfo Start(params string[] arguments)
        {
            var start = new ProcessStartInfo(Launcher) { RedirectStandardOutput = true, RedirectStandardError = true };
            foreach (var argument in arguments)
            {
                start.ArgumentList.Add(argument);
            }

            start.Environment["POWERSHELL_TELEMETRY_OPTOUT"] = "1";
            start.Environment["POWERSHELL_UPDATECHECK"] = "Off";
            foreach (var (name, value) in Environment ?? new Dictionary<string, string>())
            {
                start.Environment[name] = value;
            }

            return start;
        }
    }
}
