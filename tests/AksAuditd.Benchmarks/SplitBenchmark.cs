using System.Globalization;
using System.Text.RegularExpressions;

namespace AksAuditd.Benchmarks;

/// <summary>
/// The internals split (issue #15) must not cost speed: the same measuring code (tests/AksAuditd.SplitProbe) is
/// built against this checkout's Core and against the Core of a baseline commit, and both run the rules and events
/// work in this run, in alternating rounds so that the machine's load falls on both alike. The baseline is the
/// last commit before the split (<see cref="PreSplitCommit"/>), or <c>AKSAUDITD_BENCH_BASELINE_REF</c>.
/// Each build is compared by its best round's CPU time (all threads), which moves less with the shared machine's load
/// than elapsed time; elapsed time and allocation are printed beside it. The run fails when the two builds count
/// different events or rule lines: then they did not do the same work.
/// </summary>
public sealed class SplitBenchmark : IBenchmark
{
    /// <summary>main before the first internals merge (2455df4): AuditctlLine and the interpreter still whole.</summary>
    public const string PreSplitCommit = "98d9945dc4a9f3dc6d39c122dd982e1f47f4d30e";

    private const int Rounds = 3;

    /// <summary>Below this share of the baseline's speed a line says SLOWER; the shared machine's noise is about 5%.</summary>
    private const double Tolerance = 0.95;

    public string Name => "split";

    public void Run(BenchmarkContext context)
    {
        var baselineRef = Environment.GetEnvironmentVariable("AKSAUDITD_BENCH_BASELINE_REF") is { Length: > 0 } given ? given : PreSplitCommit;
        var work = Path.Combine(Path.GetTempPath(), $"aksauditd-bench-split-{Environment.ProcessId}");
        Directory.CreateDirectory(work);
        try
        {
            var commit = Git(context, "rev-parse", "--verify", "--quiet", baselineRef + "^{commit}").Trim();
            var current = BuildProbe(context, context.RepositoryRoot, Path.Combine(work, "probe-current"));
            var baselineTree = ExtractCommit(context, commit, Path.Combine(work, "baseline-tree"));
            CopyDirectory(Path.Combine(context.RepositoryRoot, "tests", "AksAuditd.SplitProbe"), Path.Combine(baselineTree, "tests", "AksAuditd.SplitProbe"));
            var baseline = BuildProbe(context, baselineTree, Path.Combine(work, "probe-baseline"));
            context.Report($"baseline: {commit[..12]} ({Git(context, "log", "-1", "--format=%s", commit).Trim()})");
            context.Report($"current: {Git(context, "rev-parse", "--short=12", "HEAD").Trim()}{(Git(context, "status", "--porcelain", "--", "src").Length > 0 ? " with uncommitted changes under src/" : string.Empty)}");

            var rulesFile = Path.Combine(work, "bench.rules");
            File.WriteAllText(rulesFile, RulesBenchmark.BuildRuleSet(RulesBenchmark.FindCorpus(context), out var lines));
            var fixture = Path.Combine(context.RepositoryRoot, "tests", "fixtures", "events", "recorded");
            var replicated = Path.Combine(work, "audit.log");
            EventsBenchmark.Replicate(fixture, replicated);
            var diverse = EventsBenchmark.DiverseLog(context);
            var warmUp = new[] { Path.Combine(fixture, "audit.log"), Path.Combine(fixture, "host") };

            var verdicts = new List<string>();
            var failures = new List<string>();
            Compare(context, $"rules: parse + validate {lines:N0} lines", "lines/s", current, baseline, ["rules", rulesFile], verdicts, failures);
            Compare(context, "events, every field interpreted: replicated fixture", "events/s", current, baseline,
                ["events", replicated, Path.Combine(fixture, "host"), .. warmUp], verdicts, failures);
            Compare(context, "events, every field interpreted: diverse log", "events/s", current, baseline,
                ["events", diverse.Path, diverse.HostRoot, .. warmUp], verdicts, failures);

            context.Report(string.Empty);
            foreach (var verdict in verdicts)
            {
                context.Report(verdict);
            }
            if (failures.Count > 0)
            {
                throw new BenchmarkFailedException($"split: {string.Join("; ", failures)}");
            }
        }
        finally
        {
            Directory.Delete(work, true);
        }
    }

