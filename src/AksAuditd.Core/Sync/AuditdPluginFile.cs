using System.Text;

namespace AksAuditd.Core.Sync;

/// <summary>What auditd 3.0.9 does with one plugins.d file when its dispatcher starts.</summary>
public enum AuditdPluginVerdict
{
    /// <summary>auditd says "Skipping NAME plugin due to errors": the plugin does not run.</summary>
    Refused,

    /// <summary>Read, and active: auditd starts it.</summary>
    Active,

    /// <summary>Read and not active, or a name auditd never reads (hidden, more than one dot).</summary>
    Inactive,
}

/// <summary>One message auditd prints while reading the file, with the line it is about (0: the file).</summary>
public sealed record AuditdPluginMessage(int LineNumber, AuditdPluginMessageKind Kind, string Text);

/// <summary>Why auditd spoke about a line.</summary>
public enum AuditdPluginMessageKind
{
    /// <summary>The line did not fit auditd's 160-byte buffer, or had no newline at the end of the file: auditd drops it.</summary>
    LineDropped,

    /// <summary>More words than the key takes; for args auditd keeps the first two and goes on.</summary>
    WrongNumberOfWords,

    /// <summary>Not <c>key = value</c> with spaces around '='.</summary>
    MissingEqualSign,

    UnknownKeyword,

    /// <summary>A second word after a value of a key that takes one.</summary>
    InvalidOption,

    /// <summary>A value outside the key's list (compared without case, so a trailing CR or TAB is part of it).</summary>
    OptionNotFound,

    /// <summary>The path's directory name is shorter than 4 characters.</summary>
    DirectoryTooShort,

    /// <summary>active = yes without a path.</summary>
    NoPath,

    /// <summary>The program named by path fails auditd's check on the node (missing, not regular, not root's, mode).</summary>
    Program,

    /// <summary>The closing "Skipping NAME plugin due to errors".</summary>
    Skipped,
}

/// <summary>The outcome of reading a plugin file as auditd does: verdict, messages, and what it would run.</summary>
public sealed record AuditdPluginReading(
    AuditdPluginVerdict Verdict,
    IReadOnlyList<AuditdPluginMessage> Messages,
    string? Active,
    string? Path,
    int PathLine,
    string? Type,
    IReadOnlyList<string> Arguments,
    bool NameIgnored)
{
    /// <summary>The argv auditd passes execve (path, then up to two args); empty for a builtin or a plugin that does not run.</summary>
    public IReadOnlyList<string> Argv =>
        Verdict == AuditdPluginVerdict.Active && Path is not null && !string.Equals(Type, "builtin", StringComparison.OrdinalIgnoreCase)
            ? new[] { Path }.Concat(Arguments).ToArray()
            : Array.Empty<string>();
}

/// <summary>
/// Reads a plugins.d file byte for byte as auditd 3.0.9 does (audisp/audispd-pconfig.c, load_pconfig): fgets into a
/// 160-byte buffer (a line of 159 bytes or more, or a last line without a newline, is dropped with "too long");
/// words split on spaces only; keys and listed values compared without case; the last of a repeated key wins;
/// args keeps two words. Agreement with the real auditd is recorded in tests/…/Sync/PluginOracle.
/// </summary>
public static class AuditdPluginFile
{
    /// <summary>auditd's fgets buffer: lines of up to this many bytes before the newline are read whole.</summary>
    public const int MaxLineBytes = 158;

    private const int BufferBytes = 160;

    private static readonly string[] ActiveValues = { "yes", "no" };
    private static readonly string[] DirectionValues = { "out" };
    private static readonly string[] TypeValues = { "builtin", "always" };
    private static readonly string[] FormatValues = { "binary", "string" };

    /// <summary>Whether auditd's dispatcher reads a file of this name at all (it skips hidden names and backup-style names with two dots).</summary>
    public static bool IsReadByAuditd(string name) => name.Length > 0 && name[0] != '.' && name.Count(c => c == '.') <= 1;

