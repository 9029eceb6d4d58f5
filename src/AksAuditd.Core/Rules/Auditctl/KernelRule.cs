using System.Globalization;
using System.Text;

using AksAuditd.Core.Audit;

namespace AksAuditd.Core.Rules.Auditctl;

/// <summary>One field of a rule as auditctl sends it to the kernel (struct audit_rule_data: type, operator, value or string).</summary>
internal sealed class KernelField
{
    public required AuditField Type { get; init; }

    public required uint Op { get; init; }

    public uint Value { get; set; }

    /// <summary>The string of string fields; for a uid/gid name that could not be resolved, the name itself.</summary>
    public string? Text { get; set; }

    /// <summary>True when <see cref="Text"/> holds an unresolved user or group name instead of a number.</summary>
    public bool IsUnresolvedName { get; set; }
}

/// <summary>
/// A rule as the kernel holds it (struct audit_rule_data), and its rendering exactly as auditctl 3.0.9 -l prints it
/// (print_rule in auditctl-listing.c, with interpretation off), quirks included.
/// </summary>
internal sealed class KernelRule
{
    public AuditFilterList List { get; set; }

    public int Action { get; set; }

    public bool Prepend { get; set; }

    public uint[] Mask { get; } = new uint[AuditConstants.BitmaskSize];

    public List<KernelField> Fields { get; } = [];

    public void SetAllSyscalls() => Array.Fill(Mask, uint.MaxValue);

    public void SetSyscall(int number) => Mask[number / 32] |= 1u << (number % 32);

    public bool IsAllMask()
    {
        // auditctl checks every word but the last one, which the kernel uses for syscall classes.
        for (var i = 0; i < AuditConstants.BitmaskSize - 1; i++)
        {
            if (Mask[i] != uint.MaxValue)
            {
                return false;
            }
        }
        return true;
    }

    private bool ListTakesNoSyscalls => List is AuditFilterList.User or AuditFilterList.Task
        or AuditFilterList.Exclude or AuditFilterList.Filesystem;

    /// <summary>is_watch(): only path/dir/perm/key fields, a perm field, and all syscalls.</summary>
    public bool IsWatch
    {
        get
        {
            var perm = false;
            foreach (var f in Fields)
            {
                if (f.Type == AuditField.Perm)
                {
                    perm = true;
                }
                if (f.Type is not (AuditField.Perm or AuditField.FilterKey or AuditField.Dir or AuditField.Watch))
                {
                    return false;
                }
            }
            return perm && (ListTakesNoSyscalls || IsAllMask());
        }
    }

    /// <summary>The kernel's notion of "the same rule" (audit_compare_rule): list, action, prepend, fields in order, mask.</summary>
    [ThreadStatic]
    private static StringBuilder? _scratch;

    private static StringBuilder Scratch()
    {
        var b = _scratch ??= new StringBuilder(256);
        b.Clear();
        return b;
    }

    public string Identity()
    {
        var b = Scratch();
        b.Append((int)List).Append('|').Append(Action).Append('|').Append(Prepend ? 'A' : 'a');
        foreach (var f in Fields)
        {
            b.Append('|').Append((int)f.Type).Append(':').Append(f.Op.ToString("x", CultureInfo.InvariantCulture)).Append(':');
            b.Append(f.Text ?? f.Value.ToString(CultureInfo.InvariantCulture));
        }
        b.Append('|');
        if (IsAllMask())
        {
            b.Append("all:").Append(Mask[^1]);
        }
        else
        {
            for (var i = 0; i < Mask.Length; i++)
            {
                if (Mask[i] != 0)
                {
                    b.Append(i).Append(':').Append(Mask[i]).Append(',');
                }
            }
        }
        return b.ToString();
    }

