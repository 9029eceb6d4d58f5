using System.Diagnostics;
using System.Security.Cryptography;
using System.Text;
using AksAuditd.Core.Configuration;
using AksAuditd.Core.Rules;
using AksAuditd.Core.Sync;
using Xunit;
using Xunit.Abstractions;

namespace AksAuditd.Core.Tests.Sync;

/// <summary>
/// Runs the sync in a separate process (AksAuditd.SyncCrashHost) that SIGKILLs itself at a random change to the
/// disk (a random point chosen by the test, landing inside the sync however loaded the machine is). After each
/// kill: every rules file holds its complete old or complete new contents; the real augenrules, run in a private
/// mount namespace with the target bind-mounted over /etc/audit/rules.d, sees exactly those files (no temporary
/// file); the next run converges; and every backup generation is intact, the newest one restoring the directory
/// as it was before the killed sync.
/// </summary>
public sealed class CrashConsistencyTests
{
    private const int Kills = 200;
    private readonly ITestOutputHelper _output;

    public CrashConsistencyTests(ITestOutputHelper output) => _output = output;

    [Fact]
    public void KilledAtRandomPointsTheNodeAlwaysHoldsCompleteFilesAndTheNextRunConverges()
    {
        // On tmpfs: a kill -9 loses nothing that was written (fsync is about power cuts), and 200 syncs' fsyncs
        // on a shared disk would only make the test slow.
        using var dir = new SyncTestDirectory("/dev/shm");
        var sources = new[] { Path.Combine(dir.Root, "a"), Path.Combine(dir.Root, "b") };
        var versions = new[] { Version("a", 0..24), Version("b", 8..32) }; // 16 names in both, 8 only in each
        for (var i = 0; i < 2; i++)
        {
            Directory.CreateDirectory(sources[i]);
            foreach (var (name, text) in versions[i])
            {
                File.WriteAllText(Path.Combine(sources[i], name), text);
            }
        }

        const string foreignName = "99-defender.rules";
        const string foreignText = "-w /opt/microsoft/mdatp -p wa -k mdatp\n";
        dir.WriteTarget(foreignName, foreignText);
        var service = new SyncService(new RuleValidator());
        SyncRequest Request(int i) => new() { Kind = SyncKind.Rules, SourcePath = sources[i], TargetPath = dir.Target, StatePath = dir.State, Mode = SyncMode.Managed };
        service.Sync(Request(0));

        var host = Path.Combine(AppContext.BaseDirectory, "AksAuditd.SyncCrashHost");
        var fakeEtcAudit = Path.Combine(dir.Root, "etc-audit");
        Directory.CreateDirectory(Path.Combine(fakeEtcAudit, "rules.d"));
        var random = new Random(20250131);
        var changesPerSync = 60; // refined from every sync that is allowed to finish
        var midway = 0;
        var references = new Dictionary<string, string>(); // audit.rules that augenrules makes from each set of complete files
        var checkedStates = new HashSet<string>();
        var augenrulesRuns = 0;
        var clock = Stopwatch.StartNew();
        using var next = new CrashHost(host, dir.Target, dir.State);
        var current = next.Take();
        for (var kill = 0; kill < Kills; kill++)
        {
            var from = kill % 2;
            var to = 1 - from;
            var before = Snapshot(dir.Target);

            // Mostly a random change of the sync; one run in ten goes to the end to measure how many there are.
            var killAt = kill % 10 == 9 ? int.MaxValue : random.Next(1, changesPerSync + 1);
            var finished = current.Run(sources[to], killAt);
            if (finished is { } changes)
            {
                changesPerSync = changes;
            }

            var spare = next.Take(); // starts loading while we check
            var after = Snapshot(dir.Target);

            // 1. Complete old or complete new contents, our temporary files hidden, foreign file untouched.
            var visible = after.Where(p => !NodeFileSet.IsTemporary(p.Key)).ToDictionary(p => p.Key, p => p.Value);
            foreach (var (name, text) in visible)
            {
                var legal = name == foreignName ? text == foreignText
                    : versions[from].GetValueOrDefault(name) == text || versions[to].GetValueOrDefault(name) == text;
                Assert.True(legal, $"kill {kill} at change {killAt}: {name} holds neither its old nor its new contents: {text}");
            }

            Assert.Equal(foreignText, visible[foreignName]);
            var wasMidway = !SameFiles(visible, before) && !SameFiles(visible, Expected(versions[to], foreignName, foreignText));
            if (wasMidway)
            {
                midway++;
            }

            // 2. The real augenrules sees exactly the complete files, never a temporary one. A directory exactly
            // like one already checked (every entry, hidden ones included, same bytes) gives the same answer.
            if (checkedStates.Add(string.Join("\n", after.OrderBy(p => p.Key, StringComparer.Ordinal).Select(p => p.Key + "\0" + p.Value))))
            {
                AssertAugenrulesSeesOnly(visible, dir.Target, fakeEtcAudit, Path.Combine(dir.Root, "reference"), references);
                augenrulesRuns++;
            }

            // 3. The next run converges, and the newest generation puts back what the killed sync started from.
            service.Sync(Request(to));
            Assert.True(SameFiles(Snapshot(dir.Target), Expected(versions[to], foreignName, foreignText)), $"kill {kill}: the next run did not converge");
            AssertBackupsIntact(dir.State);
            Assert.Equal(new[] { "rules.json" }, Directory.EnumerateFiles(Path.Combine(dir.State, "managed")).Select(Path.GetFileName).ToArray());
            Assert.Empty(Directory.EnumerateDirectories(Path.Combine(dir.State, "backup", "rules"), ".*"));
            var latest = new BackupStore(dir.State).Latest("rules")!;
            Assert.NotNull(latest.Completed);
            if (wasMidway || kill % 5 == 0)
            {
                var copy = Path.Combine(dir.Root, "restore-check");
                CopyDirectory(dir.Target, copy);
                new BackupStore(Path.Combine(dir.Root, "scratch-state")).Restore(latest, copy);
                Assert.True(SameFiles(Snapshot(copy), Expected(versions[from], foreignName, foreignText)), $"kill {kill}: the newest backup does not restore the state before the killed sync");
                Directory.Delete(copy, recursive: true);
            }

            current = spare;
        }

        current.Dispose();
        _output.WriteLine($"{Kills} runs in {clock.Elapsed.TotalSeconds:0.0} s, {midway} kills left the directory between the old and the new set; a sync makes {changesPerSync} changes; augenrules checked {augenrulesRuns} distinct directory states");
        Assert.True(midway >= Kills / 10, $"only {midway} of {Kills} kills landed in the middle of a sync: the test is not exercising what it claims");
        Assert.True(new BackupStore(dir.State).List("rules").Count <= 10);
        Assert.True(augenrulesRuns >= midway, "augenrules must have checked every state a kill left midway");
    }

