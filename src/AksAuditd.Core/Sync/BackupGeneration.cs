using System.Text.Json.Serialization;

namespace AksAuditd.Core.Sync;

/// <summary>One node file as it was before a change: enough to put it back byte for byte, with its mode and owner.</summary>
public sealed class BackupEntry
{
    [JsonPropertyName("name")]
    public string Name { get; init; } = string.Empty;

    /// <summary>SHA-256 of the saved contents (for Added: of what the change wrote).</summary>
    [JsonPropertyName("sha256")]
    public string Sha256 { get; init; } = string.Empty;

    [JsonPropertyName("size")]
    public long Size { get; init; }

    /// <summary>Permission bits as an octal string, such as "0640".</summary>
    [JsonPropertyName("mode")]
    public string Mode { get; init; } = "0640";

    [JsonPropertyName("uid")]
    public uint Uid { get; init; }

    [JsonPropertyName("gid")]
    public uint Gid { get; init; }

    /// <summary>SHA-256 of what the change put in its place; null when the change removed the file.</summary>
    [JsonPropertyName("newSha256")]
    public string? NewSha256 { get; init; }

    internal UnixFileMode UnixMode => (UnixFileMode)Convert.ToInt32(Mode, 8);

    /// <summary>Octal digits only, at most 0777 once leading zeros are dropped.</summary>
    internal static bool IsPlainMode(string mode) =>
        mode.Length is > 0 and <= 5 && mode.All(c => c is >= '0' and <= '7') && Convert.ToInt32(mode, 8) <= 0x1FF;
}

/// <summary>
/// A backup generation: the node files one sync (or restore) replaced or removed, and the names it added.
/// <para>On disk, under the state directory (default /var/lib/aks-auditd on the node):</para>
/// <code>
/// backup/&lt;kind&gt;/&lt;id&gt;/manifest.json      this object as JSON
/// backup/&lt;kind&gt;/&lt;id&gt;/files/&lt;name&gt;       the saved bytes of each Replaced and Removed entry
/// </code>
/// <c>kind</c> is <c>rules</c> or <c>plugins</c>; <c>id</c> is the UTC creation time, <c>yyyyMMddTHHmmssfffffffZ</c>,
/// so names sort by age. A generation appears by a directory rename only once its files and manifest are on
/// disk; directories whose names start with a dot are unfinished and ignored. Rolling a directory back to
/// before the change is <see cref="BackupStore.Restore"/>: write back every Replaced and Removed file, delete
/// every Added one. By hand: <c>cp -p files/* &lt;target&gt;/</c>, then <c>rm</c> each name listed under
/// <c>added</c>.
/// </summary>
public sealed class BackupGeneration
{
    public const int CurrentFormat = 1;

    [JsonPropertyName("format")]
    public int Format { get; init; } = CurrentFormat;

    [JsonPropertyName("id")]
    public string Id { get; init; } = string.Empty;

    /// <summary>rules or plugins.</summary>
    [JsonPropertyName("kind")]
    public string Kind { get; init; } = string.Empty;

    /// <summary>The directory that was changed, as the syncing process saw it (such as /node/etc/audit/rules.d).</summary>
    [JsonPropertyName("target")]
    public string Target { get; init; } = string.Empty;

    /// <summary>"sync from &lt;source&gt;" or "restore of &lt;id&gt;".</summary>
    [JsonPropertyName("reason")]
    public string Reason { get; init; } = string.Empty;

    /// <summary>The source directory a sync copied; null for a restore.</summary>
    [JsonPropertyName("source")]
    public string? Source { get; set; }

    /// <summary>
    /// <see cref="SourceFileSet.Fingerprint"/> of the source a sync made the directory match; null for a restore
    /// (and in generations written before this field). When the kernel rejects what the sync wrote, this is the
    /// source recorded as rejected (<see cref="RejectedSource"/>).
    /// </summary>
    [JsonPropertyName("sourceFingerprint")]
    public string? SourceFingerprint { get; set; }

    /// <summary>For a restore: the id of the generation it undid. Null for a sync.</summary>
    [JsonPropertyName("restores")]
    public string? Restores { get; set; }

