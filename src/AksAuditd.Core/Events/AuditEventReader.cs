using System.Runtime.CompilerServices;
using System.Diagnostics;
using System.Globalization;
using AksAuditd.Core.Audit;
using AksAuditd.Core.Logging;

namespace AksAuditd.Core.Events;

/// <summary>
/// Reads audit logs as events: streams each file line by line with a bounded buffer, skips malformed lines with
/// a warning that names the file and line, groups records into events, filters them, and yields each event as
/// soon as it is complete. With <see cref="AuditEventQuery.Follow"/> it keeps reading the live log like tail -f,
/// across auditd's rotations, until the token is cancelled.
/// </summary>
public sealed class AuditEventReader
{
    private readonly ILogSink _log;
    private readonly IAccountNames? _accounts;

    /// <param name="log">Where warnings (malformed lines, lost events) and progress go.</param>
    /// <param name="accounts">Id-to-name lookups; by default the passwd and group files under the query's host root.</param>
    public AuditEventReader(ILogSink log, IAccountNames? accounts = null)
    {
        _log = log;
        _accounts = accounts;
    }

    /// <summary>The files a query reads, oldest first (rotations before the live log).</summary>
    public IReadOnlyList<string> ResolveFiles(AuditEventQuery query)
    {
        if (query.Paths.Count == 0)
        {
            var location = AuditLogLocation.Read(query.HostRoot);
            var files = AuditLogLocation.WithRotations(location.LogFile);
            return files.Count == 0 && query.Follow ? [location.LogFile] : files;
        }

        var resolved = new List<string>();
        foreach (var path in query.Paths)
        {
            if (Directory.Exists(path))
            {
                resolved.AddRange(AuditLogLocation.WithRotations(Path.Combine(path, "audit.log")));
            }
            else
            {
                resolved.Add(path);
            }
        }

        return InRotationOrder(resolved);
    }

    public IEnumerable<AuditEvent> Read(AuditEventQuery query, CancellationToken cancellationToken = default)
    {
        var location = AuditLogLocation.Read(query.HostRoot);
        var files = ResolveFiles(query);
        if (files.Count == 0)
        {
            throw new FileNotFoundException($"No audit log at {location.LogFile} (log_file in {location.ConfigurationFile}).", location.LogFile);
        }

        var session = new ReadSession(query, location.EndOfEventTimeoutSeconds, _log, _accounts ?? new HostAccountNames(query.HostRoot));
        return session.Run(files, cancellationToken);
    }

    /// <summary>Puts audit.log.N before audit.log.1 before audit.log for each log, keeping other files in the given order.</summary>
    internal static IReadOnlyList<string> InRotationOrder(IEnumerable<string> files)
    {
        var distinct = files.Distinct(StringComparer.Ordinal).ToList();
        var groups = new List<(string Base, List<(int Rank, string Path)> Files)>();
        foreach (var file in distinct)
        {
            var (baseName, rank) = RotationOf(file);
            var group = groups.FindIndex(g => g.Base == baseName);
            if (group < 0)
            {
                groups.Add((baseName, [(rank, file)]));
            }
            else
            {
                groups[group].Files.Add((rank, file));
            }
        }

        return groups.SelectMany(g => g.Files.OrderByDescending(f => f.Rank).Select(f => f.Path)).ToList();

        static (string Base, int Rank) RotationOf(string file)
        {
            var dot = file.LastIndexOf('.');
            return dot > 0 && int.TryParse(file.AsSpan(dot + 1), NumberStyles.None, CultureInfo.InvariantCulture, out var n) && n > 0
                ? (file[..dot], n)
                : (file, 0);
        }
    }

    /// <summary>The state of one read: grouping, filters, the tail window and the serials seen so far.</summary>
    private sealed class ReadSession
    {
        private readonly AuditEventQuery _query;
        private readonly ILogSink _log;
        private readonly AuditValueInterpreter _interpreter;
        private readonly AuditEventGrouper _grouper;
        private readonly int _timeoutSeconds;
        private readonly SerialGapDetector _gaps = new();
        private readonly List<SerialGapDetector.Gap> _lost = new();
        private readonly RecordTypeCache _types = new();
        private readonly Queue<AuditEvent> _ready = new();
        private readonly Queue<AuditEvent> _output = new();
        private readonly Queue<AuditEvent>? _tail;
        private readonly WildcardSet _keys;
        private readonly WildcardSet _executables;
        private readonly long _afterMilliseconds;
        private readonly long _beforeMilliseconds;
        private readonly HashSet<string>? _messageTypes;
        private readonly HashSet<int>? _processIds;
        private readonly bool _rejectsAtStart;
        private byte[] _nodeBytes = [];
        private string? _node;
        private bool _tailing;

