namespace AksAuditd.Core.Sync;

/// <summary>
/// An exclusive flock(2) on the target directory itself, held for a whole sync or restore, so the old and the
/// new pod of a rolling update never interleave their writes. Locking the directory (not a lock file in it)
/// adds nothing to rules.d, and the kernel drops the lock when the holder dies, even by kill -9.
/// </summary>
public sealed class TargetLock : IDisposable
{
    public static readonly TimeSpan DefaultTimeout = TimeSpan.FromSeconds(60);

    private readonly IDisposable _lock;

    private TargetLock(IDisposable held) => _lock = held;

    /// <exception cref="SyncException">The target is missing, not a directory, or stays locked past <paramref name="timeout"/>.</exception>
    public static TargetLock Acquire(string directory, TimeSpan timeout, INodeFileSystem fs)
    {
        var identity = fs.Stat(directory);
        if (!identity.Exists)
        {
            throw new SyncException(SyncFailure.TargetMissing, directory, $"The target directory {directory} does not exist.");
        }

        if (identity.Type != NodeFileType.Directory)
        {
            throw new SyncException(SyncFailure.TargetNotADirectory, directory, $"The target {directory} is not a directory.");
        }

        var held = fs.TryLockDirectory(directory, timeout)
            ?? throw new SyncException(SyncFailure.TargetLocked, directory, $"Another process has held the lock on {directory} for more than {timeout.TotalSeconds:0} s.");
        return new TargetLock(held);
    }

    public void Dispose() => _lock.Dispose();
}
