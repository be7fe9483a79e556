/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The body of compat_v1.bpf.c and compat_v2.bpf.c: two objects with a map of the same name, type,
 * key and value size whose value struct is laid out differently (COMPAT_V2 swaps the fields).
 * libbpf alone would reuse v1's pin for v2 and misread it; the agent's schema hash in the pin path
 * must tell them apart.
 */
#ifndef COMPAT_H
#define COMPAT_H

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include "bpf_agent.h"

char LICENSE[] SEC("license") = "GPL";

#ifndef COMPAT_V2
struct compat_value {
	__u32 count;
	__u32 flags;
};
#else
struct compat_value {
	__u32 flags;
	__u32 count;
};
#endif

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct compat_value);
} compat_state SEC(".maps");

const volatile __u32 target_tid = 0;

SEC("tp/syscalls/sys_enter_getppid")
int compat_count(void *ctx)
{
	__u32 key = 0;
	struct compat_value *v;

	if (!target_tid || (__u32)bpf_get_current_pid_tgid() != target_tid)
		return 0;
	v = bpf_map_lookup_elem(&compat_state, &key);
	if (v)
		__sync_fetch_and_add(&v->count, 1);
	return 0;
}

#endif /* COMPAT_H */
