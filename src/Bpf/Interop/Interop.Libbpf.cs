using System.Runtime.InteropServices;

// Raw libbpf entry points. Blittable signatures only; everything here is unsafe and unchecked.
// Callers go through the safe types in this assembly, which turn errors into BpfException.
internal static unsafe partial class Interop
{
    internal static unsafe partial class Libbpf
    {
        // ---- library ----
        [LibraryImport(Libraries.Libbpf)]
        internal static partial uint libbpf_major_version();

        [LibraryImport(Libraries.Libbpf)]
        internal static partial uint libbpf_minor_version();

        [LibraryImport(Libraries.Libbpf)]
        internal static partial byte* libbpf_version_string();

        [LibraryImport(Libraries.Libbpf)]
        internal static partial int libbpf_strerror(int err, byte* buf, nuint size);

        [LibraryImport(Libraries.Libbpf)]
        internal static partial nint libbpf_set_print(delegate* unmanaged<int, byte*, nint, int> fn);

        [LibraryImport(Libraries.Libbpf)]
        internal static partial int libbpf_num_possible_cpus();

        // ---- objects ----
        [LibraryImport(Libraries.Libbpf, SetLastError = true)]
        internal static partial nint bpf_object__open_file(byte* path, BpfObjectOpenOpts* opts);

        [LibraryImport(Libraries.Libbpf, SetLastError = true)]
        internal static partial nint bpf_object__open_mem(void* buf, nuint size, BpfObjectOpenOpts* opts);

        [LibraryImport(Libraries.Libbpf)]
        internal static partial int bpf_object__load(nint obj);

        [LibraryImport(Libraries.Libbpf)]
        internal static partial void bpf_object__close(nint obj);

        [LibraryImport(Libraries.Libbpf)]
        internal static partial byte* bpf_object__name(nint obj);

        [LibraryImport(Libraries.Libbpf)]
        internal static partial uint bpf_object__kversion(nint obj);

        [LibraryImport(Libraries.Libbpf)]
        internal static partial int bpf_object__set_kversion(nint obj, uint kernVersion);

        [LibraryImport(Libraries.Libbpf)]
        internal static partial nint bpf_object__btf(nint obj);

        [LibraryImport(Libraries.Libbpf)]
        internal static partial int bpf_object__btf_fd(nint obj);

        [LibraryImport(Libraries.Libbpf)]
        internal static partial nint bpf_object__find_program_by_name(nint obj, byte* name);

        [LibraryImport(Libraries.Libbpf)]
        internal static partial nint bpf_object__find_map_by_name(nint obj, byte* name);

        [LibraryImport(Libraries.Libbpf)]
        internal static partial nint bpf_object__next_program(nint obj, nint prev);

        [LibraryImport(Libraries.Libbpf)]
        internal static partial nint bpf_object__next_map(nint obj, nint prev);

        [LibraryImport(Libraries.Libbpf)]
        internal static partial int bpf_object__pin_maps(nint obj, byte* path);

        [LibraryImport(Libraries.Libbpf)]
        internal static partial int bpf_object__unpin_maps(nint obj, byte* path);

        [LibraryImport(Libraries.Libbpf)]
        internal static partial int bpf_object__pin_programs(nint obj, byte* path);

        [LibraryImport(Libraries.Libbpf)]
        internal static partial int bpf_object__unpin_programs(nint obj, byte* path);

        [LibraryImport(Libraries.Libbpf)]
        internal static partial int bpf_object__pin(nint obj, byte* path);

        // ---- programs ----
        [LibraryImport(Libraries.Libbpf)]
        internal static partial byte* bpf_program__name(nint prog);

        [LibraryImport(Libraries.Libbpf)]
        internal static partial byte* bpf_program__section_name(nint prog);

        [LibraryImport(Libraries.Libbpf)]
        internal static partial int bpf_program__type(nint prog);

        [LibraryImport(Libraries.Libbpf)]
        internal static partial int bpf_program__fd(nint prog);

        [LibraryImport(Libraries.Libbpf)]
        [return: MarshalAs(UnmanagedType.U1)]
        internal static partial bool bpf_program__autoload(nint prog);

        [LibraryImport(Libraries.Libbpf)]
        internal static partial int bpf_program__set_autoload(nint prog, [MarshalAs(UnmanagedType.U1)] bool autoload);

        [LibraryImport(Libraries.Libbpf)]
        [return: MarshalAs(UnmanagedType.U1)]
        internal static partial bool bpf_program__autoattach(nint prog);

        [LibraryImport(Libraries.Libbpf)]
        internal static partial void bpf_program__set_autoattach(nint prog, [MarshalAs(UnmanagedType.U1)] bool autoattach);

