// SPDX-License-Identifier: GPL-2.0
/*
 * exporter_cgroups: ebpf_exporter's cgroup_id_map (exporter_cgroups.yaml beside it). The agent keeps
 * cgroup_id_map holding the ids of the cgroups whose path matches the config's regexps; each
 * getpgid(ARG_BASE + n) is counted by cgroup in cgroup_calls_total, and in cgroup_matched_total only when its
 * cgroup is in the map.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "GPL";

#define ARG_BASE 0x7e580000

#define HASH(name, n) \
	struct { __uint(type, BPF_MAP_TYPE_HASH); __uint(max_entries, n); __type(key, __u64); __type(value, __u64); } name SEC(".maps")

HASH(cgroup_id_map, 1024);
HASH(cgroup_calls_total, 64);
HASH(cgroup_matched_total, 64);

static __always_inline void add(void *map, const __u64 *key)
{
	__u64 one = 1, *v = bpf_map_lookup_elem(map, key);

	if (v) {
		__sync_fetch_and_add(v, 1);
		return;
	}
	if (bpf_map_update_elem(map, key, &one, BPF_NOEXIST) != 0) {
		v = bpf_map_lookup_elem(map, key);
		if (v)
			__sync_fetch_and_add(v, 1);
	}
}

SEC("tp/syscalls/sys_enter_getpgid")
int count(struct trace_event_raw_sys_enter *ctx)
{
	__u64 arg = (__u32)ctx->args[0];
	__u64 cgroup;

	if (arg < ARG_BASE || arg >= ARG_BASE + 0x10000)
		return 0;
	cgroup = bpf_get_current_cgroup_id();
	add(&cgroup_calls_total, &cgroup);
	if (bpf_map_lookup_elem(&cgroup_id_map, &cgroup))
		add(&cgroup_matched_total, &cgroup);
	return 0;
}
