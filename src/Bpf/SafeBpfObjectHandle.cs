using System.Runtime.InteropServices;

namespace Bpf;

/// <summary>
/// Owns a <c>struct bpf_object*</c> and what libbpf keeps pointers to until close: the ELF copy of objects
/// opened from memory and the pinned kernel log buffer.
/// </summary>
internal sealed unsafe class SafeBpfObjectHandle : SafeHandle
{
    private void* _elf;
    private GCHandle _pinned;

    public SafeBpfObjectHandle(nint obj, void* elf)
        : base(0, ownsHandle: true)
    {
        SetHandle(obj);
        _elf = elf;
    }

    public override bool IsInvalid => handle == 0;

    public void KeepAlive(GCHandle pinned) => _pinned = pinned;

    protected override bool ReleaseHandle()
    {
        Interop.Libbpf.bpf_object__close(handle);
        if (_elf != null)
        {
            NativeMemory.Free(_elf);
            _elf = null;
        }

        if (_pinned.IsAllocated)
        {
            _pinned.Free();
        }

        return true;
    }
}
