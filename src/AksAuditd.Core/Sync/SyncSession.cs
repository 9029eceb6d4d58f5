using System.Collections.Concurrent;
using AksAuditd.Core.Rules;

namespace AksAuditd.Core.Sync;

/// <summary>
/// What one sync loop remembers between polls so that a poll where nothing changed is cheap: the source's
/// hashes keyed by file path (which, for a ConfigMap, includes the <c>..data</c> target) and identity; the
/// node's hashes keyed by name and identity; and validation results keyed by name and hash. The entrypoint
/// keeps one per source/target pair; cmdlets share them through <see cref="Shared"/>, so repeated calls in one
/// PowerShell process benefit too. Not thread-safe: the sync service locks it while it works.
/// </summary>
public sealed class SyncSession
{
    private static readonly ConcurrentDictionary<string, SyncSession> Sessions = new(StringComparer.Ordinal);

    private readonly Dictionary<(string Name, string Sha256), IReadOnlyList<RuleDiagnostic>> _validation = new();

    public SyncSession(SyncKind kind, string sourcePath, string targetPath)
    {
        Kind = kind;
        SourcePath = sourcePath;
        TargetPath = targetPath;
    }

    public SyncKind Kind { get; }

    public string SourcePath { get; }

    public string TargetPath { get; }

    public SourceCache Source { get; } = new();

    public TargetCache Target { get; } = new();

    /// <summary>False until a sync in this session has checked for (and finished) a generation left by a killed sync.</summary>
    internal bool Recovered { get; set; }

    internal ManagedFileRecord? Record { get; set; }

    internal QuietPoll? LastQuiet { get; set; }

    internal string? RecordPath { get; set; }

    internal FileIdentity RecordIdentity { get; set; }

    /// <summary>Held by the sync service while it uses this session.</summary>
    internal Lock Gate { get; } = new();

    /// <summary>The process-wide session for this kind, source and target (created on first use).</summary>
    public static SyncSession Shared(SyncKind kind, string sourcePath, string targetPath) =>
        Sessions.GetOrAdd($"{kind}\0{Path.GetFullPath(sourcePath)}\0{Path.GetFullPath(targetPath)}", _ => new SyncSession(kind, sourcePath, targetPath));

    /// <summary>Forgets every shared session (tests; a cmdlet never needs it).</summary>
    public static void ClearShared() => Sessions.Clear();

    private (string Fingerprint, int Count)? _desiredRules;

    /// <summary>
    /// The rules a source adds to the kernel: its -a, -A and -w lines (control lines such as -D, -b, -e and
    /// deletions add none). Counted once per source version, so the idle poll does not read the text again.
    /// </summary>
    internal int DesiredRules(SourceFileSet source)
    {
        if (_desiredRules is { } known && known.Fingerprint == source.Fingerprint)
        {
            return known.Count;
        }

        var count = 0;
        foreach (var file in source.Files)
        {
            foreach (var line in file.Text.AsSpan().EnumerateLines())
            {
                var text = line.TrimStart();
                if (text.StartsWith("-a") || text.StartsWith("-A") || text.StartsWith("-w"))
                {
                    count++;
                }
            }
        }

        _desiredRules = (source.Fingerprint, count);
        return count;
    }

    internal IReadOnlyList<RuleDiagnostic> Validate(SourceFile file, string displayPath, IRuleFileValidator validator)
    {
        if (_validation.TryGetValue((file.Name, file.Sha256), out var known))
        {
            return known;
        }

        var diagnostics = validator.Validate(displayPath, file.Text);
        if (_validation.Count > 4096)
        {
            _validation.Clear();
        }

        _validation[(file.Name, file.Sha256)] = diagnostics;
        return diagnostics;
    }
}

/// <summary>Hashes of source files, trusted while a file's path and identity are unchanged.</summary>
public sealed class SourceCache
{
    /// <summary>
    /// A file whose ctime is this close to the moment we read it may be written again within the same
    /// kernel clock tick without moving ctime; such an entry is read again next time ("racily clean").
    /// </summary>
    internal static readonly long RacyWindowNs = 100_000_000;

    private readonly Dictionary<string, Entry> _entries = new(StringComparer.Ordinal);
    private readonly HashSet<string> _seen = new(StringComparer.Ordinal);

    /// <summary>How many source files were read and hashed since this cache was made.</summary>
    public long FilesRead { get; private set; }

    internal FileIdentity? VisibleLinksChecked { get; set; }

    internal List<RuleDiagnostic>? VisibleLinkProblems { get; set; }

    private SourceFileSet? _last;
    private FileIdentity _lastRoot;
    private FileIdentity _lastData;
    private bool _racy;
    private long _reads;

    /// <summary>
    /// The set read last time, when the ConfigMap still shows the same version (same ..data target, same volume
    /// and version directories) and a rotating tenth of its files still have the identities they were read with.
    /// </summary>
    internal SourceFileSet? TryReuse(string dataTarget, FileIdentity root, FileIdentity data, INodeFileSystem fs)
    {
        var last = _last;
        if (last is null || last.DataTarget != dataTarget || !_lastRoot.SameContentsAs(root) || !_lastData.SameContentsAs(data))
        {
            return null;
        }

        var slice = _reads++ % TargetCache.VerifyEveryPolls;
        for (var i = (int)slice; i < last.Files.Count; i += TargetCache.VerifyEveryPolls)
        {
            var file = last.Files[i];
            if (!_entries.TryGetValue(file.Path, out var entry) || !fs.Stat(file.Path, followSymlinks: false).SameContentsAs(entry.Identity))
            {
                return null;
            }
        }

        return last;
    }

