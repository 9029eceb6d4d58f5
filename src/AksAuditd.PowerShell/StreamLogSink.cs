using System.Management.Automation;
using AksAuditd.Core.Logging;

namespace AksAuditd.PowerShell;

/// <summary>
/// Core log lines as PowerShell streams, for a person at a prompt: warnings and errors on the Warning
/// stream (the cmdlet reports real failures as ErrorRecords itself), info on Information, debug on
/// Verbose, trace on Debug. Fields are appended as name=value so nothing is lost.
/// </summary>
internal sealed class StreamLogSink : ILogSink
{
    private readonly Cmdlet _cmdlet;

    public StreamLogSink(Cmdlet cmdlet) => _cmdlet = cmdlet;

    public bool IsEnabled(LogLevel level) => true;

    public void Write(LogLevel level, string message, IReadOnlyList<LogField> fields)
    {
        var text = fields.Count == 0
            ? message
            : message + " (" + string.Join(", ", fields.Select(f => $"{f.Name}={f.Value}")) + ")";
        switch (level)
        {
            case LogLevel.Panic or LogLevel.Fatal or LogLevel.Error or LogLevel.Warn:
                _cmdlet.WriteWarning(text);
                break;
            case LogLevel.Info:
                _cmdlet.WriteInformation(new InformationRecord(text, "AksAuditd"));
                break;
            case LogLevel.Debug:
                _cmdlet.WriteVerbose(text);
                break;
            default:
                _cmdlet.WriteDebug(text);
                break;
        }
    }
}
