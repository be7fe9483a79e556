using System.Globalization;

namespace Bpf.Tests;

/// <summary>Opening, loading and inspecting whole objects: names, programs, maps, globals, BTF, attach.</summary>
public sealed class ObjectTests
{
    private static readonly string[] s_mapsTestPrograms = ["count_calls", "count_pgid", "manual"];

    [KernelFact]
    public void An_object_opened_from_a_file_is_named_after_the_file_and_lists_its_programs_and_maps()
    {
        string path = TestObjects.Path("maps_test");
        using OpenBpfObject open = OpenBpfObject.OpenFile(path);

        Assert.Equal("maps_test", open.Name);
        Assert.Equal(path, open.Path);
        Assert.False(open.IsDisposed);

        IReadOnlyList<OpenBpfProgram> programs = open.Programs;
        Assert.Equal(s_mapsTestPrograms, programs.Select(p => p.Name));
        Assert.Equal(["tp/syscalls/sys_enter_getppid", "tp/syscalls/sys_enter_getpgid", "tp"], programs.Select(p => p.Section));
        Assert.All(programs, p => Assert.Equal(BpfProgramType.Tracepoint, p.Type));
        Assert.All(programs, p => Assert.True(p.AutoLoad));

        // User maps first, then one internal map per data section, named "<first 8 chars of object>.<section>".
        IReadOnlyList<OpenBpfMap> maps = open.Maps;
        Assert.Equal(["counts", "per_cpu"], maps.Take(2).Select(m => m.Name));
        Assert.Equal(["maps_tes.bss", "maps_tes.data", "maps_tes.rodata"], maps.Skip(2).Select(m => m.Name).Order(StringComparer.Ordinal));
        OpenBpfMap counts = open.GetMap("counts");
        Assert.Equal(BpfMapType.Hash, counts.Type);
        Assert.Equal(4, counts.KeySize);
        Assert.Equal(8, counts.ValueSize);
        Assert.Equal(128, counts.MaxEntries);
        OpenBpfMap perCpu = open.GetMap("per_cpu");
        Assert.Equal(BpfMapType.PerCpuArray, perCpu.Type);
        Assert.Equal(1, perCpu.MaxEntries);
        OpenBpfMap bss = open.GetMap("maps_tes.bss");
        Assert.Equal(BpfMapType.Array, bss.Type);
        Assert.Equal(16, bss.ValueSize); // hits + pgid_hits
        Assert.Equal(1, bss.MaxEntries);
        Assert.Equal(4, open.GetMap("maps_tes.data").ValueSize);

        using BpfObject obj = open.Load();
        Assert.True(open.IsDisposed);
        Assert.Equal("maps_test", obj.Name);
        Assert.Equal(s_mapsTestPrograms, obj.Programs.Select(p => p.Name));
        Assert.All(obj.Programs, p => Assert.True(p.Fd >= 0, $"{p.Name} has fd {p.Fd}"));
        Assert.All(obj.Programs, p => Assert.Equal(BpfProgramType.Tracepoint, p.Type));
        Assert.Equal("tp/syscalls/sys_enter_getppid", obj.GetProgram("count_calls").Section);
        Assert.Equal(5, obj.Maps.Count);
        Assert.All(obj.Maps, m => Assert.True(m.Fd >= 0, $"{m.Name} has fd {m.Fd}"));
        BpfMap loadedCounts = obj.GetMap("counts");
        Assert.Equal((BpfMapType.Hash, 4, 8, 128), (loadedCounts.Type, loadedCounts.KeySize, loadedCounts.ValueSize, loadedCounts.MaxEntries));
        Assert.Equal(BpfMapType.PerCpuArray, obj.GetMap("per_cpu").Type);
        Assert.True(obj.GetMap("per_cpu").IsPerCpu);
        Assert.False(loadedCounts.IsPerCpu);
        Assert.Equal(BpfMapType.Array, obj.GetMap("maps_tes.rodata").Type);

        // Distinct kernel objects: every map and program has its own fd.
        int[] fds = [.. obj.Maps.Select(m => m.Fd), .. obj.Programs.Select(p => p.Fd)];
        Assert.Equal(fds.Length, fds.Distinct().Count());
    }

