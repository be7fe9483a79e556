// SPDX-License-Identifier: GPL-2.0
// One map of each kind the map readers support, filled from a triggered event. On every getppid of the
// test process (target_tgid), the program takes the next sequence number s and adds one to the entry
// with key s % KEY_SPACE of every map, recording the CPU it ran on and the key in the value: a 12-byte
// value, so a per-CPU slot is padded to 16 bytes. `trie` (an LPM trie) and `progs` (a program array, which
// has no batch lookup: the fallback to key iteration) are filled from user space.
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "GPL";

#define KEY_SPACE 1024

const volatile __u32 target_tgid = 0;
__u64 seq = 0;

struct fill_value {
	__u32 count; /* events that hit this key (on this CPU, for per-CPU maps) */
	__u32 cpu;   /* CPU of the last event that hit it */
	__u32 key;   /* the key again, to check that values travel with their keys */
};

#define FILL_MAP(name, map_type, entries)            \
	struct {                                     \
		__uint(type, map_type);              \
		__uint(max_entries, entries);        \
		__type(key, __u32);                  \
		__type(value, struct fill_value);    \
	} name SEC(".maps")

FILL_MAP(hash, BPF_MAP_TYPE_HASH, KEY_SPACE);
/* LRU maps get room to spare: their per-CPU free lists can evict before max_entries is reached. */
FILL_MAP(lru_hash, BPF_MAP_TYPE_LRU_HASH, 4 * KEY_SPACE);
FILL_MAP(percpu_hash, BPF_MAP_TYPE_PERCPU_HASH, KEY_SPACE);
FILL_MAP(lru_percpu_hash, BPF_MAP_TYPE_LRU_PERCPU_HASH, 4 * KEY_SPACE);
FILL_MAP(array, BPF_MAP_TYPE_ARRAY, KEY_SPACE);
FILL_MAP(percpu_array, BPF_MAP_TYPE_PERCPU_ARRAY, KEY_SPACE);

struct trie_key {
	__u32 prefixlen;
	__u8 addr[4];
};

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, 256);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct trie_key);
	__type(value, __u64);
} trie SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, 8);
	__type(key, __u32);
	__type(value, __u32);
} progs SEC(".maps");

static __always_inline void add(void *map, __u32 key, __u32 cpu)
{
	struct fill_value init = { .count = 0, .cpu = cpu, .key = key };
	struct fill_value *v = bpf_map_lookup_elem(map, &key);

	if (!v) {
		bpf_map_update_elem(map, &key, &init, BPF_NOEXIST);
		v = bpf_map_lookup_elem(map, &key);
		if (!v)
			return;
	}
	__sync_fetch_and_add(&v->count, 1);
	v->cpu = cpu;
	v->key = key;
}

SEC("tp/syscalls/sys_enter_getppid")
int fill(void *ctx)
{
	__u32 key, cpu;

	if ((bpf_get_current_pid_tgid() >> 32) != target_tgid)
		return 0;
	/* The test makes its getppid calls from one thread at a time, so a plain increment is exact; an atomic
	 * fetch-and-add would need BPF_FETCH (Linux 5.12+) and keep this object off 5.10. */
	key = seq++ % KEY_SPACE;
	cpu = bpf_get_smp_processor_id();
	add(&hash, key, cpu);
	add(&lru_hash, key, cpu);
	add(&percpu_hash, key, cpu);
	add(&lru_percpu_hash, key, cpu);
	add(&array, key, cpu);
	add(&percpu_array, key, cpu);
	return 0;
}
