using System.Management.Automation;
using AksAuditd.Core.Audit;
using AksAuditd.Core.Events;
using AksAuditd.Core.Rules;

namespace AksAuditd.PowerShell.Commands;

/// <summary>
/// Reads the node's audit log as typed events, faster than ausearch: filters by key, type, time, process,
/// executable and result, follows the live log with -Wait, and writes each event as soon as it is complete.
/// </summary>
[Cmdlet(VerbsCommon.Get, "AuditEvent", DefaultParameterSetName = AuditLogCommandBase.PathSet)]
[OutputType("AksAuditd.Core.Events.AuditEvent")]
[OutputType(typeof(string))]
public sealed class GetAuditEventCommand : AuditLogCommandBase
{
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

    /// <summary>
    /// Each event as one string, the text <c>ausearch -i</c> prints for it. Strings pass PowerShell's host as they
    /// are, where the default view's text is cut at the output's width (80 columns in a pipe): this is the form to
    /// pipe to grep or a file, and the fastest to print.
    /// </summary>
    [Parameter]
    public SwitchParameter AsText { get; set; }

    protected override void EndProcessing()
    {
        if (NothingToRead)
        {
            return;
        }

        if (Raw && AsText)
        {
            ThrowTerminatingError(new ErrorRecord(
                new ArgumentException("-Raw and -AsText cannot be used together: -Raw writes the log's own lines, -AsText each event as ausearch -i prints it."),
                "RawWithAsText", ErrorCategory.InvalidArgument, null));
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
            foreach (var auditEvent in reader.Read(query, Stop.Token))
            {
                if (Raw)
                {
                    foreach (var record in auditEvent.Records)
                    {
                        WriteObject(record.Text);
                    }
                }
                else if (AsText)
                {
                    WriteObject(auditEvent.ToString());
                }
                else
                {
                    WriteObject(auditEvent);
                }
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            ThrowTerminatingError(LogReadError(e, query.Paths, query.HostRoot));
        }
    }

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
            Paths = Files,
            HostRoot = ResolveLogHostRoot(),
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
