using AksAuditd.Core.Rules;
using Xunit;

namespace AksAuditd.Core.Tests.Rules;

/// <summary>What a person sees for a bad line: a stable code, a severity, and the column of the word at fault.</summary>
public sealed class DiagnosticsTests
{
    private static readonly RuleValidator Validator = new();

    [Theory]
    [InlineData("-a always,exit -F arch=b64 -S openat -F nosuch=1", RuleDiagnosticCodes.UnknownField, 41)]
    [InlineData("-x", RuleDiagnosticCodes.UnknownOption, 1)]
    [InlineData("-k", RuleDiagnosticCodes.MissingValue, 1)]
    [InlineData("-a always,exit -F arch=b64 -S openat -F uid=", RuleDiagnosticCodes.MissingValue, 45)]
    [InlineData("-a always,exit -F arch=b64 -S openat -F uid&1", RuleDiagnosticCodes.OperatorNotAllowed, 41)]
    [InlineData("-a always,exit -F arch=b64 -S execve -F exe>/usr/bin/ls", RuleDiagnosticCodes.OperatorNotAllowed, 41)]
    [InlineData("-a always,exit -F arch=b64 -S openat -F pid=abc", RuleDiagnosticCodes.NotANumber, 45)]
    [InlineData("-a always,exit -F arch=b64 -S openat -F success=yes", RuleDiagnosticCodes.NotANumber, 49)]
    [InlineData("-a always,exit -F arch=b64 -S openat -F uid=-1", RuleDiagnosticCodes.InvalidId, 41)]
    [InlineData("-a always,exit -F arch=b64 -S openat -F uid=4294967295", RuleDiagnosticCodes.InvalidId, 41)]
    [InlineData("-a always,exit -F arch=b64 -S openat -F euid=unset", RuleDiagnosticCodes.InvalidId, 41)]
    [InlineData("-a always,exit -F arch=b64 -S openat -F gid=unset", RuleDiagnosticCodes.UnknownUserOrGroup, 45)]
    [InlineData("-a always,exit -F arch=b64 -S openat -F auid>=unset", RuleDiagnosticCodes.OperatorNotAllowed, 41)]
    [InlineData("-a always,exit -F arch=b64 -S openat -F exit=-EFOO", RuleDiagnosticCodes.UnknownErrno, 46)]
    [InlineData("-a never,exclude -F msgtype=NOPE", RuleDiagnosticCodes.UnknownMessageType, 29)]
    [InlineData("-a always,exit -F arch=b65 -S openat", RuleDiagnosticCodes.UnknownArch, 24)]
    [InlineData("-w /etc/passwd -p rwq", RuleDiagnosticCodes.BadPermission, 19)]
    [InlineData("-a always,exit -F arch=b64 -S openat -F filetype=doc", RuleDiagnosticCodes.UnknownFileType, 50)]
    [InlineData("-a always,exit -F arch=aarch64 -S open", RuleDiagnosticCodes.UnknownSyscall, 35)]
    [InlineData("-a always,exit -F arch=b64 -S open,fchmodat2", RuleDiagnosticCodes.UnknownSyscall, 36)]
    [InlineData("-a never,task -F path=/etc/passwd", RuleDiagnosticCodes.FieldNotAllowedOnList, 18)]
    [InlineData("-a always,exit -F arch=b64 -S openat -F msgtype=SYSCALL", RuleDiagnosticCodes.FieldNotAllowedOnList, 41)]
    [InlineData("-a never,task -S openat", RuleDiagnosticCodes.SyscallOnWrongList, 18)]
    [InlineData("-w etc/passwd -p wa", RuleDiagnosticCodes.RelativePath, 4)]
    [InlineData("-a always,exit -F path=/etc/ -F perm=wa", RuleDiagnosticCodes.TrailingSlash, 19)]
    [InlineData("-w /etc/passwd -p wa # trailing comment", RuleDiagnosticCodes.StrayWord, 22)]
    [InlineData("-e 3", RuleDiagnosticCodes.BadControlValue, 4)]
    [InlineData("-a always,io_uring -S openat", RuleDiagnosticCodes.BadListOrAction, 4)]
    [InlineData("-a exit,always -F arch=b64 -S openat -F arch=b32", RuleDiagnosticCodes.ArchAfterSyscall, 41)]
    [InlineData("-a always,exit -F arch=b64 -k early -S openat", RuleDiagnosticCodes.KeyWithoutRule, 28)]
    public void ReportsAnErrorWithCodeAndColumn(string line, string code, int column)
    {
        var error = Assert.Single(Validator.ValidateLines([line]), d => d.Severity == DiagnosticSeverity.Error);
        Assert.Equal((code, column, line), (error.Code, error.Column, error.Rule));
        Assert.Equal(1, error.LineNumber);
        Assert.Matches("^AR1[0-7][0-9]{2}$", error.Code);
        Assert.False(string.IsNullOrWhiteSpace(error.Message));
    }

