namespace AksAuditd.Tests.Shared;

/// <summary>
/// The checkout the tests run from, found by walking up from the test assembly to the folder that holds
/// AksAuditd.psd1, so tests read fixtures from the clone whatever folder the runner starts them in.
/// </summary>
public static class RepositoryCheckout
{
    private static readonly Lazy<string> FoundRoot = new(FindRoot);

    public static string Root => FoundRoot.Value;

    /// <summary>A path under the checkout, from its parts (for example "tests", "fixtures", "events").</summary>
    public static string PathOf(params string[] parts) => Path.Combine([Root, .. parts]);

    private static string FindRoot()
    {
        var directory = new DirectoryInfo(AppContext.BaseDirectory);
        while (directory is not null && !File.Exists(Path.Combine(directory.FullName, "AksAuditd.psd1")))
        {
            directory = directory.Parent;
        }

        return directory?.FullName ?? throw new InvalidOperationException($"repository root (AksAuditd.psd1) not found above {AppContext.BaseDirectory}");
    }
}
