using System.Text;

namespace AksAuditd.Core.Host;

/// <summary>
/// The fields of an os-release(5) file: <c>KEY=value</c> lines, values optionally in single or double quotes
/// with backslash escapes inside double quotes, <c>#</c> comments.
/// </summary>
public sealed class OsRelease
{
    private readonly Dictionary<string, string> _fields;

    private OsRelease(Dictionary<string, string> fields, string path)
    {
        _fields = fields;
        Path = path;
    }

    public string Path { get; }

    public string Id => this["ID"] ?? "linux";

    public string VersionId => this["VERSION_ID"] ?? string.Empty;

    public string PrettyName => this["PRETTY_NAME"] ?? this["NAME"] ?? Id;

    /// <summary>Space-separated IDs of related distributions (ID_LIKE), lowercase.</summary>
    public IReadOnlyList<string> IdLike => (this["ID_LIKE"] ?? string.Empty).Split(' ', StringSplitOptions.RemoveEmptyEntries);

    public string? this[string key] => _fields.TryGetValue(key, out var value) ? value : null;

    /// <summary>
    /// Reads <c>&lt;hostRoot&gt;/etc/os-release</c>, falling back to <c>/usr/lib/os-release</c> as os-release(5) says.
    /// </summary>
    /// <exception cref="UnsupportedDistributionException">Neither file exists.</exception>
    public static OsRelease Read(string hostRoot)
    {
        foreach (var candidate in new[] { "/etc/os-release", "/usr/lib/os-release" })
        {
            var path = Configuration.HostPath.Join(hostRoot, candidate);
            if (File.Exists(path))
            {
                return Parse(File.ReadAllText(path), path);
            }
        }

        throw new UnsupportedDistributionException(
            $"Cannot tell the node's distribution: neither {Configuration.HostPath.Join(hostRoot, "/etc/os-release")} nor /usr/lib/os-release exists under the host root {hostRoot}.",
            null,
            null);
    }

    public static OsRelease Parse(string text, string path = "os-release")
    {
        var fields = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var raw in text.Split('\n'))
        {
            var line = raw.Trim();
            if (line.Length == 0 || line[0] == '#')
            {
                continue;
            }

            var equals = line.IndexOf('=');
            if (equals <= 0)
            {
                continue;
            }

            fields[line[..equals].Trim()] = Unquote(line[(equals + 1)..].Trim());
        }

        return new OsRelease(fields, path);
    }

    private static string Unquote(string value)
    {
        if (value.Length >= 2 && value[0] == '\'' && value[^1] == '\'')
        {
            return value[1..^1];
        }

        if (value.Length >= 2 && value[0] == '"' && value[^1] == '"')
        {
            var inner = value[1..^1];
            var result = new StringBuilder(inner.Length);
            for (var i = 0; i < inner.Length; i++)
            {
                if (inner[i] == '\\' && i + 1 < inner.Length && "\"\\$`".Contains(inner[i + 1]))
                {
                    i++;
                }

                result.Append(inner[i]);
            }

            return result.ToString();
        }

        return value;
    }
}
