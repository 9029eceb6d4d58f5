using System.Diagnostics;
using System.Globalization;
using AksAuditd.Core.Events;
using Xunit;

namespace AksAuditd.Core.Tests.Events;

/// <summary>
/// Measure-AuditEvent's counts per key against the real <c>aureport --key --summary</c> over the same bytes: every
/// recorded log, file by file and all of a directory at once (rotations oldest first, fed to aureport on stdin).
/// </summary>
public sealed class VolumeAureportTests
{
    public static TheoryData<string> RecordedLogs()
    {
        var data = new TheoryData<string>();
        foreach (var directory in Directory.GetDirectories(Fixtures.Directory).Order(StringComparer.Ordinal))
        {
            if (File.Exists(Path.Combine(directory, "audit.log")))
            {
                data.Add(Path.GetFileName(directory));
            }
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(RecordedLogs))]
    public void CountsPerKeyEqualAureportForEachFileAndTheWholeDirectory(string name)
    {
        var directory = Path.Combine(Fixtures.Directory, name);
        var files = AuditLogLocation.WithRotations(Path.Combine(directory, "audit.log"));
        Assert.NotEmpty(files);
        foreach (var file in files)
        {
            AssertSameCounts([file], file);
        }

        var whole = AssertSameCounts(files, directory);
        Assert.True(whole.Count >= 2, $"{name}: a recorded log with fewer than two keys proves little ({string.Join(", ", whole.Keys)})");
    }

    [Fact]
    public void AMissingLogIsAFileNotFoundNamingIt()
    {
        var directory = Fixtures.NewTemporaryDirectory();
        try
        {
            var error = Assert.Throws<FileNotFoundException>(() => new AuditVolumeMeter().Measure(new AuditVolumeQuery { HostRoot = directory }));
            Assert.Contains("/var/log/audit/audit.log", error.Message);
        }
        finally
        {
            Directory.Delete(directory, true);
        }
    }

    private static Dictionary<string, long> AssertSameCounts(IReadOnlyList<string> files, string what)
    {
        var expected = Aureport(files);
        var report = new AuditVolumeMeter().Measure(new AuditVolumeQuery { Paths = files, HostRoot = Fixtures.Recorded });
        var actual = report.Groups.Where(g => g.Name != AuditVolumeTally.NoneName).ToDictionary(g => g.Name, g => g.Events);
        Assert.True(expected.Count > 0, $"aureport found no keys in {what}");
        Assert.Equal(expected.OrderBy(p => p.Key, StringComparer.Ordinal), actual.OrderBy(p => p.Key, StringComparer.Ordinal));

        // Every record is in one event and every byte in one record.
        Assert.Equal(files.Sum(f => new FileInfo(f).Length), report.Bytes);
        Assert.True(report.Groups.Sum(g => g.Records) <= report.Records);
        return actual;
    }

    /// <summary>Runs the real aureport over the files' bytes in order, on stdin, and reads its key summary.</summary>
    private static Dictionary<string, long> Aureport(IReadOnlyList<string> files)
    {
        var start = new ProcessStartInfo("aureport") { RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true };
        start.ArgumentList.Add("--key");
        start.ArgumentList.Add("--summary");
        start.Environment["TZ"] = "UTC";
        start.Environment["LC_ALL"] = "C";
        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        foreach (var file in files)
        {
            using var stream = File.OpenRead(file);
            stream.CopyTo(process.StandardInput.BaseStream);
        }

        process.StandardInput.Close();
        var text = output.Result;
        process.WaitForExit();
        Assert.True(process.ExitCode == 0, $"aureport failed ({process.ExitCode}): {process.StandardError.ReadToEnd()}");

        // "total  key" then "=====" then one "COUNT  KEY" line per key.
        var counts = new Dictionary<string, long>(StringComparer.Ordinal);
        var lines = text.Split('\n');
        var table = Array.FindLastIndex(lines, l => l.StartsWith("====", StringComparison.Ordinal));
        foreach (var line in lines.Skip(table + 1))
        {
            var parts = line.Trim().Split(' ', 2, StringSplitOptions.RemoveEmptyEntries);
            if (parts.Length == 2)
            {
                counts[parts[1].Trim()] = long.Parse(parts[0], CultureInfo.InvariantCulture);
            }
        }

        return counts;
    }
}
