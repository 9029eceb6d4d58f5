using System.Collections.Frozen;

namespace AksAuditd.Core.Audit;

/// <summary>
/// Syscall numbers and names per audit architecture, as auditctl 3.0.9 knows them (generated from
/// <c>ausyscall &lt;arch&gt; --dump</c>), and the mapping of the kernel's AUDIT_ARCH_* values to arch names.
/// Arch names are the ones auditctl and ausearch use: x86_64, i386, aarch64, and armeb for 32-bit arm.
/// </summary>
public static partial class SyscallTable
{
    private sealed record ArchTable(
        FrozenDictionary<int, string> NameByNumber,
        FrozenDictionary<string, int> NumberByName);

    // libaudit matches syscall names with strcasecmp, so "OPEN" is the same syscall as "open".
    private static readonly StringComparer NameComparer =
        GeneratedNamesIgnoreCase ? StringComparer.OrdinalIgnoreCase : StringComparer.Ordinal;

    private static readonly FrozenDictionary<string, ArchTable> Tables = BuildTables();

    private static readonly FrozenDictionary<uint, string> ArchNameByAuditArch =
        LibauditTables.Machines.ToFrozenDictionary(m => m.AuditArch, m => m.Name);

    /// <summary>The arch names that have a syscall table.</summary>
    public static IReadOnlyCollection<string> Architectures { get; } = Array.AsReadOnly(GeneratedTables.Select(t => t.Arch).ToArray());

    public static bool TryGetName(string arch, int number, out string name)
    {
        if (Tables.TryGetValue(arch, out var table) && table.NameByNumber.TryGetValue(number, out var found))
        {
            name = found;
            return true;
        }
        name = string.Empty;
        return false;
    }

    public static bool TryGetNumber(string arch, string name, out int number)
    {
        if (Tables.TryGetValue(arch, out var table) && table.NumberByName.TryGetValue(name, out number))
        {
            return true;
        }
        number = -1;
        return false;
    }

    /// <summary>
    /// The libaudit machine name for a kernel AUDIT_ARCH_* value (c000003e is x86_64, 40000003 is i386,
    /// c00000b7 is aarch64), as found in the arch= field of SYSCALL records.
    /// </summary>
    public static bool TryGetArchName(uint auditArch, out string name)
    {
        if (ArchNameByAuditArch.TryGetValue(auditArch, out var found))
        {
            name = found;
            return true;
        }
        name = string.Empty;
        return false;
    }

    /// <summary>The AUDIT_ARCH_* value of a libaudit machine name (x86_64 is 0xc000003e).</summary>
    public static bool TryGetAuditArch(string archName, out uint auditArch)
    {
        foreach (var machine in LibauditTables.Machines)
        {
            if (string.Equals(machine.Name, archName, StringComparison.OrdinalIgnoreCase))
            {
                auditArch = machine.AuditArch;
                return true;
            }
        }
        auditArch = 0;
        return false;
    }

    private static FrozenDictionary<string, ArchTable> BuildTables()
    {
        var tables = new Dictionary<string, ArchTable>(StringComparer.Ordinal);
        foreach (var (arch, calls) in GeneratedTables)
        {
            var byNumber = new Dictionary<int, string>();
            var byName = new Dictionary<string, int>(NameComparer);
            foreach (var (number, name) in calls)
            {
                byNumber.TryAdd(number, name);
                byName.TryAdd(name, number);
            }
            tables[arch] = new ArchTable(byNumber.ToFrozenDictionary(), byName.ToFrozenDictionary(NameComparer));
        }
        return tables.ToFrozenDictionary(StringComparer.Ordinal);
    }
}
