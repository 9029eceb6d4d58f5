using System.Management.Automation;
using AksAuditd.Core.Audit;
using AksAuditd.Core.Configuration;
using AksAuditd.Core.Events;
using AksAuditd.Core.Rules;

namespace AksAuditd.PowerShell.Commands;

/// <summary>
/// Reads the node's audit log as typed events, faster than ausearch: filters by key, type, time, process,
/// executable and result, follows the live log with -Wait, and writes each event as soon as it is complete.
/// </summary>
[Cmdlet(VerbsCommon.Get, "AuditEvent", DefaultParameterSetName = PathSet)]
[OutputType("AksAuditd.Core.Events.AuditEvent")]
[OutputType(typeof(string))]
public sealed class GetAuditEventCommand : AksAuditdCmdlet
{
    private const string PathSet = "Path";
    private const string LiteralPathSet = "LiteralPath";

    private readonly List<string> _files = new();
    private readonly CancellationTokenSource _stop = new();

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

    [Parameter]
    [SupportsWildcards]
    [ValidateNotNullOrEmpty]
    public string[]? Key { get; set; }

    /// <summary>Record type names (SYSCALL, EXECVE, USER_LOGIN...); a string, as Core types stay out of cmdlet signatures.</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    [ArgumentCompleter(typeof(MessageTypeCompleter))]
    public string[]? MessageType { get; set; }

    [Parameter]
    public DateTime After { get; set; }

    [Parameter]
    public DateTime Before { get; set; }

    [Parameter]
    [Alias("Pid")]
    public int[]? ProcessId { get; set; }

    [Parameter]
    [SupportsWildcards]
    [Alias("Exe")]
    [ValidateNotNullOrEmpty]
    public string[]? Executable { get; set; }

    [Parameter]
    public bool Success { get; set; }

    [Parameter]
    [ValidateRange(0, 100_000)]
    public int Tail { get; set; }

    [Parameter]
    public SwitchParameter Wait { get; set; }

    [Parameter]
    public SwitchParameter Raw { get; set; }

    protected override void ProcessRecord()
    {
        if (ParameterSetName == LiteralPathSet)
        {
            foreach (var path in LiteralPath!)
            {
                _files.Add(SessionState.Path.GetUnresolvedProviderPathFromPSPath(path));
            }

            return;
        }

        foreach (var path in Path ?? [])
        {
            try
            {
                _files.AddRange(SessionState.Path.GetResolvedProviderPathFromPSPath(path, out _));
            }
            catch (ItemNotFoundException e)
            {
                WriteError(e, "PathNotFound", ErrorCategory.ObjectNotFound, path);
            }
        }
    }

    protected override void EndProcessing()
    {
        if ((Path is not null || LiteralPath is not null) && _files.Count == 0)
        {
            return;
        }

        var query = BuildQuery();
        var reader = new AuditEventReader(Log);
        IReadOnlyList<string> files;
        try
        {
            files = reader.ResolveFiles(query);
        }
        catch (IOException e)
        {
            ThrowTerminatingError(new ErrorRecord(e, "AuditLogUnreadable", ErrorCategory.ReadError, query.HostRoot));
            return;
        }

        WriteVerbose(files.Count == 0 ? "No audit log files found" : $"Reading {string.Join(", ", files)}{(Wait ? ", then following the last" : string.Empty)}");
        try
        {
            foreach (var auditEvent in reader.Read(query, _stop.Token))
            {
                if (Raw)
                {
                    foreach (var record in auditEvent.Records)
                    {
                        WriteObject(record.Text);
                    }
                }
                else
                {
                    WriteObject(auditEvent);
                }
            }
        }
        catch (FileNotFoundException e)
        {
            ThrowTerminatingError(new ErrorRecord(e, "AuditLogNotFound", ErrorCategory.ObjectNotFound, e.FileName));
        }
        catch (UnauthorizedAccessException e)
        {
            ThrowTerminatingError(new ErrorRecord(e, "AuditLogAccessDenied", ErrorCategory.PermissionDenied, query.Paths.Count > 0 ? query.Paths : query.HostRoot));
        }
        catch (IOException e)
        {
            ThrowTerminatingError(new ErrorRecord(e, "AuditLogUnreadable", ErrorCategory.ReadError, query.Paths.Count > 0 ? query.Paths : query.HostRoot));
        }
    }

    /// <summary>Ctrl+C: the follower notices the token within one poll and the enumeration ends.</summary>
    protected override void StopProcessing() => _stop.Cancel();

    private AuditEventQuery BuildQuery()
    {
        var bound = MyInvocation.BoundParameters;
        foreach (var type in MessageType ?? [])
        {
            if (!MessageTypes.TryGetNumber(type, out _))
            {
                ThrowTerminatingError(new ErrorRecord(
                    new ArgumentException($"'{type}' is not an audit message type libaudit knows (SYSCALL, EXECVE, USER_LOGIN...)."),
                    "UnknownMessageType", ErrorCategory.InvalidArgument, type));
            }
        }

        return new AuditEventQuery
        {
            Paths = _files,
            HostRoot = ResolveHostRoot(),
            Keys = Key ?? [],
            MessageTypes = MessageType ?? [],
            After = bound.ContainsKey(nameof(After)) ? After.ToUniversalTime() : null,
            Before = bound.ContainsKey(nameof(Before)) ? Before.ToUniversalTime() : null,
            ProcessIds = ProcessId ?? [],
            Executables = Executable ?? [],
            Success = bound.ContainsKey(nameof(Success)) ? Success : null,
            Tail = bound.ContainsKey(nameof(Tail)) ? Tail : null,
            Follow = Wait,
        };
    }

    /// <summary>-HostRoot, else the configured host root when it is mounted here, else / (running on the node itself).</summary>
    private string ResolveHostRoot()
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
}

/// <summary>Tab completion of -MessageType from libaudit's type names.</summary>
public sealed class MessageTypeCompleter : IArgumentCompleter
{
    public IEnumerable<CompletionResult> CompleteArgument(string commandName, string parameterName, string wordToComplete,
        System.Management.Automation.Language.CommandAst commandAst, System.Collections.IDictionary fakeBoundParameters) =>
        Names().Where(n => n.StartsWith(wordToComplete, StringComparison.OrdinalIgnoreCase))
            .Select(n => new CompletionResult(n, n, CompletionResultType.ParameterValue, n));

    private static IEnumerable<string> Names() => MessageTypes.Names;
}
