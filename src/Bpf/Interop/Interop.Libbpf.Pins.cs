using System.Runtime.InteropServices;

// libbpf's low-level access to pinned objects (bpf/bpf.h), apart from the object API in Interop.Libbpf.cs.
internal static unsafe partial class Interop
{
    internal static unsafe partial class Libbpf
    {
        /// <summary>An fd for the object pinned at <paramref name="pathname"/>; negative errno on failure.</summary>
        [LibraryImport(Libraries.Libbpf, StringMarshalling = StringMarshalling.Utf8)]
        internal static partial int bpf_obj_get(string pathname);
    }
}
