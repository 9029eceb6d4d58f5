using System.Diagnostics;
using k8s;
using k8s.Models;
using Xunit;
using YamlDotNet.RepresentationModel;

namespace AksAuditd.PowerShell.Tests.DaemonSet;

/// <summary>
/// kubernetes/ as the API server would take it: every manifest is a valid typed object with no field the
/// API would drop or refuse, kustomize renders the set, and the DaemonSet keeps the least-privilege promises
/// its comments make.
/// </summary>
public sealed class ManifestTests
{
    public static TheoryData<string> Manifests()
    {
        var data = new TheoryData<string>();
        foreach (var file in Directory.GetFiles(RepositoryPaths.Kubernetes, "*.yaml").Where(f => Path.GetFileName(f) != "kustomization.yaml").Order())
        {
            data.Add(Path.GetFileName(file));
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(Manifests))]
    public void ManifestLoadsIntoTypedModelWithNoUnknownField(string name)
    {
        var text = File.ReadAllText(RepositoryPaths.InKubernetes(name));

        // strict: an unknown field throws instead of being dropped silently.
        var objects = KubernetesYaml.LoadAllFromString(text, null, strict: true);

        var loaded = Assert.Single(objects);
        Assert.IsAssignableFrom<IKubernetesObject<V1ObjectMeta>>(loaded);
        Assert.Equal("kube-system", ((IKubernetesObject<V1ObjectMeta>)loaded).Metadata.NamespaceProperty);

        // And nothing was lost on the way: every key path of the file is in the model's own serialization.
        var written = KeyPaths(KubernetesYaml.Serialize(loaded));
        var missing = KeyPaths(text).Except(written).ToList();
        Assert.True(missing.Count == 0, $"{name}: keys the typed model does not keep: {string.Join(", ", missing)}");
    }

    [Fact]
    public void StrictLoadingRefusesAnUnknownField()
    {
        // The check above is only worth something if a typo fails it.
        var text = File.ReadAllText(RepositoryPaths.InKubernetes("daemonset.yaml")).Replace("hostPID: true", "hostPid: true");

        Assert.ThrowsAny<Exception>(() => KubernetesYaml.LoadAllFromString(text, null, strict: true));
    }

    [Fact]
    public void KustomizeRendersTheDaemonSetAndItsThreeConfigMapsInKubeSystem()
    {
        var rendered = Kubectl("kustomize", RepositoryPaths.Kubernetes);

        var objects = KubernetesYaml.LoadAllFromString(rendered, null, strict: true);
        Assert.Equal(
            new[] { "ConfigMap/aks-auditd-config", "ConfigMap/audisp-plugins", "ConfigMap/auditd-rules", "DaemonSet/aks-auditd" },
            objects.Cast<IKubernetesObject<V1ObjectMeta>>().Select(o => $"{o.Kind}/{o.Metadata.Name}").Order());
        Assert.All(objects.Cast<IKubernetesObject<V1ObjectMeta>>(), o => Assert.Equal("kube-system", o.Metadata.NamespaceProperty));

        // The selector is immutable on a live DaemonSet: kustomize's labels must not have reached it.
        var daemonSet = objects.OfType<V1DaemonSet>().Single();
        Assert.Equal(new Dictionary<string, string> { ["app.kubernetes.io/name"] = "aks-auditd" }, daemonSet.Spec.Selector.MatchLabels);
        Assert.Equal(ImageReference, daemonSet.Spec.Template.Spec.Containers.Single().Image);
    }

    [Fact]
    public void ImageTagIsTheModuleVersionEverywhere()
    {
        var pod = DaemonSet.Spec.Template.Spec;
        Assert.All(pod.InitContainers.Concat(pod.Containers), c => Assert.Equal(ImageReference, c.Image));
        var kustomization = Yaml(File.ReadAllText(RepositoryPaths.InKubernetes("kustomization.yaml")));
        var image = (YamlMappingNode)((YamlSequenceNode)kustomization["images"]).Children.Single();
        Assert.Equal(ImageReference, $"{image["name"]}:{image["newTag"]}");
    }

    [Fact]
    public void OnlyTheInitContainerIsPrivileged()
    {
        var init = DaemonSet.Spec.Template.Spec.InitContainers.Single();
        Assert.True(init.SecurityContext.Privileged);
        Assert.Equal(new[] { "-Init" }, init.Args);
        Assert.True(HasComment("privileged: true"), "the init container's privilege needs its reason in a comment");

        var main = MainContainer;
        Assert.False(main.SecurityContext.Privileged ?? false);
        Assert.False(main.SecurityContext.AllowPrivilegeEscalation ?? true);
        Assert.Null(main.Args);
    }

