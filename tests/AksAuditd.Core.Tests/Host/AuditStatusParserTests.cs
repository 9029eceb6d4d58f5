using AksAuditd.Core.Host;
using Xunit;

namespace AksAuditd.Core.Tests.Host;

/// <summary>auditctl -s output recorded from the real auditctl by tools/record-host-golden.sh.</summary>
public sealed class AuditStatusParserTests
{
    private static string Golden(string name) => File.ReadAllText(NodeTestSupport.HostTestData("Golden", name));

    [Fact]
    public void DisabledKernelWithoutDaemon()
    {
        var status = AuditStatusParser.Parse(Golden("auditctl-s-disabled.txt"));

        Assert.False(status.Enabled);
        Assert.False(status.Immutable);
        Assert.Equal(0, status.Pid);
        Assert.False(status.Running);
        Assert.Equal(1, status.Failure);
        Assert.True(status.BacklogLimit > 0);
        Assert.False(status.LoginUidImmutable);
    }

    [Fact]
    public void RunningDaemonHoldsThePid()
    {
        var text = Golden("auditctl-s-running.txt");
        var status = AuditStatusParser.Parse(text);

        Assert.True(status.Enabled);
        Assert.False(status.Immutable);
        Assert.True(status.Pid > 0);
        Assert.Equal(8192, status.BacklogLimit); // Debian's rules.d/audit.rules sets -b 8192
        Assert.Equal(60000, status.BacklogWaitTime);
        Assert.Equal(0, status.Lost);
    }

    [Fact]
    public void EnabledTwoIsImmutable()
    {
        // Simulated from the running recording: never load -e 2 into a shared kernel.
        var status = AuditStatusParser.Parse(Golden("auditctl-s-immutable.txt"));

        Assert.True(status.Immutable);
        Assert.True(status.Enabled);
        Assert.Equal(2, status.EnabledFlag);
    }

    [Fact]
    public void OldOneLineFormat()
    {
        var status = AuditStatusParser.Parse("AUDIT_STATUS: enabled=1 flag=2 pid=812 rate_limit=0 backlog_limit=320 lost=7 backlog=3\n");

        Assert.Equal(1, status.EnabledFlag);
        Assert.Equal(2, status.Failure);
        Assert.Equal(812, status.Pid);
        Assert.Equal(7, status.Lost);
        Assert.Equal(3, status.Backlog);
    }

    [Fact]
    public void TextWithoutEnabledIsAFormatError()
    {
        Assert.Throws<FormatException>(() => AuditStatusParser.Parse("Error sending status request (Operation not permitted)"));
    }

    [Fact]
    public void VersionAndRuleCount()
    {
        Assert.Equal("3.0.9", AuditStatusParser.ParseVersion(Golden("auditctl-v.txt")));
        Assert.Equal(0, AuditStatusParser.CountRules("No rules\n"));
        Assert.Equal(2, AuditStatusParser.CountRules("-w /etc/passwd -p wa -k a\n-w /etc/shadow -p wa -k b\n"));
    }

    [Fact]
    public void BacklogNearItsLimit()
    {
        Assert.True(new AuditdStatus { Backlog = 52, BacklogLimit = 64 }.BacklogNearLimit);
        Assert.False(new AuditdStatus { Backlog = 10, BacklogLimit = 64 }.BacklogNearLimit);
    }
}
