using System.Diagnostics;
using AksAuditd.Core.Configuration;
using AksAuditd.Core.Rules;
using AksAuditd.Core.Sync;
using Xunit;

namespace AksAuditd.Core.Tests.Sync;

public sealed class LockTests
{
    /// <summary>Two processes (the old and the new pod) sync different sources at once: one complete set wins.</summary>
    [Fact]
    public void ConcurrentSyncsOfDifferentSourcesEndWithOneCompleteSet()
    {
        using var dir = new SyncTestDirectory();
        var sets = new[] { "a", "b" }.Select(tag => Enumerable.Range(0, 40).ToDictionary(i => $"{i:D2}-{(i % 3 == 0 ? tag : "x")}.rules", i => $"-w /etc/f{i} -p wa -k {tag}\n")).ToArray();
        var sources = new[] { Path.Combine(dir.Root, "a"), Path.Combine(dir.Root, "b") };
        for (var i = 0; i < 2; i++)
        {
            Directory.CreateDirectory(sources[i]);
            foreach (var (name, text) in sets[i])
            {
                File.WriteAllText(Path.Combine(sources[i], name), text);
            }
        }

        var host = Path.Combine(AppContext.BaseDirectory, "AksAuditd.SyncCrashHost");
        for (var round = 0; round < 5; round++)
        {
            var processes = sources.Select(source =>
            {
                var start = new ProcessStartInfo(host, new[] { dir.Target, dir.State, nameof(SyncMode.Managed) }) { RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true };
                var process = Process.Start(start)!;
                Assert.Equal("ready", process.StandardOutput.ReadLine());
                return (process, source);
            }).ToList();

            // Both are loaded and waiting: release them together.
            foreach (var (process, source) in processes)
            {
                process.StandardInput.WriteLine($"{source} {int.MaxValue}");
            }

            foreach (var (process, _) in processes)
            {
                var line = process.StandardOutput.ReadLine();
                process.WaitForExit();
                Assert.True(line?.StartsWith("done", StringComparison.Ordinal) == true, $"{line} {process.StandardError.ReadToEnd()}");
            }

            var result = Directory.EnumerateFileSystemEntries(dir.Target).ToDictionary(p => Path.GetFileName(p), File.ReadAllText);
            Assert.True(Same(result, sets[0]) || Same(result, sets[1]), $"round {round}: a mix of both sources: {string.Join(", ", result.Keys)}");
        }
    }

    [Fact]
    public void ALockHeldElsewhereTimesOutWithTargetLocked()
    {
        using var dir = new SyncTestDirectory();
        dir.WriteSource("10-a.rules", "-D\n");
        using var held = LinuxNodeFileSystem.Instance.TryLockDirectory(dir.Target, TimeSpan.Zero);
        Assert.NotNull(held);

        var e = Assert.Throws<SyncException>(() => new SyncService(new RuleValidator()).Sync(new SyncRequest
        {
            Kind = SyncKind.Rules, SourcePath = dir.Source, TargetPath = dir.Target, StatePath = dir.State, LockTimeout = TimeSpan.FromMilliseconds(200),
        }));

        Assert.Equal(SyncFailure.TargetLocked, e.Failure);
        Assert.Empty(Directory.EnumerateFileSystemEntries(dir.Target));
    }

    private static bool Same(Dictionary<string, string> actual, Dictionary<string, string> expected) =>
        actual.Count == expected.Count && actual.All(p => expected.TryGetValue(p.Key, out var t) && t == p.Value);
}

public sealed class DetectionTests
{
    private static SyncRequest Request(SyncTestDirectory dir) => new() { Kind = SyncKind.Rules, SourcePath = dir.Source, TargetPath = dir.Target, StatePath = dir.State };

    private static void Settle() => Thread.Sleep(150); // past the racily-clean window, so cached hashes are trusted

    [Fact]
    public void ANoChangePollOnlyStatsAndHashesOneTenthOfTheNodeFiles()
    {
        using var dir = new SyncTestDirectory();
        for (var i = 0; i < 100; i++)
        {
            dir.WriteSource($"{i:D3}.rules", $"-w /etc/f{i} -p wa\n");
        }

        var session = new SyncSession(SyncKind.Rules, dir.Source, dir.Target);
        var service = new SyncService(new RuleValidator());
        Settle();
        service.Sync(Request(dir), session);
        Settle();
        service.Sync(Request(dir), session); // re-reads what was racily clean the first time
        var sourceReads = session.Source.FilesRead;
        var targetHashes = session.Target.FilesHashed;

        for (var poll = 0; poll < 10; poll++)
        {
            var result = service.Sync(Request(dir), session);
            Assert.False(result.Changed);
        }

        Assert.Equal(sourceReads, session.Source.FilesRead);
        Assert.Equal(100, session.Target.FilesHashed - targetHashes); // 10 polls x one tenth of 100 files
    }

    /// <summary>With inotify, and without it (out of inotify instances): stat alone then finds the edit.</summary>
    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void AnOrdinaryEditIsRepairedOnTheNextPoll(bool watch)
    {
        using var dir = new SyncTestDirectory();
        dir.WriteSource("10-a.rules", "-w /etc/passwd -p wa\n");
        var session = new SyncSession(SyncKind.Rules, dir.Source, dir.Target);
        var service = new SyncService(new RuleValidator(), fileSystem: new FrozenStat(watch));
        service.Sync(Request(dir), session);
        Settle();
        service.Sync(Request(dir), session);

        File.AppendAllText(Path.Combine(dir.Target, "10-a.rules"), "-w /etc/shadow -p wa\n");
        var result = service.Sync(Request(dir), session);

        Assert.Equal(new[] { "10-a.rules" }, result.Modified);
        Assert.Equal("-w /etc/passwd -p wa\n", dir.ReadTarget("10-a.rules"));
    }

