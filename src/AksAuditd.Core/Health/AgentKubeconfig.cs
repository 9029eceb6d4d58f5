using k8s;
using k8s.KubeConfigModels;
using YamlDotNet.Serialization;

namespace AksAuditd.Core.Health;

/// <summary>
/// The node agent's API client configuration: the pod's service account, or the one kubeconfig file that
/// <c>KUBECONFIG</c> names (sandbox nodes, the benchmark, a run outside a pod).
/// </summary>
/// <remarks>
/// The kubeconfig is read here into KubernetesClient's own <see cref="K8SConfiguration"/> and handed to its
/// <see cref="KubernetesClientConfiguration.BuildConfigFromConfigObject"/>, so the library still resolves clusters,
/// users, contexts and credentials. Its own file loader is avoided because its YAML setup loads the type metadata of
/// every Kubernetes model it carries: measured on the agent, 34 MB of RSS that stays for the life of the process,
/// more than the loop's whole budget, for a file of a dozen lines.
/// </remarks>
public static class AgentKubeconfig
{
    /// <summary>In a pod (no <c>KUBECONFIG</c>): the service account; otherwise the file <c>KUBECONFIG</c> names.</summary>
    /// <exception cref="k8s.Exceptions.KubeConfigException">Neither a service account nor a usable kubeconfig.</exception>
    public static KubernetesClientConfiguration Resolve() =>
        Environment.GetEnvironmentVariable("KUBECONFIG") is { Length: > 0 } path
            ? FromFile(path)
            : KubernetesClientConfiguration.InClusterConfig();

    /// <summary>The current context of one kubeconfig file.</summary>
    /// <exception cref="k8s.Exceptions.KubeConfigException">The file is missing, is not a kubeconfig, or names no usable context.</exception>
    public static KubernetesClientConfiguration FromFile(string path)
    {
        string text;
        try
        {
            text = File.ReadAllText(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new k8s.Exceptions.KubeConfigException($"Cannot read the kubeconfig {path}: {e.Message}");
        }

        K8SConfiguration configuration;
        try
        {
            configuration = new DeserializerBuilder().IgnoreUnmatchedProperties().Build().Deserialize<K8SConfiguration>(text)
                ?? throw new k8s.Exceptions.KubeConfigException($"The kubeconfig {path} is empty");
        }
        catch (YamlDotNet.Core.YamlException e)
        {
            throw new k8s.Exceptions.KubeConfigException($"The kubeconfig {path} is not valid YAML at line {e.Start.Line}: {e.Message}");
        }

        // Relative certificate and key paths are relative to the file, as kubectl reads them.
        configuration.FileName = Path.GetFullPath(path);
        return KubernetesClientConfiguration.BuildConfigFromConfigObject(configuration);
    }
}
