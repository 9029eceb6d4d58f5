using System.Globalization;
using System.Runtime.CompilerServices;
using System.Text;
using AksAuditd.Core.Audit;

namespace AksAuditd.Core.Events;

/// <summary>
/// One audit event: the records the kernel (or a user-space program) logged with the same time stamp and serial,
/// with the facts an investigation starts from lifted out of them. Values are what <c>ausearch -i</c> shows; each is
/// worked out when first read.
/// </summary>
public sealed class AuditEvent
{
    private static readonly HashSet<string> NeverKeyed = ["EXECVE", "PATH", "CWD", "PROCTITLE", "BPRM_FCAPS", "SOCKADDR", "EOE"];

    private readonly List<AuditRecord> _records;
    private string[]? _types;
    private string[]? _keys;
    private string[]? _paths;
    private bool _summarized;
    private string? _syscall;
    private bool? _success;
    private long? _exit;
    private int? _processId;
    private int? _parentProcessId;
    private string? _user;
    private string? _auditUser;
    private string? _executable;
    private string? _command;
    private string? _processTitle;
    private string? _text;

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal AuditEvent(AuditRecord first)
    {
        _records = new List<AuditRecord>(4) { first };
        Seconds = first.Seconds;
        Milliseconds = first.Milliseconds;
        Serial = first.Serial;
        Node = first.Node;
    }

    /// <summary>When the event happened, in UTC, to the millisecond.</summary>
    public DateTime Timestamp => DateTime.UnixEpoch.AddSeconds(Seconds).AddMilliseconds(Milliseconds);

    /// <summary>The kernel's event serial number (per boot); ausearch's --event.</summary>
    public long Serial { get; }

    /// <summary>The node name auditd wrote (name_format), or null.</summary>
    public string? Node { get; }

    /// <summary>The first rule key (-k) that matched, or null; <see cref="Keys"/> when several did.</summary>
    public string? Key => Keys.Length > 0 ? Keys[0] : null;

    public string[] Keys => _keys ??= FindKeys();

    /// <summary>The record types in the order they were logged: SYSCALL, EXECVE, CWD, PATH, PROCTITLE...</summary>
    public string[] Types => _types ??= _records.Select(r => r.Type).ToArray();

    /// <summary>The system call name (execve, openat...), or null for events that are not system calls.</summary>
    public string? Syscall => Summary()._syscall;

    /// <summary>Whether the system call succeeded, or the res= of a user-space event; null when the event says neither.</summary>
    public bool? Success => Summary()._success;

    /// <summary>The system call's return value (a negative errno on failure).</summary>
    public long? Exit => Summary()._exit;

    /// <summary>The process the event is about: the pid= of its SYSCALL record, else of its first record.</summary>
    public int? ProcessId => Summary()._processId;

    public int? ParentProcessId => Summary()._parentProcessId;

    /// <summary>The user the process ran as (uid), by name.</summary>
    public string? User => Summary()._user;

    /// <summary>The login user (auid) the process descends from, by name; "unset" for daemons.</summary>
    public string? AuditUser => Summary()._auditUser;

    /// <summary>The program's path (exe).</summary>
    public string? Executable => Summary()._executable;

    /// <summary>The same as <see cref="Executable"/>, for <c>Where-Object Exe -like '*curl*'</c>.</summary>
    public string? Exe => Executable;

    /// <summary>The process name (comm), at most 16 characters.</summary>
    public string? Command => Summary()._command;

    /// <summary>The full command line (PROCTITLE), arguments separated by spaces.</summary>
    public string? ProcessTitle => Summary()._processTitle;

    /// <summary>The file names of the PATH records; a relative name is joined to the event's working directory.</summary>
    public string[] Paths => _paths ??= FindPaths();

    public IReadOnlyList<AuditRecord> Records => _records;

    internal long Seconds { get; }

    internal int Milliseconds { get; }

    /// <summary>The system call name, or the first record's type for an event that is not a system call (the table's Type column).</summary>
    public string Kind => Syscall ?? _records[0].Type;

    /// <summary>"yes" or "no" as ausearch writes success=, or null when the event says neither (the table's Success column).</summary>
    public string? Result => Success switch { true => "yes", false => "no", null => null };

    /// <summary>
    /// What the event is about in one line: the command line, else the program, else the first six fields of its
    /// first record (a user-space or daemon message).
    /// </summary>
    public string Description => ProcessTitle ?? Executable ?? FirstFields(_records[0], 6);

    /// <summary>
    /// The event as <c>ausearch -i</c> prints it: a separator line, then its records last to first. Built once, when
    /// first asked for; the default view prints it.
    /// </summary>
    public override string ToString() => _text ??= BuildText();

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal void Add(AuditRecord record) => _records.Add(record);

