using AksAuditd.Core.Health;
using AksAuditd.Tests.Shared;
using k8s;
using Xunit;

namespace AksAuditd.Core.Tests.Health;

/// <summary>The agent's own kubeconfig reading (KUBECONFIG outside a pod): what the library would make of the file.</summary>
public sealed class AgentKubeconfigTests : IDisposable
{
    private readonly DirectoryInfo _home = Directory.CreateTempSubdirectory("aks-auditd-agent-kubeconfig-");

    public void Dispose() => _home.Delete(recursive: true);

    [Fact]
    public void TheCurrentContextChoosesServerAndTokenAndRelativeFilesAreRelativeToTheKubeconfig()
    {
        var folder = Directory.CreateDirectory(Path.Combine(_home.FullName, "conf")).FullName;
        using var key = System.Security.Cryptography.ECDsa.Create();
        using var authority = new System.Security.Cryptography.X509Certificates.CertificateRequest("CN=sandbox-ca", key, System.Security.Cryptography.HashAlgorithmName.SHA256)
            .CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(1));
        File.WriteAllText(Path.Combine(folder, "ca.crt"), authority.ExportCertificatePem());
        var path = Write(Path.Combine(folder, "config"), """
            apiVersion: v1
            kind: Config
            clusters:
              - name: other
                cluster: { server: "https://other.example:6443" }
              - name: sandbox
                cluster:
                  server: "https://127.0.0.1:6443"
                  certificate-authority: ca.crt
            users:
              - name: other
                user: { token: other-token }
              - name: agent
                user: { token: agent-token }
            contexts:
              - name: other
                context: { cluster: other, user: other }
              - name: sandbox
                context: { cluster: sandbox, user: agent, namespace: kube-system }
            current-context: sandbox
            """);

        var configuration = AgentKubeconfig.FromFile(path);

        Assert.Equal("https://127.0.0.1:6443", configuration.Host);
        Assert.Equal("agent-token", configuration.AccessToken);
        Assert.Equal("kube-system", configuration.Namespace);
        Assert.Equal(authority.Thumbprint, Assert.Single(configuration.SslCaCerts!).Thumbprint);
    }

    [Fact]
    public void TheAgentsClientTalksToTheServerTheKubeconfigNames()
    {
        using var server = new FakeApiServer(FakeApiServer.Node("node-a"));
        var path = Write(Path.Combine(_home.FullName, "config"), KubeconfigText.For(server.Url, FakeApiServer.Token));
        var previous = Environment.GetEnvironmentVariable("KUBECONFIG");
        Environment.SetEnvironmentVariable("KUBECONFIG", path);
        try
        {
            using var client = (Kubernetes)NodeStatusPublisher.InClusterClient();
            var node = client.CoreV1.ReadNode("node-a");

            Assert.Equal("node-a", node.Metadata.Name);
            Assert.Equal($"Bearer {FakeApiServer.Token}", Assert.Single(server.Requests).Authorization);
        }
        finally
        {
            Environment.SetEnvironmentVariable("KUBECONFIG", previous);
        }
    }

    [Theory]
    [InlineData("missing", null, "Cannot read the kubeconfig")]
    [InlineData("broken", "clusters: [ {", "is not valid YAML at line")]
    [InlineData("empty", "", "is empty")]
    [InlineData("nocontext", "apiVersion: v1\nkind: Config\nclusters: []\n", "")]
    public void AnUnusableKubeconfigIsAKubeConfigExceptionNamingTheFile(string name, string? text, string expected)
    {
        var path = Path.Combine(_home.FullName, name);
        if (text is not null)
        {
            File.WriteAllText(path, text);
        }

        var failure = Assert.ThrowsAny<k8s.Exceptions.KubeConfigException>(() => AgentKubeconfig.FromFile(path));

        Assert.Contains(expected, failure.Message, StringComparison.Ordinal);
        if (expected.Length > 0)
        {
            Assert.Contains(path, failure.Message, StringComparison.Ordinal);
        }
    }

    private static string Write(string path, string text)
    {
        File.WriteAllText(path, text);
        return path;
    }
}
