using System.Diagnostics;
using System.Text;
using AksAuditd.Core.Configuration;
using AksAuditd.Core.Rules;
using AksAuditd.Core.Sync;
using Xunit;

namespace AksAuditd.Core.Tests.Sync;

/// <summary>
/// Every bad input gives a clear error and leaves the node's rules.d exactly as it was (same names, same bytes,
/// same inodes) and no backup generation.
/// </summary>
public sealed class BadInputTests
{
    private const string GoodRule = "-w /etc/passwd -p wa -k identity\n";

    /// <summary>Name, how to spoil the source, and the diagnostic code (for a per-file error) or failure expected.</summary>
    public static TheoryData<string> Cases => new(BadInputs.Keys);

    private static readonly Dictionary<string, (Action<SyncTestDirectory> Spoil, string Expected)> BadInputs = new()
    {
        ["nested path in a ConfigMap item"] = (d => ConfigMap(d, ("sub/10-x.rules", GoodRule)), SyncDiagnosticCodes.NestedPath),
        ["name with .. in the middle"] = (d => d.WriteSource("10-a..b.rules", GoodRule), SyncDiagnosticCodes.DotDotInName),
        ["name starting with .."] = (d => d.WriteSource("..10-x.rules", GoodRule), SyncDiagnosticCodes.DotDotInName),
        ["name with a newline"] = (d => d.WriteSource("10-a\nb.rules", GoodRule), SyncDiagnosticCodes.ControlCharacterInName),
        ["name with a tab"] = (d => d.WriteSource("10-a\tb.rules", GoodRule), SyncDiagnosticCodes.ControlCharacterInName),
        ["name with an escape character"] = (d => d.WriteSource("10-\u001b[31m.rules", GoodRule), SyncDiagnosticCodes.ControlCharacterInName),
        ["name with bytes that are not UTF-8"] = (d => WriteRawName(d.Source, new byte[] { 0x31, 0x30, 0xff, 0xfe }, ".rules"), SyncDiagnosticCodes.ControlCharacterInName),
        ["hidden name in a plain directory"] = (d => d.WriteSource(".10-hidden.rules", GoodRule), SyncDiagnosticCodes.LeadingDotInName),
        ["hidden key in a ConfigMap"] = (d => ConfigMap(d, (".10-hidden.rules", GoodRule)), SyncDiagnosticCodes.LeadingDotInName),
        ["symlink to /etc/shadow"] = (d => File.CreateSymbolicLink(Path.Combine(d.Source, "10-shadow.rules"), "/etc/shadow"), SyncDiagnosticCodes.SymlinkOutsideSource),
        ["relative symlink climbing out"] = (d => Climb(d), SyncDiagnosticCodes.SymlinkOutsideSource),
        ["visible ConfigMap entry linking outside the volume"] = (d => { ConfigMap(d, ("10-ok.rules", GoodRule)); File.CreateSymbolicLink(Path.Combine(d.Source, "20-evil.rules"), "/etc/hostname"); }, SyncDiagnosticCodes.SymlinkOutsideSource),
        ["..data pointing outside the volume"] = (d => { ConfigMap(d, ("10-ok.rules", GoodRule)); RepointData(d, Path.Combine(d.Root, "elsewhere")); }, SyncDiagnosticCodes.SymlinkOutsideSource),
        ["file just over 1 MiB"] = (d => File.WriteAllText(Path.Combine(d.Source, "10-big.rules"), new string('#', (1 << 20) + 1)), SyncDiagnosticCodes.FileTooLarge),
        ["sparse 1 GiB file"] = (d => { using var f = File.Create(Path.Combine(d.Source, "10-huge.rules")); f.SetLength(1L << 30); }, SyncDiagnosticCodes.FileTooLarge),
        ["invalid UTF-8 contents"] = (d => File.WriteAllBytes(Path.Combine(d.Source, "10-latin1.rules"), Encoding.Latin1.GetBytes("-w /etc/caf\u00e9 -p wa\n")), SyncDiagnosticCodes.NotUtf8Text),
        ["binary contents with NUL bytes"] = (d => File.WriteAllBytes(Path.Combine(d.Source, "10-binary.rules"), new byte[] { 0x7f, 0x45, 0x4c, 0x46, 0, 0, 1, 0 }), SyncDiagnosticCodes.NotUtf8Text),
        ["truncated UTF-8 sequence"] = (d => File.WriteAllBytes(Path.Combine(d.Source, "10-cut.rules"), new byte[] { 0x2d, 0x44, 0x0a, 0xe2, 0x82 }), SyncDiagnosticCodes.NotUtf8Text),
        // Unreadable for root: a FIFO would block a reader forever, so it is refused without opening it.
        ["FIFO named like a rules file"] = (d => MakeFifo(Path.Combine(d.Source, "10-fifo.rules")), SyncDiagnosticCodes.NotARegularFile),
        // Unreadable for root: read(2) on a directory fails with EISDIR.
        ["directory named like a rules file"] = (d => Directory.CreateDirectory(Path.Combine(d.Source, "10-dir.rules")), SyncDiagnosticCodes.NotARegularFile),
        ["dangling symlink inside the source"] = (d => File.CreateSymbolicLink(Path.Combine(d.Source, "10-gone.rules"), "missing.rules"), SyncDiagnosticCodes.SymlinkOutsideSource),
        ["invalid rule line"] = (d => d.WriteSource("10-bad.rules", "-D\nplease audit everything\n"), RuleDiagnosticCodes.StrayWord),
        ["invalid rule next to good files"] = (d => { d.WriteSource("05-good.rules", GoodRule); d.WriteSource("10-bad.rules", "-w /etc/shadow -p wa\nnot a rule\n"); }, RuleDiagnosticCodes.StrayWord),
        ["empty source directory"] = (d => { }, nameof(SyncFailure.SourceEmpty)),
        ["source with only non-rules files"] = (d => d.WriteSource("README.md", "# nothing here\n"), nameof(SyncFailure.SourceEmpty)),
        ["empty ConfigMap"] = (d => ConfigMap(d), nameof(SyncFailure.SourceEmpty)),
        ["missing source"] = (d => Directory.Delete(d.Source), nameof(SyncFailure.SourceMissing)),
        ["source that is a file"] = (d => { Directory.Delete(d.Source); File.WriteAllText(d.Source, GoodRule); }, nameof(SyncFailure.SourceUnreadable)),
        // Unreadable for root: kubelet deleted the version ..data points at (a broken or half-cleaned volume).
        ["ConfigMap whose ..data points to a missing version"] = (d => { ConfigMap(d, ("10-ok.rules", GoodRule)); RepointData(d, "..2020_01_01_00_00_00.000000001"); }, nameof(SyncFailure.SourceUnreadable)),
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void BadSourceGivesAClearErrorAndLeavesTheTargetUnchanged(string name)
    {
        using var dir = new SyncTestDirectory();
        dir.WriteTarget("10-base.rules", "-D\n");
        dir.WriteTarget("50-mde.rules", "-w /opt/microsoft -p wa\n");
        var before = Snapshot(dir.Target);
        var (spoil, expected) = BadInputs[name];
        spoil(dir);

        var service = new SyncService(new RuleValidator());
        var request = new SyncRequest { Kind = SyncKind.Rules, SourcePath = dir.Source, TargetPath = dir.Target, StatePath = dir.State, Mode = SyncMode.Mirror };
        if (Enum.TryParse<SyncFailure>(expected, out var failure))
        {
            var e = Assert.Throws<SyncException>(() => service.Sync(request));
            Assert.Equal(failure, e.Failure);
            Assert.Contains(dir.Source, e.Message);
        }
        else
        {
            var result = service.Sync(request);
            Assert.True(result.Blocked, name);
            var error = Assert.Single(result.Diagnostics, d => d.Severity == DiagnosticSeverity.Error);
            Assert.Equal(expected, error.Code);
            Assert.False(string.IsNullOrWhiteSpace(error.Message));
            Assert.False(string.IsNullOrEmpty(error.Path));
        }

        Assert.Equal(before, Snapshot(dir.Target));
        Assert.False(Directory.Exists(Path.Combine(dir.State, "backup", "rules")) && Directory.EnumerateFileSystemEntries(Path.Combine(dir.State, "backup", "rules")).Any());
    }

    [Fact]
    public void TheTableCoversAtLeastTwentyFiveInputs() => Assert.True(BadInputs.Count + TargetCases >= 25);

    private const int TargetCases = 3;

    [Fact]
    public void TargetThatIsAFileIsRefused()
    {
        using var dir = new SyncTestDirectory();
        dir.WriteSource("10-base.rules", GoodRule);
        Directory.Delete(dir.Target);
        File.WriteAllText(dir.Target, "a file, not rules.d");

        var e = Assert.Throws<SyncException>(() => new SyncService(new RuleValidator()).Sync(new SyncRequest { Kind = SyncKind.Rules, SourcePath = dir.Source, TargetPath = dir.Target, StatePath = dir.State }));

        Assert.Equal(SyncFailure.TargetNotADirectory, e.Failure);
        Assert.Contains(dir.Target, e.Message);
        Assert.Equal("a file, not rules.d", File.ReadAllText(dir.Target));
    }

    [Fact]
    public void MissingTargetIsRefused()
    {
        using var dir = new SyncTestDirectory();
        dir.WriteSource("10-base.rules", GoodRule);
        Directory.Delete(dir.Target);

        var e = Assert.Throws<SyncException>(() => new SyncService(new RuleValidator()).Sync(new SyncRequest { Kind = SyncKind.Rules, SourcePath = dir.Source, TargetPath = dir.Target, StatePath = dir.State }));

        Assert.Equal(SyncFailure.TargetMissing, e.Failure);
        Assert.False(Directory.Exists(dir.Target));
    }

    /// <summary>A full disk: a 64 KiB tmpfs as rules.d, holding 40 KiB already, and a source that needs more.</summary>
    [Fact]
    public void FullDiskFailsBeforeAnythingVisibleChangesAndLeavesNoTemporaryFile()
    {
        using var dir = new SyncTestDirectory();
        Run("mount", "-t", "tmpfs", "-o", "size=64k,mode=0750", "aks-auditd-test", dir.Target);
        try
        {
            for (var i = 0; i < 10; i++)
            {
                File.WriteAllText(Path.Combine(dir.Target, $"{i:D2}-old.rules"), $"# old {i}\n" + new string('#', 3000) + "\n");
            }

            var before = Snapshot(dir.Target);
            for (var i = 0; i < 10; i++)
            {
                dir.WriteSource($"{i:D2}-old.rules", $"# new {i}\n" + new string('#', 6000) + "\n");
            }

            var e = Assert.Throws<SyncException>(() => new SyncService(new RuleValidator()).Sync(new SyncRequest { Kind = SyncKind.Rules, SourcePath = dir.Source, TargetPath = dir.Target, StatePath = dir.State }));

            Assert.Equal(SyncFailure.InsufficientSpace, e.Failure);
            Assert.Contains("no space left", e.Message);
            Assert.Equal(before, Snapshot(dir.Target));
        }
        finally
        {
            Run("umount", dir.Target);
        }
    }

    /// <summary>Names, contents and inodes of every entry, hidden ones included.</summary>
    internal static SortedDictionary<string, string> Snapshot(string directory) =>
        new(Directory.EnumerateFileSystemEntries(directory).ToDictionary(
            p => Path.GetFileName(p),
            p => File.Exists(p) ? $"{LinuxNodeFileSystem.Instance.Stat(p).Inode}:{File.ReadAllText(p)}" : "<dir>"), StringComparer.Ordinal);

    private static void ConfigMap(SyncTestDirectory d, params (string Key, string Text)[] items)
    {
        Directory.Delete(d.Source, recursive: true);
        new ConfigMapVolumeWriter(d.Source).Update(items.ToDictionary(i => i.Key, i => i.Text));
    }

    private static void RepointData(SyncTestDirectory d, string target)
    {
        Directory.CreateDirectory(Path.Combine(d.Root, "elsewhere"));
        File.WriteAllText(Path.Combine(d.Root, "elsewhere", "10-ok.rules"), GoodRule);
        var temporary = Path.Combine(d.Source, "..data_tmp");
        File.CreateSymbolicLink(temporary, target);
        LinuxNodeFileSystem.Instance.Rename(temporary, Path.Combine(d.Source, "..data"));
    }

    private static void Climb(SyncTestDirectory d)
    {
        File.WriteAllText(Path.Combine(d.Root, "outside.rules"), GoodRule);
        File.CreateSymbolicLink(Path.Combine(d.Source, "10-climb.rules"), "../outside.rules");
    }

    private static void MakeFifo(string path) => Run("mkfifo", path);

    private static void WriteRawName(string directory, byte[] stem, string suffix)
    {
        // .NET cannot name a file with bytes that are not UTF-8; the shell can.
        var hex = string.Concat(stem.Select(b => $"\\x{b:x2}"));
        Run("bash", "-c", $"printf -- '-D\\n' > \"{directory}/$(printf '{hex}'){suffix}\"");
    }

    internal static void Run(string file, params string[] arguments)
    {
        var start = new ProcessStartInfo(file) { RedirectStandardError = true, RedirectStandardOutput = true };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        using var process = Process.Start(start)!;
        var error = process.StandardError.ReadToEnd();
        process.WaitForExit();
        Assert.True(process.ExitCode == 0, $"{file} {string.Join(' ', arguments)}: {error}");
    }
}
