using System.Diagnostics;
using System.Globalization;
using AksAuditd.Core.Events;
using AksAuditd.Core.Logging;
using AksAuditd.Core.Rules;

// One measurement of one Core build, printed as a single "result" line for the split benchmark to read:
//   rules <rules-file>                     parse + validate the file (RuleValidator), best of the rounds
//   events <log> <host-root> <warm-up-log> read every event and interpret every field (AuditEventReader)
// The work is the same code in both builds; only the Core under it differs.
if (args.Length < 2)
{
    Console.Error.WriteLine("usage: rules <file> | events <log> <host-root> <warm-up-log> <warm-up-host-root>");
    return 2;
}

var latency = System.Runtime.GCSettings.LatencyMode;
System.Runtime.GCSettings.LatencyMode = System.Runtime.GCLatencyMode.Batch;
try
{
    switch (args[0])
    {
        case "rules":
        {
            var text = File.ReadAllText(args[1]);
            var validator = new RuleValidator();
            var findings = 0;
            var best = Best(5, () => findings = validator.Validate("bench.rules", text).Count);
            Print(best, text.Count(c => c == '\n'), findings);
            return 0;
        }
        case "events" when args.Length == 5:
        {
            Consume(args[3], args[4]); // warm up the JIT on the small log, as a long-running pwsh would be
            long events = 0, characters = 0;
            var best = Best(1, () => (events, characters) = Consume(args[1], args[2]));
            Print(best, events, characters);
            return 0;
        }
        default:
            Console.Error.WriteLine($"unknown probe or wrong arguments: {string.Join(' ', args)}");
            return 2;
    }
}
finally
{
    System.Runtime.GCSettings.LatencyMode = latency;
}

static (long Events, long Characters) Consume(string log, string hostRoot)
{
    long events = 0, characters = 0;
    foreach (var auditEvent in new AuditEventReader(NullLogSink.Instance).Read(new AuditEventQuery { Paths = [log], HostRoot = hostRoot }))
    {
        events++;
        foreach (var record in auditEvent.Records)
        {
            foreach (var field in record.Fields)
            {
                characters += field.Interpreted.Length;
            }
        }
    }
    return (events, characters);
}

// The best round's elapsed time, its CPU time (all threads: the GC's included) and what it allocated. On a shared
// machine the CPU time moves less with the load than the elapsed time, and the allocation does not move at all.
static Measurement Best(int rounds, Action action)
{
    if (rounds > 1)
    {
        action(); // warm up
    }
    var best = new Measurement(double.MaxValue, double.MaxValue, 0);
    using var self = Process.GetCurrentProcess();
    for (var i = 0; i < rounds; i++)
    {
        GC.Collect();
        self.Refresh();
        var cpuBefore = self.TotalProcessorTime;
        var allocatedBefore = GC.GetTotalAllocatedBytes(precise: true);
        var watch = Stopwatch.StartNew();
        action();
        watch.Stop();
        self.Refresh();
        var cpu = (self.TotalProcessorTime - cpuBefore).TotalSeconds;
        if (cpu < best.CpuSeconds)
        {
            best = new Measurement(watch.Elapsed.TotalSeconds, cpu, GC.GetTotalAllocatedBytes(precise: true) - allocatedBefore);
        }
    }
    return best;
}

// The count and the checksum let the benchmark check that both builds did the same work.
static void Print(Measurement m, long count, long checksum) =>
    Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
        $"result seconds={m.Seconds:R} cpu={m.CpuSeconds:R} allocated={m.AllocatedBytes} count={count} checksum={checksum}"));

internal sealed record Measurement(double Seconds, double CpuSeconds, long AllocatedBytes);
