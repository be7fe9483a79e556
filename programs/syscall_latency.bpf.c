// SPDX-License-Identifier: GPL-2.0
/*
 * syscall_latency: one sample per completed syscall with its latency, from
 * tp/raw_syscalls/sys_enter and tp/raw_syscalls/sys_exit.
 *
 * Runs on every syscall of the host: keep it cheap. Samples are submitted with
 * bpf_agent_submit_batched() (no wakeup until 64 KiB are waiting); the agent drains on its poll
 * timeout.
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
 * pid_tgid -> sys_enter timestamp. LRU: a thread that calls exit()/exit_group() (or execve()
 * from a non-leader thread) never reaches sys_exit with its key, and a plain hash would fill up
 * with such stale entries and then refuse new ones.
 */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 10240);
	__type(key, __u64);
	__type(value, __u64);
} syscall_start SEC(".maps");

const volatile __u32 filter_tgid = 0;
const volatile __u32 ignore_tgid = 0;

static __always_inline bool skip_tgid(__u32 tgid)
{
	if (filter_tgid && tgid != filter_tgid)
		return true;
	if (ignore_tgid && tgid == ignore_tgid)
		return true;
	return false;
}

SEC("tp/raw_syscalls/sys_enter")
int handle_sys_enter(struct trace_event_raw_sys_enter *ctx)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	__u64 ts;

	if (skip_tgid(pid_tgid >> 32))
		return 0;
	ts = bpf_ktime_get_ns();
	bpf_map_update_elem(&syscall_start, &pid_tgid, &ts, BPF_ANY);
	return 0;
}

SEC("tp/raw_syscalls/sys_exit")
int handle_sys_exit(struct trace_event_raw_sys_exit *ctx)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	struct syscall_event *e;
	__u64 *start, start_ns;

	if (skip_tgid(pid_tgid >> 32))
		return 0;
	start = bpf_map_lookup_elem(&syscall_start, &pid_tgid);
	if (!start)
		return 0;
	start_ns = *start;
	bpf_map_delete_elem(&syscall_start, &pid_tgid);

	e = bpf_agent_reserve(&syscall_events, sizeof(*e));
	if (!e)
		return 0;
	e->latency_ns = bpf_ktime_get_ns() - start_ns;
	e->pid = pid_tgid >> 32;
	e->syscall_nr = (__s32)ctx->id;
	e->ret = ctx->ret;
	bpf_get_current_comm(e->comm, sizeof(e->comm));

	bpf_agent_submit_batched(e, &syscall_events, SYSCALL_WAKEUP_THRESHOLD);
	return 0;
}