    [JsonPropertyName("created")]
    public DateTimeOffset Created { get; init; }

    /// <summary>
    /// When the change finished. Null while it runs, or if it was killed: the next sync of the same target
    /// then adds to this generation instead of starting a new one, so it still describes the directory as it
    /// was before the interrupted sync.
    /// </summary>
    [JsonPropertyName("completed")]
    public DateTimeOffset? Completed { get; set; }

    /// <summary>Files that were overwritten; their old bytes are in files/.</summary>
    [JsonPropertyName("replaced")]
    public List<BackupEntry> Replaced { get; init; } = new();

    /// <summary>Files that were deleted; their bytes are in files/.</summary>
    [JsonPropertyName("removed")]
    public List<BackupEntry> Removed { get; init; } = new();

    /// <summary>Files that did not exist before; restoring deletes them.</summary>
    [JsonPropertyName("added")]
    public List<BackupEntry> Added { get; init; } = new();

    /// <summary>The generation's directory (not stored in the manifest).</summary>
    [JsonIgnore]
    public string Path { get; internal set; } = string.Empty;

    [JsonIgnore]
    public string ManifestPath => System.IO.Path.Combine(Path, "manifest.json");

    [JsonIgnore]
    public IEnumerable<BackupEntry> Saved => Replaced.Concat(Removed);

    /// <summary>Where the saved bytes of <paramref name="name"/> are.</summary>
    public string SavedFile(string name) => System.IO.Path.Combine(Path, "files", name);

    /// <summary>
    /// Why this manifest must not drive a restore; null when it may. Every name must be a plain file name in the
    /// target directory (a restore writes and deletes exactly there), and every mode plain permission bits: the
    /// sync never writes a setuid, setgid or sticky file, so a manifest asking for one was not written by it.
    /// </summary>
    internal string? Unsafe()
    {
        foreach (var (list, entries) in new[] { ("replaced", Replaced), ("removed", Removed), ("added", Added) })
        {
            for (var i = 0; i < entries.Count; i++)
            {
                var entry = entries[i];
                if (entry.Name.Length == 0 || entry.Name is "." or ".." || entry.Name.Contains('/') || entry.Name.Contains('\0'))
                {
                    return $"{list}[{i}] has the \"name\" '{entry.Name}', which is not a plain file name in the directory (no '/', not '.' or '..').";
                }

                if (!BackupEntry.IsPlainMode(entry.Mode))
                {
                    return $"{list}[{i}] ({entry.Name}) has the \"mode\" '{entry.Mode}', which is not octal permission bits up to 0777 (no setuid, setgid or sticky bit).";
                }
            }
        }

        return null;
    }

    internal bool Covers(string name) => Replaced.Concat(Removed).Concat(Added).Any(e => e.Name == name);

    internal BackupEntry? Find(string name) => Replaced.Concat(Removed).Concat(Added).FirstOrDefault(e => e.Name == name);
}

/// <summary>Why a generation is made: a sync of a source, or a restore of an earlier generation.</summary>
public sealed record BackupCause(string Reason, string? Source = null, string? SourceFingerprint = null, string? Restores = null)
{
    public static BackupCause Sync(string sourcePath, SourceFileSet source) => new($"sync from {sourcePath}", sourcePath, source.Fingerprint);

    public static BackupCause Restore(BackupGeneration generation) => new($"restore of {generation.Id}", Restores: generation.Id);
}

/// <summary>What <see cref="BackupStore.Restore"/> did.</summary>
public sealed class RestoreResult
{
    public RestoreResult(BackupGeneration restored, IReadOnlyList<string> written, IReadOnlyList<string> deleted, BackupGeneration? backup)
    {
        Restored = restored;
        Written = written;
        Deleted = deleted;
        Backup = backup;
    }

    public BackupGeneration Restored { get; }

    /// <summary>Files put back from the generation.</summary>
    public IReadOnlyList<string> Written { get; }

    /// <summary>Files the generation's change had added, now deleted.</summary>
    public IReadOnlyList<string> Deleted { get; }

    /// <summary>The generation holding what the restore itself replaced (so a restore can be undone too).</summary>
    public BackupGeneration? Backup { get; }
}
