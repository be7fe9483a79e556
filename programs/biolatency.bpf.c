// SPDX-License-Identifier: GPL-2.0
/*
 * biolatency: block I/O latency by disk and operation, from a request's issue to the driver to its
 * completion (the biolatency of bcc and ebpf_exporter), aggregated in the kernel and read by the
 * agent at scrape.
 *
 * Hooks:   tp_btf/block_rq_issue, tp_btf/block_rq_complete (kernel 5.5+). block_rq_issue takes
 *          (struct request *rq) since upstream 5.11, and in Debian 11's 5.10 (a stable backport:
 *          checked in its BTF, so a kernel-version test would pick the wrong argument there). On a
 *          kernel whose block_rq_issue still takes (q, rq) the object loads but records nothing
 *          (issues are keyed by the queue, completions never find them). A request's disk is
 *          rq->rq_disk before 5.17 and rq->q->disk since: CO-RE picks the one the kernel has.
 *          No task storage, no kfuncs. Loads on Debian 5.10, 6.1 and 6.18 (checked).
 * Map:     bio_latency_hist, BPF_MAP_TYPE_PERCPU_HASH (the agent sums the CPUs),
 *          key   struct bio_hist_key { __u32 dev; enum bio_op op; __u32 bucket; } (12 bytes, no padding)
 *          value struct bpf_agent_hist_slot { __u64 count; __u64 sum; }
 * Labels:  dev: the disk's kernel dev_t, (major << 20) | minor (8:0 is 0x800000, 254:0 is 0xFE00000);
 *          op:  enum bio_op, decoded by name (read, write, flush, discard, other).
 * Buckets: exp2 of the latency in MICROSECONDS (bucket b: latency <= 2^b us; bucket 0: <= 1 us),
 *          0..BIO_MAX_BUCKET (26: 67 s); the top bucket also takes everything above.
 *          Config: bucket kind exp2, multiplier 0.000001 (seconds), max bucket 26.
 * Sum:     in NANOSECONDS, in the `sum` field of each bucket's value; a series' sum is the total of
 *          its buckets' sums. Config: sum field `sum`, multiplier 0.000000001 (seconds).
 * Drops:   bpf_agent_drops counts completions that could not be recorded (histogram map full).
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "bpf_agent.h"

char LICENSE[] SEC("license") = "GPL";

#define BIO_MAX_BUCKET 26
#define BIO_REQ_OP_MASK 0xff
#define BIO_MINORBITS 20

/* Values equal the kernel's REQ_OP_READ..REQ_OP_DISCARD; every other operation is `other`. Enumerator names are the label values. */
enum bio_op {
	read = 0,
	write = 1,
	flush = 2,
	discard = 3,
	other = 4,
};

_Static_assert(sizeof(enum bio_op) == 4, "bio_op must be 4 bytes");
_Static_assert((int)read == (int)REQ_OP_READ && (int)discard == (int)REQ_OP_DISCARD, "bio_op values");

struct bio_hist_key {
	__u32 dev;
	enum bio_op op;
	__u32 bucket;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, 4096); /* disks x 5 operations x 27 buckets */
	__type(key, struct bio_hist_key);
	__type(value, struct bpf_agent_hist_slot);
} bio_latency_hist SEC(".maps");

/* Issue time by request address; an LRU bounds requests whose completion was never seen. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 10240);
	__type(key, __u64);
	__type(value, __u64);
} bio_start SEC(".maps");

/* struct request::rq_disk, removed in 5.17 (the disk is rq->q->disk since). */
struct request___pre517 {
	struct gendisk *rq_disk;
} __attribute__((preserve_access_index));

static __always_inline struct gendisk *request_disk(struct request *rq)
{
	if (bpf_core_field_exists(((struct request___pre517 *)rq)->rq_disk))
		return BPF_CORE_READ((struct request___pre517 *)rq, rq_disk);
	return BPF_CORE_READ(rq, q, disk);
}

SEC("tp_btf/block_rq_issue")
int BPF_PROG(bio_issue, struct request *rq)
{
	__u64 key_rq = (__u64)rq, now = bpf_ktime_get_ns();

	bpf_map_update_elem(&bio_start, &key_rq, &now, BPF_ANY);
	return 0;
}

SEC("tp_btf/block_rq_complete")
int BPF_PROG(bio_complete, struct request *rq, int error, unsigned int nr_bytes)
{
	__u64 key_rq = (__u64)rq, *start, delta;
	struct bio_hist_key key;
	struct gendisk *disk;
	__u32 op;

	start = bpf_map_lookup_elem(&bio_start, &key_rq);
	if (!start)
		return 0; /* issued before the program was attached */
	delta = bpf_ktime_get_ns() - *start;
	bpf_map_delete_elem(&bio_start, &key_rq);

	disk = request_disk(rq);
	key.dev = disk ? ((__u32)BPF_CORE_READ(disk, major) << BIO_MINORBITS) | (__u32)BPF_CORE_READ(disk, first_minor) : 0;
	op = BPF_CORE_READ(rq, cmd_flags) & BIO_REQ_OP_MASK;
	key.op = op <= discard ? (enum bio_op)op : other;
	key.bucket = bpf_agent_exp2_bucket(delta / 1000, BIO_MAX_BUCKET);
	bpf_agent_hist_slot_add(&bio_latency_hist, &key, delta);
	return 0;
}
