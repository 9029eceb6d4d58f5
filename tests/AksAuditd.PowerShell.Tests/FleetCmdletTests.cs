using System.Management.Automation;
using AksAuditd.Tests.Shared;
using Xunit;

namespace AksAuditd.PowerShell.Tests;

/// <summary>
/// Get-AuditFleetStatus as people and CI pipelines run it: the module in a runspace, a kubeconfig that names the
/// wire-level API stand-in, the rows, the filters, the table a person reads, the help's CI gate, and the errors.
/// </summary>
public sealed class FleetCmdletTests : IDisposable
{
    private readonly FakeApiServer _server = new(
        FakeApiServer.Node(
            "aks-system-0",
            ("AuditdProblem", "False", "AuditdIsRunning", "auditd (PID 812) holds the kernel's audit PID."),
            ("AuditRulesDrift", "False", "RulesInSync", "The kernel enforces the 45 rules of the source. [agent 0.1.0; applied 2026-12-01T10:00:00Z]"),
            ("AuditEventsLost", "False", "NoEventsLost", "No audit events lost")),
        FakeApiServer.Node(
            "aks-user-3",
            ("AuditdProblem", "False", "AuditdIsRunning", "auditd (PID 901) holds the kernel's audit PID."),
            ("AuditRulesDrift", "True", "KernelRulesDiffer", "3 rules differ [agent 0.1.0; applied 2026-12-01T09:00:00Z]"),
            ("AuditEventsLost", "False", "NoEventsLost", "No audit events lost")),
        FakeApiServer.Node("aks-user-4", ("Ready", "True", "KubeletReady", "ready")));

    private readonly DirectoryInfo _home = Directory.CreateTempSubdirectory("aks-auditd-fleet-cmdlet-");

    public void Dispose()
    {
        _server.Dispose();
        _home.Delete(recursive: true);
    }

    [Fact]
    public void KubeconfigFromTheEnvironmentGivesOneTypedRowPerNode()
    {
        using var shell = new ModuleRunspace(new Dictionary<string, string?> { ["KUBECONFIG"] = Kubeconfig(FakeApiServer.Token) });

        var result = shell.Invoke("Get-AuditFleetStatus");

        Assert.Empty(result.AllErrors);
        Assert.Empty(_server.Violations);
        Assert.All(result.Output, row => Assert.Equal("AksAuditd.Core.Fleet.FleetNodeStatus", row.BaseObject.GetType().FullName));
        Assert.Equal(new[] { "aks-system-0", "aks-user-3", "aks-user-4" }, result.Output.Select(r => (string)r.Properties["Node"].Value));
        var drifted = result.Output[1];
        Assert.Equal((true, false, false), ((bool?)drifted.Properties["AuditdRunning"].Value, (bool?)drifted.Properties["RulesInSync"].Value, (bool?)drifted.Properties["EventsLost"].Value));
        Assert.Null(result.Output[2].Properties["AuditdRunning"].Value);
    }

    [Fact]
    public void TheTableShowsTheColumnsTheReadmePromisesAndUnknownForANodeWithoutAnAgent()
    {
        using var shell = new ModuleRunspace();

        var result = shell.Invoke("param($k) Get-AuditFleetStatus -Kubeconfig $k | Out-String -Width 200", new Dictionary<string, object?> { ["k"] = Kubeconfig(FakeApiServer.Token) });

        Assert.Empty(result.AllErrors);
        var lines = string.Concat(result.Output.Select(o => o.ToString())).Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        var header = Assert.Single(lines, l => l.StartsWith("Node", StringComparison.Ordinal));
        Assert.Equal(new[] { "Node", "AuditdRunning", "RulesInSync", "EventsLost", "LastApplied", "AgentVersion" }, header.Split(' ', StringSplitOptions.RemoveEmptyEntries));
        var withoutAgent = Assert.Single(lines, l => l.StartsWith("aks-user-4", StringComparison.Ordinal));
        Assert.Equal(3, withoutAgent.Split(' ', StringSplitOptions.RemoveEmptyEntries).Count(w => w == "unknown"));
    }

    [Fact]
    public void UnhealthyAndNodeWildcardsFilterTheRows()
    {
        using var shell = new ModuleRunspace();
        var parameters = new Dictionary<string, object?> { ["k"] = Kubeconfig(FakeApiServer.Token) };

        var unhealthy = shell.Invoke("param($k) Get-AuditFleetStatus -Kubeconfig $k -Unhealthy | ForEach-Object Node", parameters);
        var users = shell.Invoke("param($k) Get-AuditFleetStatus -Kubeconfig $k -Node 'AKS-USER-*' | ForEach-Object Node", parameters);
        var byName = shell.Invoke("param($k) [pscustomobject]@{ Name = 'aks-system-0' } | Get-AuditFleetStatus -Kubeconfig $k | ForEach-Object Node", parameters);

        Assert.Equal(new[] { "aks-user-3", "aks-user-4" }, unhealthy.Output.Select(o => o.ToString()));
        Assert.Equal(new[] { "aks-user-3", "aks-user-4" }, users.Output.Select(o => o.ToString()));
        Assert.Equal(new[] { "aks-system-0" }, byName.Output.Select(o => o.ToString()));
        // One list request per call, however many names come down the pipeline.
        Assert.Equal(3, _server.Requests.Count(r => r.Path == "/api/v1/nodes"));
    }

