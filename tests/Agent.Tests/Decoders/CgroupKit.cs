namespace BpfAgent.Tests.Decoders;

/// <summary>What the cgroup tests share: removing the cgroups they made, and measuring managed memory.</summary>
internal static class CgroupKit
{
    /// <summary>Removes cgroup <paramref name="root"/> and the cgroups directly under it (rmdir each).</summary>
    public static void RemoveTree(string root)
    {
        if (!Directory.Exists(root))
        {
            return;
        }

        foreach (string sub in Directory.GetDirectories(root))
        {
            Directory.Delete(sub);
        }

        Directory.Delete(root);
    }

    /// <summary>Managed memory in use after full collections.</summary>
    public static long Memory()
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
        return GC.GetTotalMemory(forceFullCollection: true);
    }
}
