using System.Buffers;
using System.Collections;
using System.Globalization;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;

namespace AksAuditd.Core.Logging;

/// <summary>
/// One JSON object per line (<c>time</c> RFC 3339 UTC, <c>level</c>, <c>msg</c>, then the fields), the shape
/// Container Insights parses from a container's stdout. The field names keep the Go tool's (logrus) names so
/// existing queries keep working. The runtime's <see cref="Utf8JsonWriter"/> does the escaping: a logging
/// library would cost the DaemonSet's idle loop several megabytes per node for what is one object per line.
/// </summary>
public sealed class JsonLineLogSink : ILogSink, IDisposable
{
    // Deep enough for a list of lists; a value nested deeper is written as its text, never as an exception.
    private const int MaxDepth = 4;

    // Non-ASCII text stays readable (paths, user names); quotes, backslashes and control characters are escaped.
    private static readonly JsonWriterOptions WriterOptions = new()
    {
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };

    private readonly TextWriter _output;
    private readonly LogLevel _minimum;
    private readonly ArrayBufferWriter<byte> _buffer = new(512);
    private readonly Utf8JsonWriter _writer;
    private readonly Lock _gate = new();

    public JsonLineLogSink(TextWriter output, LogLevel minimum)
    {
        _output = output;
        _minimum = minimum;
        _writer = new Utf8JsonWriter(_buffer, WriterOptions);
    }

    public LogLevel Minimum => _minimum;

    public bool IsEnabled(LogLevel level) => level <= _minimum;

    public void Write(LogLevel level, string message, IReadOnlyList<LogField> fields)
    {
        if (!IsEnabled(level))
        {
            return;
        }

        lock (_gate)
        {
            try
            {
                WriteLine(level, message, fields);
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                // A log line must never abort what it reports on (a sync half-way through its writes): a full disk
                // behind a redirected stdout, or a field whose enumeration throws, costs this line only.
                try
                {
                    Console.Error.WriteLine($"aks-auditd: a log line was dropped ({e.GetType().Name}: {e.Message}): {message}");
                }
                catch (Exception)
                {
                    // Nowhere left to say it.
                }
            }
        }
    }

    public void Dispose() => _writer.Dispose();

    private void WriteLine(LogLevel level, string message, IReadOnlyList<LogField> fields)
    {
        _buffer.ResetWrittenCount();
        _writer.Reset(_buffer);
        _writer.WriteStartObject();
        _writer.WriteString("time", DateTime.UtcNow.ToString("o", CultureInfo.InvariantCulture));
        _writer.WriteString("level", level.ToString().ToLowerInvariant());
        _writer.WriteString("msg", message);
        HashSet<string>? written = null;
        foreach (var field in fields)
        {
            // The fixed names are the line's own; a field cannot forge them, nor repeat a name (invalid JSON
            // for some parsers): the first value of a name wins.
            if (field.Name is "time" or "level" or "msg" || string.IsNullOrEmpty(field.Name) || !(written ??= new(StringComparer.Ordinal)).Add(field.Name))
            {
                continue;
            }

            _writer.WritePropertyName(field.Name);
            WriteValue(field.Value, 0);
        }

        _writer.WriteEndObject();
        _writer.Flush();
        // One write of the whole line, then a flush: the line is on stdout before the next poll sleeps.
        _output.Write(Encoding.UTF8.GetString(_buffer.WrittenSpan) + "\n");
        _output.Flush();
    }

    private void WriteValue(object? value, int depth)
    {
        switch (value)
        {
            case null:
                _writer.WriteNullValue();
                break;
            case string text:
                _writer.WriteStringValue(text);
                break;
            case bool flag:
                _writer.WriteBooleanValue(flag);
                break;
            case Enum name:
                _writer.WriteStringValue(name.ToString());
                break;
            case int or long or short or sbyte or byte or ushort or uint:
                _writer.WriteNumberValue(Convert.ToInt64(value, CultureInfo.InvariantCulture));
                break;
            case ulong big:
                _writer.WriteNumberValue(big);
                break;
            case decimal exact:
                _writer.WriteNumberValue(exact);
                break;
            case double or float:
                var real = Convert.ToDouble(value, CultureInfo.InvariantCulture);
                if (double.IsFinite(real))
                {
                    _writer.WriteNumberValue(real);
                }
                else
                {
                    // JSON has no NaN or infinity.
                    _writer.WriteStringValue(real.ToString(CultureInfo.InvariantCulture));
                }

                break;
            case DateTime time:
                _writer.WriteStringValue(time.ToUniversalTime().ToString("o", CultureInfo.InvariantCulture));
                break;
            case DateTimeOffset time:
                _writer.WriteStringValue(time.ToUniversalTime().ToString("o", CultureInfo.InvariantCulture));
                break;
            case TimeSpan span:
                _writer.WriteStringValue(span.ToString("c", CultureInfo.InvariantCulture));
                break;
            case IDictionary map when depth < MaxDepth:
                _writer.WriteStartObject();
                var names = new HashSet<string>(StringComparer.Ordinal);
                foreach (DictionaryEntry entry in map)
                {
                    // Keys 1 and "1" are one JSON name: the first wins, as for the line's own fields.
                    var name = Convert.ToString(entry.Key, CultureInfo.InvariantCulture) ?? string.Empty;
                    if (!names.Add(name))
                    {
                        continue;
                    }

                    _writer.WritePropertyName(name);
                    WriteValue(entry.Value, depth + 1);
                }

                _writer.WriteEndObject();
                break;
            case IEnumerable items when depth < MaxDepth:
                _writer.WriteStartArray();
                foreach (var item in items)
                {
                    WriteValue(item, depth + 1);
                }

                _writer.WriteEndArray();
                break;
            default:
                _writer.WriteStringValue(Convert.ToString(value, CultureInfo.InvariantCulture) ?? string.Empty);
                break;
        }
    }
}
