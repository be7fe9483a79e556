namespace Bpf.Tests;

/// <summary>Pins in bpffs: whole objects, single maps and programs, and maps shared between objects by pin path.</summary>
public sealed class PinningTests
{
    // bpffs refuses '.' in names: libbpf pins "maps_tes.bss" as "maps_tes_bss".
    private static readonly string[] s_mapNames = ["counts", "maps_tes_bss", "maps_tes_data", "maps_tes_rodata", "per_cpu"];
    private static readonly string[] s_programNames = ["count_calls", "count_pgid", "manual"];

    [KernelFact]
    public void PinMaps_makes_one_file_per_map_and_UnpinMaps_removes_them()
    {
        string root = PinDirectory.Create();
        try
        {
            using BpfObject obj = TestObjects.OpenForThisProcess("maps_test").Load();

            // libbpf creates the last directory level itself.
            string dir = Path.Combine(root, "maps");
            obj.PinMaps(dir);
            Assert.Equal(s_mapNames, PinDirectory.Entries(dir));
            Assert.All(obj.Maps, m => Assert.True(m.IsPinned, m.Name));
            Assert.Equal(Path.Combine(dir, "counts"), obj.GetMap("counts").PinPath);
            Assert.Equal(Path.Combine(dir, "maps_tes_bss"), obj.GetMap("maps_tes.bss").PinPath);

            obj.UnpinMaps(dir);
            Assert.Empty(PinDirectory.Entries(dir));
            Assert.All(obj.Maps, m => Assert.False(m.IsPinned, m.Name));
        }
        finally
        {
            PinDirectory.Remove(root);
        }
    }

    [KernelFact]
    public void PinPrograms_makes_one_file_per_program_and_UnpinPrograms_removes_them()
    {
        string dir = PinDirectory.Create();
        try
        {
            using BpfObject obj = TestObjects.OpenForThisProcess("maps_test").Load();
            obj.PinPrograms(dir);
            Assert.Equal(s_programNames, PinDirectory.Entries(dir));

            obj.UnpinPrograms(dir);
            Assert.Empty(PinDirectory.Entries(dir));
        }
        finally
        {
            PinDirectory.Remove(dir);
        }
    }

    [KernelFact]
    public void Pin_pins_maps_and_programs_and_Unpin_removes_all_of_them_even_without_bpf_object__unpin()
    {
        string dir = PinDirectory.Create();
        try
        {
            using BpfObject obj = TestObjects.OpenForThisProcess("maps_test").Load();
            obj.Pin(dir);
            Assert.Equal(s_mapNames.Concat(s_programNames).Order(StringComparer.Ordinal), PinDirectory.Entries(dir));

            // libbpf 1.1 (Debian 12) has no bpf_object__unpin: the library unpins programs then maps.
            obj.Unpin(dir);
            Assert.Empty(PinDirectory.Entries(dir));
            Assert.All(obj.Maps, m => Assert.False(m.IsPinned, m.Name));

            // Nothing is left to unpin: a second Unpin reports it.
            BpfException e = Assert.Throws<BpfException>(() => obj.Unpin(dir));
            Assert.Equal(2, e.Errno);
        }
        finally
        {
            PinDirectory.Remove(dir);
        }
    }

    [KernelFact]
    public void A_single_map_pins_at_a_path_and_unpins()
    {
        string dir = PinDirectory.Create();
        try
        {
            using BpfObject obj = TestObjects.OpenForThisProcess("maps_test").Load();
            BpfMap counts = obj.GetMap("counts");
            string path = Path.Combine(dir, "my_counts");
            Assert.False(counts.IsPinned);
            Assert.Null(counts.PinPath);

            counts.Pin(path);
            Assert.True(File.Exists(path));
            Assert.True(counts.IsPinned);
            Assert.Equal(path, counts.PinPath);

            // Something is already pinned there.
            BpfMap perCpu = obj.GetMap("per_cpu");
            BpfException e = Assert.Throws<BpfException>(() => perCpu.Pin(path));
            Assert.Equal(17, e.Errno);
            Assert.Contains(path, e.Message, StringComparison.Ordinal);

            counts.Unpin();
            Assert.False(File.Exists(path));
            Assert.False(counts.IsPinned);

            counts.Pin(path);
            counts.Unpin(path);
            Assert.False(File.Exists(path));
            Assert.Empty(PinDirectory.Entries(dir));
        }
        finally
        {
            PinDirectory.Remove(dir);
        }
    }

    [KernelFact]
    public void A_single_program_pins_at_a_path_and_unpins()
    {
        string dir = PinDirectory.Create();
        try
        {
            using BpfObject obj = TestObjects.OpenForThisProcess("maps_test").Load();
            BpfProgram program = obj.GetProgram("count_calls");
            string path = Path.Combine(dir, "prog");
            program.Pin(path);
            Assert.True(File.Exists(path));
            Assert.Equal(["prog"], PinDirectory.Entries(dir));

            program.Unpin(path);
            Assert.False(File.Exists(path));

            BpfException e = Assert.Throws<BpfException>(() => program.Unpin(path));
            Assert.Equal(2, e.Errno);
        }
        finally
        {
            PinDirectory.Remove(dir);
        }
    }

