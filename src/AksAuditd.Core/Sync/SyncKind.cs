namespace AksAuditd.Core.Sync;

/// <summary>Which node directory a sync keeps: rules.d (read by augenrules) or plugins.d (read by auditd).</summary>
public enum SyncKind
{
    Rules,
    Plugins,
}

public static class SyncKindExtensions
{
    /// <summary>The suffix of the files that count: augenrules reads only *.rules; we ship plugins as *.conf.</summary>
    public static string Suffix(this SyncKind kind) => kind == SyncKind.Rules ? ".rules" : ".conf";

    /// <summary>The name used under the state directory (managed/rules.json, backup/rules/...).</summary>
    public static string StateName(this SyncKind kind) => kind == SyncKind.Rules ? "rules" : "plugins";

    public static bool Counts(this SyncKind kind, string name) =>
        name.EndsWith(kind.Suffix(), StringComparison.Ordinal) && name.Length > kind.Suffix().Length;
}