    [Theory]
    [InlineData("-a always,exit -S openat", RuleDiagnosticCodes.MissingArch, DiagnosticSeverity.Warning)]
    [InlineData("-e 2", RuleDiagnosticCodes.EnableLocked, DiagnosticSeverity.Warning)]
    [InlineData("-f 2", RuleDiagnosticCodes.PanicOnFailure, DiagnosticSeverity.Warning)]
    [InlineData("-a always,exit -F arch=b64 -S openat -F exit=EPERM", RuleDiagnosticCodes.UnknownErrno, DiagnosticSeverity.Warning)]
    [InlineData("-a always,exit -F arch=b64 -S openat -F pid=12abc", RuleDiagnosticCodes.PartialNumber, DiagnosticSeverity.Warning)]
    [InlineData("-w /etc/../etc/passwd -p wa", RuleDiagnosticCodes.PathNotation, DiagnosticSeverity.Warning)]
    [InlineData("-a exit,possible -S open", RuleDiagnosticCodes.DeprecatedAction, DiagnosticSeverity.Warning)]
    [InlineData("-a always,exit -F arch=b64 -S openat -F uid=chrony", RuleDiagnosticCodes.NameResolvedOnNode, DiagnosticSeverity.Information)]
    [InlineData("--loginuid-immutable", RuleDiagnosticCodes.LoginuidImmutable, DiagnosticSeverity.Information)]
    public void ReportsRiskyButValidLinesWithoutAnError(string line, string code, DiagnosticSeverity severity)
    {
        var diagnostics = Validator.ValidateLines([line]);
        Assert.DoesNotContain(diagnostics, d => d.Severity == DiagnosticSeverity.Error);
        Assert.Contains(diagnostics, d => d.Code == code && d.Severity == severity);
    }

    [Fact]
    public void KeyLengthIsLimitedTo256BytesForAllKeysTogether()
    {
        var key = new string('k', 256);
        Assert.Empty(Validator.ValidateLines([$"-w /etc/passwd -k {key}"]));
        Assert.Equal(RuleDiagnosticCodes.KeyTooLong, Assert.Single(Validator.ValidateLines([$"-w /etc/passwd -k {key}x"])).Code);
        Assert.Equal(RuleDiagnosticCodes.KeyTooLong, Assert.Single(Validator.ValidateLines([$"-w /etc/passwd -k {new string('k', 200)} -k {new string('j', 56)}"])).Code);
    }

    [Fact]
    public void ResolvesNamesAndPathsAgainstAHostRoot()
    {
        var root = Directory.CreateTempSubdirectory("rules-host.");
        try
        {
            Directory.CreateDirectory(Path.Combine(root.FullName, "etc"));
            Directory.CreateDirectory(Path.Combine(root.FullName, "run", "lock"));
            File.CreateSymbolicLink(Path.Combine(root.FullName, "var"), "/run");
            File.WriteAllText(Path.Combine(root.FullName, "etc", "passwd"), "root:x:0:0::/root:/bin/sh\nchrony:x:101:102::/var/lib/chrony:/usr/sbin/nologin\n");
            File.WriteAllText(Path.Combine(root.FullName, "etc", "group"), "root:x:0:\nadm:x:4:\n");
            var validator = new RuleValidator(new RuleParserOptions { HostRoot = root.FullName });

            var chrony = validator.Parser.ParseLine("-a never,exit -F arch=b64 -S adjtimex -F uid=chrony -F gid=adm");
            Assert.Empty(chrony.Diagnostics);
            Assert.Equal("-a never,exit -F arch=b64 -S adjtimex -F uid=101 -F gid=4", chrony.Rule!.Canonical);

            var ntp = Assert.Single(validator.ValidateLines(["-a never,exit -F arch=b64 -S adjtimex -F uid=ntp"]));
            Assert.Equal((RuleDiagnosticCodes.UnknownUserOrGroup, DiagnosticSeverity.Error), (ntp.Code, ntp.Severity));

            // /var -> /run is resolved inside the host root, so /var/lock exists and /var/lock/lvm's parent does too.
            Assert.Empty(validator.ValidateLines(["-w /var/lock/lvm -p wa", "-a always,exit -F dir=/var/lock -F perm=wa"]));
            var missing = Assert.Single(validator.ValidateLines(["-w /etc/sysconfig/network -p wa"]));
            Assert.Equal((RuleDiagnosticCodes.PathMissingOnNode, DiagnosticSeverity.Error, 4), (missing.Code, missing.Severity, missing.Column));
            Assert.Contains("/etc/sysconfig", missing.Message);
        }
        finally
        {
            root.Delete(recursive: true);
        }
    }
}
