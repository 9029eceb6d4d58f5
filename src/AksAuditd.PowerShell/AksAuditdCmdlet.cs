using System.Management.Automation;
using AksAuditd.Core.Configuration;
using AksAuditd.Core.Host;
using AksAuditd.Core.Logging;

namespace AksAuditd.PowerShell;

/// <summary>
/// What every AksAuditd cmdlet shares: the log sink for Core services, the configuration, the node's host root,
/// and the error records of work on the node.
/// </summary>
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

    // The configuration warnings this process has shown. The entrypoint runs the sync cmdlets every poll for the life
    // of the node: a warning about the same config.yaml belongs in the log once, not twice a poll.
    private static readonly HashSet<string> ShownWarnings = new(StringComparer.Ordinal);

    /// <summary>
    /// Loads the configuration, turning a bad one into a terminating error that names the setting. Its warnings
    /// are written the first time this process meets them (every time with <paramref name="everyWarning"/>, for
    /// Get-AksAuditdConfiguration, whose job is to report them), then only to the verbose stream.
    /// </summary>
    internal AksAuditdConfiguration LoadConfiguration(string? path = null, bool everyWarning = false)
    {
        try
        {
            var configuration = new ConfigurationLoader().Load(path);
            foreach (var warning in configuration.Warnings)
            {
                bool first;
                lock (ShownWarnings)
                {
                    first = ShownWarnings.Add(warning);
                }

                if (first || everyWarning)
                {
                    WriteWarning(warning);
                }
                else
                {
                    WriteVerbose($"Configuration warning (shown before in this process): {warning}");
                }
            }

            return configuration;
        }
        catch (ConfigurationException e)
        {
            ThrowTerminatingError(new ErrorRecord(e, "InvalidConfiguration", ErrorCategory.InvalidArgument, (object?)e.Setting ?? e.Origin));
            throw; // not reached: ThrowTerminatingError always throws
        }
    }

    /// <summary>
    /// The node's / as this process reaches it: -HostRoot resolved against the current location, else the configured
    /// HostRoot (/node in the DaemonSet); without a trailing slash.
    /// </summary>
    internal string ResolveHostRoot(string? hostRoot, AksAuditdConfiguration? configuration = null)
    {
        var root = hostRoot is null
            ? (configuration ?? LoadConfiguration()).HostRoot
            : SessionState.Path.GetUnresolvedProviderPathFromPSPath(hostRoot);
        return root.Length > 1 ? root.TrimEnd('/') : root;
    }

    /// <summary>The host command runner for the node at <paramref name="hostRoot"/>; the verbose stream says how it reaches the node.</summary>
    internal HostCommandRunner NodeRunner(string hostRoot, string? detail = null)
    {
        var runner = HostCommandRunner.For(hostRoot, Log);
        WriteVerbose($"Reaching the node at {hostRoot} through {runner.Mode}{detail}");
        return runner;
    }

    /// <summary>How the node's kernel lists rules, for comparing rule text with it.</summary>
    internal static IKernelRuleCanon RuleCanon(string hostRoot) => KernelRuleCanon.ForNode(hostRoot);

    /// <summary>
    /// Runs work on the node; what stops it as a whole (a host command that fails or times out, a distribution
    /// without a supported package manager, a held package lock) becomes the terminating error every node cmdlet
    /// reports for it, with the same id, category and target.
    /// </summary>
    internal T RunOnNode<T>(string hostRoot, Func<T> work)
    {
        try
        {
            return work();
        }
        catch (HostCommandException e)
        {
            ThrowTerminatingError(new ErrorRecord(e, e.TimedOut ? "HostCommandTimedOut" : "HostCommandFailed", ErrorCategory.InvalidResult, e.CommandLine));
        }
        catch (UnsupportedDistributionException e)
        {
            ThrowTerminatingError(new ErrorRecord(e, "UnsupportedDistribution", ErrorCategory.NotImplemented, hostRoot));
        }
        catch (PackageLockHeldException e)
        {
            ThrowTerminatingError(new ErrorRecord(e, "PackageLockHeld", ErrorCategory.ResourceBusy, e.LockPath ?? e.CommandLine));
        }
        throw new InvalidOperationException("not reached: ThrowTerminatingError always throws");
    }

    internal void RunOnNode(string hostRoot, Action work) => RunOnNode(hostRoot, () =>
    {
        work();
        return true;
    });

    internal void WriteError(Exception exception, string errorId, ErrorCategory category, object? target)
    {
        WriteError(new ErrorRecord(exception, errorId, category, target));
    }

    private static LogLevel LoadLogLevel()
    {
        // Logging must not fail on a bad configuration; the configuration cmdlet reports that properly. A broken
        // edit keeps the level last read, as the entrypoint keeps the rest of the previous configuration.
        try
        {
            LastLogLevel.Value = new ConfigurationLoader().Load().LogLevel;
        }
        catch (ConfigurationException)
        {
        }

        return LastLogLevel.Value;
    }

    /// <summary>
    /// The level of the last configuration that loaded in this process (Info before any did). A class of its own: a
    /// Core-typed field on the cmdlet class would load AksAuditd.Core when PowerShell reads the cmdlets, before the
    /// module resolves its Dependencies.
    /// </summary>
    private static class LastLogLevel
    {
        public static LogLevel Value = LogLevel.Info;
    }
}
