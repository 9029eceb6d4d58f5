using System.Diagnostics;
using System.Text;
using AksAuditd.Core.Rules;

namespace AksAuditd.Benchmarks;

/// <summary>
/// Parses and validates a large real rule set: every rule line of the audit-rules corpus, repeated to 100,000 lines, as
/// one rules file on one core. The baseline, measured in the same run, is the least any reader must do: split the
/// text into lines and the lines into words.
/// </summary>
public sealed class RulesBenchmark : IBenchmark
{
    private const int TargetLines = 100_000;
    private const int Rounds = 5;

    public string Name => "rules";

    public void Run(BenchmarkContext context)
    {
        var text = BuildRuleSet(FindCorpus(context), out var lines);
        context.Report($"rule set: {lines:N0} lines, {text.Length / 1024:N0} KiB, from the audit-rules corpus's oracle.tsv");

        var validator = new RuleValidator();
        var words = 0;
        var findings = 0;
        // One file read and checked in one go is a batch job: no background GC competing for the one core.
        var latency = System.Runtime.GCSettings.LatencyMode;
        System.Runtime.GCSettings.LatencyMode = System.Runtime.GCLatencyMode.Batch;
        (TimeSpan, TimeSpan) baseline, parse, validate;
        try
        {
            baseline = Measure(() => words = Tokenize(text));
            parse = Measure(() => validator.Parser.Parse(text));
            validate = Measure(() => findings = validator.Validate("bench.rules", text).Count);
        }
        finally
        {
            System.Runtime.GCSettings.LatencyMode = latency;
        }

        Report(context, "baseline: split lines and words", lines, baseline, baseline);
        Report(context, "parse, model kept (RuleParser.Parse)", lines, parse, baseline);
        Report(context, "parse + validate (RuleValidator)", lines, validate, baseline);
        context.Report($"({words:N0} words, {findings:N0} findings; best of {Rounds} rounds each; target 200,000 lines/s)");

        // What the result costs in memory: the whole typed model of the file stays alive while it is in use.
        GC.Collect();
        var before = GC.GetTotalMemory(forceFullCollection: true);
        var allocatedBefore = GC.GetAllocatedBytesForCurrentThread();
        var file = validator.Parser.Parse(text);
        var allocated = GC.GetAllocatedBytesForCurrentThread() - allocatedBefore;
        var retained = GC.GetTotalMemory(forceFullCollection: true) - before;
        context.Report($"memory: {allocated / lines:N0} bytes allocated and {retained / lines:N0} retained per line ({file.Lines.Count:N0} lines)");
    }

    private static void Report(BenchmarkContext context, string what, int lines, (TimeSpan Elapsed, TimeSpan GcPause) m, (TimeSpan Elapsed, TimeSpan GcPause) baseline) =>
        context.Report($"{what,-36} {lines / m.Elapsed.TotalSeconds,12:N0} lines/s  {m.Elapsed.TotalMilliseconds,8:N1} ms " +
            $"(GC pauses {m.GcPause.TotalMilliseconds,6:N1} ms)  x{m.Elapsed / baseline.Elapsed,6:N1} baseline");

    private static (TimeSpan Elapsed, TimeSpan GcPause) Measure(Action action)
    {
        action(); // warm up: JIT and the lookup tables
        var best = (Elapsed: TimeSpan.MaxValue, GcPause: TimeSpan.Zero);
        for (var i = 0; i < Rounds; i++)
        {
            GC.Collect();
            var pausedBefore = GC.GetTotalPauseDuration();
            var watch = Stopwatch.StartNew();
            action();
            watch.Stop();
            if (watch.Elapsed < best.Elapsed)
            {
                best = (watch.Elapsed, GC.GetTotalPauseDuration() - pausedBefore);
            }
        }
        return best;
    }

    private static int Tokenize(string text)
    {
        var words = 0;
        foreach (var line in text.Split('\n'))
        {
            words += line.Split(' ', StringSplitOptions.RemoveEmptyEntries).Length;
        }
        return words;
    }

    internal static string BuildRuleSet(string corpus, out int lines)
    {
        var rules = File.ReadLines(Path.Combine(corpus, "oracle.tsv")).Skip(1)
            .Select(l => l.Split('\t')[2].Replace("\\\\", "\\"))
            .ToList();
        var builder = new StringBuilder();
        lines = 0;
        while (lines < TargetLines)
        {
            foreach (var rule in rules)
            {
                if (lines == TargetLines)
                {
                    break;
                }
                builder.Append(rule).Append('\n');
                lines++;
            }
        }
        return builder.ToString();
    }

    internal static string FindCorpus(BenchmarkContext context) =>
        Directory.Exists(context.RulesCorpus)
            ? context.RulesCorpus
            : throw new DirectoryNotFoundException($"the audit-rules corpus is missing from the repository: {context.RulesCorpus}");
}
