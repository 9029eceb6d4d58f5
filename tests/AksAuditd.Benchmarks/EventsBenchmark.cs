using System.Diagnostics;
using System.Globalization;
using System.Text;
using AksAuditd.Core.Events;
using AksAuditd.Core.Logging;

namespace AksAuditd.Benchmarks;

/// <summary>
/// Get-AuditEvent against ausearch on the same log of at least 100 MB: the committed real log (recorded from the
/// kernel by tests/fixtures/events/record-audit-log.sh) replicated with times and serials moved on, so every copy
/// is a distinct, well-formed stretch of a node's log. ausearch -i and ausearch --raw are measured in the same run.
/// </summary>
public sealed class EventsBenchmark : IBenchmark
{
    private const long TargetBytes = 100L * 1024 * 1024;
    private const int Rounds = 3;

    public string Name => "events";

    public void Run(BenchmarkContext context)
    {
        var fixture = Path.Combine(context.RepositoryRoot, "tests", "fixtures", "events", "recorded");
        var hostRoot = Path.Combine(fixture, "host");
        var work = Path.Combine(Path.GetTempPath(), $"aksauditd-bench-events-{Environment.ProcessId}");
        Directory.CreateDirectory(work);
        try
        {
            var log = Path.Combine(work, "audit.log");
            var bytes = Replicate(fixture, log);
            var megabytes = bytes / 1048576.0;
            context.Report($"log: {megabytes:F1} MB at {log}, replicated from {fixture} (ENRICHED, node= prefix)");

            // The machine is shared: every tool runs in each of three rounds, and the best round of each counts.
            var coreFirst = MeasureCore(log, hostRoot, fixture, Use.Events);
            var rounds = Enumerable.Range(0, Rounds).Select(_ => new
            {
                AusearchInterpreted = MeasureAusearch(log, "-i"),
                AusearchRaw = MeasureAusearch(log, "--raw"),
                Core = MeasureCore(log, hostRoot, fixture, Use.Events),
                CoreSummary = MeasureCore(log, hostRoot, fixture, Use.Summary),
                CoreInterpreted = MeasureCore(log, hostRoot, fixture, Use.EveryField),
                Cmdlet = MeasureCmdlet(context, log, hostRoot, fixture),
            }).ToList();
            var ausearchInterpreted = Best(rounds.Select(r => r.AusearchInterpreted));
            var ausearchRaw = Best(rounds.Select(r => r.AusearchRaw));
            var core = Best(rounds.Select(r => r.Core));
            var coreSummary = Best(rounds.Select(r => r.CoreSummary));
            var coreInterpreted = Best(rounds.Select(r => r.CoreInterpreted));
            var cmdletFirst = Best(rounds.Select(r => r.Cmdlet.First));
            var cmdlet = Best(rounds.Select(r => r.Cmdlet.Second));

            context.Report($"best of {Rounds} rounds; the Core API's first pass over the log (tiered JIT still warming up) is shown on its own");
            context.Report($"{"",-40} {"seconds",8} {"MB/s",8} {"events/s",10} {"events",8} {"RSS growth",10}");
            Report(context, "ausearch -i", ausearchInterpreted, megabytes);
            Report(context, "ausearch --raw", ausearchRaw, megabytes);
            Report(context, "Core API (events, first pass)", coreFirst, megabytes);
            Report(context, "Core API (events, lazy values)", core, megabytes);
            Report(context, "Core API (Key, Exe, User, Syscall read)", coreSummary, megabytes);
            Report(context, "Core API (every field interpreted)", coreInterpreted, megabytes);
            Report(context, "Get-AuditEvent (cmdlet, first run)", cmdletFirst, megabytes);
            Report(context, "Get-AuditEvent (cmdlet, second run)", cmdlet, megabytes);

            var baseline = ausearchInterpreted.Seconds;
            context.Report($"ratio Core API / ausearch -i: {baseline / core.Seconds:F2}x (target >= 3x); first pass {baseline / coreFirst.Seconds:F2}x");
            context.Report($"ratio Core API reading Key, Exe, User, Syscall / ausearch -i: {baseline / coreSummary.Seconds:F2}x");
            context.Report($"ratio Core API, every field interpreted / ausearch -i: {baseline / coreInterpreted.Seconds:F2}x");
            context.Report($"ratio Get-AuditEvent / ausearch -i: {baseline / cmdlet.Seconds:F2}x (target >= 1x); first run in a fresh pwsh {baseline / cmdletFirst.Seconds:F2}x");
            context.Report($"ratio Core API / ausearch --raw: {ausearchRaw.Seconds / core.Seconds:F2}x");
            context.Report($"peak RSS growth: Core API {Math.Max(core.RssGrowthMegabytes ?? 0, coreFirst.RssGrowthMegabytes ?? 0):F0} MB, cmdlet {Math.Max(cmdlet.RssGrowthMegabytes ?? 0, cmdletFirst.RssGrowthMegabytes ?? 0):F0} MB (target < 64 MB)");
            context.Report(core.Events == ausearchInterpreted.Events && cmdlet.Events == ausearchInterpreted.Events && cmdletFirst.Events == ausearchInterpreted.Events
                ? $"event counts agree: {core.Events}"
                : $"EVENT COUNTS DIFFER: ausearch {ausearchInterpreted.Events}, Core {core.Events}, cmdlet {cmdlet.Events}");
        }
        finally
        {
            Directory.Delete(work, true);
        }
    }

