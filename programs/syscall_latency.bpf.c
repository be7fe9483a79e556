// SPDX-License-Identifier: GPL-2.0
/*
 * syscall_latency: one sample per completed syscall with its latency, from the raw_syscalls
 * sys_enter and sys_exit tracepoints, attached as BTF raw tracepoints (tp_btf/): no perf
 * trace-buffer copy of the arguments before the program runs, as a classic tp/ has.
 *
 * Runs on every syscall of the host: keep it cheap. Samples are submitted with
 * bpf_agent_submit_batched() (no wakeup until 64 KiB are waiting); the agent drains on its poll
 * timeout.
 *
 * Two variants, chosen by the agent at load time (config/programs.d/syscall_latency.json):
 *   task_storage (Linux 5.11+): the sys_enter timestamp in the thread's task storage, the task from
 *                bpf_get_current_task_btf(); the cheapest per syscall.
 *   hash         (any kernel with BTF, 5.10 included): the timestamp in an LRU hash keyed by thread
 *                id, pid and comm from the classic helpers.
 * Both fill struct syscall_event with the same fields and meaning.
 *
 * Ring buffer: syscall_events (1 MiB) of struct syscall_event.
 * Parameters:  filter_tgid (0: all processes; otherwise only that tgid),
 *              ignore_tgid (0: none; otherwise skip that tgid; the agent sets its own to avoid a
 *              feedback loop: its consuming a sample makes syscalls that make samples).
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include "bpf_agent.h"

char LICENSE[] SEC("license") = "GPL";

#define SYSCALL_WAKEUP_THRESHOLD (64 * 1024)

struct syscall_event {
	__u64 latency_ns; /* sys_exit time - sys_enter time of the same thread */
	__u32 pid;        /* tgid */
	__s32 syscall_nr; /* architecture's syscall number */
	__s64 ret;        /* return value (negative errno on failure) */
	char comm[16];    /* thread's comm, NUL-terminated */
};
BPF_AGENT_EVENT(syscall_event);

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1024 * 1024);
} syscall_events SEC(".maps");

/*
 * The sys_enter timestamp of each thread (0: none pending), in the thread's own task storage:
 * no hashing or LRU locking per syscall, and freed with the thread, so a thread that never
 * reaches sys_exit (exit(), exit_group()) leaves nothing stale behind. Keyed by the task itself,
 * an execve() from a non-leader thread (which takes over the leader's pid) still finds its start.
 */
struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, __u64);
} syscall_start SEC(".maps");

const volatile __u32 filter_tgid = 0;
const volatile __u32 ignore_tgid = 0;

/* The syscall number as raw_syscalls/sys_exit reports it: syscall_get_nr(). */
#if defined(__TARGET_ARCH_x86)
#define SYSCALL_NR(regs) ((regs)->orig_ax)
#elif defined(__TARGET_ARCH_arm64)
#define SYSCALL_NR(regs) ((regs)->syscallno)
#else
#error "syscall_latency: add this architecture's syscall_get_nr()"
#endif

static __always_inline bool skip_tgid(__u32 tgid)
{
	if (filter_tgid && tgid != filter_tgid)
		return true;
	if (ignore_tgid && tgid == ignore_tgid)
		return true;
	return false;
}

SEC("tp_btf/sys_enter")
int BPF_PROG(handle_sys_enter, struct pt_regs *regs, long id)
{
	struct task_struct *task = bpf_get_current_task_btf();
	__u64 *start;

	if (skip_tgid(task->tgid))
		return 0;
	start = bpf_task_storage_get(&syscall_start, task, 0, BPF_LOCAL_STORAGE_GET_F_CREATE);
	if (start)
		*start = bpf_ktime_get_ns();
	return 0;
}

SEC("tp_btf/sys_exit")
int BPF_PROG(handle_sys_exit, struct pt_regs *regs, long ret)
{
	struct task_struct *task = bpf_get_current_task_btf();
	struct syscall_event *e;
	__u64 *start, start_ns, now;

	/*
	 * No tgid filter here: a start is only stored for threads that passed it at sys_enter (the
	 * filter is fixed for the object's lifetime and a thread's tgid does not change).
	 */
	start = bpf_task_storage_get(&syscall_start, task, 0, 0);
	if (!start)
		return 0;
	start_ns = *start;
	if (!start_ns)
		return 0; /* sys_enter before the program was attached, or filtered out */
	*start = 0;
	now = bpf_ktime_get_ns();

	e = bpf_agent_reserve(&syscall_events, sizeof(*e));
	if (!e)
		return 0;
	e->latency_ns = now - start_ns;
	e->pid = task->tgid;
	e->syscall_nr = (__s32)SYSCALL_NR(regs);
	e->ret = ret;
	/*
	 * Read comm straight from the task (two loads) rather than with bpf_get_current_comm(), a
	 * helper call and a byte-wise copy: measured 30-60 ns less per syscall. The kernel keeps
	 * comm NUL-terminated (its last byte is always 0).
	 */
	__builtin_memcpy(e->comm, task->comm, sizeof(e->comm));

	bpf_agent_submit_batched(e, &syscall_events, SYSCALL_WAKEUP_THRESHOLD);
	return 0;
}

/*
 * The hash variant, for kernels without task storage maps or bpf_get_current_task_btf() (5.10).
 * Keyed by thread id; LRU, so the entries of threads that never reach sys_exit (exit(),
 * exit_group()) are evicted rather than filling the map. 16384 threads in a syscall at once is
 * far above what a host runs; an entry evicted early costs one missing sample, never a wrong one.
 */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, __u32);
	__type(value, __u64);
} syscall_start_by_tid SEC(".maps");

SEC("tp_btf/sys_enter")
int BPF_PROG(handle_sys_enter_hash, struct pt_regs *regs, long id)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	__u32 tid = (__u32)pid_tgid;
	__u64 now;

	if (skip_tgid(pid_tgid >> 32))
		return 0;
	now = bpf_ktime_get_ns();
	bpf_map_update_elem(&syscall_start_by_tid, &tid, &now, BPF_ANY);
	return 0;
}

SEC("tp_btf/sys_exit")
int BPF_PROG(handle_sys_exit_hash, struct pt_regs *regs, long ret)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	__u32 tid = (__u32)pid_tgid;
	struct syscall_event *e;
	__u64 *start, start_ns, now;

	start = bpf_map_lookup_elem(&syscall_start_by_tid, &tid);
	if (!start)
		return 0; /* sys_enter before the program was attached, or filtered out */
	start_ns = *start;
	bpf_map_delete_elem(&syscall_start_by_tid, &tid);
	now = bpf_ktime_get_ns();

	e = bpf_agent_reserve(&syscall_events, sizeof(*e));
	if (!e)
		return 0;
	e->latency_ns = now - start_ns;
	e->pid = pid_tgid >> 32;
	e->syscall_nr = (__s32)SYSCALL_NR(regs);
	e->ret = ret;
	bpf_get_current_comm(e->comm, sizeof(e->comm));

	bpf_agent_submit_batched(e, &syscall_events, SYSCALL_WAKEUP_THRESHOLD);
	return 0;
}
