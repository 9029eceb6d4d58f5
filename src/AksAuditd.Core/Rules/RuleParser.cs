using System.Text;
using AksAuditd.Core.Audit;
using AksAuditd.Core.Rules.Auditctl;

namespace AksAuditd.Core.Rules;

/// <summary>How to read rules: for which node arch, and (optionally) against which node's users, groups and paths.</summary>
public sealed record RuleParserOptions
{
    /// <summary>
    /// The node's arch as uname -m (x86_64, aarch64) or Kubernetes (amd64, arm64) names it. It decides what -F arch=b64
    /// and b32 mean and which table names the syscalls of a rule without -F arch.
    /// </summary>
    public string Arch { get; init; } = "x86_64";

    /// <summary>uname -m of the machine this process runs on: a DaemonSet pod runs on its node's CPU.</summary>
    public static string CurrentNodeArch =>
        System.Runtime.InteropServices.RuntimeInformation.OSArchitecture == System.Runtime.InteropServices.Architecture.Arm64 ? "aarch64" : "x86_64";

    /// <summary>
    /// The node's file system root (/ on the node, /node in the DaemonSet). With it, user and group names are resolved
    /// from its etc/passwd and etc/group, and watches whose parent directory is missing are refused as the kernel would.
    /// Without it, those checks are skipped (names are reported as resolved on the node).
    /// </summary>
    public string? HostRoot { get; init; }

    /// <summary>Replaces <see cref="HostRoot"/> with another source of node facts.</summary>
    public IRuleEnvironment? Environment { get; init; }

    /// <summary>The node kernel's CONFIG_HZ: --backlog_wait_time is limited to 600 seconds of jiffies.</summary>
    public int KernelHz { get; init; } = 250;

    internal IRuleEnvironment? ResolveEnvironment() =>
        Environment ?? (HostRoot is { Length: > 0 } root ? new NodeRuleEnvironment(root) : null);

    /// <summary>The libaudit machine number of <see cref="Arch"/>.</summary>
    internal int HostMachine()
    {
        var name = Arch switch
        {
            "amd64" => "x86_64",
            "arm64" => "aarch64",
            "386" => "i386",
            _ => Arch,
        };
        var machine = AuditLookups.MachineNumber(name);
        if (machine < 0)
        {
            throw new ArgumentException(
                $"'{Arch}' is not a node arch auditctl knows; use x86_64 (amd64) or aarch64 (arm64)", nameof(Arch));
        }
        return machine;
    }
}

/// <summary>
/// Parses audit rules as auditctl 3.0.9 reads them from a rules file (auditctl -R, which is how augenrules and the
/// auditd service load them) into <see cref="AuditRule"/> models with token positions, per-line findings, and the
/// kernel's canonical listing of each accepted rule.
/// </summary>
public sealed class RuleParser
{
    private readonly LineContext _context;

    public RuleParser()
        : this(null)
    {
    }

    public RuleParser(RuleParserOptions? options)
    {
        Options = options ?? new RuleParserOptions();
        _context = new LineContext(Options.HostMachine(), Options.ResolveEnvironment(), Options.KernelHz);
    }

    public RuleParserOptions Options { get; }

    internal int HostMachine => _context.HostMachine;

    public RuleFile ParseFile(string path) => Parse(File.ReadAllText(path), path);

    /// <summary>
    /// A rules file, or each .rules entry of the ConfigMaps in a Kubernetes manifest (.yaml/.yml), named
    /// "file.yaml[entry.rules]" with lines numbered inside the entry.
    /// </summary>
    public IReadOnlyList<RuleFile> ParsePath(string path)
    {
        if (!ConfigMapRuleSource.IsManifestPath(path))
        {
            return [ParseFile(path)];
        }
        var (entries, _) = ConfigMapRuleSource.Read(path);
        return entries.Select(e => Parse(e.Text, e.Path)).ToList();
    }

    /// <summary>Parses the text of a rules file. Lines end at '\n'; a '\r' stays part of the line, as in auditctl.</summary>
    public RuleFile Parse(string text, string? path = null)
    {
        ArgumentNullException.ThrowIfNull(text);
        return new RuleFile(path, ReadLines(text, path).ToList());
    }

    /// <summary>The lines of a rules file, parsed one at a time as they are enumerated.</summary>
    public IEnumerable<ParsedRuleLine> ReadLines(string text, string? path = null)
    {
        ArgumentNullException.ThrowIfNull(text);
        var number = 0;
        var start = 0;
        while (start < text.Length)
        {
            var end = text.IndexOf('\n', start);
            var line = end < 0 ? text[start..] : text[start..end];
            yield return ParseLine(line, ++number, path);
            if (end < 0)
            {
                yield break;
            }
            start = end + 1;
        }
    }

