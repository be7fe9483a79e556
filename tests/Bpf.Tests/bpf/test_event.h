/* SPDX-License-Identifier: GPL-2.0 */
/* The sample layout the ring buffer tests exchange with ringbuf_test.bpf.c. */
#ifndef TEST_EVENT_H
#define TEST_EVENT_H

enum test_kind {
	TEST_KIND_RESERVED = 1,
	TEST_KIND_OUTPUT = 2,
	TEST_KIND_NO_WAKEUP = 3,
	TEST_KIND_DISCARDED = 4,
};

/* 48 bytes: seq, then a payload derived from seq so the test can check every byte. */
struct test_event {
	__u64 seq;
	__u32 tgid;
	enum test_kind kind;
	char comm[16];
	__u8 payload[16];
};

#endif
