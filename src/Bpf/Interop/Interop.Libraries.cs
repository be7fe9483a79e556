internal static partial class Interop
{
    internal static class Libraries
    {
        // The soname, not the dev symlink: hosts without libbpf-dev still have libbpf.so.1.
        internal const string Libbpf = "libbpf.so.1";
        internal const string Libc = "libc.so.6";
    }
}
