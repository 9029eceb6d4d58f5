using System.Globalization;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using AksAuditd.Core.Audit;
using AksAuditd.Core.Configuration;
using static AksAuditd.Core.Events.ValueFormats;

namespace AksAuditd.Core.Events;

/// <summary>
/// Turns raw field values into what <c>ausearch -i</c> (audit 3.0.9) prints: uid and gid to names through the node's
/// passwd and group files, syscall and arch numbers to names (the rules engine's tables), negative exits to errno
/// names, hex strings decoded, modes, permissions, socket addresses, flags and signals to names. An ENRICHED record's
/// own names (written by auditd when the event happened) win over a lookup now, as they do in ausearch.
/// <para>
/// This is the value builder: it takes a field's kind from the field-kind table (<see cref="FieldKinds"/>), an
/// argument's from the syscall-argument table (<see cref="SyscallArgumentTable"/>), and hands the value to its
/// formatter (<see cref="ValueFormats"/>, <see cref="SockaddrDecoder"/>); what depends on the node (account and
/// protocol names) or on the record (the call's arch and arguments) is done here.
/// </para>
/// </summary>
internal sealed class AuditValueInterpreter
{
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

    /// <summary>The interpreted value, or null when ausearch shows the value exactly as written.</summary>
    /// <param name="record">The record the field is in.</param>
    /// <param name="index">The field's place in the record.</param>
    /// <param name="name">The field's name.</param>
    /// <param name="kindOfName">The field-kind table's kind for <paramref name="name"/>, as <see cref="FieldNames"/> keeps it.</param>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public string? Interpret(AuditRecord record, int index, string name, FieldKind kindOfName)
    {
        var value = record.ValueSpan(index);
        if (name == "acct" && value.Length > 0 && value[^1] == ':')
        {
            value = value[..^1];
        }

        var kind = FieldKinds.Of(record.TypeNumber, name, kindOfName, value);
        if (kind is FieldKind.Unclassified or FieldKind.NotInterpreted)
        {
            // ausearch prints these exactly as written, quotes included.
            return null;
        }

        var enriched = record.IsEnriched && record.TryGetEnriched(record.NameSpan(index), out var names) && !names.StartsWith("unknown-"u8)
            ? names
            : default;
        var enrichedValue = !enriched.IsEmpty;
        if (kind == FieldKind.Syscall && !enrichedValue)
        {
            // The table's own string: nothing to build or escape.
            return SyscallName(record, value);
        }

        // Kinds whose text depends on the value alone are kept per distinct value (an enriched name is another
        // source, so it counts as another kind); arguments a0-a3 depend on the call and are built each time.
        var cacheable = kind is not (FieldKind.A0 or FieldKind.A1 or FieldKind.A2 or FieldKind.A3 or FieldKind.Syscall) || enrichedValue;
        var source = enrichedValue ? enriched : value;
        var cacheKind = (int)kind | (enrichedValue ? 0x100 : 0);
        InterpretedValueCache? cache = null;
        var hash = 0u;
        if (cacheable && source.Length <= InterpretedValueCache.MaxValueLength)
        {
            cache = InterpretedValueCache.For(this);
            if (cache.TryGet(cacheKind, source, out var cached, out hash))
            {
                return cached;
            }
        }

        var output = ValueBuilder.ForThread();
        if (enrichedValue)
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
            Append(output, kind, record, value);
        }

