using System.Diagnostics;
using System.Text.RegularExpressions;
using AksAuditd.Core.Audit;
using AksAuditd.Core.Rules;
using Xunit;

namespace AksAuditd.Core.Tests.Rules;

public sealed class SyscallTableTests
{
    [Theory]
    [InlineData("x86_64")]
    [InlineData("i386")]
    [InlineData("aarch64")]
    [InlineData("armeb")]
    [InlineData("ppc64le")]
    [InlineData("s390x")]
    public void GeneratedTableMatchesTheInstalledAusyscall(string arch)
    {
        var dump = Run("ausyscall", arch, "--dump");
        var lines = dump.Split('\n', StringSplitOptions.RemoveEmptyEntries).Skip(1).ToArray();
        Assert.True(lines.Length > 300, $"ausyscall {arch} --dump printed only {lines.Length} syscalls");
        foreach (var line in lines)
        {
            var parts = line.Split('\t');
            var number = int.Parse(parts[0]);
            Assert.True(SyscallTable.TryGetName(arch, number, out var name), $"{arch} {number} missing");
            Assert.Equal(parts[1], name);
            Assert.True(SyscallTable.TryGetNumber(arch, parts[1], out var back));
            Assert.Equal(number, back);
        }
    }

    [Fact]
    public void KnowsTheArchitecturesByAuditctlName()
    {
        // armeb is libaudit's name for 32-bit arm: what -F arch=b32 means on an arm64 node.
        Assert.Equal(["x86_64", "i386", "aarch64", "armeb", "ppc", "ppc64", "ppc64le", "s390", "s390x"], SyscallTable.Architectures);
        // Numbers from the kernel's own tables (arch/x86/entry/syscalls/syscall_64.tbl and syscall_32.tbl,
        // include/uapi/asm-generic/unistd.h), independent of ausyscall, so a wrong mapping fails here.
        foreach (var (arch, syscall, number) in new[]
        {
            ("x86_64", "openat", 257), ("x86_64", "execve", 59), ("x86_64", "init_module", 175), ("x86_64", "finit_module", 313),
            ("i386", "openat", 295), ("i386", "execve", 11),
            ("aarch64", "openat", 56), ("aarch64", "execve", 221), ("aarch64", "finit_module", 273),
        })
        {
            Assert.True(SyscallTable.TryGetNumber(arch, syscall, out var actual), $"{arch} {syscall} missing");
            Assert.Equal((arch, syscall, number), (arch, syscall, actual));
            Assert.True(SyscallTable.TryGetName(arch, number, out var name));
            Assert.Equal(syscall, name);
        }
        Assert.False(SyscallTable.TryGetNumber("aarch64", "open", out _)); // aarch64 has only openat
        Assert.False(SyscallTable.TryGetName("sparc", 0, out _));
    }

    [Theory]
    [InlineData(0xc000003eu, "x86_64")]
    [InlineData(0x40000003u, "i386")]
    [InlineData(0xc00000b7u, "aarch64")]
    public void MapsAuditArchValuesToNames(uint auditArch, string expected)
    {
        Assert.True(SyscallTable.TryGetArchName(auditArch, out var name));
        Assert.Equal(expected, name);
        Assert.True(SyscallTable.TryGetAuditArch(expected, out var back));
        Assert.Equal(auditArch, back);
        Assert.False(SyscallTable.TryGetArchName(0x12345678, out _));
    }

    [Fact]
    public void MessageTypesAgreeWithTheKernelHeader()
    {
        // linux/audit.h (linux-libc-dev) is a second, independent source for the numbers libaudit names.
        const string header = "/usr/include/linux/audit.h";
        Assert.True(File.Exists(header), $"{header} is missing: apt-get install linux-libc-dev");
        var checkedCount = 0;
        foreach (Match m in Regex.Matches(File.ReadAllText(header), @"^#define AUDIT_(\w+)\s+(\d{4})\b", RegexOptions.Multiline))
        {
            var number = int.Parse(m.Groups[2].Value);
            // Every name both sources know must carry the same number; a name only one of them knows is skipped.
            if (MessageTypes.TryGetNumber(m.Groups[1].Value, out var ours))
            {
                Assert.Equal((m.Groups[1].Value, number), (m.Groups[1].Value, ours));
                checkedCount++;
            }
        }
        Assert.True(checkedCount > 50, $"only {checkedCount} message types matched the kernel header");
        Assert.True(MessageTypes.TryGetNumber("syscall", out var syscall));
        Assert.Equal(1300, syscall);
        Assert.True(MessageTypes.TryGetName(1112, out var login));
        Assert.Equal("USER_LOGIN", login);
        Assert.False(MessageTypes.TryGetNumber("NOT_A_TYPE", out _));
    }

    private static string Run(string file, params string[] args)
    {
        var start = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in args) start.ArgumentList.Add(a);
        using var p = Process.Start(start)!;
        var output = p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        return output;
    }
}
