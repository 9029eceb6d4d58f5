using System.Buffers.Binary;
using System.ComponentModel;
using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace AksAuditd.Core.Sync;

/// <summary>What kind of directory entry a path is, after following symlinks unless asked not to.</summary>
public enum NodeFileType
{
    Missing,
    Regular,
    Directory,
    Symlink,
    Other,
}

/// <summary>
/// Who a file is on disk: device, inode, size, mtime and ctime (nanoseconds since the epoch). Equal
/// identities mean equal contents for every ordinary write, because any write or chmod moves ctime and
/// userspace cannot set ctime back. What stat cannot show (a raw disk edit, a clock set back) is why the
/// sync still re-hashes a rotating slice of the node's files.
/// </summary>
public readonly record struct FileIdentity(ulong Device, ulong Inode, long Size, long ModifiedNs, long ChangedNs, NodeFileType Type, uint Mode, uint Uid, uint Gid)
{
    public static readonly FileIdentity Missing = new(0, 0, 0, 0, 0, NodeFileType.Missing, 0, 0, 0);

    public bool Exists => Type != NodeFileType.Missing;

    /// <summary>The same file with the same contents as far as stat can tell (mode and owner may differ).</summary>
    public bool SameContentsAs(FileIdentity other) =>
        Device == other.Device && Inode == other.Inode && Size == other.Size && ModifiedNs == other.ModifiedNs && ChangedNs == other.ChangedNs && Type == other.Type;
}

/// <summary>
/// The node's file system as the sync uses it. One real implementation (<see cref="LinuxNodeFileSystem"/>);
/// tests wrap it to inject faults (a rename that fails, a stat that cannot see a change), never to fake it.
/// </summary>
public interface INodeFileSystem
{
    /// <summary>stat(2), or lstat(2) when <paramref name="followSymlinks"/> is false. A missing path is <see cref="FileIdentity.Missing"/>.</summary>
    FileIdentity Stat(string path, bool followSymlinks = true);

    /// <summary>The names in a directory, without . and ..</summary>
    IReadOnlyList<string> List(string directory);

    /// <summary>
    /// The names in a directory with each entry's identity (stat, or lstat when <paramref name="followSymlinks"/>
    /// is false), in one pass relative to the open directory: the cheap way to poll many files.
    /// </summary>
    /// <exception cref="DirectoryNotFoundException">The directory does not exist.</exception>
    IReadOnlyList<(string Name, FileIdentity Identity)> ListWithIdentities(string directory, bool followSymlinks = true);

    /// <summary>Reads a whole regular file; more than <paramref name="limit"/> bytes is a <see cref="FileTooLargeException"/>.</summary>
    byte[] Read(string path, int limit);

    /// <summary>readlink(2): the link's text, or null when the path is not a symlink.</summary>
    string? ReadLink(string path);

    /// <summary>realpath(3): the path with every symlink resolved, or null when it does not resolve.</summary>
    string? RealPath(string path);

    /// <summary>
    /// Creates <paramref name="path"/> (which must not exist), writes the bytes, sets mode and owner, and
    /// fsyncs it, so a later rename publishes complete contents even across a power cut.
    /// </summary>
    void WriteNew(string path, ReadOnlySpan<byte> contents, UnixFileMode mode, uint uid, uint gid);

    /// <summary>rename(2): atomically replaces <paramref name="destination"/>.</summary>
    void Rename(string source, string destination);

    void Delete(string path);

    void CreateDirectory(string path, UnixFileMode mode);

    void DeleteDirectory(string path);

    /// <summary>fsync(2) on a directory, so renames and unlinks in it are durable.</summary>
    void SyncDirectory(string directory);

    /// <summary>
    /// Starts recording what happens in a directory (inotify): entries created, deleted, renamed, written or
    /// with changed attributes. Null when the directory cannot be watched; callers then stat every file instead.
    /// </summary>
    IDirectoryWatch? Watch(string directory);

    /// <summary>flock(2) LOCK_EX on the directory itself; null when another process holds it and <paramref name="wait"/> ran out.</summary>
    IDisposable? TryLockDirectory(string directory, TimeSpan wait);
}

