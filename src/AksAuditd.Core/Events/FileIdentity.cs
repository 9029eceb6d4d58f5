using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace AksAuditd.Core.Events;

/// <summary>
/// The device and inode of a file, to tell when auditd rotated the log: the path then names a new file while
/// the follower's open handle still reads the renamed old one. statx(2) is used because its layout is the same
/// on every architecture, unlike struct stat.
/// </summary>
internal readonly record struct FileIdentity(ulong Device, ulong Inode)
{
    private const int AtFdCwd = -100;
    private const int AtEmptyPath = 0x1000;
    private const uint StatxIno = 0x100;

    public static bool TryGet(string path, out FileIdentity identity) => TryStatx(AtFdCwd, path, 0, out identity);

    public static bool TryGet(SafeFileHandle handle, out FileIdentity identity)
    {
        var added = false;
        try
        {
            handle.DangerousAddRef(ref added);
            return TryStatx((int)handle.DangerousGetHandle(), string.Empty, AtEmptyPath, out identity);
        }
        finally
        {
            if (added)
            {
                handle.DangerousRelease();
            }
        }
    }

    private static bool TryStatx(int directory, string path, int flags, out FileIdentity identity)
    {
        identity = default;
        if (!OperatingSystem.IsLinux())
        {
            return false;
        }

        var buffer = new byte[256];
        try
        {
            if (Statx(directory, path, flags, StatxIno, buffer) != 0)
            {
                return false;
            }
        }
        catch (EntryPointNotFoundException)
        {
            return false;
        }

        // struct statx: stx_ino at 32, stx_dev_major at 136, stx_dev_minor at 140.
        var inode = BitConverter.ToUInt64(buffer, 32);
        var device = ((ulong)BitConverter.ToUInt32(buffer, 136) << 32) | BitConverter.ToUInt32(buffer, 140);
        identity = new FileIdentity(device, inode);
        return true;
    }

    [DllImport("libc", EntryPoint = "statx", SetLastError = true)]
    private static extern int Statx(int directory, [MarshalAs(UnmanagedType.LPUTF8Str)] string path, int flags, uint mask, [Out] byte[] buffer);
}
