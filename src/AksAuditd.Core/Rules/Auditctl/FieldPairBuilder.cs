using System.Text;
using System.Text.RegularExpressions;

using AksAuditd.Core.Audit;

namespace AksAuditd.Core.Rules.Auditctl;

/// <summary>
/// libaudit's audit_rule_fieldpair_data: one -F name=value checked against the rule's list and added to the rule.
/// The checks common to every field come first, in libaudit's order; then the field's value kind picks one parser
/// of its own (ids, exit codes, message types, strings, arch, permissions, file types, file system types, syscall
/// arguments, session ids, address families, plain numbers).
/// </summary>
internal sealed partial class FieldPairBuilder
{
    private static readonly (string Symbol, uint Op)[] OperatorSearch =
    [
        ("!=", AuditConstants.OpNotEqual), (">=", AuditConstants.OpGreaterOrEqual), ("<=", AuditConstants.OpLessOrEqual),
        ("&=", AuditConstants.OpBitTest), ("=", AuditConstants.OpEqual), (">", AuditConstants.OpGreaterThan),
        ("<", AuditConstants.OpLessThan), ("&", AuditConstants.OpBitMask),
    ];

    private readonly LineContext _context;
    private readonly KernelRule _rule;
    private readonly LibauditGlobals _globals;
    private readonly LineFindings _report;
    private readonly List<AuditRuleField> _fields;
    private readonly List<string> _keys;

    public FieldPairBuilder(LineContext context, KernelRule rule, LibauditGlobals globals, LineFindings report,
        List<AuditRuleField> fields, List<string> keys)
    {
        _context = context;
        _rule = rule;
        _globals = globals;
        _report = report;
        _fields = fields;
        _keys = keys;
    }

    /// <summary>The first path= or dir= value.</summary>
    public string? WatchPath { get; private set; }

    /// <summary>The -F arch value as written (b64, x86_64, ...).</summary>
    public string? ArchWritten { get; private set; }

    /// <summary>One field pair as written, split at its operator.</summary>
    private readonly record struct Pair(
        string Text, string Name, string CanonicalName, string Value, AuditField Field, uint Op, string OpSymbol, AuditFilterList Flags, int Column, int ValueColumn);

