// SPDX-License-Identifier: GPL-2.0
/*
 * The comparison point for programs/syscall_latency_map.bpf.c in the kernel-cost benchmark: the same
 * histogram (latency per syscall, exp2 microsecond buckets, count and sum) written the way
 * ebpf_exporter's examples write one (written here for the benchmark, not taken from them):
 *   - the start time per thread in a plain preallocated hash keyed by pid_tgid, inserted at
 *     sys_enter (BPF_ANY update) and deleted at sys_exit;
 *   - the histogram in a per-CPU hash keyed by { syscall, bucket } with __u64 counts, a
 *     lookup-or-zero-init then an atomic add per bucket;
 *   - the sum in the bucket after the last (a second lookup-or-init and add per event).
 * No process filter. Map: syscall_latency_exp_style (key struct exp_style_key, value __u64).
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

char LICENSE[] SEC("license") = "GPL";

#define MAX_BUCKET 26

struct exp_style_key {
	__u32 syscall_nr;
	__u32 bucket;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240);
	__type(key, __u64);
	__type(value, __u64);
} exp_style_start SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, 16384);
	__type(key, struct exp_style_key);
	__type(value, __u64);
} syscall_latency_exp_style SEC(".maps");

/* floor(log2) by shifts, as clang 14 cannot compile __builtin_clzll for BPF. */
static __always_inline __u64 log2_32(__u32 v)
{
	__u32 shift, r;

	r = (v > 0xFFFF) << 4;
	v >>= r;
	shift = (v > 0xFF) << 3;
	v >>= shift;
	r |= shift;
	shift = (v > 0xF) << 2;
	v >>= shift;
	r |= shift;
	shift = (v > 0x3) << 1;
	v >>= shift;
	r |= shift;
	r |= (v >> 1);
	return r;
}

static __always_inline __u64 log2_64(__u64 v)
{
	__u32 hi = v >> 32;

	return hi ? log2_32(hi) + 32 : log2_32(v);
}

/* Rounded up, so that bucket b's upper bound 2^b is a correct Prometheus le. */
static __always_inline __u64 log2_histogram(__u64 v)
{
	__u64 r = log2_64(v);

	if (r == 0)
		return 0;
	return (1ULL << r) == v ? r : r + 1;
}

static __always_inline void lookup_or_init_add(struct exp_style_key *key, __u64 inc)
{
	__u64 zero = 0, *v;

	v = bpf_map_lookup_elem(&syscall_latency_exp_style, key);
	if (!v) {
		bpf_map_update_elem(&syscall_latency_exp_style, key, &zero, BPF_NOEXIST);
		v = bpf_map_lookup_elem(&syscall_latency_exp_style, key);
		if (!v)
			return;
	}
	__sync_fetch_and_add(v, inc);
}

#if defined(__TARGET_ARCH_x86)
#define SYSCALL_NR(regs) ((regs)->orig_ax)
#elif defined(__TARGET_ARCH_arm64)
#define SYSCALL_NR(regs) ((regs)->syscallno)
#endif

SEC("tp_btf/sys_enter")
int BPF_PROG(exp_style_enter, struct pt_regs *regs, long id)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	__u64 ts = bpf_ktime_get_ns();

	bpf_map_update_elem(&exp_style_start, &pid_tgid, &ts, BPF_ANY);
	return 0;
}

SEC("tp_btf/sys_exit")
int BPF_PROG(exp_style_exit, struct pt_regs *regs, long ret)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	struct exp_style_key key = {};
	__u64 *start, delta_us;

	start = bpf_map_lookup_elem(&exp_style_start, &pid_tgid);
	if (!start)
		return 0;
	delta_us = (bpf_ktime_get_ns() - *start) / 1000;
	bpf_map_delete_elem(&exp_style_start, &pid_tgid);

	key.syscall_nr = (__u32)SYSCALL_NR(regs);
	key.bucket = log2_histogram(delta_us);
	if (key.bucket > MAX_BUCKET)
		key.bucket = MAX_BUCKET;
	lookup_or_init_add(&key, 1);
	key.bucket = MAX_BUCKET + 1;
	lookup_or_init_add(&key, delta_us);
	return 0;
}
