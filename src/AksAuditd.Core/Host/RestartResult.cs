namespace AksAuditd.Core.Host;

public enum RestartMode
{
    /// <summary>Choose from what the last sync changed: rules -> LoadRules; auditd.conf or plugins -> Reload.</summary>
    Auto,

    /// <summary><c>augenrules --load</c>: the kernel gets rules.d; the daemon keeps running, no events are lost.</summary>
    LoadRules,

    /// <summary>SIGHUP: auditd rereads auditd.conf and its plugins (not the rules).</summary>
    Reload,

    /// <summary>Stop and start auditd (systemctl, or the service command where systemd refuses manual stop).</summary>
    Restart,
}

/// <summary>What Restart-Auditd did and whether the kernel now enforces rules.d.</summary>
public sealed record RestartResult
{
    /// <summary>None, LoadRules, Reload, Restart or Start (auditd was not running).</summary>
    public required string Method { get; init; }

    /// <summary>auditd runs and the kernel's rules equal the desired rules.</summary>
    public required bool Succeeded { get; init; }

    public bool Immutable { get; init; }

    /// <summary>Rules are locked (<c>enabled 2</c>): only a reboot loads new ones.</summary>
    public bool RebootRequired { get; init; }

    /// <summary>True only the first time this boot's immutable state is reported, so a loop warns once.</summary>
    public bool RebootRequiredFirstReport { get; init; }

    public int LoadedRuleCount { get; init; }

    public required string Message { get; init; }

    /// <summary>The commands that changed the node, as executed.</summary>
    public IReadOnlyList<string> Commands { get; init; } = Array.Empty<string>();

    /// <summary>Rules that still differ after the attempt (after the rollback, when there was one).</summary>
    public IReadOnlyList<KernelRuleDrift> Drift { get; init; } = Array.Empty<KernelRuleDrift>();

    /// <summary>Set when the kernel refused a rule; rules.d was then put back as it was before the last sync.</summary>
    public RuleRejectedException? Rejection { get; init; }

    public bool RolledBack { get; init; }

    public string HostRoot { get; init; } = "/";

    /// <summary>Active plugins of plugins.d that auditd does not run as their files say (empty when all run, or when not checked).</summary>
    public IReadOnlyList<PluginMismatch> Plugins { get; init; } = Array.Empty<PluginMismatch>();
}

/// <summary>The kernel refused a rule while loading rules.d: names the rule, where it came from, and the kernel's message.</summary>
public sealed class RuleRejectedException : Exception
{
    public RuleRejectedException(string rule, string kernelMessage, string? file, int? line, string detail)
        : base(detail)
    {
        Rule = rule;
        KernelMessage = kernelMessage;
        File = file;
        Line = line;
    }

    public string Rule { get; }

    public string KernelMessage { get; }

    /// <summary>The rules.d file holding the rule, when it could be found.</summary>
    public string? File { get; }

    public int? Line { get; }
}
