using System.Runtime.CompilerServices;

namespace Bpf;

/// <summary>
/// A loaded map. Borrowed from its <see cref="BpfObject"/>: use after dispose throws. Keys and values are
/// spans of exactly <see cref="KeySize"/> and <see cref="ValueSize"/> bytes; per-CPU maps take
/// <see cref="PerCpuValueSize"/> bytes (one 8-byte-aligned slot per possible CPU).
/// </summary>
public readonly unsafe struct BpfMap
{
    private readonly BpfObject _owner;
    private readonly nint _map;

    internal BpfMap(BpfObject owner, nint map)
    {
        _owner = owner;
        _map = map;
    }

    private nint Pointer
    {
        get
        {
            (_owner ?? throw new InvalidOperationException("Default BpfMap.")).ThrowIfDisposed();
            return _map;
        }
    }

    internal BpfObject Owner => _owner;

    public string Name => NativeText.ToString(Interop.Libbpf.bpf_map__name(Pointer)) ?? "";

    public BpfMapType Type => (BpfMapType)Interop.Libbpf.bpf_map__type(Pointer);

    public int KeySize => (int)Interop.Libbpf.bpf_map__key_size(Pointer);

    public int ValueSize => (int)Interop.Libbpf.bpf_map__value_size(Pointer);

    public int MaxEntries => (int)Interop.Libbpf.bpf_map__max_entries(Pointer);

    public int Fd => Interop.Libbpf.bpf_map__fd(Pointer);

    /// <summary>The pin path set before load or by <see cref="Pin"/>, or null.</summary>
    public string? PinPath => NativeText.ToString(Interop.Libbpf.bpf_map__pin_path(Pointer));

    public bool IsPinned => Interop.Libbpf.bpf_map__is_pinned(Pointer);

    public bool IsPerCpu => BpfMapLayout.IsPerCpu(Type);

    /// <summary>Bytes of a per-CPU value buffer: value size rounded up to 8, times the possible CPUs.</summary>
    public int PerCpuValueSize => BpfMapLayout.PerCpuSlotSize(ValueSize) * Libbpf.PossibleCpuCount;

    /// <summary>map_flags the map was declared with (BPF_F_NO_PREALLOC and others).</summary>
    public uint Flags => Interop.Libbpf.bpf_map__map_flags(Pointer);

    /// <summary>
    /// The key's type id in the object's <see cref="BpfObjectBase.Btf"/> (0 when the map was declared
    /// without BTF types, for example with <c>__uint(key_size, 4)</c>). Resolve it for field names.
    /// </summary>
    public uint BtfKeyTypeId => Interop.Libbpf.bpf_map__btf_key_type_id(Pointer);

    /// <summary>The value's type id in the object's BTF, 0 when none.</summary>
    public uint BtfValueTypeId => Interop.Libbpf.bpf_map__btf_value_type_id(Pointer);

    /// <summary>The key's BTF type, or null when the map has none.</summary>
    public BtfType? KeyType => TypeOf(BtfKeyTypeId);

    /// <summary>The value's BTF type, or null when the map has none.</summary>
    public BtfType? ValueType => TypeOf(BtfValueTypeId);

    /// <summary>What the kernel reports about the loaded map (its id included).</summary>
    public BpfMapInfo GetInfo()
    {
        BpfMapInfo info = BpfMapInfo.FromFd(Fd, Name);
        GC.KeepAlive(_owner);
        return info;
    }

    /// <summary>Looks a key up; false when absent. Per-CPU maps fill one slot per possible CPU.</summary>
    public bool TryLookup(ReadOnlySpan<byte> key, Span<byte> value)
    {
        CheckSizes(key, value.Length, IsPerCpu ? PerCpuValueSize : ValueSize, "value");
        fixed (byte* k = key, v = value)
        {
            int rc = Interop.Libbpf.bpf_map_lookup_elem(Fd, k, v);
            GC.KeepAlive(_owner); // its handle owns the fd: no finalizer may close it mid-call
            if (rc == -Errno.ENOENT)
            {
                return false;
            }

            Errors.Check(rc, "bpf_map_lookup_elem", Name);
            return true;
        }
    }

    /// <summary>Typed lookup of a fixed-size key and value.</summary>
    public bool TryLookup<TKey, TValue>(TKey key, out TValue value)
        where TKey : unmanaged
        where TValue : unmanaged
    {
        // Into a local: the caller's out location may be a field of a movable heap object.
        TValue result = default;
        bool found = TryLookup(new ReadOnlySpan<byte>(&key, sizeof(TKey)), new Span<byte>(&result, sizeof(TValue)));
        value = result;
        return found;
    }

    /// <summary>
    /// Looks a per-CPU key up and returns each CPU's value (for counters: sum them). False when absent.
    /// </summary>
    public bool TryLookupPerCpu<TKey, TValue>(TKey key, Span<TValue> perCpu)
        where TKey : unmanaged
        where TValue : unmanaged
    {
        if (!IsPerCpu)
        {
            throw new InvalidOperationException($"Map '{Name}' is a {Type} map, not a per-CPU one.");
        }

        int stride = BpfMapLayout.PerCpuSlotSize(ValueSize);
        if (sizeof(TValue) != ValueSize || perCpu.Length < Libbpf.PossibleCpuCount)
        {
            throw new ArgumentException($"Map '{Name}': need {Libbpf.PossibleCpuCount} values of {ValueSize} bytes.", nameof(perCpu));
        }

        Span<byte> buffer = stackalloc byte[PerCpuValueSize];
        if (!TryLookup(new ReadOnlySpan<byte>(&key, sizeof(TKey)), buffer))
        {
            return false;
        }

        for (int cpu = 0; cpu < Libbpf.PossibleCpuCount; cpu++)
        {
            perCpu[cpu] = Unsafe.ReadUnaligned<TValue>(ref buffer[cpu * stride]);
        }

        return true;
    }

    /// <summary>Creates or replaces an element.</summary>
    public void Update(ReadOnlySpan<byte> key, ReadOnlySpan<byte> value, BpfMapUpdateFlags flags = BpfMapUpdateFlags.Any)
    {
        CheckSizes(key, value.Length, IsPerCpu ? PerCpuValueSize : ValueSize, "value");
        fixed (byte* k = key, v = value)
        {
            Errors.Check(Interop.Libbpf.bpf_map_update_elem(Fd, k, v, (ulong)flags), "bpf_map_update_elem", Name);
        }
    }

    /// <summary>Typed update.</summary>
    public void Update<TKey, TValue>(TKey key, TValue value, BpfMapUpdateFlags flags = BpfMapUpdateFlags.Any)
        where TKey : unmanaged
        where TValue : unmanaged =>
        Update(new ReadOnlySpan<byte>(&key, sizeof(TKey)), new ReadOnlySpan<byte>(&value, sizeof(TValue)), flags);

    /// <summary>Deletes an element; false when it was absent.</summary>
    public bool Delete(ReadOnlySpan<byte> key)
    {
        CheckSizes(key, 0, 0, null);
        fixed (byte* k = key)
        {
            int rc = Interop.Libbpf.bpf_map_delete_elem(Fd, k);
            GC.KeepAlive(_owner); // its handle owns the fd: no finalizer may close it mid-call
            if (rc == -Errno.ENOENT)
            {
                return false;
            }

            Errors.Check(rc, "bpf_map_delete_elem", Name);
            return true;
        }
    }

    /// <summary>
    /// The key after <paramref name="key"/> (an empty span asks for the first); false at the end.
    /// Iterate with it to avoid allocations, or use <see cref="Keys"/>.
    /// </summary>
    public bool TryGetNextKey(ReadOnlySpan<byte> key, Span<byte> nextKey)
    {
        if (nextKey.Length != KeySize || (!key.IsEmpty && key.Length != KeySize))
        {
            throw new ArgumentException($"Map '{Name}': keys are {KeySize} bytes.", nameof(key));
        }

        fixed (byte* k = key, n = nextKey)
        {
            int rc = Interop.Libbpf.bpf_map_get_next_key(Fd, key.IsEmpty ? null : k, n);
            GC.KeepAlive(_owner); // its handle owns the fd: no finalizer may close it mid-call
            if (rc == -Errno.ENOENT)
            {
                return false;
            }

            Errors.Check(rc, "bpf_map_get_next_key", Name);
            return true;
        }
    }

    /// <summary>A snapshot of every key (allocates one array per key).</summary>
    public IReadOnlyList<byte[]> Keys()
    {
        var keys = new List<byte[]>();
        byte[] current = [];
        var next = new byte[KeySize];
        while (TryGetNextKey(current, next))
        {
            keys.Add(next);
            current = next;
            next = new byte[KeySize];
        }

        return keys;
    }

    /// <summary>Pins the map at a bpffs path.</summary>
    public void Pin(string path)
    {
        fixed (byte* p = NativeText.ToNative(path))
        {
            Errors.Check(Interop.Libbpf.bpf_map__pin(Pointer, p), "bpf_map__pin", path);
        }
    }

    /// <summary>Removes the map's pin (null: the path it was pinned at).</summary>
    public void Unpin(string? path = null)
    {
        fixed (byte* p = NativeText.ToNative(path))
        {
            Errors.Check(Interop.Libbpf.bpf_map__unpin(Pointer, p), "bpf_map__unpin", path ?? PinPath ?? Name);
        }
    }

    private BtfType? TypeOf(uint id) => id == 0 ? null : _owner.Btf?.GetType(id);

    private void CheckSizes(ReadOnlySpan<byte> key, int valueLength, int expectedValue, string? what)
    {
        if (key.Length != KeySize)
        {
            throw new ArgumentException($"Map '{Name}': keys are {KeySize} bytes, got {key.Length}.", nameof(key));
        }

        if (what is not null && valueLength != expectedValue)
        {
            throw new ArgumentException($"Map '{Name}': {what}s are {expectedValue} bytes, got {valueLength}.", what);
        }
    }

    public override string ToString() => _owner is null ? "(none)" : $"{Name} ({Type})";
}
