namespace BpfAgent.Tests;

/// <summary>
/// A test that needs the real kernel and the built agent. Under CI (CI=true) it always runs, so a missing
/// prerequisite fails it; elsewhere it is skipped with the reason.
/// </summary>
[AttributeUsage(AttributeTargets.Method)]
public sealed class KernelFactAttribute : FactAttribute
{
    public KernelFactAttribute()
    {
        if (Paths.KernelSkipReason is string reason)
        {
            Skip = reason;
        }
    }
}
