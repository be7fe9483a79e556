// SPDX-License-Identifier: GPL-2.0
/*
 * bench-native: the native side of `make bench`.
 *
 *   bench-native consume OBJECT --tgid PID [--ring-mb M] [--burst N] [--size 48|256]
 *                [--wakeup-mode 0|1|2] [--threshold BYTES] [--poll-ms MS]
 *       The baseline consumer: loads the producer object with libbpf, sets its parameters, attaches,
 *       then consumes `events` with ring_buffer__poll + ring_buffer__consume and a C callback that
 *       reads 8 bytes of each sample. Driven by commands on stdin (one a line), answers on stdout;
 *       the same protocol as `Agent.Bench agent-consume` (see bench/Agent.Bench/ConsumerProtocol.cs).
 *
 *   bench-native trigger [--cpu C]
 *       The producer's trigger: on "run PERIOD_NS SECONDS" calls getpgid() (one burst each) every
 *       PERIOD_NS (0: back to back) for SECONDS; on "fire N" calls it N times; prints
 *       "done triggers=N elapsed_ns=T". "quit" exits.
 *
 *   bench-native loop KIND ITERATIONS [--cpu C]
 *       A tight loop of one syscall (getppid, connect: connect+accept+close on loopback, spawn:
 *       posix_spawn+waitpid of /bin/true); prints "ns_per_call=X".
 */
#define _GNU_SOURCE
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <sched.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>

extern char **environ;

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fprintf(stderr, "bench-native: ");
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\n");
	va_end(ap);
	exit(1);
}

static void pin_cpu(int cpu)
{
	cpu_set_t set;

	if (cpu < 0)
		return;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	if (sched_setaffinity(0, sizeof(set), &set))
		die("sched_setaffinity(%d): %s", cpu, strerror(errno));
}

static const char *opt(int argc, char **argv, const char *name, const char *def)
{
	for (int i = 0; i < argc - 1; i++)
		if (!strcmp(argv[i], name))
			return argv[i + 1];
	return def;
}

/* ---------------------------------------------------------------- consumer */

struct consumer {
	struct bpf_object *obj;
	struct bpf_map *events;
	struct ring_buffer *rb;
	int poll_ms;
	pthread_t thread;
	volatile bool running;
	/* Written by the consuming thread only; read by the command thread with atomic loads. */
	uint64_t delivered;
	uint64_t checksum;
};

static int on_sample(void *ctx, void *data, size_t size)
{
	struct consumer *c = ctx;

	(void)size;
	/* The least work: count, and read 8 bytes so the sample is really touched. */
	c->checksum += *(const uint64_t *)data;
	__atomic_store_n(&c->delivered, c->delivered + 1, __ATOMIC_RELAXED);
	return 0;
}

static void *consume_loop(void *arg)
{
	struct consumer *c = arg;

	/* Same loop as the agent's poll thread: poll with a short timeout, then consume, because a
	 * producer using BPF_RB_NO_WAKEUP may never wake the poll. */
	while (__atomic_load_n(&c->running, __ATOMIC_ACQUIRE)) {
		ring_buffer__poll(c->rb, c->poll_ms);
		ring_buffer__consume(c->rb);
	}
	return NULL;
}

static void set_rodata(struct bpf_object *obj, const char *name, const void *value, size_t size)
{
	struct btf *btf = bpf_object__btf(obj);
	struct bpf_map *map;
	size_t map_size;
	const void *initial;
	char *data;
	int sec;

	bpf_object__for_each_map(map, obj) {
		const char *n = bpf_map__name(map);

		if (strlen(n) >= 7 && !strcmp(n + strlen(n) - 7, ".rodata"))
			break;
	}
	if (!map || !btf)
		die("no .rodata or BTF in the object");
	initial = bpf_map__initial_value(map, &map_size);
	sec = btf__find_by_name_kind(btf, ".rodata", BTF_KIND_DATASEC);
	if (!initial || sec < 0)
		die("no .rodata initial value");
	data = malloc(map_size);
	if (!data)
		die("out of memory");
	memcpy(data, initial, map_size);
	const struct btf_type *t = btf__type_by_id(btf, sec);
	const struct btf_var_secinfo *v = btf_var_secinfos(t);

	for (int i = 0; i < btf_vlen(t); i++, v++) {
		const struct btf_type *var = btf__type_by_id(btf, v->type);

		if (!strcmp(btf__name_by_offset(btf, var->name_off), name)) {
			if (v->size != size || v->offset + size > map_size)
				die("global %s is %u bytes, not %zu", name, v->size, size);
			memcpy(data + v->offset, value, size);
			if (bpf_map__set_initial_value(map, data, map_size))
				die("setting %s failed", name);
			free(data);
			return;
		}
	}
	die("no global %s", name);
}

