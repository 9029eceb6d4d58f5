using AksAuditd.Core.Configuration;
using AksAuditd.Core.Host;
using AksAuditd.Core.Rules;
using AksAuditd.Core.Sync;
using AksAuditd.Core.Tests.Host;
using Xunit;

namespace AksAuditd.Core.Tests.Sync;

/// <summary>
/// Sync-AuditNode's pass on the real file system (a scratch node root with rules.d, plugins.d and the state
/// directory), with only the host's commands faked by <see cref="FakeAuditHost"/>, which answers as the real
/// auditctl, augenrules and service command do.
/// </summary>
public sealed class NodeSyncTests : IDisposable
{
    private const string Plugin = "active = yes\ndirection = out\npath = /sbin/audisp-syslog\ntype = always\nargs = LOG_INFO\nformat = string\n";

    private readonly string _root = NodeTestSupport.FixtureRoot("debian-12", systemd: false);
    private readonly FakeAuditHost _host;

    public NodeSyncTests()
    {
        Directory.CreateDirectory(RulesTarget);
        Directory.CreateDirectory(PluginsTarget);
        Directory.CreateDirectory(RulesSource);
        Directory.CreateDirectory(PluginsSource);
        Directory.CreateDirectory(Path.Combine(_root, "watched"));
        // The plugins ConfigMap always holds something: an empty one is a failure of its own (SourceEmpty).
        File.WriteAllText(Path.Combine(PluginsSource, "af_unix.conf"), "active = no\ndirection = out\npath = builtin_af_unix\ntype = builtin\nargs = 0640 /var/run/audispd_events\nformat = string\n");
        _host = new FakeAuditHost(_root);
    }

    private string RulesTarget => Path.Combine(_root, "etc/audit/rules.d");

    private string PluginsTarget => Path.Combine(_root, "etc/audit/plugins.d");

    private string State => Path.Combine(_root, "var/lib/aks-auditd");

    private string RulesSource => Path.Combine(_root, "source/rules");

    private string PluginsSource => Path.Combine(_root, "source/plugins");

    public void Dispose() => Directory.Delete(_root, recursive: true);

    [Fact]
    public void ARulesFailureNoLongerSkipsThePluginsTheRestartOrTheStatusCheck()
    {
        // SourceEmpty: the rules ConfigMap lost its files; the plugin change must reach the node all the same.
        File.WriteAllText(Path.Combine(PluginsSource, "syslog.conf"), Plugin);
        _host.Running = true;

        var pass = Pass();

        var failure = Assert.Single(pass.Failures);
        Assert.Equal(NodeSyncStep.Rules, failure.Step);
        Assert.Equal(SyncFailure.SourceEmpty, Assert.IsType<SyncException>(failure.Error).Failure);
        Assert.Null(pass.Rules);
        Assert.True(pass.Plugins!.Changed);
        Assert.Equal(Plugin, File.ReadAllText(Path.Combine(PluginsTarget, "syslog.conf")));
        Assert.Equal("Reload", pass.Restart!.Method);
        Assert.True(pass.Restart.Succeeded, pass.Restart.Message);
        Assert.Contains("service auditd reload", _host.Ran);
        Assert.NotNull(pass.Status);
        Assert.False(pass.Succeeded);
    }

    [Fact]
    public void ADamagedManagedRecordFailsOnlyTheRulesStep()
    {
        File.WriteAllText(Path.Combine(RulesSource, "50-a.rules"), "-w /watched/a -p wa -k a\n");
        File.WriteAllText(Path.Combine(PluginsSource, "syslog.conf"), Plugin);
        Directory.CreateDirectory(Path.Combine(State, "managed"));
        File.WriteAllText(Path.Combine(State, "managed", "rules.json"), "{ not json");
        _host.Running = true;

        var pass = Pass();

        var failure = Assert.Single(pass.Failures);
        Assert.Equal(NodeSyncStep.Rules, failure.Step);
        Assert.Equal(SyncFailure.StateUnusable, Assert.IsType<SyncException>(failure.Error).Failure);
        Assert.True(pass.Plugins!.Changed);
        Assert.True(pass.Restart!.Succeeded, pass.Restart.Message);
        Assert.NotNull(pass.Status);
    }

