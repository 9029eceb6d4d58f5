namespace AksAuditd.Core.Rules;

public enum HostPathKind
{
    Missing,
    Directory,
    NotDirectory,
}

/// <summary>
/// The facts about a node that decide whether some otherwise valid rules load: auditctl resolves user and group
/// names with getpwnam/getgrnam, and the kernel refuses a watch whose parent directory is missing.
/// </summary>
public interface IRuleEnvironment
{
    /// <summary>Where the facts come from, for messages ("host root /node").</summary>
    string Description { get; }

    bool TryGetUserId(string name, out uint uid);

    bool TryGetGroupId(string name, out uint gid);

    /// <summary>What stat() says about an absolute path on the node, following symbolic links.</summary>
    HostPathKind GetPathKind(string path);
}