    [Fact]
    public void MainContainerRunsWithHostPidAndOnlyTheCapabilitiesItNeeds()
    {
        var pod = DaemonSet.Spec.Template.Spec;
        Assert.True(pod.HostPID);
        Assert.True(HasComment("hostPID: true"));
        Assert.False(pod.HostNetwork ?? false);
        Assert.False(pod.HostIPC ?? false);
        Assert.False(pod.AutomountServiceAccountToken ?? true);

        var capabilities = MainContainer.SecurityContext.Capabilities;
        Assert.Equal(new[] { "ALL" }, capabilities.Drop);
        Assert.Equal(new[] { "AUDIT_CONTROL", "AUDIT_WRITE", "SYS_CHROOT" }, capabilities.Add.Order());
        Assert.True(HasComment("add: [\"AUDIT_CONTROL\", \"AUDIT_WRITE\", \"SYS_CHROOT\"]"));
        // Why AUDIT_WRITE: the containers/common seccomp profile refuses the audit socket without it.
        Assert.Contains("# AUDIT_WRITE: open the audit netlink socket", File.ReadAllText(RepositoryPaths.InKubernetes("daemonset.yaml")));
    }

    [Fact]
    public void MainContainerHasAReadOnlyRootAndTheRuntimeDefaultSeccompProfile()
    {
        var security = MainContainer.SecurityContext;
        Assert.True(security.ReadOnlyRootFilesystem);
        Assert.True(HasComment("readOnlyRootFilesystem: true"));
        var seccomp = security.SeccompProfile ?? DaemonSet.Spec.Template.Spec.SecurityContext?.SeccompProfile;
        Assert.Equal("RuntimeDefault", seccomp?.Type);
    }

    [Fact]
    public void HostRootIsReadOnlyAndOnlyAuditConfigAndStateAreWritable()
    {
        var volumes = DaemonSet.Spec.Template.Spec.Volumes.ToDictionary(v => v.Name);
        var mounts = MainContainer.VolumeMounts;
        var config = Configuration;

        var root = mounts.Single(m => volumes[m.Name].HostPath?.Path == "/");
        Assert.Equal(config["hostRoot"], root.MountPath);
        Assert.True(root.ReadOnlyProperty);
        Assert.Equal("IfPossible", root.RecursiveReadOnly);

        // Every node path the container can write, and nothing else from the node.
        var writableHostPaths = mounts
            .Where(m => volumes[m.Name].HostPath is not null && m.ReadOnlyProperty != true)
            .Select(m => (Node: volumes[m.Name].HostPath.Path, m.MountPath))
            .OrderBy(p => p.Node)
            .ToList();
        Assert.Equal(new[] { ("/etc/audit", "/node/etc/audit"), ("/var/lib/aks-auditd", "/node/var/lib/aks-auditd") }, writableHostPaths);

        // They are where the configuration says the loop writes.
        Assert.StartsWith("/etc/audit/", config["rulesDirectory"] + "/");
        Assert.StartsWith("/etc/audit/", config["pluginsDirectory"] + "/");
        Assert.Equal("/var/lib/aks-auditd", config["stateDirectory"]);

        // Everything else writable is the pod's own scratch space.
        var otherWritable = mounts.Where(m => volumes[m.Name].HostPath is null && m.ReadOnlyProperty != true).ToList();
        Assert.All(otherWritable, m => Assert.NotNull(volumes[m.Name].EmptyDir));
        Assert.Contains(otherWritable, m => m.MountPath == "/tmp");
        Assert.Contains(otherWritable, m => m.MountPath == "/run/aks-auditd");
    }

    [Fact]
    public void ConfigMapsAreMountedWhereTheConfigurationLooksForThem()
    {
        var volumes = DaemonSet.Spec.Template.Spec.Volumes.ToDictionary(v => v.Name);
        var config = Configuration;
        foreach (var container in DaemonSet.Spec.Template.Spec.InitContainers.Concat(DaemonSet.Spec.Template.Spec.Containers))
        {
            string MountOf(string configMap) => container.VolumeMounts.Single(m => volumes[m.Name].ConfigMap?.Name == configMap).MountPath;

            Assert.Equal(config["rulesSource"], MountOf("auditd-rules"));
            Assert.Equal(config["pluginsSource"], MountOf("audisp-plugins"));
            Assert.Equal("/etc/aks-auditd", MountOf("aks-auditd-config"));
            Assert.All(container.VolumeMounts.Where(m => volumes[m.Name].ConfigMap is not null), m => Assert.True(m.ReadOnlyProperty));
        }
    }

