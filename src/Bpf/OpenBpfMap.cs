namespace Bpf;

/// <summary>A map of an <see cref="OpenBpfObject"/>, before load: sizes and pin path can still change.</summary>
public readonly unsafe struct OpenBpfMap
{
    private readonly OpenBpfObject _owner;
    private readonly nint _map;

    internal OpenBpfMap(OpenBpfObject owner, nint map)
    {
        _owner = owner;
        _map = map;
    }

    private nint Pointer
    {
        get
        {
            (_owner ?? throw new InvalidOperationException("Default OpenBpfMap.")).ThrowIfDisposed();
            return _map;
        }
    }

    public string Name => NativeText.ToString(Interop.Libbpf.bpf_map__name(Pointer)) ?? "";

    public BpfMapType Type => (BpfMapType)Interop.Libbpf.bpf_map__type(Pointer);

    public int KeySize => (int)Interop.Libbpf.bpf_map__key_size(Pointer);

    public int ValueSize => (int)Interop.Libbpf.bpf_map__value_size(Pointer);

    /// <summary>The key's type in the object's BTF (null when the map was declared without BTF key type).</summary>
    public BtfType? KeyType => TypeOf(Interop.Libbpf.bpf_map__btf_key_type_id(Pointer));

    /// <summary>The value's type in the object's BTF (null when the map was declared without BTF value type).</summary>
    public BtfType? ValueType => TypeOf(Interop.Libbpf.bpf_map__btf_value_type_id(Pointer));

    /// <summary>Maximum entries (for ring buffers: the size in bytes, a power of two multiple of the page size).</summary>
    public int MaxEntries
    {
        get => (int)Interop.Libbpf.bpf_map__max_entries(Pointer);
        set => Errors.Check(Interop.Libbpf.bpf_map__set_max_entries(Pointer, (uint)value), "bpf_map__set_max_entries", Name);
    }

    /// <summary>
    /// Whether Load creates this map (default true). A map only programs that are not loaded use can be left out,
    /// for example one of a type the kernel lacks; a loaded program that uses it then fails to load.
    /// </summary>
    public bool AutoCreate
    {
        get => Interop.Libbpf.bpf_map__autocreate(Pointer);
        set => Errors.Check(Interop.Libbpf.bpf_map__set_autocreate(Pointer, value), "bpf_map__set_autocreate", Name);
    }

    /// <summary>
    /// Where the map is pinned at load: an existing compatible pin there is reused (its fd and contents), else
    /// the new map is pinned there. Null clears it.
    /// </summary>
    public string? PinPath
    {
        get => NativeText.ToString(Interop.Libbpf.bpf_map__pin_path(Pointer));
        set
        {
            fixed (byte* p = NativeText.ToNative(value))
            {
                Errors.Check(Interop.Libbpf.bpf_map__set_pin_path(Pointer, p), "bpf_map__set_pin_path", value ?? Name);
            }
        }
    }

    /// <summary>Replaces the map's initial contents (for .data/.rodata/.bss maps); length must be the value size.</summary>
    public void SetInitialValue(ReadOnlySpan<byte> value)
    {
        fixed (byte* p = value)
        {
            Errors.Check(Interop.Libbpf.bpf_map__set_initial_value(Pointer, p, (nuint)value.Length), "bpf_map__set_initial_value", Name);
        }
    }

    private BtfType? TypeOf(uint id) => id == 0 ? null : _owner.Btf?.GetType(id);

    public override string ToString() => _owner is null ? "(none)" : $"{Name} ({Type})";
}
