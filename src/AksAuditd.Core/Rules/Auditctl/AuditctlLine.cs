using System.Globalization;
using System.Text;

using AksAuditd.Core.Audit;

namespace AksAuditd.Core.Rules.Auditctl;

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
internal sealed partial class AuditctlLine
{
    private readonly LineContext _context;
    private readonly RuleToken[] _words;
    private readonly LineFindings _report = new();
    private readonly List<AuditRuleOption> _options = [];
    private readonly List<AuditRuleField> _fields = [];
    private readonly List<AuditRuleSyscall> _syscalls = [];
    private readonly List<string> _keys = [];
    private readonly KernelRule _rule = new();

    private readonly LibauditGlobals _libaudit = new();
    // Made when a line first has a field or comparison: most lines of a rules file need neither.
    private FieldPairBuilder? _fieldPairs;
    private FieldComparisonBuilder? _comparisons;

    // auditctl's globals, reset for every line (reset_vars).
    private int _add = AuditConstants.FilterUnset;
    private int _del = AuditConstants.FilterUnset;
    private int _action = -1;
    private bool _exclude;
    private int _multiple;
    private string _key = string.Empty;
    private bool _listRequested;
    private int _count;

    private GnuGetopt _getopt = null!;
    private string? _watchOption;

    public AuditctlLine(LineContext context, IReadOnlyList<RuleToken> words)
    {
        _context = context;
        _words = [new RuleToken("auditctl", 0, 0), .. words];
        _count = _words.Length;
    }

    public IReadOnlyList<LineFinding> Findings => _report.All;

    /// <summary>The line's findings, for the kernel's checks that follow auditctl's.</summary>
    internal LineFindings Report => _report;

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
    public bool Failed => _report.Failed;

    /// <summary>The auditctl message of the first error (for comparing with the real tool's stderr).</summary>
    public string? AuditctlError => _report.AuditctlError;

    public bool SetsIgnoreErrors { get; private set; }

    public string? ArchWritten => _fieldPairs?.ArchWritten;

    /// <summary>The -w/-W path, else the first path=/dir= field.</summary>
    public string? WatchPath => _watchOption ?? _fieldPairs?.WatchPath;

    /// <summary>The machine whose table names this rule's syscalls (the -F arch one, or the node's).</summary>
    public int SyscallMachine => _libaudit.Elf != 0 ? AuditLookups.ElfToMachine(_libaudit.Elf) : _context.HostMachine;

    public void Run()
    {
        var retval = SetOptions();
        if (retval == OptionOutcome.Deprecated)
        {
            // "possible is deprecated": auditctl eats the line without an error.
            return;
        }
        HandleRequest(retval);
    }