    /// <summary>
    /// Adds the field to the rule; false after reporting why auditctl refuses it. <paramref name="isFinalKey"/> marks
    /// the key auditctl adds at the end of the line from its -k and -F key= words, which are already among the keys.
    /// </summary>
    public bool Add(string text, AuditFilterList flags, RuleToken token, bool isFinalKey)
    {
        var column = token.Column;
        if (_rule.Fields.Count >= AuditConstants.MaxFields - 1)
        {
            return Refuse(RuleDiagnosticCodes.TooManyFields, column, $"a rule holds at most {AuditConstants.MaxFields - 1} fields",
                $"Too many fields in rule: {text}");
        }
        var opIndex = -1;
        var opLength = 0;
        uint op = 0;
        var opSymbol = string.Empty;
        foreach (var (symbol, value) in OperatorSearch)
        {
            var at = text.IndexOf(symbol, StringComparison.Ordinal);
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
            return Refuse(RuleDiagnosticCodes.MalformedField, column, $"-F {text}: missing operator; write name=value (or !=, <, >, <=, >=, &, &=)",
                $"-F missing operation for {text}");
        }
        var name = text[..opIndex];
        var v = text[(opIndex + opLength)..];
        var valueColumn = column + opIndex + opLength;
        if (name.Length == 0)
        {
            return Refuse(RuleDiagnosticCodes.MalformedField, column, $"-F {text}: missing field name before the operator",
                "-F missing field name before operator for ");
        }
        if (v.Length == 0)
        {
            return Refuse(RuleDiagnosticCodes.MissingValue, valueColumn, $"-F {text}: missing value after the operator",
                $"-F missing value after operation for {name}");
        }
        var number = AuditLookups.FieldNumber(name);
        if (number < 0)
        {
            return Refuse(RuleDiagnosticCodes.UnknownField, column, $"-F {text}: '{name}' is not a field auditctl knows{SuggestField(name)}",
                $"-F unknown field: {name}");
        }
        var field = (AuditField)number;
        var canonicalName = AuditLookups.FieldName(number) ?? name;

        if (flags == AuditFilterList.Exclude)
        {
            if (field is not (AuditField.Pid or AuditField.Uid or AuditField.Gid or AuditField.LoginUid or AuditField.MsgType
                or AuditField.SubjUser or AuditField.SubjRole or AuditField.SubjType or AuditField.SubjSen or AuditField.SubjClr
                or AuditField.Exe))
            {
                return Refuse(RuleDiagnosticCodes.FieldNotAllowedOnList, column,
                    $"-F {canonicalName} cannot be used on the exclude list, which only takes msgtype, pid, uid, gid, auid, subj_* and exe",
                    "Only msgtype, *uid, *gid, pid, and subj* fields can be used with exclude filter");
            }
        }

        var pair = new Pair(text, name, canonicalName, v, field, op, opSymbol, flags, column, valueColumn);
        var kf = new KernelField { Type = field, Op = op };
        var parsed = field switch
        {
            AuditField.Uid or AuditField.Euid or AuditField.Suid or AuditField.Fsuid or AuditField.LoginUid
                or AuditField.ObjUid => ParseUserId(pair, kf),
            AuditField.Gid or AuditField.Egid or AuditField.Sgid or AuditField.Fsgid or AuditField.ObjGid => ParseGroupId(pair, kf),
            AuditField.Exit => ParseExit(pair, kf),
            AuditField.MsgType => ParseMessageType(pair, kf),
            AuditField.ObjUser or AuditField.ObjRole or AuditField.ObjType or AuditField.ObjLevLow or AuditField.ObjLevHigh
                or AuditField.Watch or AuditField.Dir or AuditField.SubjUser or AuditField.SubjRole or AuditField.SubjType
                or AuditField.SubjSen or AuditField.SubjClr or AuditField.FilterKey or AuditField.Exe => ParseString(pair, kf),
            AuditField.Arch => ParseArch(pair, kf),
            AuditField.Perm => ParsePermissions(pair, kf),
            AuditField.FileType => ParseFileType(pair, kf),
            AuditField.FsType => ParseFileSystemType(pair, kf),
            >= AuditField.Arg0 and <= AuditField.Arg3 => ParseSyscallArgument(pair, kf),
            AuditField.SessionId => ParseSessionId(pair, kf),
            AuditField.SaddrFam => ParseAddressFamily(pair, kf),
            _ => ParseNumber(pair, kf),
        };
        if (!parsed)
        {
            return false;
        }

        _rule.Fields.Add(kf);
        if (field == AuditField.FilterKey)
        {
            if (!isFinalKey)
            {
                _keys.Add(v);
            }
        }
        else
        {
            _fields.Add(new AuditRuleField(canonicalName, name, opSymbol, v, false, token));
            if (field is AuditField.Watch or AuditField.Dir)
            {
                WatchPath ??= v;
            }
        }
        return true;
    }

    private bool ParseUserId(Pair p, KernelField kf)
    {
        var v = p.Value;
        if (CNumber.StartsWithDigit(v))
        {
            var parsed = CNumber.StrToUL(v);
            kf.Value = unchecked((uint)parsed.Bits);
            NotePartialNumber(p, parsed);
        }
        else if (IsNegativeNumber(v))
        {
            kf.Value = unchecked((uint)CNumber.StrToL(v).Bits);
        }
        else if (v == "unset")
        {
            kf.Value = uint.MaxValue;
        }
        else
        {
            return ResolveAccount(v, isUser: true, kf, p.ValueColumn);
        }
        return true;
    }