    [Fact]
    public void ARejectedSourceStillLetsThePluginsSyncAndTheStatusBeRead()
    {
        var good = "-w /watched/good -p wa -k good";
        File.WriteAllText(Path.Combine(RulesSource, "50-a.rules"), good + "\n");
        var first = Pass(verify: true);
        Assert.True(first.Succeeded, first.ToString());
        Assert.Equal(new[] { good }, _host.Loaded);

        // The kernel rejects a watch whose parent directory is missing: the pass rolls rules.d back and records the source.
        File.WriteAllText(Path.Combine(RulesSource, "50-a.rules"), $"{good}\n-w /missing/x -p wa -k bad\n");
        var rejected = Pass();
        Assert.True(rejected.Restart!.RolledBack, rejected.Restart.Message);
        Assert.Equal(new[] { good }, _host.Loaded);

        // The next pass: the rules step refuses the rejected source, and the plugin change still goes through.
        File.WriteAllText(Path.Combine(PluginsSource, "syslog.conf"), Plugin);
        var next = Pass();

        var failure = Assert.Single(next.Failures);
        Assert.Equal(SyncFailure.SourceRejectedByKernel, Assert.IsType<SyncException>(failure.Error).Failure);
        Assert.True(next.Plugins!.Changed);
        Assert.Equal("Reload", next.Restart!.Method);
        Assert.NotNull(next.Status);
        Assert.Equal(good + "\n", File.ReadAllText(Path.Combine(RulesTarget, "50-a.rules")));
    }

    [Fact]
    public void RulesWrittenByAPassThatFailedAfterTheRenameAreLoadedFromTheStateDirectory()
    {
        var rule = "-w /watched/new -p wa -k new";
        File.WriteAllText(Path.Combine(RulesSource, "50-a.rules"), rule + "\n");
        File.WriteAllText(Path.Combine(PluginsSource, "syslog.conf"), Plugin);
        _host.Running = true;

        // The managed-file record cannot be written once the new file is renamed in: StateUnusable, after the change.
        var failing = new FailingFileSystem(LinuxNodeFileSystem.Instance, Path.Combine(State, "managed", "rules.json"), failAtRename: 2);
        var pass = Pass(fileSystem: failing);

        Assert.Equal(SyncFailure.StateUnusable, Assert.IsType<SyncException>(Assert.Single(pass.Failures).Error).Failure);
        Assert.Equal(rule + "\n", File.ReadAllText(Path.Combine(RulesTarget, "50-a.rules")));
        Assert.Contains(pass.RestartReasons, r => r.StartsWith("rules backup generation", StringComparison.Ordinal));
        Assert.Equal("Reload+LoadRules", pass.Restart!.Method);
        Assert.Equal(new[] { rule }, _host.Loaded);
    }

    [Fact]
    public void APassKilledBeforeItsRestartIsCompletedByTheNextProcess()
    {
        var rule = "-w /watched/new -p wa -k new";
        File.WriteAllText(Path.Combine(RulesSource, "50-a.rules"), rule + "\n");
        File.WriteAllText(Path.Combine(PluginsSource, "syslog.conf"), Plugin);
        _host.Running = true;
        var written = Pass(restart: false); // the files are renamed in; then the pod is killed
        Assert.True(written.Rules!.Changed);
        Assert.Empty(_host.Loaded);

        // A new process: fresh sessions, nothing remembered but the state directory. No -Verify.
        var next = Pass();

        Assert.False(next.Rules!.Changed);
        Assert.Equal("Reload+LoadRules", next.Restart!.Method);
        Assert.Equal(new[] { rule }, _host.Loaded);
        Assert.True(next.Succeeded, next.ToString());

        // Applied: the pass after that runs no restart at all.
        _host.Ran.Clear();
        var quiet = Pass();
        Assert.Null(quiet.Restart);
        Assert.Empty(quiet.RestartReasons);
        Assert.DoesNotContain(_host.Ran, c => c.StartsWith("augenrules", StringComparison.Ordinal) || c.StartsWith("service auditd reload", StringComparison.Ordinal));
        Assert.True(quiet.Succeeded);
    }