    [KernelFact]
    public void A_ring_buffer_map_reports_its_type_and_size()
    {
        using BpfObject obj = TestObjects.OpenForThisProcess("ringbuf_test").Load();
        BpfMap events = obj.GetMap("events");
        Assert.Equal(BpfMapType.RingBuffer, events.Type);
        Assert.Equal(256 * 1024, events.MaxEntries);
        Assert.Equal(0, events.KeySize);
        Assert.Equal(0, events.ValueSize);
        Assert.Equal(64 * 1024, obj.GetMap("events2").MaxEntries);
    }

    [KernelFact]
    public void An_object_opened_from_memory_takes_the_name_option_and_works_like_one_from_a_file()
    {
        byte[] elf = File.ReadAllBytes(TestObjects.Path("maps_test"));
        using OpenBpfObject open = OpenBpfObject.OpenMemory(elf, new BpfObjectOpenOptions { ObjectName = "x" });
        Assert.Equal("x", open.Name);
        Assert.Equal(s_mapsTestPrograms, open.Programs.Select(p => p.Name));
        Assert.True(open.TryGetMap("x.bss", out _), string.Join(", ", open.Maps.Select(m => m.Name)));
        open.SetGlobal("target_tgid", (uint)Environment.ProcessId);

        // The caller's buffer is not needed after open: libbpf reads its own copy until load.
        Array.Clear(elf);

        using BpfObject obj = open.Load();
        Assert.Equal("x", obj.Name);
        using BpfLink link = obj.GetProgram("count_calls").Attach();
        Trigger.Getppid(3);
        Assert.Equal(3UL, obj.ReadGlobal<ulong>("hits"));
        Assert.Equal((uint)Environment.ProcessId, obj.ReadGlobal<uint>("target_tgid"));
    }

    [KernelFact]
    public void An_object_name_with_dots_still_finds_its_globals()
    {
        // libbpf names internal maps "<name prefix>.<section>", so "my.obj" gives "my.obj.rodata".
        byte[] elf = File.ReadAllBytes(TestObjects.Path("maps_test"));
        using OpenBpfObject open = OpenBpfObject.OpenMemory(elf, new BpfObjectOpenOptions { ObjectName = "my.obj" });
        Assert.True(open.TryGetMap("my.obj.rodata", out _), string.Join(", ", open.Maps.Select(m => m.Name)));
        open.SetGlobal("target_tgid", (uint)Environment.ProcessId);
        open.SetGlobal("initial_marker", 99u);
        using BpfObject obj = open.Load();
        using BpfLink link = obj.GetProgram("count_calls").Attach();
        Trigger.Getppid(2);
        Assert.Equal(2UL, obj.ReadGlobal<ulong>("hits"));
        Assert.Equal(99u, obj.ReadGlobal<uint>("initial_marker"));
    }

    [KernelFact]
    public void An_object_opened_from_memory_without_a_name_gets_one_from_libbpf()
    {
        using OpenBpfObject open = OpenBpfObject.OpenMemory(File.ReadAllBytes(TestObjects.Path("maps_test")));
        Assert.False(string.IsNullOrEmpty(open.Name));
        using BpfObject obj = open.Load();
        Assert.True(obj.GetMap("counts").Fd >= 0);
    }

