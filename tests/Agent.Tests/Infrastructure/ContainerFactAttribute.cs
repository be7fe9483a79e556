namespace BpfAgent.Tests;

/// <summary>A test that runs podman containers: the kernel's prerequisites plus podman, buildah and runc.</summary>
[AttributeUsage(AttributeTargets.Method)]
public sealed class ContainerFactAttribute : FactAttribute
{
    public ContainerFactAttribute()
    {
        if (Podman.SkipReason is string reason)
        {
            Skip = reason;
        }
    }
}
