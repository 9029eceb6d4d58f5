namespace AksAuditd.PowerShell.Tests.DaemonSet;

/// <summary>Files of the checkout the DaemonSet tests read: kubernetes/, image/, Directory.Build.props.</summary>
internal static class RepositoryPaths
{
    public static string Root => AksAuditd.Tests.Shared.RepositoryCheckout.Root;

    public static string Kubernetes => Path.Combine(Root, "kubernetes");

    public static string Image => Path.Combine(Root, "image");

    public static string InKubernetes(string name) => Path.Combine(Kubernetes, name);

    /// <summary>The module version, which is also the image tag the manifests deploy.</summary>
    public static string Version
    {
        get
        {
            var props = System.Xml.Linq.XDocument.Load(Path.Combine(Root, "Directory.Build.props"));
            return props.Descendants("VersionPrefix").Single().Value;
        }
    }
}