/// <summary>What happened in a watched directory since the last look.</summary>
public interface IDirectoryWatch : IDisposable
{
    /// <summary>The names of entries that changed since the last call (null: events were lost, or the watch ended); empty when nothing happened.</summary>
    IReadOnlyCollection<string?> TakeEvents();
}

/// <summary>The path is a FIFO, socket, device or directory where a regular file was expected.</summary>
public sealed class NotARegularFileException : IOException
{
    public NotARegularFileException(string path, NodeFileType type)
        : base($"{path} is {Describe(type)}, not a regular file.")
    {
        Path = path;
        Type = type;
    }

    public string Path { get; }

    public NodeFileType Type { get; }

    public static string Describe(NodeFileType type) => type switch
    {
        NodeFileType.Directory => "a directory",
        NodeFileType.Symlink => "a symbolic link",
        NodeFileType.Missing => "missing",
        _ => "a FIFO, socket or device",
    };
}

/// <summary>The file has more bytes than the sync accepts.</summary>
public sealed class FileTooLargeException : IOException
{
    public FileTooLargeException(string path, long size, int limit)
        : base($"{path} is {size} bytes; the limit is {limit} bytes.")
    {
        Path = path;
        Size = size;
    }

    public string Path { get; }

    public long Size { get; }
}

// Linux only by nature: auditd, rules.d and flock exist nowhere else.
#pragma warning disable CA1416

/// <summary>Linux system calls through libc: statx for identities, flock for the target lock, fchown and fsync for writes.</summary>
public sealed class LinuxNodeFileSystem : INodeFileSystem
{
    public static readonly LinuxNodeFileSystem Instance = new();

    private const int AtFdCwd = -100;
    private const int AtSymlinkNoFollow = 0x100;
    private const int AtEmptyPath = 0x1000;
    private const int ONonBlock = 0x800; // O_NONBLOCK, the same on x86-64 and arm64
    private const uint StatxBasicStats = 0x7ff;
    private const int ENOENT = 2;
    private const int ENOTDIR = 20;
    private const int EINTR = 4;
    private const int EWOULDBLOCK = 11;
    private const int OReadOnlyCloseOnExec = 0x80000; // O_RDONLY | O_CLOEXEC, the same value on x86-64 and arm64
    private const int LockExclusive = 2;
    private const int LockNonBlocking = 4;
    private const int InotifyNonBlocking = 0x800; // IN_NONBLOCK (O_NONBLOCK), the same on x86-64 and arm64
    private const int InotifyCloseOnExec = 0x80000; // IN_CLOEXEC

    // IN_MODIFY | IN_ATTRIB | IN_CLOSE_WRITE | IN_MOVED_FROM | IN_MOVED_TO | IN_CREATE | IN_DELETE | IN_DELETE_SELF | IN_MOVE_SELF
    private const uint InotifyMask = 0x2 | 0x4 | 0x8 | 0x40 | 0x80 | 0x100 | 0x200 | 0x400 | 0x800;

    [ThreadStatic]
    private static byte[]? _statBuffer;

    public FileIdentity Stat(string path, bool followSymlinks = true) => StatAt(AtFdCwd, path, followSymlinks);

    public IReadOnlyList<(string Name, FileIdentity Identity)> ListWithIdentities(string directory, bool followSymlinks = true)
    {
        var fd = Native.open(directory, OReadOnlyCloseOnExec);
        if (fd < 0)
        {
            var errno = Marshal.GetLastPInvokeError();
            throw errno is ENOENT or ENOTDIR ? new DirectoryNotFoundException($"open {directory}: {new Win32Exception(errno).Message}") : Error(errno, "open", directory);
        }

        try
        {
            var options = new EnumerationOptions { AttributesToSkip = 0, IgnoreInaccessible = false, RecurseSubdirectories = false };
            var names = new System.IO.Enumeration.FileSystemEnumerable<string>(directory, (ref System.IO.Enumeration.FileSystemEntry e) => e.FileName.ToString(), options);
            var entries = new List<(string, FileIdentity)>();
            foreach (var name in names)
            {
                entries.Add((name, StatAt(fd, name, followSymlinks)));
            }

            return entries;
        }
        finally
        {
            Native.close(fd);
        }
    }

