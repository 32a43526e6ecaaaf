/*
 * bench_handshake - full-handshake throughput of the probe engine.
 *
 *   bench_handshake HOST PORT CA_FILE N K [PROFILE [RATE]]
 *
 * Runs N handshakes against HOST:PORT with the given profile (default
 * "modern"), verification on (CA_FILE is the only trust anchor), keeping K
 * in flight on one event_base, through the library's own handshake_start(). Prints
 * one key=value line: handshakes, failures, CPU and wall time, rates, and
 * the process peak RSS (ru_maxrss). Run one concurrency per process so
 * ru_maxrss belongs to that run. Figures are printed, not asserted; the exit
 * status is 0 when the run completed (even with failures), 2 on a setup
 * error.
 *
 * RATE (handshakes started per second, 0: as fast as K allows) paces the
 * starts as the daemon's schedule does (bench/probe_scale.sh: 333/s), so
 * the daemon's CPU per handshake can be compared with the engine's under
 * the same load: a paced engine runs about one handshake at a time and
 * pays a wakeup per event, which a saturated one (K=200) spreads over many.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/resource.h>
#include <event2/event.h>
#include <event2/dns.h>

#include "handshake.h"
#include "tlsctx.h"
#include "profile.h"
#include "tlsctx_keys.h"

struct bench {
	struct event_base *base;
	struct evdns_base *dns;
	struct hs_request req;
	long n, k;
	double rate;            /* starts per second, 0: unpaced */
	double t0;              /* CLOCK_MONOTONIC seconds at the first start */
	struct event *pace;
	long started, running, finished, ok, failed;
	long fail_by_phase[PH_POSTREAD + 1];
	long timed_out, verify_err;
	char first_fail[320];
};

static void start_more(struct bench *b);

static void done(struct hs_conn *c, void *arg)
{
	struct bench *b = arg;
	const struct hs_facts *f = handshake_facts(c);

	if (f->handshake_done && f->failed_phase == PH_NONE && f->n_verify_errors == 0) {
		b->ok++;
	} else {
		b->failed++;
		if (f->failed_phase <= PH_POSTREAD)
			b->fail_by_phase[f->failed_phase]++;
		if (f->timed_out)
			b->timed_out++;
		if (f->n_verify_errors)
			b->verify_err++;
		if (!b->first_fail[0])
			snprintf(b->first_fail, sizeof b->first_fail,
				 "phase=%d timed_out=%d errno=%d verify_errors=%d ssl_error=%lu detail=%s",
				 (int)f->failed_phase, (int)f->timed_out, f->sys_errno,
				 f->n_verify_errors, f->ssl_error, f->detail);
	}
	handshake_free(c);
	b->running--;
	b->finished++;
	start_more(b);
	if (b->finished == b->n)
		event_base_loopexit(b->base, NULL);
}

static double now_s(clockid_t id);

/* Paced: every start whose time (t0 + i / rate) has come, then wait for
 * the next one. */
static void on_pace(evutil_socket_t fd, short what, void *arg)
{
	struct bench *b = arg;
	(void)fd; (void)what;
	start_more(b);
}

static void start_more(struct bench *b)
{
	long due = b->n;
	if (b->rate > 0) {
		double el = now_s(CLOCK_MONOTONIC) - b->t0;
		due = (long)(el * b->rate) + 1;
		if (due > b->n)
			due = b->n;
	}
	while (b->started < due && b->running < b->k) {
		b->started++;
		b->running++;
		if (!handshake_start(b->base, b->dns, &b->req, done, b)) {
			fprintf(stderr, "bench_handshake: hs_start returned NULL (out of memory)\n");
			b->running--;
			b->finished++;
			b->failed++;
		}
	}
	if (b->rate > 0 && b->started < b->n && !evtimer_pending(b->pace, NULL)) {
		double next = b->t0 + (double)b->started / b->rate - now_s(CLOCK_MONOTONIC);
		struct timeval tv = { 0, next > 0 ? (suseconds_t)(next * 1e6) : 0 };
		evtimer_add(b->pace, &tv);
	}
}

