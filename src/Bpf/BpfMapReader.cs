using System.Buffers.Binary;

namespace Bpf;

/// <summary>How a <see cref="BpfMapReader"/> reads entries.</summary>
public enum BpfMapReadMethod
{
    /// <summary><c>bpf_map_lookup_batch</c> (kernel 5.6+; hash, LRU hash, per-CPU hash, array maps).</summary>
    Batch,

    /// <summary><c>bpf_map_get_next_key</c> then <c>bpf_map_lookup_elem</c> per key: every kernel, every map type.</summary>
    Iterate,
}

/// <summary>
/// Reads a map's entries chunk by chunk into buffers it owns and reuses, so a read in steady state
/// allocates nothing. <see cref="ReadNext"/> fills up to <see cref="Capacity"/> entries and returns how many;
/// <see cref="GetKey"/> and <see cref="GetValue(int)"/> are views of the chunk, valid until the next read.
/// A pass over the map starts at construction and at <see cref="Reset"/> and ends when ReadNext returns 0.
/// </summary>
/// <remarks>
/// Batched lookups are used where the kernel has them; when it answers EINVAL or ENOTSUPP (kernels before
/// 5.6, or a map type without batch operations such as an LPM trie) the reader falls back to key iteration
/// for the rest of its life. Neither method is a snapshot: entries the kernel adds or removes during a
/// pass may or may not be seen. Key iteration whose last key is deleted between two calls restarts from the
/// first key (the kernel's get_next_key contract), so a pass is bounded to max_entries entries.
/// Not thread-safe: one reader per thread.
/// </remarks>
public sealed unsafe class BpfMapReader
{
    private readonly BpfMap _map;
    private readonly PinnedBpfMap? _pinned;
    private readonly string _name;
    private readonly int _keySize;
    private readonly int _valueSize;
    private readonly int _maxEntries;
    private readonly byte[] _token;
    private readonly byte[] _lastKey;
    private byte[] _keys;
    private byte[] _values;
    private int _count;
    private int _passEntries;
    private bool _started;
    private bool _done;

    /// <summary>A reader of one of a loaded object's maps.</summary>
    /// <param name="map">The map; the reader must not outlive its object.</param>
    /// <param name="capacity">Entries per chunk; 0 picks min(max_entries, 1024).</param>
    /// <param name="method">Batch (falls back to iteration where unsupported) or iteration only.</param>
    public BpfMapReader(BpfMap map, int capacity = 0, BpfMapReadMethod method = BpfMapReadMethod.Batch)
        : this(map, null, map.Name, map.Type, map.KeySize, map.ValueSize, map.MaxEntries, capacity, method)
    {
    }

    /// <summary>A reader of a map opened from its pin.</summary>
    public BpfMapReader(PinnedBpfMap map, int capacity = 0, BpfMapReadMethod method = BpfMapReadMethod.Batch)
        : this(default, map ?? throw new ArgumentNullException(nameof(map)), map.Path, map.Info.Type, map.Info.KeySize,
            map.Info.ValueSize, map.Info.MaxEntries, capacity, method)
    {
    }

    private BpfMapReader(BpfMap map, PinnedBpfMap? pinned, string name, BpfMapType type, int keySize, int valueSize,
        int maxEntries, int capacity, BpfMapReadMethod method)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(capacity);
        if (type is BpfMapType.RingBuffer or BpfMapType.UserRingBuffer or BpfMapType.PerfEventArray
            or BpfMapType.Queue or BpfMapType.Stack or BpfMapType.BloomFilter)
        {
            throw new ArgumentException($"Map '{name}' is a {type} map: it has no keys to read entries by.", nameof(map));
        }

        _map = map;
        _pinned = pinned;
        _name = name;
        Type = type;
        _keySize = keySize;
        _valueSize = valueSize;
        _maxEntries = maxEntries;
        IsPerCpu = BpfMapLayout.IsPerCpu(type);
        CpuCount = IsPerCpu ? Libbpf.PossibleCpuCount : 1;
        SlotSize = IsPerCpu ? BpfMapLayout.PerCpuSlotSize(valueSize) : valueSize;
        ValueStride = SlotSize * CpuCount;
        Method = method;
        Capacity = Math.Max(1, capacity == 0 ? Math.Min(maxEntries, 1024) : Math.Min(capacity, maxEntries));
        _keys = new byte[Capacity * keySize];
        _values = new byte[Capacity * ValueStride];

