using AksAuditd.Core.Configuration;

namespace AksAuditd.Core.Sync;

public enum DriftStatus
{
    /// <summary>In the source only: the sync will add it.</summary>
    Added,

    /// <summary>On the node only and ours to remove (recorded as placed by us, or any such file in Mirror mode).</summary>
    Removed,

    /// <summary>On both, with different contents.</summary>
    Modified,

    Unchanged,

    /// <summary>On the node only, placed by another agent; left alone in Managed mode.</summary>
    Foreign,
}

/// <summary>How one file of the source compares with the node.</summary>
public sealed class FileDrift
{
    public FileDrift(SyncKind kind, string name, DriftStatus status, string? sourceHash, string? targetHash, string? sourcePath, string targetPath)
    {
        Kind = kind;
        Name = name;
        Status = status;
        SourceHash = sourceHash;
        TargetHash = targetHash;
        SourcePath = sourcePath;
        TargetPath = targetPath;
    }

    public SyncKind Kind { get; }

    public string Name { get; }

    public DriftStatus Status { get; }

    /// <summary>SHA-256 (hex) of the source file; null when it is not in the source.</summary>
    public string? SourceHash { get; }

    /// <summary>SHA-256 (hex) of the node file; null when it is not on the node.</summary>
    public string? TargetHash { get; }

    public string? SourcePath { get; }

    /// <summary>The node file's path (where it is, or would be written).</summary>
    public string TargetPath { get; }

    public override string ToString() => $"{Status} {Name}";

    /// <summary>
    /// Compares a source with a node directory. A node file missing from the source is Removed in Mirror
    /// mode, and in Managed mode only when <paramref name="managed"/> says we placed it; otherwise Foreign.
    /// </summary>
    public static IReadOnlyList<FileDrift> Compare(SyncKind kind, SourceFileSet source, NodeFileSet target, SyncMode mode, IReadOnlySet<string> managed)
    {
        var drift = new List<FileDrift>(Math.Max(source.Files.Count, target.Files.Count));
        foreach (var file in source.Files)
        {
            var path = Path.Combine(target.Directory, file.Name);
            var sourcePath = Path.Combine(source.Directory, file.Name);
            if (target.Files.TryGetValue(file.Name, out var node))
            {
                var status = node.Sha256 == file.Sha256 ? DriftStatus.Unchanged : DriftStatus.Modified;
                drift.Add(new FileDrift(kind, file.Name, status, file.Sha256, node.Sha256, sourcePath, path));
            }
            else
            {
                drift.Add(new FileDrift(kind, file.Name, DriftStatus.Added, file.Sha256, null, sourcePath, path));
            }
        }

        foreach (var node in target.Files.Values)
        {
            if (source.Find(node.Name) is null)
            {
                var status = mode == SyncMode.Mirror || managed.Contains(node.Name) ? DriftStatus.Removed : DriftStatus.Foreign;
                drift.Add(new FileDrift(kind, node.Name, status, null, node.Sha256, null, node.Path));
            }
        }

        drift.Sort((a, b) => string.CompareOrdinal(a.Name, b.Name));
        return drift;
    }
}
