using System.Globalization;
using System.Text;

using AksAuditd.Core.Audit;

namespace AksAuditd.Core.Rules.Auditctl;

/// <summary>A finding about one line, before it becomes a <see cref="RuleDiagnostic"/>.</summary>
internal readonly record struct LineFinding(string Code, DiagnosticSeverity Severity, int Column, string Message);

/// <summary>What the kernel would be asked to do with the rule of a line.</summary>
internal enum KernelRequest
{
    None,
    Add,
    Delete,
}

/// <summary>Settings that change what auditctl does with a line on a given node.</summary>
internal sealed record LineContext(int HostMachine, IRuleEnvironment? Environment, int KernelHz);

/// <summary>
/// One rules-file line run through an emulation of auditctl 3.0.9 (setopt and libaudit's rule building) and of the
/// kernel's checks when the rule arrives (audit_data_to_entry, audit_add_rule). It mirrors the C code's state and
/// order of checks so that it accepts and refuses the same lines, and renders the rule as auditctl -l would.
/// </summary>
internal sealed class AuditctlLine
{
    private readonly LineContext _context;
    private readonly RuleToken[] _words;
    private readonly List<LineFinding> _findings = [];
    private readonly List<AuditRuleOption> _options = [];
    private readonly List<AuditRuleField> _fields = [];
    private readonly List<AuditRuleSyscall> _syscalls = [];
    private readonly List<string> _keys = [];
    private readonly KernelRule _rule = new();

    // auditctl's globals, reset for every line (reset_vars).
    private bool _syscallAdded;
    private bool _permAdded;
    private bool _exeAdded;
    private bool _filterFsAdded;
    private uint _elf;
    private int _add = AuditConstants.FilterUnset;
    private int _del = AuditConstants.FilterUnset;
    private int _action = -1;
    private bool _exclude;
    private int _multiple;
    private string _key = string.Empty;
    private bool _listRequested;
    private int _count;

    private GnuGetopt _getopt = null!;
    private bool _errorReported;

    public AuditctlLine(LineContext context, IReadOnlyList<RuleToken> words)
    {
        _context = context;
        _words = [new RuleToken("auditctl", 0, 0), .. words];
        _count = _words.Length;
    }

    public IReadOnlyList<LineFinding> Findings => _findings;

    public IReadOnlyList<AuditRuleOption> Options => _options;

    public IReadOnlyList<AuditRuleField> Fields => _fields;

    public IReadOnlyList<AuditRuleSyscall> Syscalls => _syscalls;

    public IReadOnlyList<string> Keys => _keys;

    public KernelRule Rule => _rule;

    public KernelRequest Request { get; private set; }

    /// <summary>The -a/-A/-d/-w/-W list and action were given.</summary>
    public bool IsRuleLine => _add != AuditConstants.FilterUnset || _del != AuditConstants.FilterUnset;

    public bool IsWatchOption { get; private set; }

    public bool IsDeleteAll { get; private set; }

    public string? DeleteAllKey { get; private set; }

    /// <summary>The control options of the line and their values (-b 8192, -e 2, -D ...).</summary>
    public List<(string Option, string? Value, RuleToken Token)> Controls { get; } = [];

    /// <summary>True when auditctl reports an error for the line (the rest of a file is then not loaded without -c/-i).</summary>
    public bool Failed { get; private set; }

    public bool SetsIgnoreErrors { get; private set; }

    public string? ArchWritten { get; private set; }

    public string? WatchPath { get; private set; }

    /// <summary>The machine whose table names this rule's syscalls (the -F arch one, or the node's).</summary>
    public int SyscallMachine => _elf != 0 ? AuditLookups.ElfToMachine(_elf) : _context.HostMachine;

    public void Run()
    {
        var retval = SetOptions();
        if (retval == -3)
        {
            // "possible is deprecated": auditctl eats the line without an error.
            return;
        }
        HandleRequest(retval);
    }