        // The batch position token: a bucket index (u32) for hash maps, a key for the generic (array)
        // implementation. Key-sized and at least 8 bytes covers both.
        _token = new byte[Math.Max(keySize, 8)];
        _lastKey = new byte[keySize];
    }

    /// <summary>The map's type.</summary>
    public BpfMapType Type { get; }

    /// <summary>Entries one <see cref="ReadNext"/> can return (may grow once if a hash bucket is larger).</summary>
    public int Capacity { get; private set; }

    /// <summary>The method the next read uses: <see cref="BpfMapReadMethod.Batch"/> until the kernel refuses it.</summary>
    public BpfMapReadMethod Method { get; private set; }

    /// <summary>Entries in the current chunk (what the last <see cref="ReadNext"/> returned).</summary>
    public int Count => _count;

    /// <summary>Entries read so far in this pass.</summary>
    public int PassCount => _passEntries;

    /// <summary>Whether the pass has reached the end of the map.</summary>
    public bool IsAtEnd => _done;

    /// <summary>Whether values hold one slot per possible CPU.</summary>
    public bool IsPerCpu { get; }

    /// <summary>Slots per value: the possible CPUs for per-CPU maps, else 1.</summary>
    public int CpuCount { get; }

    /// <summary>Bytes of one CPU's slot (per-CPU maps: the value size rounded up to 8), else the value size.</summary>
    public int SlotSize { get; }

    /// <summary>Bytes of one entry's value in <see cref="Values"/>.</summary>
    public int ValueStride { get; }

    /// <summary>Bytes of a key.</summary>
    public int KeySize => _keySize;

    /// <summary>Bytes of one value as the program sees it (one CPU's, unrounded).</summary>
    public int ValueSize => _valueSize;

    /// <summary>The current chunk's keys, back to back.</summary>
    public ReadOnlySpan<byte> Keys => _keys.AsSpan(0, _count * _keySize);

    /// <summary>The current chunk's values, back to back, <see cref="ValueStride"/> bytes each.</summary>
    public ReadOnlySpan<byte> Values => _values.AsSpan(0, _count * ValueStride);

    /// <summary>Key <paramref name="index"/> of the current chunk.</summary>
    public ReadOnlySpan<byte> GetKey(int index) => _keys.AsSpan(CheckIndex(index) * _keySize, _keySize);

    /// <summary>Value <paramref name="index"/> of the current chunk: every CPU's slot for per-CPU maps.</summary>
    public ReadOnlySpan<byte> GetValue(int index) => _values.AsSpan(CheckIndex(index) * ValueStride, ValueStride);

    /// <summary>One CPU's value (<see cref="ValueSize"/> bytes) of entry <paramref name="index"/>; cpu 0 for other maps.</summary>
    public ReadOnlySpan<byte> GetValue(int index, int cpu)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(cpu);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(cpu, CpuCount);
        return _values.AsSpan((CheckIndex(index) * ValueStride) + (cpu * SlotSize), _valueSize);
    }

    /// <summary>
    /// The little-endian unsigned integer of <paramref name="width"/> bytes (1, 2, 4 or 8) at
    /// <paramref name="offset"/> in entry <paramref name="index"/>'s value, summed over every CPU for per-CPU
    /// maps (wrapping as the kernel's own u64 counters do).
    /// </summary>
    public ulong SumUnsigned(int index, int offset, int width = 8)
    {
        if (width is not (1 or 2 or 4 or 8) || offset < 0 || offset + width > _valueSize)
        {
            throw new ArgumentOutOfRangeException(nameof(offset), $"Map '{_name}': {width} bytes at offset {offset} are not inside its {_valueSize}-byte value.");
        }

        ReadOnlySpan<byte> value = GetValue(index);
        ulong sum = 0;
        for (int cpu = 0; cpu < CpuCount; cpu++)
        {
            ReadOnlySpan<byte> f = value.Slice((cpu * SlotSize) + offset, width);
            sum += width switch
            {
                1 => f[0],
                2 => BinaryPrimitives.ReadUInt16LittleEndian(f),
                4 => BinaryPrimitives.ReadUInt32LittleEndian(f),
                _ => BinaryPrimitives.ReadUInt64LittleEndian(f),
            };
        }

        return sum;
    }

    /// <summary>Starts a new pass from the map's first entry.</summary>
    public void Reset()
    {
        _started = false;
        _done = false;
        _count = 0;
        _passEntries = 0;
    }

    /// <summary>
    /// Reads the next chunk of the pass into the reader's buffers; returns its entry count, 0 once the pass
    /// has reached the end (call <see cref="Reset"/> to read again).
    /// </summary>
    public int ReadNext()
    {
        _count = 0;
        if (_done)
        {
            return 0;
        }

        bool addedRef = false;
        try
        {
            _pinned?.DangerousAddRef(ref addedRef);
            int fd = _pinned is null ? _map.Fd : (int)_pinned.DangerousGetHandle();
            _count = Method == BpfMapReadMethod.Batch ? ReadBatch(fd) : ReadIterate(fd);
        }
        finally
        {
            if (addedRef)
            {
                _pinned!.DangerousRelease();
            }

            GC.KeepAlive(_map.Owner); // its handle owns the fd: no finalizer may close it mid-call
        }

        _passEntries += _count;
        return _count;
    }

    private int ReadBatch(int fd)
    {
        while (true)
        {
            uint count = (uint)Capacity;
            int rc;
            fixed (byte* token = _token, keys = _keys, values = _values)
            {
                rc = Interop.Libbpf.bpf_map_lookup_batch(fd, _started ? token : null, token, keys, values, &count, null);
            }

            if (rc == 0 || rc == -Errno.ENOENT)
            {
                // ENOENT: the end of the map; count says how many this last call still returned.
                _started = true;
                _done = rc != 0;
                return (int)count;
            }

            switch (Errno.Classify(-rc))
            {
                case BpfErrorKind.InvalidArgument or BpfErrorKind.NotSupported when !_started:
                    Method = BpfMapReadMethod.Iterate;
                    return ReadIterate(fd);
                case BpfErrorKind.NoSpace when count == 0:
                    // A hash bucket holds more entries than a chunk: the kernel returns whole buckets only.
                    Grow();
                    continue;
                default:
                    Errors.Check(rc, "bpf_map_lookup_batch", _name);
                    return 0;
            }
        }
    }

    private int ReadIterate(int fd)
    {
        int n = 0;
        fixed (byte* keys = _keys, values = _values, last = _lastKey)
        {
            while (n < Capacity)
            {
                if (_passEntries + n >= _maxEntries)
                {
                    _done = true; // bounded: a restart after a concurrent delete must not loop for ever
                    break;
                }

                byte* key = keys + (n * _keySize);
                int rc = Interop.Libbpf.bpf_map_get_next_key(fd, _started ? last : null, key);
                if (rc == -Errno.ENOENT)
                {
                    _done = true;
                    break;
                }

                Errors.Check(rc, "bpf_map_get_next_key", _name);
                _started = true;
                Buffer.MemoryCopy(key, last, _keySize, _keySize);
                rc = Interop.Libbpf.bpf_map_lookup_elem(fd, key, values + (n * ValueStride));
                if (rc == -Errno.ENOENT)
                {
                    continue; // deleted since get_next_key returned it
                }

                Errors.Check(rc, "bpf_map_lookup_elem", _name);
                n++;
            }
        }

        return n;
    }

    private void Grow()
    {
        int capacity = checked(Capacity * 2);
        Capacity = capacity;
        _keys = new byte[capacity * _keySize];
        _values = new byte[capacity * ValueStride];
    }

    private int CheckIndex(int index)
    {
        if ((uint)index >= (uint)_count)
        {
            throw new ArgumentOutOfRangeException(nameof(index), index, $"The current chunk holds {_count} entries.");
        }

        return index;
    }

    public override string ToString() => $"{_name} ({Type}, {Method}, {Capacity} a chunk)";
}
