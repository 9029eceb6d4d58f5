using System.Collections;
using System.Management.Automation;
using AksAuditd.Core.Configuration;
using AksAuditd.Core.Logging;

namespace AksAuditd.PowerShell.Commands;

/// <summary>
/// Writes one line through the module's log path: a JSON object on stdout in the container, the matching
/// PowerShell stream at a prompt. The entrypoint uses it so its own lines look like the cmdlets' lines.
/// </summary>
[Cmdlet(VerbsCommunications.Write, "AksAuditdLog")]
[OutputType(typeof(void))]
public sealed class WriteAksAuditdLogCommand : AksAuditdCmdlet
{
    [Parameter(Mandatory = true, Position = 0, ValueFromPipeline = true, ValueFromPipelineByPropertyName = true)]
    [AllowEmptyString]
    public string Message { get; set; } = string.Empty;

    /// <summary>panic, fatal, error, warn, info, debug or trace (a string: Core types stay out of cmdlet signatures).</summary>
    [Parameter(Position = 1)]
    [ValidateSet("panic", "fatal", "error", "warn", "info", "debug", "trace", IgnoreCase = true)]
    public string Level { get; set; } = "info";

    /// <summary>Extra fields, such as @{ file = 'a.rules'; line = 3 }.</summary>
    [Parameter]
    public IDictionary? Field { get; set; }

    protected override void ProcessRecord()
    {
        var fields = new List<LogField>();
        if (Field is not null)
        {
            foreach (DictionaryEntry entry in Field)
            {
                var value = entry.Value is PSObject wrapped ? wrapped.BaseObject : entry.Value;
                fields.Add(new LogField(entry.Key.ToString() ?? string.Empty, value));
            }
        }

        ConfigurationLoader.TryParseLogLevel(Level, out var level);
        if (Log.IsEnabled(level))
        {
            Log.Write(level, Message, fields);
        }
    }
}
