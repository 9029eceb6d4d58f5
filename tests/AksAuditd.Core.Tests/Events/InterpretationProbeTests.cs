using System.Text;
using AksAuditd.Core.Events;
using Xunit;

namespace AksAuditd.Core.Tests.Events;

/// <summary>
/// Synthetic records covering every kind of value Get-AuditEvent interprets, read by us and by the real
/// ausearch -i at test time (no kernel needed). Each line is what the kernel or a user-space program could write.
/// </summary>
public sealed class InterpretationProbeTests
{
    private const string Syscall = "type=SYSCALL msg=audit({0}): arch=c000003e syscall={1} success={2} exit={3} a0={4} a1={5} a2={6} a3={7} items=0 ppid=1 pid={8} auid={9} uid={10} gid={11} euid=0 suid=0 fsuid=0 egid=0 sgid=0 fsgid=0 tty=(none) ses={12} comm=\"probe\" exe=\"/usr/bin/probe\" key={13}";

    public static IEnumerable<object[]> Cases() =>
    [
        ["system call arguments", new[]
        {
            Call(257, "yes", "3", "ffffff9c", "7ffd1000", "80241", "1b6"),      // openat O_WRONLY|O_CREAT|O_TRUNC|O_CLOEXEC
            Call(257, "no", "-13", "ffffff9c", "7ffd1000", "0", "0"),          // openat O_RDONLY, EACCES
            Call(257, "no", "-2", "5", "7ffd1000", "98800", "0"),              // dirfd that is not AT_FDCWD
            Call(2, "yes", "3", "7ffd1000", "c2", "1ed", "0"),                 // open with O_CREAT: mode in a2
            Call(2, "yes", "3", "7ffd1000", "2", "1ed", "0"),                  // open without O_CREAT: a2 stays hex
            Call(268, "yes", "0", "ffffff9c", "7ffd1000", "9ed", "0"),         // fchmodat suid,01755
            Call(90, "yes", "0", "7ffd1000", "e00", "0", "0"),                 // chmod suid,sgid,sticky
            Call(92, "yes", "0", "7ffd1000", "fffe", "fffe", "0"),             // chown to nobody:nogroup
            Call(260, "yes", "0", "ffffff9c", "7ffd1000", "0", "fffe"),        // fchownat
            Call(83, "yes", "0", "7ffd1000", "1c0", "0", "0"),                 // mkdir
            Call(258, "yes", "0", "ffffff9c", "7ffd1000", "1c0", "0"),         // mkdirat
            Call(105, "yes", "0", "10932", "0", "0", "0"),                     // setuid unknown
            Call(106, "no", "-1", "fffe", "0", "0", "0"),                      // setgid nogroup, EPERM
            Call(117, "yes", "0", "0", "fffe", "ffffffff", "0"),               // setresuid
            Call(62, "yes", "0", "1f4", "f", "0", "0"),                        // kill SIGTERM
            Call(62, "yes", "0", "1f4", "40", "0", "0"),                       // kill beyond the table
            Call(234, "yes", "0", "1f4", "1f5", "9", "0"),                     // tgkill SIGKILL
            Call(41, "yes", "3", "2", "80801", "6", "0"),                      // socket inet, SOCK_STREAM|flags, tcp
            Call(41, "yes", "3", "a", "2", "11", "0"),                         // socket inet6 udp
            Call(41, "yes", "3", "63", "2", "0", "0"),                         // unknown family
            Call(9, "yes", "140737", "0", "1000", "7", "22"),                  // mmap prot and flags
            Call(9, "yes", "140737", "0", "1000", "0", "802"),                 // mmap PROT_NONE
            Call(10, "yes", "0", "7f00", "1000", "5", "0"),                    // mprotect
            Call(56, "yes", "200", "1200011", "0", "0", "0"),                  // clone (a0 flags are not named)
            Call(272, "yes", "0", "20000", "0", "0", "0"),                     // unshare CLONE_NEWNS
            Call(231, "yes", "0", "1", "0", "0", "0"),                         // exit_group
            Call(21, "no", "-2", "7ffd1000", "6", "0", "0"),                   // access W_OK|R_OK
            Call(269, "yes", "0", "ffffff9c", "7ffd1000", "0", "0"),           // faccessat F_OK
            Call(264, "yes", "0", "ffffff9c", "7ffd1000", "ffffff9c", "7ffd2000"), // renameat
            Call(263, "no", "-21", "ffffff9c", "7ffd1000", "200", "0"),        // unlinkat EISDIR
            Call(72, "yes", "0", "3", "2", "1", "0"),                          // fcntl F_SETFD FD_CLOEXEC
            Call(72, "yes", "0", "3", "4", "800", "0"),                        // fcntl F_SETFL stays hex
            Call(72, "yes", "0", "3", "40a", "0", "0"),                        // fcntl F_SETLEASE
            Call(72, "yes", "0", "3", "63", "0", "0"),                         // fcntl unknown command
            Call(233, "yes", "0", "4", "1", "5", "7ffd1000"),                  // epoll_ctl EPOLL_CTL_ADD
            Call(227, "yes", "0", "0", "7ffd1000", "0", "0"),                  // clock_settime CLOCK_REALTIME
            Call(227, "no", "-22", "9", "7ffd1000", "0", "0"),                 // clock_settime unknown clock
            Call(59, "no", "-7", "7ffd1000", "7ffd2000", "7ffd3000", "0"),     // execve E2BIG
            Call(59, "no", "-200", "7ffd1000", "7ffd2000", "7ffd3000", "0"),   // errno without a name
            Call(999, "yes", "0", "0", "0", "0", "0"),                         // unknown syscall
        }],
        ["ids, sessions and keys", new[]
        {
            Call(59, "yes", "0", "1", "2", "3", "4", auid: "4294967295", uid: "65534", gid: "65534", ses: "4294967295", key: "(null)"),
            Call(59, "yes", "0", "1", "2", "3", "4", auid: "1", uid: "4242", gid: "4", ses: "7", key: "\"procmon\""),
            Call(59, "yes", "0", "1", "2", "3", "4", auid: "-1", uid: "0", gid: "4242", ses: "1", key: Hex("exec\u0001priv")),
            "type=LOGIN msg=audit({0}): pid=1 uid=0 old-auid=4294967295 auid=65534 tty=(none) old-ses=4294967295 ses=3 res=1",
            "type=OBJ_PID msg=audit({0}): opid=10 oauid=-1 ouid=65534 oses=-1 obj=unconfined ocomm=\"sleep\"",
            "type=ADD_GROUP msg=audit({0}): pid=1 uid=0 auid=0 ses=1 msg='op=add-group id=65534 exe=\"/usr/sbin/groupadd\" hostname=node addr=? terminal=pts/0 res=success'",
        }],
        ["strings, titles and paths", new[]
        {
            "type=CWD msg=audit({0}): cwd=\"/root\"",
            "type=CWD msg=audit({0}): cwd=" + Hex("/tmp/with space"),
            "type=PATH msg=audit({0}): item=0 name=" + Hex("line\nbreak\ttab") + " inode=1 dev=fe:00 mode=0100644 ouid=0 ogid=0 rdev=00:00 nametype=CREATE cap_fp=0 cap_fi=0 cap_fe=0 cap_fver=0 cap_frootid=0",
            "type=PATH msg=audit({0}): item=1 name=(null) inode=2 dev=fe:00 mode=040755 ouid=65534 ogid=65534 rdev=00:00 nametype=PARENT cap_fp=0 cap_fi=0 cap_fe=0 cap_fver=0 cap_frootid=0",
            "type=PATH msg=audit({0}): item=2 name=\"relative/file\" inode=3 dev=fe:00 mode=0120777 ouid=0 ogid=0 rdev=00:00 nametype=NORMAL cap_fp=2000 cap_fi=1000000000 cap_fe=1 cap_fver=2 cap_frootid=0",
            "type=PATH msg=audit({0}): item=3 name=\"/dev/sda\" inode=4 dev=00:05 mode=060660 ouid=0 ogid=6 rdev=08:00 nametype=NORMAL cap_fp=0 cap_fi=0 cap_fe=0 cap_fver=0 cap_frootid=0",
            "type=PATH msg=audit({0}): item=4 name=\"/run/s\" inode=5 dev=00:19 mode=0147777 ouid=0 ogid=0 rdev=00:00 nametype=NORMAL cap_fp=0 cap_fi=0 cap_fe=0 cap_fver=0 cap_frootid=0",
            "type=PATH msg=audit({0}): item=5 name=\"/odd\" inode=6 dev=00:19 mode=0170644 ouid=0 ogid=0 rdev=00:00 nametype=NORMAL cap_fp=0 cap_fi=0 cap_fe=0 cap_fver=0 cap_frootid=0",
            "type=PATH msg=audit({0}): item=6 name=" + Hex("abc").TrimEnd('3') + " inode=7 dev=00:19 mode=010600 ouid=0 ogid=0 rdev=00:00 nametype=NORMAL cap_fp=0 cap_fi=0 cap_fe=0 cap_fver=0 cap_frootid=0",
            "type=PATH msg=audit({0}): item=7 name=? inode=8 dev=00:19 mode=020600 ouid=0 ogid=0 rdev=00:00 nametype=UNKNOWN cap_fp=0 cap_fi=0 cap_fe=0 cap_fver=0 cap_frootid=0",
            "type=PROCTITLE msg=audit({0}): proctitle=" + Hex("curl\0-s\0http://10.0.0.1/ x\0"),
            "type=PROCTITLE msg=audit({0}): proctitle=\"/usr/sbin/sshd\"",
            "type=EXECVE msg=audit({0}): argc=4 a0=\"curl\" a1=" + Hex("-H") + " a2=" + Hex("Authorization: Bearer x") + " a3=\"http://example/\"",
            "type=EXECVE msg=audit({0}): argc=2 a0=\"echo\" a1_len=20 a1[0]=" + Hex("0123456789") + " a1[1]=" + Hex("abcdefghij"),
        }],
        ["socket addresses", new[]
        {
            Sockaddr("02000050" + "0a000001" + "0000000000000000"),                                            // inet 10.0.0.1:80
            Sockaddr("0a0001bb" + "00000000" + "00000000000000000000000000000001" + "00000000"),                // inet6 [::1]:443
            Sockaddr("0a000016" + "00000000" + "20010db8000000000001000000000001" + "00000000"),                // 2001:db8::1:0:0:1
            Sockaddr("0a000016" + "00000000" + "00000000000000000000ffff01020304" + "00000000"),                // ::ffff:1.2.3.4
            Sockaddr("0a000016" + "00000000" + "fe800000000000000000000000000001" + "00000000"),                // fe80::1
            Sockaddr("0a000016" + "00000000" + "20010db8000100000000000000000000" + "00000000"),                // 2001:db8:1::
            Sockaddr("0100" + Hex("/run/containerd/containerd.sock") + "00"),                                  // unix
            Sockaddr("0100" + "00" + Hex("@abstract-name")),                                                   // abstract unix
            Sockaddr("1000" + "0000" + "39300000" + "00000000"),                                               // netlink pid 12345
            Sockaddr("1100" + "0003" + "02000000" + "0001" + "00" + "00"),                                     // packet: unsupported
            Sockaddr("0200" + "0050"),                                                                         // inet too short
            Sockaddr("6300" + "0000"),                                                                         // unknown family 99
            Sockaddr("zz"),                                                                                    // malformed
        }],
        ["user-space and other records", new[]
        {
            "type=USER_LOGIN msg=audit({0}): pid=100 uid=0 auid=4294967295 ses=4294967295 msg='op=login acct=\"root\" exe=\"/usr/sbin/sshd\" hostname=10.0.0.9 addr=10.0.0.9 terminal=ssh res=failed'",
            "type=USER_AUTH msg=audit({0}): pid=100 uid=0 auid=1 ses=2 msg='op=PAM:authentication grantors=? acct=" + Hex("odd user") + " exe=\"/usr/sbin/sshd\" hostname=? addr=10.0.0.9 terminal=ssh res=failed'",
            "type=USER_CMD msg=audit({0}): pid=200 uid=65534 auid=65534 ses=9 msg='cwd=\"/\" cmd=" + Hex("id -u") + " exe=\"/usr/bin/sudo\" terminal=pts/1 res=success'",
            "type=USER msg=audit({0}): pid=300 uid=0 auid=0 ses=1 msg='text=free words without equals exe=\"/usr/sbin/auditctl\" hostname=? addr=? terminal=? res=success'",
            "type=CONFIG_CHANGE msg=audit({0}): auid=0 ses=1 op=add_rule key=\"watched\" list=4 res=1",
            "type=CONFIG_CHANGE msg=audit({0}): auid=0 ses=1 op=remove_rule key=(null) list=9 res=0",
            "type=CONFIG_CHANGE msg=audit({0}): auid=0 ses=1 op=updated_rules path=\"/etc/shadow\" key=\"identity\" list=4 res=1 perm=6",
            "type=CONFIG_CHANGE msg=audit({0}): auid=0 ses=1 op=set audit_enabled=1 old=0 perm=0 res=1",
            "type=ANOM_ABEND msg=audit({0}): auid=4294967295 uid=0 gid=0 ses=4294967295 pid=400 comm=\"crash\" exe=\"/usr/bin/crash\" sig=11 res=1",
            "type=ANOM_ABEND msg=audit({0}): auid=4294967295 uid=0 gid=0 ses=4294967295 pid=401 comm=\"crash\" exe=\"/usr/bin/crash\" sig=40 res=1",
            "type=ANOM_PROMISCUOUS msg=audit({0}): dev=veth1 prom=256 old_prom=0 auid=4294967295 uid=0 gid=0 ses=4294967295",
            "type=SECCOMP msg=audit({0}): auid=4294967295 uid=0 gid=0 ses=4294967295 pid=500 comm=\"runc\" exe=\"/usr/bin/runc\" sig=0 arch=c000003e syscall=165 compat=0 ip=0x7f0 code=0x7ffc0000",
            "type=SECCOMP msg=audit({0}): auid=4294967295 uid=0 gid=0 ses=4294967295 pid=501 comm=\"x\" exe=\"/x\" sig=31 arch=40000003 syscall=11 compat=1 ip=0x7f0 code=0x50001",
            "type=CAPSET msg=audit({0}): pid=600 cap_pi=0 cap_pp=20000020 cap_pe=20000020 cap_pa=0",
            "type=MMAP msg=audit({0}): fd=3 flags=0x2",
            "type=MQ_OPEN msg=audit({0}): oflag=0x42 mode=0600 mq_flags=0x0 mq_maxmsg=10 mq_msgsize=8192 mq_curmsgs=0",
            "type=KERN_MODULE msg=audit({0}): name=\"overlay\"",
            "type=SYSCALL msg=audit({0}): arch=deadbeef syscall=2 success=yes exit=0 a0=0 a1=0 a2=0 a3=0 items=0 ppid=1 pid=2 auid=0 uid=0 gid=0 euid=0 suid=0 fsuid=0 egid=0 sgid=0 fsgid=0 tty=(none) ses=1 comm=\"x\" exe=\"/x\" key=(null)",
            "type=UNKNOWN[1499] msg=audit({0}): something=1 uid=0",
        }],
        ["enriched names win over a lookup now", new[]
        {
            Call(59, "yes", "0", "1", "2", "3", "4", auid: "1000", uid: "4243", gid: "4243") + "\u001dARCH=x86_64 SYSCALL=execve AUID=\"alice\" UID=\"bob\" GID=\"staff\" EUID=\"root\" SUID=\"root\" FSUID=\"root\" EGID=\"root\" SGID=\"root\" FSGID=\"root\"",
            "type=SOCKADDR msg=audit({0}): saddr=0200005000000000\u001dSADDR={ saddr_fam=inet laddr=0.0.0.0 lport=80 }",
            "type=PATH msg=audit({0}): item=0 name=\"/x\" inode=1 dev=fe:00 mode=0100644 ouid=4244 ogid=4244 rdev=00:00 nametype=NORMAL cap_fp=0 cap_fi=0 cap_fe=0 cap_fver=0 cap_frootid=0\u001dOUID=\"unknown(4244)\" OGID=\"carol\"",
            "node=worker-7 type=USER_START msg=audit({0}): pid=1 uid=0 auid=4245 ses=3 msg='op=PAM:session_open acct=\"root\" exe=\"/usr/sbin/cron\" hostname=? addr=? terminal=cron res=success'\u001dUID=\"root\" AUID=\"dave\"",
        }],
    ];

