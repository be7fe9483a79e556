/* SPDX-License-Identifier: GPL-2.0 */
/*
 * bpf_agent.h: conventions every BPF program shipped with bpf-agent follows.
 *
 * Include it once per object, after vmlinux.h and <bpf/bpf_helpers.h>.
 *
 * 1. Kernel-stage drops. The header DEFINES (not just declares) a per-CPU array map named
 *    `bpf_agent_drops` (1 entry, key __u32 0, value __u64). Each object that includes the header
 *    therefore gets exactly one such map. Every sample the program fails to reserve in a ring
 *    buffer increments it; the agent finds the map by name, sums the per-CPU values and exports
 *    them as kernel-stage drops. Reserve samples only through bpf_agent_reserve() so that a full
 *    ring is always counted.
 *
 * 2. Submission and wakeups. bpf_agent_submit() submits with flags 0 (libbpf's adaptive wakeup);
 *    bpf_agent_submit_lazy() never wakes the consumer, which the shipped low-rate programs (exec,
 *    TCP state changes) use: a wakeup costs the hooked call microseconds, and the agent consumes on
 *    its poll timeout (5 ms) anyway. High-rate programs (one
 *    sample per syscall, per packet...) must not wake the consumer for every sample: wakeups, not
 *    copies, bound a ring's throughput. They use bpf_agent_submit_batched(), which submits with
 *    BPF_RB_NO_WAKEUP and forces a wakeup only as bpf_ringbuf_query(rb, BPF_RB_AVAIL_DATA)
 *    crosses a threshold. Data below the threshold can then sit in the ring with no epoll wakeup
 *    coming: the agent also consumes every ring on a short poll timeout, so it is still drained.
 *
 * 3. Event types in BTF. The agent decodes samples from the object's BTF, by struct name. clang
 *    only emits BTF for types reachable from globals, maps and function signatures, so a struct
 *    used only through the pointer bpf_ringbuf_reserve() returns can be missing. Anchor every
 *    event struct at file scope with BPF_AGENT_EVENT(name) (name without `struct`), and check with
 *    `bpftool btf dump file X.bpf.o | grep "STRUCT 'name'"`. Enum-typed fields keep their enum in
 *    BTF, which lets the agent decode value names (see tcp_state.bpf.c).
 *
 * 4. Each .bpf.c defines its own license: char LICENSE[] SEC("license") = "GPL";
 *    (not here: the header must stay includable without taking that decision).
 *
 * 5. Parameters are `const volatile` globals (.rodata), set by the agent before load; a value of
 *    0 means "feature off" (no filter).
 *
 * 6. In-kernel aggregation (maps the agent reads at scrape, no ring). Histograms keep the bucket
 *    index in a field of the map's key (named `bucket` by convention), beside the label fields.
 *    Bucket kinds, with ebpf_exporter's semantics so its configurations read these maps as well:
 *      exp2:   bucket b counts values v with v <= 2^b (and > 2^(b-1)); bucket 0 takes 0 and 1.
 *              bpf_agent_exp2_bucket() computes it with shifts: clang 14's BPF backend crashes
 *              on __builtin_clzll.
 *      linear: bucket b counts values v with b*width <= v < (b+1)*width: bpf_agent_linear_bucket().
 *    Both cap at a top bucket (max_bucket) that collects everything above it. Missing keys are zero
 *    buckets: create them on first use with bpf_agent_map_add(), never pre-fill.
 *    The sum is kept either in the bucket after the last (key.bucket = max_bucket + 1, the
 *    ebpf_exporter convention: bpf_agent_hist_add()), or, cheaper (one map operation per event
 *    instead of two), in a value struct of each bucket, struct bpf_agent_hist_slot { count; sum; }:
 *    bpf_agent_hist_slot_add(); the series' sum is then the total of its buckets' `sum` fields.
 *    A key that cannot be created (the map is full) is counted in bpf_agent_drops, like a sample
 *    a full ring refused: the agent exports both as kernel-stage drops.
 *    Per-CPU maps (percpu_hash, percpu_array) avoid cache-line bouncing between CPUs on every
 *    event; the agent sums their CPUs. Updates stay atomic: a program can still be interrupted on
 *    its CPU by another program that updates the same map.
 */
#ifndef BPF_AGENT_H
#define BPF_AGENT_H

#include <bpf/bpf_helpers.h>

/* Bytes past the threshold within which bpf_agent_submit_batched() still forces a wakeup. */
#ifndef BPF_AGENT_WAKEUP_WINDOW
#define BPF_AGENT_WAKEUP_WINDOW 512
#endif

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} bpf_agent_drops SEC(".maps");

/* Anchors `struct type` in the object's BTF (see 3. above). The pointer lands in .bss. */
#define BPF_AGENT_EVENT(type) struct type *__bpf_agent_anchor_##type __attribute__((unused))

static __always_inline void bpf_agent_count_drop(void)
{
	__u32 key = 0;
	__u64 *drops = bpf_map_lookup_elem(&bpf_agent_drops, &key);

	if (drops)
		/* Per-CPU, but a program can still be preempted on its CPU by another one. */
		__sync_fetch_and_add(drops, 1);
}

/* bpf_ringbuf_reserve() that counts a failed reservation in bpf_agent_drops. */
static __always_inline void *bpf_agent_reserve(void *ringbuf, __u64 size)
{
	void *sample = bpf_ringbuf_reserve(ringbuf, size, 0);

	if (!sample)
		bpf_agent_count_drop();
	return sample;
}

/* Submit with adaptive wakeup (flags 0): for low-rate programs. */
static __always_inline void bpf_agent_submit(void *sample)
{
	bpf_ringbuf_submit(sample, 0);
}

