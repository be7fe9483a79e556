// SPDX-License-Identifier: GPL-2.0
/*
 * runqlat: scheduler run-queue latency, the time a task waits runnable before it runs: from
 * sched_wakeup / sched_wakeup_new (or being preempted while still runnable) to its sched_switch-in.
 * The runqlat of bcc and ebpf_exporter, aggregated in the kernel and read by the agent at scrape.
 *
 * Hooks:   tp_btf/sched_wakeup, tp_btf/sched_wakeup_new, tp_btf/sched_switch (kernel 5.5+; the
 *          arguments read here have the same positions on 5.10 to 6.18). No task storage, no
 *          bpf_get_current_task_btf, no kfuncs.
 * Map:     runq_latency_hist, BPF_MAP_TYPE_PERCPU_ARRAY (the agent sums the CPUs),
 *          key   __u32: the bucket index itself (a scalar key: one field, the bucket)
 *          value struct bpf_agent_hist_slot { __u64 count; __u64 sum; }
 * Buckets: exp2 of the latency in MICROSECONDS (bucket b: latency <= 2^b us; bucket 0: <= 1 us),
 *          0..RUNQ_MAX_BUCKET (26); the top bucket also takes everything above. Every bucket exists
 *          (an array): buckets never hit read as count 0.
 *          Config: bucket kind exp2, multiplier 0.000001 (seconds), max bucket 26.
 * Sum:     in NANOSECONDS, in the `sum` field of each bucket's value; the histogram's sum is the total
 *          over buckets. Config: sum field `sum`, multiplier 0.000000001 (seconds).
 * Labels:  none (one histogram for the host).
 * Parameters: filter_tgid (0: every task; otherwise only that process's threads).
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "bpf_agent.h"

char LICENSE[] SEC("license") = "GPL";

#define RUNQ_MAX_BUCKET 26
#define TASK_RUNNING_STATE 0

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, RUNQ_MAX_BUCKET + 1);
	__type(key, __u32);
	__type(value, struct bpf_agent_hist_slot);
} runq_latency_hist SEC(".maps");

/* When each runnable thread (by tid) was queued; bounded, and an LRU evicts threads that died queued. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, __u32);
	__type(value, __u64);
} runq_start SEC(".maps");

const volatile __u32 filter_tgid = 0;

/* task_struct::state was renamed __state in 5.14. */
struct task_struct___pre514 {
	long state;
} __attribute__((preserve_access_index));

static __always_inline long task_state(struct task_struct *t)
{
	if (bpf_core_field_exists(t->__state))
		return BPF_CORE_READ(t, __state);
	return BPF_CORE_READ((struct task_struct___pre514 *)t, state);
}

static __always_inline void enqueued(struct task_struct *t)
{
	__u32 tid = BPF_CORE_READ(t, pid);
	__u64 now;

	if (!tid)
		return; /* the idle task */
	if (filter_tgid && BPF_CORE_READ(t, tgid) != filter_tgid)
		return;
	now = bpf_ktime_get_ns();
	bpf_map_update_elem(&runq_start, &tid, &now, BPF_ANY);
}

SEC("tp_btf/sched_wakeup")
int BPF_PROG(runq_wakeup, struct task_struct *p)
{
	enqueued(p);
	return 0;
}

SEC("tp_btf/sched_wakeup_new")
int BPF_PROG(runq_wakeup_new, struct task_struct *p)
{
	enqueued(p);
	return 0;
}

SEC("tp_btf/sched_switch")
int BPF_PROG(runq_switch, bool preempt, struct task_struct *prev, struct task_struct *next)
{
	__u64 *start, delta;
	__u32 tid, bucket;

	/* Preempted while runnable: it goes straight back to the run queue. */
	if (task_state(prev) == TASK_RUNNING_STATE)
		enqueued(prev);

	tid = BPF_CORE_READ(next, pid);
	start = bpf_map_lookup_elem(&runq_start, &tid);
	if (!start)
		return 0;
	delta = bpf_ktime_get_ns() - *start;
	bpf_map_delete_elem(&runq_start, &tid);

	bucket = bpf_agent_exp2_bucket(delta / 1000, RUNQ_MAX_BUCKET);
	bpf_agent_hist_slot_add(&runq_latency_hist, &bucket, delta); /* an array: the lookup always hits */
	return 0;
}