    private static Dictionary<string, string> Version(string tag, Range range) =>
        Enumerable.Range(range.Start.Value, range.End.Value - range.Start.Value).ToDictionary(
            i => $"{i:D2}-rule.rules",
            i => $"## version {tag}\n-w /etc/file{i}-{tag} -p wa -k {tag}{i}\n" + new string('#', 200 * (i % 5)) + "\n");

    private static Dictionary<string, string> Expected(Dictionary<string, string> version, string foreignName, string foreignText) =>
        new(version) { [foreignName] = foreignText };

    private static bool SameFiles(IReadOnlyDictionary<string, string> actual, IReadOnlyDictionary<string, string> expected) =>
        actual.Count == expected.Count && actual.All(p => expected.TryGetValue(p.Key, out var text) && text == p.Value);

    private static Dictionary<string, string> Snapshot(string directory) =>
        Directory.EnumerateFiles(directory).ToDictionary(p => Path.GetFileName(p), File.ReadAllText);

    /// <summary>
    /// augenrules writes /etc/audit/audit.rules from the complete files alone (a reference directory; the result
    /// is remembered per set of files), then <c>augenrules --check</c> against the real target must say "No
    /// change": it read nothing else. Both run in a private mount namespace over a scratch /etc/audit, so the
    /// machine's files are never touched.
    /// </summary>
    private static void AssertAugenrulesSeesOnly(IReadOnlyDictionary<string, string> complete, string target, string fakeEtcAudit, string reference, Dictionary<string, string> references)
    {
        var key = string.Join("\n", complete.OrderBy(p => p.Key, StringComparer.Ordinal).Select(p => p.Key + "\0" + p.Value));
        var auditRules = Path.Combine(fakeEtcAudit, "audit.rules");
        string script;
        if (references.TryGetValue(key, out var known))
        {
            File.WriteAllText(auditRules, known);
            script = $"""
                set -e
                mount --bind '{fakeEtcAudit}' /etc/audit
                mount --bind '{target}' /etc/audit/rules.d
                augenrules --check
                """;
        }
        else
        {
            if (Directory.Exists(reference))
            {
                Directory.Delete(reference, recursive: true);
            }

            Directory.CreateDirectory(reference);
            foreach (var (name, text) in complete)
            {
                File.WriteAllText(Path.Combine(reference, name), text);
            }

            script = $"""
                set -e
                mount --bind '{fakeEtcAudit}' /etc/audit
                mount --bind '{reference}' /etc/audit/rules.d
                augenrules > /dev/null
                umount /etc/audit/rules.d
                mount --bind '{target}' /etc/audit/rules.d
                augenrules --check
                """;
        }

        var start = new ProcessStartInfo("unshare", new[] { "-m", "sh", "-c", script }) { RedirectStandardOutput = true, RedirectStandardError = true };
        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEnd() + process.StandardError.ReadToEnd();
        process.WaitForExit();
        Assert.True(process.ExitCode == 0 && output.Contains("No change"), $"augenrules saw something other than the complete files: {output}");
        references[key] = File.ReadAllText(auditRules);
    }

