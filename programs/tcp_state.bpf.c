// SPDX-License-Identifier: GPL-2.0
/*
 * tcp_state: one sample per TCP socket state change, from the sock/inet_sock_set_state
 * tracepoint, attached as a BTF raw tracepoint (tp_btf/): the program reads the few socket fields
 * it needs itself instead of the perf trace-buffer record a classic tp/ builds first. The fields
 * and their meaning are those of the classic event (sport, saddr from inet_sock).
 *
 * pid/comm are those of the task current when the state changed; many transitions happen in
 * softirq context (incoming SYN, FIN, RST, timers), where that is an unrelated task or 0/swapper.
 *
 * port/direction name the service a connection belongs to, so that metrics labelled by them grow
 * with services, not with connections (every client's ephemeral port would make new series): the
 * local port of a listener and of a connection it accepted, the remote port of one made with
 * connect(). A socket's direction is seen at its opening transitions and remembered by socket in
 * tcp_directions until it closes; for a socket opened before the program was attached it is
 * unknown, and port is the lower of the two ports (services listen low, clients use ephemeral ones).
 *
 * Two variants, chosen by the agent at load time (config/programs.d/tcp_state.json):
 *   btf      (Linux 6.2+): inet_sock fields through the bpf_rdonly_cast kfunc and the task from
 *            bpf_get_current_task_btf(): plain loads, no helper call per field.
 *   core_read (any kernel with BTF, 5.10 included): the same fields with BPF_CORE_READ
 *            (bpf_probe_read_kernel), pid and comm from the classic helpers.
 * Both fill struct tcp_state_event with the same fields and meaning.
 *
 * Ring buffer: tcp_events (256 KiB) of struct tcp_state_event.
 * Parameters:  filter_port (0: all; otherwise only events whose sport or dport equals it,
 *              host byte order).
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
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

enum tcp_direction {
	TCP_DIRECTION_UNKNOWN = 0,
	TCP_DIRECTION_LISTEN,         /* the listening socket itself */
	TCP_DIRECTION_INBOUND,        /* accepted from a listener: port is the local port */
	TCP_DIRECTION_OUTBOUND,       /* made with connect(): port is the remote port */
};

_Static_assert(sizeof(enum tcp_direction) == 4, "tcp_direction must be 4 bytes");

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
	__u16 port;                   /* the service's port (see above), host byte order */
	enum tcp_direction direction;
};
BPF_AGENT_EVENT(tcp_state_event);

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024);
} tcp_events SEC(".maps");

/* Direction of each open socket (by its address), from its opening transitions until it closes. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, __u64);
	__type(value, __u32);
} tcp_directions SEC(".maps");

const volatile __u16 filter_port = 0;

static __always_inline enum tcp_direction direction_of(const struct sock *sk, int oldstate, int newstate)
{
	__u64 key = (__u64)sk;
	__u32 d = TCP_DIRECTION_UNKNOWN, *known;

	if (newstate == TCP_LISTEN || (oldstate == TCP_LISTEN && newstate == TCP_CLOSE))
		return TCP_DIRECTION_LISTEN;
	/* A child of a listener reports LISTEN->SYN_RECV then SYN_RECV->ESTABLISHED; connect() CLOSE->SYN_SENT. */
	if (oldstate == TCP_LISTEN || oldstate == TCP_SYN_RECV || newstate == TCP_SYN_RECV)
		d = TCP_DIRECTION_INBOUND;
	else if (oldstate == TCP_SYN_SENT || newstate == TCP_SYN_SENT)
		d = TCP_DIRECTION_OUTBOUND;

	if (d != TCP_DIRECTION_UNKNOWN) {
		if (newstate != TCP_CLOSE)
			bpf_map_update_elem(&tcp_directions, &key, &d, BPF_ANY);
	} else {
		known = bpf_map_lookup_elem(&tcp_directions, &key);
		if (known)
			d = *known;
	}
	if (newstate == TCP_CLOSE)
		bpf_map_delete_elem(&tcp_directions, &key);
	return (enum tcp_direction)d;
}

/* The service's port: the remote one for connect()ed sockets, the local one otherwise (the lower when unknown). */
static __always_inline void set_service_port(struct tcp_state_event *e, enum tcp_direction direction, __u16 sport, __u16 dport)
{
	e->direction = direction;
	if (direction == TCP_DIRECTION_OUTBOUND)
		e->port = dport;
	else if (direction == TCP_DIRECTION_UNKNOWN && dport && (dport < sport || !sport))
		e->port = dport;
	else
		e->port = sport;
}