    /// <param name="file">The path auditd would print (plugin_dir + "/" + name).</param>
    /// <param name="contents">The file's bytes.</param>
    /// <param name="checkProgram">auditd's check of an active plugin's program on the node, returning its message; null skips it.</param>
    public static AuditdPluginReading Read(string file, byte[] contents, Func<string, string?>? checkProgram = null)
    {
        var name = System.IO.Path.GetFileName(file);
        if (!IsReadByAuditd(name))
        {
            return new AuditdPluginReading(AuditdPluginVerdict.Inactive, Array.Empty<AuditdPluginMessage>(), null, null, 0, null, Array.Empty<string>(), true);
        }

        var messages = new List<AuditdPluginMessage>();
        string? active = null, path = null, type = null;
        var pathLine = 0;
        var arguments = Array.Empty<string>();
        var lineNumber = 1;
        var position = 0;
        AuditdPluginReading Refuse()
        {
            messages.Add(new AuditdPluginMessage(0, AuditdPluginMessageKind.Skipped, $"Skipping {name} plugin due to errors"));
            return new AuditdPluginReading(AuditdPluginVerdict.Refused, messages, active, path, pathLine, type, arguments, false);
        }

        while (NextLine(contents, ref position, ref lineNumber, file, messages) is { } line)
        {
            var words = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (words.Length == 0 || words[0][0] == '#')
            {
                lineNumber++;
                continue;
            }

            if (words.Length == 1 || (words.Length == 2 && words[1] == "="))
            {
                messages.Add(new(lineNumber, AuditdPluginMessageKind.WrongNumberOfWords, $"Wrong number of arguments for line {lineNumber} in {file}"));
                return Refuse();
            }

            if (words[1] != "=")
            {
                messages.Add(new(lineNumber, AuditdPluginMessageKind.MissingEqualSign, $"Missing equal sign for line {lineNumber} in {file}"));
                return Refuse();
            }

            var key = words[0];
            var value = words[2];
            var option = words.Length > 3 ? words[3] : null;
            if (words.Length > 4)
            {
                // nv_split reports it but keeps the name, value and first option.
                messages.Add(new(lineNumber, AuditdPluginMessageKind.WrongNumberOfWords, $"Wrong number of arguments for line {lineNumber} in {file}"));
            }

            var lower = key.ToLowerInvariant();
            if (lower is not ("active" or "direction" or "path" or "type" or "args" or "format"))
            {
                messages.Add(new(lineNumber, AuditdPluginMessageKind.UnknownKeyword, $"Unknown keyword \"{key}\" in line {lineNumber} of {file}"));
                return Refuse();
            }

            if (lower != "args" && option is not null)
            {
                messages.Add(new(lineNumber, AuditdPluginMessageKind.InvalidOption, $"Keyword \"{key}\" has invalid option \"{option}\" in line {lineNumber} of {file}"));
                return Refuse();
            }

            switch (lower)
            {
                case "active":
                case "direction":
                case "type":
                case "format":
                    var allowed = lower switch { "active" => ActiveValues, "direction" => DirectionValues, "type" => TypeValues, _ => FormatValues };
                    if (!allowed.Contains(value, StringComparer.OrdinalIgnoreCase))
                    {
                        messages.Add(new(lineNumber, AuditdPluginMessageKind.OptionNotFound, $"Option {value} not found - line {lineNumber}"));
                        return Refuse();
                    }

                    if (lower == "active")
                    {
                        active = value.ToLowerInvariant();
                    }
                    else if (lower == "type")
                    {
                        type = value.ToLowerInvariant();
                    }

                    break;
                case "path":
                    if (!value.StartsWith("builtin_", StringComparison.OrdinalIgnoreCase) && DirectoryName(value) is { Length: < 4 } directory)
                    {
                        messages.Add(new(lineNumber, AuditdPluginMessageKind.DirectoryTooShort, $"The directory name: {directory} is too short - line {lineNumber}"));
                        return Refuse();
                    }

                    path = value;
                    pathLine = lineNumber;
                    break;
                default:
                    arguments = option is null ? new[] { value } : new[] { value, option };
                    break;
            }

            lineNumber++;
        }

        // sanity_check runs only when at least one line was read.
        if (lineNumber > 1 && active == "yes")
        {
            if (path is null)
            {
                messages.Add(new(0, AuditdPluginMessageKind.NoPath, $"Error - plugin ({file}) is active but no path given"));
                return Refuse();
            }

            if (!path.StartsWith("builtin_", StringComparison.OrdinalIgnoreCase) && checkProgram?.Invoke(path) is { } problem)
            {
                messages.Add(new(pathLine, AuditdPluginMessageKind.Program, problem));
                return Refuse();
            }
        }

        return new AuditdPluginReading(active == "yes" ? AuditdPluginVerdict.Active : AuditdPluginVerdict.Inactive, messages, active, path, pathLine, type, arguments, false);
    }

