namespace AksAuditd.PowerShell.Tests.DaemonSet;

/// <summary>Files of the checkout the DaemonSet tests read: kubernetes/, image/, Directory.Build.props.</summary>
internal static class RepositoryPaths
{
    public static string Root { get; } = FindRoot();

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

    private static string FindRoot()
    {
        var directory = new DirectoryInfo(AppContext.BaseDirectory);
        while (directory is not null && !File.Exists(Path.Combine(directory.FullName, "AksAuditd.psd1")))
        {
            directory = directory.Parent;
        }

        return directory?.FullName ?? throw new InvalidOperationException("repository root (AksAuditd.psd1) not found");
    }
}