    private int SetOptions()
    {
        _getopt = new GnuGetopt(_words);
        var retval = 0;
        int c;
        while (retval >= 0 && (c = _getopt.Next()) != -1)
        {
            var flags = AuditConstants.FilterUnset;
            var optionToken = _getopt.OptionToken;
            var arg = _getopt.Optarg;
            var argToken = ValueToken();
            if (c != '?')
            {
                _options.Add(new AuditRuleOption(_getopt.OptionText, arg, optionToken, argToken));
            }
            switch (c)
            {
                case 'h':
                    Fail(RuleDiagnosticCodes.NotARule, optionToken, "-h prints auditctl's usage; it is not a rule", null);
                    retval = -1;
                    break;
                case 'i':
                    Controls.Add(("-i", null, optionToken));
                    SetsIgnoreErrors = true;
                    retval = -2;
                    break;
                case 'c':
                    Controls.Add(("-c", null, optionToken));
                    SetsIgnoreErrors = true;
                    retval = -2;
                    break;
                case 's':
                    retval = StatusOption(optionToken);
                    break;
                case 'e':
                    Controls.Add(("-e", arg, optionToken));
                    if (arg is "0" or "1" or "2")
                    {
                        if (arg == "2")
                        {
                            Warn(RuleDiagnosticCodes.EnableLocked, argToken!.Value, "-e 2 makes the audit configuration immutable: " +
                                "no rule or setting can change until the node reboots");
                        }
                    }
                    else
                    {
                        Fail(RuleDiagnosticCodes.BadControlValue, argToken!.Value,
                            $"-e takes 0 (disable), 1 (enable) or 2 (enable and lock), not '{arg}'", $"Enable must be 0, 1, or 2 was {arg}");
                        retval = -1;
                    }
                    break;
                case 'f':
                    Controls.Add(("-f", arg, optionToken));
                    if (arg is "0" or "1" or "2")
                    {
                        if (arg == "2")
                        {
                            Warn(RuleDiagnosticCodes.PanicOnFailure, argToken!.Value, "-f 2 makes the kernel panic when auditing fails " +
                                "(for example when the backlog overflows): the node goes down");
                        }
                    }
                    else
                    {
                        Fail(RuleDiagnosticCodes.BadControlValue, argToken!.Value,
                            $"-f takes 0 (silent), 1 (printk) or 2 (panic), not '{arg}'", $"Failure must be 0, 1, or 2 was {arg}");
                        retval = -1;
                    }
                    break;
                case 'r':
                    Controls.Add(("-r", arg, optionToken));
                    if (!NumericSetting(arg!, argToken!.Value, "-r", "rate limit (messages per second)", "Rate must be a numeric value was", "Error converting rate"))
                    {
                        return -1;
                    }
                    break;
                case 'b':
                    Controls.Add(("-b", arg, optionToken));
                    if (!NumericSetting(arg!, argToken!.Value, "-b", "backlog limit (number of buffers)", "Backlog must be a numeric value was", "Error converting backlog"))
                    {
                        return -1;
                    }
                    break;
                case 'l':
                    retval = ListOption(optionToken);
                    break;
                case 'a':
                case 'A':
                    retval = AppendOption(c == 'A', arg!, argToken!.Value);
                    if (retval == -3)
                    {
                        return -3;
                    }
                    break;
                case 'd':
                    retval = DeleteOption(arg!, argToken!.Value);
                    if (retval == -3)
                    {
                        return -3;
                    }
                    break;
                case 'S':
                    if (!SyscallOption(arg!, argToken!.Value))
                    {
                        return -1;
                    }
                    break;
                case 'F':
                    retval = FieldOption(arg!, argToken!.Value, retval);
                    break;
                case 'C':
                    {
                        if (_add != AuditConstants.FilterUnset)
                        {
                            flags = _add & AuditConstants.FilterMask;
                        }
                        else if (_del != AuditConstants.FilterUnset)
                        {
                            flags = _del & AuditConstants.FilterMask;
                        }
                        var rc = CompareField(arg!, argToken!.Value, flags);
                        if (rc != 0)
                        {
                            retval = -1;
                        }
                    }
                    break;
                case 'm':
                    retval = MessageOption(arg!, argToken!.Value);
                    break;
                case 'R':
                    Fail(RuleDiagnosticCodes.NotARule, optionToken, "-R (read another rules file) cannot be used inside a rules file",
                        "Error - nested rule files not supported");
                    retval = -1;
                    break;
                case 'D':
                    retval = DeleteAllOption(optionToken);
                    break;
                case 'w':
                    if (_add != AuditConstants.FilterUnset || _del != AuditConstants.FilterUnset)
                    {
                        Fail(RuleDiagnosticCodes.OptionConflict, optionToken,
                            "-w starts a watch of its own; it cannot be combined with -a/-A/-d or a second -w on the same line",
                            "watch option can't be given with a syscall");
                        retval = -1;
                    }
                    else
                    {
                        _add = AuditConstants.FilterExit;
                        _action = AuditConstants.Always;
                        _syscallAdded = true;
                        IsWatchOption = true;
                        retval = SetupWatch(arg!, argToken!.Value);
                    }
                    break;
                case 'W':
                    _del = AuditConstants.FilterExit;
                    _action = AuditConstants.Always;
                    _syscallAdded = true;
                    IsWatchOption = true;
                    retval = SetupWatch(arg!, argToken!.Value);
                    break;
                case 'k':
                    if (!(_syscallAdded || _permAdded || _exeAdded || _filterFsAdded) ||
                        (_add == AuditConstants.FilterUnset && _del == AuditConstants.FilterUnset))
                    {
                        Fail(RuleDiagnosticCodes.KeyWithoutRule, optionToken,
                            "-k must come after the -w watch, or after the -S syscalls (or a path=/dir=/exe=/perm= field) of the rule it labels",
                            "key option needs a watch or syscall given prior to it");
                        retval = -1;
                        break;
                    }
                    if (!AddKey(arg!, argToken!.Value))
                    {
                        retval = -1;
                    }
                    break;
                case 'p':
                    if (_add == AuditConstants.FilterUnset && _del == AuditConstants.FilterUnset)
                    {
                        Fail(RuleDiagnosticCodes.PermissionsWithoutWatch, optionToken, "-p must come after the -w watch (or the -a rule) it applies to",
                            "permission option needs a watch given prior to it");
                        retval = -1;
                    }
                    else
                    {
                        retval = SetupPermissions(arg!, argToken!.Value);
                    }
                    break;
                case 'q':
                    if (_syscallAdded)
                    {
                        Fail(RuleDiagnosticCodes.OptionConflict, optionToken, "-q cannot be combined with syscalls or watches",
                            "Syscall auditing requested for make equivalent");
                        retval = -1;
                    }
                    else
                    {
                        var parts = arg!.Split(',');
                        if (parts.Length != 2 || parts[1].Length == 0)
                        {
                            Fail(RuleDiagnosticCodes.BadControlValue, argToken!.Value, "-q takes mount-point,subtree", "Error parsing equivalent parts");
                            retval = -1;
                        }
                        else
                        {
                            Controls.Add(("-q", arg, optionToken));
                            Warn(RuleDiagnosticCodes.SideEffectAtLoad, optionToken,
                                "-q makes a subtree part of a mount point's directory watches when the rules load; both paths must exist on the node");
                            return -2;
                        }
                    }
                    break;
                case 't':
                    Controls.Add(("-t", null, optionToken));
                    return -2;
                case 'v':
                    Controls.Add(("-v", null, optionToken));
                    Warn(RuleDiagnosticCodes.NotARule, optionToken, "-v prints auditctl's version; it does nothing in a rules file");
                    retval = -2;
                    break;
                case 1:
                    Controls.Add(("--loginuid-immutable", null, optionToken));
                    Info(RuleDiagnosticCodes.LoginuidImmutable, optionToken,
                        "--loginuid-immutable makes login uids unchangeable until the node reboots (containers can no longer set them)");
                    return -2;
                case 2:
                    Controls.Add(("--backlog_wait_time", arg, optionToken));
                    if (!BacklogWaitTime(arg!, argToken!.Value))
                    {
                        return -1;
                    }
                    break;
                case 3:
                    Controls.Add(("--reset-lost", null, optionToken));
                    return -2;
                case 4:
                    Controls.Add(("--reset_backlog_wait_time_actual", null, optionToken));
                    return -2;
                case 5:
                    Controls.Add(("--signal", arg, optionToken));
                    if (arg!.ToUpperInvariant() is "TERM" or "HUP" or "USR1" or "USR2" or "CONT")
                    {
                        Warn(RuleDiagnosticCodes.SideEffectAtLoad, optionToken, $"--signal {arg} sends SIG{arg.ToUpperInvariant()} to auditd while the rules load");
                        retval = -2;
                    }
                    else
                    {
                        Fail(RuleDiagnosticCodes.BadControlValue, argToken!.Value, $"--signal takes TERM, HUP, USR1, USR2 or CONT, not '{arg}'",
                            $"{arg} is an unsupported signal");
                        retval = -1;
                    }
                    break;
                default:
                    {
                        var bad = _getopt.Optind >= 2 ? _getopt.Arg(_getopt.Optind - 1).Text : " ";
                        var reason = _getopt.ErrorReason;
                        var message = reason switch
                        {
                            "missing value" => $"{_getopt.OptionText} needs a value",
                            "ambiguous" => $"'{_getopt.OptionText}' is ambiguous: it is the beginning of more than one auditctl option",
                            "unexpected value" => $"{_getopt.OptionText} takes no value",
                            _ => $"'{_getopt.OptionText}' is not an auditctl option",
                        };
                        Fail(reason == "missing value" ? RuleDiagnosticCodes.MissingValue : RuleDiagnosticCodes.UnknownOption,
                            _getopt.OptionToken, message, $"Option {bad} on line 1 is invalid");
                        retval = -1;
                    }
                    break;
            }
        }

        if (_getopt.Optind == 1)
        {
            // auditctl fails the line without a message when it has not finished its first word.
            var first = _words.Length > 1 ? _words[1] : new RuleToken(string.Empty, 1, 0);
            Fail(RuleDiagnosticCodes.StrayWord, first, _options.Count > 0
                    ? $"auditctl stops reading '{first.Text}' after {_options[^1].Name} and then fails the line; write {_options[^1].Name} as a word of its own, on its own line"
                    : $"'{first.Text}' is not an option: a rule line starts with an option such as -a, -w or -D" +
                      (first.Text.StartsWith('\t') ? " (auditctl splits words at spaces only; a TAB is part of the word)" : string.Empty),
                null);
            retval = -1;
        }
        else if (_getopt.Optind < _count && retval != -1)
        {
            var stray = _getopt.Arg(_getopt.Optind);
            var hint = stray.Text.StartsWith('#') ? " (auditctl has no trailing comments: a '#' only starts a comment at the start of a line)"
                : stray.Text.Contains('"') || stray.Text.Contains('\'') ? " (quotes are literal in rules files; escape a space as '\\ ')"
                : string.Empty;
            Fail(RuleDiagnosticCodes.StrayWord, stray, $"'{stray.Text}' is not the value of any option{hint}", "parameter passed without an option given");
            retval = -1;
        }

        if (_key.Length > 0 && !_listRequested)
        {
            var flags = 0;
            if (_add != AuditConstants.FilterUnset)
            {
                flags = _add & AuditConstants.FilterMask;
            }
            else if (_del != AuditConstants.FilterUnset)
            {
                flags = _del & AuditConstants.FilterMask;
            }
            var rc = FieldPair("key=" + _key, flags, default, isFinalKey: true);
            if (rc != 0)
            {
                retval = -1;
            }
        }
        return retval;
    }

    private RuleToken? ValueToken()
    {
        if (_getopt.OptargToken is not { } token)
        {
            return null;
        }
        var offset = _getopt.OptargOffset;
        return offset == 0 ? token : new RuleToken(token.Text[offset..], token.Column + offset, token.Length - offset);
    }

    private void HandleRequest(int status)
    {
        if (status == 0)
        {
            if (_syscallAdded)
            {
                Fail(RuleDiagnosticCodes.NoList, _options.FirstOrDefault(o => o.Name == "-S")?.OptionToken ?? FirstToken(),
                    "-S needs a rule to belong to: add -a always,exit (or another list and action) to the line", "Error - no list specified");
            }
            return;
        }
        if (status == -2)
        {
            if (IsRuleLine && !IsWatchOption && Request == KernelRequest.None && _options.Any(o => o.Name is "-c" or "-i" or "-D" or "-l" or "-s" or "-v"))
            {
                Warn(RuleDiagnosticCodes.IgnoredByAuditctl, FirstToken(),
                    "auditctl stops reading this line at a control option (-c, -i, -D, -l, -s, -v) and does not load its rule; put them on lines of their own");
            }
            return;
        }
        if (status < 0)
        {
            Failed = true;
            return;
        }

        if (_add != AuditConstants.FilterUnset || _del != AuditConstants.FilterUnset)
        {
            var list = _add != AuditConstants.FilterUnset ? _add : _del;
            if ((list & AuditConstants.FilterMask) != AuditConstants.FilterTask && !_syscallAdded)
            {
                _rule.SetAllSyscalls();
            }
            _rule.List = list & AuditConstants.FilterMask;
            _rule.Prepend = (list & AuditConstants.FilterPrepend) != 0;
            _rule.Action = _action;
            Request = _add != AuditConstants.FilterUnset ? KernelRequest.Add : KernelRequest.Delete;
            new KernelAcceptance(this, _rule, _context).Check();
        }
        else
        {
            Fail(RuleDiagnosticCodes.NotARule, FirstToken(), "auditctl prints its usage for this line instead of loading anything", null);
        }
    }

