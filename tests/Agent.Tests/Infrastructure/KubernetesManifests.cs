using YamlDotNet.RepresentationModel;

namespace BpfAgent.Tests;

/// <summary>
/// deploy/kubernetes/ read as YAML nodes (scalars keep their style, so numbers stay numbers when written back), and
/// turned into what `podman kube play` runs: the DaemonSet's pod template as a Pod, the program sets as a ConfigMap.
/// </summary>
public static class KubernetesManifests
{
    public static string Directory => Path.Combine(Paths.Root, "deploy", "kubernetes");

    public static YamlMappingNode Load(string file)
    {
        var stream = new YamlStream();
        using var reader = new StreamReader(Path.Combine(Directory, file));
        stream.Load(reader);
        return (YamlMappingNode)stream.Documents.Single().RootNode;
    }

    public static YamlNode At(YamlNode node, params string[] path) =>
        path.Aggregate(node, (n, key) => ((YamlMappingNode)n).Children[new YamlScalarNode(key)]);

    public static string Text(YamlNode node, params string[] path) => ((YamlScalarNode)At(node, path)).Value!;

    /// <summary>
    /// The DaemonSet's pod template as a Pod named <paramref name="name"/>: its spec unchanged but for what kubelet
    /// or kustomize would fill in and podman 4.3 cannot: the image kustomize sets, the downward API's
    /// <c>status.podIP</c> (the address podman is told to give the pod), <c>$(VAR)</c> references in env values, and
    /// the seccomp profile as the annotation podman reads.
    /// <paramref name="extraEnv"/> is added to the container's env; the ConfigMap volume is renamed to <paramref name="configMap"/>.
    /// </summary>
    public static string PodFromDaemonSet(string name, string image, string podIp, string configMap, IReadOnlyDictionary<string, string> extraEnv)
    {
        YamlMappingNode template = (YamlMappingNode)At(Load("daemonset.yaml"), "spec", "template");
        var spec = (YamlMappingNode)At(template, "spec");
        var container = (YamlMappingNode)((YamlSequenceNode)At(spec, "containers")).Children.Single();
        container.Children[new YamlScalarNode("image")] = new YamlScalarNode(image);
        var env = (YamlSequenceNode)At(container, "env");
        var values = new Dictionary<string, string>();
        foreach (YamlMappingNode e in env.Children.Cast<YamlMappingNode>())
        {
            string envName = Text(e, "name");
            if (e.Children.ContainsKey(new YamlScalarNode("valueFrom")))
            {
                Assert.Equal("status.podIP", Text(e, "valueFrom", "fieldRef", "fieldPath"));
                e.Children.Remove(new YamlScalarNode("valueFrom"));
                e.Children[new YamlScalarNode("value")] = new YamlScalarNode(podIp);
            }

            string value = Text(e, "value");
            foreach ((string k, string v) in values)
            {
                value = value.Replace($"$({k})", v, StringComparison.Ordinal);
            }

            e.Children[new YamlScalarNode("value")] = new YamlScalarNode(value) { Style = YamlDotNet.Core.ScalarStyle.DoubleQuoted };
            values[envName] = value;
        }

        foreach ((string k, string v) in extraEnv)
        {
            env.Add(new YamlMappingNode { { "name", k }, { "value", new YamlScalarNode(v) { Style = YamlDotNet.Core.ScalarStyle.DoubleQuoted } } });
        }

        foreach (YamlMappingNode volume in ((YamlSequenceNode)At(spec, "volumes")).Children.Cast<YamlMappingNode>())
        {
            if (volume.Children.TryGetValue(new YamlScalarNode("configMap"), out YamlNode? cm))
            {
                ((YamlMappingNode)cm).Children[new YamlScalarNode("name")] = new YamlScalarNode(configMap);
            }
        }

        // podman 4.3 ignores securityContext.seccompProfile and reads the annotation Kubernetes had before it.
        Assert.Equal("Unconfined", Text(container, "securityContext", "seccompProfile", "type"));
        var annotations = new YamlMappingNode { { "seccomp.security.alpha.kubernetes.io/pod", "unconfined" } };
        var pod = new YamlMappingNode
        {
            { "apiVersion", "v1" },
            { "kind", "Pod" },
            { "metadata", new YamlMappingNode { { "name", name }, { "labels", At(template, "metadata", "labels") }, { "annotations", annotations } } },
            { "spec", spec },
        };
        return Save(pod);
    }

    /// <summary>The ConfigMap kustomization.yaml generates: one key per file of its configMapGenerator.</summary>
    public static string ProgramsConfigMap(string name)
    {
        var data = new YamlMappingNode();
        foreach (string file in GeneratedFiles())
        {
            data.Add(Path.GetFileName(file), new YamlScalarNode(File.ReadAllText(Path.Combine(Directory, file))) { Style = YamlDotNet.Core.ScalarStyle.Literal });
        }

        return Save(new YamlMappingNode
        {
            { "apiVersion", "v1" },
            { "kind", "ConfigMap" },
            { "metadata", new YamlMappingNode { { "name", name } } },
            { "data", data },
        });
    }

    /// <summary>The files of kustomization.yaml's configMapGenerator, relative to deploy/kubernetes.</summary>
    public static IReadOnlyList<string> GeneratedFiles()
    {
        var generator = (YamlMappingNode)((YamlSequenceNode)At(Load("kustomization.yaml"), "configMapGenerator")).Children.Single();
        return [.. ((YamlSequenceNode)At(generator, "files")).Children.Select(n => ((YamlScalarNode)n).Value!)];
    }

    private static string Save(YamlNode root)
    {
        using var writer = new StringWriter();
        new YamlStream(new YamlDocument(root)).Save(writer, assignAnchors: false);
        return writer.ToString();
    }
}
