using AksAuditd.Core.Sync;

namespace AksAuditd.Core.Host;

/// <summary>
/// Which sync backup generations Restart-Auditd has already made the kernel enforce (<c>&lt;state&gt;/node/applied-&lt;kind&gt;</c>,
/// holding a <see cref="BackupGeneration.Id"/>), so Auto reloads once per change instead of on every poll; and
/// the boot for which immutable mode was already reported; and whether a restart is still owed (one that ran
/// and did not succeed), so the next pass tries again even when no generation is pending.
/// </summary>
public sealed class NodeApplyState
{
    private readonly string _directory;

    public NodeApplyState(string stateDirectory) => _directory = Path.Combine(stateDirectory, "node");

    /// <summary>The id of the newest generation of <paramref name="kind"/> the kernel enforced; null when none was.</summary>
    public string? Applied(string kind)
    {
        var path = Path.Combine(_directory, "applied-" + kind);
        return File.Exists(path) ? File.ReadAllText(path).Trim() : null;
    }

    /// <summary>True when <paramref name="generation"/> is newer than the last one applied.</summary>
    public bool IsPending(BackupGeneration generation) => string.CompareOrdinal(generation.Id, Applied(generation.Kind)) > 0;

    public void MarkApplied(BackupGeneration generation) => Write("applied-" + generation.Kind, generation.Id);

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

    /// <summary>Why the last restart failed, when it did and none succeeded since; null when no restart is owed.</summary>
    public string? RestartOwed()
    {
        var path = Path.Combine(_directory, "restart-owed");
        return File.Exists(path) ? File.ReadAllText(path).Trim() : null;
    }

    /// <summary>Records that a restart is owed (with why), or with null that none is.</summary>
    public void SetRestartOwed(string? reason)
    {
        if (reason is not null)
        {
            Write("restart-owed", reason.ReplaceLineEndings(" "));
        }
        else if (File.Exists(Path.Combine(_directory, "restart-owed")))
        {
            File.Delete(Path.Combine(_directory, "restart-owed"));
        }
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