    [KernelFact]
    public void A_pin_path_set_before_load_pins_the_map_and_a_second_object_reuses_it()
    {
        string dir = PinDirectory.Create();
        string path = Path.Combine(dir, "shared_counts");
        try
        {
            using OpenBpfObject open1 = TestObjects.OpenForThisProcess("maps_test");
            OpenBpfMap pinned1 = open1.GetMap("counts");
            pinned1.PinPath = path;
            Assert.Equal(path, pinned1.PinPath);
            using BpfObject obj1 = open1.Load();
            Assert.True(File.Exists(path));
            BpfMap counts1 = obj1.GetMap("counts");
            Assert.True(counts1.IsPinned);
            Assert.Equal(path, counts1.PinPath);

            using OpenBpfObject open2 = TestObjects.OpenForThisProcess("maps_test");
            open2.GetMap("counts").PinPath = path;
            using BpfObject obj2 = open2.Load();
            BpfMap counts2 = obj2.GetMap("counts");
            Assert.True(counts2.IsPinned);
            Assert.Equal(path, counts2.PinPath);

            // Two fds, one kernel map: writes through either are seen through the other.
            Assert.NotEqual(counts1.Fd, counts2.Fd);
            counts1.Update(100u, 1000UL);
            Assert.True(counts2.TryLookup(100u, out ulong v));
            Assert.Equal(1000UL, v);
            counts2.Update(200u, 2000UL);
            Assert.True(counts1.TryLookup(200u, out v));
            Assert.Equal(2000UL, v);
            Assert.True(counts2.Delete(BitConverter.GetBytes(100u)));
            Assert.False(counts1.TryLookup(100u, out ulong _));

            // What the program of object 1 counts, object 2 reads; object 2's own per_cpu map is not shared.
            using BpfLink link = obj1.GetProgram("count_calls").Attach();
            Trigger.Getppid(6);
            Assert.True(counts2.TryLookup(1u, out v));
            Assert.Equal(6UL, v);
            Assert.Equal(0UL, obj2.ReadGlobal<ulong>("hits"));
        }
        finally
        {
            PinDirectory.Remove(dir);
        }
    }

    [KernelFact]
    public void A_pinned_map_keeps_its_contents_after_its_object_is_closed()
    {
        string dir = PinDirectory.Create();
        string path = Path.Combine(dir, "counts");
        try
        {
            using (OpenBpfObject open = TestObjects.OpenForThisProcess("maps_test"))
            {
                open.GetMap("counts").PinPath = path;
                using BpfObject obj = open.Load();
                obj.GetMap("counts").Update(7u, 77UL);
            }

            Assert.True(File.Exists(path));
            using OpenBpfObject reopen = TestObjects.OpenForThisProcess("maps_test");
            reopen.GetMap("counts").PinPath = path;
            using BpfObject again = reopen.Load();
            Assert.True(again.GetMap("counts").TryLookup(7u, out ulong v));
            Assert.Equal(77UL, v);
        }
        finally
        {
            PinDirectory.Remove(dir);
        }
    }

    [KernelFact]
    public void A_pinned_map_with_a_different_shape_is_not_reused_and_the_load_fails()
    {
        string dir = PinDirectory.Create();
        string path = Path.Combine(dir, "counts");
        try
        {
            using OpenBpfObject open1 = TestObjects.OpenForThisProcess("maps_test");
            open1.GetMap("counts").PinPath = path;
            using BpfObject obj1 = open1.Load();

            using OpenBpfObject open2 = TestObjects.OpenForThisProcess("maps_test");
            OpenBpfMap counts2 = open2.GetMap("counts");
            counts2.PinPath = path;
            counts2.MaxEntries = 256;
            Assert.Equal(256, counts2.MaxEntries);
            BpfException e = Assert.Throws<BpfException>(open2.Load);
            Assert.Equal("bpf_object__load", e.Function);
            Assert.Equal(22, e.Errno);
            Assert.True(open2.IsDisposed);

            // The first object's pin is untouched.
            Assert.True(obj1.GetMap("counts").IsPinned);
            Assert.True(File.Exists(path));
        }
        finally
        {
            PinDirectory.Remove(dir);
        }
    }
}

/// <summary>A fresh directory in bpffs for one test, removed with everything pinned in it.</summary>
internal static class PinDirectory
{
    public static string Create()
    {
        string dir = Path.Combine("/sys/fs/bpf", "bpf-agent-test-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        return dir;
    }

    public static string[] Entries(string dir) =>
        [.. Directory.GetFileSystemEntries(dir).Select(p => Path.GetFileName(p)).Order(StringComparer.Ordinal)];

    public static void Remove(string dir)
    {
        if (Directory.Exists(dir))
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}
