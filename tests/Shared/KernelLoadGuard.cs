#nullable enable

namespace AksAuditd.Tests.Shared;

/// <summary>
/// The one check every load into THIS machine's kernel passes first: rules or auditctl arguments that would make
/// the kernel's audit configuration immutable (<c>-e 2</c>), panic on failure (<c>-f 2</c>) or lock login UIDs
/// (<c>--loginuid-immutable</c>) are refused before anything runs, because the machine keeps them until it
/// reboots. Tests that need those run in the test VM (tests/vm), which has its own kernel.
/// Used by MachineAudit (xUnit, and Pester through Add-Type) and image/Sandbox.ps1 (Add-Type); plain C#, no
/// dependencies, so PowerShell can compile it as it is.
/// </summary>
public static class KernelLoadGuard
{
    /// <summary>Throws when <paramref name="text"/> (audit rules, one per line) holds an unsafe setting.</summary>
    public static void AssertSafeText(string text, string source)
    {
        var lines = text.Replace("\r", string.Empty).Split('\n');
        for (var i = 0; i < lines.Length; i++)
        {
            var line = lines[i].Trim();
            if (line.Length == 0 || line.StartsWith('#'))
            {
                continue;
            }

            if (Unsafe(line.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries)) is { } what)
            {
                throw new UnsafeKernelLoadException($"{source} line {i + 1} ('{line}') {what}; refused before loading into this machine's kernel. Tests that need it run in the test VM (tests/vm).");
            }
        }
    }

    /// <summary>Checks a rules file (audit.rules, a rules.d file, an auditctl -R file); a missing file is safe.</summary>
    public static void AssertSafeFile(string path)
    {
        if (File.Exists(path))
        {
            AssertSafeText(File.ReadAllText(path), path);
        }
    }

    /// <summary>Checks what augenrules and auditd's start would load: every file in rules.d and audit.rules.</summary>
    public static void AssertSafeNode(string etcAudit = "/etc/audit")
    {
        var rulesD = Path.Combine(etcAudit, "rules.d");
        if (Directory.Exists(rulesD))
        {
            foreach (var file in Directory.GetFiles(rulesD))
            {
                AssertSafeFile(file);
            }
        }

        AssertSafeFile(Path.Combine(etcAudit, "audit.rules"));
    }

    /// <summary>Checks the rules a node cmdlet with this -HostRoot would load: that root's /etc/audit (chroot or not, the kernel is this machine's).</summary>
    public static void AssertSafeHostRoot(string hostRoot) =>
        AssertSafeNode(Path.Combine(string.IsNullOrEmpty(hostRoot) ? "/" : hostRoot, "etc", "audit"));

    /// <summary>
    /// PowerShell that puts a guarded proxy in front of the module's cmdlets that load rules (Restart-Auditd,
    /// Install-Auditd): a global function of the same name, which wins over the cmdlet, checks the -HostRoot's
    /// rules with <see cref="AssertSafeHostRoot"/> and then runs AksAuditd\&lt;name&gt; with every parameter.
    /// Run it after Import-Module AksAuditd in any session whose tests load this machine's kernel through cmdlets.
    /// </summary>
    public const string CmdletProxyScript = @"
foreach ($name in 'Restart-Auditd', 'Install-Auditd') {
    $command = Get-Command -Module AksAuditd -Name $name -CommandType Cmdlet -ErrorAction Stop
    $proxy = [System.Management.Automation.ProxyCommand]::Create([System.Management.Automation.CommandMetadata]::new($command))
    $guard = '
    $guardRoot = if ($PSBoundParameters[''HostRoot'']) { $PSBoundParameters[''HostRoot''] } else { (AksAuditd\Get-AksAuditdConfiguration -WarningAction SilentlyContinue).HostRoot }
    # throw, not the method''s own exception: that would end only this statement, and the cmdlet would still run.
    try { [AksAuditd.Tests.Shared.KernelLoadGuard]::AssertSafeHostRoot($guardRoot) } catch { throw $_.Exception.GetBaseException() }
'
    $guarded = [regex]::new('begin\s*\{').Replace($proxy, { param($m) $m.Value + $guard }, 1)
    if ($guarded -eq $proxy) { throw ""No begin block in the proxy of $name; the kernel load guard cannot be put in front of it"" }
    Set-Item -LiteralPath ""function:global:$name"" -Value $guarded
}
";

    /// <summary>
    /// Checks one command before it runs on this machine: auditctl's own arguments (and the file of <c>-R</c>);
    /// for anything that loads rules.d (augenrules, starting or restarting auditd), the rules files under
    /// <paramref name="hostRoot"/> (a chroot's commands load this machine's kernel too).
    /// </summary>
    public static void AssertSafeCommand(string program, IReadOnlyList<string> arguments, string hostRoot = "/")
    {
        var name = Path.GetFileName(program);
        if (name == "auditctl")
        {
            if (Unsafe(arguments) is { } what)
            {
                throw new UnsafeKernelLoadException($"auditctl {string.Join(' ', arguments)} {what}; refused before it ran on this machine. Tests that need it run in the test VM (tests/vm).");
            }

            for (var i = 0; i + 1 < arguments.Count; i++)
            {
                if (arguments[i] == "-R")
                {
                    AssertSafeFile(Path.Combine(hostRoot, arguments[i + 1].TrimStart('/')));
                }
            }

            return;
        }

        if (name is "augenrules" or "auditd" or "service" or "systemctl" or "invoke-rc.d" or "nsenter" or "chroot")
        {
            AssertSafeHostRoot(hostRoot);
        }
    }

    /// <summary>What is unsafe in one line's words or one argument list, or null.</summary>
    private static string? Unsafe(IReadOnlyList<string> words)
    {
        for (var i = 0; i < words.Count; i++)
        {
            var next = i + 1 < words.Count ? words[i + 1] : null;
            // getopt accepts both "-e 2" and "-e2".
            if ((words[i] == "-e" && next == "2") || words[i] == "-e2")
            {
                return "sets enabled 2 (immutable until reboot)";
            }

            if ((words[i] == "-f" && next == "2") || words[i] == "-f2")
            {
                return "sets failure 2 (kernel panic on audit failure)";
            }

            if (words[i] == "--loginuid-immutable")
            {
                return "makes login UIDs immutable until reboot";
            }
        }

        return null;
    }
}

/// <summary>A load into this machine's kernel that the guard refused.</summary>
public sealed class UnsafeKernelLoadException : InvalidOperationException
{
    public UnsafeKernelLoadException(string message)
        : base(message)
    {
    }
}
