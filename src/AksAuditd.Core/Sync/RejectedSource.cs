using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace AksAuditd.Core.Sync;

/// <summary>
/// A source whose rules the kernel refused. When Restart-Auditd rolls rules.d back from the sync that wrote a
/// rejected rule, it records that sync's source here, so the next poll does not write the same set again (and the
/// poll after that roll it back again). The sync refuses exactly this source (by <see cref="SourceFileSet.Fingerprint"/>:
/// every file name and content hash) and forgets the record once the source changes. Deleting the file by hand
/// lets the sync write the source again. Stored at <c>&lt;StatePath&gt;/rejected/&lt;rules|plugins&gt;.json</c>:
/// <code>{ "format": 1, "kind": "rules", "sourceFingerprint": "&lt;sha256&gt;", "source": "/auditd-rules",
///   "generation": "20250131T100000123Z", "rule": "-w /x/y -p wa", "file": "60-app.rules", "line": 2,
///   "kernelMessage": "Error sending add rule data request (No such file or directory)", "rejected": "...Z" }</code>
/// </summary>
public sealed class RejectedSource
{
    public const int CurrentFormat = 1;

    [JsonPropertyName("format")]
    public int Format { get; init; } = CurrentFormat;

    [JsonPropertyName("kind")]
    public string Kind { get; init; } = string.Empty;

    [JsonPropertyName("sourceFingerprint")]
    public string SourceFingerprint { get; init; } = string.Empty;

    /// <summary>The source directory as the syncing process saw it.</summary>
    [JsonPropertyName("source")]
    public string? Source { get; init; }

    /// <summary>The backup generation of the sync that wrote the rejected set (the one rolled back).</summary>
    [JsonPropertyName("generation")]
    public string Generation { get; init; } = string.Empty;

    [JsonPropertyName("rule")]
    public string Rule { get; init; } = string.Empty;

    /// <summary>The file name holding the rule: the same in rules.d and in the source.</summary>
    [JsonPropertyName("file")]
    public string? File { get; init; }

    [JsonPropertyName("line")]
    public int? Line { get; init; }

    [JsonPropertyName("kernelMessage")]
    public string KernelMessage { get; init; } = string.Empty;

    [JsonPropertyName("rejected")]
    public DateTimeOffset Rejected { get; init; }

    public static string PathFor(string statePath, SyncKind kind) => Path.Combine(statePath, "rejected", kind.StateName() + ".json");

    /// <summary>The record, or null when no source of this kind is rejected.</summary>
    /// <exception cref="SyncException">The record exists but cannot be read or parsed.</exception>
    public static RejectedSource? Load(string statePath, SyncKind kind, INodeFileSystem? fileSystem = null)
    {
        var fs = fileSystem ?? LinuxNodeFileSystem.Instance;
        var path = PathFor(statePath, kind);
        if (!fs.Stat(path).Exists)
        {
            return null;
        }

        try
        {
            return JsonSerializer.Deserialize<RejectedSource>(fs.Read(path, 1 << 20)) ?? throw new JsonException("null record");
        }
        catch (Exception e) when (e is JsonException or IOException or UnauthorizedAccessException)
        {
            throw new SyncException(SyncFailure.StateUnusable, path, $"The rejected-source record {path} cannot be read: {e.Message}. Delete it to let the sync write the source again.", e);
        }
    }

    /// <summary>Writes the record atomically (temporary file, fsync, rename, fsync of the directory).</summary>
    public void Save(string statePath, INodeFileSystem? fileSystem = null)
    {
        var fs = fileSystem ?? LinuxNodeFileSystem.Instance;
        var kind = Kind == SyncKind.Plugins.StateName() ? SyncKind.Plugins : SyncKind.Rules;
        var path = PathFor(statePath, kind);
        var directory = Path.GetDirectoryName(path)!;
        fs.CreateDirectory(directory, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        var temporary = Path.Combine(directory, $".{Kind}.json.{Guid.NewGuid():N}.tmp");
        fs.WriteNew(temporary, JsonSerializer.SerializeToUtf8Bytes(this, JsonOptions.Indented), UnixFileMode.UserRead | UnixFileMode.UserWrite, NodeOwner.Unchanged, NodeOwner.Unchanged);
        fs.Rename(temporary, path);
        fs.SyncDirectory(directory);
    }

    /// <summary>Forgets the rejected source of <paramref name="kind"/>; nothing when there is none.</summary>
    public static void Clear(string statePath, SyncKind kind, INodeFileSystem? fileSystem = null)
    {
        var fs = fileSystem ?? LinuxNodeFileSystem.Instance;
        var path = PathFor(statePath, kind);
        if (fs.Stat(path).Exists)
        {
            fs.Delete(path);
            fs.SyncDirectory(Path.GetDirectoryName(path)!);
        }
    }

    /// <summary>What the sync says when it refuses this source again.</summary>
    public string Describe()
    {
        var where = File is null ? string.Empty : Line is { } line ? $" in {File} line {line}" : $" in {File}";
        var when = Rejected.UtcDateTime.ToString("yyyy-MM-dd HH:mm:ss'Z'", CultureInfo.InvariantCulture);
        return $"The kernel rejected the rule '{Rule}'{where} ({KernelMessage}) when this exact source was synced (backup generation {Generation}, rolled back at {when}). " +
            "The node keeps its previous rules and this source is not written again: fix the rule in the rules ConfigMap; a changed source is synced normally.";
    }
}
