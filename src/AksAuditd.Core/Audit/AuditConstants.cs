namespace AksAuditd.Core.Audit;

/// <summary>Numbers of the kernel's audit ABI (linux/audit.h) that the rule emulation uses.</summary>
internal static class AuditConstants
{
    // auditctl's rule flags: a filter list (AuditFilterList) in the low bits, and these.
    public const int FilterMask = 0x07;
    public const int FilterUnset = 0x80;
    public const int FilterPrepend = 0x10;

    // Actions.
    public const int Never = 0;
    public const int Always = 2;

    public const int MaxFields = 64;
    public const int MaxKeyLength = 256;
    public const int BitmaskSize = 64;
    public const int PathMax = 4096;
    public const int NameMax = 255;
    public const char KeySeparator = '\u0001';

    /// <summary>AF_MAX of glibc 2.36 and of the kernel: saddr_fam must be below it.</summary>
    public const uint AddressFamilyMax = 46;

    // Operators.
    public const uint OpBitMask = 0x08000000;
    public const uint OpLessThan = 0x10000000;
    public const uint OpGreaterThan = 0x20000000;
    public const uint OpNotEqual = 0x30000000;
    public const uint OpEqual = 0x40000000;
    public const uint OpBitTest = OpBitMask | OpEqual;
    public const uint OpLessOrEqual = OpLessThan | OpEqual;
    public const uint OpGreaterOrEqual = OpGreaterThan | OpEqual;

    public const uint ArchBit64 = 0x80000000;
    public const uint SfmtMask = 0xF000; // S_IFMT

    // libaudit machine numbers (machinetab.h).
    public const int MachX86 = 0;
    public const int Mach86_64 = 1;
    public const int MachPpc64 = 3;
    public const int MachPpc = 4;
    public const int MachS390x = 5;
    public const int MachS390 = 6;
    public const int MachArm = 8;
    public const int MachAarch64 = 9;
    public const int MachPpc64le = 10;

    public static bool IsStringField(AuditField field) =>
        (field >= AuditField.SubjUser && field <= AuditField.ObjLevHigh && field != AuditField.Ppid)
        || field is AuditField.Watch or AuditField.Dir or AuditField.FilterKey or AuditField.Exe;

    public static bool IsUidField(AuditField field) =>
        field is AuditField.Uid or AuditField.Euid or AuditField.Suid or AuditField.Fsuid or AuditField.LoginUid or AuditField.ObjUid;

    public static bool IsGidField(AuditField field) =>
        field is AuditField.Gid or AuditField.Egid or AuditField.Sgid or AuditField.Fsgid or AuditField.ObjGid;

    public static string OperatorSymbol(uint op) => op switch
    {
        OpBitMask => "&",
        OpLessThan => "<",
        OpGreaterThan => ">",
        OpNotEqual => "!=",
        OpEqual => "=",
        OpBitTest => "&=",
        OpLessOrEqual => "<=",
        OpGreaterOrEqual => ">=",
        _ => "?",
    };
}

/// <summary>
/// The rule field numbers of the kernel's audit ABI (AUDIT_PID ... AUDIT_FILTERKEY in linux/audit.h) that the rule
/// emulation checks by name; libaudit's names for every field number are in the generated LibauditTables.Fields.
/// </summary>
internal enum AuditField
{
    Pid = 0,
    Uid = 1,
    Euid = 2,
    Suid = 3,
    Fsuid = 4,
    Gid = 5,
    Egid = 6,
    Sgid = 7,
    Fsgid = 8,
    LoginUid = 9,
    Pers = 10,
    Arch = 11,
    MsgType = 12,
    SubjUser = 13,
    SubjRole = 14,
    SubjType = 15,
    SubjSen = 16,
    SubjClr = 17,
    Ppid = 18,
    ObjUser = 19,
    ObjRole = 20,
    ObjType = 21,
    ObjLevLow = 22,
    ObjLevHigh = 23,
    LoginUidSet = 24,
    SessionId = 25,
    FsType = 26,
    DevMajor = 100,
    DevMinor = 101,
    Inode = 102,
    Exit = 103,
    Success = 104,
    Watch = 105,
    Perm = 106,
    Dir = 107,
    FileType = 108,
    ObjUid = 109,
    ObjGid = 110,
    FieldCompare = 111,
    Exe = 112,
    SaddrFam = 113,
    Arg0 = 200,
    Arg3 = 203,
    FilterKey = 210,
}

/// <summary>The kernel's filter lists (AUDIT_FILTER_*), as -a list,action names them; libaudit's names are in LibauditTables.Lists.</summary>
internal enum AuditFilterList
{
    User = 0x00,
    Task = 0x01,
    Exit = 0x04,
    Exclude = 0x05,
    Filesystem = 0x06,

    /// <summary>AUDIT_FILTER_UNSET: no list given yet.</summary>
    Unset = 0x80,
}
