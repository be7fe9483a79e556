using System.Runtime.InteropServices;

internal static unsafe partial class Interop
{
    internal static unsafe partial class Libc
    {
        // Tmds.LibC has no va_list-taking printf; libbpf's print callback needs exactly this one.
        [LibraryImport(Libraries.Libc)]
        internal static partial int vsnprintf(byte* buffer, nuint size, byte* format, void* args);
    }
}