    /// <param name="hostMachine">The machine of the node that lists the rule (names syscalls of rules without arch).</param>
    public string Render(int hostMachine)
    {
        var b = Scratch();
        var watch = IsWatch;
        var syscallCount = 0;
        var machine = hostMachine;
        if (!watch)
        {
            b.Append("-a ").Append(Action == AuditConstants.Always ? "always" : "never").Append(',').Append(ListName(List));
            uint elf = 0;
            foreach (var f in Fields)
            {
                if (f.Type == AuditField.Arch)
                {
                    elf = f.Value;
                    var archMachine = AuditLookups.ElfToMachine(f.Value);
                    var op = AuditConstants.OperatorSymbol(f.Op);
                    if (archMachine < 0)
                    {
                        b.Append(" -F arch").Append(op).Append("0x").Append(f.Value.ToString("X", CultureInfo.InvariantCulture));
                    }
                    else
                    {
                        b.Append(" -F arch").Append(op).Append((f.Value & AuditConstants.ArchBit64) != 0 ? "b64" : "b32");
                    }
                }
            }
            if (elf != 0)
            {
                machine = AuditLookups.ElfToMachine(elf);
            }
            syscallCount = RenderSyscalls(b, machine);
        }

        foreach (var f in Fields)
        {
            if (f.Type == AuditField.Arch)
            {
                continue;
            }
            var op = AuditConstants.OperatorSymbol(f.Op);
            var name = AuditLookups.FieldName((int)f.Type);
            if (name is null)
            {
                b.Append(" f").Append((int)f.Type).Append(op).Append(unchecked((int)f.Value));
                continue;
            }
            switch (f.Type)
            {
                case AuditField.MsgType:
                    b.Append(" -F ").Append(name).Append(op);
                    if (MessageTypes.TryGetName(unchecked((int)f.Value), out var typeName))
                    {
                        b.Append(typeName);
                    }
                    else
                    {
                        b.Append(unchecked((int)f.Value));
                    }
                    break;
                case AuditField.Watch:
                case AuditField.Dir:
                    if (watch)
                    {
                        b.Append("-w ").Append(f.Text);
                    }
                    else
                    {
                        b.Append(" -F ").Append(f.Type == AuditField.Watch ? "path=" : "dir=").Append(f.Text);
                    }
                    break;
                case AuditField.Exe:
                    b.Append(" -F exe=").Append(f.Text);
                    break;
                case AuditField.FilterKey:
                    foreach (var key in (f.Text ?? string.Empty).Split(AuditConstants.KeySeparator, StringSplitOptions.RemoveEmptyEntries))
                    {
                        b.Append(watch ? " -k " : " -F key=").Append(key);
                    }
                    break;
                case AuditField.Perm:
                    b.Append(watch ? " -p " : " -F perm=").Append(PermissionLetters.Format((AuditPermissions)f.Value));
                    break;
                case AuditField.Inode:
                    b.Append(" -F ").Append(name).Append(op).Append(f.Value);
                    break;
                case AuditField.FieldCompare:
                    b.Append(" -C ").Append(ComparisonText(f.Value, op));
                    break;
                case >= AuditField.Arg0 and <= AuditField.Arg3:
                    b.Append(" -F ").Append(name).Append(op).Append("0x").Append(f.Value.ToString("X", CultureInfo.InvariantCulture));
                    break;
                case AuditField.Exit:
                    var value = unchecked((int)f.Value);
                    var errName = value == int.MinValue ? null : AuditLookups.ErrnoName(Math.Abs(value));
                    b.Append(" -F ").Append(name).Append(op);
                    if (value < 0 && errName is not null)
                    {
                        b.Append('-').Append(errName);
                    }
                    else
                    {
                        b.Append(value);
                    }
                    break;
                case AuditField.FsType:
                    b.Append(" -F ").Append(name).Append(op);
                    if (AuditLookups.FsTypeName(f.Value) is { } fsName)
                    {
                        b.Append(fsName);
                    }
                    else
                    {
                        b.Append(unchecked((int)f.Value));
                    }
                    break;
                default:
                    b.Append(" -F ").Append(name).Append(op);
                    if (f.Text is not null)
                    {
                        // A string field, or a user/group name this check could not resolve to a number.
                        b.Append(f.Text);
                    }
                    else
                    {
                        b.Append(unchecked((int)f.Value));
                    }
                    break;
            }
        }
        return b.ToString();
    }

