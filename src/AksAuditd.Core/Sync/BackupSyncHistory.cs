using AksAuditd.Core.Host;

namespace AksAuditd.Core.Sync;

/// <summary>
/// The sync's backup generations as the node side's <see cref="ISyncHistory"/>: every completed generation is
/// one sync that changed rules.d or plugins.d, which Restart-Auditd -Mode Auto applies once; restoring the newest
/// rules generation is how it rolls back a rule set the kernel refused.
/// </summary>
public sealed class BackupSyncHistory : ISyncHistory
{
    private readonly BackupStore _store;
    private readonly string _rulesDirectory;

    /// <param name="rulesDirectory">The node's rules.d as this process reaches it.</param>
    public BackupSyncHistory(BackupStore store, string rulesDirectory)
    {
        _store = store;
        _rulesDirectory = rulesDirectory;
    }

    public IReadOnlyList<SyncGeneration> Latest()
    {
        var latest = new List<SyncGeneration>();
        foreach (var kind in new[] { SyncKind.Rules, SyncKind.Plugins })
        {
            // A generation without Completed belongs to a sync that was killed before it changed anything for good.
            var generation = _store.List(kind).LastOrDefault(g => g.Completed is not null);
            if (generation is not null)
            {
                latest.Add(new SyncGeneration(kind.StateName(), generation.Id, generation.Created));
            }
        }

        return latest;
    }

    public string RestoreRules(SyncGeneration generation)
    {
        var backup = _store.List(SyncKind.Rules).SingleOrDefault(g => g.Id == generation.Id)
            ?? throw new InvalidOperationException($"No rules backup generation {generation.Id} in {_store.Root}.");
        var restored = _store.Restore(backup, _rulesDirectory);
        return $"{restored.Written.Count} files put back, {restored.Deleted.Count} removed";
    }
}
