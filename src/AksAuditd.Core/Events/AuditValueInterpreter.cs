using System.Runtime.CompilerServices;
using System.Buffers;
using System.Collections.Frozen;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;
using AksAuditd.Core.Audit;
using AksAuditd.Core.Configuration;
using AksAuditd.Core.Rules;

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

/// <summary>What a SYSCALL or SECCOMP record says about the call, for interpreting its arguments.</summary>
internal sealed record SyscallContext(string Arch, string? Name, ulong A0, ulong A1);

/// <summary>
/// Turns raw field values into what <c>ausearch -i</c> (audit 3.0.9) prints: uid and gid to names through the node's
/// passwd and group files, syscall and arch numbers to names (the rules engine's tables), negative exits to errno
/// names, hex strings decoded, modes, permissions, socket addresses, flags and signals to names. An ENRICHED record's
/// own names (written by auditd when the event happened) win over a lookup now, as they do in ausearch.
/// </summary>
internal sealed class AuditValueInterpreter
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

    private static readonly int Syscall = TypeNumber("SYSCALL");
    private static readonly int Seccomp = TypeNumber("SECCOMP");
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
    private static readonly int KernelModule = TypeNumber("KERN_MODULE");


    private static readonly FrozenDictionary<long, string> Signals = InterpretationTables.Signals.ToFrozenDictionary(e => e.Value, e => e.Name);
    private static readonly FrozenDictionary<long, string> Capabilities = InterpretationTables.Capabilities.ToFrozenDictionary(e => e.Value, e => e.Name);
    private static readonly int LastCapability = (int)InterpretationTables.Capabilities.Max(e => e.Value);
    private static readonly FrozenDictionary<long, string> Families = InterpretationTables.Families.ToFrozenDictionary(e => e.Value, e => e.Name);
    private static readonly FrozenDictionary<long, string> SocketTypes = InterpretationTables.SocketTypes.ToFrozenDictionary(e => e.Value, e => e.Name);
    private static readonly FrozenDictionary<long, string> AccessModes = InterpretationTables.AccessModes.ToFrozenDictionary(e => e.Value, e => e.Name);
    private static readonly FrozenDictionary<long, string> FcntlCommands = InterpretationTables.FcntlCommands.ToFrozenDictionary(e => e.Value, e => e.Name);
    private static readonly FrozenDictionary<long, string> EpollOperations = InterpretationTables.EpollOperations.ToFrozenDictionary(e => e.Value, e => e.Name);
    private static readonly FrozenDictionary<long, string> ClockIds = InterpretationTables.ClockIds.ToFrozenDictionary(e => e.Value, e => e.Name);
    private static readonly FrozenDictionary<long, string> SeccompActions = InterpretationTables.SeccompActions.ToFrozenDictionary(e => e.Value, e => e.Name);
    private static readonly (uint Bit, string Name)[] OpenFlags = Ordered(InterpretationTables.OpenFlags, InterpretationTables.OpenFlagOrder);
    private static readonly (uint Bit, string Name)[] CloneFlags = Ordered(InterpretationTables.CloneFlags, InterpretationTables.CloneFlagOrder);
    private static readonly (uint Bit, string Name)[] MmapFlags = Ordered(InterpretationTables.MmapFlags, InterpretationTables.MmapFlagOrder);
    private static readonly (uint Bit, string Name)[] ProtFlags = InterpretationTables.ProtFlags.Select(e => ((uint)e.Value, e.Name)).ToArray();

    [ThreadStatic]
    private static Dictionary<ulong, byte[]>? _bitmapNames;

    private readonly IAccountNames _accounts;
    private readonly string _hostRoot;
    private readonly string _hostArch;
    private Dictionary<uint, string>? _protocols;

    public AuditValueInterpreter(IAccountNames accounts, string hostRoot)
    {
        _accounts = accounts;
        _hostRoot = hostRoot;
        // ausearch falls back to the machine it runs on (uname) when a record carries no arch.
        _hostArch = RuntimeInformation.OSArchitecture switch
        {
            Architecture.Arm64 => "aarch64",
            Architecture.X86 => "i386",
            _ => "x86_64",
        };
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static FieldKind KindOf(int recordType, string name, ReadOnlySpan<byte> value)
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

        var kind = KindByName.GetValueOrDefault(name, FieldKind.Unclassified);
        return kind switch
        {
            FieldKind.Sockaddr when recordType == Avc || recordType == NetfilterPacket => FieldKind.Unclassified,
            FieldKind.Escaped when name == "acct" => value.Length > 0 && value[0] == '"' || IsHex(value) ? FieldKind.Escaped : FieldKind.Unclassified,
            FieldKind.MmapFlags when recordType == PathRecord => FieldKind.NotInterpreted,
            FieldKind.Mode when recordType == MqOpen => FieldKind.ModeShort,
            FieldKind.CapabilityBitmap when recordType == CryptoKeyUser && name == "fp" => FieldKind.Unclassified,
            FieldKind.Uid when name == "id" && (recordType == AddGroup || recordType == GroupManagement || recordType == DeleteGroup) => FieldKind.Gid,
            _ => kind,
        };
    }

    /// <summary>The interpreted value, or null when ausearch shows the value exactly as written.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public string? Interpret(AuditRecord record, int index, string name)
    {
        var value = record.ValueSpan(index);
        if (name == "acct" && value.Length > 0 && value[^1] == ':')
        {
            value = value[..^1];
        }

        var kind = KindOf(record.TypeNumber, name, value);
        if (kind is FieldKind.Unclassified or FieldKind.NotInterpreted)
        {
            // ausearch prints these exactly as written, quotes included.
            return null;
        }

        var output = ValueBuilder.ForThread();
        {
            if (record.IsEnriched && record.TryGetEnriched(record.NameSpan(index), out var enriched) && !enriched.StartsWith("unknown-"u8))
            {
                if (kind is FieldKind.Uid or FieldKind.Gid)
                {
                    AppendEscaped(output, enriched);
                }
                else
                {
                    output.Append(enriched);
                }
            }
            else
            {
                Append(output, kind, record, name, value);
            }

            return kind == FieldKind.EscapedKey ? output.ToKeyString() : output.ToEscapedString();
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public SyscallContext CreateSyscallContext(AuditRecord record)
    {
        if (record.TypeNumber != Syscall && record.TypeNumber != Seccomp)
        {
            return new SyscallContext(_hostArch, null, 0, 0);
        }

        var arch = _hostArch;
        var archIndex = record.IndexOf("arch"u8);
        if (archIndex >= 0)
        {
            arch = CNumber.TryStrToUL(record.ValueSpan(archIndex), 16, out var auditArch) && SyscallTable.TryGetArchName((uint)auditArch, out var archName)
                ? archName
                : string.Empty;
        }

        string? name = null;
        var syscallIndex = record.IndexOf("syscall"u8);
        if (syscallIndex >= 0 && CNumber.TryStrToUL(record.ValueSpan(syscallIndex), 10, out var number)
            && SyscallTable.TryGetName(arch.Length == 0 ? _hostArch : arch, (int)number, out var found))
        {
            name = found;
        }

        return new SyscallContext(arch, name, Argument("a0"u8), Argument("a1"u8));

        ulong Argument(ReadOnlySpan<byte> field)
        {
            var i = record.IndexOf(field);
            return i >= 0 && CNumber.TryStrToUL(record.ValueSpan(i), 16, out var v) ? v : 0;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void Append(ValueBuilder output, FieldKind kind, AuditRecord record, string name, ReadOnlySpan<byte> value)
    {
        switch (kind)
        {
            case FieldKind.Uid:
                AppendUid(output, value, 10);
                break;
            case FieldKind.Gid:
                AppendGid(output, value, 10);
                break;
            case FieldKind.Syscall:
                AppendSyscall(output, record, value);
                break;
            case FieldKind.Arch:
                AppendArch(output, value);
                break;
            case FieldKind.Exit:
                AppendExit(output, value);
                break;
            case FieldKind.Escaped:
            case FieldKind.EscapedKey:
                AppendEscaped(output, value);
                break;
            case FieldKind.ProcessTitle:
                AppendProcessTitle(output, value);
                break;
            case FieldKind.Perm:
                AppendPerm(output, value);
                break;
            case FieldKind.Mode:
                AppendMode(output, value, 8);
                break;
            case FieldKind.ModeShort:
                AppendModeShort(output, value, 8);
                break;
            case FieldKind.Sockaddr:
                AppendSockaddr(output, value);
                break;
            case FieldKind.Promiscuous:
                if (CNumber.TryStrToLL(value, out var promiscuous))
                {
                    output.Append(promiscuous == 0 ? "no" : "yes");
                }
                else
                {
                    ConversionError(output, value);
                }

                break;
            case FieldKind.Capability:
                AppendCapability(output, value);
                break;
            case FieldKind.Success:
                AppendSuccess(output, value);
                break;
            case FieldKind.A0:
            case FieldKind.A1:
            case FieldKind.A2:
            case FieldKind.A3:
                AppendArgument(output, kind - FieldKind.A0, record.Syscall, value);
                break;
            case FieldKind.Signal:
                AppendSignal(output, value, 10);
                break;
            case FieldKind.List:
                if (!CNumber.TryStrToUL(value, 10, out var list))
                {
                    ConversionError(output, value);
                }
                else if (list <= int.MaxValue && AuditLookups.ListName((int)list) is { } listName)
                {
                    output.Append(listName);
                }
                else
                {
                    output.Append("unknown-list(").Append(value).Append(')');
                }

                break;
            case FieldKind.Session:
                output.Append(value.SequenceEqual("4294967295"u8) ? "unset"u8 : value);
                break;
            case FieldKind.CapabilityBitmap:
                AppendCapabilityBitmap(output, value);
                break;
            case FieldKind.Seccomp:
                if (!CNumber.TryStrToUL(value, 16, out var code))
                {
                    ConversionError(output, value);
                }
                else if (SeccompActions.TryGetValue((long)(code & 0x7fff0000), out var action))
                {
                    output.Append(action);
                }
                else
                {
                    output.Append("unknown-seccomp-code(").Append(value).Append(')');
                }

                break;
            case FieldKind.OpenFlags:
                AppendOpenFlags(output, value);
                break;
            case FieldKind.MmapFlags:
                AppendMmapFlags(output, value);
                break;
            default:
                output.Append(value);
                break;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void AppendUid(ValueBuilder output, ReadOnlySpan<byte> value, int numberBase)
    {
        if (!CNumber.TryStrToUL(value, numberBase, out var parsed))
        {
            ConversionError(output, value);
            return;
        }

        var id = unchecked((int)parsed);
        if (id == -1)
        {
            output.Append("unset");
        }
        else if (id == 0)
        {
            output.Append("root");
        }
        else if (_accounts.TryGetUserName(unchecked((uint)id), out var user))
        {
            output.Append(user);
        }
        else
        {
            output.Append("unknown(").Append(id).Append(')');
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void AppendGid(ValueBuilder output, ReadOnlySpan<byte> value, int numberBase)
    {
        if (!CNumber.TryStrToUL(value, numberBase, out var parsed))
        {
            ConversionError(output, value);
            return;
        }

        var id = unchecked((int)parsed);
        if (id == -1)
        {
            output.Append("unset");
        }
        else if (id == 0)
        {
            output.Append("root");
        }
        else if (_accounts.TryGetGroupName(unchecked((uint)id), out var group))
        {
            output.Append(group);
        }
        else
        {
            output.Append("unknown(").Append(id).Append(')');
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void AppendSyscall(ValueBuilder output, AuditRecord record, ReadOnlySpan<byte> value)
    {
        // ausearch passes the call number only for SYSCALL and SECCOMP records; elsewhere it asks for call 0.
        var context = record.Syscall;
        var isCall = record.TypeNumber == Syscall || record.TypeNumber == Seccomp;
        var number = 0;
        if (isCall)
        {
            if (!CNumber.TryStrToUL(value, 10, out var parsed))
            {
                ConversionError(output, value);
                return;
            }

            number = unchecked((int)parsed);
        }

        var arch = context.Arch.Length == 0 ? _hostArch : context.Arch;
        if (SyscallTable.TryGetName(arch, number, out var name))
        {
            output.Append(name);
        }
        else
        {
            output.Append("unknown-syscall(").Append(number).Append(')');
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void AppendArch(ValueBuilder output, ReadOnlySpan<byte> value)
    {
        if (!CNumber.TryStrToUL(value, 16, out var auditArch))
        {
            output.Append("conversion error(").Append(value).Append(") ");
        }
        else if (auditArch <= uint.MaxValue && SyscallTable.TryGetArchName((uint)auditArch, out var name))
        {
            output.Append(name);
        }
        else
        {
            output.Append("unknown-elf-type(").Append(value).Append(')');
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void AppendExit(ValueBuilder output, ReadOnlySpan<byte> value)
    {
        if (!CNumber.TryStrToLL(value, out var exit))
        {
            ConversionError(output, value);
            return;
        }

        if (exit >= 0)
        {
            output.Append(value);
            return;
        }

        if (exit >= int.MinValue && AuditLookups.TryGetErrno((int)-exit, out var errnoName, out var errnoMessage))
        {
            output.Append(errnoName).Append('(').Append(errnoMessage).Append(')');
        }
        else
        {
            // glibc's strerror for numbers it has no text for, after libaudit's NULL name.
            output.Append("(null)(Unknown error ").Append(unchecked((int)-exit)).Append(')');
        }
    }

    /// <summary>A quoted string without its quotes, (null) and (none) as they are, hex decoded up to a NUL.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void AppendEscaped(ValueBuilder output, ReadOnlySpan<byte> value)
    {
        if (value.Length > 0 && value[0] == '"')
        {
            var close = value[1..].IndexOf((byte)'"');
            output.Append(close < 0 ? " "u8 : value.Slice(1, close));
            return;
        }

        // A value that begins with a NUL byte is an abstract socket name; the NUL is dropped.
        var hex = value.Length >= 2 && value[0] == '0' && value[1] == '0' ? value[2..] : value;
        if (!TryUnescape(output, hex, stopAtNul: true))
        {
            output.Append(value);
        }
    }

    /// <summary>Arguments separated by NUL bytes, shown separated by spaces.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void AppendProcessTitle(ValueBuilder output, ReadOnlySpan<byte> value)
    {
        if (value.Length > 0 && value[0] == '"' || value.Length >= 2 && value[0] == '0' && value[1] == '0')
        {
            AppendEscaped(output, value);
            return;
        }

        var start = output.Length;
        if (!TryUnescape(output, value, stopAtNul: false))
        {
            output.Append(value);
            return;
        }

        output.ReplaceNul(start);
    }

    /// <summary>
    /// Decodes leading hex digits (an odd last digit is the high nibble of a last byte), or copies a "(...)"
    /// value such as (null). False when there is nothing to decode, and ausearch shows the value as written.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static bool TryUnescape(ValueBuilder output, ReadOnlySpan<byte> value, bool stopAtNul)
    {
        if (value.Length > 0 && value[0] == '(')
        {
            var close = value.IndexOf((byte)')');
            if (close < 0)
            {
                return false;
            }

            output.Append(value[..(close + 1)]);
            return true;
        }

        var digits = 0;
        while (digits < value.Length && IsHexDigit(value[digits]))
        {
            digits++;
        }

        if (digits < 2)
        {
            return false;
        }

        for (var i = 0; i < digits; i += 2)
        {
            var high = HexValue(value[i]);
            var low = i + 1 < digits ? HexValue(value[i + 1]) : 0;
            var b = (byte)((high << 4) | low);
            if (b == 0 && stopAtNul)
            {
                break;
            }

            output.Append(b);
        }

        return true;
    }

    private static void AppendPerm(ValueBuilder output, ReadOnlySpan<byte> value)
    {
        if (!CNumber.TryStrToLL(value, out var perm))
        {
            ConversionError(output, value);
            return;
        }

        // The kernel treats no permission bits as all of them.
        if (perm == 0)
        {
            perm = 0x0f;
        }

        var first = true;
        AppendFlag(output, (perm & 4) != 0, "read", ref first);
        AppendFlag(output, (perm & 2) != 0, "write", ref first);
        AppendFlag(output, (perm & 1) != 0, "exec", ref first);
        AppendFlag(output, (perm & 8) != 0, "attr", ref first);

        static void AppendFlag(ValueBuilder output, bool set, string name, ref bool first)
        {
            if (!set)
            {
                return;
            }

            if (!first)
            {
                output.Append(',');
            }

            output.Append(name);
            first = false;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void AppendMode(ValueBuilder output, ReadOnlySpan<byte> value, int numberBase)
    {
        if (!CNumber.TryStrToUL(value, numberBase, out var parsed))
        {
            ConversionError(output, value);
            return;
        }

        var mode = (uint)parsed;
        if (AuditLookups.FileTypeName((int)(mode & 0xf000)) is { } type)
        {
            output.Append(type);
        }
        else
        {
            output.AppendOctal((mode & 0xf000) >> 12, 3);
        }

        if ((mode & 0x800) != 0)
        {
            output.Append(",suid");
        }

        if ((mode & 0x400) != 0)
        {
            output.Append(",sgid");
        }

        if ((mode & 0x200) != 0)
        {
            output.Append(",sticky");
        }

        output.Append(',').AppendOctal(mode & 0x1ff, 3);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void AppendModeShort(ValueBuilder output, ReadOnlySpan<byte> value, int numberBase)
    {
        if (!CNumber.TryStrToUL(value, numberBase, out var parsed))
        {
            ConversionError(output, value);
            return;
        }

        var mode = (uint)parsed;
        var special = false;
        foreach (var (bit, name) in new[] { (0x800u, "suid"), (0x400u, "sgid"), (0x200u, "sticky") })
        {
            if ((mode & bit) != 0)
            {
                if (special)
                {
                    output.Append(',');
                }

                output.Append(name);
                special = true;
            }
        }

        if (special)
        {
            output.Append(',');
        }

        output.Append('0').AppendOctal(mode & 0x1ff, 3);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void AppendSockaddr(ValueBuilder output, ReadOnlySpan<byte> value)
    {
        var digits = 0;
        while (digits < value.Length && IsHexDigit(value[digits]))
        {
            digits++;
        }

        if (digits < 2)
        {
            output.Append("malformed-host(").Append(value).Append(')');
            return;
        }

        // Decoded into a zeroed buffer at least as large as any sockaddr ausearch reads, like its own copy.
        var length = value.Length / 2;
        var rented = ArrayPool<byte>.Shared.Rent(Math.Max(length, 128));
        try
        {
            var address = rented.AsSpan(0, Math.Max(length, 128));
            address.Clear();
            for (var i = 0; i < digits; i += 2)
            {
                address[i / 2] = (byte)((HexValue(value[i]) << 4) | (i + 1 < digits ? HexValue(value[i + 1]) : 0));
            }

            var family = address[0] | (address[1] << 8);
            if (!Families.TryGetValue(family, out var familyName))
            {
                output.Append("unknown-family(").Append(family).Append(')');
                return;
            }

            output.Append("{ saddr_fam=").Append(familyName);
            switch (family)
            {
                case 1:
                    if (length < 4)
                    {
                        output.Append(" sockaddr len too short }");
                        break;
                    }

                    // An abstract name starts with a NUL byte, which is skipped.
                    var path = address.Slice(address[2] != 0 ? 2 : 3, 108);
                    var end = path.IndexOf((byte)0);
                    output.Append(" path=").Append(end < 0 ? path : path[..end]).Append(" }");
                    break;
                case 2:
                    if (length < 16)
                    {
                        output.Append(" sockaddr len too short }");
                        break;
                    }

                    output.Append(" laddr=").Append((int)address[4]).Append('.').Append((int)address[5]).Append('.').Append((int)address[6]).Append('.').Append((int)address[7])
                        .Append(" lport=").Append((address[2] << 8) | address[3]).Append(" }");
                    break;
                case 10:
                    if (length < 28)
                    {
                        output.Append(" sockaddr6 len too short }");
                        break;
                    }

                    output.Append(" laddr=");
                    AppendIPv6(output, address.Slice(8, 16));
                    output.Append(" lport=").Append((address[2] << 8) | address[3]).Append(" }");
                    break;
                case 16:
                    if (length < 12)
                    {
                        output.Append(" len too short }");
                        break;
                    }

                    output.Append(" nlnk-fam=").Append(family).Append(" nlnk-pid=")
                        .Append(BitConverter.ToUInt32(address.Slice(4, 4))).Append(" }");
                    break;
                default:
                    output.Append(" (unsupported) }");
                    break;
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(rented);
        }
    }

    /// <summary>inet_ntop(3) for IPv6: the longest run of two or more zero groups becomes ::, and an IPv4-mapped or -compatible address ends in dotted decimal.</summary>
    private static void AppendIPv6(ValueBuilder output, ReadOnlySpan<byte> address)
    {
        Span<int> words = stackalloc int[8];
        for (var i = 0; i < 8; i++)
        {
            words[i] = (address[2 * i] << 8) | address[2 * i + 1];
        }

        int bestBase = -1, bestLength = 0, currentBase = -1, currentLength = 0;
        for (var i = 0; i < 8; i++)
        {
            if (words[i] == 0)
            {
                if (currentBase < 0)
                {
                    currentBase = i;
                    currentLength = 1;
                }
                else
                {
                    currentLength++;
                }
            }
            else if (currentBase >= 0)
            {
                if (bestBase < 0 || currentLength > bestLength)
                {
                    (bestBase, bestLength) = (currentBase, currentLength);
                }

                currentBase = -1;
            }
        }

        if (currentBase >= 0 && (bestBase < 0 || currentLength > bestLength))
        {
            (bestBase, bestLength) = (currentBase, currentLength);
        }

        if (bestBase >= 0 && bestLength < 2)
        {
            bestBase = -1;
        }

        for (var i = 0; i < 8; i++)
        {
            if (bestBase >= 0 && i >= bestBase && i < bestBase + bestLength)
            {
                if (i == bestBase)
                {
                    output.Append(':');
                }

                continue;
            }

            if (i != 0)
            {
                output.Append(':');
            }

            if (i == 6 && bestBase == 0 && (bestLength == 6 || (bestLength == 5 && words[5] == 0xffff)))
            {
                output.Append((int)address[12]).Append('.').Append((int)address[13]).Append('.').Append((int)address[14]).Append('.').Append((int)address[15]);
                return;
            }

            output.AppendHex((uint)words[i]);
        }

        if (bestBase >= 0 && bestBase + bestLength == 8)
        {
            output.Append(':');
        }
    }

    private static void AppendCapability(ValueBuilder output, ReadOnlySpan<byte> value)
    {
        if (!CNumber.TryStrToUL(value, 10, out var capability))
        {
            ConversionError(output, value);
        }
        else if (Capabilities.TryGetValue(unchecked((int)capability), out var name))
        {
            output.Append(name);
        }
        else
        {
            output.Append("unknown-capability(").Append(value).Append(')');
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void AppendCapabilityBitmap(ValueBuilder output, ReadOnlySpan<byte> value)
    {
        if (!CNumber.TryStrToUL(value, 16, out var bitmap))
        {
            ConversionError(output, value);
            return;
        }

        // Every exec by root logs the same few full sets; naming forty capabilities each time adds up.
        var cache = _bitmapNames ??= new Dictionary<ulong, byte[]>();
        if (cache.TryGetValue(bitmap, out var cached))
        {
            output.Append(cached);
            return;
        }

        var start = output.Length;
        AppendCapabilityNames(output, bitmap);
        if (cache.Count < 256)
        {
            cache[bitmap] = output.Slice(start).ToArray();
        }
    }

    private static void AppendCapabilityNames(ValueBuilder output, ulong bitmap)
    {
        var found = false;
        for (var bit = 0; bit <= LastCapability; bit++)
        {
            if ((bitmap & (1UL << bit)) != 0)
            {
                if (found)
                {
                    output.Append(',');
                }

                if (Capabilities.TryGetValue(bit, out var name))
                {
                    output.Append(name);
                }

                found = true;
            }
        }

        if (!found)
        {
            output.Append("none");
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void AppendSuccess(ValueBuilder output, ReadOnlySpan<byte> value)
    {
        if (value.Length == 0 || (uint)(value[0] - '0') > 9)
        {
            output.Append(value);
            return;
        }

        if (!CNumber.TryStrToUL(value, 10, out var result))
        {
            ConversionError(output, value);
            return;
        }

        output.Append(result switch { 0 => "no", 1 => "yes", _ => "unset" });
    }

    private static void AppendSignal(ValueBuilder output, ReadOnlySpan<byte> value, int numberBase)
    {
        if (!CNumber.TryStrToUL(value, numberBase, out var parsed))
        {
            ConversionError(output, value);
            return;
        }

        var signal = unchecked((int)parsed);
        if (signal < 32 && Signals.TryGetValue(signal, out var name))
        {
            output.Append(name);
            return;
        }

        output.Append("unknown-signal(").Append(numberBase == 16 ? "0x" : string.Empty).Append(value).Append(')');
    }

    private static void AppendOpenFlags(ValueBuilder output, ReadOnlySpan<byte> value)
    {
        if (!CNumber.TryStrToUL(value, 16, out var parsed))
        {
            ConversionError(output, value);
            return;
        }

        var flags = (uint)parsed;
        var start = output.Length;
        var any = false;
        if ((flags & 3) == 0)
        {
            output.Append("O_RDONLY");
            any = true;
        }

        AppendBits(output, OpenFlags, flags, ref any);
        if (output.Length == start)
        {
            output.Append("0x").Append(value);
        }
    }

    private static void AppendMmapFlags(ValueBuilder output, ReadOnlySpan<byte> value)
    {
        if (!CNumber.TryStrToUL(value, 16, out var parsed))
        {
            ConversionError(output, value);
            return;
        }

        var flags = (uint)parsed;
        var start = output.Length;
        var any = false;
        if ((flags & 0x0f) == 0)
        {
            output.Append("MAP_FILE");
            any = true;
        }

        AppendBits(output, MmapFlags, flags, ref any);
        if (output.Length == start)
        {
            output.Append("0x").Append(value);
        }
    }

    private static void AppendBits(ValueBuilder output, (uint Bit, string Name)[] table, uint flags, ref bool any)
    {
        foreach (var (bit, name) in table)
        {
            if ((bit & flags) != 0)
            {
                if (any)
                {
                    output.Append('|');
                }

                output.Append(name);
                any = true;
            }
        }
    }

    /// <summary>
    /// a0-a3 of a SYSCALL record: ausearch names a few arguments of a few calls (directory fds, modes, flags,
    /// ids, signals) and shows the rest as 0x-prefixed hex.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void AppendArgument(ValueBuilder output, int argument, SyscallContext context, ReadOnlySpan<byte> value)
    {
        var call = context.Name;
        if (call is not null && TryAppendArgument(output, argument, call, context, value))
        {
            return;
        }

        output.Append("0x").Append(value);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private bool TryAppendArgument(ValueBuilder output, int argument, string call, SyscallContext context, ReadOnlySpan<byte> value)
    {
        switch (argument)
        {
            case 0:
                switch (call)
                {
                    case "rt_sigaction":
                        AppendSignal(output, value, 16);
                        return true;
                    case "renameat" or "renameat2" or "readlinkat" or "mkdirat" or "mknodat" or "fchownat" or "futimesat"
                        or "fchmodat" or "faccessat" or "faccessat2" or "futimensat" or "unlinkat" or "utimensat" or "linkat"
                        or "newfstatat" or "openat" or "openat2" or "name_to_handle_at":
                        AppendDirectoryFd(output, value);
                        return true;
                    case "unshare":
                        AppendCloneFlags(output, value);
                        return true;
                    case "setuid" or "setreuid" or "setresuid" or "setfsuid":
                        AppendUid(output, value, 16);
                        return true;
                    case "setgid" or "setregid" or "setresgid" or "setfsgid":
                        AppendGid(output, value, 16);
                        return true;
                    case "socket":
                        if (!CNumber.TryStrToUL(value, 16, out var domain))
                        {
                            ConversionError(output, value);
                        }
                        else if (Families.TryGetValue(unchecked((int)domain), out var family))
                        {
                            output.Append(family);
                        }
                        else
                        {
                            output.Append("unknown-family(0x").Append(value).Append(')');
                        }

                        return true;
                    case "clock_settime":
                        if (!CNumber.TryStrToUL(value, 16, out var clock))
                        {
                            ConversionError(output, value);
                        }
                        else if (unchecked((int)clock) < 7 && ClockIds.TryGetValue(unchecked((int)clock), out var clockName))
                        {
                            output.Append(clockName);
                        }
                        else
                        {
                            output.Append("unknown-clk_id(0x").Append(value).Append(')');
                        }

                        return true;
                    case "exit" or "exit_group":
                        output.Append(value.SequenceEqual("0"u8) ? "EXIT_SUCCESS" : value.SequenceEqual("1"u8) ? "EXIT_FAILURE" : "UNKNOWN");
                        return true;
                }

                return false;
            case 1:
                switch (call)
                {
                    case "fcntl" or "fcntl64":
                        AppendNamed(output, value, FcntlCommands, "unknown-fcntl-command");
                        return true;
                    case "epoll_ctl":
                        AppendNamed(output, value, EpollOperations, "unknown-epoll_ctl-operation");
                        return true;
                    case "fchmod" or "chmod" or "creat" or "mkdir":
                        AppendModeShort(output, value, 16);
                        return true;
                    case "chown" or "chown32":
                        AppendUid(output, value, 16);
                        return true;
                    case "setreuid" or "setresuid":
                        AppendUid(output, value, 16);
                        return true;
                    case "setregid" or "setresgid":
                        AppendGid(output, value, 16);
                        return true;
                    case "socket":
                        if (!CNumber.TryStrToUL(value, 16, out var type))
                        {
                            ConversionError(output, value);
                        }
                        else if (SocketTypes.TryGetValue((long)(type & 0xff), out var typeName))
                        {
                            output.Append(typeName);
                        }
                        else
                        {
                            output.Append("unknown-type(").Append(value).Append(')');
                        }

                        return true;
                    case "setns":
                        AppendCloneFlags(output, value);
                        return true;
                    case "mknod":
                        AppendMode(output, value, 16);
                        return true;
                    case "mq_open" or "open":
                        AppendOpenFlags(output, value);
                        return true;
                    case "access":
                        AppendAccess(output, value);
                        return true;
                    case "kill" or "tkill":
                        AppendSignal(output, value, 16);
                        return true;
                }

                return false;
            case 2:
                switch (call)
                {
                    case "fcntl" or "fcntl64":
                        if (!CNumber.TryStrToUL(value, 16, out var fcntlArgument))
                        {
                            ConversionError(output, value);
                            return true;
                        }

                        // F_SETOWN takes a process owner; F_SETFD with FD_CLOEXEC is the common case worth naming.
                        if (context.A1 == 8)
                        {
                            AppendUid(output, value, 16);
                            return true;
                        }

                        if (context.A1 == 2 && unchecked((int)fcntlArgument) == 1)
                        {
                            output.Append("FD_CLOEXEC");
                            return true;
                        }

                        return false;
                    case "openat" or "open_by_handle_at":
                        AppendOpenFlags(output, value);
                        return true;
                    case "open" or "mq_open":
                        if ((context.A1 & 0x40) == 0)
                        {
                            return false;
                        }

                        AppendModeShort(output, value, 16);
                        return true;
                    case "fchmodat" or "mkdirat" or "mknodat":
                        AppendModeShort(output, value, 16);
                        return true;
                    case "faccessat" or "faccessat2":
                        AppendAccess(output, value);
                        return true;
                    case "setresuid":
                        AppendUid(output, value, 16);
                        return true;
                    case "setresgid":
                        AppendGid(output, value, 16);
                        return true;
                    case "socket":
                        AppendProtocol(output, value);
                        return true;
                    case "mmap":
                        AppendProt(output, value, 4);
                        return true;
                    case "mprotect":
                        AppendProt(output, value, 3);
                        return true;
                    case "readlinkat" or "renameat" or "renameat2" or "linkat":
                        AppendDirectoryFd(output, value);
                        return true;
                    case "clone" or "clone2":
                        AppendCloneFlags(output, value);
                        return true;
                    case "tgkill":
                        AppendSignal(output, value, 16);
                        return true;
                }

                return false;
            default:
                if (call == "mmap")
                {
                    AppendMmapFlags(output, value);
                    return true;
                }

                return false;
        }
    }

    /// <summary>A hex number looked up in a table, or prefix(decimal) when the table has no name for it.</summary>
    private static void AppendNamed(ValueBuilder output, ReadOnlySpan<byte> value, FrozenDictionary<long, string> names, string unknown)
    {
        if (!CNumber.TryStrToUL(value, 16, out var parsed))
        {
            ConversionError(output, value);
        }
        else if (names.TryGetValue(unchecked((int)parsed), out var name))
        {
            output.Append(name);
        }
        else
        {
            output.Append(unknown).Append('(').Append(unchecked((int)parsed)).Append(')');
        }
    }

    private static void AppendDirectoryFd(ValueBuilder output, ReadOnlySpan<byte> value)
    {
        if (!CNumber.TryStrToUL(value, 16, out var fd))
        {
            ConversionError(output, value);
        }
        else if (unchecked((uint)fd) == 0xffffff9c)
        {
            output.Append("AT_FDCWD");
        }
        else
        {
            output.Append("0x").Append(value);
        }
    }

    private static void AppendCloneFlags(ValueBuilder output, ReadOnlySpan<byte> value)
    {
        if (!CNumber.TryStrToUL(value, 16, out var parsed))
        {
            ConversionError(output, value);
            return;
        }

        var flags = (uint)parsed;
        var start = output.Length;
        var any = false;
        AppendBits(output, CloneFlags, flags, ref any);
        var signal = flags & 0xff;
        if (signal is > 0 and < 32 && Signals.TryGetValue(signal, out var name))
        {
            if (any)
            {
                output.Append('|');
            }

            output.Append(name);
        }

        if (output.Length == start)
        {
            output.Append("0x").AppendHex(flags);
        }
    }

    private static void AppendAccess(ValueBuilder output, ReadOnlySpan<byte> value)
    {
        if (!CNumber.TryStrToUL(value, 16, out var mode))
        {
            ConversionError(output, value);
        }
        else if ((mode & 0xf) == 0)
        {
            output.Append("F_OK");
        }
        else if ((mode & 7) != 0)
        {
            output.Append(AccessModes[(long)(mode & 7)]);
        }
        else
        {
            output.Append("0x").Append(value);
        }
    }

    private static void AppendProt(ValueBuilder output, ReadOnlySpan<byte> value, int limit)
    {
        if (!CNumber.TryStrToUL(value, 16, out var parsed))
        {
            ConversionError(output, value);
            return;
        }

        var prot = (uint)parsed;
        if ((prot & 7) == 0)
        {
            output.Append("PROT_NONE");
            return;
        }

        var any = false;
        AppendBits(output, ProtFlags[..limit], prot, ref any);
    }

    private void AppendProtocol(ValueBuilder output, ReadOnlySpan<byte> value)
    {
        if (!CNumber.TryStrToUL(value, 16, out var number))
        {
            ConversionError(output, value);
            return;
        }

        // getprotobynumber(3) reads the protocols file of the machine ausearch runs on; ours is the node's.
        _protocols ??= LoadProtocols(HostPath.Join(_hostRoot, "/etc/protocols"));
        if (_protocols.TryGetValue(unchecked((uint)number), out var name))
        {
            output.Append(name);
        }
        else
        {
            output.Append("unknown-proto(").Append(value).Append(')');
        }
    }

    private static Dictionary<uint, string> LoadProtocols(string path)
    {
        var protocols = new Dictionary<uint, string>();
        if (!File.Exists(path))
        {
            return protocols;
        }

        foreach (var line in File.ReadLines(path))
        {
            var text = line.Split('#')[0];
            var parts = text.Split([' ', '\t'], StringSplitOptions.RemoveEmptyEntries);
            if (parts.Length >= 2 && uint.TryParse(parts[1], out var number))
            {
                protocols.TryAdd(number, parts[0]);
            }
        }

        return protocols;
    }

    private static void ConversionError(ValueBuilder output, ReadOnlySpan<byte> value) =>
        output.Append("conversion error(").Append(value).Append(')');

    private static bool IsHex(ReadOnlySpan<byte> value)
    {
        foreach (var b in value)
        {
            if (!IsHexDigit(b))
            {
                return false;
            }
        }

        return true;
    }

    private static bool IsDecimal(ReadOnlySpan<byte> value)
    {
        foreach (var b in value)
        {
            if ((uint)(b - '0') > 9)
            {
                return false;
            }
        }

        return true;
    }

    private static bool IsHexDigit(byte b) => (uint)(b - '0') <= 9 || (uint)((b | 0x20) - 'a') <= 5;

    private static int HexValue(byte b) => (uint)(b - '0') <= 9 ? b - '0' : (b | 0x20) - 'a' + 10;

    private static int TypeNumber(string name) => MessageTypes.TryGetNumber(name, out var number) ? number : -1;

    private static (uint Bit, string Name)[] Ordered((long Value, string Name)[] bits, string[] order) =>
        order.Select(name => ((uint)bits.First(b => b.Name == name).Value, name)).ToArray();
}

/// <summary>A reusable byte buffer for building one interpreted value, then escaped for a terminal.</summary>
internal sealed class ValueBuilder
{
    [ThreadStatic]
    private static ValueBuilder? _forThread;

    private byte[] _buffer = new byte[512];

    public int Length { get; private set; }

    /// <summary>This thread's builder, emptied: interpretation runs wherever a lazy value is first read.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static ValueBuilder ForThread()
    {
        var builder = _forThread ??= new ValueBuilder();
        builder.Length = 0;
        return builder;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public ValueBuilder Append(byte value)
    {
        Ensure(1);
        _buffer[Length++] = value;
        return this;
    }

    public ValueBuilder Append(char value) => Append((byte)value);

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public ValueBuilder Append(ReadOnlySpan<byte> value)
    {
        Ensure(value.Length);
        value.CopyTo(_buffer.AsSpan(Length));
        Length += value.Length;
        return this;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public ValueBuilder Append(string value)
    {
        Ensure(Encoding.UTF8.GetMaxByteCount(value.Length));
        Length += Encoding.UTF8.GetBytes(value, _buffer.AsSpan(Length));
        return this;
    }

    public ValueBuilder Append(long value)
    {
        Ensure(24);
        value.TryFormat(_buffer.AsSpan(Length), out var written, default, CultureInfo.InvariantCulture);
        Length += written;
        return this;
    }

    public ValueBuilder AppendHex(uint value)
    {
        Ensure(8);
        value.TryFormat(_buffer.AsSpan(Length), out var written, "x", CultureInfo.InvariantCulture);
        Length += written;
        return this;
    }

    public ValueBuilder AppendOctal(uint value, int minimumDigits)
    {
        Span<byte> digits = stackalloc byte[12];
        var count = 0;
        do
        {
            digits[count++] = (byte)('0' + (value & 7));
            value >>= 3;
        }
        while (value != 0);

        for (var i = count; i < minimumDigits; i++)
        {
            Append('0');
        }

        for (var i = count - 1; i >= 0; i--)
        {
            Append(digits[i]);
        }

        return this;
    }

    public ReadOnlySpan<byte> Slice(int start) => _buffer.AsSpan(start, Length - start);

    /// <summary>Turns NUL bytes written since <paramref name="start"/> into spaces (process title arguments).</summary>
    public void ReplaceNul(int start) => _buffer.AsSpan(start, Length - start).Replace((byte)0, (byte)' ');

    /// <summary>The value as text, with control characters shown as \ooo the way ausearch's tty escaping does.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public string ToEscapedString() => Escape(_buffer.AsSpan(0, Length));

    /// <summary>Several keys are separated by 0x01; ausearch prints each as its own key=, so the value reads "a key=b".</summary>
    public string ToKeyString()
    {
        var value = _buffer.AsSpan(0, Length);
        if (value.IndexOf((byte)1) < 0)
        {
            return Escape(value);
        }

        var parts = new List<string>();
        foreach (var range in value.Split((byte)1))
        {
            parts.Add(Escape(value[range]));
        }

        return string.Join(" key=", parts);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static string Escape(ReadOnlySpan<byte> value)
    {
        var controls = 0;
        foreach (var b in value)
        {
            if (b < 32)
            {
                controls++;
            }
        }

        if (controls == 0)
        {
            return Encoding.UTF8.GetString(value);
        }

        var escaped = new byte[value.Length + 3 * controls];
        var j = 0;
        foreach (var b in value)
        {
            if (b < 32)
            {
                escaped[j++] = (byte)'\\';
                escaped[j++] = (byte)('0' + ((b >> 6) & 3));
                escaped[j++] = (byte)('0' + ((b >> 3) & 7));
                escaped[j++] = (byte)('0' + (b & 7));
            }
            else
            {
                escaped[j++] = b;
            }
        }

        return Encoding.UTF8.GetString(escaped);
    }

    private void Ensure(int count)
    {
        if (Length + count > _buffer.Length)
        {
            Array.Resize(ref _buffer, Math.Max(_buffer.Length * 2, Length + count));
        }
    }
}