    [Fact]
    public void AFailedRestartIsOwedUntilOneSucceeds()
    {
        File.WriteAllText(Path.Combine(RulesSource, "50-a.rules"), "-w /watched/a -p wa -k a\n");
        File.WriteAllText(Path.Combine(PluginsSource, "syslog.conf"), Plugin);
        _host.StartFails = true; // auditd is stopped and will not start

        var failed = Pass();
        Assert.False(failed.Succeeded);
        Assert.NotNull(new NodeApplyState(State).RestartOwed());

        _host.StartFails = false;
        var retried = Pass();
        Assert.Contains(retried.RestartReasons, r => r.StartsWith("an earlier restart did not succeed", StringComparison.Ordinal));
        Assert.True(retried.Restart!.Succeeded, retried.Restart.Message);
        Assert.Null(new NodeApplyState(State).RestartOwed());
    }

    [Fact]
    public void WhatIfChangesNeitherTheNodeNorTheStateDirectory()
    {
        File.WriteAllText(Path.Combine(RulesSource, "50-a.rules"), "-w /watched/a -p wa -k a\n");

        var pass = Pass(approve: false, verify: true);

        Assert.True(pass.WhatIf);
        Assert.Equal(new[] { "50-a.rules" }, pass.Rules!.Added);
        Assert.Empty(Directory.EnumerateFileSystemEntries(RulesTarget));
        Assert.False(Directory.Exists(Path.Combine(State, "node")));
        Assert.DoesNotContain(_host.Ran, c => c.StartsWith("service auditd start", StringComparison.Ordinal) || c.StartsWith("augenrules", StringComparison.Ordinal));
    }

    private NodeSyncResult Pass(bool restart = true, bool verify = false, bool approve = true, INodeFileSystem? fileSystem = null)
    {
        SyncRequest Request(SyncKind kind, string source, string target) => new()
        {
            Kind = kind,
            SourcePath = source,
            TargetPath = target,
            StatePath = State,
            Mode = SyncMode.Managed,
            Confirm = _ => approve,
        };

        // A new service and no sessions: every pass is as a new process sees the node.
        return new NodeSyncService(_host, KernelRuleCanon.ForNode(_root), fileSystem: fileSystem).Run(new NodeSyncRequest
        {
            Rules = Request(SyncKind.Rules, RulesSource, RulesTarget),
            Plugins = Request(SyncKind.Plugins, PluginsSource, PluginsTarget),
            RulesValidator = new RuleValidator(),
            PluginsValidator = new PluginConfigValidator(),
            Restart = restart,
            Verify = verify,
            ApproveRestart = _ => approve,
        });
    }
}

/// <summary>The real file system, with an IOException on the chosen rename onto one path.</summary>
internal sealed class FailingFileSystem : INodeFileSystem
{
    private readonly INodeFileSystem _inner;
    private readonly string _path;
    private readonly int _failAt;
    private int _renames;

    public FailingFileSystem(INodeFileSystem inner, string path, int failAtRename)
    {
        _inner = inner;
        _path = path;
        _failAt = failAtRename;
    }

    public FileIdentity Stat(string path, bool followSymlinks = true) => _inner.Stat(path, followSymlinks);

    public IReadOnlyList<string> List(string directory) => _inner.List(directory);

    public IReadOnlyList<(string Name, FileIdentity Identity)> ListWithIdentities(string directory, bool followSymlinks = true) => _inner.ListWithIdentities(directory, followSymlinks);

    public byte[] Read(string path, int limit) => _inner.Read(path, limit);

    public string? ReadLink(string path) => _inner.ReadLink(path);

    public string? RealPath(string path) => _inner.RealPath(path);

    public void WriteNew(string path, ReadOnlySpan<byte> contents, UnixFileMode mode, uint uid, uint gid) => _inner.WriteNew(path, contents, mode, uid, gid);

    public void Rename(string source, string destination)
    {
        if (destination == _path && ++_renames == _failAt)
        {
            throw new IOException($"Input/output error: {destination}");
        }

        _inner.Rename(source, destination);
    }

    public void Delete(string path) => _inner.Delete(path);

    public void CreateDirectory(string path, UnixFileMode mode) => _inner.CreateDirectory(path, mode);

    public void DeleteDirectory(string path) => _inner.DeleteDirectory(path);

    public void SyncDirectory(string directory) => _inner.SyncDirectory(directory);

    public IDisposable? TryLockDirectory(string directory, TimeSpan wait) => _inner.TryLockDirectory(directory, wait);

