// SPDX-License-Identifier: GPL-2.0
// Programs that fail on purpose. `rejected` is refused by the verifier (a map value used without
// a NULL check); `missing_target` loads but names a tracepoint that does not exist.
// Tests turn each one's autoload on or off to get the failure they want.
// `values` is a hash map on purpose: newer verifiers (seen on 6.18) know that an array lookup with a
// constant in-range key cannot return NULL, and accept the unchecked access.
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "GPL";

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} values SEC(".maps");

SEC("tp/syscalls/sys_enter_getppid")
int rejected(void *ctx)
{
	__u32 key = 0;
	__u64 *v = bpf_map_lookup_elem(&values, &key);

	*v += 1; /* no NULL check: the verifier says "invalid mem access 'map_value_or_null'" */
	return 0;
}

SEC("tp/syscalls/sys_enter_bpf_agent_no_such_tracepoint")
int missing_target(void *ctx)
{
	return 0;
}
