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
    private readonly Predicate<AuditRecord>? _rejectsAtStart;
    private readonly PendingIndex _building = new();
    private readonly List<Pending> _ordered = new();
    private int _head;
    private long _oldestBuildingSecond = long.MaxValue;
    private Pending? _last;

    /// <param name="endOfEventTimeoutSeconds">auditd's end_of_event_timeout.</param>
    /// <param name="rejectsAtStart">
    /// True for an event's first record when that record alone shows the event is not wanted: the event is still
    /// grouped, so its later records are recognised, but they are not kept and the event is never handed out.
    /// </param>
    public AuditEventGrouper(int endOfEventTimeoutSeconds, Predicate<AuditRecord>? rejectsAtStart = null)
    {
        _timeoutSeconds = Math.Max(0, endOfEventTimeoutSeconds);
        _rejectsAtStart = rejectsAtStart;
    }

    /// <summary>Events still waiting for records.</summary>
    public int BuildingCount => _building.Count;

    /// <summary>Adds a record; true when it started a new event (the caller tracks serials of new events).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public bool Add(AuditRecord record, RecordType type, Queue<AuditEvent> ready)
    {
        var key = new EventKey(record.Serial, record.Seconds, record.Milliseconds, record.Node);

        // An event's records usually arrive one after another, so the last event is checked first.
        var pending = _last is { Complete: false } last && last.Key.Same(key) ? last : _building.Find(key);
        if (pending is not null)
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

        pending = new Pending(key, new AuditEvent(record)) { Rejected = _rejectsAtStart?.Invoke(record) == true };
        _last = pending;
        Insert(pending);
        _building.Add(pending);
        _oldestBuildingSecond = Math.Min(_oldestBuildingSecond, record.Seconds);
        if (type.IsSingleRecordEvent)
        {
            Complete(pending);
        }

        AdvanceClock(record.Seconds, ready);
        return true;
    }

    /// <summary>
    /// True when the record belongs to an event already rejected by its first record: the record is not needed, and
    /// the caller need not build it. An EOE still completes that event.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public bool BelongsToRejected(long serial, long seconds, int milliseconds, string? node, RecordType type, Queue<AuditEvent> ready)
    {
        var key = new EventKey(serial, seconds, milliseconds, node);
        var pending = _last is { Complete: false } last && last.Key.Same(key) ? last : _building.Find(key);
        if (pending is not { Rejected: true })
        {
            return false;
        }

        if (type.Number == RecordType.EndOfEvent)
        {
            Complete(pending);
            Drain(ready);
        }

        return true;
    }

    /// <summary>
    /// Skips a record of a type that is an event on its own, when it starts an event (no open event has its time
    /// stamp and serial): the event is complete at once, so a caller that does not want it need not build it. The
    /// grouping goes on exactly as if the event had been added and dropped. False when the record joins an open event.
    /// </summary>
    public bool SkipSingleRecordEvent(long serial, long seconds, int milliseconds, string? node, Queue<AuditEvent> ready)
    {
        var key = new EventKey(serial, seconds, milliseconds, node);
        if ((_last is { Complete: false } last && last.Key.Same(key)) || _building.Find(key) is not null)
        {
            return false;
        }

        _oldestBuildingSecond = Math.Min(_oldestBuildingSecond, seconds);
        AdvanceClock(seconds, ready);
        return true;
    }

    /// <summary>Completes every event: the end of the input, or a quiet log that will not add to them.</summary>
    public void Flush(Queue<AuditEvent> ready)
    {
        foreach (var pending in _building.All())
        {
            Complete(pending);
        }

        Drain(ready);
    }

    /// <summary>A record this many seconds into the log completes the events that end_of_event_timeout says are over.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void AdvanceClock(long seconds, Queue<AuditEvent> ready)
    {
        if (_oldestBuildingSecond + _timeoutSeconds <= seconds)
        {
            CompleteOlderThan(seconds);
        }

        Drain(ready);
    }

    private void CompleteOlderThan(long second)
    {
        var oldest = long.MaxValue;
        foreach (var pending in _building.All())
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
            _building.Remove(pending);
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
            if (!_ordered[_head].Rejected)
            {
                ready.Enqueue(_ordered[_head].Event);
            }

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
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public bool Same(in EventKey other) =>
            Serial == other.Serial && Seconds == other.Seconds && Milliseconds == other.Milliseconds
            && (ReferenceEquals(Node, other.Node) || string.Equals(Node, other.Node, StringComparison.Ordinal));

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
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

        /// <summary>Not wanted, as its first record showed: its later records are not kept and it is never handed out.</summary>
        public bool Rejected { get; init; }

        /// <summary>The next event in the same <see cref="PendingIndex"/> bucket.</summary>
        public Pending? Next { get; set; }
    }

    /// <summary>
    /// Open events by serial: a small chained hash table, so no generic collection over a struct key has to be
    /// compiled (and run unoptimized at first) when a log is read once.
    /// </summary>
    private sealed class PendingIndex
    {
        private Pending?[] _buckets = new Pending?[256];

        public int Count { get; private set; }

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public Pending? Find(in EventKey key)
        {
            for (var pending = _buckets[Bucket(key.Serial, _buckets.Length)]; pending is not null; pending = pending.Next)
            {
                if (pending.Key.Same(key))
                {
                    return pending;
                }
            }

            return null;
        }

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public void Add(Pending pending)
        {
            if (Count >= _buckets.Length)
            {
                Grow();
            }

            var bucket = Bucket(pending.Key.Serial, _buckets.Length);
            pending.Next = _buckets[bucket];
            _buckets[bucket] = pending;
            Count++;
        }

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public void Remove(Pending pending)
        {
            var bucket = Bucket(pending.Key.Serial, _buckets.Length);
            Pending? previous = null;
            for (var current = _buckets[bucket]; current is not null; previous = current, current = current.Next)
            {
                if (ReferenceEquals(current, pending))
                {
                    if (previous is null)
                    {
                        _buckets[bucket] = current.Next;
                    }
                    else
                    {
                        previous.Next = current.Next;
                    }

                    current.Next = null;
                    Count--;
                    return;
                }
            }
        }

        public List<Pending> All()
        {
            var all = new List<Pending>(Count);
            foreach (var head in _buckets)
            {
                for (var pending = head; pending is not null; pending = pending.Next)
                {
                    all.Add(pending);
                }
            }

            return all;
        }

        private static int Bucket(long serial, int length) => (int)((ulong)serial & (ulong)(length - 1));

        private void Grow()
        {
            var all = All();
            _buckets = new Pending?[_buckets.Length * 2];
            Count = 0;
            foreach (var pending in all)
            {
                pending.Next = null;
                Add(pending);
            }
        }
    }
}
