using System.Text.RegularExpressions;
using AksAuditd.Core.Host;
using Xunit;

namespace AksAuditd.Core.Tests.Host;

/// <summary>
/// The warnings Get-AuditdStatus writes, from readings of the real <c>auditctl -s</c> output
/// (Golden/auditctl-s-running.txt, recorded by tools/record-host-golden.sh) with the counters changed.
/// </summary>
public sealed class AuditdStatusMonitorTests
{
    [Fact]
    public void LostGrowthSinceTheLastReadingWarnsWithTheDifference()
    {
        var monitor = new AuditdStatusMonitor();

        var first = monitor.Observe(Reading(lost: 3));
        var second = monitor.Observe(Reading(lost: 10));

        Assert.Empty(first); // three lost since boot is history, not news
        var warning = Assert.Single(second);
        Assert.Equal(AuditdHealthWarning.EventsLost, warning.Code);
        Assert.StartsWith("The kernel lost 7 audit events since the last check (10 in all)", warning.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void NoGrowthOrAResetDoesNotWarn()
    {
        var monitor = new AuditdStatusMonitor();
        monitor.Observe(Reading(lost: 10));

        Assert.Empty(monitor.Observe(Reading(lost: 10)));
        Assert.Empty(monitor.Observe(Reading(lost: 0))); // auditctl --reset-lost
        Assert.Single(monitor.Observe(Reading(lost: 1)));
    }

    [Fact]
    public void EachHostRootIsComparedWithItsOwnPreviousReading()
    {
        var monitor = new AuditdStatusMonitor();
        monitor.Observe(Reading(lost: 5, hostRoot: "/node"));

        Assert.Empty(monitor.Observe(Reading(lost: 50, hostRoot: "/other")));
        Assert.Equal(new[] { AuditdHealthWarning.EventsLost }, monitor.Observe(Reading(lost: 6, hostRoot: "/node")).Select(w => w.Code));
    }

    [Theory]
    [InlineData(79, false)]
    [InlineData(80, true)]
    [InlineData(100, true)]
    public void BacklogWarnsFromEightyPercentOfTheLimit(long backlog, bool warns)
    {
        var warnings = AuditdStatusMonitor.Compare(Reading(backlog: backlog, backlogLimit: 100), previous: null);

        Assert.Equal(warns, warnings.Any(w => w.Code == AuditdHealthWarning.BacklogNearLimit));
        if (warns)
        {
            Assert.Equal($"The audit backlog is {backlog} of 100: events will be lost when it is full.", Assert.Single(warnings).Message);
        }
    }

    [Fact]
    public void AnotherProcessHoldingTheAuditPidWarnsAndAuditdOrNoneDoesNot()
    {
        var parsed = Reading();

        var other = AuditdStatusMonitor.Compare(WithHolder(parsed, 4242, "mdatp_audisp"), null);
        var unknown = AuditdStatusMonitor.Compare(WithHolder(parsed, 4242, null), null);

        Assert.Equal("mdatp_audisp (PID 4242) holds the kernel's audit PID, not auditd.", Assert.Single(other, w => w.Code == AuditdHealthWarning.AuditPidHeldByOther).Message);
        Assert.StartsWith("An unknown process (PID 4242)", Assert.Single(unknown).Message, StringComparison.Ordinal);
        Assert.Empty(AuditdStatusMonitor.Compare(WithHolder(parsed, 4242, "auditd"), null));
        Assert.Empty(AuditdStatusMonitor.Compare(WithHolder(parsed, 0, null), null));
    }

    [Fact]
    public void ImmutableRulesWarn()
    {
        var immutable = AuditStatusParser.Parse(File.ReadAllText(NodeTestSupport.HostTestData("Golden", "auditctl-s-immutable.txt")));

        Assert.Contains(AuditdStatusMonitor.Compare(WithHolder(immutable, immutable.Pid, "auditd"), null), w => w.Code == AuditdHealthWarning.Immutable);
    }

    /// <summary>The recorded running status with some counters set, parsed by the real parser; auditd holds the PID.</summary>
    private static AuditdStatus Reading(long lost = 0, long backlog = 0, long backlogLimit = 8192, string hostRoot = "/")
    {
        var text = File.ReadAllText(NodeTestSupport.HostTestData("Golden", "auditctl-s-running.txt"));
        text = Set(Set(Set(text, "lost", lost), "backlog", backlog), "backlog_limit", backlogLimit);
        var parsed = AuditStatusParser.Parse(text);
        Assert.Equal((lost, backlog, backlogLimit), (parsed.Lost, parsed.Backlog, parsed.BacklogLimit));
        return WithHolder(parsed, parsed.Pid, "auditd", hostRoot);
    }

    private static string Set(string text, string key, long value) =>
        Regex.Replace(text, $"^{key} \\d+$", $"{key} {value}", RegexOptions.Multiline);

    // The reader names the holder from /proc after parsing; these readings name it directly.
    private static AuditdStatus WithHolder(AuditdStatus s, int pid, string? holder, string? hostRoot = null) => new()
    {
        EnabledFlag = s.EnabledFlag,
        Failure = s.Failure,
        Pid = pid,
        PidHolder = holder,
        RateLimit = s.RateLimit,
        BacklogLimit = s.BacklogLimit,
        Backlog = s.Backlog,
        Lost = s.Lost,
        BacklogWaitTime = s.BacklogWaitTime,
        BacklogWaitTimeActual = s.BacklogWaitTimeActual,
        LoginUidImmutable = s.LoginUidImmutable,
        HostRoot = hostRoot ?? s.HostRoot,
    };
}
