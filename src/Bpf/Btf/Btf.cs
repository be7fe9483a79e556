namespace Bpf;

/// <summary>
/// The BTF of a BPF object: the C types the compiler described. Borrowed from its object: any use after
/// the object is disposed throws <see cref="ObjectDisposedException"/>.
/// </summary>
public sealed unsafe class Btf
{
    private readonly BpfObjectBase _owner;
    private readonly nint _btf;
    private readonly Dictionary<uint, BtfType> _cache = [];
    private readonly Lock _gate = new();

    internal Btf(BpfObjectBase owner, nint btf)
    {
        _owner = owner;
        _btf = btf;
    }

    /// <summary>Number of type ids, including the void type 0.</summary>
    public int TypeCount => (int)Interop.Libbpf.btf__type_cnt(Pointer);

    private nint Pointer
    {
        get
        {
            _owner.ThrowIfDisposed();
            return _btf;
        }
    }

    /// <summary>The type with this id. Id 0 is void. Safe to call from several threads.</summary>
    public BtfType GetType(uint id)
    {
        // Decoders resolve types lazily, possibly from several workers: the cache is shared state.
        lock (_gate)
        {
            if (_cache.TryGetValue(id, out BtfType? t))
            {
                return t;
            }

            Interop.Libbpf.BtfType* raw = Interop.Libbpf.btf__type_by_id(Pointer, id);
            if (raw == null)
            {
                throw new ArgumentOutOfRangeException(nameof(id), id, $"No BTF type with id {id} in {_owner.Path}.");
            }

            t = new BtfType(this, id, raw);
            _cache[id] = t;
            return t;
        }
    }

    /// <summary>The type of this name and kind, or null when the object's BTF has none.</summary>
    public BtfType? FindType(string name, BtfKind kind)
    {
        int id;
        fixed (byte* n = NativeText.ToNative(name))
        {
            id = Interop.Libbpf.btf__find_by_name_kind(Pointer, n, (uint)kind);
        }

        return id > 0 ? GetType((uint)id) : null;
    }

    /// <summary>
    /// A struct by name, with an error that says what to do when it is missing: clang only emits BTF for types
    /// reachable from globals, maps and function signatures.
    /// </summary>
    public BtfType GetStruct(string name) =>
        FindType(name, BtfKind.Struct) ?? throw new KeyNotFoundException(
            $"{_owner.Path}: no struct '{name}' in the object's BTF. A struct used only through the pointer " +
            $"bpf_ringbuf_reserve returns is not emitted by clang; anchor it with a global such as " +
            $"'struct {name} *{name}_anchor __attribute__((unused));'.");

    internal string Name(uint offset) => NativeText.ToString(Interop.Libbpf.btf__name_by_offset(Pointer, offset)) ?? "";
}