    // ---- options ----

    private int StatusOption(RuleToken token)
    {
        if (_count > 3)
        {
            Fail(RuleDiagnosticCodes.OptionConflict, token, "-s (status) takes no other options", "Too many options for status command");
            return -1;
        }
        if (_getopt.Optind == 2 && _count == 3 && _getopt.Arg(_getopt.Optind).Text != "-i")
        {
            Fail(RuleDiagnosticCodes.OptionConflict, token, "-s (status) only combines with -i", "Only -i option is allowed");
            return -1;
        }
        Controls.Add(("-s", null, token));
        Warn(RuleDiagnosticCodes.NotARule, token, "-s prints the audit status; it does nothing in a rules file");
        return -2;
    }

    private int ListOption(RuleToken token)
    {
        if (_count > 4)
        {
            Fail(RuleDiagnosticCodes.OptionConflict, token, "-l (list) only combines with -k <key> or -i", "Wrong number of options for list request");
            return -1;
        }
        if (_count == 3)
        {
            if (_getopt.Arg(_getopt.Optind).Text == "-i")
            {
                _count -= 1;
            }
            else
            {
                Fail(RuleDiagnosticCodes.OptionConflict, token, "-l (list) only combines with -k <key> or -i", "Only -k or -i options are allowed");
                return -1;
            }
        }
        else if (_count == 4)
        {
            if (_getopt.Optind < _words.Length && _getopt.Arg(_getopt.Optind).Text == "-k")
            {
                _count -= 2;
            }
            else
            {
                Fail(RuleDiagnosticCodes.OptionConflict, token, "-l (list) only combines with -k <key> or -i", "Only -k or -i options are allowed");
                return -1;
            }
        }
        _listRequested = true;
        Controls.Add(("-l", null, token));
        Warn(RuleDiagnosticCodes.NotARule, token, "-l lists the loaded rules; it does nothing in a rules file");
        return -2;
    }

    private int DeleteAllOption(RuleToken token)
    {
        if (_count > 4 || _count == 3)
        {
            Fail(RuleDiagnosticCodes.OptionConflict, token, "-D (delete all rules) takes no other option than -k <key>",
                "Wrong number of options for Delete all request");
            return -1;
        }
        string? key = null;
        if (_count == 4)
        {
            if (_getopt.Arg(_getopt.Optind).Text == "-k")
            {
                key = _getopt.Arg(3).Text;
                _count -= 2;
            }
            else
            {
                Fail(RuleDiagnosticCodes.OptionConflict, token, "-D (delete all rules) takes no other option than -k <key>", "Only the -k option is allowed");
                return -1;
            }
        }
        IsDeleteAll = true;
        DeleteAllKey = key;
        Controls.Add(("-D", key, token));
        _listRequested = true;
        _key = string.Empty;
        return -2;
    }

    private bool NumericSetting(string arg, RuleToken token, string option, string what, string notNumeric, string conversion)
    {
        if (!CNumber.StartsWithDigit(arg))
        {
            Fail(RuleDiagnosticCodes.BadControlValue, token, $"{option} takes a number, the {what}; '{arg}' is not one", $"{notNumeric} {arg}");
            return false;
        }
        var parsed = CNumber.StrToUL(arg);
        if (parsed.Overflow)
        {
            Fail(RuleDiagnosticCodes.BadControlValue, token, $"{option} {arg} is too large", conversion);
            return false;
        }
        NotePartialNumber(arg, parsed, token, option);
        if (parsed.Bits > uint.MaxValue)
        {
            Warn(RuleDiagnosticCodes.ValueOutOfRange, token,
                $"{option} {arg} does not fit in 32 bits; the kernel gets {unchecked((uint)parsed.Bits)}");
        }
        return true;
    }

    private bool BacklogWaitTime(string arg, RuleToken token)
    {
        if (!NumericSetting(arg, token, "--backlog_wait_time", "time in jiffies", "Backlog_wait_time must be a numeric value was", "Error converting backlog_wait_time"))
        {
            return false;
        }
        var value = unchecked((uint)CNumber.StrToUL(arg).Bits);
        // The kernel refuses more than 10 * AUDIT_BACKLOG_WAIT_TIME (60 * HZ) jiffies.
        var max = 600u * (uint)_context.KernelHz;
        if (value > max)
        {
            Fail(RuleDiagnosticCodes.ValueOutOfRange, token,
                $"--backlog_wait_time {value} is above the kernel's limit of {max} jiffies (600 s at HZ={_context.KernelHz})",
                "Error sending backlog limit request (Invalid argument)");
            return false;
        }
        return true;
    }

    private int MessageOption(string arg, RuleToken token)
    {
        if (_count > 3)
        {
            Fail(RuleDiagnosticCodes.OptionConflict, token, "-m must be the only option of its line",
                "The -m option must be only the only option and takes 1 parameter");
            return -1;
        }
        if (arg.Any(ch => ch < ' '))
        {
            Fail(RuleDiagnosticCodes.BadControlValue, token, "-m text must not contain control characters", "Illegal character in audit event");
            return -1;
        }
        Controls.Add(("-m", arg, token));
        Warn(RuleDiagnosticCodes.SideEffectAtLoad, token, "-m sends a user message to the audit log each time the rules load");
        return -2;
    }

    private int AppendOption(bool prepend, string arg, RuleToken token)
    {
        var option = prepend ? "-A" : "-a";
        if (arg.Contains("task", StringComparison.Ordinal) && _syscallAdded)
        {
            Fail(RuleDiagnosticCodes.SyscallOnWrongList, token, "the task list takes no syscalls (-S)",
                prepend ? "Error: syscall auditing requested for task list" : "Syscall auditing requested for task list");
            return -1;
        }
        var rc = RuleSetup(arg, ref _add);
        switch (rc)
        {
            case 3:
                Fail(RuleDiagnosticCodes.OptionConflict, token, "a line can hold only one -a, -A or -d", "Multiple rule insert/delete operations are not allowed");
                return -1;
            case 2:
                Fail(RuleDiagnosticCodes.BadListOrAction, token, BadListMessage(option, arg), $"{(prepend ? "Add" : "Append")} rule - bad keyword {arg}");
                return -1;
            case 1:
                Warn(RuleDiagnosticCodes.DeprecatedAction, token, $"{option} {arg}: the 'possible' action is deprecated; auditctl skips this line without loading anything",
                    "Append rule - possible is deprecated");
                return -3;
        }
        if (prepend)
        {
            _add |= AuditConstants.FilterPrepend;
        }
        return 1;
    }

    private int DeleteOption(string arg, RuleToken token)
    {
        var rc = RuleSetup(arg, ref _del);
        switch (rc)
        {
            case 3:
                Fail(RuleDiagnosticCodes.OptionConflict, token, "a line can hold only one -a, -A or -d", "Multiple rule insert/delete operations are not allowed");
                return -1;
            case 2:
                Fail(RuleDiagnosticCodes.BadListOrAction, token, BadListMessage("-d", arg), $"Delete rule - bad keyword {arg}");
                return -1;
            case 1:
                Warn(RuleDiagnosticCodes.DeprecatedAction, token, $"-d {arg}: the 'possible' action is deprecated; auditctl skips this line",
                    "Delete rule - possible is deprecated");
                return -3;
        }
        return 1;
    }

    private static string BadListMessage(string option, string arg)
    {
        var parts = arg.Split(',');
        var hint = parts.Any(p => p == "io_uring")
            ? " (auditctl 3.0.9 does not know the io_uring list)"
            : parts.Any(p => p == "entry")
                ? " (the entry list was removed from the kernel; use exit)"
                : parts.Any(p => p.Length > 0 && p != p.ToLowerInvariant())
                    ? " (list and action names are lower case)"
                    : string.Empty;
        return $"{option} {arg}: expected list,action such as always,exit — lists: exit, task, user, exclude, filesystem; actions: always, never{hint}";
    }

    /// <summary>audit_rule_setup: 0 ok, 1 deprecated 'possible', 2 bad keyword, 3 second -a/-d.</summary>
    private int RuleSetup(string opt, ref int filter)
    {
        if (++_multiple != 1)
        {
            return 3;
        }
        var comma = opt.IndexOf(',');
        if (comma < 0 || opt.IndexOf(',', comma + 1) >= 0)
        {
            return 2;
        }
        var first = opt[..comma];
        var second = opt[(comma + 1)..];
        if (LookupAction(first, out var act) == 2)
        {
            if (!LookupFilter(first, out var f))
            {
                return 2;
            }
            filter = f;
        }
        else if (LookupAction(first, out act) == 1)
        {
            // lookup_action said "possible": the action stays unset, and the second word is then tried as a list.
        }
        else
        {
            _action = act;
        }

        if (filter == AuditConstants.FilterUnset)
        {
            if (LookupFilter(second, out var f))
            {
                filter = f;
            }
        }
        else
        {
            var rc = LookupAction(second, out act);
            if (rc != 0)
            {
                return rc;
            }
            _action = act;
        }
        if (filter == AuditConstants.FilterUnset || _action == -1)
        {
            return 2;
        }
        return 0;
    }

