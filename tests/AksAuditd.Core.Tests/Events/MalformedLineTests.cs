using System.Text;
using AksAuditd.Core.Events;
using Xunit;

namespace AksAuditd.Core.Tests.Events;

/// <summary>Damaged lines in the middle of a real log are skipped with a warning naming file and line; everything else is still read.</summary>
public sealed class MalformedLineTests
{
    [Fact]
    public void SkipsTruncatedBinaryAndHugeLinesAndReadsTheRest()
    {
        var directory = Fixtures.NewTemporaryDirectory();
        try
        {
            foreach (var file in Directory.GetFiles(Fixtures.Recorded, "audit.log*"))
            {
                File.Copy(file, Path.Combine(directory, Path.GetFileName(file)));
            }

            // Insert the damage between real lines of the middle rotation.
            var target = Path.Combine(directory, "audit.log.1");
            var content = File.ReadAllBytes(target);
            var lines = new List<byte[]>();
            foreach (var range in content.AsSpan().Split((byte)'\n'))
            {
                lines.Add(content[range]);
            }

            var garbage = new byte[300];
            new Random(7).NextBytes(garbage);
            garbage = garbage.Where(b => b != (byte)'\n').ToArray();
            var inserted = new (int Line, byte[] Bytes, string Because)[]
            {
                (10, "node=aks-node-1 type=SYSCALL msg=audit(1795940"u8.ToArray(), "time stamp is incomplete"),
                (20, garbage, "binary data"),
                (30, Encoding.ASCII.GetBytes("node=aks-node-1 type=PATH msg=audit(1795940272.100:99999): item=0 name=\"/usr/bi"), "truncated"),
                (40, Enumerable.Repeat((byte)'x', 1024 * 1024).ToArray(), "longer than"),
                (50, "this is not an audit record"u8.ToArray(), "does not start with type="),
            };
            foreach (var (line, bytes, _) in inserted)
            {
                lines.Insert(line - 1, bytes);
            }

            File.WriteAllBytes(target, lines.Aggregate(new List<byte>(), (all, l) => { all.AddRange(l); all.Add((byte)'\n'); return all; }).ToArray()[..^1]);
            var log = new TestLog();

            var events = new AuditEventReader(log).Read(new AuditEventQuery { Paths = [directory], HostRoot = Path.Combine(Fixtures.Recorded, "host") }).ToList();

            var golden = AusearchComparison.Parse(File.ReadAllText(Path.Combine(Fixtures.Recorded, "ausearch-interpreted.txt")));
            var problems = AusearchComparison.Compare(golden, events);
            Assert.True(problems.Count == 0, string.Join("\n", problems.Take(20)));
            var warnings = log.Warnings.ToList();
            Assert.Equal(inserted.Length, warnings.Count);
            foreach (var ((line, _, because), warning) in inserted.Zip(warnings))
            {
                Assert.Equal(target, warning.Fields["file"]);
                Assert.Equal((long)line, warning.Fields["line"]);
                Assert.Contains($"line {line} of {target}", warning.Message);
                Assert.Contains(because, warning.Message);
            }
        }
        finally
        {
            Directory.Delete(directory, true);
        }
    }
}
