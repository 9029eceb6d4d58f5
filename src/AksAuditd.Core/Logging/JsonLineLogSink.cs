using Serilog;
using Serilog.Events;
using Serilog.Parsing;
using Serilog.Templates;

namespace AksAuditd.Core.Logging;

/// <summary>
/// One JSON object per line (<c>time</c> RFC 3339 UTC, <c>level</c>, <c>msg</c>, then the fields), the shape
/// Container Insights parses from a container's stdout. Serilog renders and escapes the JSON; we only
/// choose the field names, which keep the Go tool's (logrus) names so existing queries keep working.
/// </summary>
public sealed class JsonLineLogSink : ILogSink, IDisposable
{
    private const string Template = "{ {time: UtcDateTime(@t), level: level, msg: @m, ..rest()} }\n";

    private readonly Serilog.Core.Logger _logger;
    private readonly LogLevel _minimum;

    public JsonLineLogSink(TextWriter output, LogLevel minimum)
    {
        _minimum = minimum;
        _logger = new LoggerConfiguration()
            .MinimumLevel.Verbose()
            .WriteTo.Sink(new TextWriterSink(new ExpressionTemplate(Template), output))
            .CreateLogger();
    }

    public LogLevel Minimum => _minimum;

    public bool IsEnabled(LogLevel level) => level <= _minimum;

    public void Write(LogLevel level, string message, IReadOnlyList<LogField> fields)
    {
        if (!IsEnabled(level))
        {
            return;
        }

        var properties = new List<LogEventProperty>(fields.Count + 1)
        {
            new("level", new ScalarValue(level.ToString().ToLowerInvariant())),
        };
        foreach (var field in fields)
        {
            if (field.Name is "time" or "level" or "msg" || !_logger.BindProperty(field.Name, field.Value, destructureObjects: false, out var property))
            {
                continue;
            }

            properties.Add(property);
        }

        // A template of one text token: the message is never parsed for {holes}, so braces in paths or rules are safe.
        var template = new MessageTemplate(new MessageTemplateToken[] { new TextToken(message) });
        _logger.Write(new LogEvent(DateTimeOffset.UtcNow, ToSerilog(level), null, template, properties));
    }

    public void Dispose() => _logger.Dispose();

    /// <summary>Writes each formatted event and flushes, so a line is on stdout before the next poll sleeps.</summary>
    private sealed class TextWriterSink : Serilog.Core.ILogEventSink
    {
        private readonly ExpressionTemplate _formatter;
        private readonly TextWriter _output;
        private readonly Lock _gate = new();

        public TextWriterSink(ExpressionTemplate formatter, TextWriter output)
        {
            _formatter = formatter;
            _output = output;
        }

        public void Emit(LogEvent logEvent)
        {
            lock (_gate)
            {
                _formatter.Format(logEvent, _output);
                _output.Flush();
            }
        }
    }

    private static LogEventLevel ToSerilog(LogLevel level) => level switch
    {
        LogLevel.Panic or LogLevel.Fatal => LogEventLevel.Fatal,
        LogLevel.Error => LogEventLevel.Error,
        LogLevel.Warn => LogEventLevel.Warning,
        LogLevel.Info => LogEventLevel.Information,
        LogLevel.Debug => LogEventLevel.Debug,
        _ => LogEventLevel.Verbose,
    };
}