    private bool LookupFilter(string s, out int filter)
    {
        filter = AuditLookups.ListNumber(s);
        if (filter == AuditConstants.FilterExclude)
        {
            _exclude = true;
        }
        return filter >= 0;
    }

    private static int LookupAction(string s, out int action)
    {
        action = -1;
        switch (s)
        {
            case "always":
                action = AuditConstants.Always;
                return 0;
            case "never":
                action = AuditConstants.Never;
                return 0;
            case "possible":
                return 1;
            default:
                return 2;
        }
    }

    private bool SyscallOption(string arg, RuleToken token)
    {
        var unknownArch = _elf == 0;
        var list = _add != AuditConstants.FilterUnset ? _add : _del;
        var listed = list & (AuditConstants.FilterMask | AuditConstants.FilterUnset);
        string? refusal = listed switch
        {
            AuditConstants.FilterTask => "Error: syscall auditing being added to task list",
            AuditConstants.FilterUser => "Error: syscall auditing being added to user list",
            AuditConstants.FilterFs => "Error: syscall auditing being added to filesystem list",
            _ => _exclude ? "Error: syscall auditing cannot be put on exclude list" : null,
        };
        if (refusal is not null)
        {
            var name = _exclude ? "exclude" : KernelRule.ListName(listed);
            Fail(RuleDiagnosticCodes.SyscallOnWrongList, token, $"the {name} list takes no syscalls (-S); syscall rules belong on the exit list", refusal);
            return false;
        }
        if (unknownArch)
        {
            _elf = AuditLookups.MachineToElf(_context.HostMachine);
        }

        var rc = ParseSyscalls(arg, token);
        if (rc == 0)
        {
            _syscallAdded = true;
            if (unknownArch && _add != AuditConstants.FilterUnset)
            {
                CheckArchMismatch(arg, token);
            }
            return true;
        }
        return false;
    }

    /// <returns>0, or -1 after reporting the error.</returns>
    private int ParseSyscalls(string arg, RuleToken token)
    {
        var machine = AuditLookups.ElfToMachine(_elf);
        var archName = machine < 0 ? null : AuditLookups.MachineName(machine);
        var offset = 0;
        var parts = arg.Contains(',') ? arg.Split(',') : [arg];
        foreach (var part in parts)
        {
            var partToken = new RuleToken(part, token.Column + offset, part.Length);
            offset += part.Length + 1;
            if (part.Length == 0)
            {
                // strtok skips empty pieces between commas.
                continue;
            }
            if (part == "all")
            {
                _rule.SetAllSyscalls();
                _syscalls.Add(new AuditRuleSyscall(part, "all", -1, partToken));
                continue;
            }
            if (archName is null || !SyscallTable.Architectures.Contains(archName))
            {
                if (CNumber.StartsWithDigit(part))
                {
                    var n = unchecked((int)CNumber.StrToL(part).Bits);
                    if (n >= 0 && n < AuditConstants.BitmaskSize * 32)
                    {
                        _rule.SetSyscall(n);
                        _syscalls.Add(new AuditRuleSyscall(part, null, n, partToken));
                        continue;
                    }
                }
                Warn(RuleDiagnosticCodes.NoSyscallTable, partToken,
                    $"this check has no syscall table for arch {archName ?? "0x" + _elf.ToString("x", CultureInfo.InvariantCulture)}; '{part}' is not checked");
                _syscalls.Add(new AuditRuleSyscall(part, null, -1, partToken));
                continue;
            }
            int number;
            if (SyscallTable.TryGetNumber(archName, part, out var byName))
            {
                number = byName;
            }
            else if (CNumber.StartsWithDigit(part))
            {
                number = unchecked((int)CNumber.StrToL(part).Bits);
            }
            else
            {
                number = -1;
            }
            if (number < 0 || number >= AuditConstants.BitmaskSize * 32)
            {
                var hint = number >= AuditConstants.BitmaskSize * 32 ? $" (syscall numbers end at {AuditConstants.BitmaskSize * 32 - 1})"
                    : OtherArchHint(part, archName);
                Fail(RuleDiagnosticCodes.UnknownSyscall, partToken, $"'{part}' is not in auditctl 3.0.9's {archName} syscall table{hint}",
                    $"Syscall name unknown: {(parts.Length > 1 ? part : arg)}");
                return -1;
            }
            if (number >= AuditConstants.BitmaskSize * 32 - 16)
            {
                Warn(RuleDiagnosticCodes.ValueOutOfRange, partToken,
                    $"syscall number {number} is one of the kernel's syscall class bits (2032-2047), not a syscall");
            }
            if (!SyscallTable.TryGetName(archName, number, out var resolved))
            {
                resolved = null;
            }
            if (!SyscallTable.TryGetNumber(archName, part, out _))
            {
                NotePartialNumber(part, CNumber.StrToL(part), partToken, "-S");
            }
            _rule.SetSyscall(number);
            _syscalls.Add(new AuditRuleSyscall(part, resolved, number, partToken));
        }
        return 0;
    }

    private static string OtherArchHint(string name, string archName)
    {
        var others = SyscallTable.Architectures.Where(a => a != archName && SyscallTable.TryGetNumber(a, name, out _)).ToList();
        return others.Count > 0 ? $" (it exists on {string.Join(", ", others)})" : string.Empty;
    }

    /// <summary>check_rule_mismatch: on a 64-bit node, the same names resolved for the 32-bit arch give other numbers.</summary>
    private void CheckArchMismatch(string arg, RuleToken token)
    {
        var compat = _context.HostMachine switch
        {
            AuditConstants.Mach86_64 => AuditConstants.MachX86,
            AuditConstants.MachPpc64 => AuditConstants.MachPpc,
            AuditConstants.MachS390x => AuditConstants.MachS390,
            _ => _context.HostMachine,
        };
        var compatName = AuditLookups.MachineName(compat);
        var mask = new uint[AuditConstants.BitmaskSize];
        foreach (var part in arg.Split(',', StringSplitOptions.RemoveEmptyEntries))
        {
            if (part == "all")
            {
                Array.Fill(mask, uint.MaxValue);
                continue;
            }
            int n;
            if (compatName is not null && SyscallTable.TryGetNumber(compatName, part, out var found))
            {
                n = found;
            }
            else if (CNumber.StartsWithDigit(part))
            {
                n = unchecked((int)CNumber.StrToL(part).Bits);
            }
            else
            {
                continue;
            }
            if (n >= 0 && n < AuditConstants.BitmaskSize * 32)
            {
                mask[n / 32] |= 1u << (n % 32);
            }
        }
        if (!mask.AsSpan().SequenceEqual(_rule.Mask))
        {
            Warn(RuleDiagnosticCodes.MissingArch, token,
                $"-S without -F arch: the syscalls are taken from the node's {AuditLookups.MachineName(_context.HostMachine)} table and 32-bit programs " +
                "are not audited; add -F arch=b64 (and a second rule with -F arch=b32) before -S",
                "WARNING - 32/64 bit syscall mismatch in line 1, you should specify an arch");
        }
    }

    private int FieldOption(string arg, RuleToken token, int retval)
    {
        int flags;
        if (_add != AuditConstants.FilterUnset)
        {
            flags = _add & AuditConstants.FilterMask;
        }
        else if (_del != AuditConstants.FilterUnset)
        {
            flags = _del & AuditConstants.FilterMask;
        }
        else if (_getopt.Optind >= _count || !arg.Contains("arch=", StringComparison.Ordinal) || _getopt.Arg(_getopt.Optind).Text != "-t")
        {
            Fail(RuleDiagnosticCodes.OptionConflict, token, "-F must come after the -a/-A/-d (or -w) that starts the rule",
                "List must be given before field");
            return -1;
        }
        else
        {
            flags = AuditConstants.FilterUnset;
        }

        if (arg.StartsWith("key=", StringComparison.Ordinal))
        {
            var keyToken = new RuleToken(arg[4..], token.Column + 4, token.Length - 4);
            return AddKey(arg[4..], keyToken) ? retval : -1;
        }
        var rc = FieldPair(arg, flags, token, isFinalKey: false);
        if (rc != 0)
        {
            return -1;
        }
        var last = _rule.Fields[^1];
        if (last.Type == AuditConstants.Perm)
        {
            _permAdded = true;
        }
        if (last.Type == AuditConstants.Exe)
        {
            _exeAdded = true;
        }
        return retval;
    }

