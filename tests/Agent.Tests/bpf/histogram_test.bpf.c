// SPDX-License-Identifier: GPL-2.0
/*
 * histogram_test: latencies the test chooses, for the agent's own histograms. Each getpgid(pid) of the
 * target process submits one latency_event whose latency_ns is the pid argument, so the test knows every
 * observed value. Two per-CPU counters (pinned by the agent with the set) keep what the kernel side
 * produced independently of the agent: hist_produced (events) and hist_produced_sum (their latency_ns).
 * `kind` is latency_ns % 3, for a labelled histogram.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include "bpf_agent.h"

char LICENSE[] SEC("license") = "GPL";

struct latency_event {
	__u64 latency_ns;
	__u32 tid;
	__u32 kind;
};
BPF_AGENT_EVENT(latency_event);

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024);
} latency_events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} hist_produced SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} hist_produced_sum SEC(".maps");

const volatile __u32 target_tgid = 0;

static __always_inline void add(void *map, __u64 n)
{
	__u32 key = 0;
	__u64 *v = bpf_map_lookup_elem(map, &key);

	if (v)
		__sync_fetch_and_add(v, n);
}

SEC("tp/syscalls/sys_enter_getpgid")
int latency(struct trace_event_raw_sys_enter *ctx)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct latency_event *e;
	__u64 value;

	if (!target_tgid || (__u32)(id >> 32) != target_tgid)
		return 0;
	value = (__u32)ctx->args[0];
	e = bpf_agent_reserve(&latency_events, sizeof(*e));
	if (!e)
		return 0;
	e->latency_ns = value;
	e->tid = (__u32)id;
	e->kind = value % 3;
	add(&hist_produced, 1);
	add(&hist_produced_sum, value);
	bpf_agent_submit(e);
	return 0;
}