    private static void AssertBackupsIntact(string state)
    {
        foreach (var generation in new BackupStore(state).List("rules"))
        {
            foreach (var entry in generation.Saved)
            {
                var bytes = File.ReadAllBytes(generation.SavedFile(entry.Name));
                Assert.Equal(entry.Sha256, Convert.ToHexStringLower(SHA256.HashData(bytes)));
            }
        }
    }

    private static void CopyDirectory(string from, string to)
    {
        Directory.CreateDirectory(to);
        foreach (var file in Directory.EnumerateFiles(from))
        {
            File.Copy(file, Path.Combine(to, Path.GetFileName(file)));
        }
    }

    /// <summary>Keeps one host process loaded and waiting, so the next kill does not wait for .NET to start.</summary>
    private sealed class CrashHost : IDisposable
    {
        private readonly string _host;
        private readonly string _target;
        private readonly string _state;
        private Running? _waiting;

        public CrashHost(string host, string target, string state)
        {
            _host = host;
            _target = target;
            _state = state;
        }

        public Running Take()
        {
            var taken = _waiting ?? Start();
            _waiting = Start();
            taken.WaitReady();
            return taken;
        }

        public void Dispose() => _waiting?.Dispose();

        private Running Start()
        {
            var start = new ProcessStartInfo(_host, new[] { _target, _state, nameof(SyncMode.Managed) })
            {
                RedirectStandardInput = true,
                RedirectStandardOutput = true,
                RedirectStandardError = true,
            };
            return new Running(Process.Start(start)!);
        }
    }

    private sealed class Running : IDisposable
    {
        private readonly Process _process;

        public Running(Process process) => _process = process;

        public void WaitReady()
        {
            var line = _process.StandardOutput.ReadLine();
            if (line != "ready")
            {
                Assert.Fail($"crash host did not start: {line} {_process.StandardError.ReadToEnd()}");
            }
        }

        /// <summary>Syncs <paramref name="source"/>, dying by SIGKILL at change <paramref name="killAt"/>; returns the change count when the sync finished first.</summary>
        public int? Run(string source, int killAt)
        {
            _process.StandardInput.WriteLine($"{source} {killAt}");
            _process.StandardInput.Flush();
            var line = _process.StandardOutput.ReadLine();
            _process.WaitForExit();
            if (line is null)
            {
                // The host kills itself with SIGKILL, which the runtime reports as 128 + 9. Any other death (an
                // unhandled exception aborts with SIGABRT, 134) is a crash of the sync, not the planned kill.
                Assert.True(killAt != int.MaxValue, $"the crash host died in a sync it was asked to finish: exit {_process.ExitCode} {_process.StandardError.ReadToEnd()}");
                Assert.True(_process.ExitCode == 137, $"the crash host died other than by its planned SIGKILL: exit {_process.ExitCode} {_process.StandardError.ReadToEnd()}");
                return null;
            }

            Assert.True(line.StartsWith("done ", StringComparison.Ordinal), $"crash host: {line} {_process.StandardError.ReadToEnd()}");
            return int.Parse(line[5..], System.Globalization.CultureInfo.InvariantCulture);
        }

        public void Dispose()
        {
            if (!_process.HasExited)
            {
                _process.Kill();
                _process.WaitForExit();
            }

            _process.Dispose();
        }
    }
}
