using System.Text;

using AksAuditd.Core.Audit;

namespace AksAuditd.Core.Rules.Auditctl;

/// <summary>
/// The kernel's checks when a rule arrives (kernel/auditfilter.c: audit_field_valid, audit_data_to_entry,
/// audit_to_watch, audit_make_tree, audit_alloc_mark), in the kernel's order, and the node-dependent lookups of
/// audit_add_rule (the parent directory of a watch, the directory of a dir= tree). Refusals are reported as
/// auditctl reports them: "Error sending add rule data request (reason)".
/// </summary>
internal sealed class KernelAcceptance(AuditctlLine line, KernelRule rule, LineContext context)
{
    private const string InvalidArgument = "Invalid argument";
    private const string NoSuchFile = "No such file or directory";
    private const string NotADirectory = "Not a directory";

    private string Request => line.Request == KernelRequest.Delete ? "delete" : "add";

    public void Check()
    {
        var watchSet = false;
        var treeSet = false;
        var inodeSet = false;
        var keySet = false;
        var exeSet = false;
        // Columns are only needed to report a refusal; most rules are accepted.
        int[]? columns = null;
        int Column(int index) => (columns ??= FieldColumns())[index];
        for (var i = 0; i < rule.Fields.Count; i++)
        {
            var f = rule.Fields[i];
            var type = f.Type;
            var value = f.Value;
            var name = AuditLookups.FieldName((int)type) ?? ((int)type).ToString(System.Globalization.CultureInfo.InvariantCulture);
            var op = AuditConstants.OperatorSymbol(f.Op);

            // Legacy "auid is unset" test: the kernel turns auid=-1 into loginuid_set=0.
            if (type == AuditField.LoginUid && value == uint.MaxValue && !f.IsUnresolvedName)
            {
                type = AuditField.LoginUidSet;
                value = 0;
            }

            if (type == AuditField.FsType && rule.List != AuditFilterList.Filesystem)
            {
                Refuse(Column(i), RuleDiagnosticCodes.FieldNotAllowedOnList, "fstype only works on the filesystem list", InvalidArgument);
                return;
            }
            if (rule.List == AuditFilterList.Filesystem && type is not (AuditField.FsType or AuditField.FilterKey))
            {
                Refuse(Column(i), RuleDiagnosticCodes.FieldNotAllowedOnList, $"the filesystem list only takes fstype (and key) fields, not {name}", InvalidArgument);
                return;
            }

            var bitOps = f.Op is AuditConstants.OpBitMask or AuditConstants.OpBitTest;
            var equalityOnly = f.Op is AuditConstants.OpEqual or AuditConstants.OpNotEqual;
            switch (type)
            {
                case >= AuditField.Arg0 and <= AuditField.Arg3:
                case AuditField.Pers:
                case AuditField.DevMinor:
                    break;
                case AuditField.Uid or AuditField.Euid or AuditField.Suid or AuditField.Fsuid or AuditField.LoginUid
                    or AuditField.ObjUid or AuditField.Gid or AuditField.Egid or AuditField.Sgid or AuditField.Fsgid
                    or AuditField.ObjGid or AuditField.Pid or AuditField.MsgType or AuditField.Ppid or AuditField.DevMajor
                    or AuditField.Exit or AuditField.Success or AuditField.Inode or AuditField.SessionId or AuditField.SubjSen
                    or AuditField.SubjClr or AuditField.ObjLevLow or AuditField.ObjLevHigh or AuditField.SaddrFam:
                    if (bitOps)
                    {
                        Refuse(Column(i), RuleDiagnosticCodes.OperatorNotAllowed, $"-F {name}{op}: the & and &= operators only work on a0-a3, pers and devminor", InvalidArgument);
                        return;
                    }
                    break;
                case AuditField.LoginUidSet:
                    if (!equalityOnly)
                    {
                        Refuse(Column(i), RuleDiagnosticCodes.OperatorNotAllowed, $"-F auid{op}-1: 'unset' (-1, 4294967295) can only be tested with = or != (auid=unset, auid!=unset)", InvalidArgument);
                        return;
                    }
                    break;
                case AuditField.SubjUser or AuditField.SubjRole or AuditField.SubjType or AuditField.ObjUser or AuditField.ObjRole
                    or AuditField.ObjType or AuditField.Watch or AuditField.Dir or AuditField.FilterKey or AuditField.Arch
                    or AuditField.FsType or AuditField.Perm or AuditField.FileType or AuditField.FieldCompare or AuditField.Exe:
                    if (!equalityOnly)
                    {
                        Refuse(Column(i), RuleDiagnosticCodes.OperatorNotAllowed, $"-F {name}{op}: {name} only takes the = and != operators", InvalidArgument);
                        return;
                    }
                    break;
                default:
                    Refuse(Column(i), RuleDiagnosticCodes.UnknownField, $"the kernel does not know field {name}", InvalidArgument);
                    return;
            }

            if (type == AuditField.FileType && (value & ~AuditConstants.SfmtMask) != 0)
            {
                Refuse(Column(i), RuleDiagnosticCodes.UnknownFileType, "-F filetype: not a file type", InvalidArgument);
                return;
            }

            switch (type)
            {
                case AuditField.Uid or AuditField.Euid or AuditField.Suid or AuditField.Fsuid or AuditField.LoginUid or AuditField.ObjUid:
                    if (!f.IsUnresolvedName && value == uint.MaxValue)
                    {
                        Refuse(Column(i), RuleDiagnosticCodes.InvalidId, $"-F {name}: -1 (4294967295, 'unset') is not a valid user id; only auid can be tested for 'unset'", InvalidArgument);
                        return;
                    }
                    break;
                case AuditField.Gid or AuditField.Egid or AuditField.Sgid or AuditField.Fsgid or AuditField.ObjGid:
                    if (!f.IsUnresolvedName && value == uint.MaxValue)
                    {
                        Refuse(Column(i), RuleDiagnosticCodes.InvalidId, $"-F {name}: 4294967295 (-1) is not a valid group id", InvalidArgument);
                        return;
                    }
                    break;
                case AuditField.Watch:
                    {
                        var path = f.Text ?? string.Empty;
                        if (!path.StartsWith('/') || path.EndsWith('/') || rule.List != AuditFilterList.Exit || f.Op != AuditConstants.OpEqual
                            || inodeSet || watchSet || treeSet)
                        {
                            Refuse(Column(i), WatchCode("path", path, f.Op), WatchProblem("path", path, f.Op, inodeSet, watchSet || treeSet), InvalidArgument);
                            return;
                        }
                        watchSet = true;
                    }
                    break;
                case AuditField.Dir:
                    {
                        var path = f.Text ?? string.Empty;
                        if (!path.StartsWith('/') || rule.List != AuditFilterList.Exit || f.Op != AuditConstants.OpEqual
                            || inodeSet || watchSet || treeSet)
                        {
                            Refuse(Column(i), WatchCode("dir", path, f.Op), WatchProblem("dir", path, f.Op, inodeSet, watchSet || treeSet), InvalidArgument);
                            return;
                        }
                        treeSet = true;
                    }
                    break;
                case AuditField.Inode:
                    if (watchSet || treeSet)
                    {
                        Refuse(Column(i), RuleDiagnosticCodes.ConflictingFields, "-F inode cannot be combined with path= or dir= in one rule", InvalidArgument);
                        return;
                    }
                    inodeSet = true;
                    break;
                case AuditField.FilterKey:
                    if (keySet)
                    {
                        Refuse(Column(i), RuleDiagnosticCodes.ConflictingFields, "a rule has one key field; give several keys with -k (or key=) instead of key!= plus a key", InvalidArgument);
                        return;
                    }
                    keySet = true;
                    break;
                case AuditField.Exe:
                    {
                        var path = f.Text ?? string.Empty;
                        if (exeSet)
                        {
                            Refuse(Column(i), RuleDiagnosticCodes.ConflictingFields, "a rule can hold only one exe= field", InvalidArgument);
                            return;
                        }
                        if (!path.StartsWith('/') || path.EndsWith('/'))
                        {
                            Refuse(Column(i), RuleDiagnosticCodes.RelativePath, $"-F exe={path}: the executable must be an absolute path to a file (start with '/', not end with '/')", InvalidArgument);
                            return;
                        }
                        if (!ParentExists(path, Column(i), "exe"))
                        {
                            return;
                        }
                        exeSet = true;
                    }
                    break;
            }
        }

        if (line.Request != KernelRequest.Add)
        {
            return;
        }
        // audit_add_rule: the duplicate check is a whole-file matter (RuleValidator); then the node's paths.
        var env = context.Environment;
        if (env is null)
        {
            return;
        }
        for (var i = 0; i < rule.Fields.Count; i++)
        {
            var f = rule.Fields[i];
            if (f.Type == AuditField.Watch && !ParentExists(f.Text!, Column(i), line.IsWatchOption ? "watch" : "path"))
            {
                return;
            }
            if (f.Type == AuditField.Dir && env.GetPathKind(f.Text!) == HostPathKind.Missing)
            {
                Refuse(Column(i), RuleDiagnosticCodes.PathMissingOnNode, $"the directory {f.Text} does not exist on the node ({env.Description}); the kernel refuses the rule", NoSuchFile);
                return;
            }
        }
    }

