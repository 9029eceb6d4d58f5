using System.Collections.Frozen;

namespace AksAuditd.Core.Audit;

/// <summary>
/// The libaudit name lookups auditctl and ausearch use, over the generated tables (case rules as probed from
/// libaudit): the one place rules and events turn audit numbers into names and back.
/// </summary>
internal static class AuditLookups
{
    private static StringComparer Comparer(bool ignoreCase) => ignoreCase ? StringComparer.OrdinalIgnoreCase : StringComparer.Ordinal;

    private static readonly FrozenDictionary<string, int> FieldNumbers =
        LibauditTables.Fields.Concat(LibauditTables.FieldAliases).DistinctBy(f => f.Name, Comparer(LibauditTables.FieldNamesIgnoreCase))
            .ToFrozenDictionary(f => f.Name, f => f.Number, Comparer(LibauditTables.FieldNamesIgnoreCase));

    private static readonly FrozenDictionary<int, string> FieldNames =
        LibauditTables.Fields.ToFrozenDictionary(f => f.Number, f => f.Name);

    private static readonly FrozenDictionary<string, int> ErrnoNumbers =
        LibauditTables.Errnos.DistinctBy(e => e.Name, Comparer(LibauditTables.ErrnoNamesIgnoreCase))
            .ToFrozenDictionary(e => e.Name, e => e.Number, Comparer(LibauditTables.ErrnoNamesIgnoreCase));

    private static readonly FrozenDictionary<int, (string Name, string Message)> ErrnoNames =
        LibauditTables.Errnos.DistinctBy(e => e.Number).ToFrozenDictionary(e => e.Number, e => (e.Name, e.Message));

    private static readonly FrozenDictionary<int, string> ListNames =
        LibauditTables.Lists.ToFrozenDictionary(l => l.Number, l => l.Name);

    // auditctl's lookup_filter compares list names with strcmp, although audit_name_to_flag would ignore case.
    private static readonly FrozenDictionary<string, int> ListNumbers =
        LibauditTables.Lists.ToFrozenDictionary(l => l.Name, l => l.Number, StringComparer.Ordinal);

    private static readonly FrozenDictionary<int, string> FileTypeNames =
        LibauditTables.FileTypes.ToFrozenDictionary(t => t.Number, t => t.Name);

    private static readonly FrozenDictionary<string, int> FileTypeNumbers =
        LibauditTables.FileTypes.ToFrozenDictionary(t => t.Name, t => t.Number, Comparer(LibauditTables.FileTypeNamesIgnoreCase));

    private static readonly FrozenDictionary<string, uint> FsTypeNumbers =
        LibauditTables.FileSystemTypes.ToFrozenDictionary(t => t.Name, t => t.Number, Comparer(LibauditTables.FileSystemTypeNamesIgnoreCase));

    private static readonly FrozenDictionary<uint, string> FsTypeNames =
        LibauditTables.FileSystemTypes.ToFrozenDictionary(t => t.Number, t => t.Name);

    private static readonly FrozenDictionary<string, int> MachineNumbers =
        LibauditTables.MachineNames.ToFrozenDictionary(m => m.Name, m => m.Machine, Comparer(LibauditTables.MachineNamesIgnoreCase));

    public static IEnumerable<string> FieldNamesInOrder => LibauditTables.Fields.Select(f => f.Name);

    public static int FieldNumber(string name) => FieldNumbers.TryGetValue(name, out var n) ? n : -1;

    public static string? FieldName(int field) => FieldNames.TryGetValue(field, out var n) ? n : null;

    /// <summary>audit_name_to_errno: a leading '-' negates; 0 when unknown.</summary>
    public static int ErrnoNumber(string name)
    {
        var sign = 1;
        if (name.StartsWith('-'))
        {
            sign = -1;
            name = name[1..];
        }
        return ErrnoNumbers.TryGetValue(name, out var n) ? n * sign : 0;
    }

    public static string? ErrnoName(int number) => ErrnoNames.TryGetValue(number, out var e) ? e.Name : null;

    /// <summary>The errno name and glibc's message for it (C locale), as ausearch -i prints exit=ENOENT(No such file or directory).</summary>
    public static bool TryGetErrno(int number, out string name, out string message)
    {
        if (ErrnoNames.TryGetValue(number, out var e))
        {
            (name, message) = e;
            return true;
        }
        name = message = string.Empty;
        return false;
    }

    /// <summary>audit_flag_to_name: the filter list a rule is on (user, task, exit, exclude, filesystem).</summary>
    public static string? ListName(int list) => ListNames.TryGetValue(list, out var n) ? n : null;