static double now_s(clockid_t id)
{
	struct timespec ts;
	clock_gettime(id, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double cpu_s(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
	       (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

int main(int argc, char **argv)
{
	if (argc < 6) {
		fprintf(stderr, "usage: %s HOST PORT CA_FILE N K [PROFILE]\n", argv[0]);
		return 2;
	}
	const char *host = argv[1];
	long port = strtol(argv[2], NULL, 10);
	const char *ca = argv[3];
	struct bench b;
	memset(&b, 0, sizeof b);
	b.n = strtol(argv[4], NULL, 10);
	b.k = strtol(argv[5], NULL, 10);
	const char *pname = argc > 6 ? argv[6] : "modern";
	b.rate = argc > 7 ? strtod(argv[7], NULL) : 0;
	if (port <= 0 || port > 65535 || b.n <= 0 || b.k <= 0 || b.rate < 0 || b.rate > 1e6) {
		fprintf(stderr, "bench_handshake: bad PORT/N/K\n");
		return 2;
	}

	/* as tlswatch-probe's main() does (TLSWATCH_PROVIDER_KEYS=1: without) */
	bool builtin_keys = tlsctx_keys_init();
	struct profile_list all = { 0 };
	if (profile_add_builtins(&all) != 0) {
		fprintf(stderr, "bench_handshake: profile_add_builtins failed\n");
		return 2;
	}
	const struct profile *p = profile_find(&all, pname);
	if (!p) {
		fprintf(stderr, "bench_handshake: no profile \"%s\"\n", pname);
		return 2;
	}
	char err[256] = "";
	struct tlsctx_opts to = { ca, NULL, NULL, NULL };
	struct tlsctx *tc = tlsctx_new(p, &to, err, sizeof err);
	if (!tc) {
		fprintf(stderr, "bench_handshake: tlsctx_new: %s\n", err);
		return 2;
	}
	/* precise timers, as the daemon's event base (probe/daemon.c) */
	struct event_config *ec = event_config_new();
	if (ec && event_config_set_flag(ec, EVENT_BASE_FLAG_PRECISE_TIMER) == 0)
		b.base = event_base_new_with_config(ec);
	event_config_free(ec);
	b.dns = b.base ? evdns_base_new(b.base, 0) : NULL;
	b.pace = b.base ? evtimer_new(b.base, on_pace, &b) : NULL;
	if (!b.base || !b.dns || !b.pace) {
		fprintf(stderr, "bench_handshake: cannot create event base / resolver\n");
		return 2;
	}
	b.req.host = host;
	b.req.port = (uint16_t)port;
	b.req.connect_port = (uint16_t)port;
	b.req.revocation = REV_STAPLE;
	b.req.timeout_ms = 10000;
	b.req.mtls_wait_ms = 500;
	b.req.tc = tc;

	double c0 = cpu_s(), w0 = now_s(CLOCK_MONOTONIC);
	b.t0 = w0;
	start_more(&b);
	if (b.finished < b.n)
		event_base_dispatch(b.base);
	double cpu = cpu_s() - c0, wall = now_s(CLOCK_MONOTONIC) - w0;

	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	printf("profile=%s n=%ld k=%ld rate=%.0f ok=%ld failures=%ld finished=%ld cpu_s=%.3f wall_s=%.3f "
	       "hs_per_cpu_s=%.1f hs_per_wall_s=%.1f maxrss_kb=%ld builtin_keys=%d\n",
	       pname, b.n, b.k, b.rate, b.ok, b.failed, b.finished, cpu, wall,
	       cpu > 0 ? (double)b.ok / cpu : 0.0, wall > 0 ? (double)b.ok / wall : 0.0,
	       ru.ru_maxrss, builtin_keys ? 1 : 0);
	if (b.failed) {
		fprintf(stderr, "bench_handshake: k=%ld failures=%ld by phase: dns=%ld connect=%ld "
			"starttls=%ld handshake=%ld postread=%ld none=%ld timed_out=%ld verify=%ld\n",
			b.k, b.failed, b.fail_by_phase[PH_DNS], b.fail_by_phase[PH_CONNECT],
			b.fail_by_phase[PH_STARTTLS], b.fail_by_phase[PH_HANDSHAKE],
			b.fail_by_phase[PH_POSTREAD], b.fail_by_phase[PH_NONE], b.timed_out,
			b.verify_err);
		fprintf(stderr, "bench_handshake: first failure: %s\n", b.first_fail);
	}
	fflush(stdout);

	event_free(b.pace);
	evdns_base_free(b.dns, 0);
	event_base_free(b.base);
	tlsctx_free(tc);
	profile_list_free(&all);
	return b.finished == b.n ? 0 : 1;
}
