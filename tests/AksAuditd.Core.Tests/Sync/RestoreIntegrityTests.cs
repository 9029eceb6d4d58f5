using System.Diagnostics;
using System.Text.Json.Nodes;
using AksAuditd.Core.Configuration;
using AksAuditd.Core.Rules;
using AksAuditd.Core.Sync;
using Xunit;

namespace AksAuditd.Core.Tests.Sync;

/// <summary>
/// What a restore (the rollback after a kernel rejection) leaves behind when it is killed, and what it does with
/// a manifest someone edited: a later sync never takes over a restore's generation, and a manifest whose names
/// or modes could reach outside the directory or create a setuid file is refused before anything is touched.
/// </summary>
public sealed class RestoreIntegrityTests : IDisposable
{
    private readonly SyncTestDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public void ASyncAfterAKilledRestoreStartsItsOwnGenerationSoItsRollbackNeverReturnsTheRejectedSet()
    {
        var good = new Dictionary<string, string> { ["10-a.rules"] = "-w /etc/passwd -p wa -k good\n", ["20-b.rules"] = "-w /etc/group -p wa -k good\n" };
        var rejected = new Dictionary<string, string> { ["10-a.rules"] = "-w /etc/passwd -p wa -k rejected\n", ["20-b.rules"] = "-w /etc/group -p wa -k rejected\n" };
        var fixedSet = new Dictionary<string, string> { ["10-a.rules"] = "-w /etc/passwd -p wa -k fixed\n", ["20-b.rules"] = "-w /etc/group -p wa -k fixed\n" };
        Sync(good);
        var rejectedSync = Sync(rejected);

        // The rollback of the rejected sync is killed after putting back one of its two files.
        var finished = RunCrashHost($"restore {new BackupStore(_dir.State).Latest("rules")!.Path} 2");
        Assert.Null(finished);
        var halfRestored = Snapshot(_dir.Target);
        Assert.Equal(good["10-a.rules"], halfRestored["10-a.rules"]);
        Assert.Equal(rejected["20-b.rules"], halfRestored["20-b.rules"]);
        var interrupted = new BackupStore(_dir.State).Latest("rules")!;
        Assert.Null(interrupted.Completed);
        Assert.Equal(Path.GetFileName(rejectedSync.BackupPath), interrupted.Restores);

        // The next sync: its generation must describe the directory as this sync found it.
        var next = Sync(fixedSet);

        var latest = new BackupStore(_dir.State).Latest("rules")!;
        Assert.Equal(next.BackupPath, latest.Path);
        Assert.NotEqual(interrupted.Id, latest.Id);
        Assert.Null(latest.Restores);
        var copy = Path.Combine(_dir.Root, "rollback");
        Directory.CreateDirectory(copy);
        foreach (var (name, text) in fixedSet)
        {
            File.WriteAllText(Path.Combine(copy, name), text);
        }

        new BackupStore(Path.Combine(_dir.Root, "scratch-state")).Restore(latest, copy);
        Assert.Equal(halfRestored, Snapshot(copy));
        Assert.NotEqual(rejected["10-a.rules"], Snapshot(copy)["10-a.rules"]);
    }

    [Theory]
    [InlineData("replaced", "name", "../../escape.rules", "name")]
    [InlineData("replaced", "name", "sub/dir.rules", "name")]
    [InlineData("added", "name", "..", "name")]
    [InlineData("removed", "name", "", "name")]
    [InlineData("replaced", "mode", "4755", "mode")]
    [InlineData("replaced", "mode", "02640", "mode")]
    [InlineData("replaced", "mode", "1777", "mode")]
    [InlineData("replaced", "mode", "0x1ff", "mode")]
    public void AManifestWithAnUnsafeNameOrModeIsRefusedBeforeAnyRestore(string list, string field, string value, string named)
    {
        File.WriteAllText(Path.Combine(_dir.Target, "10-a.rules"), "-w /etc/passwd -p wa -k before\n");
        File.WriteAllText(Path.Combine(_dir.Target, "20-b.rules"), "-w /etc/group -p wa -k before\n");
        Sync(new Dictionary<string, string> { ["10-a.rules"] = "-w /etc/passwd -p wa -k after\n", ["30-c.rules"] = "-w /etc/hosts -p wa -k after\n" }, remove: "20-b.rules");
        var generation = new BackupStore(_dir.State).Latest("rules")!;
        var manifest = JsonNode.Parse(File.ReadAllText(generation.ManifestPath))!;
        manifest[list]![0]![field] = value;
        File.WriteAllText(generation.ManifestPath, manifest.ToJsonString());
        var before = Snapshot(_dir.Target);
        var outside = Snapshot(_dir.Root, recursive: true);

        var error = Assert.Throws<SyncException>(() => new BackupStore(_dir.State).Restore(BackupStore.Load(generation.Path), _dir.Target));

        Assert.Equal(SyncFailure.StateUnusable, error.Failure);
        Assert.Equal(generation.ManifestPath, error.Path);
        Assert.Contains($"\"{named}\"", error.Message, StringComparison.Ordinal);
        Assert.Equal(before, Snapshot(_dir.Target));
        Assert.Equal(outside, Snapshot(_dir.Root, recursive: true));
    }

    private SyncResult Sync(Dictionary<string, string> files, string? remove = null)
    {
        foreach (var path in Directory.EnumerateFiles(_dir.Source))
        {
            File.Delete(path);
        }

        foreach (var (name, text) in files)
        {
            _dir.WriteSource(name, text);
        }

        if (remove is not null)
        {
            // Mirror mode removes a file the sync never placed, so the generation has a Removed entry too.
            return new SyncService(new RuleValidator()).Sync(new SyncRequest { Kind = SyncKind.Rules, SourcePath = _dir.Source, TargetPath = _dir.Target, StatePath = _dir.State, Mode = SyncMode.Mirror });
        }

        return new SyncService(new RuleValidator()).Sync(new SyncRequest { Kind = SyncKind.Rules, SourcePath = _dir.Source, TargetPath = _dir.Target, StatePath = _dir.State, Mode = SyncMode.Managed });
    }

    /// <summary>Runs one command in AksAuditd.SyncCrashHost; null when it was killed as asked.</summary>
    private int? RunCrashHost(string command)
    {
        var start = new ProcessStartInfo(Path.Combine(AppContext.BaseDirectory, "AksAuditd.SyncCrashHost"), new[] { _dir.Target, _dir.State, nameof(SyncMode.Managed) })
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        using var process = Process.Start(start)!;
        Assert.Equal("ready", process.StandardOutput.ReadLine());
        process.StandardInput.WriteLine(command);
        process.StandardInput.Flush();
        var line = process.StandardOutput.ReadLine();
        process.WaitForExit();
        if (line is null)
        {
            Assert.Equal(137, process.ExitCode);
            return null;
        }

        return int.Parse(line.Split(' ')[1]);
    }

    private static SortedDictionary<string, string> Snapshot(string directory, bool recursive = false) =>
        new(Directory.EnumerateFiles(directory, "*", recursive ? SearchOption.AllDirectories : SearchOption.TopDirectoryOnly)
            .Where(p => !Path.GetFileName(p).StartsWith('.'))
            .ToDictionary(p => Path.GetRelativePath(directory, p), File.ReadAllText), StringComparer.Ordinal);
}
