// SPDX-License-Identifier: GPL-2.0
// A struct with every shape the BTF reader handles, and clang's own layout of it in `layout`
// (offsetof and sizeof as the compiler computed them), so the test compares BTF with the compiler.
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "GPL";

enum btf_color { COLOR_RED = 1, COLOR_GREEN = 2, COLOR_BLUE = 40 };
typedef __u16 port_t;

struct btf_inner {
	__u16 x;
	__u16 y;
};

struct btf_event {
	__u8 small;
	port_t port;
	__s32 negative;
	__u64 big;
	char name[12];
	enum btf_color color;
	const volatile __u32 qualified;
	unsigned int low : 3;
	unsigned int high : 5;
	struct btf_inner inner;
	__u8 bytes[6];
};

struct btf_event *btf_event_anchor __attribute__((unused));

#define OFF(f) __builtin_offsetof(struct btf_event, f)
const volatile __u32 layout[10] = {
	OFF(small), OFF(port), OFF(negative), OFF(big), OFF(name),
	OFF(color), OFF(qualified), OFF(inner), OFF(bytes), sizeof(struct btf_event),
};

SEC("tp/syscalls/sys_enter_getppid")
int touch(void *ctx)
{
	return layout[0];
}