    private bool ParseGroupId(Pair p, KernelField kf)
    {
        var v = p.Value;
        if (CNumber.StartsWithDigit(v))
        {
            var parsed = CNumber.StrToL(v);
            kf.Value = unchecked((uint)parsed.Bits);
            NotePartialNumber(p, parsed);
            return true;
        }
        return ResolveAccount(v, isUser: false, kf, p.ValueColumn);
    }

    private bool ParseExit(Pair p, KernelField kf)
    {
        if (p.Flags != AuditFilterList.Exit)
        {
            return ExitOnly(p);
        }
        var v = p.Value;
        if (CNumber.StartsWithDigit(v) || IsNegativeNumber(v))
        {
            var parsed = CNumber.StrToL(v);
            kf.Value = unchecked((uint)parsed.Bits);
            _report.NotePartialNumber(v, parsed, new RuleToken(v, p.ValueColumn, v.Length), "-F exit");
            return true;
        }
        var errno = AuditLookups.ErrnoNumber(v);
        if (errno == 0)
        {
            return Refuse(RuleDiagnosticCodes.UnknownErrno, p.ValueColumn,
                $"-F {p.Text}: '{v}' is not an errno name; write a negative errno such as -EPERM or -EACCES, or a number",
                $"-F unknown errno - {p.Name}");
        }
        kf.Value = unchecked((uint)errno);
        if (errno > 0)
        {
            _report.Warn(RuleDiagnosticCodes.UnknownErrno, p.ValueColumn,
                $"-F exit={v} matches a return value of +{errno}; failed syscalls return negative errors, so you probably mean exit=-{v}");
        }
        return true;
    }

    private bool ParseMessageType(Pair p, KernelField kf)
    {
        if (p.Flags != AuditFilterList.Exclude && p.Flags != AuditFilterList.User)
        {
            return Refuse(RuleDiagnosticCodes.FieldNotAllowedOnList, p.Column,
                "-F msgtype only works on the exclude and user lists", "msgtype field can only be used with exclude or user filter list");
        }
        var v = p.Value;
        if (CNumber.StartsWithDigit(v))
        {
            kf.Value = unchecked((uint)CNumber.StrToL(v).Bits);
            return true;
        }
        var type = AuditLookups.MessageTypeNumber(v);
        if (type <= 0)
        {
            return Refuse(RuleDiagnosticCodes.UnknownMessageType, p.ValueColumn,
                $"-F {p.Text}: '{v}' is not a message type auditd 3.0.9 knows (for example SYSCALL, EXECVE, USER_LOGIN, or a number)",
                $"-F unknown message type - {p.Name}");
        }
        kf.Value = unchecked((uint)type);
        return true;
    }

    private bool ParseString(Pair p, KernelField kf)
    {
        var field = p.Field;
        if (field is AuditField.ObjUser or AuditField.ObjRole or AuditField.ObjType or AuditField.ObjLevLow
            or AuditField.ObjLevHigh or AuditField.Watch or AuditField.Dir)
        {
            if (p.Flags != AuditFilterList.Exit)
            {
                return ExitOnly(p);
            }
            if (field is AuditField.Watch or AuditField.Dir)
            {
                _globals.PermAdded = true;
            }
        }
        if (field == AuditField.Exe)
        {
            if (p.Op is not (AuditConstants.OpEqual or AuditConstants.OpNotEqual))
            {
                return EqualOrNotOnly(p);
            }
            _globals.ExeAdded = true;
        }
        if (field == AuditField.FilterKey && !_globals.HasKeyableSubject)
        {
            return Refuse(RuleDiagnosticCodes.KeyWithoutRule, p.Column,
                "a key needs a watch, syscalls (-S), or a path=/dir=/exe=/perm=/fstype= field before it; the task, user and exclude lists take no keys",
                "Key field needs a watch, syscall or exe path given prior to it");
        }
        var length = Encoding.UTF8.GetByteCount(p.Value);
        if ((field == AuditField.FilterKey && length > AuditConstants.MaxKeyLength) || length > AuditConstants.PathMax)
        {
            return Refuse(field == AuditField.FilterKey ? RuleDiagnosticCodes.KeyTooLong : RuleDiagnosticCodes.ValueTooLong, p.ValueColumn,
                $"-F {p.Name}: the value is {length} bytes; the limit is {(field == AuditField.FilterKey ? AuditConstants.MaxKeyLength : AuditConstants.PathMax)}",
                "String value too long");
        }
        kf.Text = p.Value;
        return true;
    }

