/*
 * test_probe_daemon.c - `tlswatch-probe run` against a collector stand-in
 * (tests/harness/standin.c) and real loopback TLS targets:
 *
 *   - a slow disk does not stall handshakes: with every fsync taking 200 ms
 *     (LD_PRELOAD tests/harness/preload/slow_fsync.c) while results are
 *     spooled, acked, synced every 50 ms and the stats file written every
 *     200 ms, start lateness stays low and nothing is overdue;
 *   - a collector that refuses the probe says why (an Error frame) and the
 *     probe logs that reason at level error, with code and message, and
 *     backs off.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "proc.h"
#include "standin.h"

static const char *env(const char *name)
{
	const char *v = getenv(name);
	cr_assert(v && *v, "%s is not set (run through the fixture script)", name);
	return v;
}

static const char *pipe_file(const char *f)
{
	return tw_fmt("%s/%s", env("TW_PIPE"), f);
}

struct run {
	char dir[64];
	char cfg[128], stats[128], log[128];
	struct standin *coll;
	pid_t pid;
};

static struct run *g_run;

static void cleanup(void)
{
	if (!g_run)
		return;
	if (g_run->pid > 0)
		tw_stop(g_run->pid, SIGKILL, 2000);
	standin_stop(g_run->coll);
	if (system(tw_fmt("rm -rf %s", g_run->dir)) != 0)
		fprintf(stderr, "could not remove %s\n", g_run->dir);
	g_run = NULL;
}

/* Makes the work dir, starts the stand-in and writes probe.yaml: both
 * targets under 8 SNI names x 3 profiles = 48 entries a second. */
static void setup_run(struct run *r, const char *refuse_code)
{
	memset(r, 0, sizeof *r);
	snprintf(r->dir, sizeof r->dir, "/tmp/tw-probed-XXXXXX");
	cr_assert(mkdtemp(r->dir), "mkdtemp: %s", strerror(errno));
	snprintf(r->cfg, sizeof r->cfg, "%s/probe.yaml", r->dir);
	snprintf(r->stats, sizeof r->stats, "%s/stats.json", r->dir);
	snprintf(r->log, sizeof r->log, "%s/probe.log", r->dir);
	g_run = r;
	struct standin_opts so = {
		.cert = pipe_file("collector.pem"), .key = pipe_file("collector.key"),
		.ca = pipe_file("pipe-ca.pem"), .refuse_code = refuse_code,
		.refuse_message = "probe id \"probe-a\" does not match the certificate",
	};
	char cert[256], key[256], ca[256];
	snprintf(cert, sizeof cert, "%s", so.cert);
	snprintf(key, sizeof key, "%s", so.key);
	snprintf(ca, sizeof ca, "%s", so.ca);
	so.cert = cert;
	so.key = key;
	so.ca = ca;
	r->coll = standin_start(&so);

	char targets[4096] = "";
	size_t off = 0;
	const char *ports[2] = { env("TW_PORT_T1"), env("TW_PORT_T2") };
	for (int t = 0; t < 2; t++)
		for (int n = 0; n < 8; n++)
			off += (size_t)snprintf(targets + off, sizeof targets - off,
						"  - {host: 127.0.0.1, port: %s, sni: s%d.test}\n",
						ports[t], n);
	char y[8192];
	snprintf(y, sizeof y,
		 "probe: {id: probe-a, region: eu-west}\n"
		 "collector:\n"
		 "  address: 127.0.0.1:%d\n"
		 "  ca_file: %s\n"
		 "  cert_file: %s\n"
		 "  key_file: %s\n"
		 "  batch_max_delay: 20ms\n"
		 "spool: {path: %s/spool, fsync_interval: 50ms}\n"
		 "concurrency: 64\n"
		 "defaults:\n"
		 "  interval: 1s\n"
		 "  timeout: 3s\n"
		 "  profiles: [modern, tls13, intermediate]\n"
		 "targets:\n%s",
		 standin_port(r->coll), ca, pipe_file("probe-a.pem"), pipe_file("probe-a.key"),
		 r->dir, targets);
	cr_assert_eq(tw_write_file(r->cfg, y), 0);
}

static void spawn(struct run *r)
{
	char bin[256];
	snprintf(bin, sizeof bin, "%s/tlswatch-probe", env("TW_BUILD"));
	char *argv[] = { bin, "run", "-c", r->cfg, "--stats-file", r->stats,
			 "--summary-interval", "200ms", "--log-level", "info", NULL };
	r->pid = tw_spawn(argv, r->log);
	cr_assert_gt(r->pid, 0);
}

static json_t *stats(const struct run *r)
{
	json_t *j = json_load_file(r->stats, 0, NULL);
	cr_assert_not_null(j, "no stats file %s", r->stats);
	return j;
}

static double num(json_t *j, const char *a, const char *b)
{
	json_t *v = json_object_get(j, a);
	if (b)
		v = json_object_get(v, b);
	cr_assert(json_is_number(v), "stats: %s%s%s missing", a, b ? "." : "", b ? b : "");
	return json_number_value(v);
}

static const char *logtext(const struct run *r)
{
	static char *last;
	free(last);
	last = tw_read_file(r->log);
	return last ? last : "(no log)";
}

