namespace AksAuditd.Core.Rules.Auditctl;

/// <summary>
/// The globals of libaudit that auditctl sets and reads between calls (_audit_syscalladded, _audit_permadded,
/// _audit_exeadded, _audit_filterfsadded, _audit_elf): whether the rule has something a key can label, and the
/// arch its syscalls are looked up in. Reset for every line, as auditctl's reset_vars does.
/// </summary>
internal sealed class LibauditGlobals
{
    public bool SyscallAdded { get; set; }

    public bool PermAdded { get; set; }

    public bool ExeAdded { get; set; }

    public bool FilterFsAdded { get; set; }

    /// <summary>The AUDIT_ARCH_* value of -F arch (0 until one is given or -S picks the node's).</summary>
    public uint Elf { get; set; }

    /// <summary>A key needs one of these before it.</summary>
    public bool HasKeyableSubject => SyscallAdded || PermAdded || ExeAdded || FilterFsAdded;
}