    private bool ParseArch(Pair p, KernelField kf)
    {
        if (_globals.SyscallAdded)
        {
            return Refuse(RuleDiagnosticCodes.ArchAfterSyscall, p.Column,
                "-F arch must come before -S: auditctl looks the syscall names up in the arch's table", $"{p.Name} must be before -S");
        }
        if (p.Op is not (AuditConstants.OpEqual or AuditConstants.OpNotEqual))
        {
            return EqualOrNotOnly(p);
        }
        var v = p.Value;
        uint elf;
        if (CNumber.StartsWithDigit(v))
        {
            var parsed = CNumber.StrToUL(v);
            elf = unchecked((uint)parsed.Bits);
            if (parsed.Overflow || AuditLookups.ElfToMachine(elf) < 0)
            {
                return UnknownArch(p);
            }
        }
        else
        {
            var machine = AuditLookups.DetermineMachine(v, _context.HostMachine);
            elf = machine < 0 ? 0 : AuditLookups.MachineToElf(machine);
            if (elf == 0)
            {
                return UnknownArch(p);
            }
        }
        _globals.Elf = elf;
        kf.Value = elf;
        ArchWritten ??= v;
        return true;
    }

    private bool ParsePermissions(Pair p, KernelField kf)
    {
        if (p.Flags != AuditFilterList.Exit)
        {
            return ExitOnly(p);
        }
        if (p.Op != AuditConstants.OpEqual)
        {
            return Refuse(RuleDiagnosticCodes.OperatorNotAllowed, p.Column, $"-F {p.Text}: perm only takes the = operator",
                $"{p.Name} only takes = operator");
        }
        if (PermissionLetters.IsTooLong(p.Value))
        {
            return Refuse(RuleDiagnosticCodes.BadPermission, p.ValueColumn, $"-F {p.Text}: permissions are at most the four letters r, w, x, a",
                "String value too long");
        }
        if (!PermissionLetters.TryParse(p.Value, out var permissions, out var invalid))
        {
            return Refuse(RuleDiagnosticCodes.BadPermission, p.ValueColumn,
                $"-F {p.Text}: '{invalid}' is not a permission; use r (read), w (write), x (execute), a (attribute change)",
                "Permission can only contain  'rwxa'");
        }
        kf.Value = (uint)permissions;
        return true;
    }

    private bool ParseFileType(Pair p, KernelField kf)
    {
        if (p.Flags != AuditFilterList.Exit)
        {
            return ExitOnly(p);
        }
        var type = AuditLookups.FileTypeNumber(p.Value);
        if (type < 0)
        {
            return Refuse(RuleDiagnosticCodes.UnknownFileType, p.ValueColumn,
                $"-F {p.Text}: '{p.Value}' is not a file type; use one of {string.Join(", ", LibauditTables.FileTypes.Select(t => t.Name))}",
                $"-F unknown file type -  {p.Name}");
        }
        kf.Value = (uint)type;
        return true;
    }

