using System.Diagnostics;
using System.Globalization;

namespace AksAuditd.Benchmarks;

/// <summary>
/// Measure-AuditEvent beside <c>aureport --key --summary</c> on the same log of at least 100 MiB (the real recorded
/// log replicated, as the events benchmark makes it), both timed inside one pwsh session with Measure-Command, so
/// each side pays for its own process start the way an operator would. Best of three rounds; counts must agree.
/// </summary>
public sealed class MeasureBenchmark : IBenchmark
{
    private const int Rounds = 3;

    public string Name => "measure";

    public void Run(BenchmarkContext context)
    {
        var fixture = Path.Combine(context.RepositoryRoot, "tests", "fixtures", "events", "recorded");
        var hostRoot = Path.Combine(fixture, "host");
        var work = Path.Combine(Path.GetTempPath(), $"aksauditd-bench-measure-{Environment.ProcessId}");
        Directory.CreateDirectory(work);
        try
        {
            var log = Path.Combine(work, "audit.log");
            var megabytes = EventsBenchmark.Replicate(fixture, log) / 1048576.0;
            context.Report(string.Create(CultureInfo.InvariantCulture, $"log: {megabytes:F1} MiB at {log}, replicated from {fixture}"));
            var script = $$"""
                $ErrorActionPreference = 'Stop'
                $env:TZ = 'UTC'; $env:LC_ALL = 'C'
                Import-Module '{{Path.Combine(context.ModulePath, "AksAuditd.psd1")}}'
                $null = Measure-AuditEvent -LiteralPath '{{fixture}}' -HostRoot '{{hostRoot}}'
                foreach ($round in 1..{{Rounds}}) {
                    $aureport = $null; $groups = $null
                    $a = Measure-Command { $script:aureport = aureport --key --summary -if '{{log}}' }
                    [GC]::Collect()
                    [IO.File]::WriteAllText('/proc/self/clear_refs', '5')
                    $before = [long]((Get-Content /proc/self/status | Where-Object { $_ -like "VmRSS:*" }) -replace "\D", "") * 1024
                    $m = Measure-Command { $script:groups = Measure-AuditEvent -LiteralPath '{{log}}' -HostRoot '{{hostRoot}}' }
                    $peak = (Get-Content /proc/self/status | Where-Object { $_ -like 'VmHWM:*' }) -replace '\D', ''
                    $expected = @{}
                    foreach ($line in $aureport) { if ($line -match '^\s*(\d+)\s+(\S.*)$') { $expected[$Matches[2].Trim()] = [long]$Matches[1] } }
                    $actual = @{}
                    foreach ($g in $groups) { if ($g.Name -ne '(none)') { $actual[$g.Name] = $g.Events } }
                    $same = $expected.Count -gt 0 -and $expected.Count -eq $actual.Count -and @($expected.Keys | Where-Object { $expected[$_] -ne $actual[$_] }).Count -eq 0
                    $total = ($expected.Values | Measure-Object -Sum).Sum
                    "RESULT $round $($a.TotalSeconds) $($m.TotalSeconds) $([long]$peak * 1024 - $before) $same $total"
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
            if (results.Count != Rounds)
            {
                throw new InvalidOperationException($"the pwsh session printed no result: {output} {errors.Result}");
            }

            var aureport = results.Min(r => double.Parse(r[2], CultureInfo.InvariantCulture));
            var measure = results.Min(r => double.Parse(r[3], CultureInfo.InvariantCulture));
            var rss = results.Max(r => long.Parse(r[4], CultureInfo.InvariantCulture)) / 1048576.0;
            context.Report($"best of {Rounds} rounds, both timed by Measure-Command in one pwsh session");
            context.Report(string.Create(CultureInfo.InvariantCulture, $"{"aureport --key --summary",-36} {aureport,8:F2} s {megabytes / aureport,8:F1} MiB/s"));
            context.Report(string.Create(CultureInfo.InvariantCulture, $"{"Measure-AuditEvent (-GroupBy Key)",-36} {measure,8:F2} s {megabytes / measure,8:F1} MiB/s"));
            context.Report(string.Create(CultureInfo.InvariantCulture, $"ratio aureport / Measure-AuditEvent: {aureport / measure:F2}x (target >= 1x, no slower than aureport)"));
            context.Report(string.Create(CultureInfo.InvariantCulture, $"peak RSS growth during Measure-AuditEvent: {rss:F0} MiB (flat: the log is {megabytes:F0} MiB)"));
            context.Report(results.All(r => r[5] == "True")
                ? $"key counts agree with aureport in every round ({results[0][6]} keyed events)"
                : $"KEY COUNTS DIFFER from aureport: {string.Join("; ", results.Select(r => string.Join(' ', r)))}");
        }
        finally
        {
            Directory.Delete(work, true);
        }
    }
}
