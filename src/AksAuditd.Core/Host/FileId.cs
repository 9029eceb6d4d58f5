using System.Runtime.InteropServices;

namespace AksAuditd.Core.Host;

/// <summary>Device and inode of a path: a bind mount of the node's / and PID 1's root compare equal.</summary>
internal readonly record struct FileId(ulong Device, ulong Inode)
{
    private const int AtFdCwd = -100;
    private const uint StatxIno = 0x100;

    public static FileId? Of(string path)
    {
        var buffer = new byte[256];
        if (statx(AtFdCwd, path, 0, StatxIno, buffer) != 0)
        {
            return null;
        }

        // struct statx: stx_ino at 32, stx_dev_major at 136, stx_dev_minor at 140 (same on every architecture).
        var inode = BitConverter.ToUInt64(buffer, 32);
        var device = ((ulong)BitConverter.ToUInt32(buffer, 136) << 32) | BitConverter.ToUInt32(buffer, 140);
        return new FileId(device, inode);
    }

    [DllImport("libc", SetLastError = true)]
    private static extern int statx(int dirfd, string path, int flags, uint mask, byte[] buffer);
}
