namespace AksAuditd.Core.Sync;

/// <summary>
/// Which programs a plugins source may name in <c>path</c>. A plugin runs as root on every node, so the list fails
/// closed: with no entries only the audit package's own plugin programs are allowed; listed entries replace that
/// default; <c>*</c> allows any program and is meant to be loud (the configuration warns at every start).
/// </summary>
public sealed class PluginAllowList
{
    /// <summary>The entry that allows any program.</summary>
    public const string AnyProgram = "*";

    /// <summary>What the audit package (auditd, audispd-plugins) installs as plugin programs, on both merged-/usr layouts.</summary>
    public static readonly IReadOnlyList<string> AuditPackagePrograms = new[]
    {
        "/sbin/audisp-syslog", "/usr/sbin/audisp-syslog",
        "/sbin/audisp-remote", "/usr/sbin/audisp-remote",
        "/sbin/audispd-zos-remote", "/usr/sbin/audispd-zos-remote",
        "builtin_af_unix",
    };

    private PluginAllowList(IReadOnlyList<string> entries, bool isDefault)
    {
        Entries = entries;
        IsDefault = isDefault;
        AllowsAny = entries.Contains(AnyProgram, StringComparer.Ordinal);
    }

    /// <summary>The allowed programs (or <c>*</c>).</summary>
    public IReadOnlyList<string> Entries { get; }

    /// <summary>No list was given: the audit package's own programs.</summary>
    public bool IsDefault { get; }

    public bool AllowsAny { get; }

    /// <summary>The list for configured entries; null or empty is the audit package's programs, never "anything".</summary>
    public static PluginAllowList From(IEnumerable<string>? entries)
    {
        var list = (entries ?? Array.Empty<string>()).Where(e => !string.IsNullOrWhiteSpace(e)).Select(e => e.Trim()).ToList();
        return list.Count == 0 ? new PluginAllowList(AuditPackagePrograms, true) : new PluginAllowList(list, false);
    }

    /// <summary>Whether a plugin file may name <paramref name="program"/>; auditd compares builtin names without case.</summary>
    public bool Allows(string program) =>
        AllowsAny || Entries.Any(e => program.StartsWith("builtin_", StringComparison.OrdinalIgnoreCase)
            ? string.Equals(e, program, StringComparison.OrdinalIgnoreCase)
            : string.Equals(e, program, StringComparison.Ordinal));

    public override string ToString() => IsDefault ? "the audit package's programs: " + string.Join(", ", Entries) : string.Join(", ", Entries);
}
