// SPDX-License-Identifier: GPL-2.0
// The event struct of the agent's decoder, label and pipeline tests: one field of every shape a decoder
// handles. The program never sends anything: the tests craft sample bytes themselves, and `decode_layout`
// keeps clang's own offsetof/sizeof so a test can compare the BTF layout with the compiler's.
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "GPL";

enum decode_color { DECODE_RED = 1, DECODE_GREEN = 2, DECODE_BLUE = 40 };

struct decode_inner {
	__u16 x;
	__u32 y;
};

struct decode_event {
	__u8 u8v;                  /*  0 */
	__u16 u16v;                /*  2 */
	__s32 s32v;                /*  4 */
	__u64 u64v;                /*  8 */
	char comm[16];             /* 16 */
	__u8 addr4[4];             /* 32 */
	__u8 addr6[16];            /* 36 */
	enum decode_color color;   /* 52 */
	struct decode_inner inner; /* 56: x at 56, y at 60 */
	unsigned int flags : 3;    /* 64, bits 0-2 */
	unsigned int level : 5;    /* 64, bits 3-7 */
	int delta : 4;             /* 65, bits 8-11 of the unit at 64 */
	__s32 err;                 /* 68 */
	__s32 syscall_nr;          /* 72 */
	__u64 kaddr;               /* 80 (aligned up from 76) */
	__s64 s64v;                /* 88; sizeof 96 */
};

struct decode_event *decode_event_anchor __attribute__((unused));

/* Shapes kept out of decode_event: full-width bitfields and a string far too large for a stack buffer. */
struct decode_big_event {
	__u64 whole : 64;
	__s64 negative : 64;
	__u32 low : 31;
	char text[1 << 20];
};

struct decode_big_event *decode_big_event_anchor __attribute__((unused));

#define OFF(f) __builtin_offsetof(struct decode_event, f)
/* The order DecoderTests.s_layoutFields expects; the last entry is sizeof(struct decode_event). */
const volatile __u32 decode_layout[15] = {
	OFF(u8v), OFF(u16v), OFF(s32v), OFF(u64v), OFF(comm), OFF(addr4), OFF(addr6), OFF(color),
	OFF(inner), OFF(inner.y), OFF(err), OFF(syscall_nr), OFF(kaddr), OFF(s64v), sizeof(struct decode_event),
};

/* Rings for the pipeline tests (RingSource needs real maps); nothing is ever submitted to them. */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 64 * 1024);
} decode_events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 64 * 1024);
} decode_events2 SEC(".maps");

/* Never attached: only there so the object has a program and loads. */
SEC("tp/syscalls/sys_enter_getppid")
int decode_touch(void *ctx)
{
	return decode_layout[0];
}
