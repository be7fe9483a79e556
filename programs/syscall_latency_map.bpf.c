// SPDX-License-Identifier: GPL-2.0
/*
 * syscall_latency_map: a latency histogram per syscall, aggregated in the kernel and read by the
 * agent at scrape: no sample crosses to user space, nothing can be dropped under a flood.
 *
 * Hooks:   tp_btf/sys_enter and tp_btf/sys_exit (raw_syscalls, BTF raw tracepoints; kernel 5.5+).
 *          No task storage, no bpf_get_current_task_btf, no kfuncs: loads on 5.10 to 6.18.
 * Map:     syscall_latency_hist, BPF_MAP_TYPE_PERCPU_HASH (the agent sums the CPUs),
 *          key   struct syscall_hist_key { __u32 syscall_nr; __u32 bucket; } (8 bytes, no padding)
 *          value struct bpf_agent_hist_slot { __u64 count; __u64 sum; }
 * Buckets: exp2 of the latency in MICROSECONDS (bucket b: latency <= 2^b us; bucket 0: <= 1 us),
 *          0..SYSCALL_MAX_BUCKET (26: 2^26 us = 67 s); the top bucket also takes everything above.
 *          Config: bucket kind exp2, multiplier 0.000001 (seconds), max bucket 26.
 * Sum:     in NANOSECONDS, in the `sum` field of each bucket's value (not a bucket after the last):
 *          a series' sum is the total of its buckets' sums; its count the total of their counts.
 *          Config: sum field `sum`, multiplier 0.000000001 (seconds).
 * Labels:  syscall_nr (the architecture's number; decode with the syscall-name decoder).
 * Drops:   bpf_agent_drops counts latencies that could not be recorded (histogram map full).
 * Parameters (const volatile, set before load; 0 = off):
 *          filter_tgid: only that process; ignore_tgid: skip that process (the agent sets its own,
 *          so reading maps at scrape does not measure itself).
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include "bpf_agent.h"

char LICENSE[] SEC("license") = "GPL";

#define SYSCALL_MAX_BUCKET 26

struct syscall_hist_key {
	__u32 syscall_nr;
	__u32 bucket;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, 16384); /* ~460 syscalls x 27 buckets at worst; a few hundred in practice */
	__type(key, struct syscall_hist_key);
	__type(value, struct bpf_agent_hist_slot);
} syscall_latency_hist SEC(".maps");

/*
 * sys_enter time per thread id (0: none pending). An LRU hash bounds what threads that never reach
 * sys_exit (exit, exit_group, execve of another thread) leave behind; the entry of a live thread is
 * rewritten in place, so steady state is one lookup per syscall here, no insert.
 */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, __u32);
	__type(value, __u64);
} syscall_start SEC(".maps");

const volatile __u32 filter_tgid = 0;
const volatile __u32 ignore_tgid = 0;

#if defined(__TARGET_ARCH_x86)
#define SYSCALL_NR(regs) ((regs)->orig_ax)
#elif defined(__TARGET_ARCH_arm64)
#define SYSCALL_NR(regs) ((regs)->syscallno)
#else
#error "syscall_latency_map: add this architecture's syscall_get_nr()"
#endif

SEC("tp_btf/sys_enter")
int BPF_PROG(syscall_map_enter, struct pt_regs *regs, long id)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	__u32 tgid = pid_tgid >> 32, tid = (__u32)pid_tgid;
	__u64 now, *start;

	if ((filter_tgid && tgid != filter_tgid) || (ignore_tgid && tgid == ignore_tgid))
		return 0;
	now = bpf_ktime_get_ns();
	start = bpf_map_lookup_elem(&syscall_start, &tid);
	if (start)
		*start = now;
	else
		bpf_map_update_elem(&syscall_start, &tid, &now, BPF_ANY);
	return 0;
}

SEC("tp_btf/sys_exit")
int BPF_PROG(syscall_map_exit, struct pt_regs *regs, long ret)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct syscall_hist_key key;
	__u64 *start, start_ns, delta;

	/* No tgid filter: only threads that passed it at sys_enter have a start. */
	start = bpf_map_lookup_elem(&syscall_start, &tid);
	if (!start)
		return 0;
	start_ns = *start;
	if (!start_ns)
		return 0; /* sys_enter before the program was attached */
	*start = 0;
	delta = bpf_ktime_get_ns() - start_ns;

	key.syscall_nr = (__u32)SYSCALL_NR(regs);
	key.bucket = bpf_agent_exp2_bucket(delta / 1000, SYSCALL_MAX_BUCKET);
	bpf_agent_hist_slot_add(&syscall_latency_hist, &key, delta);
	return 0;
}
