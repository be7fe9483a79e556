namespace Bpf;

/// <summary>
/// What a failed libbpf or kernel call means, so callers test a kind rather than errno literals
/// (<c>rc == -2</c>, <c>Errno == 28</c>). <see cref="BpfException.Errno"/> keeps the exact code.
/// </summary>
public enum BpfErrorKind
{
    /// <summary>Any errno without a kind of its own.</summary>
    Other = 0,

    /// <summary>ENOENT: no such element, key, pin or file.</summary>
    NotFound,

    /// <summary>EEXIST: the element or pin exists (for example an update with <see cref="BpfMapUpdateFlags.NoExist"/>).</summary>
    AlreadyExists,

    /// <summary>E2BIG: a full map refused a new key, or an attribute is larger than the kernel accepts.</summary>
    TooBig,

    /// <summary>ENOSPC: a buffer was too small for what the kernel had to return.</summary>
    NoSpace,

    /// <summary>EINVAL: the kernel or libbpf rejected an argument (often: a feature this kernel lacks).</summary>
    InvalidArgument,

    /// <summary>EOPNOTSUPP or ENOTSUPP (524, kernel-internal): the operation does not exist for this map or kernel.</summary>
    NotSupported,

    /// <summary>EPERM or EACCES: a capability (CAP_BPF, CAP_PERFMON) or permission is missing.</summary>
    PermissionDenied,

    /// <summary>EBUSY or EAGAIN: retry later.</summary>
    Busy,

    /// <summary>ENOMEM: the kernel could not allocate (memlock, vmalloc).</summary>
    OutOfMemory,

    /// <summary>EBADF: the file descriptor is not (or no longer) a BPF object.</summary>
    BadFileDescriptor,
}

/// <summary>The errno codes the binding tests, named once.</summary>
internal static class Errno
{
    public const int EPERM = 1;
    public const int ENOENT = 2;
    public const int EINTR = 4;
    public const int E2BIG = 7;
    public const int EBADF = 9;
    public const int EAGAIN = 11;
    public const int ENOMEM = 12;
    public const int EACCES = 13;
    public const int EBUSY = 16;
    public const int EEXIST = 17;
    public const int EINVAL = 22;
    public const int ENOSPC = 28;
    public const int EOPNOTSUPP = 95;
    public const int ETIMEDOUT = 110;
    public const int EINPROGRESS = 115;

    /// <summary>The kernel's internal "not supported", which BPF syscalls leak to user space.</summary>
    public const int ENOTSUPP = 524;

    public static BpfErrorKind Classify(int errno) => errno switch
    {
        ENOENT => BpfErrorKind.NotFound,
        EEXIST => BpfErrorKind.AlreadyExists,
        E2BIG => BpfErrorKind.TooBig,
        ENOSPC => BpfErrorKind.NoSpace,
        EINVAL => BpfErrorKind.InvalidArgument,
        EOPNOTSUPP or ENOTSUPP => BpfErrorKind.NotSupported,
        EPERM or EACCES => BpfErrorKind.PermissionDenied,
        EBUSY or EAGAIN => BpfErrorKind.Busy,
        ENOMEM => BpfErrorKind.OutOfMemory,
        EBADF => BpfErrorKind.BadFileDescriptor,
        _ => BpfErrorKind.Other,
    };
}
