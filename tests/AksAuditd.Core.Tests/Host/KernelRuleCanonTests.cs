using AksAuditd.Core.Host;
using Xunit;

namespace AksAuditd.Core.Tests.Host;

/// <summary>Desired rules of a rules.d through the rules engine, without the kernel (the kernel side is in NodeKernelTests).</summary>
public sealed class KernelRuleCanonTests : IDisposable
{
    private readonly string _rules = Directory.CreateTempSubdirectory("aks-auditd-canon-").FullName;

    public void Dispose() => Directory.Delete(_rules, recursive: true);

    [Fact]
    public void DesiredRulesAreCanonicalInAugenrulesOrderWithTheirFileAndLineAndRefusedRulesStayDesired()
    {
        File.WriteAllText(Path.Combine(_rules, "9-first.rules"), "# identity\n-w /etc/passwd -p wa -k passwd\n");
        File.WriteAllText(Path.Combine(_rules, "10-second.rules"),
            "-D\n-b 8192\n-a always,exit -F arch=b64 -S openat -F auid=aks-no-such-user -k x\n-a exit,always -F arch=b64 -S unlink -k del\n-e 1\n");
        File.WriteAllText(Path.Combine(_rules, "10-second.rules.bak"), "-w /etc/shadow -p wa\n");

        var desired = KernelRuleCanon.ForNode("/").DesiredRules(_rules);

        Assert.Equal(
            new[]
            {
                ("-w /etc/passwd -p wa -k passwd", "9-first.rules", 2),
                ("-a always,exit -F arch=b64 -S unlink -F key=del", "10-second.rules", 4),
                // No such user on this node: auditctl refuses it, so the kernel never lists it and it stays Missing.
                ("-a always,exit -F arch=b64 -S openat -F auid=aks-no-such-user -k x", "10-second.rules", 3),
            },
            desired.Select(d => (d.Rule, Path.GetFileName(d.File!), d.Line)).ToArray());
    }

    [Fact]
    public void AMissingRulesDirectoryDesiresNothing()
    {
        Assert.Empty(KernelRuleCanon.ForNode("/").DesiredRules(Path.Combine(_rules, "missing")));
    }
}
