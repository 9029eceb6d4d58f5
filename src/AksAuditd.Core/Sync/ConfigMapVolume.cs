using System.Text;
using AksAuditd.Core.Rules;

namespace AksAuditd.Core.Sync;

/// <summary>
/// Reads a sync source: a ConfigMap volume as kubelet writes it, or a plain directory.
/// <para>
/// Kubelet's layout: the payload lives in a hidden timestamped directory (<c>..2025_01_31_10_00_00.123</c>),
/// <c>..data</c> is a symlink to it, and each key is a visible symlink <c>name -&gt; ..data/name</c>. An update
/// writes a new timestamped directory, swaps <c>..data</c> with a rename, then deletes the old directory. So
/// we resolve <c>..data</c> once, read every file from that directory, and check <c>..data</c> again: if it
/// moved, or the old directory vanished under us, we read again. The <c>..</c> entries are kubelet's, never
/// files to sync. A plain directory (a CI checkout, a folder on a debug pod) is read as it is.
/// </para>
/// </summary>
public sealed class ConfigMapVolume
{
    /// <summary>Files above 1 MiB are refused (a ConfigMap cannot hold more than that in total).</summary>
    public const int MaxFileSize = 1 << 20;

    public const string DataLink = "..data";

    private const int Attempts = 5;

    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    private readonly INodeFileSystem _fs;

    public ConfigMapVolume(string directory, SyncKind kind, INodeFileSystem? fileSystem = null)
    {
        Directory = directory;
        Kind = kind;
        _fs = fileSystem ?? LinuxNodeFileSystem.Instance;
    }

    public string Directory { get; }

    public SyncKind Kind { get; }

    /// <summary>Reads the source. <paramref name="cache"/> lets an unchanged file skip reading and hashing.</summary>
    /// <exception cref="SyncException">The source is missing or cannot be read as a directory.</exception>
    public SourceFileSet Read(SourceCache? cache = null)
    {
        cache ??= new SourceCache();
        var rootIdentity = _fs.Stat(Directory);
        if (!rootIdentity.Exists)
        {
            throw new SyncException(SyncFailure.SourceMissing, Directory, $"The source {Directory} does not exist.");
        }

        if (rootIdentity.Type != NodeFileType.Directory)
        {
            throw new SyncException(SyncFailure.SourceUnreadable, Directory, $"The source {Directory} is not a directory.");
        }

        var root = _fs.RealPath(Directory) ?? Directory;
        Exception? last = null;
        for (var attempt = 0; attempt < Attempts; attempt++)
        {
            var dataTarget = _fs.ReadLink(Path.Combine(Directory, DataLink));
            try
            {
                if (dataTarget is null)
                {
                    return cache.Complete(ReadEntries(root, Directory, isConfigMap: false, dataTarget: null, rootIdentity, cache));
                }

                // Kubelet never edits a version in place: while ..data names the same version, the files stay
                // as they were, which a rotating tenth of stats per read keeps checking.
                var dataDirectory = Path.Combine(Directory, dataTarget);
                var dataIdentity = _fs.Stat(dataDirectory);
                if (cache.TryReuse(dataTarget, rootIdentity, dataIdentity, _fs) is { } unchanged)
                {
                    return unchanged;
                }

                var set = ReadEntries(root, dataDirectory, isConfigMap: true, dataTarget, rootIdentity, cache);
                if (_fs.ReadLink(Path.Combine(Directory, DataLink)) == dataTarget)
                {
                    cache.Remember(set, rootIdentity, dataIdentity);
                    return cache.Complete(set);
                }
            }
            catch (Exception e) when (e is DirectoryNotFoundException or FileNotFoundException)
            {
                // Kubelet deleted the version we were reading after swapping ..data: read the new one.
                last = e;
            }

            cache.Abandon();
            Thread.Sleep(10 * (attempt + 1));
        }

        throw new SyncException(
            SyncFailure.SourceUnreadable,
            Directory,
            $"The source {Directory} could not be read consistently: its ..data link kept changing or points to a missing directory.",
            last);
    }