    private static void Report(BenchmarkContext context, string name, Measurement m, double megabytes) =>
        context.Report(string.Create(CultureInfo.InvariantCulture,
            $"{name,-40} {m.Seconds,8:F2} {megabytes / m.Seconds,8:F1} {(m.Events > 0 ? (m.Events / m.Seconds).ToString("F0", CultureInfo.InvariantCulture) : "-"),10} {(m.Events > 0 ? m.Events.ToString(CultureInfo.InvariantCulture) : "-"),8} {(m.RssGrowthMegabytes is { } rss ? $"{rss:F0} MB" : "-"),10}"));

    /// <summary>Copies the real log over and over, each copy later in time and with higher serials.</summary>
    internal static long Replicate(string fixture, string destination)
    {
        var lines = AuditLogLocation.WithRotations(Path.Combine(fixture, "audit.log"))
            .SelectMany(File.ReadAllLines)
            .Where(l => l.Length > 0)
            .Select(Parse)
            .ToList();
        var span = lines.Max(l => l.Seconds) - lines.Min(l => l.Seconds) + 10;

        // Kernel serials continue from copy to copy (auditd's own DAEMON_* records count separately), so the
        // reader sees no lost events.
        var kernel = lines.Where(l => !l.Before.Contains("type=DAEMON_", StringComparison.Ordinal)).ToList();
        var serials = kernel.Max(l => l.Serial) - kernel.Min(l => l.Serial) + 1;
        using var output = new StreamWriter(destination, false, new UTF8Encoding(false), 1 << 20);
        long written = 0;
        for (var copy = 0; written < TargetBytes; copy++)
        {
            foreach (var line in lines)
            {
                var text = string.Concat(line.Before, (line.Seconds + copy * span).ToString(CultureInfo.InvariantCulture), line.Millis,
                    (line.Serial + copy * serials).ToString(CultureInfo.InvariantCulture), line.After);
                output.Write(text);
                output.Write('\n');
                written += Encoding.UTF8.GetByteCount(text) + 1;
            }
        }

        return written;

        static (string Before, long Seconds, string Millis, long Serial, string After) Parse(string line)
        {
            var open = line.IndexOf("msg=audit(", StringComparison.Ordinal) + 10;
            var dot = line.IndexOf('.', open);
            var colon = line.IndexOf(':', dot);
            var close = line.IndexOf(')', colon);
            return (line[..open], long.Parse(line[open..dot], CultureInfo.InvariantCulture), line[dot..(colon + 1)],
                long.Parse(line[(colon + 1)..close], CultureInfo.InvariantCulture), line[close..]);
        }
    }

