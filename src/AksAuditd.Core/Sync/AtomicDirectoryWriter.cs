using AksAuditd.Core.Logging;

namespace AksAuditd.Core.Sync;

/// <summary>A file to put in a node directory: exact bytes, mode and owner.</summary>
public sealed record NodeWrite(string Name, byte[] Contents, string Sha256, UnixFileMode Mode, uint Uid, uint Gid);

/// <summary>What <see cref="AtomicDirectoryWriter.Apply"/> changed, and where the previous files were saved.</summary>
public sealed record AppliedChange(IReadOnlyList<string> Written, IReadOnlyList<string> Deleted, BackupGeneration? Backup);

/// <summary>
/// Changes a node directory so that a reader (augenrules, auditd) only ever sees complete files, and so that
/// a failure leaves the directory as it was:
/// <list type="number">
/// <item>every new file is written under a temporary name augenrules and auditd ignore, with its final mode and
/// owner, and fsynced (a full disk fails here, before anything visible changed);</item>
/// <item>whatever will be overwritten or deleted is copied into a backup generation;</item>
/// <item>each temporary file is renamed over its target (atomic), then removed files are unlinked, then the
/// directory is fsynced. If a rename or unlink fails, the ones already done are undone from the backup.</item>
/// </list>
/// The caller holds the <see cref="TargetLock"/>. A process killed midway leaves complete old or complete new
/// files plus temporary files, which the next run deletes.
/// </summary>
public sealed class AtomicDirectoryWriter
{
    private const int NoSpace = 28; // ENOSPC
    private const int QuotaExceeded = 122; // EDQUOT

    private readonly INodeFileSystem _fs;
    private readonly ILogSink _log;

    public AtomicDirectoryWriter(INodeFileSystem fs, ILogSink log)
    {
        _fs = fs;
        _log = log;
    }

    /// <summary>
    /// Writes <paramref name="writes"/> and deletes <paramref name="deletes"/> in <paramref name="directory"/>;
    /// <paramref name="beforeCommit"/> runs after the backup and before the first visible change (the sync widens
    /// its managed-file record there).
    /// </summary>
    /// <exception cref="SyncException">Nothing visible was changed, or every change was undone.</exception>
    public AppliedChange Apply(string directory, SyncKind kind, IReadOnlyList<NodeWrite> writes, IReadOnlyList<string> deletes, BackupStore backups, BackupCause cause, Action? beforeCommit)
    {
        if (writes.Count == 0 && deletes.Count == 0)
        {
            return new AppliedChange(Array.Empty<string>(), Array.Empty<string>(), null);
        }

        var staged = new List<(NodeWrite Write, string Temporary)>();
        try
        {
            foreach (var write in writes)
            {
                var temporary = Path.Combine(directory, NodeFileSet.TemporaryPrefix + Guid.NewGuid().ToString("N"));
                staged.Add((write, temporary));
                _fs.WriteNew(temporary, write.Contents, write.Mode, write.Uid, write.Gid);
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            RemoveTemporaries(staged.Select(s => s.Temporary));
            throw Failure(e, directory, $"Could not write the new files into {directory}; the node's files are unchanged");
        }

        BackupGeneration backup;
        try
        {
            backup = backups.Prepare(kind, directory, cause, writes, deletes);
            beforeCommit?.Invoke();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or SyncException)
        {
            RemoveTemporaries(staged.Select(s => s.Temporary));
            if (e is SyncException sync)
            {
                throw sync;
            }

            throw Failure(e, backups.StatePath, $"Could not save a backup under {backups.StatePath}; the node's files are unchanged", SyncFailure.StateUnusable);
        }

        var written = new List<string>();
        var deleted = new List<string>();
        try
        {
            foreach (var (write, temporary) in staged)
            {
                _fs.Rename(temporary, Path.Combine(directory, write.Name));
                written.Add(write.Name);
            }

            foreach (var name in deletes)
            {
                _fs.Delete(Path.Combine(directory, name));
                deleted.Add(name);
            }

            _fs.SyncDirectory(directory);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            RemoveTemporaries(staged.Select(s => s.Temporary).Skip(written.Count));
            var undone = Undo(directory, backup, written.Concat(deleted).ToList());
            throw Failure(e, directory, undone
                ? $"Changing {directory} failed midway; the {written.Count + deleted.Count} files already changed were put back from {backup.Path}"
                : $"Changing {directory} failed midway and could not be fully undone; the previous files are in {backup.Path}");
        }

        backups.Complete(backup);
        return new AppliedChange(written, deleted, backup);
    }

    /// <summary>Deletes temporary files a killed run left in the directory.</summary>
    public void RemoveLeftovers(string directory, IEnumerable<string> names)
    {
        foreach (var name in names)
        {
            _log.Info("Removing a temporary file left by an interrupted sync", new LogField("file", Path.Combine(directory, name)));
            _fs.Delete(Path.Combine(directory, name));
        }
    }

    private bool Undo(string directory, BackupGeneration backup, IReadOnlyList<string> names)
    {
        var complete = true;
        foreach (var name in names)
        {
            var path = Path.Combine(directory, name);
            try
            {
                var entry = backup.Find(name);
                if (entry is null || backup.Added.Contains(entry))
                {
                    _fs.Delete(path);
                    continue;
                }

                var temporary = Path.Combine(directory, NodeFileSet.TemporaryPrefix + Guid.NewGuid().ToString("N"));
                _fs.WriteNew(temporary, _fs.Read(backup.SavedFile(name), int.MaxValue), entry.UnixMode, entry.Uid, entry.Gid);
                _fs.Rename(temporary, path);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                complete = false;
                _log.Error("Could not put a file back after a failed sync", new LogField("file", path), new LogField("error", e.Message));
            }
        }

        return complete;
    }

    private void RemoveTemporaries(IEnumerable<string> paths)
    {
        foreach (var path in paths)
        {
            try
            {
                _fs.Delete(path);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                _log.Warn("Could not delete a temporary file; the next sync removes it", new LogField("file", path), new LogField("error", e.Message));
            }
        }
    }

    private static SyncException Failure(Exception e, string path, string what, SyncFailure otherwise = SyncFailure.WriteFailed)
    {
        var failure = e.HResult is NoSpace or QuotaExceeded ? SyncFailure.InsufficientSpace : otherwise;
        var reason = failure == SyncFailure.InsufficientSpace ? "no space left on the device" : e.Message;
        return new SyncException(failure, path, $"{what}: {reason}.", e);
    }
}