    private bool ParseFileSystemType(Pair p, KernelField kf)
    {
        if (p.Flags != AuditFilterList.Filesystem)
        {
            return Refuse(RuleDiagnosticCodes.FieldNotAllowedOnList, p.Column, "-F fstype only works on the filesystem list (-a never,filesystem)",
                $"{p.Name} field is not valid for the filter");
        }
        if (p.Op is not (AuditConstants.OpEqual or AuditConstants.OpNotEqual))
        {
            return EqualOrNotOnly(p);
        }
        var v = p.Value;
        if (CNumber.StartsWithDigit(v))
        {
            kf.Value = unchecked((uint)CNumber.StrToUL(v).Bits);
        }
        else
        {
            kf.Value = AuditLookups.TryFsTypeNumber(v, out var magic) ? magic : uint.MaxValue;
        }
        if (kf.Value == uint.MaxValue)
        {
            return Refuse(RuleDiagnosticCodes.UnknownFileSystemType, p.ValueColumn,
                $"-F {p.Text}: auditctl 3.0.9 only knows the file system types {string.Join(" and ", LibauditTables.FileSystemTypes.Select(t => t.Name))} (or a magic number)",
                $"file system type is unknown for field: {p.Name}");
        }
        _globals.FilterFsAdded = true;
        return true;
    }

    private bool ParseSyscallArgument(Pair p, KernelField kf)
    {
        var v = p.Value;
        if (CNumber.StartsWithDigit(v))
        {
            var parsed = CNumber.StrToUL(v);
            kf.Value = unchecked((uint)parsed.Bits);
            NotePartialNumber(p, parsed);
            if (parsed.Bits > uint.MaxValue && !parsed.Overflow)
            {
                _report.Warn(RuleDiagnosticCodes.ValueOutOfRange, p.ValueColumn,
                    $"-F {p.Text}: rule values are 32 bits; the kernel compares against {kf.Value}");
            }
            return true;
        }
        if (IsNegativeNumber(v))
        {
            kf.Value = unchecked((uint)CNumber.StrToL(v).Bits);
            return true;
        }
        return NotANumber(p);
    }

    private bool ParseSessionId(Pair p, KernelField kf)
    {
        if (p.Flags != AuditFilterList.Exclude && p.Flags != AuditFilterList.User && p.Flags != AuditFilterList.Exit)
        {
            return Refuse(RuleDiagnosticCodes.FieldNotAllowedOnList, p.Column, "-F sessionid only works on the exit, user and exclude lists",
                $"{p.Name} must be used with exclude, user, or exit filter");
        }
        var v = p.Value;
        if (CNumber.StartsWithDigit(v))
        {
            kf.Value = unchecked((uint)CNumber.StrToUL(v).Bits);
        }
        else if (IsNegativeNumber(v))
        {
            kf.Value = unchecked((uint)CNumber.StrToL(v).Bits);
        }
        else if (v == "unset")
        {
            kf.Value = uint.MaxValue;
        }
        else
        {
            _report.Warn(RuleDiagnosticCodes.NotANumber, p.ValueColumn, $"-F {p.Text}: '{v}' is not a number or 'unset'; auditctl silently uses 0");
        }
        return true;
    }

    private bool ParseAddressFamily(Pair p, KernelField kf)
    {
        var parsed = CNumber.StrToUL(p.Value);
        kf.Value = unchecked((uint)parsed.Bits);
        if (!CNumber.StartsWithDigit(p.Value))
        {
            _report.Warn(RuleDiagnosticCodes.NotANumber, p.ValueColumn, $"-F {p.Text}: '{p.Value}' is not a number; auditctl silently uses {kf.Value}");
        }
        if (kf.Value >= AuditConstants.AddressFamilyMax)
        {
            return Refuse(RuleDiagnosticCodes.ValueOutOfRange, p.ValueColumn,
                $"-F {p.Text}: address families go up to {AuditConstants.AddressFamilyMax - 1}", $"value is too large for field: {p.Name}");
        }
        return true;
    }

    private bool ParseNumber(Pair p, KernelField kf)
    {
        var field = p.Field;
        if (field is >= AuditField.DevMajor and <= AuditField.Inode or AuditField.Success && p.Flags != AuditFilterList.Exit)
        {
            return ExitOnly(p);
        }
        if (field == AuditField.Inode && p.Op is not (AuditConstants.OpEqual or AuditConstants.OpNotEqual))
        {
            return EqualOrNotOnly(p);
        }
        if (field == AuditField.Ppid && p.Flags != AuditFilterList.Exit)
        {
            return ExitOnly(p);
        }
        if (!CNumber.StartsWithDigit(p.Value))
        {
            return NotANumber(p);
        }
        var parsed = field == AuditField.Inode ? CNumber.StrToUL(p.Value) : CNumber.StrToL(p.Value);
        kf.Value = unchecked((uint)parsed.Bits);
        NotePartialNumber(p, parsed);
        return true;
    }

