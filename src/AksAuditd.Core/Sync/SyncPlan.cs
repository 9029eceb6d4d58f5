using AksAuditd.Core.Configuration;

namespace AksAuditd.Core.Sync;

/// <summary>
/// What a sync will do to a node directory: files to write (added or modified) and files to remove.
/// Foreign files are listed only to say they are left alone.
/// </summary>
public sealed class SyncPlan
{
    public SyncPlan(SyncKind kind, string sourcePath, string targetPath, SyncMode mode, IReadOnlyList<FileDrift> drift)
    {
        Kind = kind;
        SourcePath = sourcePath;
        TargetPath = targetPath;
        Mode = mode;
        Drift = drift;
    }

    public SyncKind Kind { get; }

    public string SourcePath { get; }

    public string TargetPath { get; }

    public SyncMode Mode { get; }

    public IReadOnlyList<FileDrift> Drift { get; }

    public IEnumerable<string> Added => Names(DriftStatus.Added);

    public IEnumerable<string> Modified => Names(DriftStatus.Modified);

    public IEnumerable<string> Removed => Names(DriftStatus.Removed);

    public IEnumerable<string> Foreign => Names(DriftStatus.Foreign);

    public bool IsEmpty => !Drift.Any(d => d.Status is DriftStatus.Added or DriftStatus.Modified or DriftStatus.Removed);

    /// <summary>One line for a confirmation prompt or a log: "2 added, 1 modified, 0 removed".</summary>
    public string Summary => $"{Added.Count()} added, {Modified.Count()} modified, {Removed.Count()} removed";

    private IEnumerable<string> Names(DriftStatus status) => Drift.Where(d => d.Status == status).Select(d => d.Name);
}