    /// <summary>
    /// auditd's sanity_check of an active plugin's program (stat following links: a regular file owned by root with at
    /// least rwxr-x), on the node reached through <paramref name="hostRoot"/>; returns auditd's message, null when it passes.
    /// </summary>
    public static Func<string, string?> ProgramCheckOnNode(string hostRoot, INodeFileSystem? fileSystem = null)
    {
        var fs = fileSystem ?? LinuxNodeFileSystem.Instance;
        return program =>
        {
            var onNode = Configuration.HostPath.Join(hostRoot, program);
            var identity = fs.Stat(onNode);
            if (!identity.Exists)
            {
                // stat's own errno, for auditd's "(No such file or directory)" or "(Not a directory)".
                var errno = Native.access(onNode, 0) == 0 ? 0 : System.Runtime.InteropServices.Marshal.GetLastPInvokeError();
                return $"Unable to stat {program} ({new System.ComponentModel.Win32Exception(errno == 0 ? 2 : errno).Message})";
            }

            if (identity.Type != NodeFileType.Regular)
            {
                return $"{program} is not a regular file";
            }

            if (identity.Uid != 0)
            {
                return $"{program} is not owned by root";
            }

            return (identity.Mode & 0b111_101_000) != 0b111_101_000 ? $"{program} permissions should be 0750" : null;
        };
    }

    /// <summary>get_line: the next whole line without its newline, reporting (once per line) each line that does not fit the buffer.</summary>
    private static string? NextLine(byte[] contents, ref int position, ref int lineNumber, string file, List<AuditdPluginMessage> messages)
    {
        var tooLong = false;
        while (position < contents.Length)
        {
            // fgets reads up to BufferBytes - 1 bytes, stopping after a newline.
            var end = Math.Min(contents.Length, position + BufferBytes - 1);
            var newline = Array.IndexOf(contents, (byte)'\n', position, end - position);
            var start = position;
            position = newline >= 0 ? newline + 1 : end;
            if (newline >= 0)
            {
                if (!tooLong)
                {
                    return Encoding.UTF8.GetString(contents, start, newline - start);
                }

                tooLong = false;
                lineNumber++;
            }
            else if (!tooLong)
            {
                messages.Add(new(lineNumber, AuditdPluginMessageKind.LineDropped, $"Skipping line {lineNumber} in {file}: too long"));
                tooLong = true;
            }
        }

        return null;
    }

    /// <summary>dirname(3) as glibc computes it.</summary>
    private static string DirectoryName(string path)
    {
        var trimmed = path.TrimEnd('/');
        if (trimmed.Length == 0)
        {
            return path.Length == 0 ? "." : "/";
        }

        var slash = trimmed.LastIndexOf('/');
        if (slash < 0)
        {
            return ".";
        }

        var directory = trimmed[..slash].TrimEnd('/');
        return directory.Length == 0 ? "/" : directory;
    }

    private static class Native
    {
        [System.Runtime.InteropServices.DllImport("libc", SetLastError = true)]
        public static extern int access([System.Runtime.InteropServices.MarshalAs(System.Runtime.InteropServices.UnmanagedType.LPUTF8Str)] string path, int mode);
    }
}
