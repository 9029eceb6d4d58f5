using AksAuditd.Core.Logging;

namespace AksAuditd.Core.Configuration;

/// <summary>Where a setting's effective value came from.</summary>
public enum ConfigurationSource
{
    Default,
    File,
    Environment,
}

/// <summary>How Sync-AuditRules treats node files that are not in the source.</summary>
public enum SyncMode
{
    /// <summary>Remove only files we placed before; leave other agents' files alone.</summary>
    Managed,

    /// <summary>Make the directory match the source exactly (the replaced tool's behaviour), backing up first.</summary>
    Mirror,
}

/// <summary>The effective settings: environment variable &gt; config file &gt; default.</summary>
public sealed class AksAuditdConfiguration
{
    public required LogLevel LogLevel { get; init; }

    public required TimeSpan PollInterval { get; init; }

    /// <summary>The node's rules.d, as a path on the node (joined with <see cref="HostRoot"/> to reach it).</summary>
    public required string RulesDirectory { get; init; }

    /// <summary>The node's plugins.d, as a path on the node.</summary>
    public required string PluginsDirectory { get; init; }

    /// <summary>Where the node's / is mounted in this process's view (<c>/</c> on the node itself).</summary>
    public required string HostRoot { get; init; }

    /// <summary>The rules ConfigMap mount in the container.</summary>
    public required string RulesSource { get; init; }

    /// <summary>The plugins ConfigMap mount in the container.</summary>
    public required string PluginsSource { get; init; }

    /// <summary>On the node: the managed-file record and backup generations.</summary>
    public required string StateDirectory { get; init; }

    public required SyncMode SyncMode { get; init; }

    public required bool AllowEmptySource { get; init; }

    /// <summary>Plugin programs a plugins ConfigMap may name; empty means the audit package's own programs, <c>*</c> any program.</summary>
    public required IReadOnlyList<string> AllowedPluginPaths { get; init; }

    /// <summary>Where the loop serves /metrics, /healthz and /readyz (<c>:9877</c>: every address); null when off.</summary>
    public string? MetricsAddress { get; init; } = ":9877";

    /// <summary>Whether the loop writes its Node's conditions and Events to the Kubernetes API (the fleet-status component).</summary>
    public bool NodeStatus { get; init; }

    /// <summary>A rules source may contain <c>-e 2</c> (immutable until reboot), as its last rule.</summary>
    public bool AllowImmutable { get; init; }

    /// <summary>A rules source may contain <c>-f 2</c> (kernel panic when audit records are lost).</summary>
    public bool AllowPanic { get; init; }

    /// <summary>The file that was read, or would have been read had it existed.</summary>
    /// <summary>
    /// A folder of .deb or .rpm files Install-Auditd installs from, without the distribution's mirrors (egress that
    /// blocks them); null installs from the mirrors. A path in this process's view, like the sources.
    /// </summary>
    public string? PackagePath { get; init; }

    public required string ConfigFile { get; init; }

    public required bool ConfigFileFound { get; init; }

    /// <summary>For each setting name, where its value came from.</summary>
    public required IReadOnlyDictionary<string, ConfigurationSource> Source { get; init; }

    /// <summary>Problems that did not stop loading: unknown keys, an unknown log level.</summary>
    public required IReadOnlyList<string> Warnings { get; init; }

    /// <summary>The node's rules.d as this process reaches it.</summary>
    public string HostRulesDirectory => HostPath.Join(HostRoot, RulesDirectory);

    /// <summary>The node's plugins.d as this process reaches it.</summary>
    public string HostPluginsDirectory => HostPath.Join(HostRoot, PluginsDirectory);

    /// <summary>The node's state directory as this process reaches it.</summary>
    public string HostStateDirectory => HostPath.Join(HostRoot, StateDirectory);
}

/// <summary>Paths on the node, seen through the host root mount.</summary>
public static class HostPath
{
    /// <summary>Joins a node path under the host root: ("/node", "/etc/audit") is "/node/etc/audit"; ("/", p) is p.</summary>
    public static string Join(string hostRoot, string nodePath)
    {
        var relative = nodePath.TrimStart('/');
        return relative.Length == 0 ? hostRoot : Path.Combine(hostRoot, relative);
    }
}
