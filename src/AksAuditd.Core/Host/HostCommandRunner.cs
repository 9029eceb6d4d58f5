using System.Diagnostics;
using AksAuditd.Core.Logging;

namespace AksAuditd.Core.Host;

/// <summary>Runs commands in the node's context. Services take this interface so tests can choose the root and mode.</summary>
public interface IHostCommandRunner
{
    /// <summary>Where the node's / is in this process's view (<c>/</c> on the node itself).</summary>
    string HostRoot { get; }

    HostAccessMode Mode { get; }

    /// <summary>The exact command line this runner executes for <paramref name="command"/> (what -WhatIf shows).</summary>
    string Render(HostCommand command);

    /// <summary>
    /// Runs the command and returns its result when it exits 0 or with an accepted code.
    /// </summary>
    /// <exception cref="HostCommandException">Any other exit code, a timeout, or a program that cannot start.</exception>
    HostCommandResult Run(HostCommand command);
}

/// <summary>
/// Runs host commands directly, through <c>chroot</c> into the host root, or through <c>nsenter</c> into a
/// process's namespaces (PID 1 on a node). Every command is logged at debug level with its arguments,
/// exit code, duration and stderr, and is killed with its children when it outlives its timeout.
/// </summary>
public sealed class HostCommandRunner : IHostCommandRunner
{
    /// <summary>The PATH commands get on the node; a container's PATH may lack /sbin, where auditctl lives on Debian.</summary>
    public const string NodePath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

    // The inode of the initial PID namespace (PROC_PID_INIT_INO in include/linux/proc_ns.h).
    private const ulong InitialPidNamespaceInode = 0xEFFFFFFC;

    private readonly ILogSink _log;

    public HostCommandRunner(string hostRoot, HostAccessMode mode, ILogSink? log = null, int nsenterTarget = 1)
    {
        ArgumentException.ThrowIfNullOrEmpty(hostRoot);
        HostRoot = hostRoot;
        Mode = mode;
        NsenterTarget = nsenterTarget;
        _log = log ?? NullLogSink.Instance;
    }

    public string HostRoot { get; }

    public HostAccessMode Mode { get; }

    /// <summary>The process whose namespaces nsenter enters: 1 on a node; tests point it at a process they own.</summary>
    public int NsenterTarget { get; }

    /// <summary>
    /// The runner for a host root: direct for <c>/</c>; nsenter when the host root is PID 1's root (a hostPID pod
    /// with the node's / mounted); chroot otherwise.
    /// </summary>
    public static HostCommandRunner For(string hostRoot, ILogSink? log = null) => new(hostRoot, ChooseMode(hostRoot), log);

    public static HostAccessMode ChooseMode(string hostRoot)
    {
        if (Path.GetFullPath(hostRoot) == "/")
        {
            return HostAccessMode.Direct;
        }

        // /proc/1/root is readable only when PID 1 is in our PID namespace (hostPID) and we may ptrace it.
        return SameDirectory(hostRoot, "/proc/1/root") ? HostAccessMode.Nsenter : HostAccessMode.Chroot;
    }

    /// <summary>
    /// True when this process is in the initial PID namespace, the only one whose audit netlink requests the
    /// kernel accepts (audit_netlink_ok: "Only support initial user namespace / pid namespace").
    /// </summary>
    public static bool InInitialPidNamespace()
    {
        try
        {
            // The link's own text ("pid:[4026531836]"): ResolveLinkTarget would make it a path beside the link.
            return new FileInfo("/proc/self/ns/pid").LinkTarget == $"pid:[{InitialPidNamespaceInode}]";
        }
        catch (IOException)
        {
            return false;
        }
        catch (UnauthorizedAccessException)
        {
            return false;
        }
    }

    public string Render(HostCommand command)
    {
        var (program, arguments, environment) = Wrap(command);
        return HostCommand.Render(environment, program, arguments);
    }