    /// <summary>The list number of a name as auditctl's lookup_filter matches it (exactly); -1 when unknown.</summary>
    public static int ListNumber(string name) => ListNumbers.TryGetValue(name, out var n) ? n : -1;

    public static int FileTypeNumber(string name) => FileTypeNumbers.TryGetValue(name, out var n) ? n : -1;

    /// <summary>audit_ftype_to_name: the name of S_IFMT bits (file, dir, link...).</summary>
    public static string? FileTypeName(int number) => FileTypeNames.TryGetValue(number, out var n) ? n : null;

    public static bool TryFsTypeNumber(string name, out uint number) => FsTypeNumbers.TryGetValue(name, out number);

    public static string? FsTypeName(uint number) => FsTypeNames.TryGetValue(number, out var n) ? n : null;

    /// <summary>audit_name_to_msg_type, including its fallbacks for UNKNOWN[n] and leading digits.</summary>
    public static int MessageTypeNumber(string name)
    {
        if (MessageTypes.TryGetNumber(name, out var number))
        {
            return number;
        }
        if (name.StartsWith("UNKNOWN[", StringComparison.Ordinal))
        {
            var end = name.IndexOf(']', 8);
            if (end < 0)
            {
                return -1;
            }
            var digits = name[8..end];
            if (digits.Length > 7)
            {
                digits = digits[..7];
            }
            return unchecked((int)CNumber.StrToL(digits, 10).Bits);
        }
        if (name.Length > 0 && CNumber.IsDigit(name[0]))
        {
            return unchecked((int)CNumber.StrToL(name, 10).Bits);
        }
        return -1;
    }

    public static int MachineNumber(string name) => MachineNumbers.TryGetValue(name, out var m) ? m : -1;

    public static uint MachineToElf(int machine)
    {
        foreach (var m in LibauditTables.Machines)
        {
            if (m.Machine == machine)
            {
                return m.AuditArch;
            }
        }
        return 0;
    }

    public static int ElfToMachine(uint elf)
    {
        foreach (var m in LibauditTables.Machines)
        {
            if (m.AuditArch == elf)
            {
                return m.Machine;
            }
        }
        return -1;
    }

    /// <summary>The libaudit name of a machine, which is also the name of its syscall table (x86_64, i386, aarch64, armeb).</summary>
    public static string? MachineName(int machine)
    {
        foreach (var m in LibauditTables.Machines)
        {
            if (m.Machine == machine)
            {
                return m.Name;
            }
        }
        return null;
    }

    /// <summary>
    /// audit_determine_machine: b64/b32 relative to the node's machine, a machine name, or a hex AUDIT_ARCH value;
    /// negative when the arch is unknown (-4) or the bit width does not exist for it (-6).
    /// </summary>
    public static int DetermineMachine(string arch, int hostMachine)
    {
        int machine;
        var bits = 0;
        if (string.Equals(arch, "b64", StringComparison.OrdinalIgnoreCase))
        {
            bits = 64;
            machine = hostMachine;
        }
        else if (string.Equals(arch, "b32", StringComparison.OrdinalIgnoreCase))
        {
            bits = 32;
            machine = hostMachine;
        }
        else
        {
            machine = MachineNumber(arch);
            if (machine < 0)
            {
                var parsed = CNumber.StrToUL(arch, 16);
                if (parsed.Overflow)
                {
                    return -4;
                }
                machine = ElfToMachine(unchecked((uint)parsed.Bits));
            }
        }
        if (machine < 0)
        {
            return -4;
        }
        if (bits == 32)
        {
            machine = machine switch
            {
                AuditConstants.Mach86_64 => AuditConstants.MachX86,
                AuditConstants.MachPpc64 => AuditConstants.MachPpc,
                AuditConstants.MachS390x => AuditConstants.MachS390,
                AuditConstants.MachAarch64 => AuditConstants.MachArm,
                _ => machine,
            };
        }
        return machine switch
        {
            AuditConstants.MachX86 or AuditConstants.MachPpc or AuditConstants.MachS390 or AuditConstants.MachArm
                => bits == 64 ? -6 : machine,
            AuditConstants.MachAarch64 or AuditConstants.MachPpc64le => bits != 0 && bits != 64 ? -6 : machine,
            AuditConstants.Mach86_64 or AuditConstants.MachPpc64 or AuditConstants.MachS390x => machine,
            _ => -6,
        };
    }
}