    /// <summary>A user or group name: resolved on the node when a host root is given, else left for auditctl to resolve.</summary>
    private bool ResolveAccount(string name, bool isUser, KernelField kf, int column)
    {
        var env = _context.Environment;
        var kind = isUser ? "user" : "group";
        if (env is null && !PlausibleAccountName().IsMatch(name))
        {
            return Refuse(RuleDiagnosticCodes.UnknownUserOrGroup, column,
                $"'{name}' is neither a number nor a {kind} name" + (name.StartsWith('=') ? " (one '=' is enough)" : name == "-1" ? "; groups have no -1/unset value" : string.Empty),
                $"Unknown {kind}: {name}");
        }
        if (env is null && !isUser && name == "unset")
        {
            return Refuse(RuleDiagnosticCodes.UnknownUserOrGroup, column, "'unset' only exists for user ids (auid=unset); a group id is always set",
                $"Unknown {kind}: {name}");
        }
        if (env is null)
        {
            kf.Text = name;
            kf.IsUnresolvedName = true;
            _report.Info(RuleDiagnosticCodes.NameResolvedOnNode, column,
                $"the {kind} name '{name}' is looked up on the node when the rules load; give a host root to check it, or use the numeric id");
            return true;
        }
        var found = isUser ? env.TryGetUserId(name, out var id) : env.TryGetGroupId(name, out id);
        if (!found)
        {
            return Refuse(RuleDiagnosticCodes.UnknownUserOrGroup, column, $"no {kind} '{name}' on the node ({env.Description}); auditctl refuses the rule",
                $"Unknown {kind}: {name}");
        }
        kf.Value = id;
        return true;
    }

    /// <summary>What useradd/groupadd accept (and what NSS sources use in practice): a name, not an expression.</summary>
    [GeneratedRegex(@"^[A-Za-z_][A-Za-z0-9_.-]*\$?$")]
    private static partial Regex PlausibleAccountName();

    private static bool IsNegativeNumber(string v) => v.Length >= 2 && v[0] == '-' && CNumber.IsDigit(v[1]);

    private void NotePartialNumber(Pair p, CNumber.Result parsed) =>
        _report.NotePartialNumber(p.Value, parsed, new RuleToken(p.Value, p.ValueColumn, p.Value.Length), "-F " + p.Name);

    private bool ExitOnly(Pair p) =>
        Refuse(RuleDiagnosticCodes.FieldNotAllowedOnList, p.Column, $"-F {p.CanonicalName} only works on the exit list (-a always,exit)",
            $"{p.Name} can only be used with exit filter list");

    private bool EqualOrNotOnly(Pair p) =>
        Refuse(RuleDiagnosticCodes.OperatorNotAllowed, p.Column, $"-F {p.CanonicalName}{p.OpSymbol}: {p.CanonicalName} only takes the = and != operators",
            $"{p.Name} only takes = or != operators");

    private bool NotANumber(Pair p) =>
        Refuse(RuleDiagnosticCodes.NotANumber, p.ValueColumn, $"-F {p.Text}: the value must be a number", $"-F value should be number for {p.Name}");

    private bool UnknownArch(Pair p) =>
        Refuse(RuleDiagnosticCodes.UnknownArch, p.ValueColumn,
            $"-F arch={p.Value}: not an arch auditctl knows on a {AuditLookups.MachineName(_context.HostMachine)} node; use b64, b32, or a machine name such as x86_64, i386, aarch64",
            $"{p.Name} elf mapping not found");

    private bool Refuse(string code, int column, string message, string? auditctl)
    {
        _report.Fail(code, column, message, auditctl);
        return false;
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
}