    public IDirectoryWatch? Watch(string directory) => _inner.Watch(directory);
}

/// <summary>
/// The node's audit commands as a SysV node (no systemd) answers them, over a kernel held in memory:
/// <c>auditctl -s/-l/-v</c> in the recorded formats (Host/Golden), <c>augenrules --load</c> loading rules.d in
/// order and stopping at the first rule the kernel refuses, as auditctl -R does, with auditctl's message and
/// "There was an error in line N of /etc/audit/audit.rules"; the one refusal modelled is the kernel's
/// rejection of a watch whose parent directory is missing. <c>service auditd start|status|reload</c>.
/// </summary>
internal sealed class FakeAuditHost : IHostCommandRunner
{
    public FakeAuditHost(string hostRoot) => HostRoot = hostRoot;

    public string HostRoot { get; }

    public HostAccessMode Mode => HostAccessMode.Chroot;

    public bool Running { get; set; }

    public bool StartFails { get; set; }

    public List<string> Loaded { get; } = new();

    public List<string> Ran { get; } = new();

    public string Render(HostCommand command) => command.ToString();

    public HostCommandResult Run(HostCommand command)
    {
        var line = command.ToString();
        Ran.Add(line);
        return line switch
        {
            // 26538 is the auditd pid in the recorded status.
            "auditctl -s" => Ok(command, Golden(Running ? "auditctl-s-running.txt" : "auditctl-s-disabled.txt")),
            "auditctl -l" => Ok(command, Loaded.Count == 0 ? "No rules\n" : string.Join("\n", Loaded) + "\n"),
            "auditctl -v" => Ok(command, Golden("auditctl-v.txt")),
            "cat /proc/26538/comm" => Ok(command, "auditd\n"),
            "service auditd status" => Exit(command, Running ? 0 : 3, string.Empty),
            "service auditd reload" => Running ? Ok(command, string.Empty) : Exit(command, 1, "auditd is not running\n"),
            "service auditd start" => Start(command),
            "augenrules --load" => LoadRules(command),
            _ => throw new InvalidOperationException($"the fake host does not know: {line}"),
        };
    }

    private HostCommandResult Start(HostCommand command)
    {
        if (StartFails)
        {
            return Exit(command, 1, "Starting auditd: failed\n");
        }

        Running = true;
        LoadRules(new HostCommand("augenrules", "--load") { AcceptedExitCodes = new[] { 1 } });
        return Ok(command, string.Empty);
    }

    private HostCommandResult LoadRules(HostCommand command)
    {
        var rulesDirectory = HostPath.Join(HostRoot, "/etc/audit/rules.d");
        var lines = Directory.EnumerateFiles(rulesDirectory, "*.rules").Order(StringComparer.Ordinal)
            .SelectMany(File.ReadAllLines)
            .Where(l => l.Trim().Length > 0 && !l.TrimStart().StartsWith('#'))
            .ToList();
        File.WriteAllLines(HostPath.Join(HostRoot, "/etc/audit/audit.rules"), lines);
        Loaded.Clear();
        for (var i = 0; i < lines.Count; i++)
        {
            var words = lines[i].Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (words[0] == "-w" && !Directory.Exists(HostPath.Join(HostRoot, Path.GetDirectoryName(words[1])!)))
            {
                return Exit(command, 1, $"Error sending add rule data request (No such file or directory)\nThere was an error in line {i + 1} of /etc/audit/audit.rules\n");
            }

            Loaded.Add(lines[i].Trim());
        }

        return Ok(command, "No rules\nenabled 1\n");
    }

    private static string Golden(string name) => File.ReadAllText(NodeTestSupport.HostTestData("Golden", name));

    private static HostCommandResult Ok(HostCommand command, string output) => new(command, command.ToString(), 0, output, string.Empty, TimeSpan.Zero);

    private static HostCommandResult Exit(HostCommand command, int code, string error)
    {
        if (code != 0 && !command.AcceptedExitCodes.Contains(code))
        {
            throw new HostCommandException($"'{command}' exited with {code}: {error.Trim()}", command.ToString(), code, error, timedOut: false);
        }

        return new HostCommandResult(command, command.ToString(), code, string.Empty, error, TimeSpan.Zero);
    }
}
