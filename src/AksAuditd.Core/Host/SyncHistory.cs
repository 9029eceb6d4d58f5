namespace AksAuditd.Core.Host;

/// <summary>The newest backup generation the sync wrote for one kind of directory (rules or plugins).</summary>
public sealed record SyncGeneration(string Kind, string Id, DateTimeOffset Created);

/// <summary>
/// What the node side needs from the sync's backups: which generations exist (each one is a sync that changed
/// something), and putting rules.d back as it was before one of them.
/// </summary>
public interface ISyncHistory
{
    /// <summary>The newest completed generation of each kind; empty when the sync never changed anything.</summary>
    IReadOnlyList<SyncGeneration> Latest();

    /// <summary>Puts rules.d back as it was before <paramref name="generation"/>; returns a sentence saying what changed.</summary>
    string RestoreRules(SyncGeneration generation);
}

/// <summary>
/// Which sync generations Restart-Auditd has already applied (<c>&lt;state&gt;/node/applied</c>), so Auto reloads
/// once per change instead of on every poll; and the boot for which immutable mode was already reported.
/// </summary>
public sealed class NodeApplyState
{
    private readonly string _directory;

    public NodeApplyState(string stateDirectory) => _directory = Path.Combine(stateDirectory, "node");

    public string? Applied(string kind)
    {
        var path = Path.Combine(_directory, "applied-" + kind);
        return File.Exists(path) ? File.ReadAllText(path).Trim() : null;
    }

    public void MarkApplied(SyncGeneration generation) => Write("applied-" + generation.Kind, generation.Id);

    /// <summary>Records that this boot's immutable state was reported; false when it already was.</summary>
    public bool MarkRebootReported(string bootId)
    {
        var path = Path.Combine(_directory, "reboot-required");
        if (File.Exists(path) && File.ReadAllText(path).Trim() == bootId)
        {
            return false;
        }

        Write("reboot-required", bootId);
        return true;
    }

    private void Write(string name, string value)
    {
        Directory.CreateDirectory(_directory);
        var path = Path.Combine(_directory, name);
        var temporary = path + ".tmp";
        File.WriteAllText(temporary, value + "\n");
        File.Move(temporary, path, overwrite: true);
    }
}
