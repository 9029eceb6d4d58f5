using System.Collections.Frozen;

namespace AksAuditd.Core.Rules.Auditctl;

/// <summary>The libaudit name lookups auditctl uses, over the generated tables (case rules as probed from libaudit).</summary>
internal static class AuditLookups
{
    private static StringComparer Comparer(bool ignoreCase) => ignoreCase ? StringComparer.OrdinalIgnoreCase : StringComparer.Ordinal;

    private static readonly FrozenDictionary<string, int> FieldNumbers =
        AuditTables.Fields.Concat(AuditTables.FieldAliases).DistinctBy(f => f.Name, Comparer(AuditTables.FieldNamesIgnoreCase))
            .ToFrozenDictionary(f => f.Name, f => f.Number, Comparer(AuditTables.FieldNamesIgnoreCase));

    private static readonly FrozenDictionary<int, string> FieldNames =
        AuditTables.Fields.ToFrozenDictionary(f => f.Number, f => f.Name);

    private static readonly FrozenDictionary<string, int> ErrnoNumbers =
        AuditTables.Errnos.DistinctBy(e => e.Name, Comparer(AuditTables.ErrnoNamesIgnoreCase))
            .ToFrozenDictionary(e => e.Name, e => e.Number, Comparer(AuditTables.ErrnoNamesIgnoreCase));

    private static readonly FrozenDictionary<int, string> ErrnoNames =
        AuditTables.Errnos.DistinctBy(e => e.Number).ToFrozenDictionary(e => e.Number, e => e.Name);

    private static readonly FrozenDictionary<string, int> FileTypeNumbers =
        AuditTables.FileTypes.ToFrozenDictionary(t => t.Name, t => t.Number, Comparer(AuditTables.FileTypeNamesIgnoreCase));

    private static readonly FrozenDictionary<string, uint> FsTypeNumbers =
        AuditTables.FileSystemTypes.ToFrozenDictionary(t => t.Name, t => t.Number, Comparer(AuditTables.FileSystemTypeNamesIgnoreCase));

    private static readonly FrozenDictionary<uint, string> FsTypeNames =
        AuditTables.FileSystemTypes.ToFrozenDictionary(t => t.Number, t => t.Name);

    private static readonly FrozenDictionary<string, int> MachineNumbers =
        AuditTables.MachineNames.ToFrozenDictionary(m => m.Name, m => m.Machine, Comparer(AuditTables.MachineNamesIgnoreCase));

    public static IEnumerable<string> FieldNamesInOrder => AuditTables.Fields.Select(f => f.Name);

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

    public static string? ErrnoName(int number) => ErrnoNames.TryGetValue(number, out var n) ? n : null;

    public static int FileTypeNumber(string name) => FileTypeNumbers.TryGetValue(name, out var n) ? n : -1;

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
        foreach (var m in AuditTables.Machines)
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
        foreach (var m in AuditTables.Machines)
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
        foreach (var m in AuditTables.Machines)
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