    [KernelFact]
    public void KernelVersion_defaults_to_the_running_kernel_and_can_be_set_before_load()
    {
        using OpenBpfObject open = TestObjects.OpenForThisProcess("maps_test");

        // libbpf fills it from uname for objects without a "version" section: KERNEL_VERSION(a, b, min(c, 255)) of
        // the release, or (newer libbpf, Debian kernels) of the package version in `uname -v` ("Debian 5.10.244-1"),
        // since a Debian release says 5.10.0 for every 5.10 update.
        static uint Encode(string version)
        {
            string[] v = version.Split('.', '-');
            return (uint.Parse(v[0], CultureInfo.InvariantCulture) << 16) + (uint.Parse(v[1], CultureInfo.InvariantCulture) << 8)
                + Math.Min(255u, uint.Parse(new string(v[2].TakeWhile(char.IsAsciiDigit).ToArray()), CultureInfo.InvariantCulture));
        }

        var expected = new List<uint> { Encode(File.ReadAllText("/proc/sys/kernel/osrelease").Trim()) };
        System.Text.RegularExpressions.Match debian = System.Text.RegularExpressions.Regex.Match(
            File.ReadAllText("/proc/sys/kernel/version"), @"Debian (\d+\.\d+\.\d+)");
        if (debian.Success)
        {
            expected.Add(Encode(debian.Groups[1].Value));
        }

        Assert.Contains(open.KernelVersion, expected);

        open.KernelVersion = 0x050A00;
        Assert.Equal(0x050A00u, open.KernelVersion);

        // Tracepoint programs do not check it: the load still works.
        using BpfObject obj = open.Load();
        using BpfLink link = obj.GetProgram("count_calls").Attach();
        Trigger.Getppid(1);
        Assert.Equal(1UL, obj.ReadGlobal<ulong>("hits"));
    }

    [KernelFact]
    public void Programs_and_maps_are_found_by_name_and_unknown_names_are_reported_with_what_exists()
    {
        using OpenBpfObject open = OpenBpfObject.OpenFile(TestObjects.Path("maps_test"));
        Assert.True(open.TryGetProgram("count_calls", out OpenBpfProgram openProgram));
        Assert.Equal("count_calls", openProgram.Name);
        Assert.False(open.TryGetProgram("nope", out OpenBpfProgram missingProgram));
        Assert.Equal("(none)", missingProgram.ToString());
        Assert.True(open.TryGetMap("counts", out OpenBpfMap openMap));
        Assert.Equal("counts", openMap.Name);
        Assert.False(open.TryGetMap("nope", out _));
        KeyNotFoundException e = Assert.Throws<KeyNotFoundException>(() => open.GetProgram("nope"));
        Assert.Contains("'nope'", e.Message, StringComparison.Ordinal);
        Assert.Contains("count_calls, count_pgid, manual", e.Message, StringComparison.Ordinal);
        e = Assert.Throws<KeyNotFoundException>(() => open.GetMap("nope"));
        Assert.Contains("counts, per_cpu", e.Message, StringComparison.Ordinal);

        using BpfObject obj = open.Load();
        Assert.True(obj.TryGetProgram("count_pgid", out BpfProgram program));
        Assert.Equal("tp/syscalls/sys_enter_getpgid", program.Section);
        Assert.False(obj.TryGetProgram("count", out _));
        Assert.True(obj.TryGetMap("per_cpu", out BpfMap map));
        Assert.Equal(BpfMapType.PerCpuArray, map.Type);
        Assert.False(obj.TryGetMap("per", out _));
        e = Assert.Throws<KeyNotFoundException>(() => obj.GetProgram("nope"));
        Assert.Contains(TestObjects.Path("maps_test"), e.Message, StringComparison.Ordinal);
        Assert.Contains("count_calls, count_pgid, manual", e.Message, StringComparison.Ordinal);
        e = Assert.Throws<KeyNotFoundException>(() => obj.GetMap("nope"));
        Assert.Contains("counts, per_cpu", e.Message, StringComparison.Ordinal);
    }

