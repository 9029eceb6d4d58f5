using AksAuditd.Core.Configuration;
using AksAuditd.Core.Rules;
using AksAuditd.Core.Sync;
using Xunit;

namespace AksAuditd.Core.Tests.Sync;

/// <summary>
/// On the node side, a name the sync owns or would write that is a FIFO, device, directory, oversized file or not
/// UTF-8 stops the sync with an error naming it, in bounded time, and the node keeps its files.
/// </summary>
public sealed class TargetBoundsTests
{
    private const string GoodRule = "-w /etc/passwd -p wa -k identity\n";
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(20);

    public static TheoryData<string> Cases => new(Spoilers.Keys);

    private static readonly Dictionary<string, Action<string>> Spoilers = new()
    {
        ["FIFO"] = path => BadInputTests.Run("mkfifo", path),
        ["character device"] = path => BadInputTests.Run("mknod", path, "c", "1", "3"),
        ["directory"] = path => Directory.CreateDirectory(path),
        ["symlink to a FIFO"] = path => { BadInputTests.Run("mkfifo", path + ".fifo"); File.CreateSymbolicLink(path, path + ".fifo"); },
        ["sparse file over 16 MiB"] = path => { using var f = File.Create(path); f.SetLength(NodeFileSet.MaxNodeFileBytes + 1L); },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void ASourceNameThatIsNotAFileOnTheNodeIsAnErrorNamingIt(string kind)
    {
        using var dir = new SyncTestDirectory();
        dir.WriteSource("10-base.rules", GoodRule);
        dir.WriteTarget("50-other.rules", "-w /opt -p wa\n");
        var spoiled = Path.Combine(dir.Target, "10-base.rules");
        Spoilers[kind](spoiled);
        var before = Entries(dir.Target);

        var e = Assert.Throws<SyncException>(() => Bounded(() => new SyncService(new RuleValidator()).Sync(Request(dir, SyncMode.Managed))));

        Assert.Equal(SyncFailure.TargetFileUnusable, e.Failure);
        Assert.Equal(spoiled, e.Path);
        Assert.Contains(spoiled, e.Message);
        Assert.Equal(before, Entries(dir.Target));
    }

    [Fact]
    public void AForeignFifoIsLeftAloneInManagedModeAndRefusedInMirrorMode()
    {
        using var dir = new SyncTestDirectory();
        dir.WriteSource("10-base.rules", GoodRule);
        var fifo = Path.Combine(dir.Target, "60-agent.rules");
        BadInputTests.Run("mkfifo", fifo);

        var managed = Bounded(() => new SyncService(new RuleValidator()).Sync(Request(dir, SyncMode.Managed)));
        Assert.Equal(new[] { "10-base.rules" }, managed.Added);

        var e = Assert.Throws<SyncException>(() => Bounded(() => new SyncService(new RuleValidator()).Sync(Request(dir, SyncMode.Mirror))));
        Assert.Equal(fifo, e.Path);
        Assert.Equal(NodeFileType.Other, LinuxNodeFileSystem.Instance.Stat(fifo, followSymlinks: false).Type);
    }

    [Fact]
    public void ANodeNameThatIsNotUtf8IsRefusedInMirrorModeAndLeftAloneInManagedMode()
    {
        using var dir = new SyncTestDirectory();
        dir.WriteSource("10-base.rules", GoodRule);
        BadInputTests.Run("bash", "-c", $"printf -- '-D\\n' > \"{dir.Target}/$(printf '20-\\xff\\xfe').rules\"");

        var managed = new SyncService(new RuleValidator()).Sync(Request(dir, SyncMode.Managed));
        Assert.Equal(new[] { "10-base.rules" }, managed.Added);

        var e = Assert.Throws<SyncException>(() => new SyncService(new RuleValidator()).Sync(Request(dir, SyncMode.Mirror)));
        Assert.Equal(SyncFailure.TargetFileUnusable, e.Failure);
        Assert.Contains("not UTF-8", e.Message);
        Assert.Single(Directory.GetFiles(dir.Target), f => f.Contains('\uFFFD'));
    }

    [Fact]
    public void ReadingAFifoNeverBlocks()
    {
        using var dir = new SyncTestDirectory();
        var fifo = Path.Combine(dir.Target, "x.rules");
        BadInputTests.Run("mkfifo", fifo);

        var e = Assert.Throws<NotARegularFileException>(() => Bounded(() => LinuxNodeFileSystem.Instance.Read(fifo, 1024)));

        Assert.Equal(fifo, e.Path);
    }

    private static SyncRequest Request(SyncTestDirectory dir, SyncMode mode) =>
        new() { Kind = SyncKind.Rules, SourcePath = dir.Source, TargetPath = dir.Target, StatePath = dir.State, Mode = mode };

    /// <summary>Runs on another thread and fails the test (instead of hanging the run) when it does not end in time.</summary>
    private static T Bounded<T>(Func<T> action)
    {
        var task = Task.Run(action);
        if (!((IAsyncResult)task).AsyncWaitHandle.WaitOne(Bound))
        {
            throw new TimeoutException($"Still running after {Bound}: the sync blocked.");
        }

        return task.GetAwaiter().GetResult();
    }

    private static SortedDictionary<string, string> Entries(string directory) =>
        new(Directory.EnumerateFileSystemEntries(directory).ToDictionary(
            p => Path.GetFileName(p),
            p => LinuxNodeFileSystem.Instance.Stat(p, followSymlinks: false) is var id ? $"{id.Type}:{id.Inode}:{id.Size}" : string.Empty), StringComparer.Ordinal);
}
