using System.Globalization;
using System.Text;

namespace AksAuditd.Core.Sync;

/// <summary>
/// Writes a ConfigMap volume the way the kubelet's atomic writer does, so that what the sync reads in tests, the
/// demo sandbox and the pod e2e is laid out exactly as on a node: each version's files go into a new hidden
/// timestamped folder, a <c>..data_tmp</c> link to it is renamed over <c>..data</c> (rename(2): a reader sees the
/// old set or the new one, never a mix), the visible <c>name -&gt; ..data/name</c> links are added or removed,
/// and the previous version's folder is deleted. The one writer for xUnit, Pester and image/Sandbox.ps1.
/// </summary>
public sealed class ConfigMapVolumeWriter
{
    private const string DataLink = "..data";
    private const string TemporaryLink = "..data_tmp";

    /// <param name="directory">The volume's folder (what the container mounts); created when missing. A volume
    /// written before, by this or another writer, is continued: its current version is read from <c>..data</c>.</param>
    public ConfigMapVolumeWriter(string directory)
    {
        ArgumentException.ThrowIfNullOrEmpty(directory);
        Directory = directory;
        System.IO.Directory.CreateDirectory(directory);
        Current = new FileInfo(Path.Combine(directory, DataLink)).LinkTarget;
    }

    public string Directory { get; }

    /// <summary>The timestamped folder <c>..data</c> points at, or null before the first version.</summary>
    public string? Current { get; private set; }

    /// <summary>Writes a new version with exactly these keys (a key with '/' becomes a nested path, as a ConfigMap item path does).</summary>
    public string Update(IReadOnlyDictionary<string, string> payload, Action? beforeSwap = null, Action? afterSwap = null) =>
        UpdateBytes(payload.ToDictionary(p => p.Key, p => Encoding.UTF8.GetBytes(p.Value)), beforeSwap, afterSwap);

    /// <summary>As <see cref="Update"/>, with each file's bytes as given (CRLF, BOMs, invalid UTF-8 kept).</summary>
    public string UpdateBytes(IReadOnlyDictionary<string, byte[]> payload, Action? beforeSwap = null, Action? afterSwap = null)
    {
        foreach (var key in payload.Keys)
        {
            if (key.Length == 0 || key.StartsWith("..", StringComparison.Ordinal) || key.Split('/').Any(part => part is "" or "." or ".."))
            {
                throw new ArgumentException($"'{key}' is not a valid ConfigMap key or item path", nameof(payload));
            }
        }

        var old = Current;
        var stamp = NewVersionName();
        var versionDirectory = Path.Combine(Directory, stamp);
        System.IO.Directory.CreateDirectory(versionDirectory);
        foreach (var (key, contents) in payload)
        {
            var path = Path.Combine(versionDirectory, key);
            System.IO.Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            File.WriteAllBytes(path, contents);
        }

        beforeSwap?.Invoke();
        var temporary = Path.Combine(Directory, TemporaryLink);
        if (new FileInfo(temporary).LinkTarget is not null)
        {
            File.Delete(temporary); // left by a writer that was interrupted
        }

        File.CreateSymbolicLink(temporary, stamp);
        LinuxNodeFileSystem.Instance.Rename(temporary, Path.Combine(Directory, DataLink));
        Current = stamp;
        afterSwap?.Invoke();

        var visible = payload.Keys.Select(k => k.Split('/')[0]).ToHashSet(StringComparer.Ordinal);
        foreach (var name in visible)
        {
            var link = Path.Combine(Directory, name);
            if (!Path.Exists(link) && new FileInfo(link).LinkTarget is null)
            {
                File.CreateSymbolicLink(link, DataLink + "/" + name);
            }
        }

        foreach (var entry in System.IO.Directory.EnumerateFileSystemEntries(Directory))
        {
            var name = Path.GetFileName(entry);
            if (!name.StartsWith("..", StringComparison.Ordinal) && !visible.Contains(name) && new FileInfo(entry).LinkTarget == DataLink + "/" + name)
            {
                File.Delete(entry);
            }
        }

        if (old is not null && old != stamp && System.IO.Directory.Exists(Path.Combine(Directory, old)))
        {
            System.IO.Directory.Delete(Path.Combine(Directory, old), recursive: true);
        }

        return stamp;
    }

    private string NewVersionName()
    {
        // The kubelet's name: ..<UTC time to the nanosecond>; a suffix keeps two versions within one tick apart.
        var now = DateTime.UtcNow;
        var baseName = ".." + now.ToString("yyyy_MM_dd_HH_mm_ss.", CultureInfo.InvariantCulture) +
            (now.Ticks % TimeSpan.TicksPerSecond).ToString("D7", CultureInfo.InvariantCulture) + "00";
        var name = baseName;
        for (var i = 1; Path.Exists(Path.Combine(Directory, name)); i++)
        {
            name = baseName + i.ToString(CultureInfo.InvariantCulture);
        }

        return name;
    }
}