    private static string WatchProblem(string name, string path, uint op, bool inode, bool second)
    {
        if (!path.StartsWith('/'))
        {
            return $"-F {name}={path}: the path must be absolute (start with '/')";
        }
        if (name == "path" && path.EndsWith('/'))
        {
            return $"-F path={path}: a path= must not end with '/'; watch a directory with dir={path} or -w {path}";
        }
        if (op != AuditConstants.OpEqual)
        {
            return $"-F {name}{AuditConstants.OperatorSymbol(op)}: {name} only takes the = operator";
        }
        if (inode)
        {
            return $"-F {name} cannot be combined with inode= in one rule";
        }
        if (second)
        {
            return "a rule can hold only one path= or dir= field";
        }
        return $"-F {name} only works on the exit list";
    }

    private bool ParentExists(string path, int column, string what)
    {
        var env = context.Environment;
        if (env is null)
        {
            return true;
        }
        var slash = path.LastIndexOf('/');
        var parent = slash <= 0 ? "/" : path[..slash];
        var kind = env.GetPathKind(parent);
        if (kind == HostPathKind.Directory)
        {
            return true;
        }
        Refuse(column, RuleDiagnosticCodes.PathMissingOnNode, kind == HostPathKind.Missing
                ? $"the directory {parent} of the {what} {path} does not exist on the node ({env.Description}); the kernel refuses the rule"
                : $"{parent} is not a directory on the node ({env.Description}); the kernel refuses the {what} {path}",
            kind == HostPathKind.Missing ? NoSuchFile : NotADirectory);
        return false;
    }

