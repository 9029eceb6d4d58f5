namespace AksAuditd.Core.Tests.Events;

internal static class Fixtures
{
    /// <summary>tests/fixtures/events under the repository (found by walking up to AksAuditd.psd1).</summary>
    public static string Directory => AksAuditd.Tests.Shared.RepositoryCheckout.PathOf("tests", "fixtures", "events");

    /// <summary>The committed real log (ENRICHED, node=aks-node-1, two rotations) and ausearch's reading of it.</summary>
    public static string Recorded => Path.Combine(Directory, "recorded");

    public static string RecorderScript => Path.Combine(Directory, "record-audit-log.sh");

    public static string NewTemporaryDirectory()
    {
        var path = Path.Combine(Path.GetTempPath(), "aksauditd-events-" + Guid.NewGuid().ToString("N"));
        System.IO.Directory.CreateDirectory(path);
        return path;
    }
}
