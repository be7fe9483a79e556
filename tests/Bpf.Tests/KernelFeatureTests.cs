namespace Bpf.Tests;

/// <summary>
/// Feature probes and the kernel's BTF, against what the running kernel's version says it has: task storage and
/// bpf_get_current_task_btf came in 5.11, the bpf_rdonly_cast kfunc in 6.2 (the portability matrix runs these on
/// 5.10, 6.1, 6.12 and 6.18, where the answers differ).
/// </summary>
public sealed class KernelFeatureTests : IDisposable
{
    private const int GetCurrentTaskBtf = 158; // BPF_FUNC_get_current_task_btf
    private const int KtimeGetNs = 5;          // BPF_FUNC_ktime_get_ns

    private readonly string _dir = Directory.CreateTempSubdirectory("bpf-btf-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static Version Kernel => KernelSupport.Release;

    [KernelFact]
    public void Map_type_probes_follow_the_kernel_version()
    {
        Assert.True(KernelFeatures.SupportsMapType(BpfMapType.Hash));
        Assert.True(KernelFeatures.SupportsMapType(BpfMapType.RingBuffer));
        Assert.Equal(Kernel >= new Version(5, 11), KernelFeatures.SupportsMapType(BpfMapType.TaskStorage));
        Assert.Equal(Kernel >= new Version(6, 1), KernelFeatures.SupportsMapType(BpfMapType.UserRingBuffer));
    }

    [KernelFact]
    public void Helper_probes_follow_the_kernel_version_and_the_program_type()
    {
        Assert.True(KernelFeatures.SupportsHelper(BpfProgramType.RawTracepoint, KtimeGetNs));
        Assert.Equal(Kernel >= new Version(5, 11), KernelFeatures.SupportsHelper(BpfProgramType.RawTracepoint, GetCurrentTaskBtf));
        // A helper id past every kernel's last one.
        Assert.False(KernelFeatures.SupportsHelper(BpfProgramType.RawTracepoint, 100_000));
        // libbpf cannot probe programs that need an attach target, and says so.
        BpfException e = Assert.Throws<BpfException>(() => KernelFeatures.SupportsHelper(BpfProgramType.Tracing, KtimeGetNs));
        Assert.Equal(95, e.Errno); // EOPNOTSUPP
    }

    [KernelFact]
    public void The_kernels_btf_has_its_types_and_kfuncs_and_a_copy_of_it_has_the_same()
    {
        string copy = Path.Combine(_dir, "vmlinux");
        File.Copy("/sys/kernel/btf/vmlinux", copy);
        foreach (string? path in new[] { null, copy })
        {
            using KernelBtf btf = KernelBtf.Open(path);
            Assert.Equal(path ?? "vmlinux", btf.Source);
            Assert.True(btf.HasType("task_struct", BtfKind.Struct));
            Assert.True(btf.HasType("bpf_map_type", BtfKind.Enum));
            Assert.False(btf.HasType("task_struct", BtfKind.Union));
            Assert.False(btf.HasType("bpf_agent_no_such_type", BtfKind.Struct));
            Assert.Equal(Kernel >= new Version(6, 2), btf.HasType("bpf_rdonly_cast", BtfKind.Function));
        }
    }

    [KernelFact]
    public void A_file_that_is_not_btf_is_refused_naming_it()
    {
        string bogus = Path.Combine(_dir, "not-btf");
        File.WriteAllText(bogus, "this is not BTF");
        BpfException e = Assert.Throws<BpfException>(() => KernelBtf.Open(bogus));
        Assert.Contains(bogus, e.Message, StringComparison.Ordinal);
        Assert.Contains("btf__parse", e.Message, StringComparison.Ordinal);
    }

    [KernelFact]
    public void A_disposed_kernel_btf_throws()
    {
        KernelBtf btf = KernelBtf.Open();
        btf.Dispose();
        btf.Dispose();
        Assert.Throws<ObjectDisposedException>(() => btf.HasType("task_struct", BtfKind.Struct));
    }
}
