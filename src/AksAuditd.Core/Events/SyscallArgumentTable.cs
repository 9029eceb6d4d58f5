using System.Collections.Frozen;

namespace AksAuditd.Core.Events;

/// <summary>What a SYSCALL or SECCOMP record says about the call, for interpreting its arguments.</summary>
internal sealed record SyscallContext(string Arch, string? Name, ulong A0, ulong A1);

/// <summary>How ausearch shows one argument (a0-a3) of one system call; <see cref="Hex"/> for all the others.</summary>
internal enum ArgumentKind : byte
{
    /// <summary>0x-prefixed hex, as written.</summary>
    Hex,
    DirectoryFd,
    CloneFlags,
    Uid,
    Gid,
    SocketFamily,
    SocketType,
    Protocol,
    ClockId,
    ExitStatus,
    FcntlCommand,

    /// <summary>fcntl's third argument: a process owner for F_SETOWN, FD_CLOEXEC for F_SETFD, else hex.</summary>
    FcntlArgument,
    EpollOperation,
    Mode,
    ModeShort,

    /// <summary>open's mode: only when O_CREAT is among the flags (a1), else hex.</summary>
    CreationMode,
    OpenFlags,
    Access,
    Signal,
    MmapProtection,
    MprotectProtection,
    MmapFlags,
}

/// <summary>
/// The syscall-argument table: (system call, argument) to the kind of value ausearch shows, from auparse's
/// interpret.c (its per-call argument cases). Arguments of calls not listed are shown as hex.
/// </summary>
internal static class SyscallArgumentTable
{
    private static readonly FrozenDictionary<string, ArgumentKind[]> KindsByCall = Build(
        (0, ArgumentKind.Signal, ["rt_sigaction"]),
        (0, ArgumentKind.DirectoryFd, ["renameat", "renameat2", "readlinkat", "mkdirat", "mknodat", "fchownat", "futimesat", "fchmodat",
            "faccessat", "faccessat2", "futimensat", "unlinkat", "utimensat", "linkat", "newfstatat", "openat", "openat2", "name_to_handle_at"]),
        (0, ArgumentKind.CloneFlags, ["unshare"]),
        (0, ArgumentKind.Uid, ["setuid", "setreuid", "setresuid", "setfsuid"]),
        (0, ArgumentKind.Gid, ["setgid", "setregid", "setresgid", "setfsgid"]),
        (0, ArgumentKind.SocketFamily, ["socket"]),
        (0, ArgumentKind.ClockId, ["clock_settime"]),
        (0, ArgumentKind.ExitStatus, ["exit", "exit_group"]),
        (1, ArgumentKind.FcntlCommand, ["fcntl", "fcntl64"]),
        (1, ArgumentKind.EpollOperation, ["epoll_ctl"]),
        (1, ArgumentKind.ModeShort, ["fchmod", "chmod", "creat", "mkdir"]),
        (1, ArgumentKind.Uid, ["chown", "chown32", "setreuid", "setresuid"]),
        (1, ArgumentKind.Gid, ["setregid", "setresgid"]),
        (1, ArgumentKind.SocketType, ["socket"]),
        (1, ArgumentKind.CloneFlags, ["setns"]),
        (1, ArgumentKind.Mode, ["mknod"]),
        (1, ArgumentKind.OpenFlags, ["mq_open", "open"]),
        (1, ArgumentKind.Access, ["access"]),
        (1, ArgumentKind.Signal, ["kill", "tkill"]),
        (2, ArgumentKind.FcntlArgument, ["fcntl", "fcntl64"]),
        (2, ArgumentKind.OpenFlags, ["openat", "open_by_handle_at"]),
        (2, ArgumentKind.CreationMode, ["open", "mq_open"]),
        (2, ArgumentKind.ModeShort, ["fchmodat", "mkdirat", "mknodat"]),
        (2, ArgumentKind.Access, ["faccessat", "faccessat2"]),
        (2, ArgumentKind.Uid, ["setresuid"]),
        (2, ArgumentKind.Gid, ["setresgid"]),
        (2, ArgumentKind.Protocol, ["socket"]),
        (2, ArgumentKind.MmapProtection, ["mmap"]),
        (2, ArgumentKind.MprotectProtection, ["mprotect"]),
        (2, ArgumentKind.DirectoryFd, ["readlinkat", "renameat", "renameat2", "linkat"]),
        (2, ArgumentKind.CloneFlags, ["clone", "clone2"]),
        (2, ArgumentKind.Signal, ["tgkill"]),
        (3, ArgumentKind.MmapFlags, ["mmap"]));

    /// <summary>The kind of argument <paramref name="argument"/> (0 for a0) of <paramref name="call"/>.</summary>
    public static ArgumentKind KindOf(string call, int argument) =>
        KindsByCall.TryGetValue(call, out var kinds) ? kinds[argument] : ArgumentKind.Hex;

    private static FrozenDictionary<string, ArgumentKind[]> Build(params (int Argument, ArgumentKind Kind, string[] Calls)[] entries)
    {
        var byCall = new Dictionary<string, ArgumentKind[]>(StringComparer.Ordinal);
        foreach (var (argument, kind, calls) in entries)
        {
            foreach (var call in calls)
            {
                if (!byCall.TryGetValue(call, out var kinds))
                {
                    byCall[call] = kinds = new ArgumentKind[4];
                }

                if (kinds[argument] != ArgumentKind.Hex)
                {
                    throw new InvalidOperationException($"argument {argument} of {call} is listed twice");
                }

                kinds[argument] = kind;
            }
        }

        return byCall.ToFrozenDictionary(StringComparer.Ordinal);
    }
}
