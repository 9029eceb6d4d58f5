using System.Diagnostics;
using AksAuditd.Core.Configuration;
using AksAuditd.Core.Rules;
using AksAuditd.Core.Sync;

// Protocol with the crash-consistency test: print "ready", read "<source> <killAt>" from stdin, sync the source
// into the target and kill -9 this very process just before its killAt-th change to the disk (or in the middle
// of it, for a file write), so every kill lands inside the sync however slow the machine is. A sync that ends
// first prints "done <changes>". Arguments: <target> <state> <Managed|Mirror>
// Or "restore <generation directory> <n>": restore that backup generation into the target and kill -9 this
// process just before its n-th rename into the target (the restore's own backup generation is then on disk,
// unfinished, and the target half put back).
if (args.Length != 3)
{
    Console.Error.WriteLine("usage: AksAuditd.SyncCrashHost <target> <state> <Managed|Mirror>");
    return 2;
}

// A whole sync on scratch directories first: the JIT work happens now, while the test is still checking the
// previous kill, not between the test's "go" and the chosen change.
// Beside the test's own target, so that a host killed during its warm-up leaves nothing the test does not delete.
var warmup = Path.Combine(Path.GetDirectoryName(Path.GetFullPath(args[0]))!, "crash-warmup-" + Environment.ProcessId);
try
{
    Directory.CreateDirectory(Path.Combine(warmup, "source"));
    Directory.CreateDirectory(Path.Combine(warmup, "target"));
    File.WriteAllText(Path.Combine(warmup, "source", "10-warm.rules"), "-D\n");
    File.WriteAllText(Path.Combine(warmup, "target", "10-warm.rules"), "-b 8192\n");
    File.WriteAllText(Path.Combine(warmup, "target", "20-gone.rules"), "-b 8192\n");
    new SyncService(new AcceptAll()).Sync(new SyncRequest
    {
        Kind = SyncKind.Rules, SourcePath = Path.Combine(warmup, "source"), TargetPath = Path.Combine(warmup, "target"), StatePath = Path.Combine(warmup, "state"), Mode = SyncMode.Mirror,
    });
}
finally
{
    Directory.Delete(warmup, recursive: true);
}

Console.Out.WriteLine("ready");
var line = Console.In.ReadLine();
if (string.IsNullOrEmpty(line))
{
    return 0;
}

var parts = line.Split(' ');
if (parts[0] == "restore")
{
    var killing = new KillingFileSystem(LinuxNodeFileSystem.Instance, int.MaxValue) { KillAtRenameInto = (args[0], int.Parse(parts[2])) };
    new BackupStore(args[1], killing).Restore(BackupStore.Load(parts[1]), args[0]);
    Console.Out.WriteLine($"done {killing.Changes}");
    return 0;
}

var fileSystem = new KillingFileSystem(LinuxNodeFileSystem.Instance, int.Parse(parts[1]));
var service = new SyncService(new AcceptAll(), fileSystem: fileSystem);
service.Sync(new SyncRequest { Kind = SyncKind.Rules, SourcePath = parts[0], TargetPath = args[0], StatePath = args[1], Mode = Enum.Parse<SyncMode>(args[2]) });
Console.Out.WriteLine($"done {fileSystem.Changes}");
return 0;

/// <summary>Validation is not what the crash test checks.</summary>
internal sealed class AcceptAll : IRuleFileValidator
{
    public IReadOnlyList<RuleDiagnostic> Validate(string path, string text) => Array.Empty<RuleDiagnostic>();
}

/// <summary>The real file system, plus SIGKILL to this process at the chosen change.</summary>
internal sealed class KillingFileSystem : INodeFileSystem
{
    private readonly INodeFileSystem _inner;
    private readonly int _killAt;

    public KillingFileSystem(INodeFileSystem inner, int killAt)
    {
        _inner = inner;
        _killAt = killAt;
    }

    public int Changes { get; private set; }

    /// <summary>Also dies just before the n-th rename whose destination is in this directory.</summary>
    public (string Directory, int Rename)? KillAtRenameInto { get; init; }

    private int _renamesInto;

    public FileIdentity Stat(string path, bool followSymlinks = true) => _inner.Stat(path, followSymlinks);

    public IReadOnlyList<string> List(string directory) => _inner.List(directory);

    public IReadOnlyList<(string Name, FileIdentity Identity)> ListWithIdentities(string directory, bool followSymlinks = true) => _inner.ListWithIdentities(directory, followSymlinks);

    public byte[] Read(string path, int limit) => _inner.Read(path, limit);

    public string? ReadLink(string path) => _inner.ReadLink(path);

    public string? RealPath(string path) => _inner.RealPath(path);

    public void WriteNew(string path, ReadOnlySpan<byte> contents, UnixFileMode mode, uint uid, uint gid)
    {
        if (++Changes == _killAt)
        {
            // Die with the file half written, as a kill during write(2) leaves it.
            using (var partial = new FileStream(path, FileMode.CreateNew))
            {
                partial.Write(contents[..(contents.Length / 2)]);
            }

            Die();
        }

        _inner.WriteNew(path, contents, mode, uid, gid);
    }

    public void Rename(string source, string destination)
    {
        if (KillAtRenameInto is { } at && Path.GetDirectoryName(destination) == at.Directory && ++_renamesInto == at.Rename)
        {
            Die();
        }

        Change(() => _inner.Rename(source, destination));
    }

    public void Delete(string path) => Change(() => _inner.Delete(path));

    public void CreateDirectory(string path, UnixFileMode mode) => Change(() => _inner.CreateDirectory(path, mode));

    public void DeleteDirectory(string path) => Change(() => _inner.DeleteDirectory(path));

    public void SyncDirectory(string directory) => Change(() => _inner.SyncDirectory(directory));

    public IDisposable? TryLockDirectory(string directory, TimeSpan wait) => _inner.TryLockDirectory(directory, wait);

    public IDirectoryWatch? Watch(string directory) => _inner.Watch(directory);

    private void Change(Action change)
    {
        if (++Changes == _killAt)
        {
            Die();
        }

        change();
    }

    private static void Die()
    {
        Console.Out.Flush();
        Process.GetCurrentProcess().Kill(); // SIGKILL: no finally blocks, no flush, no cleanup
        Thread.Sleep(Timeout.Infinite);
    }
}