    /// <summary>Parses lines given one by one (Test-AuditRule -Line); each is numbered from 1.</summary>
    public RuleFile ParseLines(IEnumerable<string> lines, string? path = null)
    {
        var parsed = new List<ParsedRuleLine>();
        var number = 0;
        foreach (var line in lines)
        {
            parsed.Add(ParseLine(line, ++number, path));
        }
        return new RuleFile(path, parsed);
    }

    public ParsedRuleLine ParseLine(string line, int lineNumber = 1, string? path = null)
    {
        ArgumentNullException.ThrowIfNull(line);
        if (AuditctlWords.IsBlank(line))
        {
            return new ParsedRuleLine(lineNumber, line, RuleLineKind.Blank, [], null, []);
        }
        var tokens = AuditctlWords.Split(line);
        if (tokens.Count == 0 || tokens[0].Text.StartsWith('#'))
        {
            return new ParsedRuleLine(lineNumber, line, RuleLineKind.Comment, tokens, null, []);
        }

        var findings = new List<LineFinding>(0);
        if (line.Length >= (AuditctlWords.LineBufferSize - 1) / 3 && Encoding.UTF8.GetByteCount(line) >= AuditctlWords.LineBufferSize - 1)
        {
            findings.Add(new LineFinding(RuleDiagnosticCodes.LineTooLong, DiagnosticSeverity.Error, AuditctlWords.LineBufferSize - 1,
                $"the line is longer than the {AuditctlWords.LineBufferSize - 2} bytes auditctl reads at once; it would be read as two broken lines"));
        }
        var maxWords = AuditctlWords.MaxWords(line);
        var words = tokens;
        if (tokens.Count > maxWords)
        {
            findings.Add(new LineFinding(RuleDiagnosticCodes.IgnoredByAuditctl, DiagnosticSeverity.Warning, tokens[maxWords].Column,
                $"auditctl reads only the first {maxWords} words of a line this short; '{tokens[maxWords].Text}' and the words after it are dropped"));
            words = tokens.Take(maxWords).ToList();
        }

        var run = new AuditctlLine(_context, words);
        run.Run();
        findings.AddRange(run.Findings);
        var rule = BuildRule(run, line, lineNumber, path, findings);
        IReadOnlyList<RuleDiagnostic> diagnostics = findings.Count == 0
            ? []
            : findings.Select(f => new RuleDiagnostic(path, lineNumber, f.Column, f.Severity, f.Code, f.Text, line, f.Auditctl)).ToList();
        return new ParsedRuleLine(lineNumber, line, RuleLineKind.Rule, tokens, rule, diagnostics);
    }

    private AuditRule BuildRule(AuditctlLine run, string text, int lineNumber, string? path, List<LineFinding> findings)
    {
        var kind = run.IsWatchOption ? AuditRuleKind.Watch : run.IsRuleLine ? AuditRuleKind.Syscall : AuditRuleKind.Control;
        var accepted = !run.Failed;
        foreach (var f in findings)
        {
            accepted &= f.Severity != DiagnosticSeverity.Error;
        }
        var rule = new AuditRule(kind, text, path, lineNumber)
        {
            Options = run.Options,
            IsAccepted = accepted,
        };
        if (kind == AuditRuleKind.Control)
        {
            if (run.Controls.Count > 0)
            {
                rule.ControlOption = run.Controls[0].Option;
                rule.ControlValue = run.Controls[0].Value;
                rule.IsDelete = run.IsDeleteAll;
            }
            return rule;
        }

        var k = run.Rule;
        rule.List = run.Request != KernelRequest.None ? KernelRule.ListName(k.List) : null;
        rule.Action = run.Request != KernelRequest.None ? (k.Action == AuditConstants.Always ? "always" : "never") : null;
        rule.Prepend = k.Prepend;
        rule.IsDelete = run.Request == KernelRequest.Delete;
        rule.Arch = run.ArchWritten;
        rule.SyscallArch = AuditLookups.MachineName(run.SyscallMachine);
        rule.Fields = run.Fields;
        rule.Syscalls = run.Syscalls;
        rule.AllSyscalls = run.Request != KernelRequest.None && k.List is AuditFilterList.Exit && k.IsAllMask();
        rule.WatchPath = run.WatchPath;
        var perm = k.Fields.LastOrDefault(f => f.Type == AuditField.Perm);
        rule.Permissions = perm is null ? null : PermissionLetters.Format((AuditPermissions)perm.Value);
        rule.Keys = run.Keys;
        if (accepted && run.Request != KernelRequest.None)
        {
            rule.Canonical = k.Render(_context.HostMachine);
            rule.Identity = k.Identity();
        }
        return rule;
    }
}
