using System.Globalization;
using System.Text.Json;
using AksAuditd.Core.Logging;

namespace AksAuditd.Core.Sync;

/// <summary>
/// The backup generations under <c>&lt;StatePath&gt;/backup/&lt;kind&gt;/</c> (see <see cref="BackupGeneration"/>
/// for the layout). Every sync saves what it is about to overwrite or delete here first, so nothing that was
/// on the node is lost, including files we never created. The last <see cref="KeepGenerations"/> generations
/// of each kind are kept.
/// </summary>
public sealed class BackupStore
{
    public const int KeepGenerations = 10;

    private const string TemporaryPrefix = ".tmp-";
    private const UnixFileMode PrivateDirectory = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;
    private const UnixFileMode PrivateFile = UnixFileMode.UserRead | UnixFileMode.UserWrite;

    private readonly INodeFileSystem _fs;
    private readonly ILogSink _log;

    public BackupStore(string statePath, INodeFileSystem? fileSystem = null, ILogSink? log = null)
    {
        StatePath = statePath;
        _fs = fileSystem ?? LinuxNodeFileSystem.Instance;
        _log = log ?? NullLogSink.Instance;
    }

    public string StatePath { get; }

    public string Root => Path.Combine(StatePath, "backup");

    public string KindDirectory(string kind) => Path.Combine(Root, kind);

    /// <summary>The finished generations of a kind ("rules" or "plugins"), oldest first.</summary>
    public IReadOnlyList<BackupGeneration> List(string kind)
    {
        var directory = KindDirectory(kind);
        if (_fs.Stat(directory).Type != NodeFileType.Directory)
        {
            return Array.Empty<BackupGeneration>();
        }

        var generations = new List<BackupGeneration>();
        foreach (var name in _fs.List(directory).Where(n => !n.StartsWith('.')).Order(StringComparer.Ordinal))
        {
            var generation = TryLoad(Path.Combine(directory, name));
            if (generation is not null)
            {
                generations.Add(generation);
            }
        }

        return generations;
    }

    public IReadOnlyList<BackupGeneration> List(SyncKind kind) => List(kind.StateName());

    /// <summary>The newest generation of a kind: restoring it undoes the last sync. Null when there is none.</summary>
    public BackupGeneration? Latest(string kind) => List(kind).LastOrDefault();

    public BackupGeneration? Latest(SyncKind kind) => Latest(kind.StateName());

    /// <summary>Reads a generation from its directory.</summary>
    public static BackupGeneration Load(string generationDirectory, INodeFileSystem? fileSystem = null)
    {
        var fs = fileSystem ?? LinuxNodeFileSystem.Instance;
        var manifest = Path.Combine(generationDirectory, "manifest.json");
        var generation = JsonSerializer.Deserialize(fs.Read(manifest, 64 << 20), SyncJson.Default.BackupGeneration)
            ?? throw new InvalidDataException($"{manifest} is empty.");
        generation.Path = generationDirectory;
        return generation;
    }

    /// <summary>
    /// Puts <paramref name="targetDirectory"/> back as it was before <paramref name="generation"/>'s change:
    /// every replaced or removed file is written back (atomically, with its old mode and owner) and every added
    /// file is deleted. Files the change did not touch are left alone. What the restore overwrites is itself
    /// saved as a new generation. Takes the same lock as a sync.
    /// </summary>
    /// <exception cref="SyncException">The target is locked or missing, a saved file is damaged, or writing failed (nothing is changed then).</exception>
    public RestoreResult Restore(BackupGeneration generation, string targetDirectory, TimeSpan? lockTimeout = null)
    {
        // The manifest decides which paths are written, deleted and with which mode: check it before anything.
        if (generation.Unsafe() is { } problem)
        {
            throw new SyncException(SyncFailure.StateUnusable, generation.ManifestPath, $"The backup manifest {generation.ManifestPath} is refused, nothing was restored: {problem}");
        }

        var kind = generation.Kind == SyncKind.Plugins.StateName() ? SyncKind.Plugins : SyncKind.Rules;
        using var targetLock = TargetLock.Acquire(targetDirectory, lockTimeout ?? TargetLock.DefaultTimeout, _fs);
        var writes = new List<NodeWrite>();
        foreach (var entry in generation.Saved)
        {
            var path = generation.SavedFile(entry.Name);
            byte[] contents;
            try
            {
                contents = _fs.Read(path, int.MaxValue);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                throw new SyncException(SyncFailure.StateUnusable, path, $"The backup of {entry.Name} cannot be read: {e.Message}", e);
            }

            var sha = ContentHash.Sha256Hex(contents);
            if (sha != entry.Sha256)
            {
                throw new SyncException(SyncFailure.StateUnusable, path, $"The backup of {entry.Name} in {generation.Path} is damaged: its SHA-256 is {sha}, the manifest says {entry.Sha256}.");
            }

            writes.Add(new NodeWrite(entry.Name, contents, sha, entry.UnixMode, entry.Uid, entry.Gid));
        }

        var deletes = generation.Added.Select(a => a.Name).Where(n => _fs.Stat(Path.Combine(targetDirectory, n)).Exists).ToList();
        var writer = new AtomicDirectoryWriter(_fs, _log);
        var applied = writer.Apply(targetDirectory, kind, writes, deletes, this, BackupCause.Restore(generation), beforeCommit: null);
        _log.Info("Restored a backup generation",
            new LogField("generation", generation.Path), new LogField("target", targetDirectory),
            new LogField("written", applied.Written.Count), new LogField("deleted", applied.Deleted.Count));
        return new RestoreResult(generation, applied.Written, applied.Deleted, applied.Backup);
    }

