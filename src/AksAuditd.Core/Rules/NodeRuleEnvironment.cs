namespace AksAuditd.Core.Rules;

/// <summary>
/// A node's file system mounted at a host root (/ on the node itself, /node in the DaemonSet): users and groups from
/// &lt;root&gt;/etc/passwd and &lt;root&gt;/etc/group, paths resolved inside the root, including absolute symbolic
/// links (/var/lock -> /run/lock), as the node's own kernel would resolve them.
/// </summary>
public sealed class NodeRuleEnvironment : IRuleEnvironment
{
    private const int MaxSymlinkHops = 40;

    private readonly string _root;
    private readonly Lazy<Dictionary<string, uint>> _users;
    private readonly Lazy<Dictionary<string, uint>> _groups;

    public NodeRuleEnvironment(string hostRoot)
    {
        ArgumentException.ThrowIfNullOrEmpty(hostRoot);
        _root = System.IO.Path.GetFullPath(hostRoot).TrimEnd('/');
        _users = new Lazy<Dictionary<string, uint>>(() => ReadIds("etc/passwd"));
        _groups = new Lazy<Dictionary<string, uint>>(() => ReadIds("etc/group"));
    }

    public string HostRoot => _root.Length == 0 ? "/" : _root;

    public string Description => $"host root {HostRoot}";

    public bool TryGetUserId(string name, out uint uid) => _users.Value.TryGetValue(name, out uid);

    public bool TryGetGroupId(string name, out uint gid) => _groups.Value.TryGetValue(name, out gid);

    public HostPathKind GetPathKind(string path)
    {
        var resolved = Resolve(path);
        if (resolved is null)
        {
            return HostPathKind.Missing;
        }
        var full = _root + resolved;
        if (Directory.Exists(full))
        {
            return HostPathKind.Directory;
        }
        return File.Exists(full) ? HostPathKind.NotDirectory : HostPathKind.Missing;
    }

    /// <summary>The path inside the root with every symbolic link resolved, or null when a component is missing.</summary>
    private string? Resolve(string path)
    {
        var pending = new List<string>(path.Split('/', StringSplitOptions.RemoveEmptyEntries));
        var current = new List<string>();
        var hops = 0;
        while (pending.Count > 0)
        {
            var part = pending[0];
            pending.RemoveAt(0);
            if (part == ".")
            {
                continue;
            }
            if (part == "..")
            {
                if (current.Count > 0)
                {
                    current.RemoveAt(current.Count - 1);
                }
                continue;
            }
            var candidate = _root + "/" + string.Join('/', current.Append(part));
            var info = new FileInfo(candidate);
            if (info.LinkTarget is { } target)
            {
                if (++hops > MaxSymlinkHops)
                {
                    return null;
                }
                if (target.StartsWith('/'))
                {
                    current.Clear();
                }
                pending.InsertRange(0, target.Split('/', StringSplitOptions.RemoveEmptyEntries));
                continue;
            }
            if (Directory.Exists(candidate))
            {
                current.Add(part);
                continue;
            }
            if (File.Exists(candidate) && pending.Count == 0)
            {
                current.Add(part);
                continue;
            }
            return null;
        }
        return "/" + string.Join('/', current);
    }

    private Dictionary<string, uint> ReadIds(string relative)
    {
        // getpwnam/getgrnam: the first entry with the name wins; lines are name:password:id:...
        var ids = new Dictionary<string, uint>(StringComparer.Ordinal);
        var file = System.IO.Path.Combine(HostRoot, relative);
        if (!File.Exists(file))
        {
            return ids;
        }
        foreach (var line in File.ReadLines(file))
        {
            var parts = line.Split(':');
            if (parts.Length >= 3 && parts[0].Length > 0 && uint.TryParse(parts[2], out var id))
            {
                ids.TryAdd(parts[0], id);
            }
        }
        return ids;
    }
}
