using BpfAgent.Decoding;
using static BpfAgent.Tests.Decoders.CgroupKit;

namespace BpfAgent.Tests.Decoders;

/// <summary>
/// Missing cgroup ids looked up by file handle (CgroupHandles) on the host's real cgroup2 mount. The rescan interval
/// is an hour. A table that can only walk therefore misses a cgroup created after its first walk (a short-lived
/// container's, say). The same table with handles finds it with no walk, and says at once that a removed id is gone.
/// </summary>
public sealed class CgroupHandlesTests
{
    [KernelFact]
    public void A_cgroup_created_after_the_last_walk_is_found_by_its_handle_without_a_walk()
    {
        string mount = CgroupPaths.FindCgroup2Mount() ?? throw new InvalidOperationException("no cgroup2 mount");
        string dir = Path.Combine(mount, $"bpf-agent-handles-{Environment.ProcessId}");
        using var walking = new CgroupPaths(mount, rescanInterval: TimeSpan.FromHours(1));
        using var handles = new CgroupPaths(mount, rescanInterval: TimeSpan.FromHours(1), resolveByHandle: true);
        Assert.True(handles.ResolvesByHandle, handles.Mode);
        Assert.Null(walking.Find(ulong.MaxValue)); // its one walk for the hour
        Assert.Null(handles.Find(ulong.MaxValue)); // no cgroup has that id: no walk either
        try
        {
            ulong id = CgroupPaths.Inode(Directory.CreateDirectory(dir).FullName)!.Value;
            Assert.Null(walking.Find(id)); // created after the walk: missed for the rest of the hour
            Assert.Equal(dir, handles.Find(id));
            Assert.Equal(dir, handles.Find(id)); // the second time from the table
            Assert.Equal(0, handles.Scans);
            Assert.Equal(2, handles.Lookups);

            Directory.Delete(dir);
            using var fresh = new CgroupPaths(mount, rescanInterval: TimeSpan.FromHours(1), resolveByHandle: true);
            Assert.Null(fresh.Find(id)); // removed: gone, and known to be without a walk
            Assert.Equal(0, fresh.Scans);
            Assert.Equal(dir, handles.Find(id)); // an id seen keeps its path (ids are never reused)
        }
        finally
        {
            RemoveTree(dir);
        }
    }

    [Fact]
    public void A_directory_that_is_not_a_cgroup2_mount_gets_no_handles_and_the_reason()
    {
        string dir = Directory.CreateTempSubdirectory("bpf-agent-handles-").FullName;
        try
        {
            Assert.Null(CgroupHandles.TryOpen(dir, out string? why));
            Assert.Contains(dir, why, StringComparison.Ordinal);
            using var paths = new CgroupPaths(dir, resolveByHandle: true);
            Assert.False(paths.ResolvesByHandle);
            Assert.Contains("no file handles", paths.Mode, StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}