static uint64_t read_global_u64(struct bpf_object *obj, const char *name)
{
	struct btf *btf = bpf_object__btf(obj);
	struct bpf_map *map;
	int sec = btf__find_by_name_kind(btf, ".bss", BTF_KIND_DATASEC);
	const struct btf_type *t;
	const struct btf_var_secinfo *v;
	static char buf[4096];
	uint32_t key = 0;

	bpf_object__for_each_map(map, obj) {
		const char *n = bpf_map__name(map);

		if (strlen(n) >= 4 && !strcmp(n + strlen(n) - 4, ".bss"))
			break;
	}
	if (!map || sec < 0 || bpf_map__value_size(map) > sizeof(buf))
		die("no .bss");
	/* libbpf 1.1's initial value is not the live memory: look the section up. */
	if (bpf_map_lookup_elem(bpf_map__fd(map), &key, buf))
		die("reading .bss: %s", strerror(errno));
	t = btf__type_by_id(btf, sec);
	v = btf_var_secinfos(t);
	for (int i = 0; i < btf_vlen(t); i++, v++) {
		const struct btf_type *var = btf__type_by_id(btf, v->type);

		if (!strcmp(btf__name_by_offset(btf, var->name_off), name)) {
			uint64_t x;

			memcpy(&x, buf + v->offset, sizeof(x));
			return x;
		}
	}
	die("no global %s", name);
	return 0;
}

static long status_kb(const char *key)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	long v = -1;
	size_t n = strlen(key);

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, key, n) && line[n] == ':') {
			v = strtol(line + n + 1, NULL, 10);
			break;
		}
	fclose(f);
	return v;
}

/* Every thread's CPU time, exact (getrusage scales user and system time from ticks: off over a short drain). */
static uint64_t cpu_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void print_stats(struct consumer *c, const char *tag, uint64_t elapsed_ns, uint64_t window_cpu_ns)
{
	printf("%s produced=%llu reserve_failed=%llu delivered=%llu channel_dropped=0 decode_errors=0 "
	       "alloc_bytes=0 cpu_ns=%llu elapsed_ns=%llu window_cpu_ns=%llu rss_kb=%ld hwm_kb=%ld\n",
	       tag, (unsigned long long)read_global_u64(c->obj, "produced"),
	       (unsigned long long)read_global_u64(c->obj, "reserve_failed"),
	       (unsigned long long)__atomic_load_n(&c->delivered, __ATOMIC_RELAXED),
	       (unsigned long long)cpu_ns(), (unsigned long long)elapsed_ns,
	       (unsigned long long)window_cpu_ns, status_kb("VmRSS"),
	       status_kb("VmHWM"));
	fflush(stdout);
}

static void start(struct consumer *c)
{
	if (c->running)
		return;
	if (!c->rb) {
		c->rb = ring_buffer__new(bpf_map__fd(c->events), on_sample, c, NULL);
		if (!c->rb)
			die("ring_buffer__new: %s", strerror(errno));
	}
	c->running = true;
	if (pthread_create(&c->thread, NULL, consume_loop, c))
		die("pthread_create");
}

static void stop(struct consumer *c)
{
	if (!c->running)
		return;
	__atomic_store_n(&c->running, false, __ATOMIC_RELEASE);
	pthread_join(c->thread, NULL);
}

/* Waits until every produced sample was delivered (or timeout_ms passed). */
static bool wait_caught_up(struct consumer *c, int timeout_ms)
{
	uint64_t deadline = now_ns() + (uint64_t)timeout_ms * 1000000ull;

	for (;;) {
		uint64_t produced = read_global_u64(c->obj, "produced");

		if (__atomic_load_n(&c->delivered, __ATOMIC_RELAXED) >= produced)
			return true;
		if (now_ns() > deadline)
			return false;
		usleep(1000);
	}
}

