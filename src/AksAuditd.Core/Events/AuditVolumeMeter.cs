using System.Diagnostics;
using System.Runtime.CompilerServices;
using AksAuditd.Core.Logging;

namespace AksAuditd.Core.Events;

/// <summary>
/// Measures what a log holds, group by group, without interpreting events: each line's header is parsed in place,
/// records are tied to their event by node, serial and time stamp, and only the few fields a grouping needs (key,
/// exe, syscall, arch) are read. Memory holds the open events and one counter per group, whatever the log's size.
/// Events are counted as <c>aureport --key --summary</c> counts them: records with the same stamp form one event,
/// complete at EOE, at once for a type that is an event by itself, or end_of_event_timeout seconds later.
/// </summary>
public sealed class AuditVolumeMeter
{
    private readonly ILogSink _log;

    public AuditVolumeMeter(ILogSink? log = null) => _log = log ?? NullLogSink.Instance;

    public AuditVolumeReport Measure(AuditVolumeQuery query, CancellationToken cancellationToken = default)
    {
        var reader = new AuditEventReader(_log);
        var files = reader.ResolveFiles(new AuditEventQuery { Paths = query.Paths, HostRoot = query.HostRoot });
        var location = AuditLogLocation.Read(query.HostRoot);
        if (files.Count == 0)
        {
            throw new FileNotFoundException($"No audit log at {location.LogFile} (log_file in {location.ConfigurationFile}).", location.LogFile);
        }

        var window = AuditTimeWindow.From(query.After, query.Before);
        var tally = new AuditVolumeTally(query.GroupBy, location.EndOfEventTimeoutSeconds, window.AfterMilliseconds, window.BeforeMilliseconds);
        foreach (var file in files)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var started = Stopwatch.GetTimestamp();
            var malformedBefore = tally.MalformedLines;
            using (var stream = AuditLogLineReader.OpenShared(file))
            using (var lines = new AuditLogLineReader(stream))
            {
                tally.ReadAll(lines, cancellationToken);
            }

            if (tally.MalformedLines > malformedBefore)
            {
                _log.Warn($"Skipped {tally.MalformedLines - malformedBefore} lines of {file} that are not audit records (the first: line {tally.FirstMalformedLine})",
                    new LogField("file", file));
            }

            _log.Debug("Measured audit log", new LogField("file", file),
                new LogField("durationMs", (long)Stopwatch.GetElapsedTime(started).TotalMilliseconds));
        }

        tally.Finish();
        return new AuditVolumeReportBuilder(query, tally).Build(files);
    }
}
