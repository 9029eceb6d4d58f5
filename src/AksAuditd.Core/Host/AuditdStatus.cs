using System.Globalization;

namespace AksAuditd.Core.Host;

/// <summary>
/// The kernel's audit state (<c>auditctl -s</c>), what is loaded (<c>auditctl -l</c>) and who holds the audit PID.
/// Only one process can be the kernel's audit daemon; another agent (Defender, auditbeat) may hold it instead.
/// </summary>
public sealed class AuditdStatus
{
    /// <summary>The raw <c>enabled</c> value: 0 off, 1 on, 2 on and immutable until reboot.</summary>
    public int EnabledFlag { get; init; }

    public bool Enabled => EnabledFlag != 0;

    /// <summary><c>enabled 2</c>: no rule or setting can change until the node reboots.</summary>
    public bool Immutable => EnabledFlag == 2;

    /// <summary>0 silent, 1 printk, 2 panic: what the kernel does when it cannot deliver an event.</summary>
    public int Failure { get; init; }

    /// <summary>The PID the kernel sends events to; 0 when no audit daemon is registered.</summary>
    public int Pid { get; init; }

    /// <summary>The name of the process holding <see cref="Pid"/> (auditd, or another agent); null when none.</summary>
    public string? PidHolder { get; init; }

    /// <summary>auditd itself holds the audit PID.</summary>
    public bool Running => Pid != 0 && PidHolder == "auditd";

    /// <summary>What the service manager says (systemctl is-active / service status); null when not asked.</summary>
    public bool? ServiceActive { get; init; }

    public long RateLimit { get; init; }

    public long BacklogLimit { get; init; }

    public long Backlog { get; init; }

    /// <summary>Events the kernel dropped since boot (or since a reset); growth means lost audit records.</summary>
    public long Lost { get; init; }

    /// <summary>Jiffies a process waits for backlog room before the kernel drops its event.</summary>
    public long BacklogWaitTime { get; init; }

    public long? BacklogWaitTimeActual { get; init; }

    public bool? LoginUidImmutable { get; init; }

    public int LoadedRuleCount { get; init; }

    /// <summary>The auditctl version on the node (<c>auditctl -v</c>), such as 3.0.9.</summary>
    public string? Version { get; init; }

    public string HostRoot { get; init; } = "/";

    /// <summary>The backlog is at 80 % of its limit or more: events are about to be lost or delay callers.</summary>
    public bool BacklogNearLimit => BacklogLimit > 0 && Backlog * 5 >= BacklogLimit * 4;
}

/// <summary>Reads the text of <c>auditctl -s</c>, in the <c>key value</c> lines of audit 2.8 and later and the one-line form older auditctl printed.</summary>
public static class AuditStatusParser
{
    /// <exception cref="FormatException">The text has no <c>enabled</c> value.</exception>
    public static AuditdStatus Parse(string text)
    {
        var values = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var raw in text.Split('\n'))
        {
            var line = raw.Trim();
            if (line.StartsWith("AUDIT_STATUS:", StringComparison.Ordinal))
            {
                // auditctl before 2.3: "AUDIT_STATUS: enabled=1 flag=1 pid=123 rate_limit=0 backlog_limit=320 lost=0 backlog=0"
                foreach (var pair in line["AUDIT_STATUS:".Length..].Split(' ', StringSplitOptions.RemoveEmptyEntries))
                {
                    var equals = pair.IndexOf('=');
                    if (equals > 0)
                    {
                        values[pair[..equals] == "flag" ? "failure" : pair[..equals]] = pair[(equals + 1)..];
                    }
                }

                continue;
            }

            var space = line.IndexOf(' ');
            if (space > 0)
            {
                values[line[..space]] = line[(space + 1)..].Trim();
            }
        }

        if (!values.ContainsKey("enabled"))
        {
            throw new FormatException($"auditctl -s output has no 'enabled' line: \"{text.Trim()}\"");
        }

        return new AuditdStatus
        {
            EnabledFlag = (int)Number(values, "enabled"),
            Failure = (int)Number(values, "failure"),
            Pid = (int)Number(values, "pid"),
            RateLimit = Number(values, "rate_limit"),
            BacklogLimit = Number(values, "backlog_limit"),
            Backlog = Number(values, "backlog"),
            Lost = Number(values, "lost"),
            BacklogWaitTime = Number(values, "backlog_wait_time"),
            BacklogWaitTimeActual = values.ContainsKey("backlog_wait_time_actual") ? Number(values, "backlog_wait_time_actual") : null,
            // "loginuid_immutable 0 unlocked" / "1 locked"
            LoginUidImmutable = values.TryGetValue("loginuid_immutable", out var loginuid) ? loginuid.StartsWith('1') : null,
        };
    }

    /// <summary>The number of rules in <c>auditctl -l</c> output ("No rules" is zero).</summary>
    public static int CountRules(string listing) =>
        listing.Split('\n').Count(l => l.Trim().Length > 0 && l.Trim() != "No rules");

    /// <summary>"auditctl version 3.0.9" is 3.0.9.</summary>
    public static string? ParseVersion(string text)
    {
        var words = text.Trim().Split(' ', StringSplitOptions.RemoveEmptyEntries);
        return words.Length > 0 && char.IsAsciiDigit(words[^1][0]) ? words[^1] : null;
    }

    private static long Number(Dictionary<string, string> values, string key)
    {
        if (!values.TryGetValue(key, out var text))
        {
            return 0;
        }

        var first = text.Split(' ')[0];
        return long.TryParse(first, NumberStyles.Integer, CultureInfo.InvariantCulture, out var value)
            ? value
            : throw new FormatException($"auditctl -s: '{key} {text}' is not a number");
    }
}
