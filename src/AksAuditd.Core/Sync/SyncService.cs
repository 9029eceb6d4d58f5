using System.Diagnostics;
using AksAuditd.Core.Configuration;
using AksAuditd.Core.Health;
using AksAuditd.Core.Logging;
using AksAuditd.Core.Rules;

namespace AksAuditd.Core.Sync;

/// <summary>Drift of a node directory against a source, with what was wrong or ignored in the source.</summary>
/// <summary>What a poll that found nothing to do saw; the next poll that sees the same can stop early.</summary>
internal sealed record QuietPoll(SourceFileSet Source, long TargetVersion, SyncMode Mode, bool AllowEmpty, bool AllowImmutable, bool AllowPanic, string StatePath, ManagedFileRecord Record, List<RuleDiagnostic> Diagnostics, List<string> Foreign);

public sealed record DriftReport(IReadOnlyList<FileDrift> Drift, IReadOnlyList<RuleDiagnostic> Problems, string? SourceVersion);

/// <summary>
/// Compares a source (ConfigMap volume or directory) with a node directory, and makes the node match it
/// without ever leaving it worse: the whole source is validated first, new files appear by atomic rename,
/// whatever is overwritten or removed is backed up first, other agents' files are left alone in Managed mode,
/// and an empty source empties nothing unless allowed.
/// </summary>
public sealed class SyncService
{
    private const UnixFileMode NodeFileMode = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead; // 0640

    private readonly IRuleFileValidator _validator;
    private readonly ILogSink _log;
    private readonly INodeFileSystem _fs;

    /// <summary>The <paramref name="validator"/> is the rules engine for rules.d, or a <see cref="PluginConfigValidator"/> for plugins.d.</summary>
    public SyncService(IRuleFileValidator validator, ILogSink? log = null, INodeFileSystem? fileSystem = null)
    {
        _validator = validator;
        _log = log ?? NullLogSink.Instance;
        _fs = fileSystem ?? LinuxNodeFileSystem.Instance;
    }

    /// <summary>Where every pass is reported (metrics, readiness, Node conditions); the process-wide one by default.</summary>
    public NodeHealthRecorder Recorder { get; init; } = NodeHealthRecorder.Shared;

    /// <summary>Compares without changing anything and without taking the lock.</summary>
    /// <exception cref="SyncException">The source or the target cannot be read.</exception>
    public DriftReport GetDrift(SyncKind kind, string sourcePath, string targetPath, string statePath, SyncMode mode, SyncSession? session = null)
    {
        session ??= new SyncSession(kind, sourcePath, targetPath);
        lock (session.Gate)
        {
            var source = new ConfigMapVolume(sourcePath, kind, _fs).Read(session.Source);
            var target = NodeFileSet.Scan(targetPath, kind, session.Target, _fs, _log);
            var managed = LoadRecord(session, statePath, kind, targetPath).NamesFor(targetPath);
            return new DriftReport(FileDrift.Compare(kind, source, target, mode, managed), source.Problems, source.DataTarget);
        }
    }

    /// <exception cref="SyncException">A whole-run failure: nothing on the node was changed (or every change was undone).</exception>
    public SyncResult Sync(SyncRequest request, SyncSession? session = null)
    {
        var clock = Stopwatch.StartNew();
        session ??= new SyncSession(request.Kind, request.SourcePath, request.TargetPath);
        lock (session.Gate)
        {
            try
            {
                var result = SyncLocked(request, session, clock);
                Recorder.Record(result);
                return result;
            }
            catch (SyncException e)
            {
                Recorder.RecordFailure(request.Kind, e);
                // The caller reports the failure (an error record); this is the trail for debugging.
                session.Recovered = false;
                _log.Debug("Sync failed; the node keeps its files",
                    new LogField("kind", request.Kind.StateName()), new LogField("file", e.Path), new LogField("reason", e.ErrorId));
                throw;
            }
        }
    }