        public ReadSession(AuditEventQuery query, int timeoutSeconds, ILogSink log, IAccountNames accounts)
        {
            _query = query;
            _log = log;
            _timeoutSeconds = timeoutSeconds;
            _interpreter = new AuditValueInterpreter(accounts, query.HostRoot);
            _keys = new WildcardSet(query.Keys);
            _executables = new WildcardSet(query.Executables);
            _messageTypes = query.MessageTypes.Count > 0 ? new HashSet<string>(query.MessageTypes, StringComparer.OrdinalIgnoreCase) : null;
            _processIds = query.ProcessIds.Count > 0 ? new HashSet<int>(query.ProcessIds) : null;
            _rejectsAtStart = !_keys.IsEmpty || !_executables.IsEmpty || query.Success is not null || _processIds is not null;
            _grouper = new AuditEventGrouper(timeoutSeconds, _rejectsAtStart ? RejectsAtStart : null);
            (_afterMilliseconds, _beforeMilliseconds) = AuditTimeWindow.From(query.After, query.Before);
            if (query.Tail is { } tail)
            {
                _tail = new Queue<AuditEvent>(Math.Max(0, Math.Min(tail, 100_000)));
                _tailing = true;
            }
        }

        public IEnumerable<AuditEvent> Run(IReadOnlyList<string> files, CancellationToken cancellationToken)
        {
            for (var i = 0; i < files.Count; i++)
            {
                var follow = _query.Follow && i == files.Count - 1;
                var events = follow ? Follow(files[i], cancellationToken) : ReadToEnd(files[i], cancellationToken);
                foreach (var auditEvent in events)
                {
                    yield return auditEvent;
                }

                if (cancellationToken.IsCancellationRequested)
                {
                    yield break;
                }
            }

            _grouper.Flush(_ready);
            _gaps.Finish(_lost);
            Pump(files[^1], 0);
            EndBacklog();
            while (_output.Count > 0)
            {
                yield return _output.Dequeue();
            }
        }

        private IEnumerable<AuditEvent> ReadToEnd(string path, CancellationToken cancellationToken)
        {
            _log.Debug("Reading audit log", new LogField("file", path));
            var started = Stopwatch.GetTimestamp();
            using var stream = AuditLogLineReader.OpenShared(path);
            using var reader = new AuditLogLineReader(stream);
            while (!cancellationToken.IsCancellationRequested)
            {
                var status = ReadUntilOutput(reader, path);
                while (_output.Count > 0)
                {
                    yield return _output.Dequeue();
                }

                if (status == LineStatus.NoData)
                {
                    if (reader.TryTakeUnterminated())
                    {
                        Process(reader.Line, path, reader.LineNumber);
                    }

                    Pump(path, reader.LineNumber);
                    break;
                }
            }

            while (_output.Count > 0)
            {
                yield return _output.Dequeue();
            }

            _log.Debug("Read audit log", new LogField("file", path), new LogField("lines", reader.LineNumber),
                new LogField("durationMs", (long)Stopwatch.GetElapsedTime(started).TotalMilliseconds));
        }