    private static void Compare(BenchmarkContext context, string what, string unit, string current, string baseline, string[] arguments,
        List<string> verdicts, List<string> failures)
    {
        context.Report(string.Empty);
        context.Report(what);
        var runs = new List<(string Build, ProbeResult Result)>();
        for (var round = 0; round < Rounds; round++)
        {
            // Alternate which build goes first, so that neither always runs on a warmer page cache.
            var order = round % 2 == 0 ? new[] { ("current", current), ("baseline", baseline) } : [("baseline", baseline), ("current", current)];
            foreach (var (build, probe) in order)
            {
                var result = RunProbe(context, probe, arguments);
                runs.Add((build, result));
                context.Report($"  round {round + 1} {build,-8} CPU {result.CpuSeconds,8:F3} s  elapsed {result.Seconds,8:F3} s  " +
                               $"{result.Count / result.CpuSeconds,12:N0} {unit} of CPU  allocated {result.AllocatedBytes / 1048576.0,9:N1} MiB");
            }
        }

        var bestCurrent = runs.Where(r => r.Build == "current").MinBy(r => r.Result.CpuSeconds).Result;
        var bestBaseline = runs.Where(r => r.Build == "baseline").MinBy(r => r.Result.CpuSeconds).Result;
        if (bestCurrent.Count != bestBaseline.Count)
        {
            failures.Add($"{what}: the builds counted {bestCurrent.Count} and {bestBaseline.Count}");
        }
        var ratio = bestBaseline.CpuSeconds / bestCurrent.CpuSeconds;
        var verdict = ratio >= Tolerance ? "no slower" : "SLOWER";
        verdicts.Add($"SPLIT {what}: current / baseline speed {ratio:F2}x by CPU time ({verdict}; best of {Rounds} each; " +
                     $"elapsed {bestBaseline.Seconds / bestCurrent.Seconds:F2}x; allocation {(double)bestCurrent.AllocatedBytes / bestBaseline.AllocatedBytes:F2}x the baseline's)" +
                     (bestCurrent.Checksum == bestBaseline.Checksum ? string.Empty : "; interpreted text differs in length (interpretation changed since the baseline)"));
    }

    private static string BuildProbe(BenchmarkContext context, string tree, string output)
    {
        var project = Path.Combine(tree, "tests", "AksAuditd.SplitProbe", "AksAuditd.SplitProbe.csproj");
        EventsBenchmark.Capture(tree, "dotnet", "build", project, "-c", "Release", "-o", output, "-nologo", "-v", "quiet");
        return Path.Combine(output, "AksAuditd.SplitProbe.dll");
    }

    private static string ExtractCommit(BenchmarkContext context, string commit, string destination)
    {
        Directory.CreateDirectory(destination);
        var archive = destination + ".tar";
        Git(context, "archive", "--format=tar", "-o", archive, commit);
        EventsBenchmark.Capture(destination, "tar", "-xf", archive);
        File.Delete(archive);
        return destination;
    }

    private static ProbeResult RunProbe(BenchmarkContext context, string probe, string[] arguments)
    {
        var output = EventsBenchmark.Capture(context.RepositoryRoot, "dotnet", [probe, .. arguments]);
        var match = Regex.Match(output, @"^result seconds=(\S+) cpu=(\S+) allocated=(\d+) count=(\d+) checksum=(\d+)$", RegexOptions.Multiline);
        if (!match.Success)
        {
            throw new BenchmarkFailedException($"split: {probe} printed no result: {output}");
        }
        double Number(int group) => double.Parse(match.Groups[group].Value, CultureInfo.InvariantCulture);
        return new ProbeResult(Number(1), Number(2), (long)Number(3), (long)Number(4), (long)Number(5));
    }

    private static string Git(BenchmarkContext context, params string[] arguments) =>
        EventsBenchmark.Capture(context.RepositoryRoot, "git", arguments);

    private static void CopyDirectory(string source, string destination)
    {
        Directory.CreateDirectory(destination);
        foreach (var file in Directory.EnumerateFiles(source).Where(f => !f.Contains("/bin/") && !f.Contains("/obj/")))
        {
            File.Copy(file, Path.Combine(destination, Path.GetFileName(file)), overwrite: true);
        }
    }

    private sealed record ProbeResult(double Seconds, double CpuSeconds, long AllocatedBytes, long Count, long Checksum);
}
