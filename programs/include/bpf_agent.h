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

#endif /* BPF_AGENT_H */