    private static FileIdentity StatAt(int directoryFd, string path, bool followSymlinks, bool emptyPath = false)
    {
        var buffer = _statBuffer ??= new byte[256];
        int rc;
        do
        {
            rc = Native.statx(directoryFd, path, (followSymlinks ? 0 : AtSymlinkNoFollow) | (emptyPath ? AtEmptyPath : 0), StatxBasicStats, buffer);
        }
        while (rc != 0 && Marshal.GetLastPInvokeError() == EINTR);

        if (rc != 0)
        {
            var errno = Marshal.GetLastPInvokeError();
            if (errno is ENOENT or ENOTDIR)
            {
                return FileIdentity.Missing;
            }

            throw Error(errno, "stat", path);
        }

        // struct statx (linux/stat.h) has the same layout on every architecture.
        ReadOnlySpan<byte> b = buffer;
        var mode = BinaryPrimitives.ReadUInt16LittleEndian(b[28..]);
        var type = (mode & 0xF000) switch
        {
            0x8000 => NodeFileType.Regular,
            0x4000 => NodeFileType.Directory,
            0xA000 => NodeFileType.Symlink,
            _ => NodeFileType.Other,
        };
        static long Timestamp(ReadOnlySpan<byte> t) =>
            BinaryPrimitives.ReadInt64LittleEndian(t) * 1_000_000_000L + BinaryPrimitives.ReadUInt32LittleEndian(t[8..]);
        var device = ((ulong)BinaryPrimitives.ReadUInt32LittleEndian(b[136..]) << 32) | BinaryPrimitives.ReadUInt32LittleEndian(b[140..]);
        return new FileIdentity(
            device,
            BinaryPrimitives.ReadUInt64LittleEndian(b[32..]),
            (long)BinaryPrimitives.ReadUInt64LittleEndian(b[40..]),
            Timestamp(b[112..]),
            Timestamp(b[96..]),
            type,
            (uint)(mode & 0xFFF),
            BinaryPrimitives.ReadUInt32LittleEndian(b[20..]),
            BinaryPrimitives.ReadUInt32LittleEndian(b[24..]));
    }

    public IReadOnlyList<string> List(string directory)
    {
        var names = new List<string>();
        foreach (var entry in Directory.EnumerateFileSystemEntries(directory))
        {
            names.Add(System.IO.Path.GetFileName(entry));
        }

        return names;
    }

    public byte[] Read(string path, int limit)
    {
        // O_NONBLOCK: a FIFO put where a file was (between a stat and this open) must not block the open; then fstat
        // on the open descriptor decides, so a device or FIFO is refused before any read.
        var fd = Native.open(path, OReadOnlyCloseOnExec | ONonBlock);
        if (fd < 0)
        {
            var errno = Marshal.GetLastPInvokeError();
            throw errno switch
            {
                ENOENT => new FileNotFoundException($"open {path}: {new Win32Exception(errno).Message}", path),
                ENOTDIR => new DirectoryNotFoundException($"open {path}: {new Win32Exception(errno).Message}"),
                _ => Error(errno, "open", path),
            };
        }

        using var handle = new SafeFileHandle((IntPtr)fd, ownsHandle: true);
        var opened = StatAt(fd, string.Empty, followSymlinks: true, emptyPath: true);
        if (opened.Type != NodeFileType.Regular)
        {
            throw new NotARegularFileException(path, opened.Type);
        }

        var length = RandomAccess.GetLength(handle);
        if (length > limit)
        {
            throw new FileTooLargeException(path, length, limit);
        }

        // Read one byte past the expected length: a file that grew since fstat is caught, not truncated.
        var buffer = new byte[length + 1];
        var total = 0;
        while (true)
        {
            var n = RandomAccess.Read(handle, buffer.AsSpan(total), total);
            if (n == 0)
            {
                break;
            }

            total += n;
            if (total == buffer.Length)
            {
                if (total > limit)
                {
                    throw new FileTooLargeException(path, total, limit);
                }

                Array.Resize(ref buffer, buffer.Length * 2);
            }
        }

        return total == buffer.Length ? buffer : buffer.AsSpan(0, total).ToArray();
    }

    public string? ReadLink(string path)
    {
        var info = new FileInfo(path);
        return info.LinkTarget;
    }

