// SPDX-License-Identifier: GPL-2.0
/*
 * rejected: a well-formed object whose only program the verifier refuses, for the agent's
 * failure-isolation test. It compiles, has BTF and a ring buffer with an anchored event struct
 * (so the set's config is valid and the failure is the kernel's, at load), but dereferences a
 * HASH map lookup without a NULL check: "R0 invalid mem access 'map_value_or_null'".
 * A HASH map on purpose: on 6.18 an ARRAY lookup with a constant in-range key is known non-NULL
 * and the unchecked access is accepted.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include "bpf_agent.h"

char LICENSE[] SEC("license") = "GPL";

struct rejected_event {
	__u64 value;
};
BPF_AGENT_EVENT(rejected_event);

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4096);
} rejected_events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} rejected_values SEC(".maps");

SEC("tp/syscalls/sys_enter_getppid")
int rejected_prog(void *ctx)
{
	__u32 key = 0;
	__u64 *v = bpf_map_lookup_elem(&rejected_values, &key);
	struct rejected_event *e;

	*v += 1; /* no NULL check: the verifier refuses the program */

	e = bpf_agent_reserve(&rejected_events, sizeof(*e));
	if (!e)
		return 0;
	e->value = *v;
	bpf_agent_submit(e);
	return 0;
}
