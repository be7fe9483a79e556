// SPDX-License-Identifier: GPL-2.0
/*
 * tcp_state: one sample per TCP socket state change, from tp/sock/inet_sock_set_state.
 *
 * pid/comm are those of the task current when the state changed; many transitions happen in
 * softirq context (incoming SYN, FIN, RST, timers), where that is an unrelated task or 0/swapper.
 *
 * Ring buffer: tcp_events (256 KiB) of struct tcp_state_event.
 * Parameters:  filter_port (0: all; otherwise only events whose sport or dport equals it,
 *              host byte order).
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include "bpf_agent.h"

char LICENSE[] SEC("license") = "GPL";

#define BPF_AGENT_AF_INET  2
#define BPF_AGENT_AF_INET6 10

/* Values equal the kernel's TCP_ESTABLISHED..TCP_NEW_SYN_RECV; names distinct from vmlinux.h's. */
enum tcp_state_name {
	TCP_STATE_ESTABLISHED = 1,
	TCP_STATE_SYN_SENT,
	TCP_STATE_SYN_RECV,
	TCP_STATE_FIN_WAIT1,
	TCP_STATE_FIN_WAIT2,
	TCP_STATE_TIME_WAIT,
	TCP_STATE_CLOSE,
	TCP_STATE_CLOSE_WAIT,
	TCP_STATE_LAST_ACK,
	TCP_STATE_LISTEN,
	TCP_STATE_CLOSING,
	TCP_STATE_NEW_SYN_RECV,
};

_Static_assert(sizeof(enum tcp_state_name) == 4, "tcp_state_name must be 4 bytes");
_Static_assert((int)TCP_STATE_ESTABLISHED == (int)TCP_ESTABLISHED, "tcp state values");
_Static_assert((int)TCP_STATE_CLOSE == (int)TCP_CLOSE, "tcp state values");
_Static_assert((int)TCP_STATE_LISTEN == (int)TCP_LISTEN, "tcp state values");
_Static_assert((int)TCP_STATE_NEW_SYN_RECV == (int)TCP_NEW_SYN_RECV, "tcp state values");

struct tcp_state_event {
	__u64 timestamp_ns;           /* bpf_ktime_get_ns(): CLOCK_MONOTONIC */
	__u32 pid;                    /* tgid of the current task (see above) */
	__u16 family;                 /* AF_INET (2) or AF_INET6 (10) */
	__u16 sport;                  /* host byte order */
	__u16 dport;                  /* host byte order */
	__u8 saddr[16];               /* IPv4: bytes 0..3 (network order), rest 0; IPv6: all 16 */
	__u8 daddr[16];
	enum tcp_state_name oldstate;
	enum tcp_state_name newstate;
	char comm[16];
};
BPF_AGENT_EVENT(tcp_state_event);

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024);
} tcp_events SEC(".maps");

const volatile __u16 filter_port = 0;

SEC("tp/sock/inet_sock_set_state")
int handle_inet_sock_set_state(struct trace_event_raw_inet_sock_set_state *ctx)
{
	struct tcp_state_event *e;
	__u16 sport, dport, family;

	if (ctx->protocol != IPPROTO_TCP)
		return 0;
	sport = ctx->sport;
	dport = ctx->dport;
	if (filter_port && sport != filter_port && dport != filter_port)
		return 0;

	e = bpf_agent_reserve(&tcp_events, sizeof(*e));
	if (!e)
		return 0;
	/* Reserved memory is not zeroed: clear padding and the unused address bytes. */
	__builtin_memset(e, 0, sizeof(*e));

	family = ctx->family;
	e->timestamp_ns = bpf_ktime_get_ns();
	e->pid = bpf_get_current_pid_tgid() >> 32;
	e->family = family;
	e->sport = sport;
	e->dport = dport;
	/*
	 * bpf_probe_read_kernel, not __builtin_memcpy: clang merges the two branches into loads
	 * through ctx + variable offset, which the verifier rejects ("dereference of modified ctx
	 * ptr").
	 */
	if (family == BPF_AGENT_AF_INET) {
		bpf_probe_read_kernel(e->saddr, 4, ctx->saddr);
		bpf_probe_read_kernel(e->daddr, 4, ctx->daddr);
	} else {
		bpf_probe_read_kernel(e->saddr, 16, ctx->saddr_v6);
		bpf_probe_read_kernel(e->daddr, 16, ctx->daddr_v6);
	}
	e->oldstate = (enum tcp_state_name)ctx->oldstate;
	e->newstate = (enum tcp_state_name)ctx->newstate;
	bpf_get_current_comm(e->comm, sizeof(e->comm));

	bpf_agent_submit_lazy(e);
	return 0;
}