        private IEnumerable<AuditEvent> Follow(string path, CancellationToken cancellationToken)
        {
            FileStream? stream = null;
            AuditLogLineReader? reader = null;
            FileIdentity identity = default;
            var hasIdentity = false;
            long idleSince = 0;
            try
            {
                while (!cancellationToken.IsCancellationRequested)
                {
                    if (stream is null)
                    {
                        if (!File.Exists(path))
                        {
                            EndBacklog();
                            foreach (var e in DrainOutput())
                            {
                                yield return e;
                            }

                            cancellationToken.WaitHandle.WaitOne(_query.PollInterval);
                            continue;
                        }

                        stream = AuditLogLineReader.OpenShared(path);
                        reader = new AuditLogLineReader(stream);
                        hasIdentity = FileIdentity.TryGet(stream.SafeFileHandle, out identity);
                        _log.Debug("Following audit log", new LogField("file", path));
                    }

                    var status = reader!.Next();
                    if (status == LineStatus.Line)
                    {
                        idleSince = 0;
                        Process(reader.Line, path, reader.LineNumber);
                        Pump(path, reader.LineNumber);
                        foreach (var e in DrainOutput())
                        {
                            yield return e;
                        }

                        continue;
                    }

                    if (status == LineStatus.TooLong)
                    {
                        WarnMalformed(path, reader.SkippedLineNumber, $"it is longer than {AuditLogLineReader.MaxLineLength} bytes");
                        continue;
                    }

                    // Caught up with auditd: what was in the log is read, the tail window can be shown.
                    EndBacklog();
                    if (Rotated(path, stream, reader, hasIdentity, identity))
                    {
                        // The old file is read to its end; carry on with the new one from its start.
                        if (reader.TryTakeUnterminated())
                        {
                            Process(reader.Line, path, reader.LineNumber);
                        }

                        _log.Debug("Audit log rotated", new LogField("file", path), new LogField("lines", reader.LineNumber));
                        reader.Dispose();
                        stream.Dispose();
                        reader = null;
                        stream = null;
                        continue;
                    }

                    // Records of an event arrive together; once the log has been quiet for auditd's own
                    // end_of_event_timeout, no more are coming for the events still open.
                    var now = Stopwatch.GetTimestamp();
                    if (idleSince == 0)
                    {
                        idleSince = now;
                    }
                    else if (_grouper.BuildingCount > 0 && Stopwatch.GetElapsedTime(idleSince, now).TotalSeconds >= _timeoutSeconds)
                    {
                        _grouper.Flush(_ready);
                    }

                    Pump(path, reader.LineNumber);
                    foreach (var e in DrainOutput())
                    {
                        yield return e;
                    }

                    cancellationToken.WaitHandle.WaitOne(_query.PollInterval);
                }
            }
            finally
            {
                reader?.Dispose();
                stream?.Dispose();
            }
        }

        /// <summary>
        /// Processes lines until an event is ready to hand out or the file has no more for now. The loop lives
        /// here, not in the iterator, so it is compiled optimized from the start: a log is often read once.
        /// </summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        private LineStatus ReadUntilOutput(AuditLogLineReader reader, string path)
        {
            while (true)
            {
                var status = reader.Next();
                if (status == LineStatus.Line)
                {
                    Process(reader.Line, path, reader.LineNumber);
                    if (_output.Count > 0)
                    {
                        return status;
                    }
                }
                else if (status == LineStatus.TooLong)
                {
                    WarnMalformed(path, reader.SkippedLineNumber, $"it is longer than {AuditLogLineReader.MaxLineLength} bytes");
                }
                else
                {
                    return status;
                }
            }
        }

        /// <summary>True when the path now names another file (auditd renamed ours to .1) or ours was truncated.</summary>
        private static bool Rotated(string path, FileStream stream, AuditLogLineReader reader, bool hasIdentity, FileIdentity identity)
        {
            if (hasIdentity)
            {
                // A new file under the path, or ours cut short in place (copytruncate).
                return (FileIdentity.TryGet(path, out var current) && current != identity) || stream.Length < reader.Consumed;
            }

            // Without inode numbers: a file shorter than what we read is a new or truncated file.
            try
            {
                return new FileInfo(path).Length < reader.Consumed + reader.Pending && stream.Length >= reader.Consumed;
            }
            catch (IOException)
            {
                return false;
            }
        }

