// SPDX-License-Identifier: GPL-2.0
/*
 * flood: a producer the reliability tests control exactly. Each sys_enter_getppid of the target
 * thread (or process) makes `burst` reserve+submit attempts in one program run (bpf_loop), so
 * the test knows how many samples it produced: triggers * burst.
 *
 * Programs (a set lists the one it wants in "programs"):
 *   flood        into flood_events, a 4 KiB ring: a burst larger than ~128 samples overflows it,
 *                so the kernel stage drops (counted in bpf_agent_drops by bpf_agent_reserve).
 *   flood_wide   into wide_events, 1 MiB: the same samples without kernel drops.
 *   flood_short  16-byte short_event samples into short_events, for a set that names the 64-byte
 *                big_event: every sample is a decode-stage drop.
 *
 * Parameters: target_tid / target_tgid (only that thread / process triggers; with neither set
 * nothing fires), burst, modulo (event.value = seq % modulo, for label tests) and generation
 * (carried in each event; a reload test alternates it so each reload really replaces the set).
 * flood_attempts (per-CPU, pinned) counts every reserve attempt of every program: the number of
 * samples produced, independent of the agent, across reloads and restarts.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include "bpf_agent.h"

char LICENSE[] SEC("license") = "GPL";

struct flood_event {
	__u64 seq;        /* index in the burst */
	__u32 tid;        /* triggering thread */
	__u32 value;      /* seq % modulo (seq when modulo is 0) */
	__u64 generation; /* the generation parameter */
};
BPF_AGENT_EVENT(flood_event);

/* What flood_short submits: 16 bytes. */
struct short_event {
	__u64 seq;
	__u64 tid;
};
BPF_AGENT_EVENT(short_event);

/* What a set may (wrongly) name for short_events: 64 bytes, longer than every sample. */
struct big_event {
	__u64 words[8];
};
BPF_AGENT_EVENT(big_event);

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4096);
} flood_events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1024 * 1024);
} wide_events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 64 * 1024);
} short_events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} flood_attempts SEC(".maps");

const volatile __u32 target_tid = 0;
const volatile __u32 target_tgid = 0;
const volatile __u32 burst = 1;
const volatile __u32 modulo = 0;
const volatile __u64 generation = 0;

static __always_inline bool targeted(void)
{
	__u64 id = bpf_get_current_pid_tgid();

	if (!target_tid && !target_tgid)
		return false;
	if (target_tid && (__u32)id != target_tid)
		return false;
	if (target_tgid && (__u32)(id >> 32) != target_tgid)
		return false;
	return true;
}

static __always_inline void count_attempts(__u64 n)
{
	__u32 key = 0;
	__u64 *attempts = bpf_map_lookup_elem(&flood_attempts, &key);

	if (attempts)
		__sync_fetch_and_add(attempts, n);
}

#define FLOOD_ONE(fn, ring)                                                        \
	static long fn(__u32 i, void *ctx)                                         \
	{                                                                          \
		struct flood_event *e = bpf_agent_reserve(&ring, sizeof(*e));      \
                                                                                   \
		if (!e)                                                            \
			return 0;                                                  \
		e->seq = i;                                                        \
		e->tid = (__u32)bpf_get_current_pid_tgid();                        \
		e->value = modulo ? i % modulo : i;                                \
		e->generation = generation;                                        \
		bpf_agent_submit(e);                                               \
		return 0;                                                          \
	}

FLOOD_ONE(flood_one, flood_events)
FLOOD_ONE(wide_one, wide_events)

static long short_one(__u32 i, void *ctx)
{
	struct short_event *e = bpf_agent_reserve(&short_events, sizeof(*e));

	if (!e)
		return 0;
	e->seq = i;
	e->tid = (__u32)bpf_get_current_pid_tgid();
	bpf_agent_submit(e);
	return 0;
}

SEC("tp/syscalls/sys_enter_getppid")
int flood(void *ctx)
{
	if (!targeted())
		return 0;
	count_attempts(burst);
	bpf_loop(burst, flood_one, NULL, 0);
	return 0;
}

SEC("tp/syscalls/sys_enter_getppid")
int flood_wide(void *ctx)
{
	if (!targeted())
		return 0;
	count_attempts(burst);
	bpf_loop(burst, wide_one, NULL, 0);
	return 0;
}

SEC("tp/syscalls/sys_enter_getppid")
int flood_short(void *ctx)
{
	if (!targeted())
		return 0;
	count_attempts(burst);
	bpf_loop(burst, short_one, NULL, 0);
	return 0;
}
