namespace Bpf;

/// <summary>
/// A loaded BPF object: its programs can be attached and pinned, its maps read and written. Dispose closes
/// it (links stay attached until they are disposed themselves; pins stay until unpinned).
/// Open one with <see cref="OpenBpfObject.OpenFile"/> then <see cref="OpenBpfObject.Load"/>.
/// </summary>
public sealed unsafe class BpfObject : BpfObjectBase
{
    internal BpfObject(SafeBpfObjectHandle handle, string path)
        : base(handle, path)
    {
    }

    /// <summary>Opens and loads a file in one step, for objects that need no set-up before load.</summary>
    public static BpfObject Load(string path, BpfObjectOpenOptions? options = null)
    {
        using OpenBpfObject open = OpenBpfObject.OpenFile(path, options);
        return open.Load();
    }

    /// <summary>Every program in the object, in ELF order.</summary>
    public IReadOnlyList<BpfProgram> Programs => ProgramPointers().Select(p => new BpfProgram(this, p)).ToList();

    /// <summary>Every map in the object, internal ones (.bss, .data, .rodata) included.</summary>
    public IReadOnlyList<BpfMap> Maps => MapPointers().Select(m => new BpfMap(this, m)).ToList();

    /// <summary>The fd of the object's BTF in the kernel, or a negative value when it has none loaded.</summary>
    public int BtfFd => Interop.Libbpf.bpf_object__btf_fd(Pointer);

    public bool TryGetProgram(string name, out BpfProgram program)
    {
        nint p = FindProgramPointer(name);
        program = p == 0 ? default : new BpfProgram(this, p);
        return p != 0;
    }

    /// <summary>The program named <paramref name="name"/>; throws <see cref="KeyNotFoundException"/> naming the ones there are.</summary>
    public BpfProgram GetProgram(string name) => TryGetProgram(name, out BpfProgram p)
        ? p
        : throw NotFound("program", name, Programs.Select(x => x.Name));

    public bool TryGetMap(string name, out BpfMap map)
    {
        nint m = FindMapPointer(name);
        map = m == 0 ? default : new BpfMap(this, m);
        return m != 0;
    }

    /// <summary>The map named <paramref name="name"/>; throws <see cref="KeyNotFoundException"/> naming the ones there are.</summary>
    public BpfMap GetMap(string name) => TryGetMap(name, out BpfMap m)
        ? m
        : throw NotFound("map", name, Maps.Select(x => x.Name));

    /// <summary>
    /// Attaches every loaded program whose section names its hook and whose auto-attach flag is on, as a
    /// libbpf skeleton does: programs whose section gives libbpf no way to attach them (<c>SEC("tp")</c>,
    /// <c>SEC("xdp")</c>...) are skipped. If one fails, the links made so far are detached and the error is
    /// thrown.
    /// </summary>
    public IReadOnlyList<BpfLink> AttachAll()
    {
        var links = new List<BpfLink>();
        try
        {
            foreach (BpfProgram p in Programs)
            {
                if (p.Fd < 0 || !p.AutoAttach)
                {
                    continue;
                }

                try
                {
                    links.Add(p.Attach());
                }
                catch (BpfException e) when (e.Errno == Errno.EOPNOTSUPP)
                {
                    // bpf_program__attach's answer for a section without an attach function, or one that
                    // names no target; the skeleton API skips these silently.
                }
            }
        }
        catch
        {
            foreach (BpfLink l in links)
            {
                l.Dispose();
            }

            throw;
        }

        return links;
    }

    /// <summary>
    /// Reads a global variable's live kernel value (from the .bss/.data/.rodata map with a lookup, not the
    /// initial-value copy libbpf keeps); <paramref name="value"/> must be exactly its size.
    /// </summary>
    public void ReadGlobal(string name, Span<byte> value)
    {
        (nint mapPtr, int offset, int size) = FindGlobal(name);
        if (value.Length != size)
        {
            throw new ArgumentException($"{Path}: global '{name}' is {size} bytes, the buffer is {value.Length}.", nameof(value));
        }

        var map = new BpfMap(this, mapPtr);
        byte[] section = new byte[map.ValueSize];
        if (!map.TryLookup(stackalloc byte[4], section))
        {
            throw new BpfException($"{Path}: the section holding global '{name}' could not be read.");
        }

        section.AsSpan(offset, size).CopyTo(value);
    }

    /// <summary>Typed <see cref="ReadGlobal(string, Span{byte})"/>.</summary>
    public T ReadGlobal<T>(string name)
        where T : unmanaged
    {
        T value = default;
        ReadGlobal(name, new Span<byte>(&value, sizeof(T)));
        return value;
    }

    /// <summary>Pins every map under <paramref name="directory"/> (one file per map name).</summary>
    public void PinMaps(string directory) => PathCall(&Interop.Libbpf.bpf_object__pin_maps, "bpf_object__pin_maps", directory);

    /// <summary>Removes the pins <see cref="PinMaps"/> made.</summary>
    public void UnpinMaps(string directory) => PathCall(&Interop.Libbpf.bpf_object__unpin_maps, "bpf_object__unpin_maps", directory);

    /// <summary>Pins every program under <paramref name="directory"/> (one file per program name).</summary>
    public void PinPrograms(string directory) => PathCall(&Interop.Libbpf.bpf_object__pin_programs, "bpf_object__pin_programs", directory);

    /// <summary>Removes the pins <see cref="PinPrograms"/> made.</summary>
    public void UnpinPrograms(string directory) => PathCall(&Interop.Libbpf.bpf_object__unpin_programs, "bpf_object__unpin_programs", directory);

    /// <summary>Pins maps and programs under <paramref name="directory"/> (bpf_object__pin).</summary>
    public void Pin(string directory) => PathCall(&Interop.Libbpf.bpf_object__pin, "bpf_object__pin", directory);

    /// <summary>
    /// Removes what <see cref="Pin"/> made. Uses bpf_object__unpin where the host's libbpf has it (1.3+),
    /// else unpins programs then maps, which is what it does.
    /// </summary>
    public void Unpin(string directory)
    {
        if (Libbpf.TryGetExport("bpf_object__unpin", out nint fn))
        {
            var unpin = (delegate* unmanaged<nint, byte*, int>)fn;
            fixed (byte* p = NativeText.ToNative(directory))
            {
                Errors.Check(unpin(Pointer, p), "bpf_object__unpin", directory);
            }

            return;
        }

        UnpinPrograms(directory);
        UnpinMaps(directory);
    }

    private void PathCall(delegate*<nint, byte*, int> fn, string function, string directory)
    {
        ArgumentException.ThrowIfNullOrEmpty(directory);
        fixed (byte* p = NativeText.ToNative(directory))
        {
            Errors.Check(fn(Pointer, p), function, directory);
        }
    }
}