    private SourceFileSet ReadEntries(string root, string dataDirectory, bool isConfigMap, string? dataTarget, FileIdentity rootIdentity, SourceCache cache)
    {
        var problems = new List<RuleDiagnostic>();
        var files = new List<SourceFile>();
        if (isConfigMap)
        {
            var data = _fs.RealPath(dataDirectory) ?? throw new DirectoryNotFoundException(dataDirectory);
            if (!IsInside(data, root))
            {
                problems.Add(SyncDiagnosticCodes.Error(DataLink, SyncDiagnosticCodes.SymlinkOutsideSource, $"{DataLink} resolves to {data}, outside the ConfigMap volume {root}."));
                return new SourceFileSet(Directory, dataTarget, files, problems);
            }

            CheckVisibleLinks(root, rootIdentity, cache, problems);
        }

        var entries = _fs.ListWithIdentities(dataDirectory, followSymlinks: false).ToArray();
        Array.Sort(entries, (a, b) => string.CompareOrdinal(a.Name, b.Name));
        foreach (var (name, entryIdentity) in entries)
        {
            if (isConfigMap && name.StartsWith("..", StringComparison.Ordinal))
            {
                continue;
            }

            if (name.Contains('\uFFFD') && Kind.Counts(name))
            {
                // .NET cannot even open a name whose bytes are not UTF-8: refuse it before stat.
                problems.Add(CheckName(name)!);
                continue;
            }

            var path = Path.Combine(dataDirectory, name);
            var identity = entryIdentity;
            if (!identity.Exists)
            {
                throw new FileNotFoundException(path);
            }

            var counts = Kind.Counts(name);
            var hidden = name.StartsWith('.');
            if (identity.Type == NodeFileType.Symlink)
            {
                var resolved = _fs.RealPath(path);
                if (resolved is null || !IsInside(resolved, root))
                {
                    if (counts || !hidden)
                    {
                        problems.Add(SyncDiagnosticCodes.Error(name, SyncDiagnosticCodes.SymlinkOutsideSource,
                            $"{name} is a symlink to {resolved ?? _fs.ReadLink(path) ?? "?"}, outside the source {root}."));
                    }

                    continue;
                }

                identity = _fs.Stat(path);
            }

            if (identity.Type == NodeFileType.Directory && !counts)
            {
                if (isConfigMap)
                {
                    // A ConfigMap item with path "sub/x.rules" becomes a directory in the payload.
                    problems.Add(SyncDiagnosticCodes.Error(name + "/", SyncDiagnosticCodes.NestedPath,
                        $"{name}/ is a nested path; a file name must not contain '/'. Use flat keys in the ConfigMap."));
                }
                else if (!hidden)
                {
                    problems.Add(SyncDiagnosticCodes.Warning(name + "/", SyncDiagnosticCodes.IgnoredDirectory, $"{name}/ is a directory and is ignored."));
                }

                continue;
            }

            if (!counts)
            {
                // Hidden entries of a plain directory are VCS or editor metadata (.git, .gitkeep): not ours to judge.
                if (isConfigMap || !hidden)
                {
                    problems.Add(SyncDiagnosticCodes.Warning(name, SyncDiagnosticCodes.IgnoredFile,
                        $"{name} is not a *{Kind.Suffix()} file and is never copied ({(Kind == SyncKind.Rules ? "augenrules reads only *.rules" : "only *.conf plugin files are synced")})."));
                }

                continue;
            }

            var nameProblem = CheckName(name);
            if (nameProblem is not null)
            {
                problems.Add(nameProblem);
                continue;
            }

            if (identity.Type != NodeFileType.Regular)
            {
                problems.Add(SyncDiagnosticCodes.Error(name, SyncDiagnosticCodes.NotARegularFile,
                    $"{name} is not a regular file ({(identity.Type == NodeFileType.Directory ? "a directory" : "a FIFO, socket or device")}) and cannot be read as rules."));
                continue;
            }

            if (identity.Size > MaxFileSize)
            {
                problems.Add(SyncDiagnosticCodes.Error(name, SyncDiagnosticCodes.FileTooLarge, $"{name} is {identity.Size} bytes; the limit is {MaxFileSize} bytes (1 MiB)."));
                continue;
            }

            var file = ReadFile(name, path, identity, cache, problems);
            if (file is not null)
            {
                files.Add(file);
            }
        }

        return new SourceFileSet(Directory, dataTarget, files, problems);
    }

