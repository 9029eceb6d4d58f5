using AksAuditd.Core.Health;
using AksAuditd.Core.Logging;

namespace AksAuditd.Core.Host;

/// <summary>Builds <see cref="AuditdStatus"/> from auditctl, the service manager and /proc on the node.</summary>
public sealed class AuditdStatusReader
{
    private readonly IHostCommandRunner _runner;
    private readonly ILogSink _log;

    public AuditdStatusReader(IHostCommandRunner runner, ILogSink? log = null)
    {
        _runner = runner;
        _log = log ?? NullLogSink.Instance;
    }

    /// <exception cref="HostCommandException">auditctl cannot talk to the kernel (not root, or not in the initial PID namespace).</exception>
    public AuditdStatus Read()
    {
        var status = AuditStatusParser.Parse(Auditctl.Run(_runner, "-s").StandardOutput);
        var listing = Auditctl.Run(_runner, "-l").StandardOutput;
        var version = AuditStatusParser.ParseVersion(Auditctl.Run(_runner, "-v").StandardOutput);
        var reading = new AuditdStatus
        {
            EnabledFlag = status.EnabledFlag,
            Failure = status.Failure,
            Pid = status.Pid,
            PidHolder = status.Pid == 0 ? null : ProcessName(status.Pid),
            ServiceActive = ServiceActive(),
            RateLimit = status.RateLimit,
            BacklogLimit = status.BacklogLimit,
            Backlog = status.Backlog,
            Lost = status.Lost,
            BacklogWaitTime = status.BacklogWaitTime,
            BacklogWaitTimeActual = status.BacklogWaitTimeActual,
            LoginUidImmutable = status.LoginUidImmutable,
            LoadedRuleCount = AuditStatusParser.CountRules(listing),
            Version = version,
            HostRoot = _runner.HostRoot,
        };
        Recorder.Record(reading);
        return reading;
    }

    /// <summary>Where every kernel reading is reported; the process-wide recorder by default.</summary>
    public NodeHealthRecorder Recorder { get; init; } = NodeHealthRecorder.Shared;

    /// <summary>The command name of a node process (<c>/proc/PID/comm</c> in the node's PID namespace); null when it is gone.</summary>
    public string? ProcessName(int pid)
    {
        var result = _runner.Run(new HostCommand("cat", $"/proc/{pid}/comm") { AcceptedExitCodes = new[] { 1 } });
        return result.Succeeded ? result.StandardOutput.Trim() : null;
    }

    private bool? ServiceActive()
    {
        NodeDistribution distribution;
        try
        {
            distribution = NodeDistribution.Detect(_runner.HostRoot);
        }
        catch (UnsupportedDistributionException e)
        {
            // The kernel's view still stands; only the service manager's is unknown.
            _log.Debug("service state not read", new LogField("reason", e.Message));
            return null;
        }

        var service = new AuditdService(distribution.Family, AuditdService.DetectInit(_runner.HostRoot), _runner.Mode);
        try
        {
            return _runner.Run(service.IsActive()).Succeeded;
        }
        catch (HostCommandException e)
        {
            _log.Debug("service state not read", new LogField("reason", e.Message));
            return null;
        }
    }
}

/// <summary>auditctl through the runner, with the one hint every kernel refusal needs.</summary>
internal static class Auditctl
{
    public static HostCommandResult Run(IHostCommandRunner runner, params string[] arguments)
    {
        try
        {
            return runner.Run(new HostCommand("auditctl", arguments));
        }
        // Only when auditctl ran: a missing auditctl (chroot exits 127, or 126 when not executable) is not a kernel refusal.
        catch (HostCommandException e) when (!e.TimedOut && e.ExitCode is not (null or 126 or 127) && runner.Mode == HostAccessMode.Chroot && !HostCommandRunner.InInitialPidNamespace())
        {
            throw new HostCommandException(
                e.Message + " The kernel accepts audit requests only from the initial PID namespace: run the pod with hostPID: true.",
                e.CommandLine,
                e.ExitCode,
                e.StandardError,
                timedOut: false,
                e);
        }
    }
}
