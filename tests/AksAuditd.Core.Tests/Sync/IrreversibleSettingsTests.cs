using AksAuditd.Core.Rules;
using AksAuditd.Core.Sync;
using Xunit;

namespace AksAuditd.Core.Tests.Sync;

/// <summary>
/// -e 2 and -f 2 reach every node with one ConfigMap edit and cannot be taken back: the sync refuses them without
/// consent (and, with consent, -e 2 anywhere but last). Only the sync is tested: these lines never reach this kernel.
/// </summary>
public sealed class IrreversibleSettingsTests
{
    private const string Rules = "-D\n-b 8192\n-w /etc/passwd -p wa -k identity\n";

    [Theory]
    [InlineData("-e 2\n", 4, SyncDiagnosticCodes.ImmutableNotAllowed, "allowImmutable")]
    [InlineData("-f 2\n", 4, SyncDiagnosticCodes.PanicNotAllowed, "allowPanic")]
    [InlineData("-b 8192 -f 2\n", 4, SyncDiagnosticCodes.PanicNotAllowed, "allowPanic")]
    public void WithoutConsentTheSourceIsRefusedAtItsLine(string line, int lineNumber, string code, string setting)
    {
        using var dir = new SyncTestDirectory();
        dir.WriteSource("99-finalize.rules", Rules + line);
        dir.WriteTarget("10-old.rules", "-w /etc/shadow -p wa\n");

        var result = Sync(dir, allowImmutable: false, allowPanic: false);

        Assert.True(result.Blocked);
        var error = Assert.Single(result.Diagnostics, d => d.Severity == DiagnosticSeverity.Error);
        Assert.Equal(code, error.Code);
        Assert.Equal(Path.Combine(dir.Source, "99-finalize.rules"), error.Path);
        Assert.Equal(lineNumber, error.LineNumber);
        Assert.Contains(setting, error.Message);
        Assert.Equal(new[] { "10-old.rules" }, Directory.GetFiles(dir.Target).Select(Path.GetFileName));
    }

    [Fact]
    public void WithConsentBothAreSynced()
    {
        using var dir = new SyncTestDirectory();
        dir.WriteSource("10-base.rules", "-D\n-f 2\n");
        dir.WriteSource("99-finalize.rules", "-w /etc/passwd -p wa\n-e 2\n");

        var result = Sync(dir, allowImmutable: true, allowPanic: true);

        Assert.False(result.Blocked);
        Assert.DoesNotContain(result.Diagnostics, d => d.Severity == DiagnosticSeverity.Error);
        Assert.Equal(new[] { "10-base.rules", "99-finalize.rules" }, result.Added);
    }

    [Fact]
    public void ConsentToPanicIsNotConsentToImmutable()
    {
        using var dir = new SyncTestDirectory();
        dir.WriteSource("10-base.rules", "-f 2\n-e 2\n");

        var result = Sync(dir, allowImmutable: false, allowPanic: true);

        Assert.Equal(SyncDiagnosticCodes.ImmutableNotAllowed, Assert.Single(result.Diagnostics, d => d.Severity == DiagnosticSeverity.Error).Code);
    }

    [Theory]
    [InlineData("10-a.rules", "-e 2\n-w /etc/passwd -p wa\n", "", "10-a.rules", 1, "10-a.rules line 2")]
    [InlineData("10-a.rules", "-w /etc/passwd -p wa\n-e 2\n", "-w /etc/shadow -p wa\n", "10-a.rules", 2, "20-b.rules line 1")]
    [InlineData("10-a.rules", "-e 2\n", "-e 1\n", "10-a.rules", 1, "20-b.rules line 1")]
    [InlineData("9-a.rules", "-e 2\n", "# only a comment\n\n-D\n", "9-a.rules", 1, "20-b.rules line 3")]
    public void AllowedImmutableMustBeTheLastRuleInAugenrulesOrder(string first, string firstText, string secondText, string file, int line, string after)
    {
        using var dir = new SyncTestDirectory();
        dir.WriteSource(first, firstText);
        dir.WriteSource("20-b.rules", secondText.Length == 0 ? "# nothing\n" : secondText);

        var result = Sync(dir, allowImmutable: true, allowPanic: false);

        Assert.True(result.Blocked);
        var error = Assert.Single(result.Diagnostics, d => d.Severity == DiagnosticSeverity.Error && d.Code == SyncDiagnosticCodes.ImmutableNotLast);
        Assert.Equal(Path.Combine(dir.Source, file), error.Path);
        Assert.Equal(line, error.LineNumber);
        Assert.Contains(after, error.Message);
    }

    [Fact]
    public void NumericOrderIsAugenrulesOrder()
    {
        // ls -v puts 9-x before 10-x: -e 2 in 10-x is last.
        using var dir = new SyncTestDirectory();
        dir.WriteSource("9-rules.rules", "-w /etc/passwd -p wa\n");
        dir.WriteSource("10-finalize.rules", "-e 2\n");

        var result = Sync(dir, allowImmutable: true, allowPanic: false);

        Assert.False(result.Blocked);
    }

    private static SyncResult Sync(SyncTestDirectory dir, bool allowImmutable, bool allowPanic) =>
        new SyncService(new RuleValidator()).Sync(new SyncRequest
        {
            Kind = SyncKind.Rules,
            SourcePath = dir.Source,
            TargetPath = dir.Target,
            StatePath = dir.State,
            AllowImmutable = allowImmutable,
            AllowPanic = allowPanic,
        });
}