    /// <summary>
    /// Saves what a change is about to overwrite or delete in <paramref name="targetDirectory"/>. When the
    /// newest generation for this target was never completed (its sync was killed) and the node still holds
    /// either its old or its new bytes for every name it covers, it is extended instead, so it keeps describing
    /// the directory as it was before the first, interrupted attempt.
    /// </summary>
    internal BackupGeneration Prepare(SyncKind kind, string targetDirectory, BackupCause cause, IReadOnlyList<NodeWrite> writes, IReadOnlyList<string> deletes)
    {
        var kindDirectory = KindDirectory(kind.StateName());
        _fs.CreateDirectory(kindDirectory, PrivateDirectory);
        var latest = Latest(kind);
        // Only a change of the same kind carries on an unfinished generation: a sync never takes over a killed
        // restore's, whose saved files are the rejected set the restore was undoing (a later rollback of the sync
        // would then put that set back).
        var extend = latest is { Completed: null } && latest.Target == targetDirectory && latest.Restores == cause.Restores
            && latest.Unsafe() is null && CanExtend(latest, targetDirectory);

        var replaced = new List<BackupEntry>();
        var removed = new List<BackupEntry>();
        var added = new List<BackupEntry>();
        var filesDirectory = extend ? Path.Combine(latest!.Path, "files") : null;
        string? staging = null;
        if (!extend)
        {
            staging = Path.Combine(kindDirectory, TemporaryPrefix + Guid.NewGuid().ToString("N"));
            _fs.CreateDirectory(staging, PrivateDirectory);
            filesDirectory = Path.Combine(staging, "files");
            _fs.CreateDirectory(filesDirectory, PrivateDirectory);
        }

        try
        {
            foreach (var (name, newSha) in writes.Select(w => (w.Name, (string?)w.Sha256)).Concat(deletes.Select(d => (d, (string?)null))))
            {
                if (extend && latest!.Covers(name))
                {
                    continue;
                }

                var path = Path.Combine(targetDirectory, name);
                var identity = _fs.Stat(path);
                if (!identity.Exists)
                {
                    if (newSha is not null)
                    {
                        added.Add(new BackupEntry { Name = name, Sha256 = newSha, NewSha256 = newSha, Mode = "0640" });
                    }

                    continue;
                }

                var contents = _fs.Read(path, int.MaxValue);
                var saved = Path.Combine(filesDirectory!, name);
                if (_fs.Stat(saved).Exists)
                {
                    _fs.Delete(saved); // an orphan from an extension that was killed before its manifest was written
                }

                _fs.WriteNew(saved, contents, PrivateFile, NodeOwner.Unchanged, NodeOwner.Unchanged);
                var entry = new BackupEntry
                {
                    Name = name,
                    Sha256 = ContentHash.Sha256Hex(contents),
                    Size = contents.Length,
                    Mode = "0" + Convert.ToString(identity.Mode & 0x1FF, 8).PadLeft(3, '0'),
                    Uid = identity.Uid,
                    Gid = identity.Gid,
                    NewSha256 = newSha,
                };
                (newSha is null ? removed : replaced).Add(entry);
            }

            if (extend)
            {
                var generation = latest!;
                // The directory now heads for this attempt's source; a rejection must name that one.
                var retargeted = generation.Source != cause.Source || generation.SourceFingerprint != cause.SourceFingerprint || generation.Restores != cause.Restores;
                generation.Source = cause.Source;
                generation.SourceFingerprint = cause.SourceFingerprint;
                generation.Restores = cause.Restores;
                if (replaced.Count + removed.Count + added.Count > 0 || retargeted)
                {
                    generation.Replaced.AddRange(replaced);
                    generation.Removed.AddRange(removed);
                    generation.Added.AddRange(added);
                    _fs.SyncDirectory(filesDirectory!);
                    WriteManifest(generation);
                }

                _log.Debug("Extending the backup generation of an interrupted sync", new LogField("generation", generation.Path));
                return generation;
            }

            var id = NewId(kindDirectory);
            var created = new BackupGeneration
            {
                Id = id,
                Kind = kind.StateName(),
                Target = targetDirectory,
                Reason = cause.Reason,
                Source = cause.Source,
                SourceFingerprint = cause.SourceFingerprint,
                Restores = cause.Restores,
                Created = DateTimeOffset.UtcNow,
                Replaced = replaced,
                Removed = removed,
                Added = added,
                Path = staging!,
            };
            _fs.SyncDirectory(filesDirectory!);
            WriteManifest(created);
            var final = Path.Combine(kindDirectory, id);
            _fs.Rename(staging!, final);
            _fs.SyncDirectory(kindDirectory);
            created.Path = final;
            return created;
        }
        catch
        {
            if (staging is not null)
            {
                TryDeleteDirectory(staging);
            }

            throw;
        }
    }

