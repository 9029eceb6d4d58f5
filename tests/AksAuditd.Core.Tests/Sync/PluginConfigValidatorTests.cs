using AksAuditd.Core.Rules;
using AksAuditd.Core.Sync;
using Xunit;

namespace AksAuditd.Core.Tests.Sync;

public sealed class PluginConfigValidatorTests
{
    [Fact]
    public void TheSyslogPluginShippedWithAuditdIsValid()
    {
        // The distribution's own plugin file, as audispd-plugins installs it on this machine. The node tests rewrite
        // /etc/audit/plugins.d under the kernel test lock (and put it back), so read it under that lock too.
        string text;
        using (AksAuditd.Tests.Shared.KernelTestLock.Acquire())
        {
            text = File.ReadAllText("/etc/audit/plugins.d/syslog.conf");
        }

        var diagnostics = new PluginConfigValidator(new[] { "/sbin/audisp-syslog" }).Validate("syslog.conf", text);

        Assert.DoesNotContain(diagnostics, d => d.Severity == DiagnosticSeverity.Error);
    }

    [Theory]
    [InlineData("active = maybe\n", SyncDiagnosticCodes.PluginBadValue, 1)]
    [InlineData("active = yes\ndirection = in\npath = /sbin/audisp-syslog\n", SyncDiagnosticCodes.PluginBadValue, 2)]
    [InlineData("active=yes\n", SyncDiagnosticCodes.PluginSyntax, 1)]
    [InlineData("active\t=\tyes\n", SyncDiagnosticCodes.PluginSyntax, 1)]
    [InlineData("active = yes\npriority = 3\npath = /sbin/audisp-syslog\n", SyncDiagnosticCodes.PluginUnknownKey, 2)]
    [InlineData("active = yes\ndirection = out\n", SyncDiagnosticCodes.PluginMissingPath, 0)]
    [InlineData("active = yes\npath = audisp-syslog\n", SyncDiagnosticCodes.PluginBadValue, 2)]
    [InlineData("active = yes\npath = /sbin/../tmp/x\n", SyncDiagnosticCodes.PluginBadValue, 2)]
    [InlineData("active = yes\npath = /sbin/audisp-syslog\nformat = json\n", SyncDiagnosticCodes.PluginBadValue, 3)]
    [InlineData("active = yes\npath = /usr/bin/nc\n", SyncDiagnosticCodes.PluginPathNotAllowed, 2)]
    public void BadPluginFilesAreErrorsAtTheirLine(string text, string code, int line)
    {
        var diagnostics = new PluginConfigValidator(new[] { "/sbin/audisp-syslog" }).Validate("/src/p.conf", text);

        var error = Assert.Single(diagnostics, d => d.Severity == DiagnosticSeverity.Error);
        Assert.Equal(code, error.Code);
        Assert.Equal(line, error.LineNumber);
        Assert.Equal("/src/p.conf", error.Path);
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData(" ")]
    public void WithoutAnAllowListOnlyTheAuditPackagesProgramsMayRun(string? entry)
    {
        var allowed = entry is null ? null : new[] { entry };
        // The review's reproduction: a plugins ConfigMap that runs a shell as root on every node.
        var diagnostics = new PluginConfigValidator(allowed).Validate("/src/pwn.conf", "active = yes\ndirection = out\npath = /bin/sh\ntype = always\nargs = -c id>/tmp/pwn\n");

        var error = Assert.Single(diagnostics, d => d.Severity == DiagnosticSeverity.Error);
        Assert.Equal(SyncDiagnosticCodes.PluginPathNotAllowed, error.Code);
        Assert.Equal(3, error.LineNumber);
        Assert.Contains("/bin/sh", error.Message);
    }

    [Theory]
    [InlineData("/sbin/audisp-syslog", "type = always")]
    [InlineData("/usr/sbin/audisp-syslog", "type = always")]
    [InlineData("/sbin/audisp-remote", "type = always")]
    [InlineData("/usr/sbin/audisp-remote", "type = always")]
    [InlineData("/sbin/audispd-zos-remote", "type = always")]
    [InlineData("/usr/sbin/audispd-zos-remote", "type = always")]
    [InlineData("builtin_af_unix", "type = builtin")]
    public void TheDefaultAllowsTheAuditPackagesOwnPlugins(string program, string type)
    {
        var diagnostics = new PluginConfigValidator().Validate("/src/p.conf", $"active = yes\ndirection = out\npath = {program}\n{type}\n");

        Assert.DoesNotContain(diagnostics, d => d.Severity == DiagnosticSeverity.Error);
    }

