namespace Bpf.Tests;

/// <summary>
/// A test that needs the real kernel (root or CAP_BPF+CAP_PERFMON, BTF, bpffs, built test objects).
/// Under CI (CI=true) it always runs, so a missing prerequisite fails it; a developer without BPF sees it
/// skipped with the reason.
/// </summary>
[AttributeUsage(AttributeTargets.Method)]
public sealed class KernelFactAttribute : FactAttribute
{
    public KernelFactAttribute()
    {
        if (KernelSupport.SkipReason is string reason)
        {
            base.Skip = reason;
        }
    }

    /// <summary>
    /// The first Linux version (for example "6.1") with the kernel feature the test exercises, named in
    /// <see cref="Feature"/>. On an older kernel the test is skipped with that reason, under CI too: the kernel
    /// lacking a feature is a fact about it, not a broken test machine.
    /// </summary>
    public string? MinimumKernel { get; set; }

    public string Feature { get; set; } = "the feature this test exercises";

    public override string Skip
    {
        get => base.Skip ?? (MinimumKernel is string v && KernelSupport.Release < Version.Parse(v)
            ? $"needs Linux {v}+ ({Feature}); this kernel is {KernelSupport.Release}"
            : null!);
        set => base.Skip = value;
    }
}

/// <summary>Decides whether kernel tests can run here.</summary>
public static class KernelSupport
{
    public static bool IsCi => TestSupport.KernelTestGate.IsCi;

    /// <summary>The running kernel's major.minor version.</summary>
    public static Version Release { get; } = ReadRelease();

    private static Version ReadRelease()
    {
        string[] parts = File.ReadAllText("/proc/sys/kernel/osrelease").Trim().Split('.', '-');
        return new Version(int.Parse(parts[0], System.Globalization.CultureInfo.InvariantCulture), int.Parse(parts[1], System.Globalization.CultureInfo.InvariantCulture));
    }

    /// <summary>Null when kernel tests should run (always under CI), else why they are skipped.</summary>
    public static string? SkipReason { get; } = TestSupport.KernelTestGate.SkipReason(TestObjects.Path("ringbuf_test"));
}

/// <summary>A <see cref="KernelFactAttribute"/> with data: a theory that needs the real kernel.</summary>
[AttributeUsage(AttributeTargets.Method)]
public sealed class KernelTheoryAttribute : TheoryAttribute
{
    public KernelTheoryAttribute()
    {
        if (KernelSupport.SkipReason is string reason)
        {
            Skip = reason;
        }
    }
}
