using System.Collections.Frozen;
using System.Runtime.CompilerServices;
using AksAuditd.Core.Audit;
using static AksAuditd.Core.Events.HexDigits;

namespace AksAuditd.Core.Events;

/// <summary>How ausearch -i treats a field, decided by its name and, for a few names, the record type.</summary>
internal enum FieldKind
{
    Unclassified,
    Uid,
    Gid,
    Syscall,
    Arch,
    Exit,
    Escaped,
    EscapedKey,
    Perm,
    Mode,
    ModeShort,
    Sockaddr,
    Promiscuous,
    Capability,
    Success,
    A0,
    A1,
    A2,
    A3,
    Signal,
    List,
    Session,
    CapabilityBitmap,
    Seccomp,
    OpenFlags,
    MmapFlags,
    ProcessTitle,

    /// <summary>Kinds ausearch interprets that Get-AuditEvent shows as written (README, "Faithful to ausearch").</summary>
    NotInterpreted,
}

/// <summary>
/// The field-kind table: which kind of value a field holds, by its name and, for a few names, the record type
/// (auparse's fieldtab.h and the exceptions interpret.c makes for certain record types).
/// </summary>
internal static class FieldKinds
{
    private static readonly FrozenDictionary<string, FieldKind> KindByName = new Dictionary<string, FieldKind>
    {
        ["auid"] = FieldKind.Uid, ["uid"] = FieldKind.Uid, ["euid"] = FieldKind.Uid, ["suid"] = FieldKind.Uid,
        ["fsuid"] = FieldKind.Uid, ["ouid"] = FieldKind.Uid, ["oauid"] = FieldKind.Uid, ["old-auid"] = FieldKind.Uid,
        ["iuid"] = FieldKind.Uid, ["id"] = FieldKind.Uid, ["inode_uid"] = FieldKind.Uid, ["sauid"] = FieldKind.Uid,
        ["obj_uid"] = FieldKind.Uid,
        ["obj_gid"] = FieldKind.Gid, ["gid"] = FieldKind.Gid, ["egid"] = FieldKind.Gid, ["sgid"] = FieldKind.Gid,
        ["fsgid"] = FieldKind.Gid, ["ogid"] = FieldKind.Gid, ["igid"] = FieldKind.Gid, ["inode_gid"] = FieldKind.Gid,
        ["new_gid"] = FieldKind.Gid,
        ["syscall"] = FieldKind.Syscall,
        ["arch"] = FieldKind.Arch,
        ["exit"] = FieldKind.Exit,
        ["path"] = FieldKind.Escaped, ["comm"] = FieldKind.Escaped, ["exe"] = FieldKind.Escaped, ["file"] = FieldKind.Escaped,
        ["name"] = FieldKind.Escaped, ["watch"] = FieldKind.Escaped, ["cwd"] = FieldKind.Escaped, ["cmd"] = FieldKind.Escaped,
        ["acct"] = FieldKind.Escaped, ["dir"] = FieldKind.Escaped, ["vm"] = FieldKind.Escaped,
        ["old-chardev"] = FieldKind.Escaped, ["new-chardev"] = FieldKind.Escaped, ["old-disk"] = FieldKind.Escaped,
        ["new-disk"] = FieldKind.Escaped, ["old-fs"] = FieldKind.Escaped, ["new-fs"] = FieldKind.Escaped,
        ["old-net"] = FieldKind.Escaped, ["new-net"] = FieldKind.Escaped, ["device"] = FieldKind.Escaped,
        ["cgroup"] = FieldKind.Escaped, ["old-rng"] = FieldKind.Escaped, ["new-rng"] = FieldKind.Escaped,
        ["ocomm"] = FieldKind.Escaped, ["grp"] = FieldKind.Escaped, ["new_group"] = FieldKind.Escaped,
        ["invalid_context"] = FieldKind.Escaped, ["sw"] = FieldKind.Escaped, ["root_dir"] = FieldKind.Escaped,
        ["key"] = FieldKind.EscapedKey,
        ["perm"] = FieldKind.Perm, ["perm_mask"] = FieldKind.Perm,
        ["mode"] = FieldKind.Mode,
        ["saddr"] = FieldKind.Sockaddr,
        ["prom"] = FieldKind.Promiscuous, ["old_prom"] = FieldKind.Promiscuous,
        ["capability"] = FieldKind.Capability,
        ["res"] = FieldKind.Success, ["result"] = FieldKind.Success,
        ["a0"] = FieldKind.A0, ["a1"] = FieldKind.A1, ["a2"] = FieldKind.A2, ["a3"] = FieldKind.A3,
        ["sig"] = FieldKind.Signal, ["sigev_signo"] = FieldKind.Signal,
        ["list"] = FieldKind.List,
        ["ses"] = FieldKind.Session,
        ["cap_pi"] = FieldKind.CapabilityBitmap, ["cap_pe"] = FieldKind.CapabilityBitmap, ["cap_pp"] = FieldKind.CapabilityBitmap,
        ["cap_pa"] = FieldKind.CapabilityBitmap, ["cap_fi"] = FieldKind.CapabilityBitmap, ["cap_fp"] = FieldKind.CapabilityBitmap,
        ["fp"] = FieldKind.CapabilityBitmap, ["fi"] = FieldKind.CapabilityBitmap, ["old_pp"] = FieldKind.CapabilityBitmap,
        ["old_pi"] = FieldKind.CapabilityBitmap, ["old_pe"] = FieldKind.CapabilityBitmap, ["old_pa"] = FieldKind.CapabilityBitmap,
        ["new_pp"] = FieldKind.CapabilityBitmap, ["new_pi"] = FieldKind.CapabilityBitmap, ["new_pe"] = FieldKind.CapabilityBitmap,
        ["pp"] = FieldKind.CapabilityBitmap, ["pi"] = FieldKind.CapabilityBitmap, ["pe"] = FieldKind.CapabilityBitmap,
        ["pa"] = FieldKind.CapabilityBitmap,
        ["code"] = FieldKind.Seccomp,
        ["oflag"] = FieldKind.OpenFlags,
        ["flags"] = FieldKind.MmapFlags,
        ["proctitle"] = FieldKind.ProcessTitle,
        ["data"] = FieldKind.NotInterpreted, ["family"] = FieldKind.NotInterpreted, ["icmptype"] = FieldKind.NotInterpreted,
        ["proto"] = FieldKind.NotInterpreted, ["per"] = FieldKind.NotInterpreted, ["hook"] = FieldKind.NotInterpreted,
        ["action"] = FieldKind.NotInterpreted, ["macproto"] = FieldKind.NotInterpreted, ["ioctlcmd"] = FieldKind.NotInterpreted,
        ["resp"] = FieldKind.NotInterpreted, ["nl-mcgrp"] = FieldKind.NotInterpreted, ["resolve"] = FieldKind.NotInterpreted,
    }.ToFrozenDictionary(StringComparer.Ordinal);