        [LibraryImport(Libraries.Libbpf, SetLastError = true)]
        internal static partial nint bpf_program__attach(nint prog);

        [LibraryImport(Libraries.Libbpf)]
        internal static partial int bpf_program__pin(nint prog, byte* path);

        [LibraryImport(Libraries.Libbpf)]
        internal static partial int bpf_program__unpin(nint prog, byte* path);

        // ---- links ----
        [LibraryImport(Libraries.Libbpf)]
        internal static partial int bpf_link__destroy(nint link);

        [LibraryImport(Libraries.Libbpf)]
        internal static partial int bpf_link__fd(nint link);

        // ---- maps ----
        [LibraryImport(Libraries.Libbpf)]
        internal static partial byte* bpf_map__name(nint map);

        [LibraryImport(Libraries.Libbpf)]
        internal static partial int bpf_map__type(nint map);

        [LibraryImport(Libraries.Libbpf)]
        internal static partial uint bpf_map__key_size(nint map);

        [LibraryImport(Libraries.Libbpf)]
        internal static partial uint bpf_map__value_size(nint map);

        [LibraryImport(Libraries.Libbpf)]
        internal static partial uint bpf_map__max_entries(nint map);

        [LibraryImport(Libraries.Libbpf)]
        internal static partial int bpf_map__set_max_entries(nint map, uint maxEntries);

        [LibraryImport(Libraries.Libbpf)]
        internal static partial uint bpf_map__map_flags(nint map);

        [LibraryImport(Libraries.Libbpf)]
        internal static partial uint bpf_map__btf_key_type_id(nint map);

        [LibraryImport(Libraries.Libbpf)]
        internal static partial uint bpf_map__btf_value_type_id(nint map);

        [LibraryImport(Libraries.Libbpf)]
        internal static partial int bpf_map__fd(nint map);

        [LibraryImport(Libraries.Libbpf)]
        internal static partial int bpf_map__set_pin_path(nint map, byte* path);

        [LibraryImport(Libraries.Libbpf)]
        internal static partial byte* bpf_map__pin_path(nint map);

        [LibraryImport(Libraries.Libbpf)]
        [return: MarshalAs(UnmanagedType.U1)]
        internal static partial bool bpf_map__is_pinned(nint map);

        [LibraryImport(Libraries.Libbpf)]
        internal static partial int bpf_map__pin(nint map, byte* path);

        [LibraryImport(Libraries.Libbpf)]
        internal static partial int bpf_map__unpin(nint map, byte* path);

        [LibraryImport(Libraries.Libbpf)]
        [return: MarshalAs(UnmanagedType.U1)]
        internal static partial bool bpf_map__autocreate(nint map);

        [LibraryImport(Libraries.Libbpf)]
        internal static partial int bpf_map__set_autocreate(nint map, [MarshalAs(UnmanagedType.U1)] bool autocreate);

        [LibraryImport(Libraries.Libbpf)]
        internal static partial int bpf_map__set_initial_value(nint map, void* data, nuint size);

        [LibraryImport(Libraries.Libbpf)]
        internal static partial void* bpf_map__initial_value(nint map, nuint* psize);

        // ---- low-level map syscalls (negative errno returns in libbpf 1.x) ----
        [LibraryImport(Libraries.Libbpf)]
        internal static partial int bpf_map_lookup_elem(int fd, void* key, void* value);

        [LibraryImport(Libraries.Libbpf)]
        internal static partial int bpf_map_update_elem(int fd, void* key, void* value, ulong flags);

        [LibraryImport(Libraries.Libbpf)]
        internal static partial int bpf_map_delete_elem(int fd, void* key);

        [LibraryImport(Libraries.Libbpf)]
        internal static partial int bpf_map_get_next_key(int fd, void* key, void* nextKey);

        // Kernel 5.6+; keys and values are arrays of *count elements, in/out batch are opaque position tokens.
        [LibraryImport(Libraries.Libbpf)]
        internal static partial int bpf_map_lookup_batch(int fd, void* inBatch, void* outBatch, void* keys, void* values, uint* count, void* opts);

        [LibraryImport(Libraries.Libbpf)]
        internal static partial int bpf_obj_get(byte* path);

        [LibraryImport(Libraries.Libbpf)]
        internal static partial int bpf_prog_get_next_id(uint startId, uint* nextId);

        [LibraryImport(Libraries.Libbpf)]
        internal static partial int bpf_enable_stats(int type);

        [LibraryImport(Libraries.Libbpf)]
        internal static partial int bpf_obj_get_info_by_fd(int fd, void* info, uint* infoLen);

