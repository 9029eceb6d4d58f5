using System.Diagnostics;
using AksAuditd.Tests.Shared;
using k8s;
using k8s.Models;
using Xunit;

namespace AksAuditd.PowerShell.Tests.DaemonSet;

/// <summary>
/// The rule packs under rules/: each loads into this machine's real kernel beside the default ConfigMap with no line
/// refused, checks clean for x86_64 and aarch64, names a control for every rule, never sets -e, and is offered as a
/// kustomize component that kubectl renders into the auditd-rules ConfigMap.
/// </summary>
public sealed class RulePackTests
{
    private static readonly string[] PackNames = ["cis", "stig", "pci-dss", "ospp"];

    public static TheoryData<string> Packs() => new(PackNames);

    private static string Rules => Path.Combine(RepositoryPaths.Root, "rules");

    [Theory]
    [MemberData(nameof(Packs))]
    public void EveryRuleNamesItsControlAndNoneLocksOrPanics(string pack)
    {
        foreach (var file in PackFiles(pack))
        {
            var lines = File.ReadAllLines(file);
            Assert.Contains(lines, l => l.StartsWith("## ", StringComparison.Ordinal) && l.Contains("Source:", StringComparison.Ordinal));
            var controlComment = false;
            var rules = 0;
            for (var i = 0; i < lines.Length; i++)
            {
                var line = lines[i].Trim();
                if (line.Length == 0)
                {
                    controlComment = false; // each block of rules opens with its own control
                    continue;
                }

                if (line.StartsWith('#'))
                {
                    controlComment = true;
                    continue;
                }

                rules++;
                Assert.True(controlComment, $"{file}:{i + 1}: '{line}' has no comment naming its control above it");
                Assert.False(line.StartsWith("-e", StringComparison.Ordinal), $"{file}:{i + 1}: -e belongs to kubernetes/components/immutable");
                Assert.DoesNotContain("-f 2", line);
                Assert.DoesNotContain("arch=b32", line); // 32-bit arm on arm64 nodes, which auditctl refuses
            }

            Assert.True(rules >= 10, $"{file} has only {rules} rules");
        }
    }

    [Theory]
    [MemberData(nameof(Packs))]
    public void EachPackIsCleanForBothArchitectures(string pack)
    {
        using var shell = new ModuleRunspace();
        var result = shell.Invoke("param($d) Test-AuditRule -Path $d -Arch x86_64,aarch64", new Dictionary<string, object?> { ["d"] = Path.Combine(Rules, pack) });
        Assert.Empty(result.AllErrors);
        Assert.DoesNotContain(result.Output, o => o.BaseObject.GetType().Name == "RuleDiagnostic");
        var loads = result.Output.Where(o => o.BaseObject.GetType().Name == "RuleArchitectureSummary").ToList();
        Assert.Equal(2 * PackFiles(pack).Count, loads.Count);
        Assert.All(loads, s => Assert.True((bool)s.Properties["Loads"].Value, $"{s.Properties["Path"].Value} does not load on {s.Properties["Arch"].Value}"));
    }

    [Theory]
    [MemberData(nameof(Packs))]
    public void TheComponentCarriesTheSamePackAndKubectlRendersIt(string pack)
    {
        var component = Path.Combine(RepositoryPaths.Kubernetes, "components", pack);
        foreach (var file in PackFiles(pack))
        {
            var copy = Path.Combine(component, Path.GetFileName(file));
            Assert.True(File.Exists(copy), $"{copy} is missing: copy {file} there");
            Assert.True(File.ReadAllText(file) == File.ReadAllText(copy), $"{copy} differs from {file}, its home: copy it again");
        }

        var rendered = Render(pack);
        var rules = rendered.OfType<V1ConfigMap>().Single(c => c.Metadata.Name == "auditd-rules");
        Assert.Equal("kube-system", rules.Metadata.NamespaceProperty);
        foreach (var file in PackFiles(pack))
        {
            Assert.Equal(File.ReadAllText(file), rules.Data[Path.GetFileName(file)]);
        }

        // The base's own files are all still there.
        Assert.Contains("10-kubernetes-noise.rules", rules.Data.Keys);
        Assert.Contains("zz-settings.rules", rules.Data.Keys);
    }

    [Fact]
    public void TheImmutableComponentAddsMinusETwoLastAndConsentsToIt()
    {
        var rendered = Render("immutable");
        var rules = rendered.OfType<V1ConfigMap>().Single(c => c.Metadata.Name == "auditd-rules");
        var last = rules.Data.Keys.Order(StringComparer.Ordinal).Last();
        Assert.Equal("zzz-finalize.rules", last);
        Assert.Equal("-e 2", rules.Data[last].Split('\n').Select(l => l.Trim()).Last(l => l.Length > 0 && !l.StartsWith('#')));
        var config = rendered.OfType<V1ConfigMap>().Single(c => c.Metadata.Name == "aks-auditd-config").Data["config.yaml"];
        var baseConfig = KubernetesYaml.Deserialize<V1ConfigMap>(File.ReadAllText(RepositoryPaths.InKubernetes("aks-auditd-config.yaml"))).Data["config.yaml"];
        Assert.StartsWith(baseConfig, config); // every other setting as the base has it
        Assert.EndsWith("allowImmutable: true\n", config);
        foreach (var pack in PackNames)
        {
            Assert.All(PackFiles(pack), f => Assert.DoesNotContain(File.ReadAllLines(f), l => l.Trim().StartsWith("-e", StringComparison.Ordinal)));
        }
    }