        var text = kind == FieldKind.EscapedKey ? output.ToKeyString() : output.ToEscapedString();
        cache?.Add(cacheKind, source, text, hash);
        return text;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public SyscallContext CreateSyscallContext(AuditRecord record)
    {
        if (record.TypeNumber != FieldKinds.Syscall && record.TypeNumber != FieldKinds.Seccomp)
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
    private void Append(ValueBuilder output, FieldKind kind, AuditRecord record, ReadOnlySpan<byte> value)
    {
        switch (kind)
        {
            case FieldKind.Uid:
            case FieldKind.Gid:
                AppendId(output, kind, value, 10);
                break;
            case FieldKind.Syscall:
                output.Append(SyscallName(record, value));
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
                SockaddrDecoder.Append(output, value);
                break;
            case FieldKind.Promiscuous:
                AppendPromiscuous(output, value);
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
                AppendList(output, value);
                break;
            case FieldKind.Session:
                AppendSession(output, value);
                break;
            case FieldKind.CapabilityBitmap:
                AppendCapabilityBitmap(output, value);
                break;
            case FieldKind.Seccomp:
                AppendSeccompCode(output, value);
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

    /// <summary>A user (<see cref="FieldKind.Uid"/>) or group (<see cref="FieldKind.Gid"/>) id by name, through the node's passwd or group.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void AppendId(ValueBuilder output, FieldKind kind, ReadOnlySpan<byte> value, int numberBase)
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
        else if (kind == FieldKind.Uid ? _accounts.TryGetUserName(unchecked((uint)id), out var name) : _accounts.TryGetGroupName(unchecked((uint)id), out name))
        {
            output.Append(name);
        }
        else
        {
            output.Append("unknown(").Append(id).Append(')');
        }
    }

    /// <summary>The syscall= value as ausearch names it; the names are the table's strings.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private string SyscallName(AuditRecord record, ReadOnlySpan<byte> value)
    {
        // ausearch passes the call number only for SYSCALL and SECCOMP records; elsewhere it asks for call 0.
        var context = record.Syscall;
        var isCall = record.TypeNumber == FieldKinds.Syscall || record.TypeNumber == FieldKinds.Seccomp;
        var number = 0;
        if (isCall)
        {
            if (!CNumber.TryStrToUL(value, 10, out var parsed))
            {
                // Not this thread's builder: a caller may be building with it.
                var output = new ValueBuilder();
                ConversionError(output, value);
                return output.ToEscapedString();
            }

            number = unchecked((int)parsed);
        }

        var arch = context.Arch.Length == 0 ? _hostArch : context.Arch;
        return SyscallTable.TryGetName(arch, number, out var name)
            ? name
            : string.Create(CultureInfo.InvariantCulture, $"unknown-syscall({number})");
    }

    /// <summary>
    /// a0-a3 of a SYSCALL record: ausearch names a few arguments of a few calls (directory fds, modes, flags,
    /// ids, signals) and shows the rest as 0x-prefixed hex.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void AppendArgument(ValueBuilder output, int argument, SyscallContext context, ReadOnlySpan<byte> value)
    {
        var kind = context.Name is { } call ? SyscallArgumentTable.KindOf(call, argument) : ArgumentKind.Hex;
        if (!TryAppendArgument(output, kind, context, value))
        {
            output.Append("0x").Append(value);
        }
    }

    /// <summary>False when ausearch shows this argument as hex after all (an fcntl argument or open mode it does not name).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private bool TryAppendArgument(ValueBuilder output, ArgumentKind kind, SyscallContext context, ReadOnlySpan<byte> value)
    {
        switch (kind)
        {
            case ArgumentKind.DirectoryFd:
                AppendDirectoryFd(output, value);
                return true;
            case ArgumentKind.CloneFlags:
                AppendCloneFlags(output, value);
                return true;
            case ArgumentKind.Uid:
                AppendId(output, FieldKind.Uid, value, 16);
                return true;
            case ArgumentKind.Gid:
                AppendId(output, FieldKind.Gid, value, 16);
                return true;
            case ArgumentKind.SocketFamily:
                AppendSocketFamily(output, value);
                return true;
            case ArgumentKind.SocketType:
                AppendSocketType(output, value);
                return true;
            case ArgumentKind.Protocol:
                AppendProtocol(output, value);
                return true;
            case ArgumentKind.ClockId:
                AppendClockId(output, value);
                return true;
            case ArgumentKind.ExitStatus:
                AppendExitStatus(output, value);
                return true;
            case ArgumentKind.FcntlCommand:
                AppendNamed(output, value, FcntlCommands, "unknown-fcntl-command");
                return true;
            case ArgumentKind.FcntlArgument:
                if (!CNumber.TryStrToUL(value, 16, out var fcntlArgument))
                {
                    ConversionError(output, value);
                    return true;
                }

                // F_SETOWN takes a process owner; F_SETFD with FD_CLOEXEC is the common case worth naming.
                if (context.A1 == 8)
                {
                    AppendId(output, FieldKind.Uid, value, 16);
                    return true;
                }

                if (context.A1 == 2 && unchecked((int)fcntlArgument) == 1)
                {
                    output.Append("FD_CLOEXEC");
                    return true;
                }

                return false;
            case ArgumentKind.EpollOperation:
                AppendNamed(output, value, EpollOperations, "unknown-epoll_ctl-operation");
                return true;
            case ArgumentKind.Mode:
                AppendMode(output, value, 16);
                return true;
            case ArgumentKind.ModeShort:
                AppendModeShort(output, value, 16);
                return true;
            case ArgumentKind.CreationMode:
                if ((context.A1 & 0x40) == 0)
                {
                    return false;
                }

                AppendModeShort(output, value, 16);
                return true;
            case ArgumentKind.OpenFlags:
                AppendOpenFlags(output, value);
                return true;
            case ArgumentKind.Access:
                AppendAccess(output, value);
                return true;
            case ArgumentKind.Signal:
                AppendSignal(output, value, 16);
                return true;
            case ArgumentKind.MmapProtection:
                AppendProt(output, value, 4);
                return true;
            case ArgumentKind.MprotectProtection:
                AppendProt(output, value, 3);
                return true;
            case ArgumentKind.MmapFlags:
                AppendMmapFlags(output, value);
                return true;
            default:
                return false;
        }
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
}