    private SyncResult SyncLocked(SyncRequest request, SyncSession session, Stopwatch clock)
    {
        var kind = request.Kind;
        var target = request.TargetPath;
        using var targetLock = TargetLock.Acquire(target, request.LockTimeout, _fs);
        var writer = new AtomicDirectoryWriter(_fs, _log);
        var backups = new BackupStore(request.StatePath, _fs, _log);

        var node = NodeFileSet.Scan(target, kind, session.Target, _fs, _log);
        if (node.Leftovers.Count > 0)
        {
            writer.RemoveLeftovers(target, node.Leftovers);
        }

        var source = ReadSource(request, session);
        RefuseUnusableFiles(node, source, LoadRecord(session, request.StatePath, kind, target).NamesFor(target), request.Mode);

        // The real kernel's verdict on exactly this source comes before the validator's: it is why the node has its previous rules.
        var rejected = RejectedSource.Load(request.StatePath, kind, _fs);
        if (rejected is not null && rejected.SourceFingerprint == source.Fingerprint)
        {
            var file = rejected.File is null ? request.SourcePath : Path.Combine(request.SourcePath, rejected.File);
            throw new SyncException(SyncFailure.SourceRejectedByKernel, rejected.Line is { } line ? $"{file}:{line}" : file, rejected.Describe());
        }

        var quiet = session.LastQuiet;
        session.LastQuiet = null;
        List<RuleDiagnostic> diagnostics;
        if (quiet is not null && rejected is null && ReferenceEquals(quiet.Source, source) && quiet.TargetVersion == node.Version && node.Leftovers.Count == 0
            && quiet.Mode == request.Mode && quiet.AllowEmpty == request.AllowEmpty && quiet.StatePath == request.StatePath
            && quiet.AllowImmutable == request.AllowImmutable && quiet.AllowPanic == request.AllowPanic
            && ReferenceEquals(LoadRecord(session, request.StatePath, kind, target), quiet.Record))
        {
            // The same source version, the same node files and the same record as a poll that found nothing to do.
            diagnostics = quiet.Diagnostics;
        }
        else
        {
            quiet = null;
            diagnostics = new List<RuleDiagnostic>(source.Problems);
            foreach (var file in source.Files)
            {
                diagnostics.AddRange(session.Validate(file, Path.Combine(request.SourcePath, file.Name), _validator));
            }

            if (kind == SyncKind.Rules)
            {
                var consent = new IrreversibleSettingsConsent { AllowImmutable = request.AllowImmutable, AllowPanic = request.AllowPanic };
                diagnostics.AddRange(consent.Check(source.Files.Select(f => (f.Name, Path.Combine(request.SourcePath, f.Name), f.Text))));
            }
        }

        SyncResult Result(bool changed, bool whatIf, bool blocked, IEnumerable<string> added, IEnumerable<string> modified, IEnumerable<string> removed, IEnumerable<string> foreign, string? backup, int drift = 0) => new()
        {
            SourceFileCount = source.Files.Count,
            DriftFileCount = drift,
            DesiredRuleCount = kind == SyncKind.Rules ? session.DesiredRules(source) : null,
            Kind = kind,
            SourcePath = request.SourcePath,
            TargetPath = target,
            Mode = request.Mode,
            Changed = changed,
            WhatIf = whatIf,
            Blocked = blocked,
            Added = added.ToList(),
            Modified = modified.ToList(),
            Removed = removed.ToList(),
            Foreign = foreign.ToList(),
            CleanedUp = node.Leftovers,
            BackupPath = backup,
            Diagnostics = diagnostics,
            SourceVersion = source.DataTarget,
            Duration = clock.Elapsed,
        };

        var errors = diagnostics.Count(d => d.Severity == DiagnosticSeverity.Error);
        if (errors > 0)
        {
            _log.Warn("The source has errors; nothing was changed and the node keeps its current files",
                new LogField("kind", kind.StateName()), new LogField("source", request.SourcePath), new LogField("errors", errors));
            return Result(false, false, true, [], [], [], [], null, BlockedDrift(request, session, source, node));
        }

        if (source.Files.Count == 0 && !request.AllowEmpty)
        {
            throw new SyncException(SyncFailure.SourceEmpty, request.SourcePath,
                $"The source {request.SourcePath} holds no *{kind.Suffix()} file; an empty source never empties the node unless it is allowed (-AllowEmpty, allowEmptySource: true).");
        }

        if (quiet is not null)
        {
            session.LastQuiet = quiet;
            return Result(false, false, false, [], [], [], quiet.Foreign, null);
        }

        if (!session.Recovered)
        {
            FinishInterruptedSync(backups, kind, target, node);
        }

        var record = LoadRecord(session, request.StatePath, kind, target);
        var drift = FileDrift.Compare(kind, source, node, request.Mode, record.NamesFor(target));
        var plan = new SyncPlan(kind, request.SourcePath, target, request.Mode, drift);
        if (plan.IsEmpty)
        {
            ForgetRejected(request, rejected);
            ClaimSourceNames(session, request, record, source);
            session.Recovered = true;
            session.LastQuiet = new QuietPoll(source, node.Version, request.Mode, request.AllowEmpty, request.AllowImmutable, request.AllowPanic, request.StatePath,
                LoadRecord(session, request.StatePath, kind, target), diagnostics, plan.Foreign.ToList());
            _log.Debug("No change", new LogField("kind", kind.StateName()), new LogField("files", source.Files.Count), new LogField("durationMs", clock.ElapsedMilliseconds));
            return Result(false, false, false, [], [], [], plan.Foreign, null);
        }

        if (request.Confirm is { } confirm && !confirm(plan))
        {
            return Result(false, true, false, plan.Added, plan.Modified, plan.Removed, plan.Foreign, null, plan.Added.Count() + plan.Modified.Count() + plan.Removed.Count());
        }

        var writes = plan.Added.Concat(plan.Modified)
            .Select(name => source.Find(name)!)
            .Select(f => new NodeWrite(f.Name, f.Contents, f.Sha256, NodeFileMode, NodeOwner.Root, NodeOwner.Root))
            .ToList();
        var deletes = plan.Removed.ToList();

        // Widen the record before the first visible change: a sync killed after a rename must not leave a
        // file of ours looking foreign to the next run.
        var widened = NewRecord(kind, target, record.NamesFor(target).Where(n => record.Files.ContainsKey(n)).ToDictionary(n => n, n => record.Files[n]), source);
        var applied = writer.Apply(target, kind, writes, deletes, backups, BackupCause.Sync(request.SourcePath, source), () => Save(session, request.StatePath, kind, widened));
        Save(session, request.StatePath, kind, NewRecord(kind, target, new Dictionary<string, string>(), source));
        session.Recovered = true;
        ForgetRejected(request, rejected);

        foreach (var write in writes)
        {
            var path = Path.Combine(target, write.Name);
            session.Target.Wrote(new NodeFile(write.Name, path, _fs.Stat(path), write.Sha256) { Fingerprint = ContentHash.Fingerprint(write.Contents) });
        }

        foreach (var name in deletes)
        {
            session.Target.Forget(name);
        }

        _log.Info($"Synced {kind.StateName()}: {plan.Summary}",
            new LogField("kind", kind.StateName()), new LogField("target", target),
            new LogField("added", string.Join(",", plan.Added)), new LogField("modified", string.Join(",", plan.Modified)),
            new LogField("removed", string.Join(",", plan.Removed)), new LogField("backup", applied.Backup?.Path),
            new LogField("durationMs", clock.ElapsedMilliseconds));
        return Result(true, false, false, plan.Added, plan.Modified, plan.Removed, plan.Foreign, applied.Backup?.Path);
    }

