using BpfAgent.Decoding;
using static BpfAgent.Tests.Decoders.DecoderKit;

namespace BpfAgent.Tests.Decoders;

/// <summary>
/// Container identity from cgroup paths as each runtime and cgroup driver lays them out (strings only, no root),
/// and the container_id / pod_uid / container_runtime decoders on real cgroups made with those names.
/// </summary>
public sealed class ContainerIdentityTests
{
    private const string Id = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
    private const string Uid = "6f1c2a3b-4d5e-4f60-8a1b-2c3d4e5f6a7b";
    private static readonly string s_uidSystemd = Uid.Replace('-', '_');

    public static TheoryData<string, string, string, string> Layouts => new()
    {
        // systemd driver
        { $"/sys/fs/cgroup/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod{s_uidSystemd}.slice/cri-containerd-{Id}.scope", "containerd", Id, Uid },
        { $"/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod{s_uidSystemd}.slice/crio-{Id}.scope", "cri-o", Id, Uid },
        { $"/kubepods.slice/kubepods-pod{s_uidSystemd}.slice/cri-containerd-{Id}.scope", "containerd", Id, Uid },
        { $"/kubepods.slice/kubepods-pod{s_uidSystemd}.slice/docker-{Id}.scope", "docker", Id, Uid },
        { $"/system.slice/docker-{Id}.scope", "docker", Id, "" },
        { $"/machine.slice/libpod-{Id}.scope", "podman", Id, "" },
        { $"/machine.slice/libpod-{Id}.scope/container", "podman", Id, "" },
        { $"/user.slice/user-1000.slice/user@1000.service/user.slice/libpod-{Id}.scope", "podman", Id, "" },

        // cgroupfs driver
        { $"/sys/fs/cgroup/unified/kubepods/burstable/pod{Uid}/{Id}", "cri", Id, Uid },
        { $"/kubepods/besteffort/pod{Uid}/{Id}", "cri", Id, Uid },
        { $"/kubepods/pod{Uid}/{Id}", "cri", Id, Uid },
        { $"/kubepods/burstable/pod{Uid}/crio-{Id}", "cri-o", Id, Uid },
        { $"/kubepods/pod0f3d3a0c5e8b4a1f9d2c7b6a5e4d3c2b/{Id}", "cri", Id, "0f3d3a0c5e8b4a1f9d2c7b6a5e4d3c2b" }, // a static pod's hash
        { $"/docker/{Id}", "docker", Id, "" },
        { $"/sys/fs/cgroup/unified/libpod_parent/libpod-{Id}", "podman", Id, "" },
        { $"/libpod_parent/libpod-pod-1234/libpod-{Id}", "podman", Id, "" },
    };

    [Theory]
    [MemberData(nameof(Layouts))]
    public void Each_runtime_and_driver_layout_gives_the_container_its_pod_and_runtime(string path, string runtime, string id, string podUid)
    {
        ContainerIdentity c = ContainerIdentity.Parse(path);
        Assert.Equal(new ContainerIdentity(runtime, id, podUid), c);
        Assert.False(c.IsHost);
    }

    [Theory]
    [InlineData("/")]
    [InlineData("")]
    [InlineData("/sys/fs/cgroup/unified")]
    [InlineData("/system.slice/ssh.service")]
    [InlineData("/user.slice/user-0.slice/session-3.scope")]
    [InlineData("/system.slice/docker.service")]
    [InlineData("/system.slice/docker-compose.scope")]
    [InlineData("/libpod_parent/libpod-conmon-" + Id)] // podman's monitor, not the container
    [InlineData("/machine.slice/libpod-conmon-" + Id + ".scope")]
    [InlineData("/kubepods.slice/kubepods-burstable.slice/crio-conmon-" + Id + ".scope")]
    [InlineData("/process_api/fc74b12293d8ef81d6abae79202017ab")] // not under a pod or /docker: a bare hash is no container
    [InlineData("/docker/" + "0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF")] // ids are lowercase
    [InlineData("/docker/0123456789abcdef")] // too short
    [InlineData("/kubepods.slice/kubepods-burstable.slice")] // the QoS slice itself
    public void Host_cgroups_and_near_misses_have_empty_values(string path)
    {
        Assert.Same(ContainerIdentity.Host, ContainerIdentity.Parse(path));
        Assert.True(ContainerIdentity.Host.IsHost);
        Assert.Equal(("", "", ""), (ContainerIdentity.Host.Runtime, ContainerIdentity.Host.ContainerId, ContainerIdentity.Host.PodUid));
    }

