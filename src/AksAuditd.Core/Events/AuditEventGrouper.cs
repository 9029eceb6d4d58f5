using System.Runtime.CompilerServices;
namespace AksAuditd.Core.Events;

/// <summary>
/// Gathers records into events the way ausearch does: records with the same time stamp, serial and node belong
/// together even when other events' records come between them. An event is complete on EOE, at once when its
/// first record is a type that is an event by itself, or once a newer event is at least end_of_event_timeout
/// seconds (log time) younger. Completed events leave oldest first, so output stays in time order.
/// </summary>
internal sealed class AuditEventGrouper
{
    private readonly long _timeoutSeconds;
    private readonly Dictionary<EventKey, Pending> _building = new();
    private readonly List<Pending> _ordered = new();
    private int _head;
    private long _oldestBuildingSecond = long.MaxValue;
    private Pending? _last;

    public AuditEventGrouper(int endOfEventTimeoutSeconds) => _timeoutSeconds = Math.Max(0, endOfEventTimeoutSeconds);

    /// <summary>Events still waiting for records.</summary>
    public int BuildingCount => _building.Count;

    /// <summary>Adds a record; true when it started a new event (the caller tracks serials of new events).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public bool Add(AuditRecord record, RecordType type, Queue<AuditEvent> ready)
    {
        var key = new EventKey(record.Serial, record.Seconds, record.Milliseconds, record.Node);

        // An event's records usually arrive one after another, so the last event is checked first.
        var pending = _last is { Complete: false } last && last.Key.Serial == key.Serial && last.Key.Equals(key) ? last : null;
        if (pending is not null || _building.TryGetValue(key, out pending))
        {
            pending.Event.Add(record);
            if (type.Number == RecordType.EndOfEvent)
            {
                Complete(pending);
                Drain(ready);
            }

            return false;
        }

        // A lone EOE belongs to an event that was already completed.
        if (type.Number == RecordType.EndOfEvent)
        {
            return false;
        }

        pending = new Pending(key, new AuditEvent(record));
        _last = pending;
        Insert(pending);
        _building.Add(key, pending);
        _oldestBuildingSecond = Math.Min(_oldestBuildingSecond, record.Seconds);
        if (type.IsSingleRecordEvent)
        {
            Complete(pending);
        }

        if (_oldestBuildingSecond + _timeoutSeconds <= record.Seconds)
        {
            CompleteOlderThan(record.Seconds);
        }

        Drain(ready);
        return true;
    }

    /// <summary>Completes every event: the end of the input, or a quiet log that will not add to them.</summary>
    public void Flush(Queue<AuditEvent> ready)
    {
        foreach (var pending in _building.Values.ToList())
        {
            Complete(pending);
        }

        Drain(ready);
    }

    private void CompleteOlderThan(long second)
    {
        var oldest = long.MaxValue;
        foreach (var pending in _building.Values.ToList())
        {
            if (pending.Key.Seconds + _timeoutSeconds <= second)
            {
                Complete(pending);
            }
            else
            {
                oldest = Math.Min(oldest, pending.Key.Seconds);
            }
        }

        _oldestBuildingSecond = oldest;
    }

    private void Complete(Pending pending)
    {
        if (!pending.Complete)
        {
            pending.Complete = true;
            _building.Remove(pending.Key);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void Insert(Pending pending)
    {
        // Records arrive nearly in time order, so the new event almost always goes last.
        var index = _ordered.Count;
        while (index > _head && pending.Key.CompareTo(_ordered[index - 1].Key) < 0)
        {
            index--;
        }

        _ordered.Insert(index, pending);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void Drain(Queue<AuditEvent> ready)
    {
        while (_head < _ordered.Count && _ordered[_head].Complete)
        {
            ready.Enqueue(_ordered[_head].Event);
            _ordered[_head] = null!;
            _head++;
        }

        if (_head == _ordered.Count)
        {
            _ordered.Clear();
            _head = 0;
        }
        else if (_head > 1024 && _head > _ordered.Count / 2)
        {
            _ordered.RemoveRange(0, _head);
            _head = 0;
        }
    }

    private readonly record struct EventKey(long Serial, long Seconds, int Milliseconds, string? Node) : IComparable<EventKey>
    {
        public int CompareTo(EventKey other)
        {
            var bySecond = Seconds.CompareTo(other.Seconds);
            if (bySecond != 0)
            {
                return bySecond;
            }

            var byMillisecond = Milliseconds.CompareTo(other.Milliseconds);
            return byMillisecond != 0 ? byMillisecond : Serial.CompareTo(other.Serial);
        }
    }

    private sealed class Pending(EventKey key, AuditEvent auditEvent)
    {
        public EventKey Key { get; } = key;

        public AuditEvent Event { get; } = auditEvent;

        public bool Complete { get; set; }
    }
}