static int cmd_consume(int argc, char **argv)
{
	struct consumer c = {};
	const char *path = argv[0];
	uint32_t tgid = (uint32_t)atoi(opt(argc, argv, "--tgid", "0"));
	uint32_t ring_mb = (uint32_t)atoi(opt(argc, argv, "--ring-mb", "16"));
	uint32_t burst = (uint32_t)atoi(opt(argc, argv, "--burst", "500"));
	uint32_t size = (uint32_t)atoi(opt(argc, argv, "--size", "48"));
	uint32_t mode = (uint32_t)atoi(opt(argc, argv, "--wakeup-mode", "1"));
	uint64_t threshold = strtoull(opt(argc, argv, "--threshold", "65536"), NULL, 10);
	char line[256];
	struct bpf_program *prog;
	struct bpf_link *link;

	c.poll_ms = atoi(opt(argc, argv, "--poll-ms", "5"));
	c.obj = bpf_object__open_file(path, NULL);
	if (!c.obj)
		die("open %s: %s", path, strerror(errno));
	set_rodata(c.obj, "target_tgid", &tgid, sizeof(tgid));
	set_rodata(c.obj, "burst", &burst, sizeof(burst));
	set_rodata(c.obj, "sample_size", &size, sizeof(size));
	set_rodata(c.obj, "wakeup_mode", &mode, sizeof(mode));
	set_rodata(c.obj, "wakeup_threshold", &threshold, sizeof(threshold));
	c.events = bpf_object__find_map_by_name(c.obj, "events");
	if (!c.events || bpf_map__set_max_entries(c.events, ring_mb * 1024u * 1024u))
		die("no map events");
	if (bpf_object__load(c.obj))
		die("load: %s", strerror(errno));
	prog = bpf_object__find_program_by_name(c.obj, "produce");
	link = prog ? bpf_program__attach(prog) : NULL;
	if (!link)
		die("attach: %s", strerror(errno));
	printf("ready\n");
	fflush(stdout);

	while (fgets(line, sizeof(line), stdin)) {
		if (!strncmp(line, "start", 5)) {
			start(&c);
			printf("started\n");
			fflush(stdout);
		} else if (!strncmp(line, "stats", 5)) {
			print_stats(&c, "stats", 0, 0);
		} else if (!strncmp(line, "pause", 5)) {
			bool ok = wait_caught_up(&c, 3000);

			stop(&c);
			print_stats(&c, ok ? "paused" : "paused-timeout", 0, 0);
		} else if (!strncmp(line, "drain", 5)) {
			/* The producer is stopped and the ring full: time from no consumer to all consumed. */
			uint64_t produced = read_global_u64(c.obj, "produced");
			uint64_t t0 = now_ns(), t1, cpu0 = cpu_ns();

			if (!c.rb) {
				c.rb = ring_buffer__new(bpf_map__fd(c.events), on_sample, &c, NULL);
				if (!c.rb)
					die("ring_buffer__new: %s", strerror(errno));
			}
			while (__atomic_load_n(&c.delivered, __ATOMIC_RELAXED) < produced) {
				if (ring_buffer__consume(c.rb) < 0)
					break;
			}
			t1 = now_ns();
			print_stats(&c, "drained", t1 - t0, cpu_ns() - cpu0);
		} else if (!strncmp(line, "quit", 4)) {
			break;
		}
	}
	stop(&c);
	ring_buffer__free(c.rb);
	bpf_link__destroy(link);
	bpf_object__close(c.obj);
	fprintf(stderr, "checksum %llu\n", (unsigned long long)c.checksum);
	return 0;
}

/* ---------------------------------------------------------------- trigger */

