using System.Text;

using AksAuditd.Core.Audit;

namespace AksAuditd.Core.Rules.Auditctl;

/// <summary>What auditctl's setopt makes of the options of a line (its return codes 1, 0, -1, -2, -3).</summary>
internal enum OptionOutcome
{
    /// <summary>A rule is ready to send to the kernel (1).</summary>
    Rule,

    /// <summary>Nothing to send yet (0): a line of -S or -F alone ends in "no list specified".</summary>
    NoRule,

    /// <summary>auditctl printed an error (-1): the line fails.</summary>
    Error,

    /// <summary>A control option did its work on its own (-2): no rule is sent.</summary>
    Handled,

    /// <summary>The deprecated 'possible' action (-3): auditctl eats the line without an error.</summary>
    Deprecated,
}

/// <summary>audit_rule_setup's answers for the list,action word of -a/-A/-d.</summary>
internal enum RuleSetupResult
{
    Ok,
    Possible,
    BadKeyword,
    SecondRule,
}

/// <summary>lookup_action's answers: always/never, the deprecated possible, or a word that is no action.</summary>
internal enum ActionLookup
{
    Found,
    Possible,
    Unknown,
}

/// <summary>auditctl.c's option handling (setopt and its helpers): each option checked and applied in auditctl's order.</summary>
internal sealed partial class AuditctlLine
{

    private OptionOutcome StatusOption(RuleToken token)
    {
        if (_count > 3)
        {
            _report.Fail(RuleDiagnosticCodes.OptionConflict, token, "-s (status) takes no other options", "Too many options for status command");
            return OptionOutcome.Error;
        }
        if (_getopt.Optind == 2 && _count == 3 && _getopt.Arg(_getopt.Optind).Text != "-i")
        {
            _report.Fail(RuleDiagnosticCodes.OptionConflict, token, "-s (status) only combines with -i", "Only -i option is allowed");
            return OptionOutcome.Error;
        }
        Controls.Add(("-s", null, token));
        _report.Warn(RuleDiagnosticCodes.NotARule, token, "-s prints the audit status; it does nothing in a rules file");
        return OptionOutcome.Handled;
    }

    private OptionOutcome ListOption(RuleToken token)
    {
        if (_count > 4)
        {
            _report.Fail(RuleDiagnosticCodes.OptionConflict, token, "-l (list) only combines with -k <key> or -i", "Wrong number of options for list request");
            return OptionOutcome.Error;
        }
        if (_count == 3)
        {
            if (_getopt.Arg(_getopt.Optind).Text == "-i")
            {
                _count -= 1;
            }
            else
            {
                _report.Fail(RuleDiagnosticCodes.OptionConflict, token, "-l (list) only combines with -k <key> or -i", "Only -k or -i options are allowed");
                return OptionOutcome.Error;
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
                _report.Fail(RuleDiagnosticCodes.OptionConflict, token, "-l (list) only combines with -k <key> or -i", "Only -k or -i options are allowed");
                return OptionOutcome.Error;
            }
        }
        _listRequested = true;
        Controls.Add(("-l", null, token));
        _report.Warn(RuleDiagnosticCodes.NotARule, token, "-l lists the loaded rules; it does nothing in a rules file");
        return OptionOutcome.Handled;
    }

