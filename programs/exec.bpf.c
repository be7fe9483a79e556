// SPDX-License-Identifier: GPL-2.0
/*
 * exec: one sample per successful exec(), from tp/sched/sched_process_exec.
 *
 * The file name is read from the trace event (kernel memory, __data_loc), not from the
 * execve() user pointer, which may not be mapped yet in a freshly forked child.
 *
 * Ring buffer: exec_events (256 KiB) of struct exec_event.
 * Parameters:  filter_ppid (0: all; otherwise only execs whose parent tgid equals it).
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "bpf_agent.h"

char LICENSE[] SEC("license") = "GPL";

#define EXEC_FILENAME_LEN 128

struct exec_event {
	__u32 pid;          /* tgid of the process that exec'd */
	__u32 ppid;         /* tgid of its real parent */
	__u32 uid;          /* real uid */
	__u32 gid;          /* real gid */
	__u64 timestamp_ns; /* bpf_ktime_get_ns(): CLOCK_MONOTONIC */
	char comm[16];      /* new comm (basename of the new program), NUL-terminated */
	char filename[EXEC_FILENAME_LEN]; /* path as passed to exec, NUL-terminated, may be truncated */
};
BPF_AGENT_EVENT(exec_event);

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024);
} exec_events SEC(".maps");

const volatile __u32 filter_ppid = 0;

SEC("tp/sched/sched_process_exec")
int handle_exec(struct trace_event_raw_sched_process_exec *ctx)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	__u32 ppid = BPF_CORE_READ(task, real_parent, tgid);
	__u64 uid_gid;
	struct exec_event *e;

	if (filter_ppid && ppid != filter_ppid)
		return 0;

	e = bpf_agent_reserve(&exec_events, sizeof(*e));
	if (!e)
		return 0;
	/* Reserved memory is not zeroed: clear it so padding and string tails are deterministic. */
	__builtin_memset(e, 0, sizeof(*e));

	uid_gid = bpf_get_current_uid_gid();
	e->pid = bpf_get_current_pid_tgid() >> 32;
	e->ppid = ppid;
	e->uid = (__u32)uid_gid;
	e->gid = uid_gid >> 32;
	e->timestamp_ns = bpf_ktime_get_ns();
	bpf_get_current_comm(e->comm, sizeof(e->comm));
	bpf_probe_read_kernel_str(e->filename, sizeof(e->filename),
				  (void *)ctx + (ctx->__data_loc_filename & 0xFFFF));

	bpf_agent_submit_lazy(e);
	return 0;
}