    [Fact]
    public void RunsOnEveryLinuxNodeAsANodeCriticalPod()
    {
        var pod = DaemonSet.Spec.Template.Spec;
        Assert.Equal(new Dictionary<string, string> { ["kubernetes.io/os"] = "linux" }, pod.NodeSelector);
        var toleration = Assert.Single(pod.Tolerations);
        Assert.Equal("Exists", toleration.OperatorProperty);
        Assert.Null(toleration.Key);
        Assert.Null(toleration.Effect);
        Assert.Equal("system-node-critical", pod.PriorityClassName);
        Assert.True(HasComment("priorityClassName: system-node-critical"));
        Assert.True(HasComment("- operator: Exists") || HasComment("tolerations:"));
    }

    [Fact]
    public void UpdatesRollAndEveryContainerHasRequestsAndAMemoryLimit()
    {
        Assert.Equal("RollingUpdate", DaemonSet.Spec.UpdateStrategy.Type);
        // The README's privilege table promises maxUnavailable 10%: a bad image stops after a few nodes.
        Assert.Equal("10%", DaemonSet.Spec.UpdateStrategy.RollingUpdate?.MaxUnavailable?.Value);
        var pod = DaemonSet.Spec.Template.Spec;
        foreach (var container in pod.InitContainers.Concat(pod.Containers))
        {
            Assert.True(container.Resources.Requests.ContainsKey("cpu"), $"{container.Name} needs a CPU request");
            Assert.True(container.Resources.Requests.ContainsKey("memory"), $"{container.Name} needs a memory request");
            Assert.True(container.Resources.Limits.ContainsKey("memory"), $"{container.Name} needs a memory limit");
            Assert.True(
                container.Resources.Limits["memory"].ToDecimal() >= container.Resources.Requests["memory"].ToDecimal(),
                $"{container.Name}: the memory limit is below the request");
        }
    }

    [Fact]
    public void ProbesAskTheLoopOverHttpOnItsMetricsPort()
    {
        var port = Assert.Single(MainContainer.Ports);
        Assert.Equal(("metrics", 9877, "TCP"), (port.Name, port.ContainerPort, port.Protocol));
        Assert.Equal(":9877", Configuration.GetValueOrDefault("metricsAddress", ":9877"));
        var liveness = MainContainer.LivenessProbe;
        Assert.Equal(("/healthz", "metrics"), (liveness.HttpGet.Path, liveness.HttpGet.Port.Value));
        Assert.Null(liveness.Exec);
        Assert.True(liveness.PeriodSeconds * liveness.FailureThreshold >= 60, "a probe this tight restarts a loop that is only busy");
        var readiness = MainContainer.ReadinessProbe;
        Assert.Equal(("/readyz", "metrics"), (readiness.HttpGet.Path, readiness.HttpGet.Port.Value));
        Assert.True(HasComment("httpGet:"));
    }

    [Fact]
    public void ThePodCarriesTheScrapeAnnotationsOfAzureMonitorManagedPrometheus()
    {
        var annotations = DaemonSet.Spec.Template.Metadata.Annotations;
        Assert.Equal("true", annotations["prometheus.io/scrape"]);
        Assert.Equal("9877", annotations["prometheus.io/port"]);
        Assert.Equal("/metrics", annotations["prometheus.io/path"]);
        // Without the fleet-status component the loop makes no API call and holds no token.
        Assert.False(DaemonSet.Spec.Template.Spec.AutomountServiceAccountToken);
    }

    [Fact]
    public void KustomizeRendersTheBaseWithTheFleetStatusComponent()
    {
        var overlay = Directory.CreateTempSubdirectory("aks-auditd-overlay-");
        try
        {
            var relative = Path.GetRelativePath(overlay.FullName, RepositoryPaths.Kubernetes);
            File.WriteAllText(Path.Combine(overlay.FullName, "kustomization.yaml"),
                $"apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n  - {relative}\ncomponents:\n  - {relative}/components/fleet-status\n");
            var objects = KubernetesYaml.LoadAllFromString(Kubectl("kustomize", overlay.FullName), null, strict: true).Cast<IKubernetesObject<V1ObjectMeta>>().ToList();

            Assert.Equal(
                new[] { "ClusterRole/aks-auditd-node-status", "ClusterRoleBinding/aks-auditd-node-status", "ConfigMap/aks-auditd-config", "ConfigMap/audisp-plugins", "ConfigMap/auditd-rules", "DaemonSet/aks-auditd", "ServiceAccount/aks-auditd" },
                objects.Select(o => $"{o.Kind}/{o.Metadata.Name}").Order());
            var pod = objects.OfType<V1DaemonSet>().Single().Spec.Template.Spec;
            Assert.Equal("aks-auditd", pod.ServiceAccountName);
            Assert.True(pod.AutomountServiceAccountToken);
            var env = pod.Containers.Single().Env.ToDictionary(e => e.Name);
            Assert.Equal("true", env["AA_NODE_STATUS"].Value);
            Assert.Equal("spec.nodeName", env["NODE_NAME"].ValueFrom.FieldRef.FieldPath);

            // node-problem-detector's grants, and nothing more.
            var role = objects.OfType<V1ClusterRole>().Single();
            Assert.Equal(
                new[] { "/nodes/status:patch", "/nodes:get", "events.k8s.io/events:create,patch" },
                role.Rules.Select(r => $"{string.Join(",", r.ApiGroups)}/{string.Join(",", r.Resources)}:{string.Join(",", r.Verbs)}").Order(StringComparer.Ordinal));
            var binding = objects.OfType<V1ClusterRoleBinding>().Single();
            Assert.Equal(("ServiceAccount", "aks-auditd", "kube-system"), (binding.Subjects.Single().Kind, binding.Subjects.Single().Name, binding.Subjects.Single().NamespaceProperty));
            Assert.Contains("# On with this component only", File.ReadAllText(Path.Combine(RepositoryPaths.Kubernetes, "components/fleet-status/daemonset-patch.yaml")), StringComparison.Ordinal);
        }
        finally
        {
            overlay.Delete(recursive: true);
        }
    }