    public HostCommandResult Run(HostCommand command)
    {
        var (program, arguments, environment) = Wrap(command);
        var line = HostCommand.Render(environment, program, arguments);
        var start = new ProcessStartInfo(program)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        // The image tunes glibc's allocator for this long-lived process (MALLOC_ARENA_MAX and the thresholds); the
        // node's own tools run with glibc's defaults, as they would on the node.
        foreach (var name in start.Environment.Keys.Where(k => k.StartsWith("MALLOC_", StringComparison.Ordinal)).ToList())
        {
            start.Environment.Remove(name);
        }

        foreach (var (name, value) in environment)
        {
            start.Environment[name] = value;
        }

        if (Mode != HostAccessMode.Direct)
        {
            start.Environment["PATH"] = NodePath;
        }
        else if (!(start.Environment.TryGetValue("PATH", out var path) && path is not null && path.Contains("/sbin", StringComparison.Ordinal)))
        {
            start.Environment["PATH"] = (path is { Length: > 0 } ? path + ":" : string.Empty) + NodePath;
        }

        var watch = Stopwatch.StartNew();
        using var process = new Process { StartInfo = start };
        try
        {
            process.Start();
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            _log.Debug("host command could not start", new LogField("command", line), new LogField("error", e.Message));
            throw new HostCommandException($"'{line}' could not start: {e.Message}.", line, null, string.Empty, timedOut: false, e);
        }

        process.StandardInput.Close();
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(command.Timeout))
        {
            try
            {
                process.Kill(entireProcessTree: true);
            }
            catch (InvalidOperationException)
            {
                // It exited between the timeout and the kill.
            }

            process.WaitForExit();
            var partial = Completed(stderr);
            _log.Debug(
                "host command timed out",
                new LogField("command", line),
                new LogField("durationMs", (long)watch.Elapsed.TotalMilliseconds),
                new LogField("stderr", partial.Trim()));
            throw new HostCommandException(
                $"'{line}' did not finish within {command.Timeout.TotalSeconds:0.#} s and was killed" +
                (partial.Trim().Length > 0 ? $" (stderr: \"{HostCommandException.Shorten(partial.Trim())}\")." : "."),
                line,
                null,
                partial,
                timedOut: true);
        }

        process.WaitForExit();
        watch.Stop();
        var result = new HostCommandResult(command, line, process.ExitCode, stdout.GetAwaiter().GetResult(), stderr.GetAwaiter().GetResult(), watch.Elapsed);
        _log.Debug(
            "host command",
            new LogField("command", line),
            new LogField("exitCode", result.ExitCode),
            new LogField("durationMs", (long)result.Duration.TotalMilliseconds),
            new LogField("stderr", result.StandardError.Trim()));
        if (result.ExitCode != 0 && !command.AcceptedExitCodes.Contains(result.ExitCode))
        {
            throw HostCommandException.Failed(result);
        }

        return result;
    }

    private (string Program, IReadOnlyList<string> Arguments, IReadOnlyDictionary<string, string> Environment) Wrap(HostCommand command)
    {
        var words = new List<string>();
        string program;
        switch (Mode)
        {
            case HostAccessMode.Direct:
                program = command.Program;
                break;
            case HostAccessMode.Chroot:
                program = "chroot";
                words.Add(HostRoot);
                words.Add(command.Program);
                break;
            default:
                program = "nsenter";
                words.AddRange(new[] { "--target", NsenterTarget.ToString(System.Globalization.CultureInfo.InvariantCulture), "--mount", "--uts", "--ipc", "--net", "--pid", "--" });
                words.Add(command.Program);
                break;
        }

        words.AddRange(command.Arguments);
        return (program, words, command.Environment);
    }

    private static string Completed(Task<string> output)
    {
        try
        {
            return output.Wait(TimeSpan.FromSeconds(2)) ? output.Result : string.Empty;
        }
        catch (AggregateException)
        {
            return string.Empty;
        }
    }

    private static bool SameDirectory(string a, string b)
    {
        try
        {
            var left = new DirectoryInfo(a);
            var right = new DirectoryInfo(b);
            if (!left.Exists || !right.Exists)
            {
                return false;
            }

            return FileId.Of(left.FullName) is { } l && FileId.Of(right.FullName) is { } r && l == r;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }
}
