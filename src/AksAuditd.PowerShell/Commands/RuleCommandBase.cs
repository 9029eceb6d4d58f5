using System.Management.Automation;
using AksAuditd.Core.Rules;

namespace AksAuditd.PowerShell.Commands;

/// <summary>
/// The inputs Test-AuditRule and Get-AuditRule share: rules files by -Path (wildcards) or -LiteralPath, or lines by
/// -Line, read for a node arch and optionally against a node's host root.
/// </summary>
public abstract class RuleCommandBase : AksAuditdCmdlet
{
    public const string PathSet = "Path";
    public const string LiteralPathSet = "LiteralPath";
    public const string LineSet = "Line";

    /// <summary>Rules files, directories of them, or Kubernetes manifests (.yaml/.yml); wildcards allowed.</summary>
    [Parameter(ParameterSetName = PathSet, Mandatory = true, Position = 0, ValueFromPipelineByPropertyName = true)]
    [Alias("FullName")]
    [ValidateNotNullOrEmpty]
    public string[] Path { get; set; } = [];

    [Parameter(ParameterSetName = LiteralPathSet, Mandatory = true, ValueFromPipelineByPropertyName = true)]
    [Alias("PSPath", "LP")]
    [ValidateNotNullOrEmpty]
    public string[] LiteralPath { get; set; } = [];

    /// <summary>Rule lines, each checked as a line of one rules file (numbered from 1 per call).</summary>
    [Parameter(ParameterSetName = LineSet, Mandatory = true, Position = 0, ValueFromPipeline = true)]
    [AllowEmptyString]
    public string[] Line { get; set; } = [];

    /// <summary>
    /// The node arch (x86_64/amd64 or aarch64/arm64): what -F arch=b64/b32 mean and which syscall table applies.
    /// Test-AuditRule takes several (a cluster with x86_64 and arm64 node pools); Get-AuditRule reads for one.
    /// </summary>
    [Parameter]
    [ValidateSet("x86_64", "amd64", "aarch64", "arm64", "i386", IgnoreCase = false)]
    [ValidateCount(1, 5)]
    public string[] Arch { get; set; } = ["x86_64"];

    /// <summary>The node's / (for example /node in the DaemonSet): resolves user names and checks that watched directories exist.</summary>
    [Parameter]
    public string? HostRoot { get; set; }

    private RuleParserOptions? _options;

    private protected RuleParserOptions Options => _options ??= new RuleParserOptions
    {
        Arch = Arch[0],
        HostRoot = HostRoot is null ? null : SessionState.Path.GetUnresolvedProviderPathFromPSPath(HostRoot),
    };

    /// <summary>The files the -Path or -LiteralPath values name (a directory stands for its *.rules files, in augenrules order).</summary>
    private protected IEnumerable<string> ResolveFiles()
    {
        var literal = ParameterSetName == LiteralPathSet;
        foreach (var value in literal ? LiteralPath : Path)
        {
            List<string> resolved;
            try
            {
                if (literal)
                {
                    resolved = [SessionState.Path.GetUnresolvedProviderPathFromPSPath(value)];
                }
                else
                {
                    resolved = SessionState.Path.GetResolvedProviderPathFromPSPath(value, out var provider).ToList();
                    if (provider.Name != "FileSystem")
                    {
                        WriteError(new ArgumentException($"{value} is not a file system path."), "NotAFileSystemPath", ErrorCategory.InvalidArgument, value);
                        Failed = true;
                        continue;
                    }
                    if (resolved.Count == 0)
                    {
                        // A wildcard that matches nothing: say so, as Get-Content does, instead of passing silently.
                        throw new ItemNotFoundException($"Cannot find a rules file matching '{value}'.");
                    }
                }
            }
            catch (ItemNotFoundException e)
            {
                WriteError(e, "RulesFileNotFound", ErrorCategory.ObjectNotFound, value);
                Failed = true;
                continue;
            }

            foreach (var path in resolved)
            {
                if (Directory.Exists(path))
                {
                    WriteVerbose($"{path} is a directory: reading its *.rules files in augenrules order");
                    foreach (var file in new RuleMerger().SourceFiles(path).Where(File.Exists))
                    {
                        yield return file;
                    }
                }
                else if (File.Exists(path))
                {
                    yield return path;
                }
                else
                {
                    WriteError(new ItemNotFoundException($"Cannot find the rules file '{path}'."), "RulesFileNotFound", ErrorCategory.ObjectNotFound, value);
                    Failed = true;
                }
            }
        }
    }

    /// <summary>True once an input could not be read.</summary>
    private protected bool Failed { get; set; }

    /// <summary>Runs <paramref name="read"/>, turning an unreadable file into a non-terminating error.</summary>
    private protected bool TryRead(string path, Action read)
    {
        try
        {
            read();
            return true;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            WriteError(e, "RulesFileUnreadable", e is UnauthorizedAccessException ? ErrorCategory.PermissionDenied : ErrorCategory.ReadError, path);
            Failed = true;
            return false;
        }
    }
}