/*
 * Submit for high-rate programs: no wakeup unless the ring already holds more than `threshold`
 * bytes of unconsumed data, then a forced one. The agent drains on its poll timeout anyway.
 * `ringbuf` must be the ring `sample` was reserved in.
 */
static __always_inline void bpf_agent_submit_batched(void *sample, void *ringbuf, __u64 threshold)
{
	__u64 avail = bpf_ringbuf_query(ringbuf, BPF_RB_AVAIL_DATA);
	__u64 flags = BPF_RB_NO_WAKEUP;

	/*
	 * Force a wakeup only just past the threshold (within one record of it), not on every submit
	 * while more is waiting: a lagging consumer would otherwise cost the producer a wakeup (~1 us,
	 * an IPI) per sample exactly when it can least afford it. Past the window the agent's poll
	 * timeout drains the ring.
	 */
	if (avail > threshold && avail <= threshold + BPF_AGENT_WAKEUP_WINDOW)
		flags = BPF_RB_FORCE_WAKEUP;
	bpf_ringbuf_submit(sample, flags);
}

/*
 * Submit with no wakeup at all: for rare events (exec, TCP state changes) whose few microseconds of
 * wakeup cost per event matter more than latency; the agent consumes them on its poll timeout
 * (milliseconds).
 */
static __always_inline void bpf_agent_submit_lazy(void *sample)
{
	bpf_ringbuf_submit(sample, BPF_RB_NO_WAKEUP);
}

/*
 * floor(log2(v)) for v >= 1, 0 for v == 0, by halving the search range (5 or 6 compare-and-shift
 * steps, no branches, no __builtin_clz*).
 */
static __always_inline __u32 bpf_agent_log2_u32(__u32 v)
{
	__u32 r, shift;

	r = (v > 0xFFFF) << 4;
	v >>= r;
	shift = (v > 0xFF) << 3;
	v >>= shift;
	r |= shift;
	shift = (v > 0xF) << 2;
	v >>= shift;
	r |= shift;
	shift = (v > 0x3) << 1;
	v >>= shift;
	r |= shift;
	return r | (v >> 1);
}

static __always_inline __u32 bpf_agent_log2_u64(__u64 v)
{
	__u32 hi = v >> 32;

	return hi ? bpf_agent_log2_u32(hi) + 32 : bpf_agent_log2_u32((__u32)v);
}

/* The exp2 bucket of v: the smallest b with v <= 2^b (0 for v <= 1), at most max_bucket. */
static __always_inline __u32 bpf_agent_exp2_bucket(__u64 v, __u32 max_bucket)
{
	__u32 b = v <= 1 ? 0 : bpf_agent_log2_u64(v - 1) + 1;

	return b > max_bucket ? max_bucket : b;
}

/* The linear bucket of v: v / width (width > 0), at most max_bucket. */
static __always_inline __u32 bpf_agent_linear_bucket(__u64 v, __u64 width, __u32 max_bucket)
{
	__u64 b = v / width;

	return b > max_bucket ? max_bucket : (__u32)b;
}

/*
 * Adds `inc` to the __u64 value at `key`, creating the key on a miss. Returns 0, or -1 when the key
 * could not be created (map full), which is counted in bpf_agent_drops. For per-CPU maps it adds to
 * this CPU's slot.
 */
static __always_inline int bpf_agent_map_add(void *map, const void *key, __u64 inc)
{
	__u64 *v = bpf_map_lookup_elem(map, key);
	long err;

	if (v) {
		__sync_fetch_and_add(v, inc);
		return 0;
	}
	err = bpf_map_update_elem(map, key, &inc, BPF_NOEXIST);
	if (!err)
		return 0;
	/* -EEXIST: another CPU created it between the lookup and the update. */
	v = bpf_map_lookup_elem(map, key);
	if (v) {
		__sync_fetch_and_add(v, inc);
		return 0;
	}
	bpf_agent_count_drop();
	return -1;
}

/*
 * One observation in a histogram whose sum is kept in the bucket after the last (ebpf_exporter's
 * layout; __u64 values): `key` is the caller's key struct with its bucket field named `field`,
 * labels already set. Two map operations.
 */
#define bpf_agent_hist_add(map, key, field, bucket, value, max_bucket)          \
	({                                                                      \
		(key).field = (bucket);                                         \
		int __bpf_agent_err = bpf_agent_map_add((map), &(key), 1);      \
		(key).field = (max_bucket) + 1;                                 \
		__bpf_agent_err | bpf_agent_map_add((map), &(key), (value));    \
	})

/* A histogram bucket's value when the sum is kept beside each bucket's count. */
struct bpf_agent_hist_slot {
	__u64 count; /* observations in this bucket */
	__u64 sum;   /* total of their values (in the unit the program documents) */
};

/*
 * One observation in a histogram of struct bpf_agent_hist_slot values: `key` points to the caller's
 * key with labels and bucket set. One map lookup (plus a create on the bucket's first use).
 * Returns 0, or -1 when a full map refused the key (counted in bpf_agent_drops).
 */
static __always_inline int bpf_agent_hist_slot_add(void *map, const void *key, __u64 value)
{
	struct bpf_agent_hist_slot *slot = bpf_map_lookup_elem(map, key);
	struct bpf_agent_hist_slot first = { .count = 1, .sum = value };

	if (!slot) {
		if (!bpf_map_update_elem(map, key, &first, BPF_NOEXIST))
			return 0;
		slot = bpf_map_lookup_elem(map, key);
		if (!slot) {
			bpf_agent_count_drop();
			return -1;
		}
	}
	__sync_fetch_and_add(&slot->count, 1);
	__sync_fetch_and_add(&slot->sum, value);
	return 0;
}

#endif /* BPF_AGENT_H */