    [Fact]
    public void A_pod_slice_without_a_container_below_it_is_the_host_not_half_a_container()
    {
        // The pod's own cgroup (the pause process's parent) names no container.
        Assert.Same(ContainerIdentity.Host, ContainerIdentity.Parse($"/kubepods.slice/kubepods-pod{s_uidSystemd}.slice"));
        Assert.Same(ContainerIdentity.Host, ContainerIdentity.Parse($"/kubepods/burstable/pod{Uid}"));
    }

    [Fact]
    public void After_the_cgroup_decoder_a_path_is_read_as_text_and_an_unknown_id_stays_unknown()
    {
        FieldValueDecoder d = On(Chars(200), new DecoderSpec("string"), new DecoderSpec("container_id"));
        Assert.Equal(Id, d.Label(Text($"/sys/fs/cgroup/unified/libpod_parent/libpod-{Id}", 200)));
        Assert.Equal("", d.Label(Text("/sys/fs/cgroup/unified/system.slice/ssh.service", 200)));
        Assert.Equal("unknown", d.Label(Text("unknown_cgroup_id:42", 200)));
        Assert.Equal(Uid, On(Chars(200), new DecoderSpec("string"), new DecoderSpec("pod_uid")).Label(Text($"/kubepods/pod{Uid}/{Id}", 200)));
        Assert.Equal("cri", On(Chars(200), new DecoderSpec("string"), new DecoderSpec("container_runtime")).Label(Text($"/kubepods/pod{Uid}/{Id}", 200)));
    }

    [Fact]
    public void The_decoders_take_no_parameters_and_need_an_integer_cgroup_id()
    {
        Assert.Contains("takes no \"regexps\"", Refusal(U64, new DecoderSpec("container_id") { Regexps = ["x"] }), StringComparison.Ordinal);
        Assert.Contains("needs an integer", Refusal(Bytes(3), new DecoderSpec("pod_uid")), StringComparison.Ordinal);
    }

    [KernelFact]
    public void Real_cgroups_named_as_a_runtime_names_them_decode_by_id_and_host_ones_are_empty()
    {
        string mount = CgroupPaths.FindCgroup2Mount() ?? throw new InvalidOperationException("no cgroup2 mount");
        string root = Path.Combine(mount, $"bpf-agent-containers-{Environment.ProcessId}");
        var paths = new CgroupPaths(mount, rescanInterval: TimeSpan.Zero);
        var context = new DecoderContext(cgroups: () => paths);
        FieldValueDecoder id = On(U64, context, new DecoderSpec("container_id"));
        FieldValueDecoder pod = On(U64, context, new DecoderSpec("pod_uid"));
        FieldValueDecoder runtime = On(U64, context, new DecoderSpec("container_runtime"));
        try
        {
            string container = Directory.CreateDirectory(Path.Combine(root, "kubepods", "burstable", $"pod{Uid}", Id)).FullName;
            string hostish = Directory.CreateDirectory(Path.Combine(root, "system.slice", "ssh.service")).FullName;
            byte[] c = Int((long)CgroupPaths.Inode(container)!.Value, 8);
            byte[] h = Int((long)CgroupPaths.Inode(hostish)!.Value, 8);
            Assert.Equal((Id, Uid, "cri"), (id.Label(c), pod.Label(c), runtime.Label(c)));
            Assert.Equal(("", "", ""), (id.Label(h), pod.Label(h), runtime.Label(h)));

            // After cgroup in a chain: the path it gave.
            Assert.Equal(Id, On(U64, context, new DecoderSpec("cgroup"), new DecoderSpec("container_id")).Label(c));

            // An id with no cgroup (yet): "unknown", counted, and asked again next time (not cached).
            long before = DecoderNotices.UnknownCount("container_id");
            Assert.Equal("unknown", id.Label(Int(long.MaxValue, 8)));
            Assert.Equal("unknown", id.Label(Int(long.MaxValue, 8)));
            Assert.Equal(before + 2, DecoderNotices.UnknownCount("container_id"));
        }
        finally
        {
            if (Directory.Exists(root))
            {
                // cgroups go with rmdir, deepest first.
                foreach (string dir in Directory.GetDirectories(root, "*", SearchOption.AllDirectories).OrderByDescending(d => d.Length))
                {
                    Directory.Delete(dir);
                }

                Directory.Delete(root);
            }
        }
    }
}
