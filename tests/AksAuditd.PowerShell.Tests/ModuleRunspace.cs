using System.Collections.ObjectModel;
using System.Management.Automation;
using System.Management.Automation.Runspaces;

// Runspaces share the process: environment variables and the current directory are process-wide, so
// tests that set AA_* variables must not overlap.
[assembly: Xunit.CollectionBehavior(DisableTestParallelization = true)]

namespace AksAuditd.PowerShell.Tests;

/// <summary>
/// A real PowerShell 7.6 runspace with the staged module (out/AksAuditd, from `build.ps1 build`) imported,
/// the way a user gets it. Each call returns the output and every stream, so tests assert what users see.
/// </summary>
public sealed class ModuleRunspace : IDisposable
{
    private readonly Runspace _runspace;
    private readonly List<(string Name, string? Value)> _restore = new();

    public ModuleRunspace(IDictionary<string, string?>? environment = null)
    {
        var state = InitialSessionState.CreateDefault2();
        _runspace = RunspaceFactory.CreateRunspace(state);
        _runspace.Open();
        if (environment is not null)
        {
            foreach (var (name, value) in environment)
            {
                _restore.Add((name, Environment.GetEnvironmentVariable(name)));
                Environment.SetEnvironmentVariable(name, value);
            }
        }

        var result = Invoke("param($m) Import-Module $m -Force -ErrorAction Stop", new Dictionary<string, object?> { ["m"] = ModulePath });
        if (result.Errors.Count > 0)
        {
            throw new InvalidOperationException("Import-Module failed: " + result.Errors[0]);
        }

        // Restart-Auditd and Install-Auditd load this machine's kernel: every call passes the kernel load guard first.
        var guard = Invoke(AksAuditd.Tests.Shared.KernelLoadGuard.CmdletProxyScript);
        if (guard.Errors.Count > 0)
        {
            throw new InvalidOperationException("Putting the kernel load guard in front of the node cmdlets failed: " + guard.Errors[0]);
        }
    }

    /// <summary>out/AksAuditd under the repository (AKSAUDITD_MODULE overrides it).</summary>
    public static string ModulePath
    {
        get
        {
            var fromEnvironment = Environment.GetEnvironmentVariable("AKSAUDITD_MODULE");
            if (!string.IsNullOrEmpty(fromEnvironment))
            {
                return fromEnvironment;
            }

            var path = AksAuditd.Tests.Shared.RepositoryCheckout.PathOf("out", "AksAuditd", "AksAuditd.psd1");
            return File.Exists(path) ? path : throw new InvalidOperationException($"{path} is missing: run `dotnet pwsh ./build.ps1 build` first");
        }
    }

    public RunResult Invoke(string script, IDictionary<string, object?>? parameters = null)
    {
        using var shell = System.Management.Automation.PowerShell.Create();
        shell.Runspace = _runspace;
        shell.AddScript(script);
        if (parameters is not null)
        {
            foreach (var (name, value) in parameters)
            {
                shell.AddParameter(name, value);
            }
        }

        Collection<PSObject> output;
        Exception? terminating = null;
        try
        {
            output = shell.Invoke();
        }
        catch (RuntimeException e)
        {
            output = new Collection<PSObject>();
            terminating = e;
        }

        return new RunResult(
            output,
            shell.Streams.Error.ToList(),
            shell.Streams.Warning.Select(w => w.Message).ToList(),
            shell.Streams.Verbose.Select(v => v.Message).ToList(),
            shell.Streams.Information.Select(i => i.MessageData?.ToString() ?? string.Empty).ToList(),
            terminating);
    }

    public void Dispose()
    {
        foreach (var (name, value) in _restore)
        {
            Environment.SetEnvironmentVariable(name, value);
        }

        _runspace.Dispose();
    }
}

public sealed record RunResult(
    Collection<PSObject> Output,
    IReadOnlyList<ErrorRecord> Errors,
    IReadOnlyList<string> Warnings,
    IReadOnlyList<string> Verbose,
    IReadOnlyList<string> Information,
    Exception? Terminating)
{
    /// <summary>
    /// Every error the user would see. A cmdlet's ThrowTerminatingError inside a script ends only its
    /// statement, so it arrives in the Error stream, not as an exception; both count here.
    /// </summary>
    public IReadOnlyList<ErrorRecord> AllErrors =>
        Terminating is IContainsErrorRecord { ErrorRecord: { } record } ? Errors.Append(record).ToList() : Errors;
}