    /// <summary>A hand edit that keeps size and mtime (touch -r) still moves ctime: found on the next poll.</summary>
    [Fact]
    public void AnEditKeepingSizeAndMtimeIsFoundOnTheNextPoll()
    {
        using var dir = new SyncTestDirectory();
        dir.WriteSource("10-a.rules", "-w /etc/passwd -p wa\n");
        var session = new SyncSession(SyncKind.Rules, dir.Source, dir.Target);
        var service = new SyncService(new RuleValidator());
        service.Sync(Request(dir), session);
        Settle();
        service.Sync(Request(dir), session);
        var path = Path.Combine(dir.Target, "10-a.rules");
        var before = LinuxNodeFileSystem.Instance.Stat(path);

        BadInputTests.Run("sh", "-c", $"cp -p '{path}' '{path}.ref' && printf -- '-w /etc/passwd -p r_\\n' > '{path}' && touch -r '{path}.ref' '{path}' && rm '{path}.ref'");
        var after = LinuxNodeFileSystem.Instance.Stat(path);
        Assert.Equal(before.Size, after.Size);
        Assert.Equal(before.ModifiedNs, after.ModifiedNs);

        var result = service.Sync(Request(dir), session);
        Assert.Equal(new[] { "10-a.rules" }, result.Modified);
    }

    /// <summary>
    /// A change stat cannot show at all (a raw edit of the disk, a clock set back, a file system without
    /// reliable ctime), stood in for by a stat that keeps reporting the old identity: the rotating re-hash
    /// still finds it within ten polls.
    /// </summary>
    [Fact]
    public void AChangeInvisibleToStatIsFoundWithinTenPolls()
    {
        using var dir = new SyncTestDirectory();
        for (var i = 0; i < 30; i++)
        {
            dir.WriteSource($"{i:D2}.rules", $"-w /etc/f{i} -p wa\n");
        }

        var frozen = new FrozenStat();
        var service = new SyncService(new RuleValidator(), fileSystem: frozen);
        var session = new SyncSession(SyncKind.Rules, dir.Source, dir.Target);
        service.Sync(Request(dir), session);
        Settle();
        service.Sync(Request(dir), session);

        var victim = Path.Combine(dir.Target, "17.rules");
        frozen.Freeze(victim);
        File.WriteAllText(victim, "-w /etc/f17 -p r_\n");

        var polls = 0;
        SyncResult result;
        do
        {
            result = service.Sync(Request(dir), session);
            polls++;
        }
        while (!result.Changed && polls < 20);

        Assert.Equal(new[] { "17.rules" }, result.Modified);
        // The README promises such an edit "is repaired within 10 polls".
        Assert.True(polls <= 10, $"found after {polls} polls");
        Assert.Equal("-w /etc/f17 -p wa\n", File.ReadAllText(victim));
    }

    /// <summary>The real file system, except that stat of one frozen path keeps answering what it answered first.</summary>
    private sealed class FrozenStat : INodeFileSystem
    {
        private readonly INodeFileSystem _real = LinuxNodeFileSystem.Instance;
        private readonly bool _watch;
        private string? _path;

        public FrozenStat(bool watch = true) => _watch = watch;
        private FileIdentity _identity;

        public void Freeze(string path)
        {
            _identity = _real.Stat(path);
            _path = path;
        }

        public FileIdentity Stat(string path, bool followSymlinks = true) => path == _path ? _identity : _real.Stat(path, followSymlinks);

        public IReadOnlyList<string> List(string directory) => _real.List(directory);

        public IReadOnlyList<(string Name, FileIdentity Identity)> ListWithIdentities(string directory, bool followSymlinks = true) =>
            _real.ListWithIdentities(directory, followSymlinks).Select(e => Path.Combine(directory, e.Name) == _path ? (e.Name, _identity) : e).ToList();

        public byte[] Read(string path, int limit) => _real.Read(path, limit);

        public string? ReadLink(string path) => _real.ReadLink(path);

        public string? RealPath(string path) => _real.RealPath(path);

        public void WriteNew(string path, ReadOnlySpan<byte> contents, UnixFileMode mode, uint uid, uint gid)
        {
            if (path == _path)
            {
                _path = null;
            }

            _real.WriteNew(path, contents, mode, uid, gid);
        }

        public void Rename(string source, string destination)
        {
            if (destination == _path)
            {
                _path = null; // the sync replaced it: a new file, a new identity
            }

            _real.Rename(source, destination);
        }

        public void Delete(string path) => _real.Delete(path);

        public void CreateDirectory(string path, UnixFileMode mode) => _real.CreateDirectory(path, mode);

        public void DeleteDirectory(string path) => _real.DeleteDirectory(path);

        public void SyncDirectory(string directory) => _real.SyncDirectory(directory);

        public IDisposable? TryLockDirectory(string directory, TimeSpan wait) => _real.TryLockDirectory(directory, wait);

        /// <summary>The frozen file's events are dropped too: the change is invisible to inotify as well as to stat.</summary>
        public IDirectoryWatch? Watch(string directory) => _watch && _real.Watch(directory) is { } watch ? new Filtered(watch, directory, this) : null;

        private sealed class Filtered(IDirectoryWatch inner, string directory, FrozenStat owner) : IDirectoryWatch
        {
            public IReadOnlyCollection<string?> TakeEvents() =>
                inner.TakeEvents().Where(name => name is null || Path.Combine(directory, name) != owner._path).ToList();

            public void Dispose() => inner.Dispose();
        }
    }
}