    [Fact]
    public void TheHelpsCiGateFailsNamingTheNodesThatAreNotInSync()
    {
        using var shell = new ModuleRunspace(new Dictionary<string, string?> { ["KUBECONFIG"] = Kubeconfig(FakeApiServer.Token) });
        var help = shell.Invoke("(Get-Help Get-AuditFleetStatus).examples.example | Where-Object title -like '*CI gate*' | ForEach-Object code");
        var gate = Assert.Single(help.Output).ToString().Replace(" -Context prod-westeurope", string.Empty, StringComparison.Ordinal);

        var result = shell.Invoke(gate);

        var failure = Assert.IsAssignableFrom<RuntimeException>(result.Terminating);
        Assert.Equal("2 nodes do not run auditd with the current rules", failure.Message);
    }

    [Fact]
    public void AnExpiredTokenIsAnAuthenticationErrorNamingTheKubeconfig()
    {
        using var shell = new ModuleRunspace();
        var kubeconfig = Kubeconfig("expired");

        var result = shell.Invoke("param($k) Get-AuditFleetStatus -Kubeconfig $k", new Dictionary<string, object?> { ["k"] = kubeconfig });

        var error = Assert.Single(result.AllErrors);
        Assert.Equal("KubernetesUnauthorized,AksAuditd.PowerShell.Commands.GetAuditFleetStatusCommand", error.FullyQualifiedErrorId);
        Assert.Equal(ErrorCategory.AuthenticationError, error.CategoryInfo.Category);
        Assert.Contains("401", error.Exception.Message, StringComparison.Ordinal);
        Assert.Empty(result.Output);
    }

    [Fact]
    public void OverTlsTheKubeconfigsAuthorityIsTrustedAndAnotherIsASecurityErrorNamingTheServer()
    {
        using var tls = new TlsFront(_server.Port);
        using var other = new TlsFront(_server.Port);
        using var shell = new ModuleRunspace();

        var trusted = shell.Invoke("param($k) Get-AuditFleetStatus -Kubeconfig $k | ForEach-Object Node", new Dictionary<string, object?> { ["k"] = Kubeconfig(FakeApiServer.Token, tls.Url, tls.CertificateAuthorityPem) });
        var untrusted = shell.Invoke("param($k) Get-AuditFleetStatus -Kubeconfig $k", new Dictionary<string, object?> { ["k"] = Kubeconfig(FakeApiServer.Token, tls.Url, other.CertificateAuthorityPem) });

        Assert.Empty(trusted.AllErrors);
        Assert.Equal(new[] { "aks-system-0", "aks-user-3", "aks-user-4" }, trusted.Output.Select(o => o.ToString()));
        var error = Assert.Single(untrusted.AllErrors);
        Assert.Equal("KubernetesServerUntrusted,AksAuditd.PowerShell.Commands.GetAuditFleetStatusCommand", error.FullyQualifiedErrorId);
        Assert.Equal(ErrorCategory.SecurityError, error.CategoryInfo.Category);
        Assert.Equal(tls.Url + "/", error.TargetObject);
        Assert.Contains("certificate", error.Exception.Message, StringComparison.Ordinal);
        Assert.Empty(untrusted.Output);
    }

    [Fact]
    public void AMissingKubeconfigIsAnInvalidArgumentNamingTheFile()
    {
        using var shell = new ModuleRunspace();
        var missing = Path.Combine(_home.FullName, "no-such-config");

        var result = shell.Invoke("param($k) Get-AuditFleetStatus -Kubeconfig $k", new Dictionary<string, object?> { ["k"] = missing });

        var error = Assert.Single(result.AllErrors);
        Assert.Equal("KubeconfigUnusable,AksAuditd.PowerShell.Commands.GetAuditFleetStatusCommand", error.FullyQualifiedErrorId);
        Assert.Equal(ErrorCategory.InvalidArgument, error.CategoryInfo.Category);
        Assert.Equal(missing, error.TargetObject);
    }

    private string Kubeconfig(string token, string? server = null, string? authorityPem = null)
    {
        var path = Path.Combine(_home.FullName, $"config-{Guid.NewGuid():N}");
        File.WriteAllText(path, KubeconfigText.For(server ?? _server.Url, token, authorityPem));
        return path;
    }
}