static int cmd_trigger(int argc, char **argv)
{
	char line[256];

	pin_cpu(atoi(opt(argc, argv, "--cpu", "-1")));
	prctl(PR_SET_NAME, "bench-trigger");
	printf("ready pid=%d\n", getpid());
	fflush(stdout);
	while (fgets(line, sizeof(line), stdin)) {
		unsigned long long period_ns, count;
		double seconds;
		uint64_t t0, t1, n = 0;

		if (sscanf(line, "run %llu %lf", &period_ns, &seconds) == 2) {
			uint64_t end, next;

			t0 = now_ns();
			end = t0 + (uint64_t)(seconds * 1e9);
			next = t0;
			for (;;) {
				uint64_t now = now_ns();

				if (now >= end)
					break;
				if (period_ns) {
					if (now < next)
						continue; /* spin: this core is the producer's */
					next += period_ns;
					/* Far behind (preempted): do not burst to catch up. */
					if (now > next + 100 * period_ns)
						next = now + period_ns;
				}
				syscall(SYS_getpgid, 0);
				n++;
			}
			t1 = now_ns();
		} else if (sscanf(line, "fire %llu", &count) == 1) {
			t0 = now_ns();
			for (; n < count; n++)
				syscall(SYS_getpgid, 0);
			t1 = now_ns();
		} else if (!strncmp(line, "quit", 4)) {
			break;
		} else {
			continue;
		}
		printf("done triggers=%llu elapsed_ns=%llu\n", (unsigned long long)n,
		       (unsigned long long)(t1 - t0));
		fflush(stdout);
	}
	return 0;
}

/* ---------------------------------------------------------------- syscall loops */

static int listen_loopback(uint16_t *port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(a);
	int one = 1;
	int s = socket(AF_INET, SOCK_STREAM, 0);

	setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (s < 0 || bind(s, (struct sockaddr *)&a, sizeof(a)) || listen(s, 128) ||
	    getsockname(s, (struct sockaddr *)&a, &len))
		die("listen: %s", strerror(errno));
	*port = ntohs(a.sin_port);
	return s;
}

static void connect_once(int listener, uint16_t port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	/* RST on close: no TIME_WAIT, so a long loop does not run out of ports. */
	struct linger lg = { .l_onoff = 1, .l_linger = 0 };
	int s = socket(AF_INET, SOCK_STREAM, 0);
	int peer;

	if (s < 0 || connect(s, (struct sockaddr *)&a, sizeof(a)))
		die("connect: %s", strerror(errno));
	peer = accept(listener, NULL, NULL);
	if (peer < 0)
		die("accept: %s", strerror(errno));
	setsockopt(s, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	close(s);
	close(peer);
}

static void spawn_once(void)
{
	char *args[] = { "/bin/true", NULL };
	pid_t pid;
	int status;

	if (posix_spawn(&pid, "/bin/true", NULL, NULL, args, environ))
		die("posix_spawn: %s", strerror(errno));
	waitpid(pid, &status, 0);
}

static int cmd_loop(int argc, char **argv)
{
	const char *kind = argv[0];
	long iterations = argc > 1 ? atol(argv[1]) : 1000000;
	uint16_t port = 0;
	int listener = -1;
	uint64_t t0, t1;

	pin_cpu(atoi(opt(argc, argv, "--cpu", "-1")));
	if (!strcmp(kind, "connect"))
		listener = listen_loopback(&port);
	/* Warm up caches and the paths under test. */
	for (long i = 0; i < iterations / 20 + 1; i++) {
		if (listener >= 0)
			connect_once(listener, port);
		else if (!strcmp(kind, "spawn"))
			spawn_once();
		else
			syscall(SYS_getppid);
	}
	t0 = now_ns();
	if (listener >= 0) {
		for (long i = 0; i < iterations; i++)
			connect_once(listener, port);
	} else if (!strcmp(kind, "spawn")) {
		for (long i = 0; i < iterations; i++)
			spawn_once();
	} else if (!strcmp(kind, "getppid")) {
		for (long i = 0; i < iterations; i++)
			syscall(SYS_getppid);
	} else {
		die("unknown loop %s", kind);
	}
	t1 = now_ns();
	printf("ns_per_call=%.2f\n", (double)(t1 - t0) / (double)iterations);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc < 2)
		die("usage: bench-native consume|trigger|loop ...");
	if (!strcmp(argv[1], "consume") && argc > 2)
		return cmd_consume(argc - 2, argv + 2);
	if (!strcmp(argv[1], "trigger"))
		return cmd_trigger(argc - 2, argv + 2);
	if (!strcmp(argv[1], "loop") && argc > 2)
		return cmd_loop(argc - 2, argv + 2);
	die("unknown command %s", argv[1]);
	return 1;
}
