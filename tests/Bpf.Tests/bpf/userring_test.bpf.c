// SPDX-License-Identifier: GPL-2.0
// User ring buffer round trip: on getppid from the test process, drain `requests` (written by user
// space) and echo each 64-byte message into the `replies` ring buffer.
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "GPL";

#define MESSAGE_SIZE 64

const volatile __u32 target_tgid = 0;
__u64 drained = 0;
__u64 echo_failures = 0;

struct {
	__uint(type, BPF_MAP_TYPE_USER_RINGBUF);
	__uint(max_entries, 64 * 1024);
} requests SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 64 * 1024);
} replies SEC(".maps");

static long echo(struct bpf_dynptr *msg, void *ctx)
{
	__u8 *out = bpf_ringbuf_reserve(&replies, MESSAGE_SIZE, 0);

	if (!out) {
		echo_failures++;
		return 0;
	}
	if (bpf_dynptr_read(out, MESSAGE_SIZE, msg, 0, 0)) {
		bpf_ringbuf_discard(out, 0);
		echo_failures++;
		return 0;
	}
	bpf_ringbuf_submit(out, 0);
	drained++;
	return 0;
}

SEC("tp/syscalls/sys_enter_getppid")
int drain_requests(void *ctx)
{
	if ((bpf_get_current_pid_tgid() >> 32) != target_tgid)
		return 0;
	bpf_user_ringbuf_drain(&requests, echo, NULL, 0);
	return 0;
}