    private void Refuse(int column, string code, string message, string reason) =>
        line.Report.Fail(code, column, message, $"Error sending {Request} rule data request ({reason})");

    private static string WatchCode(string name, string path, uint op) =>
        !path.StartsWith('/') ? RuleDiagnosticCodes.RelativePath
        : name == "path" && path.EndsWith('/') ? RuleDiagnosticCodes.TrailingSlash
        : op != AuditConstants.OpEqual ? RuleDiagnosticCodes.OperatorNotAllowed
        : RuleDiagnosticCodes.ConflictingFields;

    /// <summary>The column of each kernel field's -F/-C token (or -w/-p/-k for the fields those options make).</summary>
    private int[] FieldColumns()
    {
        var columns = new int[rule.Fields.Count];
        var fieldOptions = line.Options.Where(o => o.Name is "-F" or "-C" or "-w" or "-W" or "-p" && !(o.Value?.StartsWith("key=", StringComparison.Ordinal) ?? false)).ToList();
        var keyOption = line.Options.FirstOrDefault(o => o.Name == "-k" || (o.Name == "-F" && (o.Value?.StartsWith("key=", StringComparison.Ordinal) ?? false)));
        var next = 0;
        for (var i = 0; i < rule.Fields.Count; i++)
        {
            var f = rule.Fields[i];
            if (f.Type == AuditField.FilterKey && keyOption is not null && i == rule.Fields.Count - 1)
            {
                columns[i] = (keyOption.ValueToken ?? keyOption.OptionToken).Column;
                continue;
            }
            if (next < fieldOptions.Count)
            {
                var o = fieldOptions[next];
                columns[i] = (o.ValueToken ?? o.OptionToken).Column;
                // -w makes two fields (path and default perm); a later -p updates that perm instead of adding one.
                if (!(o.Name is "-w" or "-W" && f.Type is AuditField.Watch or AuditField.Dir))
                {
                    next++;
                }
            }
            else
            {
                columns[i] = 1;
            }
        }
        return columns;
    }
}
