using System.Collections.Frozen;
using System.Runtime.CompilerServices;
using AksAuditd.Core.Audit;
using static AksAuditd.Core.Events.HexDigits;

namespace AksAuditd.Core.Events;

/// <summary>
/// One formatter per kind of value that needs nothing but the value itself: what <c>ausearch -i</c> (audit 3.0.9,
/// auparse's interpret.c) prints for an arch, an exit, a mode, a permission, flags, a signal, a capability... The
/// names come from the generated interpretation tables.
/// </summary>
internal static class ValueFormats
{
    internal static readonly FrozenDictionary<long, string> Signals = InterpretationTables.Signals.ToFrozenDictionary(e => e.Value, e => e.Name);
    internal static readonly FrozenDictionary<long, string> Capabilities = InterpretationTables.Capabilities.ToFrozenDictionary(e => e.Value, e => e.Name);
    internal static readonly int LastCapability = (int)InterpretationTables.Capabilities.Max(e => e.Value);
    internal static readonly FrozenDictionary<long, string> Families = InterpretationTables.Families.ToFrozenDictionary(e => e.Value, e => e.Name);
    internal static readonly FrozenDictionary<long, string> SocketTypes = InterpretationTables.SocketTypes.ToFrozenDictionary(e => e.Value, e => e.Name);
    internal static readonly FrozenDictionary<long, string> AccessModes = InterpretationTables.AccessModes.ToFrozenDictionary(e => e.Value, e => e.Name);
    internal static readonly FrozenDictionary<long, string> FcntlCommands = InterpretationTables.FcntlCommands.ToFrozenDictionary(e => e.Value, e => e.Name);
    internal static readonly FrozenDictionary<long, string> EpollOperations = InterpretationTables.EpollOperations.ToFrozenDictionary(e => e.Value, e => e.Name);
    internal static readonly FrozenDictionary<long, string> ClockIds = InterpretationTables.ClockIds.ToFrozenDictionary(e => e.Value, e => e.Name);
    internal static readonly FrozenDictionary<long, string> SeccompActions = InterpretationTables.SeccompActions.ToFrozenDictionary(e => e.Value, e => e.Name);
    internal static readonly (uint Bit, string Name)[] OpenFlags = Ordered(InterpretationTables.OpenFlags, InterpretationTables.OpenFlagOrder);
    internal static readonly (uint Bit, string Name)[] CloneFlags = Ordered(InterpretationTables.CloneFlags, InterpretationTables.CloneFlagOrder);
    internal static readonly (uint Bit, string Name)[] MmapFlags = Ordered(InterpretationTables.MmapFlags, InterpretationTables.MmapFlagOrder);
    internal static readonly (uint Bit, string Name)[] ProtFlags = InterpretationTables.ProtFlags.Select(e => ((uint)e.Value, e.Name)).ToArray();

    [ThreadStatic]
    private static Dictionary<ulong, byte[]>? _bitmapNames;

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void AppendArch(ValueBuilder output, ReadOnlySpan<byte> value)
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
    internal static void AppendExit(ValueBuilder output, ReadOnlySpan<byte> value)
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
    internal static void AppendEscaped(ValueBuilder output, ReadOnlySpan<byte> value)
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
    internal static void AppendProcessTitle(ValueBuilder output, ReadOnlySpan<byte> value)
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
    internal static bool TryUnescape(ValueBuilder output, ReadOnlySpan<byte> value, bool stopAtNul)
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

        // Command lines and paths come as long hex strings (an EXECVE argument of 6,000 digits): found and decoded
        // by the vectorised search and decoder, not a byte at a time.
        var digits = LeadingHexDigits(value);
        if (digits < 2)
        {
            return false;
        }

        var whole = digits & ~1;
        var decoded = output.GetSpan((whole / 2) + 1);
        Convert.FromHexString(value[..whole], decoded, out _, out var written);
        if (stopAtNul && decoded[..written].IndexOf((byte)0) is var nul and >= 0)
        {
            output.Advance(nul);
            return true;
        }

        // An odd last digit is the high half of a byte whose low half is missing.
        if (whole < digits)
        {
            var last = (byte)(HexValue(value[whole]) << 4);
            if (last != 0 || !stopAtNul)
            {
                decoded[written++] = last;
            }
        }