    /// <summary>What a blocked pass leaves different on the node (aksauditd_drift_files); a record that cannot be read counts every source file.</summary>
    private int BlockedDrift(SyncRequest request, SyncSession session, SourceFileSet source, NodeFileSet node)
    {
        try
        {
            var record = LoadRecord(session, request.StatePath, request.Kind, request.TargetPath);
            return FileDrift.Compare(request.Kind, source, node, request.Mode, record.NamesFor(request.TargetPath))
                .Count(d => d.Status is DriftStatus.Added or DriftStatus.Modified or DriftStatus.Removed);
        }
        catch (SyncException)
        {
            return source.Files.Count;
        }
    }

    /// <summary>
    /// A name the sync would replace, remove or vouch for that is not a readable regular file stops the sync, naming it:
    /// writing over a directory fails halfway, and a FIFO or device would hang augenrules or auditd. Other agents' such
    /// names are left alone in Managed mode.
    /// </summary>
    private void RefuseUnusableFiles(NodeFileSet node, SourceFileSet source, IReadOnlySet<string> managed, SyncMode mode)
    {
        foreach (var file in node.Unusable)
        {
            if (mode == SyncMode.Mirror || source.Find(file.Name) is not null || managed.Contains(file.Name))
            {
                throw new SyncException(SyncFailure.TargetFileUnusable, file.Path,
                    $"The node file {file.Path} {file.Reason}; the sync cannot replace or remove it and leaves the node as it is. Remove it or rename it.");
            }

            _log.Warn("A node file that is not a readable regular file is left alone", new LogField("file", file.Path), new LogField("reason", file.Reason));
        }
    }

