using System.Management.Automation;
using AksAuditd.Core.Configuration;
using AksAuditd.Core.Logging;

namespace AksAuditd.PowerShell;

/// <summary>What every AksAuditd cmdlet shares: the log sink for Core services and typed error records.</summary>
public abstract class AksAuditdCmdlet : PSCmdlet
{
    private ILogSink? _log;

    /// <summary>
    /// Where Core services log: JSON lines on stdout when the entrypoint set AA_LOG_FORMAT=json, otherwise
    /// this cmdlet's PowerShell streams.
    /// </summary>
    internal ILogSink Log => _log ??= ProcessLog.JsonRequested
        ? ProcessLog.Json(LoadLogLevel())
        : new StreamLogSink(this);

    /// <summary>Loads the configuration, turning a bad one into a terminating error that names the setting.</summary>
    internal AksAuditdConfiguration LoadConfiguration(string? path = null)
    {
        try
        {
            var configuration = new ConfigurationLoader().Load(path);
            foreach (var warning in configuration.Warnings)
            {
                WriteWarning(warning);
            }

            return configuration;
        }
        catch (ConfigurationException e)
        {
            ThrowTerminatingError(new ErrorRecord(e, "InvalidConfiguration", ErrorCategory.InvalidArgument, (object?)e.Setting ?? e.Origin));
            throw; // not reached: ThrowTerminatingError always throws
        }
    }

    internal void WriteError(Exception exception, string errorId, ErrorCategory category, object? target)
    {
        WriteError(new ErrorRecord(exception, errorId, category, target));
    }

    private static LogLevel LoadLogLevel()
    {
        // Logging must not fail on a bad configuration; the configuration cmdlet reports that properly.
        try
        {
            return new ConfigurationLoader().Load().LogLevel;
        }
        catch (ConfigurationException)
        {
            return LogLevel.Info;
        }
    }
}
