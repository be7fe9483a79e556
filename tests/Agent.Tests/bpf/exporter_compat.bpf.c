// SPDX-License-Identifier: GPL-2.0
/*
 * exporter_compat: a program written the way ebpf_exporter's configs expect (each map named after its metric,
 * u64 values, keys cut into labels by size and padding; exporter_compat.yaml beside it), for the agent's
 * ebpf_exporter compatibility. ebpf_exporter passes a program no parameters, so it counts only getpgid(ARG_BASE + arg)
 * (no real process id is that high) and updates every map from `arg`, kind = arg % 3:
 *   compat_syscalls_total    { u32 nr; u32 err; u64 cgroup }                    syscall, errno, cgroup
 *   compat_names_total       { char comm[16]; u8 kind; 3 pad; u32 ifindex }     string+regexp, static_map, ifname
 *   compat_addresses_total   { u8 addr[4]; u8 raw[4]; char dns[16]; u32 dev; 4 pad }  inet_ip, hex, dname, majorminor
 *   compat_pci_total         { u16 vendor; u16 subclass; u32 device; u8 class; 7 pad } the four pci_* decoders
 *   compat_stacks_total      { u64 kaddr; u64 stack[8] }                         ksym of kaddr_schedule, kstack
 *   compat_exp2_seconds      { u32 kind; u32 bucket } exp2 of arg (max 20), the sum at bucket 21
 *   compat_exp2zero          { u32 bucket } exp2zero of arg % 8 (max 4), sum at 5
 *   compat_linear            { u32 bucket } arg / 1000 (max 9), sum at 10
 *   compat_fixed             { u64 bucket } the first of 10, 100, 1000, 10000 at least arg (10000 caps), sum at 10001
 *   compat_percpu_total      PERCPU_HASH { u32 kind } + the cpu label
 *   compat_requests          { u32 kind } -> { u64 count; u64 bytes }: two metrics from one value
 *   compat_events_total      ARRAY[1] of u64: a counter without labels
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "GPL";

#define ARG_BASE 0x7e570000
const volatile __u64 kaddr_schedule = 0;

struct syscall_key {
	__u32 nr;
	__u32 err;
	__u64 cgroup;
};

struct name_key {
	char comm[16];
	__u8 kind;
	__u8 pad[3];
	__u32 ifindex;
};

struct address_key {
	__u8 addr[4];
	__u8 raw[4];
	char dns[16];
	__u32 dev;
	__u32 pad;
};

struct pci_key {
	__u16 vendor;
	__u16 subclass;
	__u32 device;
	__u8 class;
	__u8 pad[7];
};

struct stack_key {
	__u64 kaddr;
	__u64 stack[8];
};

struct kind_bucket_key {
	__u32 kind;
	__u32 bucket;
};

struct request_value {
	__u64 count;
	__u64 bytes;
};

#define HASH(name, k, v, n) \
	struct { __uint(type, BPF_MAP_TYPE_HASH); __uint(max_entries, n); __type(key, k); __type(value, v); } name SEC(".maps")

HASH(compat_syscalls_total, struct syscall_key, __u64, 64);
HASH(compat_names_total, struct name_key, __u64, 64);
HASH(compat_addresses_total, struct address_key, __u64, 64);
HASH(compat_pci_total, struct pci_key, __u64, 64);
HASH(compat_stacks_total, struct stack_key, __u64, 256);
HASH(compat_exp2_seconds, struct kind_bucket_key, __u64, 256);
HASH(compat_exp2zero, __u32, __u64, 16);
HASH(compat_linear, __u32, __u64, 16);
HASH(compat_fixed, __u64, __u64, 16);
HASH(compat_requests, __u32, struct request_value, 16);

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, 16);
	__type(key, __u32);
	__type(value, __u64);
} compat_percpu_total SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} compat_events_total SEC(".maps");

static __always_inline void add(void *map, const void *key, __u64 n)
{
	__u64 *v = bpf_map_lookup_elem(map, key);

	if (v) {
		__sync_fetch_and_add(v, n);
		return;
	}
	if (bpf_map_update_elem(map, key, &n, BPF_NOEXIST) == 0)
		return;
	v = bpf_map_lookup_elem(map, key); /* another CPU inserted it first */
	if (v)
		__sync_fetch_and_add(v, n);
}

