// SPDX-License-Identifier: GPL-2.0
/*
 * exporter_perf: an ebpf_exporter perf_event_array counter (exporter_perf.yaml beside it). Each
 * getpgid(ARG_BASE + n) writes one sample { u32 kind = n % 3; u8 flag = n % 2; 3 bytes of padding } to the perf
 * event array perf_calls_total, which the agent counts by kind and flag.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "GPL";

#define ARG_BASE 0x7e590000

struct perf_sample {
	__u32 kind;
	__u8 flag;
	__u8 pad[3];
};

struct {
	__uint(type, BPF_MAP_TYPE_PERF_EVENT_ARRAY);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, sizeof(__u32));
} perf_calls_total SEC(".maps");

SEC("tp/syscalls/sys_enter_getpgid")
int count(struct trace_event_raw_sys_enter *ctx)
{
	__u64 arg = (__u32)ctx->args[0];
	struct perf_sample s = {};

	if (arg < ARG_BASE || arg >= ARG_BASE + 0x10000)
		return 0;
	arg -= ARG_BASE;
	s.kind = arg % 3;
	s.flag = arg % 2;
	bpf_perf_event_output(ctx, &perf_calls_total, BPF_F_CURRENT_CPU, &s, sizeof(s));
	return 0;
}