    /// <summary>Runs ausearch on the file; events are counted from -i's separators while its output streams past.</summary>
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
        var errors = process.StandardError.ReadToEndAsync();
        long separators = 0;
        var buffer = new char[1 << 16];
        var dashes = 0; // dashes at the start of the current line; -1 once the line is anything else
        int read;
        while ((read = process.StandardOutput.Read(buffer, 0, buffer.Length)) > 0)
        {
            for (var i = 0; i < read; i++)
            {
                var c = buffer[i];
                if (c == '\n')
                {
                    separators += dashes == 4 ? 1 : 0;
                    dashes = 0;
                }
                else
                {
                    dashes = dashes is >= 0 and < 4 && c == '-' ? dashes + 1 : -1;
                }
            }
        }

        process.WaitForExit();
        watch.Stop();
        _ = errors.Result;
        return new Measurement(watch.Elapsed.TotalSeconds, format == "-i" ? separators : 0, null);
    }

    private static Measurement MeasureCore(string log, string hostRoot, string fixture, Use use)
    {
        // Warm up the JIT on the small real log, as a long-running pwsh or entrypoint would be.
        Consume(new AuditEventQuery { Paths = [fixture], HostRoot = hostRoot }, use);
        GC.Collect();
        GC.WaitForPendingFinalizers();
        ResetPeakRss();
        var before = ReadStatus("VmRSS:");
        var watch = Stopwatch.StartNew();
        var events = Consume(new AuditEventQuery { Paths = [log], HostRoot = hostRoot }, use);
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
    /// The cmdlet in a fresh pwsh with the staged module, timed inside pwsh: the first run over the big log (after
    /// a warm-up on the small one) is what an operator gets; the second shows it once the JIT has settled.
    /// </summary>
    private static (Measurement First, Measurement Second) MeasureCmdlet(BenchmarkContext context, string log, string hostRoot, string fixture)
    {
        var script = $$"""
            $ErrorActionPreference = 'Stop'
            Import-Module '{{Path.Combine(context.ModulePath, "AksAuditd.psd1")}}'
            $null = Get-AuditEvent -LiteralPath '{{fixture}}' -HostRoot '{{hostRoot}}' | Measure-Object
            [GC]::Collect()
            [IO.File]::WriteAllText('/proc/self/clear_refs', '5')
            function Get-Status([string] $name) { [long](((Get-Content /proc/self/status | Where-Object { $_ -like "$($name)*" }) -split '\s+')[1]) }
            $before = Get-Status 'VmRSS:'
            foreach ($run in 'first', 'second') {
                $watch = [Diagnostics.Stopwatch]::StartNew()
                $count = (Get-AuditEvent -LiteralPath '{{log}}' -HostRoot '{{hostRoot}}' -WarningVariable warnings -WarningAction SilentlyContinue | Measure-Object).Count
                $watch.Stop()
                $peak = Get-Status 'VmHWM:'
                "RESULT $run $($watch.Elapsed.TotalSeconds) $count $($peak - $before) $($warnings.Count)"
            }
            """;
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = context.RepositoryRoot };
        foreach (var argument in new[] { "pwsh", "-NoProfile", "-NonInteractive", "-Command", script })
        {
            start.ArgumentList.Add(argument);
        }

        using var process = Process.Start(start)!;
        var errors = process.StandardError.ReadToEndAsync();
        var output = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        var results = output.Split('\n').Where(l => l.StartsWith("RESULT ", StringComparison.Ordinal)).Select(l => l.Trim().Split(' ')).ToList();
        if (results.Count != 2)
        {
            throw new InvalidOperationException($"the cmdlet runs printed no result: {output} {errors.Result}");
        }

        foreach (var result in results.Where(r => r[5] != "0"))
        {
            context.Report($"the cmdlet warned {result[5]} times while reading the log");
        }

        var runs = results.Select(r => new Measurement(double.Parse(r[2], CultureInfo.InvariantCulture), long.Parse(r[3], CultureInfo.InvariantCulture),
            long.Parse(r[4], CultureInfo.InvariantCulture) / 1024.0)).ToList();
        return (runs[0], runs[1]);
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

    private enum Use
    {
        Events,
        Summary,
        EveryField,
    }

    private sealed record Measurement(double Seconds, long Events, double? RssGrowthMegabytes);
}
