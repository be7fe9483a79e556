// SPDX-License-Identifier: GPL-2.0
// Exercises bpf_agent.h's histogram helpers in the kernel. On the i-th getppid of the test process the
// program takes value i % N_INPUTS of those user space put in `inputs` and writes its exp2 and
// linear buckets to `exp2_out` and `linear_out`, and observes it in two histograms: `hist` (sum in
// the bucket after the last, __u64 values) and `slots` (struct bpf_agent_hist_slot per bucket).
// `tiny` holds 2 entries, so a third key must be refused and counted in bpf_agent_drops.
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include "bpf_agent.h"

char LICENSE[] SEC("license") = "GPL";

#define N_INPUTS 64
#define MAX_EXP2 26
#define MAX_LINEAR 9
#define LINEAR_WIDTH 10

const volatile __u32 target_tgid = 0;
__u64 seq = 0;

struct hist_key {
	__u32 label;
	__u32 bucket;
};

#define ARRAY64(name)                                  \
	struct {                                       \
		__uint(type, BPF_MAP_TYPE_ARRAY);      \
		__uint(max_entries, N_INPUTS);         \
		__type(key, __u32);                    \
		__type(value, __u64);                  \
	} name SEC(".maps")

ARRAY64(inputs);
ARRAY64(exp2_out);
ARRAY64(linear_out);

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 256);
	__type(key, struct hist_key);
	__type(value, __u64);
} hist SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, 256);
	__type(key, struct hist_key);
	__type(value, struct bpf_agent_hist_slot);
} slots SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, __u64);
} tiny SEC(".maps");

SEC("tp/syscalls/sys_enter_getppid")
int observe(void *ctx)
{
	struct hist_key key = { .label = 7 };
	__u64 *in, out, v;
	__u32 k;

	if ((bpf_get_current_pid_tgid() >> 32) != target_tgid)
		return 0;
	/* The test makes its getppid calls from one thread at a time, so a plain increment is exact; an atomic
	 * fetch-and-add would need BPF_FETCH (Linux 5.12+) and keep this object off 5.10. */
	k = seq++ % N_INPUTS;
	in = bpf_map_lookup_elem(&inputs, &k);
	if (!in)
		return 0;
	v = *in;
	out = bpf_agent_exp2_bucket(v, MAX_EXP2);
	bpf_map_update_elem(&exp2_out, &k, &out, BPF_ANY);
	out = bpf_agent_linear_bucket(v, LINEAR_WIDTH, MAX_LINEAR);
	bpf_map_update_elem(&linear_out, &k, &out, BPF_ANY);
	bpf_agent_hist_add(&hist, key, bucket, bpf_agent_exp2_bucket(v, MAX_EXP2), v, MAX_EXP2);
	key.bucket = bpf_agent_exp2_bucket(v, MAX_EXP2);
	bpf_agent_hist_slot_add(&slots, &key, v);
	/* Unrolled: a loop counter whose address a helper takes is unknown to the verifier. */
	k = 0;
	bpf_agent_map_add(&tiny, &k, 5);
	k = 1;
	bpf_agent_map_add(&tiny, &k, 5);
	k = 2;
	bpf_agent_map_add(&tiny, &k, 5);
	return 0;
}
