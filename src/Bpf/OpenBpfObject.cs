using System.Runtime.InteropServices;

namespace Bpf;

/// <summary>
/// A BPF object opened but not loaded: the stage where pin paths, initial values (rodata parameters such
/// as a target pid), map sizes and program flags are set. <see cref="Load"/> turns it into a
/// <see cref="BpfObject"/>; after that this instance is spent and every member throws
/// <see cref="ObjectDisposedException"/>. Disposing it without loading closes the object.
/// </summary>
public sealed unsafe class OpenBpfObject : BpfObjectBase
{
    private readonly int _kernelLogSize;
    private byte[]? _kernelLog;

    private OpenBpfObject(SafeBpfObjectHandle handle, string path, byte[]? kernelLog)
        : base(handle, path)
    {
        _kernelLog = kernelLog;
        _kernelLogSize = kernelLog?.Length ?? 0;
    }

    /// <summary>Opens an ELF object file (<c>bpf_object__open_file</c>).</summary>
    public static OpenBpfObject OpenFile(string path, BpfObjectOpenOptions? options = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        Libbpf.EnsureSupported();
        return Open(path, options, elf: null, elfSize: 0);
    }

    /// <summary>
    /// Opens an object from bytes in memory (<c>bpf_object__open_mem</c>). The bytes are copied: libbpf reads
    /// them until load.
    /// </summary>
    public static OpenBpfObject OpenMemory(ReadOnlySpan<byte> elf, BpfObjectOpenOptions? options = null)
    {
        Libbpf.EnsureSupported();
        if (elf.IsEmpty)
        {
            throw new ArgumentException("An empty buffer is not a BPF object.", nameof(elf));
        }

        void* copy = NativeMemory.Alloc((nuint)elf.Length);
        elf.CopyTo(new Span<byte>(copy, elf.Length));
        try
        {
            return Open(options?.ObjectName ?? "<memory>", options, copy, elf.Length);
        }
        catch
        {
            NativeMemory.Free(copy);
            throw;
        }
    }

    private static OpenBpfObject Open(string path, BpfObjectOpenOptions? options, void* elf, int elfSize)
    {
        byte[]? kernelLog = options is { KernelLogSize: > 0 } ? new byte[options.KernelLogSize] : null;
        var opts = default(Interop.Libbpf.BpfObjectOpenOpts);
        opts.Size = (nuint)sizeof(Interop.Libbpf.BpfObjectOpenOpts);
        byte[]? name = NativeText.ToNative(options?.ObjectName);
        byte[]? pinRoot = NativeText.ToNative(options?.PinRootPath);
        byte[]? nativePath = NativeText.ToNative(path);
        byte[]? btfPath = NativeText.ToNative(options?.BtfCustomPath);

        // libbpf keeps kernel_log_buf until load: pin the managed array for the object's lifetime.
        GCHandle logPin = kernelLog is null ? default : GCHandle.Alloc(kernelLog, GCHandleType.Pinned);
        nint obj;
        fixed (byte* pName = name, pRoot = pinRoot, pPath = nativePath, pBtf = btfPath)
        {
            opts.ObjectName = pName;
            opts.PinRootPath = pRoot;
            opts.BtfCustomPath = pBtf;
            if (kernelLog is not null)
            {
                opts.KernelLogBuffer = (byte*)logPin.AddrOfPinnedObject();
                opts.KernelLogSize = (nuint)kernelLog.Length;
                opts.KernelLogLevel = (uint)Math.Max(1, options!.KernelLogLevel);
            }

            obj = elf is null
                ? Interop.Libbpf.bpf_object__open_file(pPath, &opts)
                : Interop.Libbpf.bpf_object__open_mem(elf, (nuint)elfSize, &opts);
        }

        int errno = Marshal.GetLastPInvokeError();
        if (obj == 0)
        {
            if (logPin.IsAllocated)
            {
                logPin.Free();
            }

            throw BpfException.FromErrno(errno == 0 ? Errno.EINVAL : errno,
                elf is null ? "bpf_object__open_file" : "bpf_object__open_mem", path);
        }

        var handle = new SafeBpfObjectHandle(obj, elf);
        if (logPin.IsAllocated)
        {
            handle.KeepAlive(logPin);
        }

        return new OpenBpfObject(handle, path, kernelLog);
    }

    /// <summary>The kernel version the object declares (bpf_object__kversion).</summary>
    public uint KernelVersion
    {
        get => Interop.Libbpf.bpf_object__kversion(Pointer);
        set => Errors.Check(Interop.Libbpf.bpf_object__set_kversion(Pointer, value), "bpf_object__set_kversion", Path);
    }