        // ---- feature probes (1 supported, 0 not, negative errno) ----
        [LibraryImport(Libraries.Libbpf)]
        internal static partial int libbpf_probe_bpf_map_type(int mapType, void* opts);

        [LibraryImport(Libraries.Libbpf)]
        internal static partial int libbpf_probe_bpf_helper(int progType, int helperId, void* opts);

        // ---- BTF ----
        [LibraryImport(Libraries.Libbpf, SetLastError = true)]
        internal static partial nint btf__parse(byte* path, nint* btfExt);

        [LibraryImport(Libraries.Libbpf, SetLastError = true)]
        internal static partial nint btf__load_vmlinux_btf();

        [LibraryImport(Libraries.Libbpf)]
        internal static partial void btf__free(nint btf);

        [LibraryImport(Libraries.Libbpf)]
        internal static partial BtfType* btf__type_by_id(nint btf, uint id);

        [LibraryImport(Libraries.Libbpf)]
        internal static partial uint btf__type_cnt(nint btf);

        [LibraryImport(Libraries.Libbpf)]
        internal static partial int btf__find_by_name_kind(nint btf, byte* name, uint kind);

        [LibraryImport(Libraries.Libbpf)]
        internal static partial byte* btf__name_by_offset(nint btf, uint offset);

        // ---- ring buffers ----
        [LibraryImport(Libraries.Libbpf, SetLastError = true)]
        internal static partial nint ring_buffer__new(int mapFd, delegate* unmanaged<void*, void*, nuint, int> sampleCb, void* ctx, void* opts);

        [LibraryImport(Libraries.Libbpf)]
        internal static partial int ring_buffer__add(nint rb, int mapFd, delegate* unmanaged<void*, void*, nuint, int> sampleCb, void* ctx);

        [LibraryImport(Libraries.Libbpf)]
        internal static partial int ring_buffer__poll(nint rb, int timeoutMs);

        [LibraryImport(Libraries.Libbpf)]
        internal static partial int ring_buffer__epoll_fd(nint rb);

        [LibraryImport(Libraries.Libbpf)]
        internal static partial void ring_buffer__free(nint rb);

        // ---- perf buffers (BPF_MAP_TYPE_PERF_EVENT_ARRAY) ----
        [LibraryImport(Libraries.Libbpf, SetLastError = true)]
        internal static partial nint perf_buffer__new(int mapFd, nuint pageCount, delegate* unmanaged<void*, int, void*, uint, void> sampleCb,
            delegate* unmanaged<void*, int, ulong, void> lostCb, void* ctx, void* opts);

        [LibraryImport(Libraries.Libbpf)]
        internal static partial int perf_buffer__poll(nint pb, int timeoutMs);

        [LibraryImport(Libraries.Libbpf)]
        internal static partial void perf_buffer__free(nint pb);

        // ---- user ring buffers ----
        [LibraryImport(Libraries.Libbpf, SetLastError = true)]
        internal static partial nint user_ring_buffer__new(int mapFd, void* opts);

        [LibraryImport(Libraries.Libbpf, SetLastError = true)]
        internal static partial void* user_ring_buffer__reserve(nint rb, uint size);

        [LibraryImport(Libraries.Libbpf, SetLastError = true)]
        internal static partial void* user_ring_buffer__reserve_blocking(nint rb, uint size, int timeoutMs);

        [LibraryImport(Libraries.Libbpf)]
        internal static partial void user_ring_buffer__submit(nint rb, void* sample);

        [LibraryImport(Libraries.Libbpf)]
        internal static partial void user_ring_buffer__discard(nint rb, void* sample);

        [LibraryImport(Libraries.Libbpf)]
        internal static partial void user_ring_buffer__free(nint rb);

        // struct bpf_object_open_opts as of libbpf 1.1 (sz tells libbpf which fields we know).
        [StructLayout(LayoutKind.Sequential)]
        internal struct BpfObjectOpenOpts
        {
            public nuint Size;
            public byte* ObjectName;
            public byte RelaxedMaps;
            public byte* PinRootPath;
            public uint Reserved;           // removed attach_prog_fd
            public byte* Kconfig;
            public byte* BtfCustomPath;
            public byte* KernelLogBuffer;
            public nuint KernelLogSize;
            public uint KernelLogLevel;
        }

        // struct btf_type: name_off, info, size-or-type; kind-specific data follows it.
        [StructLayout(LayoutKind.Sequential)]
        internal struct BtfType
        {
            public uint NameOffset;
            public uint Info;
            public uint SizeOrType;
        }
    }
}
