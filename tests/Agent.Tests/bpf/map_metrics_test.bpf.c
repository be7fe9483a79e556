// SPDX-License-Identifier: GPL-2.0
/*
 * map_metrics_test: in-kernel aggregates the test controls, for the agent's map metrics. Each getpgid(arg)
 * of the target process updates every map from `arg`: kind = arg % 4, small = arg % 3, code = arg % 5.
 *   counts_hash     HASH, key struct count_key (padding after `small`, a nested struct), value __u64 +1
 *   counts_percpu   PERCPU_HASH, key __u32 kind, value struct percpu_value { events +1, bytes +arg }
 *   counts_array    ARRAY[8] of __u64, index kind: +1 (every index exists, untouched ones are 0)
 *   gauge_lru       LRU_HASH, key __u32 kind, value __u64 = the last arg of that kind
 *   hist_exp2       HASH, key { kind, bucket } with the exp2 bucket of arg (max 20), sum at bucket 21
 *   hist_linear     PERCPU_HASH, key __u32 bucket = arg / 1000 (max 9), value { count, sum } (sum of arg)
 * An arg of 1000000 + k deletes kind k from counts_hash (every small and code), gauge_lru and hist_exp2 instead.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include "bpf_agent.h"

char LICENSE[] SEC("license") = "GPL";

#define EXP2_MAX 20
#define LINEAR_MAX 9
#define DELETE_BASE 1000000

struct inner {
	__u16 code;
	__u8 flag;
};

struct count_key {
	__u32 kind;
	__u8 small;
	/* 3 bytes of padding */
	struct inner in;
};

struct percpu_value {
	__u64 events;
	__u64 bytes;
};

struct hist_key {
	__u32 kind;
	__u32 bucket;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 256);
	__type(key, struct count_key);
	__type(value, __u64);
} counts_hash SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, 16);
	__type(key, __u32);
	__type(value, struct percpu_value);
} counts_percpu SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 8);
	__type(key, __u32);
	__type(value, __u64);
} counts_array SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16);
	__type(key, __u32);
	__type(value, __u64);
} gauge_lru SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 256);
	__type(key, struct hist_key);
	__type(value, __u64);
} hist_exp2 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, 16);
	__type(key, __u32);
	__type(value, struct bpf_agent_hist_slot);
} hist_linear SEC(".maps");

const volatile __u32 target_tgid = 0;

static __always_inline void delete_kind(__u32 kind)
{
	struct hist_key hk = { .kind = kind };

	for (__u32 small = 0; small < 3; small++) {
		for (__u16 code = 0; code < 5; code++) {
			struct count_key ck = {};

			ck.kind = kind;
			ck.small = small;
			ck.in.code = code;
			bpf_map_delete_elem(&counts_hash, &ck);
		}
	}
	bpf_map_delete_elem(&gauge_lru, &kind);
	for (__u32 b = 0; b <= EXP2_MAX + 1; b++) {
		hk.bucket = b;
		bpf_map_delete_elem(&hist_exp2, &hk);
	}
}

SEC("tp/syscalls/sys_enter_getpgid")
int fill(struct trace_event_raw_sys_enter *ctx)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u64 arg = (__u32)ctx->args[0];
	struct count_key ck = {};
	struct hist_key hk = {};
	struct percpu_value *pv, first;
	__u32 kind, bucket;
	__u64 *slot;

	if (!target_tgid || (__u32)(id >> 32) != target_tgid)
		return 0;
	if (arg >= DELETE_BASE) {
		delete_kind((__u32)(arg - DELETE_BASE));
		return 0;
	}

	kind = arg % 4;
	ck.kind = kind;
	ck.small = arg % 3;
	ck.in.code = arg % 5;
	bpf_agent_map_add(&counts_hash, &ck, 1);

	pv = bpf_map_lookup_elem(&counts_percpu, &kind);
	if (pv) {
		pv->events += 1;
		pv->bytes += arg;
	} else {
		first.events = 1;
		first.bytes = arg;
		bpf_map_update_elem(&counts_percpu, &kind, &first, BPF_ANY);
	}

	slot = bpf_map_lookup_elem(&counts_array, &kind);
	if (slot)
		__sync_fetch_and_add(slot, 1);

	bpf_map_update_elem(&gauge_lru, &kind, &arg, BPF_ANY);

	hk.kind = kind;
	bpf_agent_hist_add(&hist_exp2, hk, bucket, bpf_agent_exp2_bucket(arg, EXP2_MAX), arg, EXP2_MAX);

	bucket = bpf_agent_linear_bucket(arg, 1000, LINEAR_MAX);
	bpf_agent_hist_slot_add(&hist_linear, &bucket, arg);
	return 0;
}
