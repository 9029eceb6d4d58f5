using System.Diagnostics;
using System.Text.RegularExpressions;
using Xunit;
using YamlDotNet.RepresentationModel;

namespace AksAuditd.PowerShell.Tests.DaemonSet;

/// <summary>
/// The image a node runs can be named by digest: the workflow publishes the digest it pushed and signed, and
/// the README's way of pinning it (a kustomize images entry with a digest) renders a DaemonSet that runs
/// exactly that digest in both containers.
/// </summary>
public sealed class SupplyChainTests
{
    private const string Digest = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    [Fact]
    public void TheImageWorkflowPublishesTheDigestItPushedAndSigned()
    {
        var workflow = (YamlMappingNode)Load(Path.Combine(RepositoryPaths.Root, ".github", "workflows", "image.yml"));
        var job = (YamlMappingNode)((YamlMappingNode)workflow["jobs"])["image"];

        // A job output, for a deploying job to consume...
        var outputs = (YamlMappingNode)job["outputs"];
        Assert.Equal("${{ steps.push.outputs.digest }}", outputs["digest"].ToString());
        var steps = ((YamlSequenceNode)job["steps"]).Children.Cast<YamlMappingNode>().ToList();
        var push = steps.Single(s => s.Children.TryGetValue("id", out var id) && id.ToString() == "push");
        Assert.Equal("docker/build-push-action@v6", push["uses"].ToString());

        // ...and the run's summary, for a person: the reference to paste into kustomization.yaml.
        var summary = steps.Single(s => s.Children.TryGetValue("run", out var run) && run.ToString().Contains("GITHUB_STEP_SUMMARY", StringComparison.Ordinal));
        Assert.Contains("steps.push.outputs.digest", ((YamlMappingNode)summary["env"]).Children.Values.Select(v => v.ToString()).Single(v => v.Contains("digest", StringComparison.Ordinal)));
        Assert.Contains("digest:", summary["run"].ToString(), StringComparison.Ordinal);
        Assert.True(steps.IndexOf(summary) > steps.IndexOf(push));
    }

    [Fact]
    public void PinningByDigestAsTheReadmeShowsRunsThatDigestInBothContainers()
    {
        // The README's overlay, word for word apart from the digest.
        var readme = File.ReadAllText(Path.Combine(RepositoryPaths.Root, "README.md"));
        var overlay = Regex.Match(readme, "```yaml\\n(# kubernetes-pinned/kustomization.yaml\\n.*?)```", RegexOptions.Singleline);
        Assert.True(overlay.Success, "README shows no pinned overlay (a yaml block starting '# kubernetes-pinned/kustomization.yaml')");
        var directory = Path.Combine(RepositoryPaths.Root, "out", "kubernetes-pinned-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(directory);
        try
        {
            File.WriteAllText(Path.Combine(directory, "kustomization.yaml"),
                overlay.Groups[1].Value.Replace("sha256:<digest>", Digest, StringComparison.Ordinal)
                    .Replace("../kubernetes", Path.GetRelativePath(directory, RepositoryPaths.Kubernetes), StringComparison.Ordinal));

            var rendered = Kubectl("kustomize", directory);

            var images = Regex.Matches(rendered, @"^\s+image: (\S+)$", RegexOptions.Multiline).Select(m => m.Groups[1].Value).ToList();
            Assert.Equal(2, images.Count);
            Assert.All(images, image => Assert.Equal($"ghcr.io/aks-auditd/aks-auditd@{Digest}", image));
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }

        // And the base says how, next to the tag it pins by default.
        Assert.Contains("digest:", File.ReadAllText(RepositoryPaths.InKubernetes("kustomization.yaml")), StringComparison.Ordinal);
    }

    private static YamlNode Load(string path)
    {
        var stream = new YamlStream();
        using var reader = new StringReader(File.ReadAllText(path));
        stream.Load(reader);
        return stream.Documents[0].RootNode;
    }

    private static string Kubectl(params string[] arguments)
    {
        var start = new ProcessStartInfo("kubectl") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEnd();
        var error = process.StandardError.ReadToEnd();
        process.WaitForExit();
        Assert.True(process.ExitCode == 0, $"kubectl {string.Join(' ', arguments)} failed: {error}");
        return output;
    }
}