    [KernelFact]
    public void A_rodata_parameter_set_before_load_decides_what_the_program_counts()
    {
        // Not set: target_tgid stays 0, which no process has, so nothing counts.
        using (BpfObject untargeted = OpenBpfObject.OpenFile(TestObjects.Path("maps_test")).Load())
        {
            using BpfLink link = untargeted.GetProgram("count_calls").Attach();
            Trigger.Getppid(5);
            Assert.Equal(0u, untargeted.ReadGlobal<uint>("target_tgid"));
            Assert.Equal(0UL, untargeted.ReadGlobal<ulong>("hits"));
            Assert.False(untargeted.GetMap("counts").TryLookup(1u, out ulong _));
        }

        using OpenBpfObject open = OpenBpfObject.OpenFile(TestObjects.Path("maps_test"));
        open.SetGlobal("target_tgid", (uint)Environment.ProcessId);
        using BpfObject obj = open.Load();
        using BpfLink link2 = obj.GetProgram("count_calls").Attach();
        Trigger.Getppid(5);
        Assert.Equal((uint)Environment.ProcessId, obj.ReadGlobal<uint>("target_tgid"));
        Assert.Equal(5UL, obj.ReadGlobal<ulong>("hits"));
    }

    [KernelFact]
    public void Data_initial_values_set_before_load_are_read_back_live_and_counters_are_the_kernel_values()
    {
        using (BpfObject defaults = TestObjects.OpenForThisProcess("maps_test").Load())
        {
            Assert.Equal(7u, defaults.ReadGlobal<uint>("initial_marker"));
        }

        using OpenBpfObject open = TestObjects.OpenForThisProcess("maps_test");
        open.SetGlobal("initial_marker", 0xC0FFEEu);
        using BpfObject obj = open.Load();
        Assert.Equal(0xC0FFEEu, obj.ReadGlobal<uint>("initial_marker"));

        // The .data map is writable from user space: an update shows in the next read.
        BpfMap data = obj.GetMap("maps_tes.data");
        data.Update(0u, 1234u);
        Assert.Equal(1234u, obj.ReadGlobal<uint>("initial_marker"));

        // hits is only ever written by the kernel: libbpf's initial-value copy stays 0.
        Assert.Equal(0UL, obj.ReadGlobal<ulong>("hits"));
        using BpfLink link = obj.GetProgram("count_calls").Attach();
        using BpfLink link2 = obj.GetProgram("count_pgid").Attach();
        Trigger.Getppid(17);
        Trigger.Getpgid(4);
        Assert.Equal(17UL, obj.ReadGlobal<ulong>("hits"));
        Assert.Equal(4UL, obj.ReadGlobal<ulong>("pgid_hits"));

        Span<byte> raw = stackalloc byte[8];
        obj.ReadGlobal("hits", raw);
        Assert.Equal(17UL, BitConverter.ToUInt64(raw));
    }

    [KernelFact]
    public void A_bss_global_set_before_load_starts_the_kernel_counter_there()
    {
        using OpenBpfObject open = TestObjects.OpenForThisProcess("maps_test");
        open.SetGlobal("hits", 1000UL);
        using BpfObject obj = open.Load();
        Assert.Equal(1000UL, obj.ReadGlobal<ulong>("hits"));
        Assert.Equal(0UL, obj.ReadGlobal<ulong>("pgid_hits"));
        using BpfLink link = obj.GetProgram("count_calls").Attach();
        Trigger.Getppid(3);
        Assert.Equal(1003UL, obj.ReadGlobal<ulong>("hits"));
    }

    [KernelFact]
    public void The_object_has_btf_before_and_after_load_and_a_kernel_btf_fd_after()
    {
        using OpenBpfObject open = TestObjects.OpenForThisProcess("maps_test");
        Btf? before = open.Btf;
        Assert.NotNull(before);
        Assert.NotNull(before.FindType("hits", BtfKind.Variable));

        using BpfObject obj = open.Load();
        Assert.NotNull(obj.Btf);
        Assert.Same(obj.Btf, obj.Btf);
        Assert.True(obj.BtfFd >= 0, $"BtfFd {obj.BtfFd}");
        Assert.True(obj.Btf.TypeCount > 10);
        Assert.NotNull(obj.Btf.FindType(".bss", BtfKind.Datasec));
    }

