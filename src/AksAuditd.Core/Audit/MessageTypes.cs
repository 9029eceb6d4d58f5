using System.Collections.Frozen;

namespace AksAuditd.Core.Audit;

/// <summary>
/// Audit message (record) type numbers and names, as libaudit 3.0.9 knows them: 1300 is SYSCALL, 1112 is USER_LOGIN.
/// Names match regardless of case, as in auditctl's -F msgtype= and ausearch's -m.
/// </summary>
public static class MessageTypes
{
    private static readonly StringComparer NameComparer =
        LibauditTables.MessageTypeNamesIgnoreCase ? StringComparer.OrdinalIgnoreCase : StringComparer.Ordinal;

    private static readonly FrozenDictionary<int, string> NameByNumber =
        LibauditTables.MessageTypes.ToFrozenDictionary(t => t.Number, t => t.Name);

    private static readonly FrozenDictionary<string, int> NumberByName =
        LibauditTables.MessageTypes.Concat(LibauditTables.MessageTypeAliases)
            .DistinctBy(t => t.Name, NameComparer)
            .ToFrozenDictionary(t => t.Name, t => t.Number, NameComparer);

    /// <summary>Every known type name, in number order.</summary>
    public static IReadOnlyCollection<string> Names { get; } =
        Array.AsReadOnly(LibauditTables.MessageTypes.OrderBy(t => t.Number).Select(t => t.Name).ToArray());

    public static bool TryGetName(int number, out string name)
    {
        if (NameByNumber.TryGetValue(number, out var found))
        {
            name = found;
            return true;
        }
        name = string.Empty;
        return false;
    }

    public static bool TryGetNumber(string name, out int number)
    {
        if (NumberByName.TryGetValue(name, out number))
        {
            return true;
        }
        number = -1;
        return false;
    }
}
