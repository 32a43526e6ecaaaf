/*
 * test_report_env.h - what the report tests share (test_report.c,
 * test_report_sched.c): a migrated database per test, seeded with rollups,
 * alerts and certificates whose figures are known (see seed() for the
 * arithmetic), a collector.yaml + slos.yaml pointing at it, and running the
 * real tlswatch-collector binary. Included by test files only.
 */
#ifndef TW_TEST_REPORT_ENV_H
#define TW_TEST_REPORT_ENV_H

#include <sys/stat.h>
#include <sys/wait.h>
#include <signal.h>

#include "burn_env.h"
#include "proc.h"

/* The seeded period: 7 days from 2026-03-02T00:00:00Z (T0 of burn_env.h). */
#define REP_FROM T0
#define REP_TO (T0 + 7 * 86400000LL)
#define REP_NOW "2026-03-09T00:00:00Z"

/*
 * The seed, per hour h of the period (168 hours), service shop, target
 * shop.example:443, profile default:
 *   eu: 100 attempts; 2 failures (connect_timeout, no handshake) in h < 10
 *   us: 100 attempts; 10 failures (untrusted_root) in h < 24
 *   every handshake timed in [75, 100) ms except, in us h < 24, 5 per hour
 *   in [150, 200) ms
 * and the week before: eu only, 100 attempts an hour, no failure.
 *   availability: 33600 events, 260 bad; before: 16800, 0
 *   latency < 100 ms: 33340 timed, 120 bad; before: 16800, 0
 * Alerts: pages 2026-03-03 10:00-12:30 (shop) and 2026-03-08 20:00-still
 * firing (shop), a ticket and a page resolved before the period (neither
 * counts). Certificates served on shop.example:443 in eu: A expires 10 days
 * after the period (replaced B on 2026-03-04), C expired a day before its
 * end but is still served, D expires in 5 days but was last seen before the
 * period, E expires in 60 days.
 */
#define REP_AV_EVENTS 33600
#define REP_AV_BAD 260
#define REP_LAT_EVENTS 33340
#define REP_LAT_BAD 120

static inline void rep_rollup(PGconn *c, const char *start, const char *region, int hours,
			      int fail_hours, int fails, const char *cause, int slow_hours)
{
	exec_ok(c,
		"INSERT INTO rollup_1h (bucket, target, port, sni, region, profile, service, attempts, "
		"successes, failures, outcomes, handshakes, handshake_ms_hist, handshake_ms_sum, "
		"handshake_ms_count, mtls_attempts, mtls_failures, ocsp_stapled_count, "
		"cipher_fallback_count, sni_mismatch_count, expiring_soon_count) "
		"SELECT '%s'::timestamptz + h * interval '1 hour', 'shop.example', 443, '', '%s', "
		"'default', 'shop', 100, 100 - f, f, "
		"jsonb_build_object('ok', 100 - f) || CASE WHEN f > 0 THEN jsonb_build_object('%s', f) "
		"ELSE '{}'::jsonb END, 100 - f, "
		"array_fill(0::bigint, ARRAY[8]) || ARRAY[(100 - f - s)::bigint, 0, s::bigint] || "
		"array_fill(0::bigint, ARRAY[9]), 90.0 * (100 - f), 100 - f, 0, 0, 0, 0, 0, 0 "
		"FROM (SELECT h, CASE WHEN h < %d THEN %d ELSE 0 END AS f, "
		"CASE WHEN h < %d THEN 5 ELSE 0 END AS s FROM generate_series(0, %d) h) x",
		start, region, cause, fail_hours, fails, slow_hours, hours - 1);
}

