using System.Diagnostics;
using System.Security.Cryptography;
using AksAuditd.Core.Configuration;
using AksAuditd.Core.Rules;
using AksAuditd.Core.Sync;

namespace AksAuditd.Benchmarks;

/// <summary>
/// The no-change poll with 10, 100 and 1000 rules files of 2 KiB in a kubelet-style ConfigMap volume, against the
/// baseline of the tool we replace: re-hash every file on both sides every poll.
/// </summary>
public sealed class SyncBenchmark : IBenchmark
{
    public string Name => "sync";

    public void Run(BenchmarkContext context)
    {
        var root = Path.Combine(Path.GetTempPath(), "aks-auditd-bench-sync-" + Guid.NewGuid().ToString("N")[..8]);
        try
        {
            double? previous = null;
            foreach (var count in new[] { 10, 100, 1000 })
            {
                var (source, target, state) = Layout(Path.Combine(root, count.ToString()), count);
                var service = new SyncService(new AcceptAll());
                var session = new SyncSession(SyncKind.Rules, source, target);
                var request = new SyncRequest { Kind = SyncKind.Rules, SourcePath = source, TargetPath = target, StatePath = state };
                service.Sync(request, session);
                Thread.Sleep(200); // past the racily-clean window
                service.Sync(request, session);

                var polls = count >= 1000 ? 50 : 200;
                var ours = Measure(polls, () =>
                {
                    if (service.Sync(request, session).Changed)
                    {
                        throw new InvalidOperationException("a no-change poll changed the node");
                    }
                });
                var baseline = Measure(polls, () => RehashBoth(source, target));
                context.Report($"sync no-change poll, {count,4} files: {ours * 1000,8:0.000} ms  (baseline re-hash both sides {baseline * 1000,8:0.000} ms)  {baseline / ours,6:0.0}x cheaper");
                if (previous is { } p)
                {
                    context.Report($"    growth from {count / 10} to {count} files: ours x{ours / p:0.0} (file count x10)");
                }

                previous = ours;
            }
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }

    /// <summary>The replaced tool's poll: read and hash every file in the ConfigMap and in rules.d.</summary>
    private static int RehashBoth(string source, string target)
    {
        var hashes = 0;
        foreach (var directory in new[] { source, target })
        {
            foreach (var file in Directory.EnumerateFiles(directory, "*.rules"))
            {
                hashes += SHA256.HashData(File.ReadAllBytes(file))[0];
            }
        }

        return hashes;
    }

    private static double Measure(int polls, Action poll)
    {
        poll();
        var best = double.MaxValue;
        for (var round = 0; round < 5; round++)
        {
            var clock = Stopwatch.StartNew();
            for (var i = 0; i < polls; i++)
            {
                poll();
            }

            best = Math.Min(best, clock.Elapsed.TotalSeconds / polls);
        }

        return best;
    }

    private static (string Source, string Target, string State) Layout(string root, int count)
    {
        var source = Path.Combine(root, "configmap");
        var version = Path.Combine(source, "..2025_01_31_10_00_00.000000001");
        Directory.CreateDirectory(version);
        var line = "-a always,exit -F arch=b64 -S openat -F dir=/etc -F success=0 -k denied-etc-access-bench\n";
        var text = string.Concat(Enumerable.Repeat(line, 2048 / line.Length + 1))[..2047] + "\n";
        for (var i = 0; i < count; i++)
        {
            var name = $"{i:D4}-bench.rules";
            File.WriteAllText(Path.Combine(version, name), text);
            File.CreateSymbolicLink(Path.Combine(source, name), "..data/" + name);
        }

        File.CreateSymbolicLink(Path.Combine(source, "..data"), Path.GetFileName(version));
        var target = Path.Combine(root, "rules.d");
        Directory.CreateDirectory(target);
        return (source, target, Path.Combine(root, "state"));
    }

    private sealed class AcceptAll : IRuleFileValidator
    {
        public IReadOnlyList<RuleDiagnostic> Validate(string path, string text) => Array.Empty<RuleDiagnostic>();
    }
}
