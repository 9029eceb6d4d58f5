using AksAuditd.Core.Rules;
using AksAuditd.Core.Sync;
using Xunit;

namespace AksAuditd.Core.Tests.Sync;

public sealed class PluginConfigValidatorTests
{
    [Fact]
    public void TheSyslogPluginShippedWithAuditdIsValid()
    {
        // The distribution's own plugin file, as audispd-plugins installs it on this machine.
        var text = File.ReadAllText("/etc/audit/plugins.d/syslog.conf");

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

    [Fact]
    public void AnEmptyAllowListAcceptsAnyAbsolutePath()
    {
        var diagnostics = new PluginConfigValidator().Validate("p.conf", "active = yes\ndirection = out\npath = /opt/vendor/bin/plugin\ntype = always\nargs = --fast 1\n");

        Assert.Empty(diagnostics);
    }

    [Fact]
    public void NamesAuditdWouldSkipAndObsoleteValuesAreWarnings()
    {
        var diagnostics = new PluginConfigValidator().Validate("/src/syslog.conf.conf", "active = yes\npath = builtin_syslog\ntype = builtin\n");

        Assert.All(diagnostics, d => Assert.Equal(DiagnosticSeverity.Warning, d.Severity));
        Assert.Contains(diagnostics, d => d.Code == SyncDiagnosticCodes.PluginIgnoredByAuditd);
        Assert.Equal(2, diagnostics.Count(d => d.Code == SyncDiagnosticCodes.PluginObsolete));
    }
}