    private int RenderSyscalls(StringBuilder b, int machine)
    {
        if (ListTakesNoSyscalls)
        {
            return 0;
        }
        if (IsAllMask())
        {
            b.Append(" -S all");
            return AuditConstants.BitmaskSize - 1;
        }
        var arch = machine < 0 ? null : AuditLookups.MachineName(machine);
        var count = 0;
        for (var word = 0; word < AuditConstants.BitmaskSize; word++)
        {
            var bits = Mask[word];
            while (bits != 0)
            {
                var i = word * 32 + System.Numerics.BitOperations.TrailingZeroCount(bits);
                bits &= bits - 1;
                b.Append(count == 0 ? " -S " : ",");
                if (arch is not null && SyscallTable.TryGetName(arch, i, out var syscallName))
                {
                    b.Append(syscallName);
                }
                else
                {
                    b.Append(i);
                }
                count++;
            }
        }
        return count;
    }

    /// <summary>The list name auditctl -l prints; "(null)" for a number libaudit has no name for, as printf prints it.</summary>
    public static string ListName(AuditFilterList list) => AuditLookups.ListName((int)list) ?? "(null)";

    /// <summary>The AUDIT_COMPARE_* values and how auditctl -l names them (left op right).</summary>
    public static readonly (uint Value, string Left, string Right)[] Comparisons =
    [
        (1, "uid", "obj_uid"), (2, "gid", "obj_gid"), (3, "euid", "obj_uid"), (4, "egid", "obj_gid"),
        (5, "auid", "obj_uid"), (6, "suid", "obj_uid"), (7, "sgid", "obj_gid"), (8, "fsuid", "obj_uid"),
        (9, "fsgid", "obj_gid"), (10, "uid", "auid"), (11, "uid", "euid"), (12, "uid", "fsuid"),
        (13, "uid", "suid"), (14, "auid", "fsuid"), (15, "auid", "suid"), (16, "auid", "euid"),
        (17, "euid", "suid"), (18, "euid", "fsuid"), (19, "suid", "fsuid"), (20, "gid", "egid"),
        (21, "gid", "fsgid"), (22, "gid", "sgid"), (23, "egid", "fsgid"), (24, "egid", "sgid"),
        (25, "sgid", "fsgid"),
    ];

    private static string ComparisonText(uint value, string op)
    {
        foreach (var (v, left, right) in Comparisons)
        {
            if (v == value)
            {
                return left + op + right;
            }
        }
        return string.Empty;
    }

    /// <summary>The AUDIT_COMPARE_* value for a pair of fields, in either order (audit_rule_interfield_comp_data).</summary>
    public static uint ComparisonFor(AuditField left, AuditField right)
    {
        static string? Name(AuditField field) => field switch
        {
            AuditField.Uid => "uid", AuditField.Euid => "euid", AuditField.Suid => "suid",
            AuditField.Fsuid => "fsuid", AuditField.LoginUid => "auid", AuditField.ObjUid => "obj_uid",
            AuditField.Gid => "gid", AuditField.Egid => "egid", AuditField.Sgid => "sgid",
            AuditField.Fsgid => "fsgid", AuditField.ObjGid => "obj_gid",
            _ => null,
        };
        var l = Name(left);
        var r = Name(right);
        if (l is null || r is null)
        {
            return 0;
        }
        foreach (var (v, a, c) in Comparisons)
        {
            if ((a == l && c == r) || (a == r && c == l))
            {
                return v;
            }
        }
        return 0;
    }
}