    private bool AddKey(string value, RuleToken token)
    {
        var length = Encoding.UTF8.GetByteCount(value);
        var current = Encoding.UTF8.GetByteCount(_key);
        if (length + current + (_key.Length > 0 ? 1 : 0) > AuditConstants.MaxKeyLength)
        {
            Fail(RuleDiagnosticCodes.KeyTooLong, token,
                $"the keys of a rule add up to {length + current + (_key.Length > 0 ? 1 : 0)} bytes; the kernel allows {AuditConstants.MaxKeyLength} " +
                "(several keys count together, plus one separator each)", "key option exceeds size limit");
            return false;
        }
        if (value.Contains(AuditConstants.KeySeparator))
        {
            Warn(RuleDiagnosticCodes.KeyCharacter, token, "the key contains byte 0x01, which auditctl uses to separate keys", $"key {value} has illegal character");
        }
        if (value.Length > 0)
        {
            _keys.Add(value);
        }
        if (value.Length > 0 && (value[0] == '"' || value[0] == '\''))
        {
            Info(RuleDiagnosticCodes.LiteralQuotes, token, $"the quotes are part of the key ({value}): auditctl does not remove quotes in rules files");
        }
        _key = _key.Length > 0 ? _key + AuditConstants.KeySeparator + value : value;
        return true;
    }

    private int SetupWatch(string path, RuleToken token)
    {
        if (!CheckPath(path, token))
        {
            return -1;
        }
        var trimmed = path;
        if (trimmed.Length > 2 && trimmed[^1] == '/')
        {
            trimmed = trimmed.TrimEnd('/');
            if (trimmed.Length == 0)
            {
                trimmed = "/";
            }
        }
        var type = AuditConstants.Watch;
        // auditctl stat()s the path: a directory becomes a dir= (tree) watch. "/" is a directory on every node.
        if (_context.Environment?.GetPathKind(trimmed) == HostPathKind.Directory || trimmed.Trim('/').Length == 0)
        {
            type = AuditConstants.Dir;
        }
        if (_rule.Fields.Count > 0)
        {
            Fail(RuleDiagnosticCodes.OptionConflict, token, "-w/-W must come before any -F field of the line", "Rule is not empty");
            return -1;
        }
        WatchPath = trimmed;
        _rule.SetAllSyscalls();
        _rule.Fields.Add(new KernelField { Type = type, Op = AuditConstants.OpEqual, Text = trimmed });
        _rule.Fields.Add(new KernelField
        {
            Type = AuditConstants.Perm,
            Op = AuditConstants.OpEqual,
            Value = AuditConstants.PermRead | AuditConstants.PermWrite | AuditConstants.PermExec | AuditConstants.PermAttr,
        });
        _permAdded = true;
        return 1;
    }

    private bool CheckPath(string path, RuleToken token)
    {
        if (Encoding.UTF8.GetByteCount(path) >= AuditConstants.PathMax)
        {
            Fail(RuleDiagnosticCodes.PathTooLong, token, $"the watched path is longer than {AuditConstants.PathMax - 1} bytes",
                "The path passed for the watch is too big");
            return false;
        }
        if (!path.StartsWith('/'))
        {
            var hint = path.StartsWith('"') || path.StartsWith('\'') ? " (quotes are literal in rules files; escape a space as '\\ ')"
                : path.StartsWith('\t') ? " (a TAB is part of the word; separate words with spaces)"
                : string.Empty;
            Fail(RuleDiagnosticCodes.RelativePath, token, $"the watched path '{path}' must be absolute (start with '/'){hint}",
                "The path must start with '/'");
            return false;
        }
        var baseName = BaseName(path);
        if (Encoding.UTF8.GetByteCount(baseName) > AuditConstants.NameMax)
        {
            Fail(RuleDiagnosticCodes.PathTooLong, token, $"the last part of the watched path is longer than {AuditConstants.NameMax} bytes",
                "The base name of the path is too big");
            return false;
        }
        if (path.Contains("..", StringComparison.Ordinal))
        {
            Warn(RuleDiagnosticCodes.PathNotation, token, "'..' is not resolved: the kernel watches the path as written",
                "Warning - relative path notation is not supported");
        }
        if (path.Contains('*') || path.Contains('?'))
        {
            Warn(RuleDiagnosticCodes.PathNotation, token, "wildcards are not supported: '*' and '?' are taken literally",
                "Warning - wildcard notation is not supported");
        }
        return true;
    }

    /// <summary>glibc basename(): the part after the last '/', ignoring trailing slashes.</summary>
    private static string BaseName(string path)
    {
        var trimmed = path.TrimEnd('/');
        if (trimmed.Length == 0)
        {
            return "/";
        }
        var slash = trimmed.LastIndexOf('/');
        return slash < 0 ? trimmed : trimmed[(slash + 1)..];
    }

    private int SetupPermissions(string opt, RuleToken token)
    {
        if (Encoding.UTF8.GetByteCount(opt) > 4)
        {
            Fail(RuleDiagnosticCodes.BadPermission, token, $"-p {opt}: permissions are at most the four letters r, w, x, a", $"permission {opt} is too long");
            return -1;
        }
        uint value = 0;
        foreach (var ch in opt)
        {
            switch (char.ToLowerInvariant(ch))
            {
                case 'r': value |= AuditConstants.PermRead; break;
                case 'w': value |= AuditConstants.PermWrite; break;
                case 'x': value |= AuditConstants.PermExec; break;
                case 'a': value |= AuditConstants.PermAttr; break;
                default:
                    Fail(RuleDiagnosticCodes.BadPermission, token, $"-p {opt}: '{ch}' is not a permission; use r (read), w (write), x (execute), a (attribute change)",
                        $"Permission {ch} isn't supported");
                    return -1;
            }
        }
        if (_rule.Fields.Count < 1)
        {
            Fail(RuleDiagnosticCodes.PermissionsWithoutWatch, token, "-p must come after the path=/dir= field (or -w) it applies to",
                "Permissions should be preceeded by other fields");
            return -1;
        }
        var done = false;
        foreach (var f in _rule.Fields)
        {
            if (f.Type == AuditConstants.Perm)
            {
                f.Value = value;
                done = true;
            }
        }
        if (!done)
        {
            if (_rule.Fields.Count >= AuditConstants.MaxFields - 1)
            {
                Fail(RuleDiagnosticCodes.TooManyFields, token, $"a rule holds at most {AuditConstants.MaxFields - 1} fields", "Too many fields when adding permissions");
                return -1;
            }
            _rule.Fields.Add(new KernelField { Type = AuditConstants.Perm, Op = AuditConstants.OpEqual, Value = value });
        }
        _permAdded = true;
        return 1;
    }

    // ---- libaudit: audit_rule_fieldpair_data ----

    private static readonly (string Symbol, uint Op)[] OperatorSearch =
    [
        ("!=", AuditConstants.OpNotEqual), (">=", AuditConstants.OpGreaterOrEqual), ("<=", AuditConstants.OpLessOrEqual),
        ("&=", AuditConstants.OpBitTest), ("=", AuditConstants.OpEqual), (">", AuditConstants.OpGreaterThan),
        ("<", AuditConstants.OpLessThan), ("&", AuditConstants.OpBitMask),
    ];