    public string? RealPath(string path)
    {
        var result = Native.realpath(path, IntPtr.Zero);
        if (result == IntPtr.Zero)
        {
            return null;
        }

        try
        {
            return Marshal.PtrToStringUTF8(result);
        }
        finally
        {
            Native.free(result);
        }
    }

    public void WriteNew(string path, ReadOnlySpan<byte> contents, UnixFileMode mode, uint uid, uint gid)
    {
        var options = new FileStreamOptions
        {
            Mode = FileMode.CreateNew,
            Access = FileAccess.Write,
            Share = FileShare.None,
            UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite,
        };
        using var stream = new FileStream(path, options);
        stream.Write(contents);
        stream.Flush();
        var fd = (int)stream.SafeFileHandle.DangerousGetHandle();
        if (Native.fchown(fd, uid, gid) != 0)
        {
            throw Error(Marshal.GetLastPInvokeError(), "chown", path);
        }

        // After fchown: chown clears set-id bits, and the mode must be exactly what was asked.
        File.SetUnixFileMode(stream.SafeFileHandle, mode);
        stream.Flush(flushToDisk: true);
    }

    public void Rename(string source, string destination)
    {
        if (Native.rename(source, destination) != 0)
        {
            throw Error(Marshal.GetLastPInvokeError(), "rename", destination);
        }
    }

    public void Delete(string path)
    {
        if (Native.unlink(path) != 0)
        {
            var errno = Marshal.GetLastPInvokeError();
            if (errno != ENOENT)
            {
                throw Error(errno, "unlink", path);
            }
        }
    }

    public void CreateDirectory(string path, UnixFileMode mode) => Directory.CreateDirectory(path, mode);

    public void DeleteDirectory(string path)
    {
        if (Directory.Exists(path))
        {
            Directory.Delete(path, recursive: true);
        }
    }

    public void SyncDirectory(string directory)
    {
        var fd = Native.open(directory, OReadOnlyCloseOnExec);
        if (fd < 0)
        {
            throw Error(Marshal.GetLastPInvokeError(), "open", directory);
        }

        try
        {
            if (Native.fsync(fd) != 0)
            {
                throw Error(Marshal.GetLastPInvokeError(), "fsync", directory);
            }
        }
        finally
        {
            Native.close(fd);
        }
    }

    public IDirectoryWatch? Watch(string directory)
    {
        var fd = Native.inotify_init1(InotifyNonBlocking | InotifyCloseOnExec);
        if (fd < 0)
        {
            return null; // out of inotify instances, for example: polling still works, by stat
        }

        if (Native.inotify_add_watch(fd, directory, InotifyMask) < 0)
        {
            Native.close(fd);
            return null;
        }

        return new InotifyWatch(fd);
    }

    public IDisposable? TryLockDirectory(string directory, TimeSpan wait)
    {
        var fd = Native.open(directory, OReadOnlyCloseOnExec);
        if (fd < 0)
        {
            throw Error(Marshal.GetLastPInvokeError(), "open", directory);
        }

        var deadline = DateTime.UtcNow + wait;
        var delay = 5;
        while (true)
        {
            if (Native.flock(fd, LockExclusive | LockNonBlocking) == 0)
            {
                return new DirectoryLock(fd);
            }

            var errno = Marshal.GetLastPInvokeError();
            if (errno != EWOULDBLOCK && errno != EINTR)
            {
                Native.close(fd);
                throw Error(errno, "flock", directory);
            }

            if (DateTime.UtcNow >= deadline)
            {
                Native.close(fd);
                return null;
            }

            Thread.Sleep(delay);
            delay = Math.Min(delay * 2, 100);
        }
    }

    /// <summary>An exception like the ones .NET throws for the same errno: access denied, or an IOException whose HResult is the errno.</summary>
    private static Exception Error(int errno, string call, string path)
    {
        var message = $"{call} {path}: {new Win32Exception(errno).Message}";
        return errno is 1 or 13 ? new UnauthorizedAccessException(message) : new IOException(message, errno);
    }

