// SPDX-License-Identifier: GPL-2.0
/*
 * map_scrape: the maps `make bench` fills from user space to time the agent's scrape of a map with 1k, 10k
 * and 100k entries: a hash of (id, bucket) -> u64 in ebpf_exporter's histogram layout, and the same keys with a
 * per-CPU value. No program runs; the one below only makes the object loadable on every libbpf.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "GPL";

struct scrape_key {
	__u32 id;
	__u32 bucket;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 131072);
	__type(key, struct scrape_key);
	__type(value, __u64);
} scrape_hash SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, 131072);
	__type(key, struct scrape_key);
	__type(value, __u64);
} scrape_percpu SEC(".maps");

SEC("tp/syscalls/sys_enter_getppid")
int unused(void *ctx)
{
	return 0;
}