        private IEnumerable<AuditEvent> DrainOutput()
        {
            while (_output.Count > 0)
            {
                yield return _output.Dequeue();
            }
        }

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        private void Process(ReadOnlySpan<byte> line, string path, long lineNumber)
        {
            if (line.IsEmpty)
            {
                return;
            }

            if (!AuditRecordHeader.TryParse(line, out var header, out var problem))
            {
                WarnMalformed(path, lineNumber, problem!);
                return;
            }

            var type = _types.Get(line.Slice(header.TypeStart, header.TypeLength));
            var node = header.NodeLength == 0 ? null : Node(line.Slice(header.NodeStart, header.NodeLength));
            if (!type.IsDaemon)
            {
                _gaps.Observe(node, header.Serial, _lost);
            }

            // Every record of an event has the event's time stamp, so the time filter can drop records unread.
            var milliseconds = header.Seconds * 1000 + header.Milliseconds;
            if (milliseconds < _afterMilliseconds || milliseconds > _beforeMilliseconds)
            {
                return;
            }

            // Events the filters reject by their first record, or by the type of a record that is an event on its
            // own, are skipped here: their records are neither copied nor split into fields.
            if ((_rejectsAtStart && _grouper.BelongsToRejected(header.Serial, header.Seconds, header.Milliseconds, node, type, _ready))
                || (_messageTypes is not null && type.IsSingleRecordEvent && !_messageTypes.Contains(type.Name)
                    && _grouper.SkipSingleRecordEvent(header.Serial, header.Seconds, header.Milliseconds, node, _ready)))
            {
                if (_ready.Count > 0 || _lost.Count > 0)
                {
                    Pump(path, lineNumber);
                }

                return;
            }

            var record = new AuditRecord(line.ToArray(), header, type, node, path, lineNumber, _interpreter);
            _grouper.Add(record, type, _ready);
            if (_ready.Count > 0 || _lost.Count > 0)
            {
                Pump(path, lineNumber);
            }
        }

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        private void Pump(string path, long lineNumber)
        {
            foreach (var gap in _lost)
            {
                var count = gap.Last - gap.First + 1;
                _log.Warn(
                    count == 1
                        ? $"Lost event: serial {gap.First} never appears in the log (the kernel or auditd dropped it)"
                        : $"Lost events: serials {gap.First}-{gap.Last} ({count} events) never appear in the log (the kernel or auditd dropped them)",
                    new LogField("file", path), new LogField("line", lineNumber), new LogField("node", gap.Node));
            }

            _lost.Clear();
            while (_ready.Count > 0)
            {
                var auditEvent = _ready.Dequeue();
                if (!Matches(auditEvent))
                {
                    continue;
                }

                if (_tailing)
                {
                    if (_tail!.Count >= _query.Tail)
                    {
                        if (_query.Tail == 0)
                        {
                            continue;
                        }

                        _tail.Dequeue();
                    }

                    _tail.Enqueue(auditEvent);
                }
                else
                {
                    _output.Enqueue(auditEvent);
                }
            }
        }

        private void EndBacklog()
        {
            if (!_tailing)
            {
                return;
            }

            _tailing = false;
            while (_tail!.Count > 0)
            {
                _output.Enqueue(_tail.Dequeue());
            }
        }

        /// <summary>
        /// True when an event's first record shows that <see cref="Matches"/> would reject the event. Only a SYSCALL
        /// record decides: it is the record the event's key, result, process and program are read from (see
        /// <see cref="AuditEvent.Keys"/>, <see cref="AuditEvent.Success"/>, <see cref="AuditEvent.ProcessId"/>); a key
        /// of (null) leaves the decision to the whole event. Types are matched by any record, so only the whole event
        /// decides them.
        /// </summary>
        private bool RejectsAtStart(AuditRecord first)
        {
            if (first.Type != "SYSCALL")
            {
                return false;
            }

            if (_query.Success is { } success && AuditEvent.SuccessOf(first) != success)
            {
                return true;
            }

            if (_processIds is not null && !(AuditEvent.ProcessIdOf(first) is { } pid && _processIds.Contains(pid)))
            {
                return true;
            }

            if (!_executables.IsEmpty && !_executables.Matches(first.GetInterpreted("exe")))
            {
                return true;
            }

            if (_keys.IsEmpty)
            {
                return false;
            }

            var index = first.IndexOf("key"u8);
            if (index < 0)
            {
                return false;
            }

            var keys = first.Interpret(index);
            return keys != "(null)" && !keys.Split(" key=").Any(_keys.Matches);
        }

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        private bool Matches(AuditEvent auditEvent)
        {
            if (!_keys.IsEmpty && !auditEvent.Keys.Any(_keys.Matches))
            {
                return false;
            }

            if (_query.MessageTypes.Count > 0 && !_query.MessageTypes.Any(auditEvent.HasType))
            {
                return false;
            }

            if (_processIds is not null && !(auditEvent.ProcessId is { } pid && _processIds.Contains(pid)))
            {
                return false;
            }

            if (!_executables.IsEmpty && !_executables.Matches(auditEvent.Executable))
            {
                return false;
            }

            return _query.Success is not { } success || auditEvent.Success == success;
        }

        private void WarnMalformed(string path, long lineNumber, string problem) =>
            _log.Warn($"Skipped line {lineNumber} of {path}: not an audit record because {problem}",
                new LogField("file", path), new LogField("line", lineNumber));

        private string Node(ReadOnlySpan<byte> bytes)
        {
            if (!bytes.SequenceEqual(_nodeBytes))
            {
                _nodeBytes = bytes.ToArray();
                _node = System.Text.Encoding.UTF8.GetString(bytes);
            }

            return _node!;
        }
    }
}
