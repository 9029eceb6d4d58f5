using System.Text;

namespace AksAuditd.Core.Host;

/// <summary>
/// One command to run on the node, as the node would run it: a program found on the node's PATH, its
/// arguments, extra environment, a timeout, and the exit codes that are answers rather than failures
/// (<c>systemctl is-active</c> exits 3 for "inactive", <c>rpm -q</c> 1 for "not installed").
/// </summary>
public sealed record HostCommand
{
    public static readonly TimeSpan DefaultTimeout = TimeSpan.FromSeconds(60);

    public HostCommand(string program, params string[] arguments)
    {
        ArgumentException.ThrowIfNullOrEmpty(program);
        Program = program;
        Arguments = arguments;
    }

    public string Program { get; }

    public IReadOnlyList<string> Arguments { get; }

    /// <summary>Variables set for this command only (DEBIAN_FRONTEND=noninteractive...).</summary>
    public IReadOnlyDictionary<string, string> Environment { get; init; } = new Dictionary<string, string>();

    public TimeSpan Timeout { get; init; } = DefaultTimeout;

    /// <summary>Exit codes besides 0 that the caller reads as an answer; any other non-zero exit is an error.</summary>
    public IReadOnlyList<int> AcceptedExitCodes { get; init; } = Array.Empty<int>();

    /// <summary>The command as a person would type it on the node: <c>VAR=value program 'arg with space'</c>.</summary>
    public override string ToString() => Render(Environment, Program, Arguments);

    /// <summary>Joins words into one POSIX shell line, quoting only the words that need it.</summary>
    public static string Render(IReadOnlyDictionary<string, string> environment, string program, IEnumerable<string> arguments)
    {
        var line = new StringBuilder();
        foreach (var (name, value) in environment.OrderBy(e => e.Key, StringComparer.Ordinal))
        {
            line.Append(name).Append('=').Append(Quote(value)).Append(' ');
        }

        line.Append(Quote(program));
        foreach (var argument in arguments)
        {
            line.Append(' ').Append(Quote(argument));
        }

        return line.ToString();
    }

    /// <summary>Single-quotes a word for a POSIX shell when it holds anything but safe characters.</summary>
    public static string Quote(string word)
    {
        if (word.Length > 0 && word.All(c => char.IsAsciiLetterOrDigit(c) || "-_./:=,+@%^".Contains(c)))
        {
            return word;
        }

        return "'" + word.Replace("'", "'\\''", StringComparison.Ordinal) + "'";
    }
}

/// <summary>What a finished command returned, with the command line exactly as it was executed.</summary>
public sealed record HostCommandResult(
    HostCommand Command,
    string CommandLine,
    int ExitCode,
    string StandardOutput,
    string StandardError,
    TimeSpan Duration)
{
    public bool Succeeded => ExitCode == 0;
}

/// <summary>
/// A host command that failed, timed out or could not start. The message names the command line as
/// executed and quotes its stderr, which is what a person needs to reproduce and fix it on the node.
/// </summary>
public sealed class HostCommandException : Exception
{
    public HostCommandException(string message, string commandLine, int? exitCode, string standardError, bool timedOut, Exception? inner = null)
        : base(message, inner)
    {
        CommandLine = commandLine;
        ExitCode = exitCode;
        StandardError = standardError;
        TimedOut = timedOut;
    }

    public string CommandLine { get; }

    /// <summary>Null when the command timed out or never started.</summary>
    public int? ExitCode { get; }

    public string StandardError { get; }

    public bool TimedOut { get; }

    internal static HostCommandException Failed(HostCommandResult result)
    {
        var stderr = result.StandardError.Trim();
        var quoted = stderr.Length == 0 ? "no stderr" : $"stderr: \"{Shorten(stderr)}\"";
        // auditctl blames the kernel for any refused audit socket; in a container the cause is nearly always around it.
        var hint = AuditSocketDiagnosis.IsSocketRefusal(stderr)
            ? " " + AuditSocketDiagnosis.Explain(HostCommandRunner.InInitialPidNamespace())
            : string.Empty;
        return new HostCommandException(
            $"'{result.CommandLine}' failed with exit code {result.ExitCode} ({quoted}).{hint}",
            result.CommandLine,
            result.ExitCode,
            result.StandardError,
            timedOut: false);
    }

    internal static string Shorten(string text) => text.Length <= 2000 ? text : text[..2000] + "...";
}
