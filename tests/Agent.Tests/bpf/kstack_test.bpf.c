// SPDX-License-Identifier: GPL-2.0
/*
 * kstack_test: fills a real BPF_MAP_TYPE_STACK_TRACE map for the kstack decoder's test. Each
 * sys_enter_getppid of target_tgid records its kernel stack in `stacks` (bpf_get_stackid) and the
 * id it got in `last_stack` (key 0), so the test can decode the id and compare the frames with what
 * it reads from the map itself.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "GPL";

#define MAX_STACK_DEPTH 127

const volatile __u32 target_tgid = 0;

struct {
	__uint(type, BPF_MAP_TYPE_STACK_TRACE);
	__uint(max_entries, 1024);
	__type(key, __u32);
	__uint(value_size, MAX_STACK_DEPTH * sizeof(__u64));
} stacks SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __s64);
} last_stack SEC(".maps");

/* Not a stack map: the decoder must refuse it by name. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} not_stacks SEC(".maps");

SEC("tp/syscalls/sys_enter_getppid")
int kstack_on_getppid(void *ctx)
{
	if ((bpf_get_current_pid_tgid() >> 32) != target_tgid)
		return 0;

	__u32 zero = 0;
	__s64 id = bpf_get_stackid(ctx, &stacks, 0);
	bpf_map_update_elem(&last_stack, &zero, &id, BPF_ANY);
	return 0;
}