static inline void rep_seed(PGconn *c)
{
	rep_rollup(c, "2026-03-02T00:00:00Z", "eu", 168, 10, 2, "connect_timeout", 0);
	rep_rollup(c, "2026-03-02T00:00:00Z", "us", 168, 24, 10, "untrusted_root", 24);
	rep_rollup(c, "2026-02-23T00:00:00Z", "eu", 168, 0, 0, "ok", 0);
	exec_ok(c, "INSERT INTO targets (target, port, sni, service, labels, first_seen, last_seen) "
		   "VALUES ('shop.example', 443, '', 'shop', '{\"owner\": \"team-payments\"}', "
		   "'2026-02-01Z', '2026-03-08Z')");
	/* alerts: two pages in the period, a ticket, a page before it */
	exec_ok(c,
		"INSERT INTO alerts (dedup_key, rule, severity, state, subject, service, summary, "
		"created_at, pending_since, firing_since, resolved_at, last_eval_at) VALUES "
		"('k1', 'slo_burn_fast', 'page', 'resolved', 'shop-availability', 'shop', 'burning', "
		" '2026-03-03T09:55Z', '2026-03-03T09:55Z', '2026-03-03T10:00Z', '2026-03-03T12:30Z', "
		" '2026-03-03T12:30Z'),"
		"('k2', 'slo_burn_slow', 'page', 'firing', 'shop-availability', 'shop', 'still burning', "
		" '2026-03-08T19:50Z', '2026-03-08T19:50Z', '2026-03-08T20:00Z', NULL, "
		" '2026-03-08T23:59Z'),"
		"('k3', 'slo_burn_ticket', 'ticket', 'resolved', 'shop-latency', 'shop', 'ticket', "
		" '2026-03-04T00:00Z', '2026-03-04T00:00Z', '2026-03-04T01:00Z', '2026-03-04T05:00Z', "
		" '2026-03-04T05:00Z'),"
		"('k4', 'slo_burn_fast', 'page', 'resolved', 'shop-availability', 'shop', 'old', "
		" '2026-02-25T00:00Z', '2026-02-25T00:00Z', '2026-02-25T01:00Z', '2026-02-25T02:00Z', "
		" '2026-02-25T02:00Z')");
	exec_ok(c,
		"INSERT INTO certificates (fingerprint_sha256, subject, issuer, not_after, first_seen) "
		"VALUES ('aaaa', 'CN=shop.example', 'CN=CA', '2026-03-19T00:00Z', '2026-03-04Z'), "
		"('bbbb', 'CN=shop.example old', 'CN=CA', '2026-03-05T00:00Z', '2026-01-01Z'), "
		"('cccc', 'CN=expired.shop.example', 'CN=CA', '2026-03-08T00:00Z', '2026-01-01Z'), "
		"('dddd', 'CN=gone.shop.example', 'CN=CA', '2026-03-14T00:00Z', '2026-01-01Z'), "
		"('eeee', 'CN=later.shop.example', 'CN=CA', '2026-05-08T00:00Z', '2026-01-01Z')");
	exec_ok(c,
		"INSERT INTO certificate_sightings (fingerprint_sha256, target, port, region, "
		"first_seen, last_seen) VALUES "
		"('aaaa', 'shop.example', 443, 'eu', '2026-03-04T00:00Z', '2026-03-08T23:00Z'), "
		"('bbbb', 'shop.example', 443, 'eu', '2026-01-01T00:00Z', '2026-03-04T00:00Z'), "
		"('cccc', 'shop.example', 443, 'us', '2026-01-01T00:00Z', '2026-03-08T23:00Z'), "
		"('dddd', 'shop.example', 443, 'us', '2026-01-01T00:00Z', '2026-02-20T00:00Z'), "
		"('eeee', 'shop.example', 443, 'us', '2026-01-01T00:00Z', '2026-03-08T23:00Z')");
}

static const char REP_SLOS[] =
	"slos:\n"
	"  - name: shop-availability\n"
	"    sli: availability\n"
	"    objective: 99.5\n"
	"    window: 30d\n"
	"    selector: {service: shop}\n"
	"  - name: shop-latency\n"
	"    sli: latency\n"
	"    threshold_ms: 100\n"
	"    objective: 99\n"
	"    window: 30d\n"
	"    selector: {service: shop}\n"
	"  - name: api-availability\n"
	"    sli: availability\n"
	"    objective: 99.9\n"
	"    window: 28d\n"
	"    selector: {service: api}\n"
	/* the same series twice: by target (its own query, joined with targets)
	 * and pooled by service and region (the shared pass) */
	"  - name: shop-eu-by-target\n"
	"    sli: availability\n"
	"    objective: 99\n"
	"    window: 7d\n"
	"    selector: {service: shop, target: \"shop.example:443\", region: eu}\n"
	"  - name: shop-eu-pooled\n"
	"    sli: availability\n"
	"    objective: 99\n"
	"    window: 7d\n"
	"    selector: {service: shop, region: eu}\n";

struct rep {
	char name[64], dir[512], yaml[600], conninfo[1024];
	PGconn *c;
};

/* A fresh database `name`, seeded when seed, and DIR/collector.yaml
 * (+ slos.yaml) for it; extra_yaml is appended to collector.yaml. */
static inline void rep_setup(struct rep *t, const char *name, bool seed, const char *extra_yaml)
{
	snprintf(t->name, sizeof t->name, "%s", name);
	snprintf(t->dir, sizeof t->dir, "%s/%s", env("TW_WORK"), name);
	cr_assert(mkdir(t->dir, 0700) == 0, "mkdir %s", t->dir);
	t->c = new_db(name);
	if (seed)
		rep_seed(t->c);
	snprintf(t->conninfo, sizeof t->conninfo, "%s dbname=%s", env("TW_PG_CONNINFO"), name);
	cr_assert(tw_write_file(tw_fmt("%s/slos.yaml", t->dir), REP_SLOS) == 0);
	snprintf(t->yaml, sizeof t->yaml, "%s/collector.yaml", t->dir);
	cr_assert(tw_write_file(t->yaml, tw_fmt(
		"listen: 127.0.0.1:1\n"
		"tls: {ca_file: ca.pem, cert_file: c.pem, key_file: c.key}\n"
		"database:\n"
		"  conninfo: \"%s\"\n"
		"alerting:\n"
		"  collector_id: report-test\n"
		"  slo_file: %s/slos.yaml\n"
		"%s", t->conninfo, t->dir, extra_yaml ? extra_yaml : "")) == 0);
}

/* Runs a command (argv NULL-terminated), output to logpath; its exit status
 * (-1 when it had to be killed after timeout_ms). */
static inline int rep_exec(char *const *argv, const char *logpath, int timeout_ms)
{
	pid_t pid = tw_spawn(argv, logpath);
	cr_assert(pid > 0, "cannot start %s", argv[0]);
	int st = tw_wait_exit(pid, timeout_ms);
	if (st == -1) {
		tw_stop(pid, SIGKILL, 5000);
		return -1;
	}
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

#endif