    /// <returns>0, or -1 after reporting the error.</returns>
    private int FieldPair(string pair, int flags, RuleToken token, bool isFinalKey)
    {
        var column = token.Column;
        if (_rule.Fields.Count >= AuditConstants.MaxFields - 1)
        {
            return FieldError(RuleDiagnosticCodes.TooManyFields, column, $"a rule holds at most {AuditConstants.MaxFields - 1} fields",
                $"Too many fields in rule: {pair}", isFinalKey);
        }
        var opIndex = -1;
        var opLength = 0;
        uint op = 0;
        var opSymbol = string.Empty;
        foreach (var (symbol, value) in OperatorSearch)
        {
            var at = pair.IndexOf(symbol, StringComparison.Ordinal);
            if (at >= 0)
            {
                opIndex = at;
                opLength = symbol.Length;
                op = value;
                opSymbol = symbol;
                break;
            }
        }
        if (opIndex < 0)
        {
            return FieldError(RuleDiagnosticCodes.MalformedField, column, $"-F {pair}: missing operator; write name=value (or !=, <, >, <=, >=, &, &=)",
                $"-F missing operation for {pair}", isFinalKey);
        }
        var name = pair[..opIndex];
        var v = pair[(opIndex + opLength)..];
        var valueColumn = column + opIndex + opLength;
        if (name.Length == 0)
        {
            return FieldError(RuleDiagnosticCodes.MalformedField, column, $"-F {pair}: missing field name before the operator",
                "-F missing field name before operator for ", isFinalKey);
        }
        if (v.Length == 0)
        {
            return FieldError(RuleDiagnosticCodes.MissingValue, valueColumn, $"-F {pair}: missing value after the operator",
                $"-F missing value after operation for {name}", isFinalKey);
        }
        var field = AuditLookups.FieldNumber(name);
        if (field < 0)
        {
            return FieldError(RuleDiagnosticCodes.UnknownField, column, $"-F {pair}: '{name}' is not a field auditctl knows{SuggestField(name)}",
                $"-F unknown field: {name}", isFinalKey);
        }
        var canonicalName = AuditLookups.FieldName(field) ?? name;

        if (flags == AuditConstants.FilterExclude)
        {
            if (field is not (AuditConstants.Pid or AuditConstants.Uid or AuditConstants.Gid or AuditConstants.LoginUid or AuditConstants.MsgType
                or AuditConstants.SubjUser or AuditConstants.SubjRole or AuditConstants.SubjType or AuditConstants.SubjSen or AuditConstants.SubjClr
                or AuditConstants.Exe))
            {
                return FieldError(RuleDiagnosticCodes.FieldNotAllowedOnList, column,
                    $"-F {canonicalName} cannot be used on the exclude list, which only takes msgtype, pid, uid, gid, auid, subj_* and exe",
                    "Only msgtype, *uid, *gid, pid, and subj* fields can be used with exclude filter", isFinalKey);
            }
        }

        var kf = new KernelField { Type = field, Op = op };
        switch (field)
        {
            case AuditConstants.Uid:
            case AuditConstants.Euid:
            case AuditConstants.Suid:
            case AuditConstants.Fsuid:
            case AuditConstants.LoginUid:
            case AuditConstants.ObjUid:
                if (CNumber.StartsWithDigit(v))
                {
                    var parsed = CNumber.StrToUL(v);
                    kf.Value = unchecked((uint)parsed.Bits);
                    NotePartialNumber(v, parsed, new RuleToken(v, valueColumn, v.Length), "-F " + name);
                }
                else if (v.Length >= 2 && v[0] == '-' && CNumber.IsDigit(v[1]))
                {
                    kf.Value = unchecked((uint)CNumber.StrToL(v).Bits);
                }
                else if (v == "unset")
                {
                    kf.Value = uint.MaxValue;
                }
                else if (!ResolveId(v, isUser: true, kf, valueColumn, isFinalKey))
                {
                    return -1;
                }
                break;
            case AuditConstants.Gid:
            case AuditConstants.Egid:
            case AuditConstants.Sgid:
            case AuditConstants.Fsgid:
            case AuditConstants.ObjGid:
                if (CNumber.StartsWithDigit(v))
                {
                    var parsed = CNumber.StrToL(v);
                    kf.Value = unchecked((uint)parsed.Bits);
                    NotePartialNumber(v, parsed, new RuleToken(v, valueColumn, v.Length), "-F " + name);
                }
                else if (!ResolveId(v, isUser: false, kf, valueColumn, isFinalKey))
                {
                    return -1;
                }
                break;
            case AuditConstants.Exit:
                if (flags != AuditConstants.FilterExit)
                {
                    return ExitOnly(canonicalName, name, column, isFinalKey);
                }
                if (CNumber.StartsWithDigit(v) || (v.Length >= 2 && v[0] == '-' && CNumber.IsDigit(v[1])))
                {
                    var parsed = CNumber.StrToL(v);
                    kf.Value = unchecked((uint)parsed.Bits);
                    NotePartialNumber(v, parsed, new RuleToken(v, valueColumn, v.Length), "-F exit");
                }
                else
                {
                    var errno = AuditLookups.ErrnoNumber(v);
                    if (errno == 0)
                    {
                        return FieldError(RuleDiagnosticCodes.UnknownErrno, valueColumn,
                            $"-F {pair}: '{v}' is not an errno name; write a negative errno such as -EPERM or -EACCES, or a number",
                            $"-F unknown errno - {name}", isFinalKey);
                    }
                    kf.Value = unchecked((uint)errno);
                    if (errno > 0)
                    {
                        Warn(RuleDiagnosticCodes.UnknownErrno, valueColumn,
                            $"-F exit={v} matches a return value of +{errno}; failed syscalls return negative errors, so you probably mean exit=-{v}");
                    }
                }
                break;
            case AuditConstants.MsgType:
                if (flags != AuditConstants.FilterExclude && flags != AuditConstants.FilterUser)
                {
                    return FieldError(RuleDiagnosticCodes.FieldNotAllowedOnList, column,
                        "-F msgtype only works on the exclude and user lists", "msgtype field can only be used with exclude or user filter list", isFinalKey);
                }
                if (CNumber.StartsWithDigit(v))
                {
                    kf.Value = unchecked((uint)CNumber.StrToL(v).Bits);
                }
                else
                {
                    var type = AuditLookups.MessageTypeNumber(v);
                    if (type <= 0)
                    {
                        return FieldError(RuleDiagnosticCodes.UnknownMessageType, valueColumn,
                            $"-F {pair}: '{v}' is not a message type auditd 3.0.9 knows (for example SYSCALL, EXECVE, USER_LOGIN, or a number)",
                            $"-F unknown message type - {name}", isFinalKey);
                    }
                    kf.Value = unchecked((uint)type);
                }
                break;
            case AuditConstants.ObjUser:
            case AuditConstants.ObjRole:
            case AuditConstants.ObjType:
            case AuditConstants.ObjLevLow:
            case AuditConstants.ObjLevHigh:
            case AuditConstants.Watch:
            case AuditConstants.Dir:
            case AuditConstants.SubjUser:
            case AuditConstants.SubjRole:
            case AuditConstants.SubjType:
            case AuditConstants.SubjSen:
            case AuditConstants.SubjClr:
            case AuditConstants.FilterKey:
            case AuditConstants.Exe:
                if (field is AuditConstants.ObjUser or AuditConstants.ObjRole or AuditConstants.ObjType or AuditConstants.ObjLevLow
                    or AuditConstants.ObjLevHigh or AuditConstants.Watch or AuditConstants.Dir)
                {
                    if (flags != AuditConstants.FilterExit)
                    {
                        return ExitOnly(canonicalName, name, column, isFinalKey);
                    }
                    if (field is AuditConstants.Watch or AuditConstants.Dir)
                    {
                        _permAdded = true;
                    }
                }
                if (field == AuditConstants.Exe)
                {
                    if (op is not (AuditConstants.OpEqual or AuditConstants.OpNotEqual))
                    {
                        return EqualOrNotOnly(canonicalName, name, column, opSymbol, isFinalKey);
                    }
                    _exeAdded = true;
                }
                if (field == AuditConstants.FilterKey && !(_syscallAdded || _permAdded || _exeAdded || _filterFsAdded))
                {
                    return FieldError(RuleDiagnosticCodes.KeyWithoutRule, column,
                        "a key needs a watch, syscalls (-S), or a path=/dir=/exe=/perm=/fstype= field before it; the task, user and exclude lists take no keys",
                        "Key field needs a watch, syscall or exe path given prior to it", isFinalKey);
                }
                var length = Encoding.UTF8.GetByteCount(v);
                if ((field == AuditConstants.FilterKey && length > AuditConstants.MaxKeyLength) || length > AuditConstants.PathMax)
                {
                    return FieldError(field == AuditConstants.FilterKey ? RuleDiagnosticCodes.KeyTooLong : RuleDiagnosticCodes.ValueTooLong, valueColumn,
                        $"-F {name}: the value is {length} bytes; the limit is {(field == AuditConstants.FilterKey ? AuditConstants.MaxKeyLength : AuditConstants.PathMax)}",
                        "String value too long", isFinalKey);
                }
                kf.Text = v;
                break;
            case AuditConstants.Arch:
                if (_syscallAdded)
                {
                    return FieldError(RuleDiagnosticCodes.ArchAfterSyscall, column,
                        "-F arch must come before -S: auditctl looks the syscall names up in the arch's table", $"{name} must be before -S", isFinalKey);
                }
                if (op is not (AuditConstants.OpEqual or AuditConstants.OpNotEqual))
                {
                    return EqualOrNotOnly(canonicalName, name, column, opSymbol, isFinalKey);
                }
                if (CNumber.StartsWithDigit(v))
                {
                    var parsed = CNumber.StrToUL(v);
                    var elf = unchecked((uint)parsed.Bits);
                    if (parsed.Overflow || AuditLookups.ElfToMachine(elf) < 0)
                    {
                        return UnknownArch(v, name, valueColumn, isFinalKey);
                    }
                    _elf = elf;
                }
                else
                {
                    var machine = AuditLookups.DetermineMachine(v, _context.HostMachine);
                    var elf = machine < 0 ? 0 : AuditLookups.MachineToElf(machine);
                    if (elf == 0)
                    {
                        return UnknownArch(v, name, valueColumn, isFinalKey);
                    }
                    _elf = elf;
                }
                kf.Value = _elf;
                ArchWritten ??= v;
                break;
            case AuditConstants.Perm:
                if (flags != AuditConstants.FilterExit)
                {
                    return ExitOnly(canonicalName, name, column, isFinalKey);
                }
                if (op != AuditConstants.OpEqual)
                {
                    return FieldError(RuleDiagnosticCodes.OperatorNotAllowed, column, $"-F {pair}: perm only takes the = operator",
                        $"{name} only takes = operator", isFinalKey);
                }
                if (Encoding.UTF8.GetByteCount(v) > 4)
                {
                    return FieldError(RuleDiagnosticCodes.BadPermission, valueColumn, $"-F {pair}: permissions are at most the four letters r, w, x, a",
                        "String value too long", isFinalKey);
                }
                uint perm = 0;
                foreach (var ch in v)
                {
                    switch (char.ToLowerInvariant(ch))
                    {
                        case 'r': perm |= AuditConstants.PermRead; break;
                        case 'w': perm |= AuditConstants.PermWrite; break;
                        case 'x': perm |= AuditConstants.PermExec; break;
                        case 'a': perm |= AuditConstants.PermAttr; break;
                        default:
                            return FieldError(RuleDiagnosticCodes.BadPermission, valueColumn,
                                $"-F {pair}: '{ch}' is not a permission; use r (read), w (write), x (execute), a (attribute change)",
                                "Permission can only contain  'rwxa'", isFinalKey);
                    }
                }
                kf.Value = perm;
                break;
            case AuditConstants.FileType:
                if (flags != AuditConstants.FilterExit)
                {
                    return ExitOnly(canonicalName, name, column, isFinalKey);
                }
                var ftype = AuditLookups.FileTypeNumber(v);
                if (ftype < 0)
                {
                    return FieldError(RuleDiagnosticCodes.UnknownFileType, valueColumn,
                        $"-F {pair}: '{v}' is not a file type; use one of {string.Join(", ", LibauditTables.FileTypes.Select(t => t.Name))}",
                        $"-F unknown file type -  {name}", isFinalKey);
                }
                kf.Value = (uint)ftype;
                break;
            case AuditConstants.FsType:
                if (flags != AuditConstants.FilterFs)
                {
                    return FieldError(RuleDiagnosticCodes.FieldNotAllowedOnList, column, "-F fstype only works on the filesystem list (-a never,filesystem)",
                        $"{name} field is not valid for the filter", isFinalKey);
                }
                if (op is not (AuditConstants.OpEqual or AuditConstants.OpNotEqual))
                {
                    return EqualOrNotOnly(canonicalName, name, column, opSymbol, isFinalKey);
                }
                if (CNumber.StartsWithDigit(v))
                {
                    kf.Value = unchecked((uint)CNumber.StrToUL(v).Bits);
                }
                else if (AuditLookups.TryFsTypeNumber(v, out var fs))
                {
                    kf.Value = fs;
                }
                else
                {
                    kf.Value = uint.MaxValue;
                }
                if (kf.Value == uint.MaxValue)
                {
                    return FieldError(RuleDiagnosticCodes.UnknownFileSystemType, valueColumn,
                        $"-F {pair}: auditctl 3.0.9 only knows the file system types {string.Join(" and ", LibauditTables.FileSystemTypes.Select(t => t.Name))} (or a magic number)",
                        $"file system type is unknown for field: {name}", isFinalKey);
                }
                _filterFsAdded = true;
                break;
            case >= AuditConstants.Arg0 and <= AuditConstants.Arg3:
                if (CNumber.StartsWithDigit(v))
                {
                    var parsed = CNumber.StrToUL(v);
                    kf.Value = unchecked((uint)parsed.Bits);
                    NotePartialNumber(v, parsed, new RuleToken(v, valueColumn, v.Length), "-F " + name);
                    if (parsed.Bits > uint.MaxValue && !parsed.Overflow)
                    {
                        Warn(RuleDiagnosticCodes.ValueOutOfRange, valueColumn,
                            $"-F {pair}: rule values are 32 bits; the kernel compares against {kf.Value}");
                    }
                }
                else if (v.Length >= 2 && v[0] == '-' && CNumber.IsDigit(v[1]))
                {
                    kf.Value = unchecked((uint)CNumber.StrToL(v).Bits);
                }
                else
                {
                    return NotANumber(pair, name, valueColumn, isFinalKey);
                }
                break;
            case AuditConstants.SessionId:
                if (flags != AuditConstants.FilterExclude && flags != AuditConstants.FilterUser && flags != AuditConstants.FilterExit)
                {
                    return FieldError(RuleDiagnosticCodes.FieldNotAllowedOnList, column, "-F sessionid only works on the exit, user and exclude lists",
                        $"{name} must be used with exclude, user, or exit filter", isFinalKey);
                }
                if (CNumber.StartsWithDigit(v))
                {
                    kf.Value = unchecked((uint)CNumber.StrToUL(v).Bits);
                }
                else if (v.Length >= 2 && v[0] == '-' && CNumber.IsDigit(v[1]))
                {
                    kf.Value = unchecked((uint)CNumber.StrToL(v).Bits);
                }
                else if (v == "unset")
                {
                    kf.Value = uint.MaxValue;
                }
                else
                {
                    Warn(RuleDiagnosticCodes.NotANumber, valueColumn, $"-F {pair}: '{v}' is not a number or 'unset'; auditctl silently uses 0");
                }
                break;
            case AuditConstants.SaddrFam:
                {
                    var parsed = CNumber.StrToUL(v);
                    kf.Value = unchecked((uint)parsed.Bits);
                    if (!CNumber.StartsWithDigit(v))
                    {
                        Warn(RuleDiagnosticCodes.NotANumber, valueColumn, $"-F {pair}: '{v}' is not a number; auditctl silently uses {kf.Value}");
                    }
                    if (kf.Value >= AuditConstants.AddressFamilyMax)
                    {
                        return FieldError(RuleDiagnosticCodes.ValueOutOfRange, valueColumn,
                            $"-F {pair}: address families go up to {AuditConstants.AddressFamilyMax - 1}", $"value is too large for field: {name}", isFinalKey);
                    }
                }
                break;
            default:
                if (field is >= AuditConstants.DevMajor and <= AuditConstants.Inode or AuditConstants.Success && flags != AuditConstants.FilterExit)
                {
                    return ExitOnly(canonicalName, name, column, isFinalKey);
                }
                if (field == AuditConstants.Inode && op is not (AuditConstants.OpEqual or AuditConstants.OpNotEqual))
                {
                    return EqualOrNotOnly(canonicalName, name, column, opSymbol, isFinalKey);
                }
                if (field == AuditConstants.Ppid && flags != AuditConstants.FilterExit)
                {
                    return ExitOnly(canonicalName, name, column, isFinalKey);
                }
                if (!CNumber.StartsWithDigit(v))
                {
                    return NotANumber(pair, name, valueColumn, isFinalKey);
                }
                {
                    var parsed = field == AuditConstants.Inode ? CNumber.StrToUL(v) : CNumber.StrToL(v);
                    kf.Value = unchecked((uint)parsed.Bits);
                    NotePartialNumber(v, parsed, new RuleToken(v, valueColumn, v.Length), "-F " + name);
                }
                break;
        }

        _rule.Fields.Add(kf);
        if (field == AuditConstants.FilterKey)
        {
            if (!isFinalKey)
            {
                _keys.Add(v);
            }
        }
        else
        {
            _fields.Add(new AuditRuleField(canonicalName, name, opSymbol, v, false, token));
            if (field is AuditConstants.Watch or AuditConstants.Dir)
            {
                WatchPath ??= v;
            }
        }
        return 0;
    }

