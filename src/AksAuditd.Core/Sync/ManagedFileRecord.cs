using System.Text.Json;
using System.Text.Json.Serialization;

namespace AksAuditd.Core.Sync;

/// <summary>
/// The node files the sync placed, so Managed mode removes only those and never another agent's.
/// Stored at <c>&lt;StatePath&gt;/managed/&lt;rules|plugins&gt;.json</c>:
/// <code>{ "format": 1, "kind": "rules", "target": "/node/etc/audit/rules.d", "updated": "...Z",
///   "files": { "10-base.rules": "&lt;sha256 we wrote&gt;", ... } }</code>
/// Before a sync writes, the record is widened to old ∪ new names, and narrowed to the new names after, so a
/// killed sync never leaves a file of ours looking foreign.
/// </summary>
public sealed class ManagedFileRecord
{
    public const int CurrentFormat = 1;

    [JsonPropertyName("format")]
    public int Format { get; init; } = CurrentFormat;

    [JsonPropertyName("kind")]
    public string Kind { get; init; } = string.Empty;

    [JsonPropertyName("target")]
    public string Target { get; init; } = string.Empty;

    [JsonPropertyName("updated")]
    public DateTimeOffset Updated { get; init; }

    /// <summary>Name to the SHA-256 we wrote (empty when not known).</summary>
    [JsonPropertyName("files")]
    public SortedDictionary<string, string> Files { get; init; } = new(StringComparer.Ordinal);

    public static string PathFor(string statePath, SyncKind kind) => System.IO.Path.Combine(statePath, "managed", kind.StateName() + ".json");

    /// <summary>Reads the record; a missing file is an empty record.</summary>
    /// <exception cref="SyncException">The record exists but cannot be read or parsed.</exception>
    public static ManagedFileRecord Load(string statePath, SyncKind kind, string target, INodeFileSystem fs)
    {
        var path = PathFor(statePath, kind);
        if (!fs.Stat(path).Exists)
        {
            return new ManagedFileRecord { Kind = kind.StateName(), Target = target };
        }

        try
        {
            var record = JsonSerializer.Deserialize(fs.Read(path, 16 << 20), SyncJson.Default.ManagedFileRecord)
                ?? throw new JsonException("null record");
            return record;
        }
        catch (Exception e) when (e is JsonException or IOException or UnauthorizedAccessException)
        {
            throw new SyncException(SyncFailure.StateUnusable, path, $"The managed-file record {path} cannot be read: {e.Message}", e);
        }
    }

    /// <summary>Names this record claims for <paramref name="target"/> (none when it was written for another directory).</summary>
    public IReadOnlySet<string> NamesFor(string target) =>
        Target == target || Target.Length == 0 ? new HashSet<string>(Files.Keys, StringComparer.Ordinal) : new HashSet<string>(StringComparer.Ordinal);

    /// <summary>Deletes temporary records left by a save that was killed before its rename.</summary>
    public static void RemoveLeftovers(string statePath, SyncKind kind, INodeFileSystem fs)
    {
        var directory = System.IO.Path.GetDirectoryName(PathFor(statePath, kind))!;
        if (fs.Stat(directory).Type != NodeFileType.Directory)
        {
            return;
        }

        var prefix = $".{kind.StateName()}.json.";
        foreach (var leftover in fs.List(directory).Where(n => n.StartsWith(prefix, StringComparison.Ordinal) && n.EndsWith(".tmp", StringComparison.Ordinal)))
        {
            fs.Delete(System.IO.Path.Combine(directory, leftover));
        }
    }

    /// <summary>Writes the record atomically (temporary file, fsync, rename, fsync of the directory).</summary>
    public void Save(string statePath, SyncKind kind, INodeFileSystem fs)
    {
        var path = PathFor(statePath, kind);
        var directory = System.IO.Path.GetDirectoryName(path)!;
        fs.CreateDirectory(directory, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        RemoveLeftovers(statePath, kind, fs);
        var temporary = System.IO.Path.Combine(directory, $".{kind.StateName()}.json.{Guid.NewGuid():N}.tmp");
        fs.WriteNew(temporary, JsonSerializer.SerializeToUtf8Bytes(this, SyncJson.Default.ManagedFileRecord), UnixFileMode.UserRead | UnixFileMode.UserWrite, NodeOwner.Unchanged, NodeOwner.Unchanged);
        fs.Rename(temporary, path);
        fs.SyncDirectory(directory);
    }
}

internal static class JsonOptions
{
    public static readonly JsonSerializerOptions Indented = new() { WriteIndented = true };
}

/// <summary>
/// Serializers for the state files, generated at build time: a fresh process (the entrypoint's first poll, a
/// cmdlet's first call) then reads and writes them without warming up reflection-based serialization.
/// </summary>
[JsonSourceGenerationOptions(WriteIndented = true)]
[JsonSerializable(typeof(ManagedFileRecord))]
[JsonSerializable(typeof(BackupGeneration))]
internal sealed partial class SyncJson : JsonSerializerContext
{
}
