using AksAuditd.Core.Logging;

namespace AksAuditd.Core.Sync;

/// <summary>One file in the node's rules.d or plugins.d that the sync kind counts.</summary>
public sealed record NodeFile(string Name, string Path, FileIdentity Identity, string Sha256)
{
    /// <summary>The content's <see cref="ContentHash.Fingerprint"/>, to re-check it without another SHA-256.</summary>
    public UInt128 Fingerprint { get; init; }
}

/// <summary>A counted name in a node directory that the sync cannot read as a file: a FIFO, device, directory, oversized file or a name that is not UTF-8.</summary>
public sealed record UnusableNodeFile(string Name, string Path, string Reason);

/// <summary>
/// The counted files of a node directory (*.rules or *.conf), with their hashes, and the sync's own
/// leftover temporary files from a run that was killed.
/// </summary>
public sealed class NodeFileSet
{
    /// <summary>
    /// Our temporary files start with a dot and end in .tmp: augenrules lists rules.d without -a and keeps
    /// only names ending in .rules, and auditd skips plugins.d names that start with a dot or have two dots.
    /// </summary>
    public const string TemporaryPrefix = ".aks-auditd-tmp.";

    /// <summary>The largest node file the sync reads (rules and plugin files are kilobytes; a source file may have 1 MiB).</summary>
    public const int MaxNodeFileBytes = 16 * 1024 * 1024;

    public NodeFileSet(string directory, IReadOnlyDictionary<string, NodeFile> files, IReadOnlyList<string> leftovers, IReadOnlyList<UnusableNodeFile>? unusable = null)
    {
        Directory = directory;
        Files = files;
        Leftovers = leftovers;
        Unusable = unusable ?? Array.Empty<UnusableNodeFile>();
        Ordered = files.Values.OrderBy(f => f.Name, StringComparer.Ordinal).ToArray();
    }

    /// <summary>The files in name order; position i is re-hashed on polls where i % 10 equals the poll number % 10.</summary>
    internal NodeFile[] Ordered { get; }

    public string Directory { get; }

    public IReadOnlyDictionary<string, NodeFile> Files { get; }

    /// <summary>Counted names that are not readable regular files; the sync refuses to touch them when they are ours or the source's.</summary>
    public IReadOnlyList<UnusableNodeFile> Unusable { get; }

    /// <summary>Temporary files a killed sync left behind (names in <see cref="Directory"/>).</summary>
    public IReadOnlyList<string> Leftovers { get; }

    public static bool IsTemporary(string name) => name.StartsWith(TemporaryPrefix, StringComparison.Ordinal);

    /// <summary>
    /// Bumped by the cache whenever a scan finds a name added, removed or hashed differently; equal versions
    /// from one cache mean the directory held the same files.
    /// </summary>
    public long Version { get; init; }

    /// <summary>Lists and hashes a node directory, re-hashing only what the cache cannot vouch for.</summary>
    /// <exception cref="SyncException">The directory is missing or is not a directory.</exception>
    public static NodeFileSet Scan(string directory, SyncKind kind, TargetCache cache, INodeFileSystem fs, ILogSink log)
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

        var poll = cache.BeginScan();
        if (cache.Quiet(directory, fs) && cache.Last is { } last && last.Directory == directory && last.Leftovers.Count == 0
            && SliceUnchanged(last, poll, cache, fs))
        {
            // Nothing in the directory was written, created, deleted, renamed or chmod'ed since the last scan
            // (inotify), and this poll's tenth still hashes the same: the last scan still holds.
            return last;
        }