    internal static readonly int Syscall = TypeNumber("SYSCALL");
    internal static readonly int Seccomp = TypeNumber("SECCOMP");
    private static readonly int Execve = TypeNumber("EXECVE");
    private static readonly int Avc = TypeNumber("AVC");
    private static readonly int NetfilterPacket = TypeNumber("NETFILTER_PKT");
    private static readonly int PathRecord = TypeNumber("PATH");
    private static readonly int MqOpen = TypeNumber("MQ_OPEN");
    private static readonly int CryptoKeyUser = TypeNumber("CRYPTO_KEY_USER");
    private static readonly int AddGroup = TypeNumber("ADD_GROUP");
    private static readonly int GroupManagement = TypeNumber("GRP_MGMT");
    private static readonly int DeleteGroup = TypeNumber("DEL_GROUP");
    private static readonly int TrustedApp = TypeNumber("TRUSTED_APP");

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static FieldKind Of(int recordType, string name, FieldKind kindOfName, ReadOnlySpan<byte> value)
    {
        // The record-type exceptions ausearch makes for names that mean different things in different records.
        if (recordType == Execve && name.Length > 0 && name[0] == 'a' && name != "argc" && !name.Contains("_len", StringComparison.Ordinal))
        {
            return FieldKind.Escaped;
        }

        if (recordType == TrustedApp)
        {
            if (value.Length > 0 && value[0] == '"')
            {
                return FieldKind.Escaped;
            }

            return !IsDecimal(value) && IsHex(value) ? FieldKind.Escaped : FieldKind.Unclassified;
        }

        return kindOfName switch
        {
            FieldKind.Sockaddr when recordType == Avc || recordType == NetfilterPacket => FieldKind.Unclassified,
            FieldKind.Escaped when name == "acct" => value.Length > 0 && value[0] == '"' || IsHex(value) ? FieldKind.Escaped : FieldKind.Unclassified,
            FieldKind.MmapFlags when recordType == PathRecord => FieldKind.NotInterpreted,
            FieldKind.Mode when recordType == MqOpen => FieldKind.ModeShort,
            FieldKind.CapabilityBitmap when recordType == CryptoKeyUser && name == "fp" => FieldKind.Unclassified,
            FieldKind.Uid when name == "id" && (recordType == AddGroup || recordType == GroupManagement || recordType == DeleteGroup) => FieldKind.Gid,
            _ => kindOfName,
        };
    }

    /// <summary>The table's kind for a name, before a record's type refines it (<see cref="FieldNames"/> keeps it per distinct name).</summary>
    internal static FieldKind KindOfName(string name) => KindByName.GetValueOrDefault(name, FieldKind.Unclassified);

    private static int TypeNumber(string name) => MessageTypes.TryGetNumber(name, out var number) ? number : -1;
}