    [KernelFact]
    public void AttachAll_links_each_program_with_a_hook_and_disposing_the_links_detaches_them()
    {
        using BpfObject obj = TestObjects.OpenForThisProcess("maps_test").Load();
        IReadOnlyList<BpfLink> links = obj.AttachAll();

        // `manual` (SEC("tp")) names no tracepoint: skipped, not an error.
        Assert.Equal(["count_calls", "count_pgid"], links.Select(l => l.ProgramName));
        Assert.All(links, l => Assert.True(l.Fd >= 0));
        Trigger.Getppid(3);
        Trigger.Getpgid(2);
        Assert.Equal(3UL, obj.ReadGlobal<ulong>("hits"));
        Assert.Equal(2UL, obj.ReadGlobal<ulong>("pgid_hits"));

        foreach (BpfLink link in links)
        {
            link.Dispose();
        }

        Trigger.Getppid(10);
        Trigger.Getpgid(10);
        Assert.Equal(3UL, obj.ReadGlobal<ulong>("hits"));
        Assert.Equal(2UL, obj.ReadGlobal<ulong>("pgid_hits"));
    }

    [KernelFact]
    public void AttachAll_skips_programs_with_auto_attach_off_and_programs_not_loaded()
    {
        using OpenBpfObject open = TestObjects.OpenForThisProcess("maps_test");
        OpenBpfProgram pgid = open.GetProgram("count_pgid");
        Assert.True(pgid.AutoAttach);
        pgid.AutoAttach = false;
        Assert.False(pgid.AutoAttach);
        open.GetProgram("manual").AutoLoad = false;
        Assert.False(open.GetProgram("manual").AutoLoad);

        using BpfObject obj = open.Load();
        Assert.True(obj.GetProgram("manual").Fd < 0);
        Assert.False(obj.GetProgram("count_pgid").AutoAttach);
        IReadOnlyList<BpfLink> links = obj.AttachAll();
        try
        {
            Assert.Equal(["count_calls"], links.Select(l => l.ProgramName));
            Trigger.Getppid(2);
            Trigger.Getpgid(2);
            Assert.Equal(2UL, obj.ReadGlobal<ulong>("hits"));
            Assert.Equal(0UL, obj.ReadGlobal<ulong>("pgid_hits"));

            // Auto-attach off only keeps AttachAll away: attaching by hand still works.
            using BpfLink manual = obj.GetProgram("count_pgid").Attach();
            Trigger.Getpgid(3);
            Assert.Equal(3UL, obj.ReadGlobal<ulong>("pgid_hits"));
        }
        finally
        {
            foreach (BpfLink link in links)
            {
                link.Dispose();
            }
        }
    }

    [KernelFact]
    public void A_link_outlives_its_object_until_it_is_disposed()
    {
        string dir = PinDirectory.Create();
        try
        {
            using OpenBpfObject open = TestObjects.OpenForThisProcess("maps_test");
            open.GetMap("counts").PinPath = System.IO.Path.Combine(dir, "counts");
            BpfObject obj = open.Load();
            BpfLink link = obj.GetProgram("count_calls").Attach();
            obj.Dispose();

            // The kernel keeps the attached program (and the pinned map it writes) alive.
            Trigger.Getppid(4);
            using OpenBpfObject reopen = TestObjects.OpenForThisProcess("maps_test");
            reopen.GetMap("counts").PinPath = System.IO.Path.Combine(dir, "counts");
            using BpfObject view = reopen.Load();
            Assert.True(view.GetMap("counts").TryLookup(1u, out ulong count));
            Assert.Equal(4UL, count);

            link.Dispose();
            Trigger.Getppid(4);
            Assert.True(view.GetMap("counts").TryLookup(1u, out count));
            Assert.Equal(4UL, count);
        }
        finally
        {
            PinDirectory.Remove(dir);
        }
    }

