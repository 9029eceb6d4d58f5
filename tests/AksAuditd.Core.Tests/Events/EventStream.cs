using System.Collections.Concurrent;
using AksAuditd.Core.Events;

namespace AksAuditd.Core.Tests.Events;

/// <summary>Reads a query on a background thread so a test can wait for each event with a bound on time.</summary>
internal sealed class EventStream : IDisposable
{
    private readonly BlockingCollection<AuditEvent> _events = new();
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _reading;

    public EventStream(AuditEventReader reader, AuditEventQuery query)
    {
        _reading = Task.Run(() =>
        {
            try
            {
                foreach (var auditEvent in reader.Read(query, _stop.Token))
                {
                    _events.Add(auditEvent);
                }
            }
            finally
            {
                _events.CompleteAdding();
            }
        });
    }

    /// <summary>The next event, or null when none came within the time (or the reading ended).</summary>
    public AuditEvent? Next(TimeSpan within) => _events.TryTake(out var auditEvent, within) ? auditEvent : null;

    /// <summary>Cancels like Ctrl+C does; true when the reader ended within the time.</summary>
    public bool Stop(TimeSpan within)
    {
        _stop.Cancel();
        return _reading.Wait(within);
    }

    public Exception? Failure => _reading.Exception;

    public void Dispose()
    {
        _stop.Cancel();
        _reading.Wait(TimeSpan.FromSeconds(10));
        _stop.Dispose();
    }
}