    internal bool SameEvent(AuditRecord record) =>
        record.Serial == Serial && record.Seconds == Seconds && record.Milliseconds == Milliseconds && record.Node == Node;

    internal bool HasType(string type)
    {
        foreach (var record in _records)
        {
            if (string.Equals(record.Type, type, StringComparison.OrdinalIgnoreCase))
            {
                return true;
            }
        }

        return false;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private AuditEvent Summary()
    {
        if (_summarized)
        {
            return this;
        }

        // The SYSCALL record speaks for a system call event, the first record for any other; auxiliary
        // records (EXECVE, PATH, BPRM_FCAPS...) are not split into fields just to summarize the event.
        var subject = FindRecord("SYSCALL") ?? _records[0];
        if (subject.Type == "SYSCALL")
        {
            _syscall = subject.GetInterpreted("syscall");
            _exit = long.TryParse(subject.GetRaw("exit"), out var exit) ? exit : null;
        }

        _success = SuccessOf(subject);
        _processId = ProcessIdOf(subject);
        _parentProcessId = int.TryParse(subject.GetRaw("ppid"), out var ppid) ? ppid : null;
        _user = subject.GetInterpreted("uid");
        _auditUser = subject.GetInterpreted("auid");
        _executable = subject.GetInterpreted("exe");
        _command = subject.GetInterpreted("comm");
        _processTitle = FindRecord("PROCTITLE")?.GetInterpreted("proctitle");
        _summarized = true;
        return this;
    }

    /// <summary>The pid= of the record that speaks for an event (its SYSCALL, else its first); see <see cref="ProcessId"/>.</summary>
    internal static int? ProcessIdOf(AuditRecord subject) => int.TryParse(subject.GetRaw("pid"), out var pid) ? pid : null;

    /// <summary>Whether the record that speaks for an event (its SYSCALL, else its first) says it succeeded; see <see cref="Success"/>.</summary>
    internal static bool? SuccessOf(AuditRecord subject)
    {
        bool? success = null;
        if (subject.Type == "SYSCALL")
        {
            success = subject.GetRaw("success") switch { "yes" => true, "no" => false, _ => null };
        }

        return success ?? subject.GetRaw("res")?.Trim('\'') switch
        {
            "success" or "yes" or "1" => true,
            "failed" or "no" or "0" => false,
            _ => null,
        };
    }

    private static string FirstFields(AuditRecord record, int count)
    {
        var fields = record.Fields;
        var builder = new StringBuilder();
        for (var i = 0; i < fields.Count && i < count; i++)
        {
            builder.Append(i == 0 ? string.Empty : " ").Append(fields[i].Name).Append('=').Append(fields[i].Interpreted);
        }

        return builder.ToString();
    }

    private string BuildText()
    {
        // Every record of the event has the same time stamp and serial, so that part of the line is written once.
        var stamp = string.Create(CultureInfo.InvariantCulture, $" msg=audit({Timestamp:yyyy-MM-dd HH:mm:ss.fff}:{Serial}) :");
        var length = 4;
        foreach (var record in _records)
        {
            length += record.Line.Length + 64;
        }

        var builder = new StringBuilder("----", length);
        for (var i = _records.Count - 1; i >= 0; i--)
        {
            builder.Append('\n');
            _records[i].AppendInterpreted(builder, stamp);
        }

        return builder.ToString();
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private AuditRecord? FindRecord(string type)
    {
        foreach (var record in _records)
        {
            if (record.Type == type)
            {
                return record;
            }
        }

        return null;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private string[] FindKeys()
    {
        // A rule's key is on the SYSCALL record, or on the record itself (CONFIG_CHANGE, user messages);
        // records that never carry one are not split into fields to look.
        var call = FindRecord("SYSCALL");
        foreach (var record in call is null ? (IEnumerable<AuditRecord>)_records : _records.Where(r => r == call || !NeverKeyed.Contains(r.Type)).OrderBy(r => r != call))
        {
            var index = record.IndexOf("key"u8);
            if (index < 0)
            {
                continue;
            }

            var value = record.Interpret(index);
            if (value == "(null)")
            {
                continue;
            }

            return value.Split(" key=");
        }

        return [];
    }

    private string[] FindPaths()
    {
        string? cwd = null;
        var names = new List<string>();
        foreach (var record in _records)
        {
            if (record.Type == "CWD")
            {
                cwd = record.GetInterpreted("cwd");
            }
            else if (record.Type == "PATH")
            {
                var name = record.GetInterpreted("name");
                if (name is not null && name != "(null)")
                {
                    names.Add(name);
                }
            }
        }

        for (var i = 0; i < names.Count; i++)
        {
            if (cwd is not null && cwd.StartsWith('/') && !names[i].StartsWith('/'))
            {
                names[i] = Path.GetFullPath(Path.Combine(cwd, names[i]));
            }
        }

        return names.ToArray();
    }
}
