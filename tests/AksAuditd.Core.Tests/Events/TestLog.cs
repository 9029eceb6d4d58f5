using AksAuditd.Core.Logging;

namespace AksAuditd.Core.Tests.Events;

/// <summary>Keeps what a Core service logged, so tests can assert on warnings and their fields.</summary>
internal sealed class TestLog : ILogSink
{
    public List<(LogLevel Level, string Message, Dictionary<string, object?> Fields)> Lines { get; } = new();

    public IEnumerable<(string Message, Dictionary<string, object?> Fields)> Warnings =>
        Lines.Where(l => l.Level == LogLevel.Warn).Select(l => (l.Message, l.Fields));

    public bool IsEnabled(LogLevel level) => true;

    public void Write(LogLevel level, string message, IReadOnlyList<LogField> fields)
    {
        lock (Lines)
        {
            Lines.Add((level, message, fields.ToDictionary(f => f.Name, f => f.Value)));
        }
    }
}
