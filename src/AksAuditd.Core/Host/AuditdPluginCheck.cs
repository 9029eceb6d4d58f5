using AksAuditd.Core.Sync;

namespace AksAuditd.Core.Host;

/// <summary>A plugin auditd should run that is not running under it, or not with the arguments its file gives.</summary>
public sealed record PluginMismatch(string File, IReadOnlyList<string> Expected, IReadOnlyList<IReadOnlyList<string>> Running)
{
    public override string ToString()
    {
        var running = Running.Count == 0 ? "no plugin process runs" : "running: " + string.Join("; ", Running.Select(a => string.Join(' ', a)));
        return $"{Path.GetFileName(File)} ({string.Join(' ', Expected)}) is not running under auditd ({running})";
    }
}

/// <summary>
/// Checks that auditd runs every active plugin of plugins.d as its file says: each file read as auditd reads it
/// (<see cref="AuditdPluginFile"/>), and auditd's children found in the node's /proc with their argv. A builtin plugin
/// has no process and is not checked.
/// </summary>
public sealed class AuditdPluginCheck
{
    private readonly IHostCommandRunner _runner;
    private readonly string _pluginsDirectory;

    /// <param name="runner">Reaches the node's processes (its /proc, in its PID namespace).</param>
    /// <param name="pluginsDirectory">The node's plugins.d as this process reaches it.</param>
    public AuditdPluginCheck(IHostCommandRunner runner, string pluginsDirectory)
    {
        _runner = runner;
        _pluginsDirectory = pluginsDirectory;
    }

    /// <summary>How long plugins started by a reload or start have to appear.</summary>
    public TimeSpan Wait { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>The active plugins' expected argv, by file (auditd's display path: plugins.d/name).</summary>
    public IReadOnlyList<(string File, IReadOnlyList<string> Argv)> Expected()
    {
        if (!Directory.Exists(_pluginsDirectory))
        {
            return Array.Empty<(string, IReadOnlyList<string>)>();
        }

        var expected = new List<(string, IReadOnlyList<string>)>();
        foreach (var path in Directory.EnumerateFiles(_pluginsDirectory).Order(StringComparer.Ordinal))
        {
            if (!AuditdPluginFile.IsReadByAuditd(Path.GetFileName(path)))
            {
                continue;
            }

            byte[] contents;
            try
            {
                contents = LinuxNodeFileSystem.Instance.Read(path, 1 << 20);
            }
            catch (IOException)
            {
                continue; // auditd cannot read it either, or it is gone
            }

            var reading = AuditdPluginFile.Read(path, contents);
            if (reading.Argv.Count > 0)
            {
                expected.Add((path, reading.Argv));
            }
        }

        return expected;
    }

    /// <summary>Waits up to <see cref="Wait"/> for every expected plugin to run under <paramref name="auditdPid"/>; what is still missing.</summary>
    public IReadOnlyList<PluginMismatch> Verify(int auditdPid)
    {
        var expected = Expected();
        if (expected.Count == 0)
        {
            return Array.Empty<PluginMismatch>();
        }

        var deadline = DateTime.UtcNow + Wait;
        while (true)
        {
            var running = Children(auditdPid);
            var mismatches = expected
                .Where(e => !running.Any(argv => Matches(argv, e.Argv)))
                .Select(e => new PluginMismatch(e.File, e.Argv, running))
                .ToList();
            if (mismatches.Count == 0 || DateTime.UtcNow >= deadline)
            {
                return mismatches;
            }

            Thread.Sleep(200);
        }
    }

    /// <summary>The argv of each child of <paramref name="pid"/>, from /proc/N/status (PPid) and /proc/N/cmdline on the node.</summary>
    public IReadOnlyList<IReadOnlyList<string>> Children(int pid)
    {
        // One command for the scan: the node's /proc is in its own PID namespace, reached as the runner reaches the node.
        var scan = _runner.Run(new HostCommand("sh", "-c", "grep -ls \"^PPid:[[:space:]]*$1\\$\" /proc/[0-9]*/status; true", "sh", pid.ToString(System.Globalization.CultureInfo.InvariantCulture)));
        var children = new List<IReadOnlyList<string>>();
        foreach (var status in scan.StandardOutput.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var child = status[..^"/status".Length];
            var cmdline = _runner.Run(new HostCommand("cat", child + "/cmdline") { AcceptedExitCodes = new[] { 1 } });
            var argv = cmdline.StandardOutput.Split('\0');
            var words = argv.Length > 0 && argv[^1].Length == 0 ? argv[..^1] : argv;
            if (words.Length > 0)
            {
                children.Add(words);
            }
        }

        return children;
    }

    /// <summary>The argv auditd passed execve, or a #! script's: the interpreter, then the script's path and arguments.</summary>
    private static bool Matches(IReadOnlyList<string> running, IReadOnlyList<string> expected) =>
        running.SequenceEqual(expected, StringComparer.Ordinal) ||
        (running.Count == expected.Count + 1 && running.Skip(1).SequenceEqual(expected, StringComparer.Ordinal));
}
