using AksAuditd.Core.Configuration;

namespace AksAuditd.Core.Events;

/// <summary>Names for numeric user and group ids, as the node (not the container) knows them.</summary>
public interface IAccountNames
{
    bool TryGetUserName(uint uid, out string name);

    bool TryGetGroupName(uint gid, out string name);
}

/// <summary>
/// Reads the node's /etc/passwd and /etc/group under the host root once, when the first id is looked up.
/// The first entry for an id wins, as with getpwuid(3) over files. A missing file means no names: ids
/// then show as unknown(N), which is what ausearch prints for an id it cannot resolve.
/// </summary>
public sealed class HostAccountNames : IAccountNames
{
    private readonly string _hostRoot;
    private Dictionary<uint, string>? _users;
    private Dictionary<uint, string>? _groups;

    public HostAccountNames(string hostRoot) => _hostRoot = hostRoot;

    public bool TryGetUserName(uint uid, out string name) =>
        (_users ??= Load(HostPath.Join(_hostRoot, "/etc/passwd"))).TryGetValue(uid, out name!);

    public bool TryGetGroupName(uint gid, out string name) =>
        (_groups ??= Load(HostPath.Join(_hostRoot, "/etc/group"))).TryGetValue(gid, out name!);

    /// <summary>name:x:id:... lines; comments, NIS "+" entries and broken lines are skipped.</summary>
    private static Dictionary<uint, string> Load(string path)
    {
        var names = new Dictionary<uint, string>();
        if (!File.Exists(path))
        {
            return names;
        }

        foreach (var line in File.ReadLines(path))
        {
            if (line.Length == 0 || line[0] is '#' or '+' or '-')
            {
                continue;
            }

            var parts = line.Split(':');
            if (parts.Length >= 3 && parts[0].Length > 0 && uint.TryParse(parts[2], out var id))
            {
                names.TryAdd(id, parts[0]);
            }
        }

        return names;
    }
}