    private OptionOutcome SetOptions()
    {
        _getopt = new GnuGetopt(_words);
        var retval = OptionOutcome.NoRule;
        int c;
        while (retval is OptionOutcome.NoRule or OptionOutcome.Rule && (c = _getopt.Next()) != -1)
        {
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
                    _report.Fail(RuleDiagnosticCodes.NotARule, optionToken, "-h prints auditctl's usage; it is not a rule", null);
                    retval = OptionOutcome.Error;
                    break;
                case 'i':
                    Controls.Add(("-i", null, optionToken));
                    SetsIgnoreErrors = true;
                    retval = OptionOutcome.Handled;
                    break;
                case 'c':
                    Controls.Add(("-c", null, optionToken));
                    SetsIgnoreErrors = true;
                    retval = OptionOutcome.Handled;
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
                            _report.Warn(RuleDiagnosticCodes.EnableLocked, argToken!.Value, "-e 2 makes the audit configuration immutable: " +
                                "no rule or setting can change until the node reboots");
                        }
                    }
                    else
                    {
                        _report.Fail(RuleDiagnosticCodes.BadControlValue, argToken!.Value,
                            $"-e takes 0 (disable), 1 (enable) or 2 (enable and lock), not '{arg}'", $"Enable must be 0, 1, or 2 was {arg}");
                        retval = OptionOutcome.Error;
                    }
                    break;
                case 'f':
                    Controls.Add(("-f", arg, optionToken));
                    if (arg is "0" or "1" or "2")
                    {
                        if (arg == "2")
                        {
                            _report.Warn(RuleDiagnosticCodes.PanicOnFailure, argToken!.Value, "-f 2 makes the kernel panic when auditing fails " +
                                "(for example when the backlog overflows): the node goes down");
                        }
                    }
                    else
                    {
                        _report.Fail(RuleDiagnosticCodes.BadControlValue, argToken!.Value,
                            $"-f takes 0 (silent), 1 (printk) or 2 (panic), not '{arg}'", $"Failure must be 0, 1, or 2 was {arg}");
                        retval = OptionOutcome.Error;
                    }
                    break;
                case 'r':
                    Controls.Add(("-r", arg, optionToken));
                    if (!NumericSetting(arg!, argToken!.Value, "-r", "rate limit (messages per second)", "Rate must be a numeric value was", "Error converting rate"))
                    {
                        return OptionOutcome.Error;
                    }
                    break;
                case 'b':
                    Controls.Add(("-b", arg, optionToken));
                    if (!NumericSetting(arg!, argToken!.Value, "-b", "backlog limit (number of buffers)", "Backlog must be a numeric value was", "Error converting backlog"))
                    {
                        return OptionOutcome.Error;
                    }
                    break;
                case 'l':
                    retval = ListOption(optionToken);
                    break;
                case 'a':
                case 'A':
                    retval = AppendOption(c == 'A', arg!, argToken!.Value);
                    if (retval == OptionOutcome.Deprecated)
                    {
                        return OptionOutcome.Deprecated;
                    }
                    break;
                case 'd':
                    retval = DeleteOption(arg!, argToken!.Value);
                    if (retval == OptionOutcome.Deprecated)
                    {
                        return OptionOutcome.Deprecated;
                    }
                    break;
                case 'S':
                    if (!SyscallOption(arg!, argToken!.Value))
                    {
                        return OptionOutcome.Error;
                    }
                    break;
                case 'F':
                    retval = FieldOption(arg!, argToken!.Value, retval);
                    break;
                case 'C':
                    {
                        if (!Comparisons.Add(arg!, argToken!.Value, RuleList ?? AuditFilterList.Unset))
                        {
                            retval = OptionOutcome.Error;
                        }
                    }
                    break;
                case 'm':
                    retval = MessageOption(arg!, argToken!.Value);
                    break;
                case 'R':
                    _report.Fail(RuleDiagnosticCodes.NotARule, optionToken, "-R (read another rules file) cannot be used inside a rules file",
                        "Error - nested rule files not supported");
                    retval = OptionOutcome.Error;
                    break;
                case 'D':
                    retval = DeleteAllOption(optionToken);
                    break;
                case 'w':
                    if (_add != AuditConstants.FilterUnset || _del != AuditConstants.FilterUnset)
                    {
                        _report.Fail(RuleDiagnosticCodes.OptionConflict, optionToken,
                            "-w starts a watch of its own; it cannot be combined with -a/-A/-d or a second -w on the same line",
                            "watch option can't be given with a syscall");
                        retval = OptionOutcome.Error;
                    }
                    else
                    {
                        _add = (int)AuditFilterList.Exit;
                        _action = AuditConstants.Always;
                        _libaudit.SyscallAdded = true;
                        IsWatchOption = true;
                        retval = SetupWatch(arg!, argToken!.Value);
                    }
                    break;
                case 'W':
                    _del = (int)AuditFilterList.Exit;
                    _action = AuditConstants.Always;
                    _libaudit.SyscallAdded = true;
                    IsWatchOption = true;
                    retval = SetupWatch(arg!, argToken!.Value);
                    break;
                case 'k':
                    if (!(_libaudit.SyscallAdded || _libaudit.PermAdded || _libaudit.ExeAdded || _libaudit.FilterFsAdded) ||
                        (_add == AuditConstants.FilterUnset && _del == AuditConstants.FilterUnset))
                    {
                        _report.Fail(RuleDiagnosticCodes.KeyWithoutRule, optionToken,
                            "-k must come after the -w watch, or after the -S syscalls (or a path=/dir=/exe=/perm= field) of the rule it labels",
                            "key option needs a watch or syscall given prior to it");
                        retval = OptionOutcome.Error;
                        break;
                    }
                    if (!AddKey(arg!, argToken!.Value))
                    {
                        retval = OptionOutcome.Error;
                    }
                    break;
                case 'p':
                    if (_add == AuditConstants.FilterUnset && _del == AuditConstants.FilterUnset)
                    {
                        _report.Fail(RuleDiagnosticCodes.PermissionsWithoutWatch, optionToken, "-p must come after the -w watch (or the -a rule) it applies to",
                            "permission option needs a watch given prior to it");
                        retval = OptionOutcome.Error;
                    }
                    else
                    {
                        retval = SetupPermissions(arg!, argToken!.Value);
                    }
                    break;
                case 'q':
                    if (_libaudit.SyscallAdded)
                    {
                        _report.Fail(RuleDiagnosticCodes.OptionConflict, optionToken, "-q cannot be combined with syscalls or watches",
                            "Syscall auditing requested for make equivalent");
                        retval = OptionOutcome.Error;
                    }
                    else
                    {
                        var parts = arg!.Split(',');
                        if (parts.Length != 2 || parts[1].Length == 0)
                        {
                            _report.Fail(RuleDiagnosticCodes.BadControlValue, argToken!.Value, "-q takes mount-point,subtree", "Error parsing equivalent parts");
                            retval = OptionOutcome.Error;
                        }
                        else
                        {
                            Controls.Add(("-q", arg, optionToken));
                            _report.Warn(RuleDiagnosticCodes.SideEffectAtLoad, optionToken,
                                "-q makes a subtree part of a mount point's directory watches when the rules load; both paths must exist on the node");
                            return OptionOutcome.Handled;
                        }
                    }
                    break;
                case 't':
                    Controls.Add(("-t", null, optionToken));
                    return OptionOutcome.Handled;
                case 'v':
                    Controls.Add(("-v", null, optionToken));
                    _report.Warn(RuleDiagnosticCodes.NotARule, optionToken, "-v prints auditctl's version; it does nothing in a rules file");
                    retval = OptionOutcome.Handled;
                    break;
                case 1:
                    Controls.Add(("--loginuid-immutable", null, optionToken));
                    _report.Info(RuleDiagnosticCodes.LoginuidImmutable, optionToken,
                        "--loginuid-immutable makes login uids unchangeable until the node reboots (containers can no longer set them)");
                    return OptionOutcome.Handled;
                case 2:
                    Controls.Add(("--backlog_wait_time", arg, optionToken));
                    if (!BacklogWaitTime(arg!, argToken!.Value))
                    {
                        return OptionOutcome.Error;
                    }
                    break;
                case 3:
                    Controls.Add(("--reset-lost", null, optionToken));
                    return OptionOutcome.Handled;
                case 4:
                    Controls.Add(("--reset_backlog_wait_time_actual", null, optionToken));
                    return OptionOutcome.Handled;
                case 5:
                    Controls.Add(("--signal", arg, optionToken));
                    if (arg!.ToUpperInvariant() is "TERM" or "HUP" or "USR1" or "USR2" or "CONT")
                    {
                        _report.Warn(RuleDiagnosticCodes.SideEffectAtLoad, optionToken, $"--signal {arg} sends SIG{arg.ToUpperInvariant()} to auditd while the rules load");
                        retval = OptionOutcome.Handled;
                    }
                    else
                    {
                        _report.Fail(RuleDiagnosticCodes.BadControlValue, argToken!.Value, $"--signal takes TERM, HUP, USR1, USR2 or CONT, not '{arg}'",
                            $"{arg} is an unsupported signal");
                        retval = OptionOutcome.Error;
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
                        _report.Fail(reason == "missing value" ? RuleDiagnosticCodes.MissingValue : RuleDiagnosticCodes.UnknownOption,
                            _getopt.OptionToken, message, $"Option {bad} on line 1 is invalid");
                        retval = OptionOutcome.Error;
                    }
                    break;
            }
        }

        if (_getopt.Optind == 1)
        {
            // auditctl fails the line without a message when it has not finished its first word.
            var first = _words.Length > 1 ? _words[1] : new RuleToken(string.Empty, 1, 0);
            _report.Fail(RuleDiagnosticCodes.StrayWord, first, _options.Count > 0
                    ? $"auditctl stops reading '{first.Text}' after {_options[^1].Name} and then fails the line; write {_options[^1].Name} as a word of its own, on its own line"
                    : $"'{first.Text}' is not an option: a rule line starts with an option such as -a, -w or -D" +
                      (first.Text.StartsWith('\t') ? " (auditctl splits words at spaces only; a TAB is part of the word)" : string.Empty),
                null);
            retval = OptionOutcome.Error;
        }
        else if (_getopt.Optind < _count && retval != OptionOutcome.Error)
        {
            var stray = _getopt.Arg(_getopt.Optind);
            var hint = stray.Text.StartsWith('#') ? " (auditctl has no trailing comments: a '#' only starts a comment at the start of a line)"
                : stray.Text.Contains('"') || stray.Text.Contains('\'') ? " (quotes are literal in rules files; escape a space as '\\ ')"
                : string.Empty;
            _report.Fail(RuleDiagnosticCodes.StrayWord, stray, $"'{stray.Text}' is not the value of any option{hint}", "parameter passed without an option given");
            retval = OptionOutcome.Error;
        }

        if (_key.Length > 0 && !_listRequested)
        {
            // Without a list, auditctl's flags stay 0, which is the user list.
            if (!FieldPairs.Add("key=" + _key, RuleList ?? AuditFilterList.User, default, isFinalKey: true))
            {
                retval = OptionOutcome.Error;
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

    private void HandleRequest(OptionOutcome status)
    {
        if (status == OptionOutcome.NoRule)
        {
            if (_libaudit.SyscallAdded)
            {
                _report.Fail(RuleDiagnosticCodes.NoList, _options.FirstOrDefault(o => o.Name == "-S")?.OptionToken ?? FirstToken(),
                    "-S needs a rule to belong to: add -a always,exit (or another list and action) to the line", "Error - no list specified");
            }
            return;
        }
        if (status == OptionOutcome.Handled)
        {
            if (IsRuleLine && !IsWatchOption && Request == KernelRequest.None && _options.Any(o => o.Name is "-c" or "-i" or "-D" or "-l" or "-s" or "-v"))
            {
                _report.Warn(RuleDiagnosticCodes.IgnoredByAuditctl, FirstToken(),
                    "auditctl stops reading this line at a control option (-c, -i, -D, -l, -s, -v) and does not load its rule; put them on lines of their own");
            }
            return;
        }
        if (status == OptionOutcome.Error)
        {
            _report.MarkFailed();
            return;
        }

        if (_add != AuditConstants.FilterUnset || _del != AuditConstants.FilterUnset)
        {
            var list = _add != AuditConstants.FilterUnset ? _add : _del;
            if ((AuditFilterList)(list & AuditConstants.FilterMask) != AuditFilterList.Task && !_libaudit.SyscallAdded)
            {
                _rule.SetAllSyscalls();
            }
            _rule.List = (AuditFilterList)(list & AuditConstants.FilterMask);
            _rule.Prepend = (list & AuditConstants.FilterPrepend) != 0;
            _rule.Action = _action;
            Request = _add != AuditConstants.FilterUnset ? KernelRequest.Add : KernelRequest.Delete;
            new KernelAcceptance(this, _rule, _context).Check();
        }
        else
        {
            _report.Fail(RuleDiagnosticCodes.NotARule, FirstToken(), "auditctl prints its usage for this line instead of loading anything", null);
        }
    }

    /// <summary>The list of the rule being built (-a/-A, else -d/-w/-W), without the prepend bit; null before one is given.</summary>
    private AuditFilterList? RuleList =>
        _add != AuditConstants.FilterUnset ? (AuditFilterList)(_add & AuditConstants.FilterMask)
        : _del != AuditConstants.FilterUnset ? (AuditFilterList)(_del & AuditConstants.FilterMask)
        : null;

    private FieldPairBuilder FieldPairs => _fieldPairs ??= new FieldPairBuilder(_context, _rule, _libaudit, _report, _fields, _keys);

    private FieldComparisonBuilder Comparisons => _comparisons ??= new FieldComparisonBuilder(_rule, _report, _fields);

    private RuleToken FirstToken() => _words.Length > 1 ? _words[1] : new RuleToken(string.Empty, 1, 0);
}
