namespace Bpf;

/// <summary>Kernel map types (enum bpf_map_type).</summary>
public enum BpfMapType
{
    Unspecified = 0, Hash = 1, Array = 2, ProgramArray = 3, PerfEventArray = 4, PerCpuHash = 5,
    PerCpuArray = 6, StackTrace = 7, CgroupArray = 8, LruHash = 9, LruPerCpuHash = 10, LpmTrie = 11,
    ArrayOfMaps = 12, HashOfMaps = 13, DevMap = 14, SockMap = 15, CpuMap = 16, XskMap = 17, SockHash = 18,
    CgroupStorage = 19, ReuseportSockArray = 20, PerCpuCgroupStorage = 21, Queue = 22, Stack = 23,
    SkStorage = 24, DevMapHash = 25, StructOps = 26, RingBuffer = 27, InodeStorage = 28, TaskStorage = 29,
    BloomFilter = 30, UserRingBuffer = 31, CgroupStorageNew = 32,
}

/// <summary>Kernel program types (enum bpf_prog_type).</summary>
public enum BpfProgramType
{
    Unspecified = 0, SocketFilter = 1, Kprobe = 2, SchedCls = 3, SchedAct = 4, Tracepoint = 5, Xdp = 6,
    PerfEvent = 7, CgroupSkb = 8, CgroupSock = 9, LwtIn = 10, LwtOut = 11, LwtXmit = 12, SockOps = 13,
    SkSkb = 14, CgroupDevice = 15, SkMsg = 16, RawTracepoint = 17, CgroupSockAddr = 18, LwtSeg6Local = 19,
    LircMode2 = 20, SkReuseport = 21, FlowDissector = 22, CgroupSysctl = 23, RawTracepointWritable = 24,
    CgroupSockopt = 25, Tracing = 26, StructOps = 27, Extension = 28, Lsm = 29, SkLookup = 30, Syscall = 31,
}

/// <summary>Flags of <see cref="BpfMap.Update"/> (BPF_ANY, BPF_NOEXIST, BPF_EXIST).</summary>
public enum BpfMapUpdateFlags : ulong
{
    Any = 0,
    NoExist = 1,
    Exist = 2,
}