/*
 * Read-only view of a kernel object as another BTF type; the verifier turns the call into a move.
 * Weak: on kernels without it (before 6.2) libbpf leaves it unresolved instead of failing the
 * object, and the agent loads the core_read variant, which does not call it.
 */
extern void *bpf_rdonly_cast(const void *obj, __u32 btf_id) __ksym __weak;

SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(handle_inet_sock_set_state, const struct sock *sk, const int oldstate, const int newstate)
{
	struct task_struct *task;
	const struct inet_sock *inet;
	struct tcp_state_event *e;
	enum tcp_direction direction;
	__u16 sport, dport, family;

	if (sk->sk_protocol != IPPROTO_TCP)
		return 0;
	/* The fields the classic tracepoint reports: inet_sport and inet_saddr live in inet_sock. */
	inet = bpf_rdonly_cast(sk, bpf_core_type_id_kernel(struct inet_sock));
	sport = bpf_ntohs(inet->inet_sport);
	dport = bpf_ntohs(sk->__sk_common.skc_dport);
	if (filter_port && sport != filter_port && dport != filter_port)
		return 0;

	direction = direction_of(sk, oldstate, newstate);
	e = bpf_agent_reserve(&tcp_events, sizeof(*e));
	if (!e)
		return 0;
	/* Reserved memory is not zeroed: clear padding and the unused address bytes. */
	__builtin_memset(e, 0, sizeof(*e));

	task = bpf_get_current_task_btf();
	family = sk->__sk_common.skc_family;
	e->timestamp_ns = bpf_ktime_get_ns();
	e->pid = task->tgid;
	e->family = family;
	e->sport = sport;
	e->dport = dport;
	if (family == BPF_AGENT_AF_INET) {
		__be32 saddr = inet->inet_saddr, daddr = sk->__sk_common.skc_daddr;

		__builtin_memcpy(e->saddr, &saddr, 4);
		__builtin_memcpy(e->daddr, &daddr, 4);
	} else {
		__builtin_memcpy(e->saddr, &sk->__sk_common.skc_v6_rcv_saddr, 16);
		__builtin_memcpy(e->daddr, &sk->__sk_common.skc_v6_daddr, 16);
	}
	set_service_port(e, direction, sport, dport);
	e->oldstate = (enum tcp_state_name)oldstate;
	e->newstate = (enum tcp_state_name)newstate;
	/* Two loads instead of bpf_get_current_comm()'s helper call and copy; comm is NUL-terminated. */
	__builtin_memcpy(e->comm, task->comm, sizeof(e->comm));

	bpf_agent_submit_lazy(e);
	return 0;
}

SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(handle_inet_sock_set_state_core, const struct sock *sk, const int oldstate, const int newstate)
{
	const struct inet_sock *inet = (const struct inet_sock *)sk;
	enum tcp_direction direction;
	struct tcp_state_event *e;
	__u16 sport, dport, family;

	if (sk->sk_protocol != IPPROTO_TCP)
		return 0;
	/* Past struct sock: the verifier allows no plain load there without the kfunc. */
	sport = bpf_ntohs(BPF_CORE_READ(inet, inet_sport));
	dport = bpf_ntohs(sk->__sk_common.skc_dport);
	if (filter_port && sport != filter_port && dport != filter_port)
		return 0;

	direction = direction_of(sk, oldstate, newstate);
	e = bpf_agent_reserve(&tcp_events, sizeof(*e));
	if (!e)
		return 0;
	__builtin_memset(e, 0, sizeof(*e));

	family = sk->__sk_common.skc_family;
	e->timestamp_ns = bpf_ktime_get_ns();
	e->pid = bpf_get_current_pid_tgid() >> 32;
	e->family = family;
	e->sport = sport;
	e->dport = dport;
	if (family == BPF_AGENT_AF_INET) {
		__be32 saddr = BPF_CORE_READ(inet, inet_saddr), daddr = sk->__sk_common.skc_daddr;

		__builtin_memcpy(e->saddr, &saddr, 4);
		__builtin_memcpy(e->daddr, &daddr, 4);
	} else {
		__builtin_memcpy(e->saddr, &sk->__sk_common.skc_v6_rcv_saddr, 16);
		__builtin_memcpy(e->daddr, &sk->__sk_common.skc_v6_daddr, 16);
	}
	set_service_port(e, direction, sport, dport);
	e->oldstate = (enum tcp_state_name)oldstate;
	e->newstate = (enum tcp_state_name)newstate;
	bpf_get_current_comm(e->comm, sizeof(e->comm));

	bpf_agent_submit_lazy(e);
	return 0;
}
