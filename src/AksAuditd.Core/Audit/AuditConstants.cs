namespace AksAuditd.Core.Audit;

/// <summary>Numbers of the kernel's audit ABI (linux/audit.h) that the rule emulation uses.</summary>
internal static class AuditConstants
{
    // Filter lists (rule flags).
    public const int FilterUser = 0x00;
    public const int FilterTask = 0x01;
    public const int FilterExit = 0x04;
    public const int FilterExclude = 0x05;
    public const int FilterFs = 0x06;
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

    // Fields.
    public const int Pid = 0;
    public const int Uid = 1;
    public const int Euid = 2;
    public const int Suid = 3;
    public const int Fsuid = 4;
    public const int Gid = 5;
    public const int Egid = 6;
    public const int Sgid = 7;
    public const int Fsgid = 8;
    public const int LoginUid = 9;
    public const int Pers = 10;
    public const int Arch = 11;
    public const int MsgType = 12;
    public const int SubjUser = 13;
    public const int SubjRole = 14;
    public const int SubjType = 15;
    public const int SubjSen = 16;
    public const int SubjClr = 17;
    public const int Ppid = 18;
    public const int ObjUser = 19;
    public const int ObjRole = 20;
    public const int ObjType = 21;
    public const int ObjLevLow = 22;
    public const int ObjLevHigh = 23;
    public const int LoginUidSet = 24;
    public const int SessionId = 25;
    public const int FsType = 26;
    public const int DevMajor = 100;
    public const int DevMinor = 101;
    public const int Inode = 102;
    public const int Exit = 103;
    public const int Success = 104;
    public const int Watch = 105;
    public const int Perm = 106;
    public const int Dir = 107;
    public const int FileType = 108;
    public const int ObjUid = 109;
    public const int ObjGid = 110;
    public const int FieldCompare = 111;
    public const int Exe = 112;
    public const int SaddrFam = 113;
    public const int Arg0 = 200;
    public const int Arg3 = 203;
    public const int FilterKey = 210;

    // Permission bits of the perm field.
    public const uint PermExec = 1;
    public const uint PermWrite = 2;
    public const uint PermRead = 4;
    public const uint PermAttr = 8;

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

    public static bool IsStringField(int field) =>
        (field >= SubjUser && field <= ObjLevHigh && field != Ppid) || field is Watch or Dir or FilterKey or Exe;

    public static bool IsUidField(int field) => field is Uid or Euid or Suid or Fsuid or LoginUid or ObjUid;

    public static bool IsGidField(int field) => field is Gid or Egid or Sgid or Fsgid or ObjGid;

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