    private OptionOutcome DeleteAllOption(RuleToken token)
    {
        if (_count > 4 || _count == 3)
        {
            _report.Fail(RuleDiagnosticCodes.OptionConflict, token, "-D (delete all rules) takes no other option than -k <key>",
                "Wrong number of options for Delete all request");
            return OptionOutcome.Error;
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
                _report.Fail(RuleDiagnosticCodes.OptionConflict, token, "-D (delete all rules) takes no other option than -k <key>", "Only the -k option is allowed");
                return OptionOutcome.Error;
            }
        }
        IsDeleteAll = true;
        DeleteAllKey = key;
        Controls.Add(("-D", key, token));
        _listRequested = true;
        _key = string.Empty;
        return OptionOutcome.Handled;
    }

    private bool NumericSetting(string arg, RuleToken token, string option, string what, string notNumeric, string conversion)
    {
        if (!CNumber.StartsWithDigit(arg))
        {
            _report.Fail(RuleDiagnosticCodes.BadControlValue, token, $"{option} takes a number, the {what}; '{arg}' is not one", $"{notNumeric} {arg}");
            return false;
        }
        var parsed = CNumber.StrToUL(arg);
        if (parsed.Overflow)
        {
            _report.Fail(RuleDiagnosticCodes.BadControlValue, token, $"{option} {arg} is too large", conversion);
            return false;
        }
        _report.NotePartialNumber(arg, parsed, token, option);
        if (parsed.Bits > uint.MaxValue)
        {
            _report.Warn(RuleDiagnosticCodes.ValueOutOfRange, token,
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
            _report.Fail(RuleDiagnosticCodes.ValueOutOfRange, token,
                $"--backlog_wait_time {value} is above the kernel's limit of {max} jiffies (600 s at HZ={_context.KernelHz})",
                "Error sending backlog limit request (Invalid argument)");
            return false;
        }
        return true;
    }

    private OptionOutcome MessageOption(string arg, RuleToken token)
    {
        if (_count > 3)
        {
            _report.Fail(RuleDiagnosticCodes.OptionConflict, token, "-m must be the only option of its line",
                "The -m option must be only the only option and takes 1 parameter");
            return OptionOutcome.Error;
        }
        if (arg.Any(ch => ch < ' '))
        {
            _report.Fail(RuleDiagnosticCodes.BadControlValue, token, "-m text must not contain control characters", "Illegal character in audit event");
            return OptionOutcome.Error;
        }
        Controls.Add(("-m", arg, token));
        _report.Warn(RuleDiagnosticCodes.SideEffectAtLoad, token, "-m sends a user message to the audit log each time the rules load");
        return OptionOutcome.Handled;
    }

    private OptionOutcome AppendOption(bool prepend, string arg, RuleToken token)
    {
        var option = prepend ? "-A" : "-a";
        if (arg.Contains("task", StringComparison.Ordinal) && _libaudit.SyscallAdded)
        {
            _report.Fail(RuleDiagnosticCodes.SyscallOnWrongList, token, "the task list takes no syscalls (-S)",
                prepend ? "Error: syscall auditing requested for task list" : "Syscall auditing requested for task list");
            return OptionOutcome.Error;
        }
        switch (RuleSetup(arg, ref _add))
        {
            case RuleSetupResult.SecondRule:
                _report.Fail(RuleDiagnosticCodes.OptionConflict, token, "a line can hold only one -a, -A or -d", "Multiple rule insert/delete operations are not allowed");
                return OptionOutcome.Error;
            case RuleSetupResult.BadKeyword:
                _report.Fail(RuleDiagnosticCodes.BadListOrAction, token, BadListMessage(option, arg), $"{(prepend ? "Add" : "Append")} rule - bad keyword {arg}");
                return OptionOutcome.Error;
            case RuleSetupResult.Possible:
                _report.Warn(RuleDiagnosticCodes.DeprecatedAction, token, $"{option} {arg}: the 'possible' action is deprecated; auditctl skips this line without loading anything",
                    "Append rule - possible is deprecated");
                return OptionOutcome.Deprecated;
        }
        if (prepend)
        {
            _add |= AuditConstants.FilterPrepend;
        }
        return OptionOutcome.Rule;
    }

    private OptionOutcome DeleteOption(string arg, RuleToken token)
    {
        switch (RuleSetup(arg, ref _del))
        {
            case RuleSetupResult.SecondRule:
                _report.Fail(RuleDiagnosticCodes.OptionConflict, token, "a line can hold only one -a, -A or -d", "Multiple rule insert/delete operations are not allowed");
                return OptionOutcome.Error;
            case RuleSetupResult.BadKeyword:
                _report.Fail(RuleDiagnosticCodes.BadListOrAction, token, BadListMessage("-d", arg), $"Delete rule - bad keyword {arg}");
                return OptionOutcome.Error;
            case RuleSetupResult.Possible:
                _report.Warn(RuleDiagnosticCodes.DeprecatedAction, token, $"-d {arg}: the 'possible' action is deprecated; auditctl skips this line",
                    "Delete rule - possible is deprecated");
                return OptionOutcome.Deprecated;
        }
        return OptionOutcome.Rule;
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

    /// <summary>audit_rule_setup: the list and action of -a/-A/-d, either way round.</summary>
    private RuleSetupResult RuleSetup(string opt, ref int filter)
    {
        if (++_multiple != 1)
        {
            return RuleSetupResult.SecondRule;
        }
        var comma = opt.IndexOf(',');
        if (comma < 0 || opt.IndexOf(',', comma + 1) >= 0)
        {
            return RuleSetupResult.BadKeyword;
        }
        var first = opt[..comma];
        var second = opt[(comma + 1)..];
        var firstAction = LookupAction(first, out var act);
        if (firstAction == ActionLookup.Unknown)
        {
            if (!LookupFilter(first, out var f))
            {
                return RuleSetupResult.BadKeyword;
            }
            filter = f;
        }
        else if (firstAction == ActionLookup.Possible)
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
            switch (LookupAction(second, out act))
            {
                case ActionLookup.Possible:
                    return RuleSetupResult.Possible;
                case ActionLookup.Unknown:
                    return RuleSetupResult.BadKeyword;
            }
            _action = act;
        }
        if (filter == AuditConstants.FilterUnset || _action == -1)
        {
            return RuleSetupResult.BadKeyword;
        }
        return RuleSetupResult.Ok;
    }

    private bool LookupFilter(string s, out int filter)
    {
        filter = AuditLookups.ListNumber(s);
        if (filter == (int)AuditFilterList.Exclude)
        {
            _exclude = true;
        }
        return filter >= 0;
    }

    private static ActionLookup LookupAction(string s, out int action)
    {
        action = -1;
        switch (s)
        {
            case "always":
                action = AuditConstants.Always;
                return ActionLookup.Found;
            case "never":
                action = AuditConstants.Never;
                return ActionLookup.Found;
            case "possible":
                return ActionLookup.Possible;
            default:
                return ActionLookup.Unknown;
        }
    }

    private OptionOutcome FieldOption(string arg, RuleToken token, OptionOutcome retval)
    {
        AuditFilterList flags;
        if (RuleList is { } list)
        {
            flags = list;
        }
        else if (_getopt.Optind >= _count || !arg.Contains("arch=", StringComparison.Ordinal) || _getopt.Arg(_getopt.Optind).Text != "-t")
        {
            _report.Fail(RuleDiagnosticCodes.OptionConflict, token, "-F must come after the -a/-A/-d (or -w) that starts the rule",
                "List must be given before field");
            return OptionOutcome.Error;
        }
        else
        {
            flags = AuditFilterList.Unset;
        }

        if (arg.StartsWith("key=", StringComparison.Ordinal))
        {
            var keyToken = new RuleToken(arg[4..], token.Column + 4, token.Length - 4);
            return AddKey(arg[4..], keyToken) ? retval : OptionOutcome.Error;
        }
        if (!FieldPairs.Add(arg, flags, token, isFinalKey: false))
        {
            return OptionOutcome.Error;
        }
        var last = _rule.Fields[^1];
        if (last.Type == AuditField.Perm)
        {
            _libaudit.PermAdded = true;
        }
        if (last.Type == AuditField.Exe)
        {
            _libaudit.ExeAdded = true;
        }
        return retval;
    }

    private bool AddKey(string value, RuleToken token)
    {
        var length = Encoding.UTF8.GetByteCount(value);
        var current = Encoding.UTF8.GetByteCount(_key);
        if (length + current + (_key.Length > 0 ? 1 : 0) > AuditConstants.MaxKeyLength)
        {
            _report.Fail(RuleDiagnosticCodes.KeyTooLong, token,
                $"the keys of a rule add up to {length + current + (_key.Length > 0 ? 1 : 0)} bytes; the kernel allows {AuditConstants.MaxKeyLength} " +
                "(several keys count together, plus one separator each)", "key option exceeds size limit");
            return false;
        }
        if (value.Contains(AuditConstants.KeySeparator))
        {
            _report.Warn(RuleDiagnosticCodes.KeyCharacter, token, "the key contains byte 0x01, which auditctl uses to separate keys", $"key {value} has illegal character");
        }
        if (value.Length > 0)
        {
            _keys.Add(value);
        }
        if (value.Length > 0 && (value[0] == '"' || value[0] == '\''))
        {
            _report.Info(RuleDiagnosticCodes.LiteralQuotes, token, $"the quotes are part of the key ({value}): auditctl does not remove quotes in rules files");
        }
        _key = _key.Length > 0 ? _key + AuditConstants.KeySeparator + value : value;
        return true;
    }

    private OptionOutcome SetupWatch(string path, RuleToken token)
    {
        if (!CheckPath(path, token))
        {
            return OptionOutcome.Error;
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
        var type = AuditField.Watch;
        // auditctl stat()s the path: a directory becomes a dir= (tree) watch. "/" is a directory on every node.
        if (_context.Environment?.GetPathKind(trimmed) == HostPathKind.Directory || trimmed.Trim('/').Length == 0)
        {
            type = AuditField.Dir;
        }
        if (_rule.Fields.Count > 0)
        {
            _report.Fail(RuleDiagnosticCodes.OptionConflict, token, "-w/-W must come before any -F field of the line", "Rule is not empty");
            return OptionOutcome.Error;
        }
        _watchOption = trimmed;
        _rule.SetAllSyscalls();
        _rule.Fields.Add(new KernelField { Type = type, Op = AuditConstants.OpEqual, Text = trimmed });
        _rule.Fields.Add(new KernelField
        {
            Type = AuditField.Perm,
            Op = AuditConstants.OpEqual,
            Value = (uint)AuditPermissions.All,
        });
        _libaudit.PermAdded = true;
        return OptionOutcome.Rule;
    }

    private bool CheckPath(string path, RuleToken token)
    {
        if (Encoding.UTF8.GetByteCount(path) >= AuditConstants.PathMax)
        {
            _report.Fail(RuleDiagnosticCodes.PathTooLong, token, $"the watched path is longer than {AuditConstants.PathMax - 1} bytes",
                "The path passed for the watch is too big");
            return false;
        }
        if (!path.StartsWith('/'))
        {
            var hint = path.StartsWith('"') || path.StartsWith('\'') ? " (quotes are literal in rules files; escape a space as '\\ ')"
                : path.StartsWith('\t') ? " (a TAB is part of the word; separate words with spaces)"
                : string.Empty;
            _report.Fail(RuleDiagnosticCodes.RelativePath, token, $"the watched path '{path}' must be absolute (start with '/'){hint}",
                "The path must start with '/'");
            return false;
        }
        var baseName = BaseName(path);
        if (Encoding.UTF8.GetByteCount(baseName) > AuditConstants.NameMax)
        {
            _report.Fail(RuleDiagnosticCodes.PathTooLong, token, $"the last part of the watched path is longer than {AuditConstants.NameMax} bytes",
                "The base name of the path is too big");
            return false;
        }
        if (path.Contains("..", StringComparison.Ordinal))
        {
            _report.Warn(RuleDiagnosticCodes.PathNotation, token, "'..' is not resolved: the kernel watches the path as written",
                "Warning - relative path notation is not supported");
        }
        if (path.Contains('*') || path.Contains('?'))
        {
            _report.Warn(RuleDiagnosticCodes.PathNotation, token, "wildcards are not supported: '*' and '?' are taken literally",
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

    private OptionOutcome SetupPermissions(string opt, RuleToken token)
    {
        if (PermissionLetters.IsTooLong(opt))
        {
            _report.Fail(RuleDiagnosticCodes.BadPermission, token, $"-p {opt}: permissions are at most the four letters r, w, x, a", $"permission {opt} is too long");
            return OptionOutcome.Error;
        }
        if (!PermissionLetters.TryParse(opt, out var permissions, out var invalid))
        {
            _report.Fail(RuleDiagnosticCodes.BadPermission, token, $"-p {opt}: '{invalid}' is not a permission; use r (read), w (write), x (execute), a (attribute change)",
                $"Permission {invalid} isn't supported");
            return OptionOutcome.Error;
        }
        var value = (uint)permissions;
        if (_rule.Fields.Count < 1)
        {
            _report.Fail(RuleDiagnosticCodes.PermissionsWithoutWatch, token, "-p must come after the path=/dir= field (or -w) it applies to",
                "Permissions should be preceeded by other fields");
            return OptionOutcome.Error;
        }
        var done = false;
        foreach (var f in _rule.Fields)
        {
            if (f.Type == AuditField.Perm)
            {
                f.Value = value;
                done = true;
            }
        }
        if (!done)
        {
            if (_rule.Fields.Count >= AuditConstants.MaxFields - 1)
            {
                _report.Fail(RuleDiagnosticCodes.TooManyFields, token, $"a rule holds at most {AuditConstants.MaxFields - 1} fields", "Too many fields when adding permissions");
                return OptionOutcome.Error;
            }
            _rule.Fields.Add(new KernelField { Type = AuditField.Perm, Op = AuditConstants.OpEqual, Value = value });
        }
        _libaudit.PermAdded = true;
        return OptionOutcome.Rule;
    }
}
