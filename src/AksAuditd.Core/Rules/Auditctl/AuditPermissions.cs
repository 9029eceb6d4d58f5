using System.Text;

namespace AksAuditd.Core.Rules.Auditctl;

/// <summary>The bits of the perm field (AUDIT_PERM_*): what access to a watched path is audited.</summary>
[Flags]
internal enum AuditPermissions : uint
{
    None = 0,
    Execute = 1,
    Write = 2,
    Read = 4,
    Attribute = 8,
    All = Read | Write | Execute | Attribute,
}

/// <summary>The letters r, w, x, a of -p and -F perm=, read and written as auditctl does.</summary>
internal static class PermissionLetters
{
    /// <summary>Both -p and -F perm= refuse more than four bytes before looking at the letters.</summary>
    public const int MaxBytes = 4;

    public static bool IsTooLong(string letters) => Encoding.UTF8.GetByteCount(letters) > MaxBytes;

    /// <summary>The permissions of the letters (any case); false with the first letter that is none of r, w, x, a.</summary>
    public static bool TryParse(string letters, out AuditPermissions permissions, out char invalid)
    {
        permissions = AuditPermissions.None;
        invalid = '\0';
        foreach (var ch in letters)
        {
            var bit = char.ToLowerInvariant(ch) switch
            {
                'r' => AuditPermissions.Read,
                'w' => AuditPermissions.Write,
                'x' => AuditPermissions.Execute,
                'a' => AuditPermissions.Attribute,
                _ => AuditPermissions.None,
            };
            if (bit == AuditPermissions.None)
            {
                invalid = ch;
                return false;
            }
            permissions |= bit;
        }
        return true;
    }

    /// <summary>The letters auditctl -l prints, always in the order r, w, x, a.</summary>
    public static string Format(AuditPermissions permissions)
    {
        var b = new StringBuilder(4);
        if ((permissions & AuditPermissions.Read) != 0) b.Append('r');
        if ((permissions & AuditPermissions.Write) != 0) b.Append('w');
        if ((permissions & AuditPermissions.Execute) != 0) b.Append('x');
        if ((permissions & AuditPermissions.Attribute) != 0) b.Append('a');
        return b.ToString();
    }
}
