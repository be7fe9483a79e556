// SPDX-License-Identifier: GPL-2.0
/*
 * producer: the benchmark's load generator. On every getpgid() of the benchmark's trigger process
 * (tp/syscalls/sys_enter_getpgid, filtered by target_tgid), a bpf_loop burst of `burst`
 * reserve+submit of one event into `events`.
 *
 * Parameters (const volatile, set before load):
 *   target_tgid       only this process triggers bursts (0: none, the program does nothing)
 *   burst             samples per trigger (bpf_loop iterations, at most 1 << 23)
 *   sample_size       48: struct bench_event, 256: struct bench_event_large
 *   wakeup_mode       0: flags 0 (libbpf's adaptive wakeup); 1: BPF_RB_NO_WAKEUP and a forced wakeup
 *                     once more than wakeup_threshold bytes wait (bpf_agent_submit_batched, the
 *                     policy DESIGN.md section 4 recommends); 2: BPF_RB_NO_WAKEUP always
 *   wakeup_threshold  bytes, for wakeup_mode 1
 * Results (globals, read with BpfObject.ReadGlobal): produced (samples submitted) and
 * reserve_failed (reservations refused: ring full), plus bpf_agent_drops (bpf_agent.h).
 * The ring's size is set by the loader (bpf_map__set_max_entries) before load.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include "bpf_agent.h"

char LICENSE[] SEC("license") = "GPL";

#define BENCH_EVENT_FIELDS                                                              \
	__u64 timestamp_ns; /* bpf_ktime_get_ns() of the burst */                       \
	__u64 latency_ns;   /* synthetic latency: spread over 1 us..~1 s for the histogram */ \
	__u32 pid;          /* tgid of the trigger */                                   \
	__u32 tid;          /* thread id of the trigger */                              \
	__u32 seq;          /* index in the burst */                                    \
	__u32 cpu;          /* CPU the burst ran on */                                  \
	char comm[16];      /* trigger's comm */

/* 48 bytes. */
struct bench_event {
	BENCH_EVENT_FIELDS
};

/* 256 bytes: the same fields at the same offsets, then a payload. */
struct bench_event_large {
	BENCH_EVENT_FIELDS
	__u8 payload[208];
};

_Static_assert(sizeof(struct bench_event) == 48, "bench_event is 48 bytes");
_Static_assert(sizeof(struct bench_event_large) == 256, "bench_event_large is 256 bytes");

BPF_AGENT_EVENT(bench_event);
BPF_AGENT_EVENT(bench_event_large);

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 16 * 1024 * 1024);
} events SEC(".maps");

const volatile __u32 target_tgid = 0;
const volatile __u32 burst = 500;
const volatile __u32 sample_size = 48;
const volatile __u32 wakeup_mode = 1;
const volatile __u64 wakeup_threshold = 64 * 1024;

__u64 produced = 0;
__u64 reserve_failed = 0;

struct burst_ctx {
	__u64 timestamp_ns;
	__u64 pid_tgid;
	__u32 cpu;
	__u32 produced;
	__u32 failed;
	char comm[16];
};

static __always_inline void submit(void *sample)
{
	if (wakeup_mode == 0)
		bpf_agent_submit(sample);
	else if (wakeup_mode == 1)
		bpf_agent_submit_batched(sample, &events, wakeup_threshold);
	else
		bpf_ringbuf_submit(sample, BPF_RB_NO_WAKEUP);
}

static __always_inline void fill(struct bench_event *e, struct burst_ctx *c, __u32 i)
{
	e->timestamp_ns = c->timestamp_ns;
	/* A cheap hash of the index: latencies from 1 us up to ~1 s, many distinct buckets. */
	e->latency_ns = 1000 + ((((__u64)i * 2654435761u) & 0xFFFFF) << (i & 15));
	e->pid = c->pid_tgid >> 32;
	e->tid = (__u32)c->pid_tgid;
	e->seq = i;
	e->cpu = c->cpu;
	__builtin_memcpy(e->comm, c->comm, sizeof(e->comm));
}

static long emit_one(__u32 i, void *data)
{
	struct burst_ctx *c = data;

	if (sample_size == 256) {
		struct bench_event_large *e = bpf_agent_reserve(&events, sizeof(*e));

		if (!e) {
			c->failed++;
			return 0;
		}
		fill((struct bench_event *)e, c, i);
		submit(e);
	} else {
		struct bench_event *e = bpf_agent_reserve(&events, sizeof(*e));

		if (!e) {
			c->failed++;
			return 0;
		}
		fill(e, c, i);
		submit(e);
	}
	c->produced++;
	return 0;
}

SEC("tp/syscalls/sys_enter_getpgid")
int produce(void *ctx)
{
	struct burst_ctx c = {};
	__u64 pid_tgid = bpf_get_current_pid_tgid();

	if (!target_tgid || (pid_tgid >> 32) != target_tgid)
		return 0;

	c.timestamp_ns = bpf_ktime_get_ns();
	c.pid_tgid = pid_tgid;
	c.cpu = bpf_get_smp_processor_id();
	bpf_get_current_comm(c.comm, sizeof(c.comm));
	bpf_loop(burst, emit_one, &c, 0);

	/* Counted once per burst, not per sample: the counters must not cost what they measure.
	 * (bpf_agent_reserve() already counted each failure in bpf_agent_drops.) */
	__sync_fetch_and_add(&produced, c.produced);
	if (c.failed)
		__sync_fetch_and_add(&reserve_failed, c.failed);
	return 0;
}
