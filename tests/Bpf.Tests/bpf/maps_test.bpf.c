// SPDX-License-Identifier: GPL-2.0
// Maps for the object, map, pinning and global tests. Every program only reacts to the test process:
//   getppid: count in `counts` (hash, key 1), `per_cpu` (per-CPU array) and the `hits` global
//   getpgid: count in the `pgid_hits` global
//   `manual` is a tracepoint program whose section names no tracepoint: it loads, but nothing can
//   auto-attach it (AttachAll must skip it).
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "GPL";

const volatile __u32 target_tgid = 0;
__u64 hits = 0;
__u64 pgid_hits = 0;
__u32 initial_marker = 7;   /* .data: checks initial values set before load */

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 128);
	__type(key, __u32);
	__type(value, __u64);
} counts SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} per_cpu SEC(".maps");

static __always_inline bool is_target(void)
{
	return (bpf_get_current_pid_tgid() >> 32) == target_tgid;
}

SEC("tp/syscalls/sys_enter_getppid")
int count_calls(void *ctx)
{
	__u32 key = 1;
	__u64 one = 1, *v;

	if (!is_target())
		return 0;
	__sync_fetch_and_add(&hits, 1);
	v = bpf_map_lookup_elem(&counts, &key);
	if (v)
		__sync_fetch_and_add(v, 1);
	else
		bpf_map_update_elem(&counts, &key, &one, BPF_NOEXIST);
	key = 0;
	v = bpf_map_lookup_elem(&per_cpu, &key);
	if (v)
		*v += 1;
	return 0;
}

SEC("tp/syscalls/sys_enter_getpgid")
int count_pgid(void *ctx)
{
	if (!is_target())
		return 0;
	__sync_fetch_and_add(&pgid_hits, 1);
	return 0;
}

SEC("tp")
int manual(void *ctx)
{
	return 0;
}