    private bool ResolveId(string name, bool isUser, KernelField kf, int column, bool isFinalKey)
    {
        var env = _context.Environment;
        var kind = isUser ? "user" : "group";
        if (env is null && !IsPlausibleAccountName(name))
        {
            FieldError(RuleDiagnosticCodes.UnknownUserOrGroup, column,
                $"'{name}' is neither a number nor a {kind} name" + (name.StartsWith('=') ? " (one '=' is enough)" : name == "-1" ? "; groups have no -1/unset value" : string.Empty),
                $"Unknown {kind}: {name}", isFinalKey);
            return false;
        }
        if (env is null && !isUser && name == "unset")
        {
            FieldError(RuleDiagnosticCodes.UnknownUserOrGroup, column, "'unset' only exists for user ids (auid=unset); a group id is always set",
                $"Unknown {kind}: {name}", isFinalKey);
            return false;
        }
        if (env is null)
        {
            kf.Text = name;
            kf.IsUnresolvedName = true;
            Info(RuleDiagnosticCodes.NameResolvedOnNode, column,
                $"the {kind} name '{name}' is looked up on the node when the rules load; give a host root to check it, or use the numeric id");
            return true;
        }
        var found = isUser ? env.TryGetUserId(name, out var id) : env.TryGetGroupId(name, out id);
        if (!found)
        {
            FieldError(RuleDiagnosticCodes.UnknownUserOrGroup, column, $"no {kind} '{name}' on the node ({env.Description}); auditctl refuses the rule",
                $"Unknown {kind}: {name}", isFinalKey);
            return false;
        }
        kf.Value = id;
        return true;
    }

