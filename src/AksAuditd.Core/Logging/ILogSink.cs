namespace AksAuditd.Core.Logging;

/// <summary>A named value attached to a log line (file, line, command, exitCode, durationMs...).</summary>
public readonly record struct LogField(string Name, object? Value);

/// <summary>
/// The one logging path of Core. Services log through this; the host decides where lines go:
/// JSON on stdout in the container (<see cref="JsonLineLogSink"/>), PowerShell streams in a cmdlet.
/// </summary>
public interface ILogSink
{
    bool IsEnabled(LogLevel level);

    void Write(LogLevel level, string message, IReadOnlyList<LogField> fields);
}

/// <summary>Discards everything: the default for services whose caller does not care.</summary>
public sealed class NullLogSink : ILogSink
{
    public static readonly NullLogSink Instance = new();

    private NullLogSink()
    {
    }

    public bool IsEnabled(LogLevel level) => false;

    public void Write(LogLevel level, string message, IReadOnlyList<LogField> fields)
    {
    }
}

public static class LogSinkExtensions
{
    public static void Error(this ILogSink sink, string message, params LogField[] fields) => Log(sink, LogLevel.Error, message, fields);

    public static void Warn(this ILogSink sink, string message, params LogField[] fields) => Log(sink, LogLevel.Warn, message, fields);

    public static void Info(this ILogSink sink, string message, params LogField[] fields) => Log(sink, LogLevel.Info, message, fields);

    public static void Debug(this ILogSink sink, string message, params LogField[] fields) => Log(sink, LogLevel.Debug, message, fields);

    public static void Trace(this ILogSink sink, string message, params LogField[] fields) => Log(sink, LogLevel.Trace, message, fields);

    private static void Log(ILogSink sink, LogLevel level, string message, LogField[] fields)
    {
        if (sink.IsEnabled(level))
        {
            sink.Write(level, message, fields);
        }
    }
}