    /// <summary>
    /// An inotify descriptor read without blocking: the kernel queues an event before the write, rename or
    /// unlink that caused it returns, so draining the queue at the start of a poll sees every change made before.
    /// </summary>
    private sealed class InotifyWatch : IDirectoryWatch
    {
        private const uint Overflow = 0x4000; // IN_Q_OVERFLOW
        private const uint Ignored = 0x8000; // IN_IGNORED: the watch is gone (directory deleted or unmounted)
        private readonly byte[] _buffer = new byte[16384];
        private int _fd;

        public InotifyWatch(int fd) => _fd = fd;

        public IReadOnlyCollection<string?> TakeEvents()
        {
            var events = new List<string?>();
            if (_fd < 0)
            {
                events.Add(null);
                return events;
            }

            while (true)
            {
                var n = Native.read(_fd, _buffer, _buffer.Length);
                if (n <= 0)
                {
                    return events; // EAGAIN: nothing more queued
                }

                // struct inotify_event { int wd; uint32_t mask, cookie, len; char name[len]; }
                for (var offset = 0; offset + 16 <= n;)
                {
                    var mask = BinaryPrimitives.ReadUInt32LittleEndian(_buffer.AsSpan(offset + 4));
                    var length = (int)BinaryPrimitives.ReadUInt32LittleEndian(_buffer.AsSpan(offset + 12));
                    var name = _buffer.AsSpan(offset + 16, length);
                    var end = name.IndexOf((byte)0);
                    events.Add((mask & (Overflow | Ignored)) != 0 || length == 0 ? null : System.Text.Encoding.UTF8.GetString(end >= 0 ? name[..end] : name));
                    offset += 16 + length;
                }
            }
        }

        public void Dispose()
        {
            var fd = Interlocked.Exchange(ref _fd, -1);
            if (fd >= 0)
            {
                Native.close(fd);
            }
        }
    }

    /// <summary>Closing the descriptor releases the flock, also when the process is killed.</summary>
    private sealed class DirectoryLock : IDisposable
    {
        private int _fd;

        public DirectoryLock(int fd) => _fd = fd;

        public void Dispose()
        {
            var fd = Interlocked.Exchange(ref _fd, -1);
            if (fd >= 0)
            {
                Native.close(fd);
            }
        }
    }

    private static class Native
    {
        [DllImport("libc", SetLastError = true)]
        public static extern int statx(int dirfd, [MarshalAs(UnmanagedType.LPUTF8Str)] string path, int flags, uint mask, [Out] byte[] buffer);

        [DllImport("libc", SetLastError = true)]
        public static extern IntPtr realpath([MarshalAs(UnmanagedType.LPUTF8Str)] string path, IntPtr resolved);

        [DllImport("libc")]
        public static extern void free(IntPtr pointer);

        [DllImport("libc", SetLastError = true)]
        public static extern int open([MarshalAs(UnmanagedType.LPUTF8Str)] string path, int flags);

        [DllImport("libc", SetLastError = true)]
        public static extern int close(int fd);

        [DllImport("libc", SetLastError = true)]
        public static extern int fsync(int fd);

        [DllImport("libc", SetLastError = true)]
        public static extern int flock(int fd, int operation);

        [DllImport("libc", SetLastError = true)]
        public static extern int fchown(int fd, uint uid, uint gid);

        [DllImport("libc", SetLastError = true)]
        public static extern int rename([MarshalAs(UnmanagedType.LPUTF8Str)] string source, [MarshalAs(UnmanagedType.LPUTF8Str)] string destination);

        [DllImport("libc", SetLastError = true)]
        public static extern int inotify_init1(int flags);

        [DllImport("libc", SetLastError = true)]
        public static extern int inotify_add_watch(int fd, [MarshalAs(UnmanagedType.LPUTF8Str)] string path, uint mask);

        [DllImport("libc", SetLastError = true)]
        public static extern nint read(int fd, [Out] byte[] buffer, nint count);

        [DllImport("libc", SetLastError = true)]
        public static extern int unlink([MarshalAs(UnmanagedType.LPUTF8Str)] string path);
    }
}

#pragma warning restore CA1416

/// <summary>Owner ids for <see cref="INodeFileSystem.WriteNew"/>.</summary>
public static class NodeOwner
{
    public const uint Root = 0;

    /// <summary>fchown's -1: keep the creating process's user or group.</summary>
    public const uint Unchanged = uint.MaxValue;
}
