using System.Text;

namespace AksAuditd.Core.Tests.Sync;

/// <summary>
/// A ConfigMap volume laid out and updated the way kubelet's AtomicWriter does it: the payload goes into a
/// new hidden timestamped directory, a <c>..data_tmp</c> symlink to it is renamed over <c>..data</c>, the
/// visible <c>name -&gt; ..data/name</c> links are created or removed, and the old directory is deleted.
/// </summary>
public sealed class ConfigMapLayout
{
    private int _version;

    public ConfigMapLayout(string directory)
    {
        Directory = directory;
        System.IO.Directory.CreateDirectory(directory);
    }

    public string Directory { get; }

    /// <summary>The timestamped directory ..data points at.</summary>
    public string? Current { get; private set; }

    /// <summary>Writes a new version with exactly these keys (a key with '/' becomes a nested path, as a ConfigMap item path does).</summary>
    public string Update(IReadOnlyDictionary<string, string> payload, Action? beforeSwap = null, Action? afterSwap = null)
    {
        var bytes = payload.ToDictionary(p => p.Key, p => Encoding.UTF8.GetBytes(p.Value));
        return UpdateBytes(bytes, beforeSwap, afterSwap);
    }

    public string UpdateBytes(IReadOnlyDictionary<string, byte[]> payload, Action? beforeSwap = null, Action? afterSwap = null)
    {
        var old = Current;
        var stamp = $"..{DateTime.UtcNow:yyyy_MM_dd_HH_mm_ss}.{Interlocked.Increment(ref _version):D9}";
        var versionDirectory = Path.Combine(Directory, stamp);
        System.IO.Directory.CreateDirectory(versionDirectory);
        foreach (var (key, contents) in payload)
        {
            var path = Path.Combine(versionDirectory, key);
            System.IO.Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            File.WriteAllBytes(path, contents);
        }

        beforeSwap?.Invoke();
        var temporary = Path.Combine(Directory, "..data_tmp");
        File.CreateSymbolicLink(temporary, stamp);
        AksAuditd.Core.Sync.LinuxNodeFileSystem.Instance.Rename(temporary, Path.Combine(Directory, "..data")); // rename(2), as kubelet does
        Current = stamp;
        afterSwap?.Invoke();

        var visible = payload.Keys.Select(k => k.Split('/')[0]).ToHashSet();
        foreach (var name in visible)
        {
            var link = Path.Combine(Directory, name);
            if (!Path.Exists(link) && new FileInfo(link).LinkTarget is null)
            {
                File.CreateSymbolicLink(link, "..data/" + name);
            }
        }

        foreach (var entry in System.IO.Directory.EnumerateFileSystemEntries(Directory))
        {
            var name = Path.GetFileName(entry);
            if (!name.StartsWith("..", StringComparison.Ordinal) && !visible.Contains(name) && new FileInfo(entry).LinkTarget == "..data/" + name)
            {
                File.Delete(entry);
            }
        }

        if (old is not null)
        {
            System.IO.Directory.Delete(Path.Combine(Directory, old), recursive: true);
        }

        return stamp;
    }
}
