// SPDX-License-Identifier: GPL-2.0
// Producer for the ring buffer tests. Every program only reacts to the test process (target_tgid).
//   getppid: `burst` reserve+submit samples into `events`, sequence numbers counted in `produced`
//   getpgid: one bpf_ringbuf_output sample into `events2`, plus one reservation in `events` that is discarded
//   getsid:  `burst` samples into `nowake` with BPF_RB_NO_WAKEUP (no epoll wakeup ever comes)
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include "test_event.h"

char LICENSE[] SEC("license") = "GPL";

const volatile __u32 target_tgid = 0;
const volatile __u32 burst = 1;

__u64 produced = 0;   /* samples submitted to `events` (also the next sequence number) */
__u64 output_count = 0;
__u64 discarded = 0;
__u64 nowake_count = 0;
__u64 reserve_failures = 0;

struct test_event *test_event_anchor __attribute__((unused));

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024);
} events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 64 * 1024);
} events2 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024);
} nowake SEC(".maps");

static __always_inline bool is_target(void)
{
	return (bpf_get_current_pid_tgid() >> 32) == target_tgid;
}

static __always_inline void fill(struct test_event *e, __u64 seq, enum test_kind kind)
{
	e->seq = seq;
	e->tgid = target_tgid;
	e->kind = kind;
	/* Reserved space holds an earlier lap's bytes, and Linux 6.1's bpf_get_current_comm does not pad after the
	 * NUL (strscpy; 5.10 used strncpy, 6.12 strscpy_pad): clear it so every record is byte-exact everywhere. */
	__builtin_memset(e->comm, 0, sizeof(e->comm));
	bpf_get_current_comm(e->comm, sizeof(e->comm));
	for (int i = 0; i < 16; i++)
		e->payload[i] = (__u8)(seq * 31 + i);
}

static long emit_reserved(__u32 index, void *unused)
{
	struct test_event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);

	if (!e) {
		__sync_fetch_and_add(&reserve_failures, 1);
		return 1;
	}
	fill(e, produced, TEST_KIND_RESERVED);
	produced++;
	bpf_ringbuf_submit(e, 0);
	return 0;
}

static long emit_no_wakeup_one(__u32 index, void *unused)
{
	struct test_event *e = bpf_ringbuf_reserve(&nowake, sizeof(*e), 0);

	if (!e) {
		__sync_fetch_and_add(&reserve_failures, 1);
		return 1;
	}
	fill(e, nowake_count, TEST_KIND_NO_WAKEUP);
	nowake_count++;
	bpf_ringbuf_submit(e, BPF_RB_NO_WAKEUP);
	return 0;
}

/*
 * A bounded loop rather than bpf_loop(): bpf_loop is Linux 5.17+, and these tests run on 5.10 too (the
 * portability matrix). burst is rodata, so the verifier knows the bound.
 */
#define MAX_BURST 64

SEC("tp/syscalls/sys_enter_getppid")
int emit_burst(void *ctx)
{
	if (!is_target())
		return 0;
	for (__u32 i = 0; i < MAX_BURST && i < burst; i++)
		if (emit_reserved(i, NULL))
			break;
	return 0;
}

SEC("tp/syscalls/sys_enter_getpgid")
int emit_output(void *ctx)
{
	struct test_event e = {};
	struct test_event *d;

	if (!is_target())
		return 0;

	d = bpf_ringbuf_reserve(&events, sizeof(*d), 0);
	if (d) {
		fill(d, 0xdead, TEST_KIND_DISCARDED);
		bpf_ringbuf_discard(d, 0);
		discarded++;
	}

	fill(&e, output_count, TEST_KIND_OUTPUT);
	if (bpf_ringbuf_output(&events2, &e, sizeof(e), 0) == 0)
		output_count++;
	else
		reserve_failures++;
	return 0;
}

SEC("tp/syscalls/sys_enter_getsid")
int emit_no_wakeup(void *ctx)
{
	if (!is_target())
		return 0;
	for (__u32 i = 0; i < MAX_BURST && i < burst; i++)
		if (emit_no_wakeup_one(i, NULL))
			break;
	return 0;
}