        var entries = fs.ListWithIdentities(directory).ToArray();
        Array.Sort(entries, (a, b) => string.CompareOrdinal(a.Name, b.Name));
        var files = new Dictionary<string, NodeFile>(entries.Length, StringComparer.Ordinal);
        var leftovers = new List<string>();
        var unusable = new List<UnusableNodeFile>();
        var index = 0;
        foreach (var (name, fileIdentity) in entries)
        {
            if (IsTemporary(name))
            {
                leftovers.Add(name);
                continue;
            }

            if (!kind.Counts(name) || name.StartsWith('.'))
            {
                continue; // not read by augenrules/auditd
            }

            if (name.Contains('\uFFFD'))
            {
                // The runtime shows bytes that are not UTF-8 as U+FFFD: the name cannot be opened, replaced or removed by it.
                unusable.Add(new UnusableNodeFile(name, Path.Combine(directory, name), "has a name that is not UTF-8"));
                continue;
            }

            if (fileIdentity.Type is NodeFileType.Directory or NodeFileType.Other)
            {
                unusable.Add(new UnusableNodeFile(name, Path.Combine(directory, name), "is " + NotARegularFileException.Describe(fileIdentity.Type) + ", not a regular file"));
                continue;
            }

            if (fileIdentity.Type != NodeFileType.Regular)
            {
                continue; // a dangling link: absent
            }

            if (fileIdentity.Size > MaxNodeFileBytes)
            {
                unusable.Add(new UnusableNodeFile(name, Path.Combine(directory, name), $"is {fileIdentity.Size} bytes; the sync reads node files of at most {MaxNodeFileBytes} bytes"));
                continue;
            }

            var verify = index++ % TargetCache.VerifyEveryPolls == poll % TargetCache.VerifyEveryPolls;
            if (!cache.TryGet(name, fileIdentity, verify, out var file))
            {
                var path = Path.Combine(directory, name);
                var started = DateTime.UtcNow;
                byte[] contents;
                try
                {
                    contents = fs.Read(path, MaxNodeFileBytes);
                }
                catch (FileNotFoundException)
                {
                    continue; // removed while we looked: absent
                }
                catch (Exception e) when (e is NotARegularFileException or FileTooLargeException)
                {
                    // Replaced between the listing and the open.
                    unusable.Add(new UnusableNodeFile(name, path, e.Message));
                    continue;
                }

                // The same bytes as last time (a touch, or this poll's re-check): the SHA-256 is known already.
                var fingerprint = ContentHash.Fingerprint(contents);
                var remembered = cache.Remembered(name);
                file = remembered is not null && remembered.Fingerprint == fingerprint
                    ? remembered with { Path = path, Identity = fileIdentity }
                    : new NodeFile(name, path, fileIdentity, ContentHash.Sha256Hex(contents)) { Fingerprint = fingerprint };
                if (verify && remembered is not null && remembered.Sha256 != file.Sha256 && cache.TryGet(name, fileIdentity, false, out _))
                {
                    log.Warn("A node file changed without any trace in stat (same size, times and inode); it is treated as modified",
                        new LogField("file", path));
                }

                cache.Put(file, started);
            }

            files[name] = file!;
        }

        var version = cache.EndScan(files);
        var set = new NodeFileSet(directory, files, leftovers, unusable) { Version = version };
        cache.Last = set;
        return set;
    }

    /// <summary>Re-reads this poll's tenth of the files; false at the first one that is not as remembered.</summary>
    private static bool SliceUnchanged(NodeFileSet last, long poll, TargetCache cache, INodeFileSystem fs)
    {
        for (var i = (int)(poll % TargetCache.VerifyEveryPolls); i < last.Ordered.Length; i += TargetCache.VerifyEveryPolls)
        {
            var file = last.Ordered[i];
            var started = DateTime.UtcNow;
            var identity = fs.Stat(file.Path);
            if (!identity.SameContentsAs(file.Identity))
            {
                return false;
            }

            byte[] contents;
            try
            {
                contents = fs.Read(file.Path, MaxNodeFileBytes);
            }
            catch (Exception e) when (e is FileNotFoundException or NotARegularFileException or FileTooLargeException)
            {
                return false;
            }

            if (ContentHash.Fingerprint(contents) != file.Fingerprint)
            {
                return false;
            }

            cache.Verified(file, started);
        }

        return true;
    }
}
