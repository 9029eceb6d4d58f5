using AksAuditd.Core.Events;
using Xunit;

namespace AksAuditd.Core.Tests.Events;

/// <summary>Measure-AuditEvent's groupings, time window and exclusion advice on small logs written for the case.</summary>
public sealed class VolumeGroupingTests : IDisposable
{
    private readonly string _directory = Fixtures.NewTemporaryDirectory();

    public void Dispose() => Directory.Delete(_directory, true);

    // Two keys (-k a -k b) as the kernel writes them: hex of "a\x01b".
    private const string Log = """
        type=SYSCALL msg=audit(1700000000.100:10): arch=c000003e syscall=59 success=yes exit=0 a0=1 a1=2 a2=3 a3=4 items=1 ppid=1 pid=2 auid=4294967295 uid=0 gid=0 euid=0 suid=0 fsuid=0 egid=0 sgid=0 fsgid=0 tty=(none) ses=4294967295 comm="runc" exe="/usr/sbin/runc" subj=unconfined key="exec"
        type=PATH msg=audit(1700000000.100:10): item=0 name="/usr/sbin/runc" inode=1 dev=fe:00 mode=0100755 ouid=0 ogid=0 rdev=00:00 nametype=NORMAL cap_fp=0 cap_fi=0 cap_fe=0 cap_fver=0 cap_frootid=0
        type=EOE msg=audit(1700000000.100:10): 
        type=SYSCALL msg=audit(1700000100.200:11): arch=c000003e syscall=257 success=no exit=-13 a0=1 a1=2 a2=3 a3=4 items=1 ppid=1 pid=3 auid=1000 uid=1000 gid=0 euid=0 suid=0 fsuid=0 egid=0 sgid=0 fsgid=0 tty=pts0 ses=3 comm="cat" exe="/var/lib/containerd/io.containerd.snapshotter.v1.overlayfs/snapshots/9/fs/bin/cat" subj=unconfined key=610162
        type=EOE msg=audit(1700000100.200:11): 
        type=SYSCALL msg=audit(1700000200.300:12): arch=c000003e syscall=2 success=yes exit=3 a0=1 a1=2 a2=3 a3=4 items=1 ppid=1 pid=4 auid=4294967295 uid=0 gid=0 euid=0 suid=0 fsuid=0 egid=0 sgid=0 fsgid=0 tty=(none) ses=4294967295 comm="app" exe="/opt/app/bin/app" subj=unconfined key=(null)
        type=EOE msg=audit(1700000200.300:12): 
        type=USER_LOGIN msg=audit(1700000300.400:13): pid=5 uid=0 auid=1000 ses=3 msg='op=login id=1000 exe="/usr/sbin/sshd" hostname=? addr=10.0.0.1 terminal=ssh res=success'
        """;

    [Fact]
    public void KeysCountEachEventOncePerKeyAndEventsWithoutOneAreNone()
    {
        var report = Measure(AuditVolumeGrouping.Key);
        Assert.Equal(4, report.Events);
        Assert.Equal(8, report.Records);
        var byName = report.Groups.ToDictionary(g => g.Name);
        Assert.Equal(1, byName["exec"].Events);
        Assert.Equal(3, byName["exec"].Records);
        Assert.Equal(1, byName["a"].Events);
        Assert.Equal(1, byName["b"].Events);
        Assert.Equal(2, byName["(none)"].Events);
        Assert.Equal(new DateTime(2023, 11, 14, 22, 13, 20, 100, DateTimeKind.Utc), byName["exec"].First);
    }

    [Fact]
    public void RuleNamesUnkeyedEventsBySyscallAndExecutable()
    {
        var names = Measure(AuditVolumeGrouping.Rule).Groups.Select(g => g.Name).ToList();
        Assert.Contains("syscall=open exe=/opt/app/bin/app", names);
        Assert.Contains("type=USER_LOGIN exe=/usr/sbin/sshd", names);
        Assert.Contains("exec", names);
    }

    [Fact]
    public void RecordTypesCountRecordsAndTheEventsHoldingThem()
    {
        var byType = Measure(AuditVolumeGrouping.RecordType).Groups.ToDictionary(g => g.Name);
        Assert.Equal(3, byType["SYSCALL"].Events);
        Assert.Equal(3, byType["EOE"].Records);
        Assert.Equal(1, byType["PATH"].Records);
        Assert.Equal(1, byType["USER_LOGIN"].Events);
    }

    [Fact]
    public void TheTimeWindowKeepsOnlyEventsInside()
    {
        var report = Measure(AuditVolumeGrouping.Key, after: DateTimeOffset.FromUnixTimeSeconds(1700000050).UtcDateTime,
            before: DateTimeOffset.FromUnixTimeSeconds(1700000250).UtcDateTime);
        Assert.Equal(2, report.Events);
        Assert.DoesNotContain(report.Groups, g => g.Name == "exec");
    }

    [Fact]
    public void ExclusionsKeepLoginSessionsAndSayWhenExeCannotMatch()
    {
        var hostRoot = Path.Combine(_directory, "host");
        Directory.CreateDirectory(Path.Combine(hostRoot, "usr", "sbin"));
        File.WriteAllText(Path.Combine(hostRoot, "usr", "sbin", "runc"), string.Empty);
        var byName = Measure(AuditVolumeGrouping.Executable, hostRoot: hostRoot).Groups.ToDictionary(g => g.Name);

        Assert.Equal("-a never,exit -F exe=/usr/sbin/runc -F auid=unset", byName["/usr/sbin/runc"].SuggestedExclusion);
        Assert.Null(byName["/usr/sbin/runc"].ExclusionNote);
        Assert.Contains("host path of a container's binary", byName.Single(p => p.Key.StartsWith("/var/lib/containerd/", StringComparison.Ordinal)).Value.ExclusionNote);
        Assert.Null(byName["/opt/app/bin/app"].SuggestedExclusion);
        Assert.Contains("not on the host", byName["/opt/app/bin/app"].ExclusionNote);
    }

    [Fact]
    public void RatesAreOverTheWholeLogAndIngestionAddsTheRowOverhead()
    {
        var report = Measure(AuditVolumeGrouping.Key);
        var exec = report.Groups.Single(g => g.Name == "exec");
        var days = TimeSpan.FromMilliseconds(300_300).TotalDays;
        Assert.Equal(1 / days, exec.EventsPerDay, 6);
        Assert.Equal((exec.Bytes - exec.Records + 3 * 250) / days, exec.IngestionBytesPerDay, 3);
    }

    private AuditVolumeReport Measure(AuditVolumeGrouping groupBy, DateTime? after = null, DateTime? before = null, string? hostRoot = null)
    {
        var log = Path.Combine(_directory, "audit.log");
        File.WriteAllText(log, string.Join('\n', Log.Split('\n').Select(l => l.Trim())) + "\n");
        return new AuditVolumeMeter().Measure(new AuditVolumeQuery
        {
            Paths = [log],
            HostRoot = hostRoot ?? _directory,
            GroupBy = groupBy,
            After = after,
            Before = before,
        });
    }
}