    /// <summary>A visible entry that is not kubelet's <c>name -&gt; ..data/name</c> and points outside the volume is refused.</summary>
    private void CheckVisibleLinks(string root, FileIdentity rootIdentity, SourceCache cache, List<RuleDiagnostic> problems)
    {
        // Entries only change by adding, removing or renaming, which moves the directory's ctime.
        if (cache.VisibleLinksChecked is { } checkedIdentity && checkedIdentity.SameContentsAs(rootIdentity) && cache.VisibleLinkProblems is { } known)
        {
            problems.AddRange(known);
            return;
        }

        var found = new List<RuleDiagnostic>();
        foreach (var name in _fs.List(Directory))
        {
            if (name.StartsWith("..", StringComparison.Ordinal))
            {
                continue;
            }

            var path = Path.Combine(Directory, name);
            var text = _fs.ReadLink(path);
            if (text is null || text == DataLink + "/" + name)
            {
                continue;
            }

            var resolved = _fs.RealPath(path);
            if (resolved is null || !IsInside(resolved, root))
            {
                found.Add(SyncDiagnosticCodes.Error(name, SyncDiagnosticCodes.SymlinkOutsideSource, $"{name} is a symlink to {resolved ?? text}, outside the ConfigMap volume {root}."));
            }
        }

        cache.VisibleLinksChecked = rootIdentity;
        cache.VisibleLinkProblems = found;
        problems.AddRange(found);
    }

    private SourceFile? ReadFile(string name, string path, FileIdentity identity, SourceCache cache, List<RuleDiagnostic> problems)
    {
        if (cache.TryGet(path, identity, out var cached))
        {
            return cached;
        }

        for (var attempt = 0; attempt < 3; attempt++)
        {
            byte[] contents;
            var started = DateTime.UtcNow;
            try
            {
                contents = _fs.Read(path, MaxFileSize);
            }
            catch (FileTooLargeException e)
            {
                problems.Add(SyncDiagnosticCodes.Error(name, SyncDiagnosticCodes.FileTooLarge, $"{name} is {e.Size} bytes or more; the limit is {MaxFileSize} bytes (1 MiB)."));
                return null;
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException && e is not FileNotFoundException and not DirectoryNotFoundException)
            {
                problems.Add(SyncDiagnosticCodes.Error(name, SyncDiagnosticCodes.Unreadable, $"{name} cannot be read: {e.Message}"));
                return null;
            }

            var after = _fs.Stat(path);
            if (!after.SameContentsAs(identity))
            {
                identity = after; // written while we read: read again
                continue;
            }

            if (Array.IndexOf(contents, (byte)0) >= 0 || !IsUtf8(contents))
            {
                problems.Add(SyncDiagnosticCodes.Error(name, SyncDiagnosticCodes.NotUtf8Text, $"{name} is not UTF-8 text."));
                return null;
            }

            var file = new SourceFile(name, path, contents, ContentHash.Sha256Hex(contents));
            cache.Put(path, identity, file, started);
            return file;
        }

        problems.Add(SyncDiagnosticCodes.Error(name, SyncDiagnosticCodes.Unreadable, $"{name} kept changing while it was read."));
        return null;
    }

    /// <summary>The name rules of the issue: no '/', no '..', no control characters, no leading dot.</summary>
    internal static RuleDiagnostic? CheckName(string name)
    {
        if (name.Contains('/'))
        {
            return SyncDiagnosticCodes.Error(name, SyncDiagnosticCodes.NestedPath, $"'{Printable(name)}' contains '/'.");
        }

        if (name.Contains("..", StringComparison.Ordinal))
        {
            return SyncDiagnosticCodes.Error(name, SyncDiagnosticCodes.DotDotInName, $"'{Printable(name)}' contains '..'.");
        }

        // U+FFFD stands for bytes that were not UTF-8 in the name itself.
        if (name.Any(c => char.IsControl(c) || c == '\uFFFD'))
        {
            return SyncDiagnosticCodes.Error(Printable(name), SyncDiagnosticCodes.ControlCharacterInName, $"'{Printable(name)}' contains a control character or bytes that are not UTF-8.");
        }

        if (name.StartsWith('.'))
        {
            return SyncDiagnosticCodes.Error(name, SyncDiagnosticCodes.LeadingDotInName, $"'{name}' starts with a dot; augenrules and auditd skip hidden files.");
        }

        return null;
    }

    internal static string Printable(string name) =>
        string.Concat(name.Select(c => char.IsControl(c) ? $"\\x{(int)c:x2}" : c.ToString()));

    private static bool IsUtf8(byte[] contents)
    {
        try
        {
            StrictUtf8.GetCharCount(contents);
            return true;
        }
        catch (DecoderFallbackException)
        {
            return false;
        }
    }

    private static bool IsInside(string path, string root) =>
        path == root || path.StartsWith(root.EndsWith('/') ? root : root + "/", StringComparison.Ordinal);
}
