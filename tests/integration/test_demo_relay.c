/*
 * test_demo_relay.c - the demo's region relay (deploy/demo/relay.c, built
 * as $TW_BUILD/tlswatch-demo-relay) against real sockets: a round trip
 * through it takes twice the one-way delay, connections are lost at the
 * configured rate, a refusing target resets the client that found it
 * refusing and closes the route (the next clients are refused, as on a real
 * network) until the target accepts again, SIGHUP re-routes
 * (and a bad map keeps the old routes), bad options and maps exit 2 with
 * the culprit named, SIGTERM exits 0.
 *
 * The targets are echo servers on threads of this process: each answers
 * "<tag>:<what it read>" once per connection.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "proc.h"

TestSuite(relay, .timeout = 60);

/* ---- echo targets ---- */

struct echo {
	int fd;
	int port;
	char tag[8];
	pthread_t th;
};

static void *echo_main(void *arg)
{
	struct echo *e = arg;
	for (;;) {
		int c = accept(e->fd, NULL, NULL);
		if (c < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			return NULL;
		}
		char in[256], out[300];
		ssize_t n = read(c, in, sizeof in - 1);
		if (n > 0) {
			in[n] = '\0';
			int m = snprintf(out, sizeof out, "%s:%s", e->tag, in);
			if (write(c, out, (size_t)m) < 0)
				perror("echo write");
		}
		close(c);
	}
}

/* Listens on 127.0.0.1:*port (0: any free port, written back). */
static int listen_any(int *port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)*port),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int one = 1;
	socklen_t al = sizeof a;
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	cr_assert_geq(fd, 0);
	cr_assert_eq(setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one), 0);
	cr_assert_eq(bind(fd, (struct sockaddr *)&a, sizeof a), 0, "bind %d: %s", *port, strerror(errno));
	cr_assert_eq(listen(fd, 256), 0);
	cr_assert_eq(getsockname(fd, (struct sockaddr *)&a, &al), 0);
	*port = ntohs(a.sin_port);
	return fd;
}

/* An echo target on `port` (0: any free one). */
static void echo_start_on(struct echo *e, const char *tag, int port)
{
	snprintf(e->tag, sizeof e->tag, "%s", tag);
	e->port = port;
	e->fd = listen_any(&e->port);
	cr_assert_eq(pthread_create(&e->th, NULL, echo_main, e), 0);
	pthread_detach(e->th);
}

static void echo_start(struct echo *e, const char *tag)
{
	echo_start_on(e, tag, 0);
}

/* A port nothing listens on (bound, then closed). */
static int free_port(void)
{
	int p = 0, fd = listen_any(&p);
	close(fd);
	return p;
}

/* ---- the relay ---- */

struct relay {
	pid_t pid;
	char map[256], log[256];
	int port[2];
};

static const char *relay_bin(void)
{
	const char *b = getenv("TW_BUILD");
	return tw_fmt("%s/tlswatch-demo-relay", b ? b : "build");
}

static void relay_map(struct relay *r, const char *text)
{
	cr_assert_eq(tw_write_file(r->map, text), 0);
}

static void relay_start(struct relay *r, const char *delay, const char *loss, const char *map_text)
{
	char tmpl[] = "/tmp/tlswatch-relay.XXXXXX";
	cr_assert_not_null(mkdtemp(tmpl));
	snprintf(r->map, sizeof r->map, "%s/map", tmpl);
	snprintf(r->log, sizeof r->log, "%s/relay.log", tmpl);
	relay_map(r, map_text);
	char *argv[] = { (char *)relay_bin(), "--map", r->map, "--region", "test", "--delay-ms",
			 (char *)delay, "--loss", (char *)loss, "--seed", "42", NULL };
	r->pid = tw_spawn(argv, r->log);
	cr_assert_gt(r->pid, 0);
}

static void relay_stop(struct relay *r)
{
	int st = tw_stop(r->pid, SIGTERM, 5000);
	cr_expect(WIFEXITED(st) && WEXITSTATUS(st) == 0, "relay exit status %d; log:\n%s", st,
		  tw_read_file(r->log) ?: "");
}

/* After the last look at its log. */
static void relay_clean(struct relay *r)
{
	unlink(r->map);
	unlink(r->log);
	*strrchr(r->map, '/') = '\0';
	rmdir(r->map);
}

/* One exchange through 127.0.0.1:port: sends "ping", returns what came back
 * ("" on EOF or reset before any byte), and the round trip in *ms. */
static char *exchange(int port, double *ms)
{
	static char buf[512];
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	cr_assert_geq(fd, 0);
	cr_assert_eq(connect(fd, (struct sockaddr *)&a, sizeof a), 0, "connect %d: %s", port,
		     strerror(errno));
	double t0 = tw_now_ms();
	size_t got = 0;
	if (write(fd, "ping", 4) == 4) {
		for (;;) {
			struct pollfd p = { fd, POLLIN, 0 };
			if (poll(&p, 1, 5000) <= 0)
				break;
			ssize_t n = read(fd, buf + got, sizeof buf - 1 - got);
			if (n <= 0)
				break;
			got += (size_t)n;
		}
	}
	*ms = tw_now_ms() - t0;
	close(fd);
	buf[got] = '\0';
	return buf;
}