Test(probe_daemon, slow_fsync_does_not_stall_handshakes, .fini = cleanup)
{
	static struct run r;
	setup_run(&r, NULL);

	/* the shim, compiled now: it is not part of any build */
	const char *so = tw_fmt("%s/slow_fsync.so", r.dir);
	char so_path[256];
	snprintf(so_path, sizeof so_path, "%s", so);
	int rc = system(tw_fmt("cc -shared -fPIC -o %s tests/harness/preload/slow_fsync.c -ldl",
			       so_path));
	cr_assert_eq(rc, 0, "cannot compile the slow-fsync shim");
	cr_assert_eq(setenv("LD_PRELOAD", so_path, 1), 0);
	cr_assert_eq(setenv("TW_SLOW_FSYNC_MS", "200", 1), 0);
	/* under SANITIZE=1 the probe is ASan-built, and ASan refuses to start
	 * when another library is preloaded before its runtime */
	const char *asan = getenv("ASAN_OPTIONS");
	char asan_saved[512] = "";
	snprintf(asan_saved, sizeof asan_saved, "%s", asan ? asan : "");
	cr_assert_eq(setenv("ASAN_OPTIONS", tw_fmt("%s%sverify_asan_link_order=0", asan_saved,
						   asan_saved[0] ? ":" : ""), 1), 0);
	spawn(&r);
	unsetenv("LD_PRELOAD");
	if (asan)
		setenv("ASAN_OPTIONS", asan_saved, 1);
	else
		unsetenv("ASAN_OPTIONS");

	/* ~6 s: about 290 handshakes, every one of them acked */
	double t0 = tw_now_ms();
	while (tw_now_ms() - t0 < 6000 && tw_wait_exit(r.pid, 0) == -1)
		tw_sleep_ms(100);
	uint64_t acked = standin_count(r.coll, "acked");
	int st = tw_stop(r.pid, SIGTERM, 30000);
	r.pid = -1;
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "status %d:\n%s", st, logtext(&r));
	const char *shim = strstr(logtext(&r), "slow_fsync: ");
	unsigned long calls = 0, main_calls = 0;
	cr_assert(shim && sscanf(shim, "slow_fsync: %lu calls, %lu on the main thread",
				 &calls, &main_calls) == 2,
		  "the shim was not loaded:\n%s", logtext(&r));
	fprintf(stderr, "slow fsync: %lu calls, %lu on the main thread\n", calls, main_calls);
	/* The event loop's thread syncs only in spool_open, before the loop
	 * starts: the state file is written twice there (file, then its
	 * directory). Every sync after that is the worker's - a loop that waited
	 * for the disk itself would add one per rotation and ack (dozens here). */
	cr_assert_leq(main_calls, 4, "the event loop's thread called fsync %lu times", main_calls);
	cr_assert_geq(calls, main_calls + 10, "too few syncs to judge: %lu", calls);

	json_t *j = stats(&r);
	double p50 = num(j, "lateness_ms", "p50"), p99 = num(j, "lateness_ms", "p99");
	double count = num(j, "lateness_ms", "count"), produced = num(j, "produced", NULL);
	fprintf(stderr, "slow fsync: %.0f starts, lateness p50 %.1f ms p99 %.1f ms max %.0f ms, "
		"overdue %.0f\n", count, p50, p99, num(j, "lateness_ms", "max"),
		num(j, "overdue", NULL));
	/* the symptom, loosely (scheduling on a loaded machine adds lateness of
	 * its own; the cause is asserted above): the starts queued behind a
	 * loop that waited for one 200 ms fsync would be 200 ms late */
	cr_assert_lt(p99, 200, "start lateness p99 %.1f ms with a 200 ms fsync:\n%s", p99,
		     logtext(&r));
	cr_assert_geq(count, 150, "too few starts to judge: %.0f", count);
	cr_assert_eq(num(j, "overdue", NULL), 0);
	cr_assert_geq(produced, 150);
	cr_assert_gt(acked, 100, "the collector acked too little:\n%s", logtext(&r));
	/* the disk really was that slow, and the worker did the waiting */
	cr_assert_geq(num(j, "durable", "work_max_ms"), 190);
	cr_assert_eq(num(j, "durable", "errors"), 0);
	cr_assert_eq(num(j, "durable", "reserve_waits"), 0);
	/* durability kept its order: what the probe counts as acked is what
	 * the collector acked, and shutdown synced it */
	cr_assert_eq(num(j, "spool", "acked_seq"), (double)standin_count(r.coll, "acked"));
	json_decref(j);
}

Test(probe_daemon, refused_hello_logs_the_collectors_reason, .fini = cleanup)
{
	static struct run r;
	setup_run(&r, "hello_mismatch");
	spawn(&r);

	double t0 = tw_now_ms();
	while (tw_now_ms() - t0 < 10000 && standin_count(r.coll, "errors") < 2)
		tw_sleep_ms(50);
	cr_assert_geq(standin_count(r.coll, "errors"), 2, "the probe did not come back:\n%s",
		      logtext(&r));
	tw_sleep_ms(300);
	const char *l = logtext(&r);
	cr_assert(strstr(l, "level=error"), "%s", l);
	cr_assert(strstr(l, "code=hello_mismatch"), "no code in the log:\n%s", l);
	cr_assert(strstr(l, "message=\"probe id \\\"probe-a\\\" does not match the certificate\""),
		  "no message in the log:\n%s", l);
	cr_assert(strstr(l, "retrying in "), "no backoff:\n%s", l);
	cr_assert_null(strstr(l, "Broken pipe"), "%s", l);
	int st = tw_stop(r.pid, SIGTERM, 10000);
	r.pid = -1;
	cr_assert(WIFEXITED(st), "status %d", st);
}
