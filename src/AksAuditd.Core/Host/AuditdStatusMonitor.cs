using System.Collections.Concurrent;

namespace AksAuditd.Core.Host;

/// <summary>One thing about the audit state an operator should act on; <see cref="Code"/> is stable for alerts and tests.</summary>
public sealed record AuditdHealthWarning(string Code, string Message)
{
    public const string EventsLost = "EventsLost";
    public const string BacklogNearLimit = "BacklogNearLimit";
    public const string AuditPidHeldByOther = "AuditPidHeldByOther";
    public const string Immutable = "Immutable";

    public override string ToString() => Message;
}

/// <summary>
/// Turns audit status readings into warnings. Lost events only mean something as growth, so the monitor keeps the
/// last reading per host root: the entrypoint loop calls Get-AuditdStatus every cycle in one process, and each
/// cycle warns about what was lost since the previous one.
/// </summary>
public sealed class AuditdStatusMonitor
{
    private readonly ConcurrentDictionary<string, AuditdStatus> _last = new(StringComparer.Ordinal);

    /// <summary>The process-wide monitor the cmdlets share, so repeated Get-AuditdStatus calls compare with each other.</summary>
    public static AuditdStatusMonitor Shared { get; } = new();

    /// <summary>Warnings for <paramref name="status"/> compared with the previous reading of the same host root, which it then replaces.</summary>
    public IReadOnlyList<AuditdHealthWarning> Observe(AuditdStatus status)
    {
        AuditdStatus? previous = null;
        _last.AddOrUpdate(status.HostRoot, status, (_, before) =>
        {
            previous = before;
            return status;
        });
        return Compare(status, previous);
    }

    /// <summary>Warnings for <paramref name="current"/>; lost-event growth only when a <paramref name="previous"/> reading exists.</summary>
    public static IReadOnlyList<AuditdHealthWarning> Compare(AuditdStatus current, AuditdStatus? previous)
    {
        var warnings = new List<AuditdHealthWarning>();
        // A smaller count means a reset (auditctl --reset-lost, a reboot), not negative loss.
        if (previous is not null && current.Lost > previous.Lost)
        {
            warnings.Add(new AuditdHealthWarning(
                AuditdHealthWarning.EventsLost,
                $"The kernel lost {current.Lost - previous.Lost} audit events since the last check ({current.Lost} in all): raise the backlog limit (-b) or lower the event rate."));
        }

        if (current.BacklogNearLimit)
        {
            warnings.Add(new AuditdHealthWarning(
                AuditdHealthWarning.BacklogNearLimit,
                $"The audit backlog is {current.Backlog} of {current.BacklogLimit}: events will be lost when it is full."));
        }

        if (current.Pid != 0 && current.PidHolder != "auditd")
        {
            warnings.Add(new AuditdHealthWarning(
                AuditdHealthWarning.AuditPidHeldByOther,
                $"{current.PidHolder ?? "An unknown process"} (PID {current.Pid}) holds the kernel's audit PID, not auditd."));
        }

        if (current.Immutable)
        {
            warnings.Add(new AuditdHealthWarning(AuditdHealthWarning.Immutable, "Audit rules are immutable (enabled 2) until the node reboots."));
        }

        return warnings;
    }
}
