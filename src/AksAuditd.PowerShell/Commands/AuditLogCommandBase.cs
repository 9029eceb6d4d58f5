using System.Management.Automation;
using AksAuditd.Core.Configuration;

namespace AksAuditd.PowerShell.Commands;

/// <summary>
/// What Get-AuditEvent and Measure-AuditEvent share: the log files to read (-Path, -LiteralPath, else the node's
/// log_file under -HostRoot), Ctrl+C, and the errors of a log that cannot be read, so both read the same inputs alike.
/// </summary>
public abstract class AuditLogCommandBase : AksAuditdCmdlet
{
    internal const string PathSet = "Path";
    internal const string LiteralPathSet = "LiteralPath";

    private protected List<string> Files { get; } = new();
    private protected CancellationTokenSource Stop { get; } = new();

    /// <summary>Log files or directories (audit.log and its rotations); wildcards allowed. Default: the node's log_file.</summary>
    [Parameter(Position = 0, ParameterSetName = PathSet, ValueFromPipeline = true, ValueFromPipelineByPropertyName = true)]
    [SupportsWildcards]
    [ValidateNotNullOrEmpty]
    public string[]? Path { get; set; }

    [Parameter(Mandatory = true, ParameterSetName = LiteralPathSet, ValueFromPipelineByPropertyName = true)]
    [Alias("PSPath", "LP")]
    [ValidateNotNullOrEmpty]
    public string[]? LiteralPath { get; set; }

    /// <summary>Where the node's / is mounted (/host in kubectl debug node/...).</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string? HostRoot { get; set; }

    protected override void ProcessRecord()
    {
        if (ParameterSetName == LiteralPathSet)
        {
            foreach (var path in LiteralPath!)
            {
                Files.Add(SessionState.Path.GetUnresolvedProviderPathFromPSPath(path));
            }

            return;
        }

        foreach (var path in Path ?? [])
        {
            try
            {
                Files.AddRange(SessionState.Path.GetResolvedProviderPathFromPSPath(path, out _));
            }
            catch (ItemNotFoundException e)
            {
                WriteError(e, "PathNotFound", ErrorCategory.ObjectNotFound, path);
            }
        }
    }

    /// <summary>Ctrl+C: the reader notices the token within one poll or file and stops.</summary>
    protected override void StopProcessing() => Stop.Cancel();

    /// <summary>Paths were given but none matched (each was reported): there is nothing to read, and no default either.</summary>
    private protected bool NothingToRead => (Path is not null || LiteralPath is not null) && Files.Count == 0;

    /// <summary>-HostRoot, else the configured host root when it is mounted here, else / (running on the node itself).</summary>
    private protected string ResolveLogHostRoot()
    {
        if (HostRoot is not null)
        {
            var root = SessionState.Path.GetUnresolvedProviderPathFromPSPath(HostRoot);
            if (!Directory.Exists(root))
            {
                ThrowTerminatingError(new ErrorRecord(
                    new DirectoryNotFoundException($"The host root {root} does not exist."), "HostRootNotFound", ErrorCategory.ObjectNotFound, root));
            }

            return root;
        }

        // Reading a log must not fail over an unrelated bad setting; Get-AksAuditdConfiguration reports those.
        string configured;
        try
        {
            configured = new ConfigurationLoader().Load().HostRoot;
        }
        catch (ConfigurationException e)
        {
            WriteVerbose($"Using / as the host root: the configuration is invalid ({e.Message})");
            return "/";
        }

        var mounted = Directory.Exists(System.IO.Path.Combine(configured, "etc")) ? configured : "/";
        WriteVerbose($"Host root {mounted}");
        return mounted;
    }

    /// <summary>
    /// A log that is missing, forbidden or unreadable (an <see cref="IOException"/> or <see cref="UnauthorizedAccessException"/>)
    /// as the terminating error both cmdlets give it: the same id and category, and as target the missing file, else the
    /// paths asked for, else the host root whose log_file was read.
    /// </summary>
    private protected static ErrorRecord LogReadError(Exception error, IReadOnlyList<string> paths, string hostRoot) => error switch
    {
        FileNotFoundException e => new ErrorRecord(e, "AuditLogNotFound", ErrorCategory.ObjectNotFound, e.FileName),
        UnauthorizedAccessException e => new ErrorRecord(e, "AuditLogAccessDenied", ErrorCategory.PermissionDenied, paths.Count > 0 ? paths : hostRoot),
        _ => new ErrorRecord(error, "AuditLogUnreadable", ErrorCategory.ReadError, paths.Count > 0 ? paths : hostRoot),
    };
}
