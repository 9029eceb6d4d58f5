using AksAuditd.Core.Rules;

namespace AksAuditd.Core.Sync;

/// <summary>
/// Stable codes for what the sync itself finds in a source (AS...) and in plugin configs (AP...), next to the
/// rules engine's AR codes. Each has a PascalCase error id that cmdlets put on their error records.
/// </summary>
public static class SyncDiagnosticCodes
{
    public const string NestedPath = "AS1001";
    public const string DotDotInName = "AS1002";
    public const string ControlCharacterInName = "AS1003";
    public const string LeadingDotInName = "AS1004";
    public const string SymlinkOutsideSource = "AS1005";
    public const string FileTooLarge = "AS1006";
    public const string NotUtf8Text = "AS1007";
    public const string NotARegularFile = "AS1008";
    public const string Unreadable = "AS1009";
    public const string ImmutableNotAllowed = "AS1010";
    public const string PanicNotAllowed = "AS1011";
    public const string ImmutableNotLast = "AS1012";
    public const string IgnoredFile = "AS2001";
    public const string IgnoredDirectory = "AS2002";

    public const string PluginSyntax = "AP1001";
    public const string PluginUnknownKey = "AP1002";
    public const string PluginBadValue = "AP1003";
    public const string PluginPathNotAllowed = "AP1004";
    public const string PluginMissingPath = "AP1005";
    public const string PluginIgnoredByAuditd = "AP2001";
    public const string PluginObsolete = "AP2002";

    /// <summary>The error id for a diagnostic's code: UnsafeSourceName, InvalidRule...</summary>
    public static string ErrorId(string code) => code switch
    {
        NestedPath or DotDotInName or ControlCharacterInName or LeadingDotInName => "UnsafeSourceName",
        SymlinkOutsideSource => "SymlinkOutsideSource",
        FileTooLarge => "SourceFileTooLarge",
        NotUtf8Text => "SourceFileNotText",
        NotARegularFile or Unreadable => "SourceFileUnreadable",
        IgnoredFile or IgnoredDirectory => "IgnoredSourceFile",
        PluginPathNotAllowed => "PluginPathNotAllowed",
        ImmutableNotAllowed or PanicNotAllowed => "IrreversibleSettingNotAllowed",
        ImmutableNotLast => "ImmutableNotLastRule",
        _ when code.StartsWith("AP", StringComparison.Ordinal) => "InvalidPluginConfig",
        _ => "InvalidRule",
    };

    internal static RuleDiagnostic Error(string path, string code, string message) =>
        new(path, 0, 0, DiagnosticSeverity.Error, code, message, null);

    internal static RuleDiagnostic Warning(string path, string code, string message) =>
        new(path, 0, 0, DiagnosticSeverity.Warning, code, message, null);
}
