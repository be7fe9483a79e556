namespace Bpf;

/// <summary>
/// What an object offers before and after load: its name, BTF, and the walk over programs and maps.
/// Not thread-safe: use one object from one thread at a time (ring buffers are the exception; see RingBuffer).
/// </summary>
public abstract unsafe class BpfObjectBase : IDisposable
{
    private SafeBpfObjectHandle? _handle;
    private Btf? _btf;

    private protected BpfObjectBase(SafeBpfObjectHandle handle, string path)
    {
        _handle = handle;
        Path = path;
    }

    /// <summary>The file the object was opened from, or its name for memory objects.</summary>
    public string Path { get; }

    /// <summary>The object's name (bpf_object__name).</summary>
    public string Name => NativeText.ToString(Interop.Libbpf.bpf_object__name(Pointer)) ?? "";

    /// <summary>Whether Dispose ran (or, for an open object, it was consumed by Load).</summary>
    public bool IsDisposed => _handle is null || _handle.IsClosed;

    /// <summary>The object's BTF, or null when it has none.</summary>
    public Btf? Btf
    {
        get
        {
            if (_btf is null)
            {
                nint btf = Interop.Libbpf.bpf_object__btf(Pointer);
                _btf = btf == 0 ? null : new Btf(this, btf);
            }

            return _btf;
        }
    }

    internal nint Pointer
    {
        get
        {
            SafeBpfObjectHandle? h = _handle;
            ObjectDisposedException.ThrowIf(h is null || h.IsClosed, this);
            return h.DangerousGetHandle();
        }
    }

    internal void ThrowIfDisposed() => _ = Pointer;

    internal SafeBpfObjectHandle TakeHandle()
    {
        SafeBpfObjectHandle h = _handle ?? throw new ObjectDisposedException(GetType().Name);
        _handle = null;
        return h;
    }

    private protected IEnumerable<nint> ProgramPointers()
    {
        var list = new List<nint>();
        for (nint p = Interop.Libbpf.bpf_object__next_program(Pointer, 0); p != 0;
             p = Interop.Libbpf.bpf_object__next_program(Pointer, p))
        {
            list.Add(p);
        }

        return list;
    }

    private protected IEnumerable<nint> MapPointers()
    {
        var list = new List<nint>();
        for (nint m = Interop.Libbpf.bpf_object__next_map(Pointer, 0); m != 0;
             m = Interop.Libbpf.bpf_object__next_map(Pointer, m))
        {
            list.Add(m);
        }

        return list;
    }

    private protected nint FindProgramPointer(string name)
    {
        fixed (byte* n = NativeText.ToNative(name))
        {
            return Interop.Libbpf.bpf_object__find_program_by_name(Pointer, n);
        }
    }

    private protected nint FindMapPointer(string name)
    {
        fixed (byte* n = NativeText.ToNative(name))
        {
            return Interop.Libbpf.bpf_object__find_map_by_name(Pointer, n);
        }
    }

    /// <summary>The error for an unknown program or map name, listing the ones the object has.</summary>
    private protected KeyNotFoundException NotFound(string kind, string name, IEnumerable<string> existing) =>
        new($"{Path}: no {kind} '{name}'; the object has: {string.Join(", ", existing)}.");

    /// <summary>
    /// Every global variable of the object's data sections (.bss, .data, .rodata and their sub-sections):
    /// name, BTF type id, offset in its section and size. Empty when the object has no BTF.
    /// </summary>
    public IReadOnlyList<BtfVariable> GlobalVariables =>
        Btf is Btf btf ? DataSections(btf).SelectMany(d => d.Section.Variables).ToList() : [];

    /// <summary>
    /// Finds a global variable by name in the object's data sections: the internal map that holds it and its
    /// offset and size there.
    /// </summary>
    private protected (nint Map, int Offset, int Size) FindGlobal(string name)
    {
        Btf btf = Btf ?? throw new BpfException(
            $"{Path}: the object has no BTF, so global '{name}' cannot be found; compile with clang -g.");
        foreach ((nint map, BtfType sec) in DataSections(btf))
        {
            foreach (BtfVariable v in sec.Variables)
            {
                if (v.Name == name)
                {
                    return (map, v.Offset, v.Size);
                }
            }
        }

        throw new KeyNotFoundException(
            $"{Path}: no global variable '{name}' in the object's .bss, .data or .rodata sections.");
    }

    private IEnumerable<(nint Map, BtfType Section)> DataSections(Btf btf)
    {
        foreach (nint map in MapPointers())
        {
            if (DataSection(btf, map) is BtfType sec)
            {
                yield return (map, sec);
            }
        }
    }

    // The DATASEC describing an internal map's value. libbpf records it as the map's BTF value type; the
    // name fallback strips the object-name prefix libbpf puts before the section name ("obj.name.bss"
    // holds ".bss": try each dot, so a dotted object name still matches).
    private static BtfType? DataSection(Btf btf, nint map)
    {
        uint valueType = Interop.Libbpf.bpf_map__btf_value_type_id(map);
        if (valueType != 0)
        {
            BtfType t = btf.GetType(valueType);
            return t.Kind == BtfKind.Datasec ? t : null;
        }

        string mapName = NativeText.ToString(Interop.Libbpf.bpf_map__name(map)) ?? "";
        for (int dot = mapName.IndexOf('.', StringComparison.Ordinal); dot >= 0;
             dot = mapName.IndexOf('.', dot + 1))
        {
            if (btf.FindType(mapName[dot..], BtfKind.Datasec) is BtfType sec)
            {
                return sec;
            }
        }

        return null;
    }

    public void Dispose()
    {
        Dispose(true);
        GC.SuppressFinalize(this);
    }

    protected virtual void Dispose(bool disposing)
    {
        if (disposing)
        {
            _handle?.Dispose();
        }
    }
}