    [KernelFact]
    public void A_kernel_log_buffer_with_a_successful_load_works()
    {
        foreach (int level in new[] { 1, 2 })
        {
            using OpenBpfObject open = TestObjects.OpenForThisProcess("maps_test", new BpfObjectOpenOptions
            {
                KernelLogSize = 4 * 1024 * 1024,
                KernelLogLevel = level,
            });
            using BpfObject obj = open.Load();
            using BpfLink link = obj.GetProgram("count_calls").Attach();
            Trigger.Getppid(2);
            Assert.Equal(2UL, obj.ReadGlobal<ulong>("hits"));
        }
    }

    [KernelFact]
    public void The_pin_root_path_option_is_accepted_and_pins_nothing_for_maps_without_pinning()
    {
        string dir = PinDirectory.Create();
        try
        {
            using OpenBpfObject open = TestObjects.OpenForThisProcess("maps_test", new BpfObjectOpenOptions { PinRootPath = dir });
            using BpfObject obj = open.Load();
            Assert.All(obj.Maps, m => Assert.False(m.IsPinned));
            Assert.All(obj.Maps, m => Assert.Null(m.PinPath));
            Assert.Empty(Directory.GetFileSystemEntries(dir));
            using BpfLink link = obj.GetProgram("count_calls").Attach();
            Trigger.Getppid(1);
            Assert.Equal(1UL, obj.ReadGlobal<ulong>("hits"));
        }
        finally
        {
            PinDirectory.Remove(dir);
        }
    }

    [KernelFact]
    public void A_data_section_initial_value_replaced_whole_before_load_is_what_the_kernel_gets()
    {
        using OpenBpfObject open = TestObjects.OpenForThisProcess("maps_test");
        OpenBpfMap data = open.GetMap("maps_tes.data");
        data.SetInitialValue(BitConverter.GetBytes(4242u));
        Assert.Throws<BpfException>(() => data.SetInitialValue(new byte[3]));
        Assert.Throws<BpfException>(() => open.GetMap("counts").SetInitialValue(new byte[8]));
        using BpfObject obj = open.Load();
        Assert.Equal(4242u, obj.ReadGlobal<uint>("initial_marker"));
    }

    [KernelFact]
    public void Program_info_names_the_kernel_program_and_counts_runs_while_stats_are_on()
    {
        using BpfObject obj = TestObjects.OpenForThisProcess("maps_test").Load();
        BpfProgram program = obj.GetProgram("count_calls");
        BpfProgramInfo info = program.GetInfo();
        Assert.True(info.Id > 0);
        Assert.Equal("count_calls", info.Name);
        Assert.Contains(info.Id, BpfSystem.GetLoadedProgramIds());
        Assert.NotEqual(info.Id, obj.GetProgram("count_pgid").GetInfo().Id);

        using BpfLink link = program.Attach();
        using (BpfSystem.EnableRunTimeStats())
        {
            Trigger.Getppid(25);
            BpfProgramInfo after = program.GetInfo();

            // The program runs for every getppid on the host; it counts only this process's 25.
            Assert.True(after.RunCount >= 25, $"run count {after.RunCount}");
            Assert.True(after.RunTimeNanoseconds > 0);
        }

        Assert.Equal(25UL, obj.ReadGlobal<ulong>("hits"));
        Assert.DoesNotContain(0u, BpfSystem.GetLoadedProgramIds());
    }

    [KernelFact]
    public void A_program_that_was_not_loaded_has_no_info()
    {
        using OpenBpfObject open = TestObjects.OpenForThisProcess("maps_test");
        open.GetProgram("manual").AutoLoad = false;
        using BpfObject obj = open.Load();
        Assert.Throws<InvalidOperationException>(() => obj.GetProgram("manual").GetInfo());
    }

    [KernelFact]
    public void BpfObject_Load_opens_and_loads_in_one_step()
    {
        using BpfObject obj = BpfObject.Load(TestObjects.Path("btf_test"));
        Assert.Equal("btf_test", obj.Name);
        Assert.True(obj.GetProgram("touch").Fd >= 0);
    }
}
