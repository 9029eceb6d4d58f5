using System.Globalization;
using AksAuditd.Core.Configuration;

namespace AksAuditd.Core.Events;

/// <summary>
/// Where the node's auditd writes (log_file) and how long it waits for an event's records
/// (end_of_event_timeout), read from auditd.conf under the host root with auditd's defaults.
/// </summary>
public sealed record AuditLogLocation(string LogFile, int EndOfEventTimeoutSeconds, string ConfigurationFile)
{
    public const string DefaultLogFile = "/var/log/audit/audit.log";
    public const int DefaultEndOfEventTimeout = 2;

    /// <summary>Reads HOSTROOT/etc/audit/auditd.conf; a missing file or setting means auditd's default.</summary>
    public static AuditLogLocation Read(string hostRoot)
    {
        var configuration = HostPath.Join(hostRoot, "/etc/audit/auditd.conf");
        var logFile = DefaultLogFile;
        var timeout = DefaultEndOfEventTimeout;
        if (File.Exists(configuration))
        {
            foreach (var line in File.ReadLines(configuration))
            {
                var equals = line.IndexOf('=');
                if (line.TrimStart().StartsWith('#') || equals < 0)
                {
                    continue;
                }

                var name = line[..equals].Trim();
                var value = line[(equals + 1)..].Trim();
                if (name == "log_file" && value.StartsWith('/'))
                {
                    logFile = value;
                }
                else if (name == "end_of_event_timeout" && int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var seconds))
                {
                    timeout = seconds;
                }
            }
        }

        return new AuditLogLocation(HostPath.Join(hostRoot, logFile), timeout, configuration);
    }

    /// <summary>
    /// A log and its rotations oldest first: audit.log.N ... audit.log.1, audit.log (auditd renames .1 to .2 and so on
    /// when it rotates, so a higher number is older). Only files that exist are returned.
    /// </summary>
    public static IReadOnlyList<string> WithRotations(string logFile)
    {
        var directory = Path.GetDirectoryName(logFile);
        var name = Path.GetFileName(logFile);
        var rotations = new List<(int Number, string Path)>();
        if (directory is not null && Directory.Exists(directory))
        {
            foreach (var candidate in Directory.EnumerateFiles(directory, name + ".*"))
            {
                var candidateName = Path.GetFileName(candidate);
                if (candidateName.Length <= name.Length + 1 || !candidateName.StartsWith(name + ".", StringComparison.Ordinal))
                {
                    continue;
                }

                if (int.TryParse(candidateName.AsSpan(name.Length + 1), NumberStyles.None, CultureInfo.InvariantCulture, out var number) && number > 0)
                {
                    rotations.Add((number, candidate));
                }
            }
        }

        var files = rotations.OrderByDescending(r => r.Number).Select(r => r.Path).ToList();
        if (File.Exists(logFile))
        {
            files.Add(logFile);
        }

        return files;
    }
}
