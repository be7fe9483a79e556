namespace BpfAgent.Decoding;

/// <summary>
/// Which container (and Kubernetes pod) a cgroup belongs to, read from the cgroup's path as the common runtimes
/// and cgroup drivers lay it out:
/// <list type="bullet">
/// <item>systemd driver: <c>kubepods[-burstable|-besteffort]-pod&lt;uid&gt;.slice/cri-containerd-&lt;id&gt;.scope</c>,
/// <c>crio-&lt;id&gt;.scope</c>, <c>docker-&lt;id&gt;.scope</c>, <c>libpod-&lt;id&gt;.scope</c> (the pod uid with '_' for '-');</item>
/// <item>cgroupfs driver: <c>/kubepods[/&lt;qos&gt;]/pod&lt;uid&gt;/&lt;id&gt;</c> (or <c>crio-&lt;id&gt;</c>), <c>/docker/&lt;id&gt;</c>,
/// <c>/libpod_parent/.../libpod-&lt;id&gt;</c>.</item>
/// </list>
/// The first container segment from the root decides, so a container's own sub-cgroups (systemd in a container,
/// podman's <c>libpod-&lt;id&gt;.scope/container</c>) count as that container. A runtime's monitor (<c>crio-conmon-</c>,
/// <c>libpod-conmon-</c>) and host processes have empty values. An id is 64 lowercase hex digits, or it is not taken.
/// </summary>
public sealed record ContainerIdentity(string Runtime, string ContainerId, string PodUid)
{
    /// <summary>What a host process (no container) gets: every value empty.</summary>
    public static ContainerIdentity Host { get; } = new("", "", "");

    /// <summary>The runtime named when the path shows a Kubernetes pod but not which CRI runtime made the container.</summary>
    public const string UnnamedCriRuntime = "cri";

    private const int IdLength = 64;

    // Scope prefixes of the systemd driver (and the cgroupfs prefixes that match them), longest first.
    private static readonly (string Prefix, string Runtime)[] s_prefixes =
    [
        ("cri-containerd-", "containerd"),
        ("crio-", "cri-o"),
        ("docker-", "docker"),
        ("libpod-", "podman"),
    ];

    public bool IsHost => ContainerId.Length == 0;

    /// <summary>The container of the cgroup at <paramref name="path"/> (absolute, or relative to the cgroup2 mount).</summary>
    public static ContainerIdentity Parse(string path)
    {
        string podUid = "";
        bool kubepods = false;
        string? parent = null;
        foreach (string segment in path.Split('/', StringSplitOptions.RemoveEmptyEntries))
        {
            if (segment == "kubepods" || segment.StartsWith("kubepods.", StringComparison.Ordinal) || segment.StartsWith("kubepods-", StringComparison.Ordinal))
            {
                kubepods = true;
            }

            if (kubepods && ReadPodUid(segment) is string uid)
            {
                podUid = uid;
            }
            else if (ReadContainer(segment, parent, kubepods) is (string runtime, string id))
            {
                return new ContainerIdentity(runtime, id, podUid);
            }

            parent = segment;
        }

        return Host;
    }

    // "pod<uid>" (cgroupfs) or "kubepods[-qos]-pod<uid with _>.slice" (systemd).
    private static string? ReadPodUid(string segment)
    {
        ReadOnlySpan<char> s = segment;
        if (s.EndsWith(".slice"))
        {
            int at = s.LastIndexOf("-pod");
            if (at < 0)
            {
                return null;
            }

            s = s[(at + 4)..^6];
        }
        else if (s.StartsWith("pod"))
        {
            s = s[3..];
        }
        else
        {
            return null;
        }

        // A uid (8-4-4-4-12 hex) or a static pod's 32-hex hash; the systemd driver writes '_' for '-'.
        if (s.Length is not (32 or 36))
        {
            return null;
        }

        Span<char> uid = stackalloc char[s.Length];
        for (int i = 0; i < s.Length; i++)
        {
            char c = s[i] == '_' ? '-' : s[i];
            if (!(char.IsAsciiHexDigitLower(c) || char.IsAsciiDigit(c) || c == '-'))
            {
                return null;
            }

            uid[i] = c;
        }

        return new string(uid);
    }

    private static (string Runtime, string Id)? ReadContainer(string segment, string? parent, bool kubepods)
    {
        ReadOnlySpan<char> s = segment;
        if (s.EndsWith(".scope"))
        {
            s = s[..^6];
        }

        foreach ((string prefix, string runtime) in s_prefixes)
        {
            if (s.StartsWith(prefix) && IsId(s[prefix.Length..]))
            {
                return (runtime, new string(s[prefix.Length..]));
            }
        }

        // A bare id: cgroupfs under a pod (the CRI runtime does not show) or under /docker.
        if (IsId(s) && s.Length == segment.Length)
        {
            if (kubepods)
            {
                return (UnnamedCriRuntime, segment);
            }

            if (parent == "docker")
            {
                return ("docker", segment);
            }
        }

        return null;
    }

    private static bool IsId(ReadOnlySpan<char> s)
    {
        if (s.Length != IdLength)
        {
            return false;
        }

        foreach (char c in s)
        {
            if (!(char.IsAsciiDigit(c) || c is >= 'a' and <= 'f'))
            {
                return false;
            }
        }

        return true;
    }
}