    [Fact]
    public void AStarAllowsAnyProgramAndAListAllowsOnlyWhatItNames()
    {
        const string vendor = "active = yes\ndirection = out\npath = /opt/vendor/bin/plugin\ntype = always\nargs = --fast 1\n";

        Assert.Empty(new PluginConfigValidator(new[] { "*" }).Validate("p.conf", vendor));
        Assert.Empty(new PluginConfigValidator(new[] { "/opt/vendor/bin/plugin" }).Validate("p.conf", vendor));
        Assert.Contains(new PluginConfigValidator(new[] { "/opt/vendor/bin/plugin" }).Validate("p.conf", "active = yes\npath = /sbin/audisp-remote\n"),
            d => d.Code == SyncDiagnosticCodes.PluginPathNotAllowed);
    }

    [Fact]
    public void ACrlfFileIsAnErrorAtEachLine()
    {
        // auditd 3.0.9: "Option yes\r not found - line 1", "Skipping test-crlf.conf plugin due to errors".
        var diagnostics = new PluginConfigValidator().Validate("/src/test-crlf.conf", "active = yes\r\ndirection = out\r\npath = /sbin/audisp-syslog\r\n");

        Assert.Equal(new[] { 1, 2, 3 }, diagnostics.Where(d => d.Severity == DiagnosticSeverity.Error).Select(d => d.LineNumber));
        Assert.All(diagnostics, d => Assert.Contains("CRLF", d.Message));
    }

    [Fact]
    public void ALastLineWithoutNewlineIsAnError()
    {
        // auditd 3.0.9 drops it ("Skipping line 6 ... too long"): events would go to the default facility.
        var text = "active = yes\ndirection = out\npath = /sbin/audisp-syslog\ntype = always\nformat = string\nargs = LOG_INFO LOG_LOCAL6";

        var error = Assert.Single(new PluginConfigValidator().Validate("/src/syslog.conf", text));

        Assert.Equal(DiagnosticSeverity.Error, error.Severity);
        Assert.Equal(6, error.LineNumber);
        Assert.Contains("no newline", error.Message);
    }

    [Theory]
    [InlineData(158, false)]
    [InlineData(159, true)]
    public void AuditdReadsLinesOfUpTo158Bytes(int length, bool error)
    {
        var args = "args = " + new string('x', length - "args = ".Length);

        var diagnostics = new PluginConfigValidator().Validate("/src/p.conf", $"active = yes\npath = /sbin/audisp-syslog\n{args}\n");

        Assert.Equal(error, diagnostics.Any(d => d.Severity == DiagnosticSeverity.Error && d.LineNumber == 3));
    }

    [Fact]
    public void NamesAuditdWouldSkipAndTheBuiltinAreWarnings()
    {
        Assert.Equal(SyncDiagnosticCodes.PluginIgnoredByAuditd,
            Assert.Single(new PluginConfigValidator().Validate("/src/syslog.conf.conf", "active = yes\npath = /sbin/audisp-syslog\n")).Code);

        var builtin = new PluginConfigValidator().Validate("/src/af_unix.conf", "active = yes\npath = builtin_af_unix\ntype = builtin\nargs = 0640 /var/run/audispd_events\n");
        Assert.Equal(SyncDiagnosticCodes.PluginObsolete, Assert.Single(builtin).Code);
        Assert.Equal(DiagnosticSeverity.Warning, builtin[0].Severity);
    }

    [Fact]
    public void ABuiltinOtherThanAfUnixIsAnError()
    {
        var diagnostics = new PluginConfigValidator(new[] { "*" }).Validate("/src/p.conf", "active = yes\npath = builtin_syslog\ntype = builtin\n");

        Assert.Contains(diagnostics, d => d.Severity == DiagnosticSeverity.Error && d.LineNumber == 2 && d.Message.Contains("builtin_af_unix"));
    }
}
