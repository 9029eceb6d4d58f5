using AksAuditd.Core.Configuration;
using AksAuditd.Core.Host;
using AksAuditd.Core.Sync;
using AksAuditd.Tests.Shared;
using Xunit;

namespace AksAuditd.Core.Tests.Host;

/// <summary>
/// Restart-Auditd's plugin check against this machine's real auditd 3.0.9 and audisp-syslog: a plugin synced into
/// plugins.d must run under auditd with its file's arguments, and a reload (which keeps a plugin's old arguments)
/// is caught, and in Auto mode followed by a restart.
/// </summary>
public sealed class PluginVerificationKernelTests
{
    private const string PluginName = "aks-test-syslog.conf";

    private static string SyslogPlugin(string facility) =>
        $"active = yes\ndirection = out\npath = /sbin/audisp-syslog\ntype = always\nargs = LOG_INFO {facility}\nformat = string\n";

    [Fact]
    public void AuditdMustRunEachActivePluginWithItsFilesArguments()
    {
        using var machine = new MachineAudit();
        var source = machine.Scratch();
        var state = machine.Scratch();
        File.WriteAllText(Path.Combine(source, PluginName), SyslogPlugin("LOG_LOCAL6"));
        Assert.Equal(new[] { PluginName }, SyncPlugins(source, state).Added);
        machine.StartAuditd();
        var restarter = new AuditdRestarter(machine.Runner, KernelRuleCanon.ForNode("/"), MachineAudit.RulesDirectory, new BackupStore(state))
        {
            PluginsDirectory = MachineAudit.PluginsDirectory,
        };

        var started = restarter.Restart(RestartMode.LoadRules, _ => true);

        Assert.True(started.Succeeded, started.Message);
        Assert.Empty(started.Plugins);

        // A new facility: auditd's SIGHUP only signals the running plugin, which keeps LOG_LOCAL6.
        File.WriteAllText(Path.Combine(source, PluginName), SyslogPlugin("LOG_LOCAL5"));
        Assert.Equal(new[] { PluginName }, SyncPlugins(source, state).Modified);
        var reloaded = restarter.Restart(RestartMode.Reload, _ => true);

        Assert.False(reloaded.Succeeded);
        var mismatch = Assert.Single(reloaded.Plugins);
        Assert.Equal(Path.Combine(MachineAudit.PluginsDirectory, PluginName), mismatch.File);
        Assert.Equal(new[] { "/sbin/audisp-syslog", "LOG_INFO", "LOG_LOCAL5" }, mismatch.Expected);
        Assert.Contains(mismatch.Running, argv => argv.SequenceEqual(new[] { "/sbin/audisp-syslog", "LOG_INFO", "LOG_LOCAL6" }));
        Assert.Contains(PluginName, reloaded.Message);

        // Auto applies the pending plugins change: reload, see the old arguments, restart once, verify.
        var auto = restarter.Restart(RestartMode.Auto, _ => true);

        Assert.True(auto.Succeeded, auto.Message);
        Assert.Equal("Reload+Restart", auto.Method);
        Assert.Empty(auto.Plugins);
    }

    [Fact]
    public void APluginAuditdDoesNotRunIsAnErrorNamingIt()
    {
        using var machine = new MachineAudit();
        // auditd skips it ("Unable to stat"): the file is active, but nothing runs.
        var program = Path.Combine(machine.Scratch(), "bin", "aks-test-missing-plugin");
        var file = Path.Combine(MachineAudit.PluginsDirectory, "aks-test-missing.conf");
        File.WriteAllText(file, $"active = yes\ndirection = out\npath = {program}\ntype = always\n");
        File.SetUnixFileMode(file, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead);
        machine.StartAuditd();

        var result = new AuditdRestarter(machine.Runner, KernelRuleCanon.ForNode("/"), MachineAudit.RulesDirectory, new BackupStore(machine.Scratch()))
        {
            PluginsDirectory = MachineAudit.PluginsDirectory,
            PluginWait = TimeSpan.FromSeconds(2),
        }.Restart(RestartMode.LoadRules, _ => true);

        Assert.False(result.Succeeded);
        Assert.Equal(file, Assert.Single(result.Plugins).File);
        Assert.Contains("aks-test-missing.conf", result.Message);
        Assert.Contains(program, result.Message);
    }

    private static SyncResult SyncPlugins(string source, string state) =>
        new SyncService(new PluginConfigValidator()).Sync(new SyncRequest
        {
            Kind = SyncKind.Plugins,
            SourcePath = source,
            TargetPath = MachineAudit.PluginsDirectory,
            StatePath = state,
            Mode = SyncMode.Managed,
        });
}