/* ---- tests ---- */

Test(relay, round_trip_is_twice_the_one_way_delay)
{
	struct echo e;
	struct relay slow, fast;
	echo_start(&e, "A");
	int ps = free_port(), pf = free_port();
	relay_start(&slow, "60", "0", tw_fmt("a %d 127.0.0.1:%d\n", ps, e.port));
	relay_start(&fast, "0", "0", tw_fmt("a %d 127.0.0.1:%d\n", pf, e.port));
	cr_assert(tw_wait_port(ps, 5000) && tw_wait_port(pf, 5000));
	for (int i = 0; i < 5; i++) {
		double ms_s, ms_f;
		cr_expect_str_eq(exchange(ps, &ms_s), "A:ping");
		cr_expect_str_eq(exchange(pf, &ms_f), "A:ping");
		/* ping waits 60 ms to the target, the answer 60 ms back */
		cr_expect_geq(ms_s, 120.0, "round trip %.1f ms through a 60 ms relay", ms_s);
		cr_expect_lt(ms_s, 400.0, "round trip %.1f ms through a 60 ms relay", ms_s);
		cr_expect_lt(ms_f, 60.0, "round trip %.1f ms through a 0 ms relay", ms_f);
	}
	relay_stop(&slow);
	relay_stop(&fast);
	relay_clean(&slow);
	relay_clean(&fast);
}

Test(relay, loses_connections_at_the_rate)
{
	struct echo e;
	struct relay r;
	echo_start(&e, "A");
	int p = free_port();
	relay_start(&r, "0", "25", tw_fmt("a %d 127.0.0.1:%d\n", p, e.port));
	cr_assert(tw_wait_port(p, 5000));
	int lost = 0, n = 400;
	for (int i = 0; i < n; i++) {
		double ms;
		const char *got = exchange(p, &ms);
		if (!*got)
			lost++;
		else
			cr_expect_str_eq(got, "A:ping");
	}
	/* 25% of 400 is 100; a binomial 3-sigma band is about +-26 (the
	 * readiness probe of tw_wait_port is one more connection) */
	cr_expect(lost >= 70 && lost <= 130, "%d of %d connections lost at --loss 25", lost, n);
	relay_stop(&r);
	cr_expect_geq(tw_file_count(r.log, "end=dropped"), 70);
	relay_clean(&r);
}

/* A TCP connect to 127.0.0.1:port: the connected socket, or -errno. */
static int dial(int port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	cr_assert_geq(fd, 0);
	if (connect(fd, (struct sockaddr *)&a, sizeof a) == 0)
		return fd;
	int e = errno;
	close(fd);
	return -e;
}

/* The relay accepts before it knows the target refuses: the client that
 * finds out gets a reset (no byte). Then the route closes, so later clients
 * are refused by the kernel, the way a real path reports a server that is
 * down, until the target accepts again and the route reopens. */
Test(relay, refusing_target_is_refused_until_it_accepts)
{
	struct relay r;
	int p = free_port(), dead = free_port();
	relay_start(&r, "10", "0", tw_fmt("a %d 127.0.0.1:%d\n", p, dead));
	/* the first connection that gets in is the one that finds out */
	int fd = -1;
	for (double end = tw_now_ms() + 5000; fd < 0 && tw_now_ms() < end;)
		if ((fd = dial(p)) < 0)
			usleep(20 * 1000);
	cr_assert_geq(fd, 0, "the relay does not listen on %d", p);
	char buf[64];
	struct pollfd pf = { fd, POLLIN, 0 };
	cr_assert_eq(write(fd, "ping", 4), 4);
	cr_assert_eq(poll(&pf, 1, 5000), 1, "no end within 5 s of a refusing target");
	cr_expect_leq(read(fd, buf, sizeof buf), 0, "bytes from a refusing target");
	close(fd);
	/* from now on: refused, every time, while the target is down */
	int refused = 0, other = 0;
	for (int i = 0; i < 10; i++) {
		int c = dial(p);
		if (c == -ECONNREFUSED)
			refused++;
		else
			other++;
		if (c >= 0)
			close(c);
		usleep(50 * 1000);
	}
	cr_expect_eq(refused, 10, "%d of 10 connects refused while the target is down (%d not)",
		     refused, other);
	/* the target comes up on its port: the route reopens within a few tries */
	struct echo e;
	echo_start_on(&e, "B", dead);
	const char *got = "";
	for (double end = tw_now_ms() + 5000; strcmp(got, "B:ping") != 0 && tw_now_ms() < end;) {
		int c = dial(p);
		if (c >= 0) {
			close(c);
			double ms;
			got = exchange(p, &ms);
		} else {
			usleep(50 * 1000);
		}
	}
	cr_expect_str_eq(got, "B:ping", "the route did not reopen once the target accepted");
	relay_stop(&r);
	cr_expect_geq(tw_file_count(r.log, "end=target_refused"), 1, "%s", tw_read_file(r.log) ?: "");
	cr_expect_eq(tw_file_count(r.log, "route closed"), 1, "%s", tw_read_file(r.log) ?: "");
	cr_expect_eq(tw_file_count(r.log, "route open"), 1, "%s", tw_read_file(r.log) ?: "");
	relay_clean(&r);
}

