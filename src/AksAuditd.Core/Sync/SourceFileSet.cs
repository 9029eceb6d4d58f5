using System.Text;
using AksAuditd.Core.Rules;

namespace AksAuditd.Core.Sync;

/// <summary>One file to put on the node: its name in the target directory and its exact bytes.</summary>
public sealed class SourceFile
{
    public SourceFile(string name, string path, byte[] contents, string sha256)
    {
        Name = name;
        Path = path;
        Contents = contents;
        Sha256 = sha256;
    }

    public string Name { get; }

    /// <summary>Where it was read (inside the ConfigMap's timestamped directory for a ConfigMap volume).</summary>
    public string Path { get; }

    public byte[] Contents { get; }

    /// <summary>Lower-case hex SHA-256 of <see cref="Contents"/>.</summary>
    public string Sha256 { get; }

    public string Text => Encoding.UTF8.GetString(Contents);
}

/// <summary>
/// A consistent read of a source directory: the files that count for the sync kind, and what was wrong or
/// ignored. For a ConfigMap volume every file comes from the one timestamped directory that <c>..data</c>
/// pointed at, so a kubelet update during the read never yields a mix of two ConfigMap versions.
/// </summary>
public sealed class SourceFileSet
{
    private readonly Dictionary<string, SourceFile> _byName;

    public SourceFileSet(string directory, string? dataTarget, IReadOnlyList<SourceFile> files, IReadOnlyList<RuleDiagnostic> problems)
    {
        Directory = directory;
        DataTarget = dataTarget;
        Files = files.OrderBy(f => f.Name, StringComparer.Ordinal).ToList();
        _byName = Files.ToDictionary(f => f.Name, StringComparer.Ordinal);
        Problems = problems;
        Fingerprint = ComputeFingerprint(Files);
    }

    public string Directory { get; }

    /// <summary>What <c>..data</c> pointed at (such as <c>..2025_01_31_10_00_00.123456789</c>); null for a plain directory.</summary>
    public string? DataTarget { get; }

    public bool IsConfigMap => DataTarget is not null;

    public IReadOnlyList<SourceFile> Files { get; }

    /// <summary>Errors (refuse the sync) and warnings (ignored files) about the source's entries.</summary>
    public IReadOnlyList<RuleDiagnostic> Problems { get; }

    public bool HasErrors => Problems.Any(p => p.Severity == DiagnosticSeverity.Error);

    /// <summary>A hash of every name and content hash: equal fingerprints, equal file sets.</summary>
    public string Fingerprint { get; }

    public SourceFile? Find(string name) => _byName.GetValueOrDefault(name);

    private static string ComputeFingerprint(IReadOnlyList<SourceFile> files)
    {
        var text = new StringBuilder();
        foreach (var file in files)
        {
            text.Append(file.Name).Append('\0').Append(file.Sha256).Append('\n');
        }

        return ContentHash.Sha256Hex(Encoding.UTF8.GetBytes(text.ToString()));
    }
}
