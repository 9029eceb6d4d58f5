using AksAuditd.Core.Logging;

namespace AksAuditd.Core.Tests.Host;

/// <summary>Paths and small helpers the Host tests share.</summary>
internal static class NodeTestSupport
{
    public static string RepositoryRoot => AksAuditd.Tests.Shared.RepositoryCheckout.Root;

    public static string HostTestData(params string[] parts) =>
        Path.Combine(new[] { RepositoryRoot, "tests", "AksAuditd.Core.Tests", "Host" }.Concat(parts).ToArray());

    /// <summary>A scratch node root holding one recorded os-release and, for systemd nodes, /run/systemd/system.</summary>
    public static string FixtureRoot(string osRelease, bool systemd = true)
    {
        var root = Path.Combine(Path.GetTempPath(), $"aks-auditd-node-{osRelease}-{Guid.NewGuid():N}");
        Directory.CreateDirectory(Path.Combine(root, "etc"));
        File.Copy(HostTestData("OsRelease", osRelease), Path.Combine(root, "etc", "os-release"));
        if (systemd)
        {
            Directory.CreateDirectory(Path.Combine(root, "run", "systemd", "system"));
        }

        return root;
    }
}

/// <summary>Keeps every log line, to assert what a service logged.</summary>
internal sealed class RecordingLogSink : ILogSink
{
    public List<(LogLevel Level, string Message, IReadOnlyList<LogField> Fields)> Lines { get; } = new();

    public bool IsEnabled(LogLevel level) => true;

    public void Write(LogLevel level, string message, IReadOnlyList<LogField> fields)
    {
        lock (Lines)
        {
            Lines.Add((level, message, fields.ToList()));
        }
    }
}