/* floor(log2(v)) with shifts (clang 14 cannot compile __builtin_clzll for BPF) */
static __always_inline __u32 log2_u64(__u64 v)
{
	__u32 r = 0;

	if (v >> 32) { v >>= 32; r += 32; }
	if (v >> 16) { v >>= 16; r += 16; }
	if (v >> 8) { v >>= 8; r += 8; }
	if (v >> 4) { v >>= 4; r += 4; }
	if (v >> 2) { v >>= 2; r += 2; }
	if (v >> 1) { r += 1; }
	return r;
}

/* the exp2 bucket holding v: the smallest i with v <= 2^i */
static __always_inline __u32 exp2_bucket(__u64 v)
{
	return v <= 1 ? 0 : log2_u64(v - 1) + 1;
}

SEC("tp/syscalls/sys_enter_getpgid")
int count(struct trace_event_raw_sys_enter *ctx)
{
	__u64 arg = (__u32)ctx->args[0];
	__u32 kind, bucket, zero = 0;
	struct syscall_key sk = {};
	struct name_key nk = {};
	struct address_key ak = {};
	struct pci_key pk = {};
	struct stack_key stk = {};
	struct kind_bucket_key kb = {};
	struct request_value *rv, first;
	__u64 fixed;

	if (arg < ARG_BASE || arg >= ARG_BASE + 0x10000)
		return 0;
	arg -= ARG_BASE;

	kind = arg % 3;
	sk.nr = ctx->id;
	sk.err = kind + 1; /* EPERM, ENOENT, ESRCH */
	sk.cgroup = bpf_get_current_cgroup_id();
	add(&compat_syscalls_total, &sk, 1);

	if (kind == 0)
		__builtin_memcpy(nk.comm, "compat", 7);
	else
		__builtin_memcpy(nk.comm, "other", 6);
	nk.kind = kind;
	nk.ifindex = 1;
	add(&compat_names_total, &nk, 1);

	ak.addr[0] = 127;
	ak.addr[3] = kind + 1;
	ak.raw[0] = 0xde;
	ak.raw[1] = 0xad;
	ak.raw[2] = 0xbe;
	ak.raw[3] = 0xef;
	__builtin_memcpy(ak.dns, "\x07" "example\x03" "com", 13);
	ak.dev = (7 << 20) | kind; /* loop devices: loop0 .. loop2, or 7:N */
	add(&compat_addresses_total, &ak, 1);

	pk.vendor = 0x8086;
	pk.device = (0x1af4 << 16) | 0x1000;
	pk.class = 0x02;
	pk.subclass = 0x0200;
	add(&compat_pci_total, &pk, 1);

	stk.kaddr = kaddr_schedule;
	bpf_get_stack(ctx, stk.stack, sizeof(stk.stack), 0);
	add(&compat_stacks_total, &stk, 1);

	kb.kind = kind;
	kb.bucket = exp2_bucket(arg);
	if (kb.bucket > 20)
		kb.bucket = 20;
	add(&compat_exp2_seconds, &kb, 1);
	kb.bucket = 21;
	add(&compat_exp2_seconds, &kb, arg);

	bucket = arg % 8;
	bucket = bucket == 0 ? 0 : exp2_bucket(bucket) + 1;
	if (bucket > 4)
		bucket = 4;
	add(&compat_exp2zero, &bucket, 1);
	bucket = 5;
	add(&compat_exp2zero, &bucket, arg % 8);

	bucket = arg / 1000;
	if (bucket > 9)
		bucket = 9;
	add(&compat_linear, &bucket, 1);
	bucket = 10;
	add(&compat_linear, &bucket, arg);

	fixed = arg <= 10 ? 10 : arg <= 100 ? 100 : arg <= 1000 ? 1000 : 10000;
	add(&compat_fixed, &fixed, 1);
	fixed = 10001;
	add(&compat_fixed, &fixed, arg);

	add(&compat_percpu_total, &kind, 1);

	rv = bpf_map_lookup_elem(&compat_requests, &kind);
	if (rv) {
		__sync_fetch_and_add(&rv->count, 1);
		__sync_fetch_and_add(&rv->bytes, arg);
	} else {
		first.count = 1;
		first.bytes = arg;
		bpf_map_update_elem(&compat_requests, &kind, &first, BPF_ANY);
	}

	add(&compat_events_total, &zero, 1);
	return 0;
}