Test(relay, sighup_reroutes_and_a_bad_map_keeps_the_routes)
{
	struct echo a, b;
	struct relay r;
	echo_start(&a, "A");
	echo_start(&b, "B");
	int p = free_port(), p2 = free_port();
	relay_start(&r, "0", "0", tw_fmt("shop %d 127.0.0.1:%d\n", p, a.port));
	cr_assert(tw_wait_port(p, 5000));
	double ms;
	cr_expect_str_eq(exchange(p, &ms), "A:ping");

	/* shop moves to B, a new route appears */
	relay_map(&r, tw_fmt("shop %d 127.0.0.1:%d  # legacy\nnew %d 127.0.0.1:%d\n", p, b.port, p2,
			     a.port));
	cr_assert_eq(kill(r.pid, SIGHUP), 0);
	cr_assert(tw_wait_port(p2, 5000), "the new route does not listen");
	cr_expect_str_eq(exchange(p, &ms), "B:ping");
	cr_expect_str_eq(exchange(p2, &ms), "A:ping");

	/* a map with an error changes nothing */
	relay_map(&r, "shop not-a-port 127.0.0.1:1\n");
	cr_assert_eq(kill(r.pid, SIGHUP), 0);
	double end = tw_now_ms() + 5000;
	while (tw_file_count(r.log, "keeping the old map") == 0 && tw_now_ms() < end)
		tw_sleep_ms(20);
	cr_expect_eq(tw_file_count(r.log, "keeping the old map"), 1);
	cr_expect_eq(tw_file_count(r.log, "line=1"), 1, "the error names the line");
	cr_expect_str_eq(exchange(p, &ms), "B:ping");
	cr_expect_str_eq(exchange(p2, &ms), "A:ping");
	relay_stop(&r);
	relay_clean(&r);
}

/* Runs the relay with argv (after the program name) to completion: its
 * exit status, its output in *out. */
static int run_relay(const char *log, char *const args[], char **out)
{
	char *argv[16] = { (char *)relay_bin() };
	int i = 0;
	for (; args[i] && i < 14; i++)
		argv[i + 1] = args[i];
	argv[i + 1] = NULL;
	pid_t pid = tw_spawn(argv, log);
	cr_assert_gt(pid, 0);
	int st = tw_wait_exit(pid, 5000);
	cr_assert_neq(st, -1, "the relay did not exit");
	*out = tw_read_file(log);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

Test(relay, bad_options_and_maps_exit_2_naming_the_culprit)
{
	char tmpl[] = "/tmp/tlswatch-relay.XXXXXX";
	cr_assert_not_null(mkdtemp(tmpl));
	char map[64], log[64];
	snprintf(map, sizeof map, "%s/map", tmpl);
	snprintf(log, sizeof log, "%s/log", tmpl);
	char *out;
	static const struct {
		const char *map_text; /* NULL: no map written */
		const char *args[6];
		const char *says;
	} cases[] = {
		{ NULL, { "--delay-ms", "-5", "--map", "M" }, "--delay-ms wants 0-60000" },
		{ NULL, { "--loss", "101", "--map", "M" }, "--loss wants a percentage" },
		{ NULL, { "--region", "x" }, "--map FILE is required" },
		{ "a 70000 127.0.0.1:1\n", { "--map", "M" }, "bad listen port" },
		{ "a 1234 localhost:1\n", { "--map", "M" }, "want a numeric HOST:PORT" },
		{ "a 1234 127.0.0.1:1\na 1235 127.0.0.1:2\n", { "--map", "M" }, "duplicate route" },
		{ "a 1234\n", { "--map", "M" }, "map line wants" },
		{ NULL, { "--map", "/nonexistent/map" }, "cannot open the map" },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char *args[8] = { NULL };
		for (int k = 0; k < 6 && cases[i].args[k]; k++)
			args[k] = strcmp(cases[i].args[k], "M") == 0 ? (char *)map : (char *)cases[i].args[k];
		if (cases[i].map_text)
			cr_assert_eq(tw_write_file(map, cases[i].map_text), 0);
		unlink(log);
		int rc = run_relay(log, args, &out);
		cr_expect_eq(rc, 2, "case %zu: exit %d\n%s", i, rc, out ?: "");
		cr_expect(out && strstr(out, cases[i].says), "case %zu: output lacks \"%s\":\n%s", i,
			  cases[i].says, out ?: "");
		free(out);
	}
	char *help[] = { "--help", NULL };
	unlink(log);
	cr_expect_eq(run_relay(log, help, &out), 0);
	cr_expect(out && strstr(out, "usage: tlswatch-demo-relay"));
	free(out);
	unlink(map);
	unlink(log);
	rmdir(tmpl);
}
