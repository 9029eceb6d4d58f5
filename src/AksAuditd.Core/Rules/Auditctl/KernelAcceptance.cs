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
            var name = AuditLookups.FieldName(type) ?? type.ToString(System.Globalization.CultureInfo.InvariantCulture);
            var op = AuditConstants.OperatorSymbol(f.Op);

            // Legacy "auid is unset" test: the kernel turns auid=-1 into loginuid_set=0.
            if (type == AuditConstants.LoginUid && value == uint.MaxValue && !f.IsUnresolvedName)
            {
                type = AuditConstants.LoginUidSet;
                value = 0;
            }

            if (type == AuditConstants.FsType && rule.List != AuditConstants.FilterFs)
            {
                Refuse(Column(i), RuleDiagnosticCodes.FieldNotAllowedOnList, "fstype only works on the filesystem list", InvalidArgument);
                return;
            }
            if (rule.List == AuditConstants.FilterFs && type is not (AuditConstants.FsType or AuditConstants.FilterKey))
            {
                Refuse(Column(i), RuleDiagnosticCodes.FieldNotAllowedOnList, $"the filesystem list only takes fstype (and key) fields, not {name}", InvalidArgument);
                return;
            }

            var bitOps = f.Op is AuditConstants.OpBitMask or AuditConstants.OpBitTest;
            var equalityOnly = f.Op is AuditConstants.OpEqual or AuditConstants.OpNotEqual;
            switch (type)
            {
                case >= AuditConstants.Arg0 and <= AuditConstants.Arg3:
                case AuditConstants.Pers:
                case AuditConstants.DevMinor:
                    break;
                case AuditConstants.Uid or AuditConstants.Euid or AuditConstants.Suid or AuditConstants.Fsuid or AuditConstants.LoginUid
                    or AuditConstants.ObjUid or AuditConstants.Gid or AuditConstants.Egid or AuditConstants.Sgid or AuditConstants.Fsgid
                    or AuditConstants.ObjGid or AuditConstants.Pid or AuditConstants.MsgType or AuditConstants.Ppid or AuditConstants.DevMajor
                    or AuditConstants.Exit or AuditConstants.Success or AuditConstants.Inode or AuditConstants.SessionId or AuditConstants.SubjSen
                    or AuditConstants.SubjClr or AuditConstants.ObjLevLow or AuditConstants.ObjLevHigh or AuditConstants.SaddrFam:
                    if (bitOps)
                    {
                        Refuse(Column(i), RuleDiagnosticCodes.OperatorNotAllowed, $"-F {name}{op}: the & and &= operators only work on a0-a3, pers and devminor", InvalidArgument);
                        return;
                    }
                    break;
                case AuditConstants.LoginUidSet:
                    if (!equalityOnly)
                    {
                        Refuse(Column(i), RuleDiagnosticCodes.OperatorNotAllowed, $"-F auid{op}-1: 'unset' (-1, 4294967295) can only be tested with = or != (auid=unset, auid!=unset)", InvalidArgument);
                        return;
                    }
                    break;
                case AuditConstants.SubjUser or AuditConstants.SubjRole or AuditConstants.SubjType or AuditConstants.ObjUser or AuditConstants.ObjRole
                    or AuditConstants.ObjType or AuditConstants.Watch or AuditConstants.Dir or AuditConstants.FilterKey or AuditConstants.Arch
                    or AuditConstants.FsType or AuditConstants.Perm or AuditConstants.FileType or AuditConstants.FieldCompare or AuditConstants.Exe:
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

            if (type == AuditConstants.FileType && (value & ~AuditConstants.SfmtMask) != 0)
            {
                Refuse(Column(i), RuleDiagnosticCodes.UnknownFileType, "-F filetype: not a file type", InvalidArgument);
                return;
            }

            switch (type)
            {
                case AuditConstants.Uid or AuditConstants.Euid or AuditConstants.Suid or AuditConstants.Fsuid or AuditConstants.LoginUid or AuditConstants.ObjUid:
                    if (!f.IsUnresolvedName && value == uint.MaxValue)
                    {
                        Refuse(Column(i), RuleDiagnosticCodes.InvalidId, $"-F {name}: -1 (4294967295, 'unset') is not a valid user id; only auid can be tested for 'unset'", InvalidArgument);
                        return;
                    }
                    break;
                case AuditConstants.Gid or AuditConstants.Egid or AuditConstants.Sgid or AuditConstants.Fsgid or AuditConstants.ObjGid:
                    if (!f.IsUnresolvedName && value == uint.MaxValue)
                    {
                        Refuse(Column(i), RuleDiagnosticCodes.InvalidId, $"-F {name}: 4294967295 (-1) is not a valid group id", InvalidArgument);
                        return;
                    }
                    break;
                case AuditConstants.Watch:
                    {
                        var path = f.Text ?? string.Empty;
                        if (!path.StartsWith('/') || path.EndsWith('/') || rule.List != AuditConstants.FilterExit || f.Op != AuditConstants.OpEqual
                            || inodeSet || watchSet || treeSet)
                        {
                            Refuse(Column(i), WatchCode("path", path, f.Op), WatchProblem("path", path, f.Op, inodeSet, watchSet || treeSet), InvalidArgument);
                            return;
                        }
                        watchSet = true;
                    }
                    break;
                case AuditConstants.Dir:
                    {
                        var path = f.Text ?? string.Empty;
                        if (!path.StartsWith('/') || rule.List != AuditConstants.FilterExit || f.Op != AuditConstants.OpEqual
                            || inodeSet || watchSet || treeSet)
                        {
                            Refuse(Column(i), WatchCode("dir", path, f.Op), WatchProblem("dir", path, f.Op, inodeSet, watchSet || treeSet), InvalidArgument);
                            return;
                        }
                        treeSet = true;
                    }
                    break;
                case AuditConstants.Inode:
                    if (watchSet || treeSet)
                    {
                        Refuse(Column(i), RuleDiagnosticCodes.ConflictingFields, "-F inode cannot be combined with path= or dir= in one rule", InvalidArgument);
                        return;
                    }
                    inodeSet = true;
                    break;
                case AuditConstants.FilterKey:
                    if (keySet)
                    {
                        Refuse(Column(i), RuleDiagnosticCodes.ConflictingFields, "a rule has one key field; give several keys with -k (or key=) instead of key!= plus a key", InvalidArgument);
                        return;
                    }
                    keySet = true;
                    break;
                case AuditConstants.Exe:
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
            if (f.Type == AuditConstants.Watch && !ParentExists(f.Text!, Column(i), line.IsWatchOption ? "watch" : "path"))
            {
                return;
            }
            if (f.Type == AuditConstants.Dir && env.GetPathKind(f.Text!) == HostPathKind.Missing)
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
        line.Fail(code, column, message, $"Error sending {Request} rule data request ({reason})");

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
            if (f.Type == AuditConstants.FilterKey && keyOption is not null && i == rule.Fields.Count - 1)
            {
                columns[i] = (keyOption.ValueToken ?? keyOption.OptionToken).Column;
                continue;
            }
            if (next < fieldOptions.Count)
            {
                var o = fieldOptions[next];
                columns[i] = (o.ValueToken ?? o.OptionToken).Column;
                // -w makes two fields (path and default perm); a later -p updates that perm instead of adding one.
                if (!(o.Name is "-w" or "-W" && f.Type is AuditConstants.Watch or AuditConstants.Dir))
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