    [Theory]
    [MemberData(nameof(Cases))]
    public void InterpretsLikeAusearch(string what, string[] records)
    {
        var directory = Fixtures.NewTemporaryDirectory();
        try
        {
            // One event per record, ten seconds apart, so grouping is not what is being tested here.
            var log = new StringBuilder();
            for (var i = 0; i < records.Length; i++)
            {
                log.Append(string.Format(records[i].Replace("{", "{{").Replace("}", "}}").Replace("{{0}}", "{0}").Replace("{{1}}", "{1}"), $"{1700000000 + 10 * i}.{i % 1000:000}:{100 + i}")).Append('\n');
            }

            var file = Path.Combine(directory, "audit.log");
            File.WriteAllText(file, log.ToString());
            var golden = AusearchComparison.Parse(AusearchComparison.Run(file));
            var testLog = new TestLog();

            var events = new AuditEventReader(testLog).Read(new AuditEventQuery { Paths = [file], HostRoot = "/" }).ToList();

            Assert.Equal(records.Length, golden.Count);
            var problems = AusearchComparison.Compare(golden, events);
            Assert.True(problems.Count == 0, what + ":\n" + string.Join("\n", problems));
        }
        finally
        {
            Directory.Delete(directory, true);
        }
    }

    private static string Call(int syscall, string success, string exit, string a0, string a1, string a2, string a3,
        string auid = "0", string uid = "0", string gid = "0", string ses = "1", string key = "(null)") =>
        string.Format(Syscall, "{0}", syscall, success, exit, a0, a1, a2, a3, 1000 + syscall, auid, uid, gid, ses, key);

    private static string Sockaddr(string hex) => "type=SOCKADDR msg=audit({0}): saddr=" + hex.ToUpperInvariant();

    private static string Hex(string text) => Convert.ToHexString(Encoding.UTF8.GetBytes(text));
}
