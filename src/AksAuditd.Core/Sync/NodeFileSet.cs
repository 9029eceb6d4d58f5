using System.Security.Cryptography;
using AksAuditd.Core.Logging;

namespace AksAuditd.Core.Sync;

/// <summary>One file in the node's rules.d or plugins.d that the sync kind counts.</summary>
public sealed record NodeFile(string Name, string Path, FileIdentity Identity, string Sha256);

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

    public NodeFileSet(string directory, IReadOnlyDictionary<string, NodeFile> files, IReadOnlyList<string> leftovers)
    {
        Directory = directory;
        Files = files;
        Leftovers = leftovers;
    }

    public string Directory { get; }

    public IReadOnlyDictionary<string, NodeFile> Files { get; }

    /// <summary>Temporary files a killed sync left behind (names in <see cref="Directory"/>).</summary>
    public IReadOnlyList<string> Leftovers { get; }

    public static bool IsTemporary(string name) => name.StartsWith(TemporaryPrefix, StringComparison.Ordinal);

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
        var names = fs.List(directory).Order(StringComparer.Ordinal).ToList();
        var files = new Dictionary<string, NodeFile>(StringComparer.Ordinal);
        var leftovers = new List<string>();
        var index = 0;
        foreach (var name in names)
        {
            if (IsTemporary(name))
            {
                leftovers.Add(name);
                continue;
            }

            if (!kind.Counts(name) || name.StartsWith('.'))
            {
                continue;
            }

            var path = Path.Combine(directory, name);
            var fileIdentity = fs.Stat(path);
            if (fileIdentity.Type != NodeFileType.Regular)
            {
                continue; // a directory or a dangling link named *.rules: augenrules cannot read it either
            }

            var verify = index++ % TargetCache.VerifyEveryPolls == poll % TargetCache.VerifyEveryPolls;
            if (!cache.TryGet(name, fileIdentity, verify, out var sha))
            {
                var started = DateTime.UtcNow;
                byte[] contents;
                try
                {
                    contents = fs.Read(path, int.MaxValue);
                }
                catch (FileNotFoundException)
                {
                    continue; // removed while we looked: absent
                }

                sha = Convert.ToHexStringLower(SHA256.HashData(contents));
                var known = cache.Known(name);
                if (verify && known is not null && known != sha && cache.TryGet(name, fileIdentity, false, out _))
                {
                    log.Warn("A node file changed without any trace in stat (same size, times and inode); it is treated as modified",
                        new LogField("file", path));
                }

                cache.Put(name, fileIdentity, sha, started);
            }

            files[name] = new NodeFile(name, path, fileIdentity, sha!);
        }

        cache.Retain(files.Keys.ToList());
        return new NodeFileSet(directory, files, leftovers);
    }
}
