using System.Security.Cryptography;
using System.Text;

namespace AksAuditd.Core.Tests.Sync;

/// <summary>A scratch tree for one test: source/, target/ (a node's rules.d) and state/; deleted on dispose.</summary>
public sealed class SyncTestDirectory : IDisposable
{
    /// <param name="parent">Where to make the tree; /dev/shm (tmpfs) for tests whose subject is not durability, where fsync costs nothing.</param>
    public SyncTestDirectory(string? parent = null)
    {
        Root = Path.Combine(parent ?? Path.GetTempPath(), "aks-auditd-sync-" + Guid.NewGuid().ToString("N")[..12]);
        Directory.CreateDirectory(Source);
        Directory.CreateDirectory(Target);
    }

    public string Root { get; }

    public string Source => Path.Combine(Root, "source");

    public string Target => Path.Combine(Root, "target");

    public string State => Path.Combine(Root, "state");

    public static string Sha(string text) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(text)));

    public void WriteSource(string name, string text) => File.WriteAllText(Path.Combine(Source, name), text);

    public void WriteTarget(string name, string text) => File.WriteAllText(Path.Combine(Target, name), text);

    public string ReadTarget(string name) => File.ReadAllText(Path.Combine(Target, name));

    /// <summary>Every entry in the target, hidden ones included, with its contents.</summary>
    public SortedDictionary<string, string> TargetFiles() =>
        new(Directory.EnumerateFileSystemEntries(Target).ToDictionary(p => Path.GetFileName(p), p => File.Exists(p) ? File.ReadAllText(p) : "<dir>"), StringComparer.Ordinal);

    public void Dispose()
    {
        try
        {
            Directory.Delete(Root, recursive: true);
        }
        catch (IOException)
        {
            // .NET decodes names as UTF-8 and cannot delete a file whose name is not (the non-UTF-8 name tests
            // make them): rm takes the bytes as they are, so no run leaves a tree behind.
            using var rm = System.Diagnostics.Process.Start("rm", ["-rf", "--one-file-system", Root]);
            rm.WaitForExit();
        }
    }
}