    /// <summary>Marks a generation's change finished and drops the oldest generations beyond <see cref="KeepGenerations"/>.</summary>
    internal void Complete(BackupGeneration generation)
    {
        generation.Completed = DateTimeOffset.UtcNow;
        WriteManifest(generation);
        Prune(generation.Kind);
    }

    /// <summary>Removes unfinished generation directories (from a killed sync) and generations beyond the limit.</summary>
    internal void Prune(string kind)
    {
        var directory = KindDirectory(kind);
        if (_fs.Stat(directory).Type != NodeFileType.Directory)
        {
            return;
        }

        foreach (var name in _fs.List(directory).Where(n => n.StartsWith(TemporaryPrefix, StringComparison.Ordinal)))
        {
            TryDeleteDirectory(Path.Combine(directory, name));
        }

        var names = _fs.List(directory).Where(n => !n.StartsWith('.')).Order(StringComparer.Ordinal).ToList();
        foreach (var name in names.Take(Math.Max(0, names.Count - KeepGenerations)))
        {
            // Rename first: a half-deleted generation must never look like a generation with files missing.
            var doomed = Path.Combine(directory, TemporaryPrefix + "old-" + name);
            _fs.Rename(Path.Combine(directory, name), doomed);
            TryDeleteDirectory(doomed);
        }
    }

    /// <summary>
    /// A killed sync's generation can be extended only if each name it covers still holds the bytes from before
    /// (or nothing, for an added one) or the bytes that sync was writing; anything else is a later hand edit,
    /// which deserves a generation of its own.
    /// </summary>
    private bool CanExtend(BackupGeneration generation, string targetDirectory)
    {
        foreach (var entry in generation.Replaced.Concat(generation.Removed).Concat(generation.Added))
        {
            var path = Path.Combine(targetDirectory, entry.Name);
            var identity = _fs.Stat(path);
            var isAdded = generation.Added.Contains(entry);
            if (!identity.Exists)
            {
                if (isAdded || entry.NewSha256 is null)
                {
                    continue;
                }

                return false;
            }

            var sha = ContentHash.Sha256Hex(_fs.Read(path, int.MaxValue));
            if (sha != entry.NewSha256 && (isAdded || sha != entry.Sha256))
            {
                return false;
            }
        }

        return true;
    }

    private void WriteManifest(BackupGeneration generation)
    {
        var temporary = Path.Combine(generation.Path, $".manifest.{Guid.NewGuid():N}.tmp");
        _fs.WriteNew(temporary, JsonSerializer.SerializeToUtf8Bytes(generation, SyncJson.Default.BackupGeneration), PrivateFile, NodeOwner.Unchanged, NodeOwner.Unchanged);
        _fs.Rename(temporary, generation.ManifestPath);
        _fs.SyncDirectory(generation.Path);
    }

    private BackupGeneration? TryLoad(string directory)
    {
        try
        {
            return _fs.Stat(Path.Combine(directory, "manifest.json")).Exists ? Load(directory, _fs) : null;
        }
        catch (Exception e) when (e is JsonException or IOException or InvalidDataException)
        {
            _log.Warn("Skipping an unreadable backup generation", new LogField("generation", directory), new LogField("error", e.Message));
            return null;
        }
    }

    private string NewId(string kindDirectory)
    {
        const string format = "yyyyMMdd'T'HHmmssfffffff'Z'";
        var id = DateTime.UtcNow.ToString(format, CultureInfo.InvariantCulture);
        var newest = _fs.List(kindDirectory).Where(n => !n.StartsWith('.')).Order(StringComparer.Ordinal).LastOrDefault();
        if (newest is null || string.CompareOrdinal(id, newest) > 0)
        {
            return id;
        }

        // Two changes within one tick, or a clock that went back: ids must still sort by age.
        return DateTime.TryParseExact(newest, format, CultureInfo.InvariantCulture, DateTimeStyles.AdjustToUniversal | DateTimeStyles.AssumeUniversal, out var last)
            ? last.AddTicks(1).ToString(format, CultureInfo.InvariantCulture)
            : newest + "1";
    }

    private void TryDeleteDirectory(string path)
    {
        try
        {
            _fs.DeleteDirectory(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            _log.Warn("Could not delete a backup directory", new LogField("path", path), new LogField("error", e.Message));
        }
    }
}