    private const string ImageRepository = "ghcr.io/aks-auditd/aks-auditd";

    private static string ImageReference => $"{ImageRepository}:{RepositoryPaths.Version}";

    private static V1DaemonSet DaemonSet =>
        KubernetesYaml.Deserialize<V1DaemonSet>(File.ReadAllText(RepositoryPaths.InKubernetes("daemonset.yaml")), strict: true);

    private static V1Container MainContainer => DaemonSet.Spec.Template.Spec.Containers.Single();

    /// <summary>The config.yaml of the aks-auditd-config ConfigMap, as key to scalar.</summary>
    private static IReadOnlyDictionary<string, string> Configuration
    {
        get
        {
            var configMap = KubernetesYaml.Deserialize<V1ConfigMap>(File.ReadAllText(RepositoryPaths.InKubernetes("aks-auditd-config.yaml")), strict: true);
            return Yaml(configMap.Data["config.yaml"]).Children
                .Where(p => p.Value is YamlScalarNode)
                .ToDictionary(p => ((YamlScalarNode)p.Key).Value!, p => ((YamlScalarNode)p.Value).Value ?? string.Empty);
        }
    }

    /// <summary>True when the line holding <paramref name="text"/> in daemonset.yaml has a comment right above it or at its end.</summary>
    private static bool HasComment(string text)
    {
        var lines = File.ReadAllLines(RepositoryPaths.InKubernetes("daemonset.yaml"));
        var index = Array.FindIndex(lines, l => l.Trim() == text || l.TrimStart().StartsWith(text + " #", StringComparison.Ordinal));
        Assert.True(index >= 0, $"daemonset.yaml has no line '{text}'");
        return lines[index].Contains(" # ", StringComparison.Ordinal) || (index > 0 && lines[index - 1].TrimStart().StartsWith('#'));
    }

    private static YamlMappingNode Yaml(string text)
    {
        var stream = new YamlStream();
        stream.Load(new StringReader(text));
        return (YamlMappingNode)stream.Documents[0].RootNode;
    }

    /// <summary>Every mapping key as a path (spec.template.spec.containers[].name), across all documents.</summary>
    private static HashSet<string> KeyPaths(string text)
    {
        var stream = new YamlStream();
        stream.Load(new StringReader(text));
        var paths = new HashSet<string>(StringComparer.Ordinal);
        foreach (var document in stream.Documents)
        {
            Walk(document.RootNode, string.Empty);
        }

        return paths;

        void Walk(YamlNode node, string prefix)
        {
            switch (node)
            {
                case YamlMappingNode mapping:
                    foreach (var (key, value) in mapping.Children)
                    {
                        var path = prefix.Length == 0 ? ((YamlScalarNode)key).Value! : prefix + "." + ((YamlScalarNode)key).Value;
                        paths.Add(path);
                        Walk(value, path);
                    }

                    break;
                case YamlSequenceNode sequence:
                    foreach (var item in sequence.Children)
                    {
                        Walk(item, prefix + "[]");
                    }

                    break;
            }
        }
    }

    private static string Kubectl(params string[] arguments)
    {
        var start = new ProcessStartInfo("kubectl") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEnd();
        process.WaitForExit();
        Assert.True(process.ExitCode == 0, $"kubectl {string.Join(' ', arguments)} failed ({process.ExitCode}): {error}");
        return output.Result;
    }

    private static int Run(string[] command)
    {
        var start = new ProcessStartInfo(command[0]) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var argument in command.Skip(1))
        {
            start.ArgumentList.Add(argument);
        }

        using var process = Process.Start(start)!;
        process.WaitForExit();
        return process.ExitCode;
    }
}