        output.Advance(written);
        return true;
    }

    internal static void AppendPerm(ValueBuilder output, ReadOnlySpan<byte> value)
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

    /// <summary>The mode bits of a mode field, or false with auparse's conversion error written for a value that is not a number.</summary>
    private static bool TryMode(ValueBuilder output, ReadOnlySpan<byte> value, int numberBase, out uint mode)
    {
        if (CNumber.TryStrToUL(value, numberBase, out var parsed))
        {
            mode = (uint)parsed;
            return true;
        }

        ConversionError(output, value);
        mode = 0;
        return false;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void AppendMode(ValueBuilder output, ReadOnlySpan<byte> value, int numberBase)
    {
        if (!TryMode(output, value, numberBase, out var mode))
        {
            return;
        }

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
    internal static void AppendModeShort(ValueBuilder output, ReadOnlySpan<byte> value, int numberBase)
    {
        if (!TryMode(output, value, numberBase, out var mode))
        {
            return;
        }

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

    internal static void AppendCapability(ValueBuilder output, ReadOnlySpan<byte> value)
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
    internal static void AppendCapabilityBitmap(ValueBuilder output, ReadOnlySpan<byte> value)
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

    internal static void AppendCapabilityNames(ValueBuilder output, ulong bitmap)
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
    internal static void AppendSuccess(ValueBuilder output, ReadOnlySpan<byte> value)
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

    internal static void AppendSignal(ValueBuilder output, ReadOnlySpan<byte> value, int numberBase)
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

    internal static void AppendOpenFlags(ValueBuilder output, ReadOnlySpan<byte> value) =>
        AppendFlagsNamingZero(output, value, OpenFlags, 3, "O_RDONLY");

    internal static void AppendMmapFlags(ValueBuilder output, ReadOnlySpan<byte> value) =>
        AppendFlagsNamingZero(output, value, MmapFlags, 0x0f, "MAP_FILE");

    /// <summary>
    /// auparse's print_open_flags and print_mmap share this: the name of a field whose bits under
    /// <paramref name="zeroMask"/> are all clear (O_ACCMODE's O_RDONLY, mmap's MAP_FILE), then the set bits, else 0xVALUE.
    /// </summary>
    private static void AppendFlagsNamingZero(ValueBuilder output, ReadOnlySpan<byte> value, (uint Bit, string Name)[] table, uint zeroMask, string zeroName)
    {
        if (!CNumber.TryStrToUL(value, 16, out var parsed))
        {
            ConversionError(output, value);
            return;
        }

        var flags = (uint)parsed;
        var start = output.Length;
        var any = false;
        if ((flags & zeroMask) == 0)
        {
            output.Append(zeroName);
            any = true;
        }

        AppendBits(output, table, flags, ref any);
        if (output.Length == start)
        {
            output.Append("0x").Append(value);
        }
    }

    internal static void AppendBits(ValueBuilder output, (uint Bit, string Name)[] table, uint flags, ref bool any)
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

    /// <summary>A hex number looked up in a table, or prefix(decimal) when the table has no name for it.</summary>
    internal static void AppendNamed(ValueBuilder output, ReadOnlySpan<byte> value, FrozenDictionary<long, string> names, string unknown)
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

    internal static void AppendDirectoryFd(ValueBuilder output, ReadOnlySpan<byte> value)
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

    internal static void AppendCloneFlags(ValueBuilder output, ReadOnlySpan<byte> value)
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

    internal static void AppendAccess(ValueBuilder output, ReadOnlySpan<byte> value)
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

    internal static void AppendProt(ValueBuilder output, ReadOnlySpan<byte> value, int limit)
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

    internal static void ConversionError(ValueBuilder output, ReadOnlySpan<byte> value) =>
        output.Append("conversion error(").Append(value).Append(')');

    internal static void AppendPromiscuous(ValueBuilder output, ReadOnlySpan<byte> value)
    {
        if (CNumber.TryStrToLL(value, out var promiscuous))
        {
            output.Append(promiscuous == 0 ? "no" : "yes");
        }
        else
        {
            ConversionError(output, value);
        }
    }

    internal static void AppendList(ValueBuilder output, ReadOnlySpan<byte> value)
    {
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
    }

    internal static void AppendSession(ValueBuilder output, ReadOnlySpan<byte> value) =>
        output.Append(value.SequenceEqual("4294967295"u8) ? "unset"u8 : value);

    // auparse's seccomp, socket family, socket type and clock id printers: a hex value, the part of it that names
    // something, and the raw text echoed back when the table has no name for that part.
    internal static void AppendSeccompCode(ValueBuilder output, ReadOnlySpan<byte> value) =>
        AppendNamedPart(output, value, SeccompActions, static code => (long)(code & 0x7fff0000), "unknown-seccomp-code(");

    internal static void AppendSocketFamily(ValueBuilder output, ReadOnlySpan<byte> value) =>
        AppendNamedPart(output, value, Families, static domain => unchecked((int)domain), "unknown-family(0x");

    internal static void AppendSocketType(ValueBuilder output, ReadOnlySpan<byte> value) =>
        AppendNamedPart(output, value, SocketTypes, static type => (long)(type & 0xff), "unknown-type(");

    // Only ids below 7 are named, as auparse checks, although the table knows more.
    internal static void AppendClockId(ValueBuilder output, ReadOnlySpan<byte> value) =>
        AppendNamedPart(output, value, ClockIds, static clock => unchecked((int)clock) < 7 ? unchecked((int)clock) : long.MinValue, "unknown-clk_id(0x");

    private static void AppendNamedPart(ValueBuilder output, ReadOnlySpan<byte> value, FrozenDictionary<long, string> names, Func<ulong, long> part, string unknown)
    {
        if (!CNumber.TryStrToUL(value, 16, out var parsed))
        {
            ConversionError(output, value);
        }
        else if (names.TryGetValue(part(parsed), out var name))
        {
            output.Append(name);
        }
        else
        {
            output.Append(unknown).Append(value).Append(')');
        }
    }

    internal static void AppendExitStatus(ValueBuilder output, ReadOnlySpan<byte> value) =>
        output.Append(value.SequenceEqual("0"u8) ? "EXIT_SUCCESS" : value.SequenceEqual("1"u8) ? "EXIT_FAILURE" : "UNKNOWN");

    private static (uint Bit, string Name)[] Ordered((long Value, string Name)[] bits, string[] order) =>
        order.Select(name => ((uint)bits.First(b => b.Name == name).Value, name)).ToArray();
}