    /// <summary>The source changed since the kernel rejected it, and the node now has it: the rejection no longer applies.</summary>
    private void ForgetRejected(SyncRequest request, RejectedSource? rejected)
    {
        if (rejected is null)
        {
            return;
        }

        try
        {
            RejectedSource.Clear(request.StatePath, request.Kind, _fs);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new SyncException(SyncFailure.StateUnusable, RejectedSource.PathFor(request.StatePath, request.Kind), $"The rejected-source record cannot be removed: {e.Message}", e);
        }

        _log.Info("The rejected source changed; syncing it again",
            new LogField("kind", request.Kind.StateName()), new LogField("source", request.SourcePath), new LogField("rejectedGeneration", rejected.Generation));
    }

    private SourceFileSet ReadSource(SyncRequest request, SyncSession session)
    {
        try
        {
            return new ConfigMapVolume(request.SourcePath, request.Kind, _fs).Read(session.Source);
        }
        catch (SyncException e) when (e.Failure == SyncFailure.SourceMissing && request.AllowEmpty)
        {
            _log.Warn("The source is missing and empty sources are allowed: treating it as empty", new LogField("source", request.SourcePath));
            return new SourceFileSet(request.SourcePath, null, Array.Empty<SourceFile>(), Array.Empty<RuleDiagnostic>());
        }
    }

    /// <summary>
    /// A sync killed after its backup left that generation unfinished. If the node already matches (the kill
    /// came after the last rename), mark it finished now; otherwise the coming change extends it.
    /// </summary>
    private void FinishInterruptedSync(BackupStore backups, SyncKind kind, string target, NodeFileSet node)
    {
        ManagedFileRecord.RemoveLeftovers(backups.StatePath, kind, _fs);
        var latest = backups.Latest(kind);
        backups.Prune(kind.StateName());
        if (latest is { Completed: null } && latest.Target == target)
        {
            var done = latest.Replaced.All(e => node.Files.TryGetValue(e.Name, out var f) && f.Sha256 == e.NewSha256)
                && latest.Added.All(e => node.Files.TryGetValue(e.Name, out var f) && f.Sha256 == e.NewSha256)
                && latest.Removed.All(e => !node.Files.ContainsKey(e.Name));
            if (done)
            {
                _log.Info("Finishing the backup generation of an interrupted sync", new LogField("generation", latest.Path));
                backups.Complete(latest);
            }
        }
    }

    /// <summary>Source files already identical on the node become ours too, so a later source without them removes them.</summary>
    private void ClaimSourceNames(SyncSession session, SyncRequest request, ManagedFileRecord record, SourceFileSet source)
    {
        var names = record.NamesFor(request.TargetPath);
        if (source.Files.All(f => names.Contains(f.Name)) && record.Target == request.TargetPath)
        {
            return;
        }

        var files = names.ToDictionary(n => n, n => record.Files.GetValueOrDefault(n, string.Empty));
        Save(session, request.StatePath, request.Kind, NewRecord(request.Kind, request.TargetPath, files, source));
    }

    private static ManagedFileRecord NewRecord(SyncKind kind, string target, Dictionary<string, string> files, SourceFileSet source)
    {
        var record = new ManagedFileRecord { Kind = kind.StateName(), Target = target, Updated = DateTimeOffset.UtcNow };
        foreach (var (name, sha) in files)
        {
            record.Files[name] = sha;
        }

        foreach (var file in source.Files)
        {
            record.Files[file.Name] = file.Sha256;
        }

        return record;
    }

    private ManagedFileRecord LoadRecord(SyncSession session, string statePath, SyncKind kind, string target)
    {
        var path = ManagedFileRecord.PathFor(statePath, kind);
        var identity = _fs.Stat(path);
        if (session.Record is { } cached && session.RecordPath == path && session.RecordIdentity.SameContentsAs(identity))
        {
            return cached;
        }

        var record = ManagedFileRecord.Load(statePath, kind, target, _fs);
        session.Record = record;
        session.RecordPath = path;
        session.RecordIdentity = identity;
        return record;
    }

    private void Save(SyncSession session, string statePath, SyncKind kind, ManagedFileRecord record)
    {
        try
        {
            record.Save(statePath, kind, _fs);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new SyncException(SyncFailure.StateUnusable, ManagedFileRecord.PathFor(statePath, kind), $"The managed-file record cannot be written: {e.Message}", e);
        }

        session.Record = record;
        session.RecordPath = ManagedFileRecord.PathFor(statePath, kind);
        session.RecordIdentity = _fs.Stat(session.RecordPath);
    }
}
