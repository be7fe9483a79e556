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
            Skip = reason;
        }
    }
}

/// <summary>Decides whether kernel tests can run here.</summary>
public static class KernelSupport
{
    public static bool IsCi => TestSupport.KernelTestGate.IsCi;

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