    /// <summary>Every program in the object, in ELF order.</summary>
    public IReadOnlyList<OpenBpfProgram> Programs => ProgramPointers().Select(p => new OpenBpfProgram(this, p)).ToList();

    /// <summary>Every map in the object, internal ones (.bss, .data, .rodata) included.</summary>
    public IReadOnlyList<OpenBpfMap> Maps => MapPointers().Select(m => new OpenBpfMap(this, m)).ToList();

    /// <summary>The program named <paramref name="name"/> (its C function name), or false.</summary>
    public bool TryGetProgram(string name, out OpenBpfProgram program)
    {
        nint p = FindProgramPointer(name);
        program = p == 0 ? default : new OpenBpfProgram(this, p);
        return p != 0;
    }

    /// <summary>The program named <paramref name="name"/>; throws <see cref="KeyNotFoundException"/> naming the ones there are.</summary>
    public OpenBpfProgram GetProgram(string name) => TryGetProgram(name, out OpenBpfProgram p)
        ? p
        : throw NotFound("program", name, Programs.Select(x => x.Name));

    /// <summary>The map named <paramref name="name"/>, or false.</summary>
    public bool TryGetMap(string name, out OpenBpfMap map)
    {
        nint m = FindMapPointer(name);
        map = m == 0 ? default : new OpenBpfMap(this, m);
        return m != 0;
    }

    /// <summary>The map named <paramref name="name"/>; throws <see cref="KeyNotFoundException"/> naming the ones there are.</summary>
    public OpenBpfMap GetMap(string name) => TryGetMap(name, out OpenBpfMap m)
        ? m
        : throw NotFound("map", name, Maps.Select(x => x.Name));

    /// <summary>
    /// Sets the initial value of a global variable (for example <c>const volatile u32 target_pid</c> in
    /// .rodata) by name; <paramref name="value"/> must be exactly the variable's size.
    /// </summary>
    public void SetGlobal(string name, ReadOnlySpan<byte> value)
    {
        (nint map, int offset, int size) = FindGlobal(name);
        if (value.Length != size)
        {
            throw new ArgumentException(
                $"{Path}: global '{name}' is {size} bytes, the value given is {value.Length}.", nameof(value));
        }

        nuint total;
        byte* data = (byte*)Interop.Libbpf.bpf_map__initial_value(map, &total);
        if (data == null || (nuint)(offset + size) > total)
        {
            throw new BpfException($"{Path}: the initial value of global '{name}' is not accessible.");
        }

        value.CopyTo(new Span<byte>(data + offset, size));
    }

    /// <summary>Typed <see cref="SetGlobal(string, ReadOnlySpan{byte})"/>.</summary>
    public void SetGlobal<T>(string name, T value)
        where T : unmanaged => SetGlobal(name, new ReadOnlySpan<byte>(&value, sizeof(T)));

    /// <summary>
    /// Loads the object into the kernel (BTF, maps, then the verifier for each program). On success returns the
    /// loaded object and this instance is spent; on failure throws a <see cref="BpfException"/> with the
    /// verifier log's tail and closes the object.
    /// </summary>
    public BpfObject Load()
    {
        nint obj = Pointer;
        LogCapture capture = LibbpfLog.BeginCapture();
        int rc;
        try
        {
            rc = Interop.Libbpf.bpf_object__load(obj);
        }
        finally
        {
            LibbpfLog.EndCapture(capture);
        }

        SafeBpfObjectHandle handle = TakeHandle();
        if (rc < 0)
        {
            string log = KernelLogText() is { Length: > 0 } kernelLog ? kernelLog : capture.Text;
            handle.Dispose();
            _kernelLog = null;
            string? tail = log.Length == 0 ? null : VerifierLog.Tail(log);
            if (-rc == Errno.ENOSPC && _kernelLogSize > 0)
            {
                // The kernel fails even a valid program when the log it was asked for does not fit.
                throw new BpfException(
                    $"bpf_object__load ({Path}) failed: the kernel log buffer (KernelLogSize = {_kernelLogSize} bytes) is too " +
                    "small for the log level asked for, and the kernel refuses a load whose log does not fit; " +
                    $"raise KernelLogSize or set it to 0 (errno {Errno.ENOSPC})",
                    Errno.ENOSPC, "bpf_object__load", Path, Errors.Describe(Errno.ENOSPC), null) { VerifierLog = tail };
            }

            throw BpfException.FromErrno(-rc, "bpf_object__load", Path, tail);
        }

        return new BpfObject(handle, Path);
    }

    private string KernelLogText()
    {
        if (_kernelLog is null)
        {
            return "";
        }

        int end = System.Array.IndexOf(_kernelLog, (byte)0);
        return System.Text.Encoding.UTF8.GetString(_kernelLog, 0, end < 0 ? _kernelLogSize : end);
    }
}