    /// <summary>Keeps a complete ConfigMap read for <see cref="TryReuse"/>, unless a file was racily clean or refused.</summary>
    internal void Remember(SourceFileSet set, FileIdentity root, FileIdentity data)
    {
        _last = _racy || set.HasErrors ? null : set;
        _lastRoot = root;
        _lastData = data;
    }

    internal bool TryGet(string path, FileIdentity identity, out SourceFile? file)
    {
        _seen.Add(path);
        if (_entries.TryGetValue(path, out var entry) && !entry.Racy && entry.Identity.SameContentsAs(identity))
        {
            file = entry.File;
            return true;
        }

        file = null;
        return false;
    }

    internal void Put(string path, FileIdentity identity, SourceFile file, DateTime readStarted)
    {
        FilesRead++;
        _seen.Add(path);
        var racy = IsRacy(identity, readStarted);
        _racy |= racy;
        _entries[path] = new Entry(identity, file, racy);
    }

    internal SourceFileSet Complete(SourceFileSet set)
    {
        if (_entries.Count > _seen.Count)
        {
            foreach (var stale in _entries.Keys.Where(k => !_seen.Contains(k)).ToList())
            {
                _entries.Remove(stale);
            }
        }

        _seen.Clear();
        _racy = false;
        return set;
    }

    internal void Abandon()
    {
        _seen.Clear();
        _racy = false;
        _last = null;
    }

    internal static bool IsRacy(FileIdentity identity, DateTime readStarted)
    {
        var startedNs = (readStarted - DateTime.UnixEpoch).Ticks * 100;
        return startedNs - identity.ChangedNs < RacyWindowNs || startedNs - identity.ModifiedNs < RacyWindowNs;
    }

    private sealed record Entry(FileIdentity Identity, SourceFile File, bool Racy);
}

/// <summary>
/// Hashes of node files by name. Each scan re-hashes a file whose identity changed, plus a rotating tenth of
/// all files whatever stat says, so even a change that left no trace in stat is found within
/// <see cref="VerifyEveryPolls"/> polls.
/// </summary>
public sealed class TargetCache
{
    public const int VerifyEveryPolls = 10;

    private readonly Dictionary<string, Entry> _entries = new(StringComparer.Ordinal);
    private bool _changed = true;

    /// <summary>How many node files were read and hashed since this cache was made.</summary>
    public long FilesHashed { get; private set; }

    /// <summary>How many scans this cache has served; picks the slice that is re-hashed.</summary>
    public long Polls { get; private set; }

    /// <summary>Bumped whenever a scan saw the directory's files differ from the scan before.</summary>
    public long Version { get; private set; }

    internal long BeginScan() => Polls++;

    private IDirectoryWatch? _watch;
    private string? _watched;
    private bool _dirty = true;

    /// <summary>The last complete scan, for <see cref="Quiet"/> polls.</summary>
    internal NodeFileSet? Last { get; set; }

    /// <summary>
    /// True when the directory is watched and nothing happened in it since the last call; the first call only
    /// starts watching. Any event, or lost events, make this scan a full one.
    /// </summary>
    internal bool Quiet(string directory, INodeFileSystem fs)
    {
        if (_watched != directory || _watch is null)
        {
            _watch?.Dispose();
            _watch = fs.Watch(directory);
            _watched = _watch is null ? null : directory;
            _dirty = false;
            return false;
        }

        var events = _watch.TakeEvents();
        if (events.Contains(null))
        {
            _watch.Dispose();
            _watch = null; // lost events or a replaced directory: watch afresh next time
        }

        var quiet = events.Count == 0 && !_dirty;
        _dirty = false;
        return quiet;
    }

    /// <summary>A quiet poll re-hashed this file and found it as remembered.</summary>
    internal void Verified(NodeFile file, DateTime readStarted)
    {
        FilesHashed++;
        if (SourceCache.IsRacy(file.Identity, readStarted))
        {
            _dirty = true; // too fresh to vouch for: scan fully next time
        }
    }

    internal bool TryGet(string name, FileIdentity identity, bool forceVerify, out NodeFile? file)
    {
        if (!forceVerify && _entries.TryGetValue(name, out var entry) && !entry.Racy && entry.File.Identity.SameContentsAs(identity))
        {
            file = entry.File;
            return true;
        }

        file = null;
        return false;
    }

    /// <summary>The file recorded for this name, whatever its identity (to spot changes that stat did not show).</summary>
    internal NodeFile? Remembered(string name) => _entries.TryGetValue(name, out var entry) ? entry.File : null;

    internal void Put(NodeFile file, DateTime readStarted)
    {
        FilesHashed++;
        if (!_entries.TryGetValue(file.Name, out var old) || old.File.Sha256 != file.Sha256)
        {
            _changed = true;
        }

        _entries[file.Name] = new Entry(file, SourceCache.IsRacy(file.Identity, readStarted));
    }

    /// <summary>Records a file we just wrote: its hash is known without reading it back.</summary>
    internal void Wrote(NodeFile file)
    {
        _changed = true;
        _dirty = true;
        _entries[file.Name] = new Entry(file, SourceCache.IsRacy(file.Identity, DateTime.UtcNow));
    }

    internal void Forget(string name)
    {
        _dirty = true;
        _changed |= _entries.Remove(name);
    }

    /// <summary>Drops names the scan did not see and returns the version for this scan.</summary>
    internal long EndScan(IReadOnlyDictionary<string, NodeFile> seen)
    {
        if (_entries.Count > seen.Count)
        {
            foreach (var stale in _entries.Keys.Where(k => !seen.ContainsKey(k)).ToList())
            {
                _entries.Remove(stale);
            }

            _changed = true;
        }

        if (_changed)
        {
            Version++;
            _changed = false;
        }

        return Version;
    }

    private sealed record Entry(NodeFile File, bool Racy);
}
