namespace AksAuditd.Core.Logging;

/// <summary>
/// The process-wide JSON log used when the module runs as the container entrypoint (AA_LOG_FORMAT=json):
/// every cmdlet in the process writes to the same stdout stream at the configured level.
/// </summary>
public static class ProcessLog
{
    public const string FormatVariable = "AA_LOG_FORMAT";

    private static readonly Lock Gate = new();
    private static JsonLineLogSink? _json;

    /// <summary>True when the entrypoint asked for JSON lines on stdout instead of PowerShell streams.</summary>
    public static bool JsonRequested =>
        string.Equals(Environment.GetEnvironmentVariable(FormatVariable), "json", StringComparison.OrdinalIgnoreCase);

    /// <summary>The shared stdout JSON sink, created at the given level or re-levelled to it.</summary>
    public static JsonLineLogSink Json(LogLevel level)
    {
        lock (Gate)
        {
            if (_json is null || _json.Minimum != level)
            {
                _json = new JsonLineLogSink(Console.Out, level);
            }

            return _json;
        }
    }
}