    /// <summary>What useradd/groupadd accept (and what NSS sources use in practice): a name, not an expression.</summary>
    private static bool IsPlausibleAccountName(string name) =>
        System.Text.RegularExpressions.Regex.IsMatch(name, @"^[A-Za-z_][A-Za-z0-9_.-]*\$?$");

    private int ExitOnly(string canonicalName, string name, int column, bool isFinalKey) =>
        FieldError(RuleDiagnosticCodes.FieldNotAllowedOnList, column, $"-F {canonicalName} only works on the exit list (-a always,exit)",
            $"{name} can only be used with exit filter list", isFinalKey);

    private int EqualOrNotOnly(string canonicalName, string name, int column, string op, bool isFinalKey) =>
        FieldError(RuleDiagnosticCodes.OperatorNotAllowed, column, $"-F {canonicalName}{op}: {canonicalName} only takes the = and != operators",
            $"{name} only takes = or != operators", isFinalKey);

    private int NotANumber(string pair, string name, int column, bool isFinalKey) =>
        FieldError(RuleDiagnosticCodes.NotANumber, column, $"-F {pair}: the value must be a number", $"-F value should be number for {name}", isFinalKey);

    private int UnknownArch(string v, string name, int column, bool isFinalKey) =>
        FieldError(RuleDiagnosticCodes.UnknownArch, column,
            $"-F arch={v}: not an arch auditctl knows on a {AuditLookups.MachineName(_context.HostMachine)} node; use b64, b32, or a machine name such as x86_64, i386, aarch64",
            $"{name} elf mapping not found", isFinalKey);

    private int FieldError(string code, int column, string message, string? auditctl, bool isFinalKey)
    {
        Fail(code, column, message, auditctl);
        return -1;
    }

    private static string SuggestField(string name)
    {
        var lower = name.ToLowerInvariant();
        var best = AuditLookups.FieldNamesInOrder
            .Select(f => (Name: f, Distance: Distance(lower, f)))
            .OrderBy(x => x.Distance)
            .FirstOrDefault();
        return best.Name is not null && best.Distance <= 2 ? $" (did you mean '{best.Name}'?)" : string.Empty;
    }

    private static int Distance(string a, string b)
    {
        var d = new int[a.Length + 1, b.Length + 1];
        for (var i = 0; i <= a.Length; i++) d[i, 0] = i;
        for (var j = 0; j <= b.Length; j++) d[0, j] = j;
        for (var i = 1; i <= a.Length; i++)
        {
            for (var j = 1; j <= b.Length; j++)
            {
                d[i, j] = Math.Min(Math.Min(d[i - 1, j] + 1, d[i, j - 1] + 1), d[i - 1, j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1));
            }
        }
        return d[a.Length, b.Length];
    }

    // ---- libaudit: audit_rule_interfield_comp_data ----

    private int CompareField(string pair, RuleToken token, int flags)
    {
        var column = token.Column;
        if (_rule.Fields.Count >= AuditConstants.MaxFields - 1)
        {
            Fail(RuleDiagnosticCodes.TooManyFields, column, $"a rule holds at most {AuditConstants.MaxFields - 1} fields", $"Too many fields in rule: {pair}");
            return -1;
        }
        uint op;
        int at;
        int opLength;
        if ((at = pair.IndexOf("!=", StringComparison.Ordinal)) >= 0)
        {
            op = AuditConstants.OpNotEqual;
            opLength = 2;
        }
        else if ((at = pair.IndexOf('=')) >= 0)
        {
            op = AuditConstants.OpEqual;
            opLength = 1;
        }
        else
        {
            Fail(RuleDiagnosticCodes.OperatorNotAllowed, column, $"-C {pair}: a comparison takes = or !=", $"{pair} only takes = or != operators");
            return -1;
        }
        var left = pair[..at];
        var right = pair[(at + opLength)..];
        if (left.Length == 0)
        {
            Fail(RuleDiagnosticCodes.BadComparison, column, $"-C {pair}: missing field name before the operator", "-C missing field name before operator for ");
            return -1;
        }
        if (right.Length == 0)
        {
            Fail(RuleDiagnosticCodes.BadComparison, column + at + opLength, $"-C {pair}: missing field name after the operator",
                $"-C missing value after operation for  {left}");
            return -1;
        }
        var f1 = AuditLookups.FieldNumber(left);
        if (f1 < 0)
        {
            Fail(RuleDiagnosticCodes.BadComparison, column, $"-C {pair}: '{left}' is not a field", $"-C unknown field: {left}");
            return -1;
        }
        var f2 = AuditLookups.FieldNumber(right);
        if (f2 < 0)
        {
            Fail(RuleDiagnosticCodes.BadComparison, column + at + opLength, $"-C {pair}: '{right}' is not a field",
                $"-C unknown right hand value for comparison with: {left}");
            return -1;
        }
        if (flags != AuditConstants.FilterExit)
        {
            Fail(RuleDiagnosticCodes.FieldNotAllowedOnList, column, "-C comparisons only work on the exit list (-a always,exit)",
                $"{left} can only be used with exit filter list");
            return -1;
        }
        var value = KernelRule.ComparisonFor(f1, f2);
        if (value == 0)
        {
            Fail(RuleDiagnosticCodes.BadComparison, column,
                $"-C {pair}: the kernel can only compare two different uid fields (uid, euid, suid, fsuid, auid, obj_uid) or two different gid fields (gid, egid, sgid, fsgid, obj_gid)",
                $"-C incompatible comparison {left}");
            return -1;
        }
        _rule.Fields.Add(new KernelField { Type = AuditConstants.FieldCompare, Op = op, Value = value });
        _fields.Add(new AuditRuleField("field_compare", left, op == AuditConstants.OpEqual ? "=" : "!=", right, true, token));
        return 0;
    }

    // ---- findings ----

    private void NotePartialNumber(string text, CNumber.Result parsed, RuleToken token, string option)
    {
        if (parsed.Consumed > 0 && parsed.Consumed < text.Length)
        {
            Warn(RuleDiagnosticCodes.PartialNumber, token,
                $"{option} {text}: auditctl reads the number {text[..parsed.Consumed]} and ignores '{text[parsed.Consumed..]}'");
        }
    }

    private RuleToken FirstToken() => _words.Length > 1 ? _words[1] : new RuleToken(string.Empty, 1, 0);

    internal void Fail(string code, RuleToken token, string message, string? auditctl) => Fail(code, token.Column, message, auditctl);

    internal void Fail(string code, int column, string message, string? auditctl)
    {
        Failed = true;
        if (_errorReported)
        {
            return;
        }
        _errorReported = true;
        _findings.Add(new LineFinding(code, DiagnosticSeverity.Error, Math.Max(column, 1), WithAuditctl(message, auditctl)));
    }

    internal void Warn(string code, RuleToken token, string message, string? auditctl = null) => Warn(code, token.Column, message, auditctl);

    internal void Warn(string code, int column, string message, string? auditctl = null) =>
        _findings.Add(new LineFinding(code, DiagnosticSeverity.Warning, Math.Max(column, 1), WithAuditctl(message, auditctl)));

    internal void Info(string code, RuleToken token, string message) => Info(code, token.Column, message);

    internal void Info(string code, int column, string message) =>
        _findings.Add(new LineFinding(code, DiagnosticSeverity.Information, Math.Max(column, 1), message));

    private static string WithAuditctl(string message, string? auditctl) =>
        auditctl is null ? message : $"{message} [auditctl: {auditctl}]";

    /// <summary>The auditctl message of the first error (for comparing with the real tool's stderr).</summary>
    public string? AuditctlError
    {
        get
        {
            var error = _findings.FirstOrDefault(f => f.Severity == DiagnosticSeverity.Error);
            if (error.Message is null)
            {
                return null;
            }
            var at = error.Message.LastIndexOf(" [auditctl: ", StringComparison.Ordinal);
            return at < 0 ? string.Empty : error.Message[(at + 12)..^1];
        }
    }
}