    [Fact]
    public void TheNoisePackHasOneHomeAndTheConfigMapCarriesItUnchanged()
    {
        var home = Path.Combine(Rules, "kubernetes-noise", "10-kubernetes-noise.rules");
        var configMap = KubernetesYaml.Deserialize<V1ConfigMap>(File.ReadAllText(RepositoryPaths.InKubernetes("auditd-rules.yaml")));
        Assert.Equal(File.ReadAllText(home), configMap.Data["10-kubernetes-noise.rules"]);
        var rules = File.ReadAllLines(home).Where(l => l.StartsWith('-')).ToList();
        Assert.NotEmpty(rules);
        Assert.All(rules, r => Assert.StartsWith("-a never,exit ", r));
        Assert.All(rules, r => Assert.EndsWith(" -F auid=unset", r)); // a login session is never excluded
    }

    [Theory]
    [MemberData(nameof(Packs))]
    public void RealKernelTakesThePackBesideTheDefaultRules(string pack)
    {
        // As augenrules would concatenate them: the default ConfigMap's files and the pack's, in name order. The
        // settings file's -b/-f/--backlog_wait_time are left out: they are DefaultRulesTests' concern.
        var configMap = KubernetesYaml.Deserialize<V1ConfigMap>(File.ReadAllText(RepositoryPaths.InKubernetes("auditd-rules.yaml")));
        var files = configMap.Data.Where(p => p.Key != "zz-settings.rules").ToDictionary(p => p.Key, p => p.Value);
        foreach (var file in PackFiles(pack))
        {
            files[Path.GetFileName(file)] = File.ReadAllText(file);
        }

        var lines = files.OrderBy(p => p.Key, StringComparer.Ordinal)
            .SelectMany(p => p.Value.Split('\n').Select(l => (File: p.Key, Line: l.Trim())))
            .Where(l => l.Line.StartsWith('-'))
            .ToList();

        using var kernelLock = KernelTestLock.Acquire();
        var enabledBefore = Status("enabled");
        Assert.NotEqual("2", enabledBefore);
        var previousRules = Auditctl("-l").Output;
        Assert.StartsWith("No rules", previousRules); // nothing of anyone's to put back
        var refused = new List<string>();
        try
        {
            Auditctl("-D");

            // Line by line, so every refused line is named (auditctl -R stops at the first and says why only in syslog).
            foreach (var (file, line) in lines)
            {
                var added = Auditctl(SplitRule(line));
                if (added.ExitCode != 0)
                {
                    refused.Add($"{file}: {line}: {added.Output.Trim()}");
                }
            }

            var listed = Auditctl("-l").Output.Split('\n', StringSplitOptions.RemoveEmptyEntries).Length;
            Assert.True(refused.Count == 0, "the kernel refused: " + string.Join("\n", refused));
            Assert.Equal(lines.Count, listed);
        }
        finally
        {
            Auditctl("-D");
            Auditctl("-e", enabledBefore);
        }
    }

    private static IReadOnlyList<string> PackFiles(string pack) =>
        Directory.GetFiles(Path.Combine(Rules, pack), "*.rules").Order(StringComparer.Ordinal).ToList();

    /// <summary>kubectl kustomize of an overlay with kubernetes/ as its resource and the component.</summary>
    private static List<IKubernetesObject> Render(string component)
    {
        var overlay = Directory.CreateTempSubdirectory("aks-auditd-overlay-");
        try
        {
            // kustomize takes relative paths only.
            var toRepo = Path.GetRelativePath(overlay.FullName, RepositoryPaths.Kubernetes);
            File.WriteAllText(Path.Combine(overlay.FullName, "kustomization.yaml"),
                $"resources:\n  - {toRepo}\ncomponents:\n  - {toRepo}/components/{component}\n");
            var (exitCode, output) = Run("kubectl", "kustomize", overlay.FullName);
            Assert.True(exitCode == 0, $"kubectl kustomize failed for {component}: {output}");
            return KubernetesYaml.LoadAllFromString(output).Cast<IKubernetesObject>().ToList();
        }
        finally
        {
            overlay.Delete(recursive: true);
        }
    }

    /// <summary>Rule words as auditctl's argv: no word of these packs is quoted or holds a space.</summary>
    private static string[] SplitRule(string line) => line.Split(' ', StringSplitOptions.RemoveEmptyEntries);

    private static string Status(string name) =>
        Auditctl("-s").Output.Split('\n').Select(l => l.Split(' ', 2)).First(p => p[0] == name)[1].Trim();

    private static (int ExitCode, string Output) Auditctl(params string[] arguments) => Run("auditctl", arguments);

    private static (int ExitCode, string Output) Run(string file, params string[] arguments)
    {
        var start = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        using var process = Process.Start(start)!;
        var error = process.StandardError.ReadToEndAsync();
        var output = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        return (process.ExitCode, output + error.Result);
    }
}
