/*
 * test_addresses.c - every address behind a name, end to end (issue 10):
 * tlswatch-probe run with a target `addresses: all` -> tlswatch-collector
 * run -> PostgreSQL -> tlswatch-collector evaluate. lb.tw.test has two
 * live nodes serving different certificates (and a dead ::1): the stored
 * results carry each address, and the evaluation opens addr_cert_mismatch
 * naming both addresses and their fingerprints. The same run stores the
 * CRL and resumption columns (crl_status, crl_detail, resume_detail) of a
 * CRL-revoked target on a server that does not resume.
 *
 * Servers come from test_addresses.sh; the daemons are run here.
 */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <libpq-fe.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "probe_run.h"
#include "proc.h"

TestSuite(addresses, .timeout = 150);

static const char *env(const char *k)
{
	const char *v = getenv(k);
	cr_assert(v && *v, "%s is not set (run through tests/integration/test_addresses.sh)", k);
	return v;
}

struct e2e {
	char dir[512], conninfo[1024], coll_yaml[600], probe_yaml[600];
	char coll_log[600], probe_log[600];
	pid_t coll, probe;
	PGconn *pg;
};

static struct e2e *g_e;

static void fini(void)
{
	if (!g_e)
		return;
	if (g_e->probe > 0)
		tw_stop(g_e->probe, SIGKILL, 2000);
	if (g_e->coll > 0)
		tw_stop(g_e->coll, SIGKILL, 2000);
	const char *logs[] = { g_e->coll_log, g_e->probe_log };
	for (int i = 0; i < 2; i++) {
		cr_expect_eq(tw_file_count(logs[i], "Sanitizer"), 0, "sanitizer report in %s", logs[i]);
		cr_expect_eq(tw_file_count(logs[i], "runtime error:"), 0, "UBSan report in %s", logs[i]);
	}
	if (g_e->pg)
		PQfinish(g_e->pg);
	g_e = NULL;
}

static const char *logs(const struct e2e *e)
{
	static char buf[12000];
	char *c = tw_read_file(e->coll_log), *p = tw_read_file(e->probe_log);
	size_t cl = c ? strlen(c) : 0, pl = p ? strlen(p) : 0;
	snprintf(buf, sizeof buf, "\n---- collector log (tail)\n%s\n---- probe log (tail)\n%s",
		 c ? c + (cl > 4000 ? cl - 4000 : 0) : "(none)",
		 p ? p + (pl > 4000 ? pl - 4000 : 0) : "(none)");
	free(c);
	free(p);
	return buf;
}

/* One value as a malloc'd string ("" for no row, "NULL" for NULL). */
static char *q_str(PGconn *c, const char *sql)
{
	PGresult *r = PQexec(c, sql);
	cr_assert(PQresultStatus(r) == PGRES_TUPLES_OK, "%s: %s", sql, PQresultErrorMessage(r));
	char *v = strdup(PQntuples(r) == 0 ? "" : PQgetisnull(r, 0, 0) ? "NULL" : PQgetvalue(r, 0, 0));
	PQclear(r);
	return v;
}

#define expect_q(c, sql, want)                                                             \
	do {                                                                               \
		char *got_ = q_str((c), (sql));                                            \
		cr_assert_str_eq(got_, (want), "%s", (sql));                               \
		free(got_);                                                                \
	} while (0)

/* name: this test's work dir under TW_WORK and database addr_NAME */
static void setup(struct e2e *e, const char *name)
{
	memset(e, 0, sizeof *e);
	e->coll = e->probe = -1;
	g_e = e;
	snprintf(e->dir, sizeof e->dir, "%s/%s", env("TW_WORK"), name);
	cr_assert(mkdir(e->dir, 0700) == 0, "mkdir %s", e->dir);
	snprintf(e->coll_yaml, sizeof e->coll_yaml, "%s/collector.yaml", e->dir);
	snprintf(e->probe_yaml, sizeof e->probe_yaml, "%s/probe.yaml", e->dir);
	snprintf(e->coll_log, sizeof e->coll_log, "%s/collector.log", e->dir);
	snprintf(e->probe_log, sizeof e->probe_log, "%s/probe.log", e->dir);
	PGconn *admin = tw_pg(NULL);
	cr_assert(admin, "cannot connect to the test PostgreSQL");
	cr_assert(tw_pg_exec(admin, tw_fmt("CREATE DATABASE addr_%s", name)) == 0);
	PQfinish(admin);
	snprintf(e->conninfo, sizeof e->conninfo, "%s dbname=addr_%s", env("TW_PG_CONNINFO"), name);

	const char *pipe = env("TW_PIPE");
	cr_assert(tw_write_file(e->coll_yaml, tw_fmt(
		"listen: 127.0.0.1:%s\n"
		"tls: {ca_file: %s/pipe-ca.pem, cert_file: %s/collector.pem, key_file: %s/collector.key}\n"
		"http: {listen: 127.0.0.1:%s}\n"
		"database: {conninfo: \"%s\", connections: 2}\n",
		env("TW_PORT_COLLECTOR"), pipe, pipe, pipe, env("TW_PORT_HTTP"), e->conninfo)) == 0);
	/* the collector by its address: the probe asks the loopback DNS server only */
	cr_assert(tw_write_file(e->probe_yaml, tw_fmt(
		"probe: {id: probe-a, region: eu-west}\n"
		"collector:\n"
		"  address: 127.0.0.1:%s\n"
		"  ca_file: %s/pipe-ca.pem\n"
		"  cert_file: %s/probe-a.pem\n"
		"  key_file: %s/probe-a.key\n"
		"  batch_max_delay: 100ms\n"
		"spool: {path: %s/spool}\n"
		"defaults: {interval: 1s, timeout: 3s, ca_file: %s/root.pem, profiles: [modern]}\n"
		"targets:\n"
		"  - {host: lb.tw.test, port: %s, addresses: all}\n"
		"  - {host: 127.0.0.1, port: %s, revocation: crl, resume: true}\n",
		env("TW_PORT_COLLECTOR"), pipe, pipe, pipe, e->dir, env("TW_PKI"), env("TW_PORT_LB"),
		env("TW_PORT_CRL_REVOKED"))) == 0);
}

static void collector(struct e2e *e, const char *cmd, ...)
{
	struct probe_run r;
	char *argv[12] = { (char *)tw_fmt("%s/tlswatch-collector", env("TW_BUILD")), (char *)cmd,
			   "-c", e->coll_yaml };
	int n = 4;
	va_list ap;
	va_start(ap, cmd);
	for (const char *a; n < 11 && (a = va_arg(ap, const char *));)
		argv[n++] = (char *)a;
	va_end(ap);
	argv[n] = NULL;
	cr_assert(probe_run_argv(&r, argv, 60) == 0);
	cr_assert(r.exit_code == 0, "collector %s failed:\n%s", cmd, probe_describe(&r));
	probe_run_free(&r);
}

static char *fingerprint(const char *pem)
{
	char fp[128];
	cr_assert_eq(tw_cert_fingerprint(tw_fmt("%s/%s", env("TW_PKI"), pem), fp, sizeof fp), 0);
	return strdup(fp);
}

Test(addresses, every_address_stored_and_stale_node_ticketed, .fini = fini)
{
	static struct e2e e;
	setup(&e, "e2e");
	collector(&e, "migrate", NULL);
	e.pg = PQconnectdb(e.conninfo);
	cr_assert(PQstatus(e.pg) == CONNECTION_OK, "%s", PQerrorMessage(e.pg));

	char *cargv[] = { (char *)tw_fmt("%s/tlswatch-collector", env("TW_BUILD")), "run", "-c",
			  e.coll_yaml, NULL };
	e.coll = tw_spawn(cargv, e.coll_log);
	cr_assert(e.coll > 0);
	cr_assert(tw_wait_port((int)strtol(env("TW_PORT_COLLECTOR"), NULL, 10), 15000), "collector did not listen%s",
		  logs(&e));
	char ns[64];
	snprintf(ns, sizeof ns, "127.0.0.1:%s", env("TW_PORT_DNS"));
	char *pargv[] = { (char *)tw_probe_bin(), "run", "-c", e.probe_yaml, "--nameserver", ns,
			  "--log-level", "debug", NULL };
	e.probe = tw_spawn(pargv, e.probe_log);
	cr_assert(e.probe > 0);

	/* until every address of lb.tw.test and the CRL target have results */
	const char *count_sql =
		"SELECT (SELECT count(DISTINCT address) FROM results WHERE target = 'lb.tw.test')"
		" * 10 + least((SELECT count(*) FROM results WHERE target = '127.0.0.1'), 1)";
	double t0 = tw_now_ms();
	while (tw_pg_ll(e.pg, count_sql) < 31 && tw_now_ms() - t0 < 30000)
		tw_sleep_ms(200);
	cr_assert_eq(tw_pg_ll(e.pg, count_sql), 31, "not every address stored%s", logs(&e));
	cr_assert(WIFEXITED(tw_stop(e.probe, SIGTERM, 20000)), "probe stop%s", logs(&e));
	e.probe = -1;
	cr_assert(WIFEXITED(tw_stop(e.coll, SIGTERM, 20000)), "collector stop%s", logs(&e));
	e.coll = -1;

	/* one result per address and round: each node's own certificate */
	char *fa = fingerprint("lb-a.pem"), *fb = fingerprint("lb-b.pem");
	expect_q(e.pg, "SELECT string_agg(DISTINCT address || ' ' || outcome || ' ' ||"
		 " coalesce(lower(replace(fingerprint_sha256, ':', '')), '-'), E'\\n')"
		 " FROM results WHERE target = 'lb.tw.test'",
		 tw_fmt("127.0.0.1 ok %s\n127.0.0.2 ok %s\n::1 connect_refused -", fa, fb));
	/* the probe names the address of every result of an `addresses: all` run */
	cr_assert_eq(tw_pg_ll(e.pg, "SELECT count(*) FROM results WHERE target = 'lb.tw.test'"
			      " AND address IS NULL"), 0);
	/* CRL and resumption columns */
	expect_q(e.pg, "SELECT outcome || ' ' || crl_status || ' ' || (crl_detail <> '')::text"
		 " || ' ' || resumed::text || ' ' || (resume_detail <> '')::text FROM results"
		 " WHERE target = '127.0.0.1' ORDER BY started_at LIMIT 1",
		 "revoked revoked true false true");

	/* 31 minutes on (alerts.drift.fingerprint_for is 30m by default) */
	char *now = q_str(e.pg, "SELECT to_char((now() + interval '31 minutes') AT TIME ZONE 'UTC',"
			  " 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')");
	collector(&e, "evaluate", "--now", now, NULL);
	free(now);
	const char *key = tw_fmt("addr_cert_mismatch:lb.tw.test:%s:all", env("TW_PORT_LB"));
	expect_q(e.pg, tw_fmt("SELECT severity || ' ' || state || ' ' || array_to_string(regions, ',')"
			      " FROM alerts WHERE dedup_key = '%s'", key), "ticket firing eu-west");
	expect_q(e.pg, tw_fmt("SELECT string_agg((a->>'address') || ' ' ||"
			      " lower(replace(a->>'fingerprint', ':', '')), ', ' ORDER BY a->>'address')"
			      " FROM alerts, jsonb_array_elements(details->'addresses') a"
			      " WHERE dedup_key = '%s'", key),
		 tw_fmt("127.0.0.1 %s, 127.0.0.2 %s", fa, fb));
	char *summary = q_str(e.pg, tw_fmt("SELECT summary FROM alerts WHERE dedup_key = '%s'", key));
	cr_assert(strstr(summary, tw_fmt("127.0.0.1 %.16s, 127.0.0.2 %.16s", fa, fb)),
		  "summary: %s", summary);
	free(summary);
	free(fa);
	free(fb);
}

/* A stop while a target's address lookup is still unanswered (a DNS server
 * that never replies): the drain deadline abandons the lookup - cancelled,
 * its callback not touching the freed run - and the probe exits 0 with
 * nothing in flight and no sanitizer report (SANITIZE=1 builds). */
Test(addresses, stop_during_an_unanswered_lookup, .fini = fini)
{
	static struct e2e e;
	setup(&e, "stop");
	int port = (int)strtol(env("TW_PORT_SILENT_DNS"), NULL, 10);
	char ns[64];
	snprintf(ns, sizeof ns, "127.0.0.1:%d", port);
	char *pargv[] = { (char *)tw_probe_bin(), "run", "-c", e.probe_yaml, "--nameserver", ns,
			  "--log-level", "debug", NULL };
	e.probe = tw_spawn(pargv, e.probe_log);
	cr_assert(e.probe > 0);
	tw_sleep_ms(1500);
	int st = tw_stop(e.probe, SIGTERM, 30000);
	e.probe = -1;
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "status %d%s", st, logs(&e));
	char *l = tw_read_file(e.probe_log);
	cr_assert(l);
	/* the CRL target (an IP literal) was probed; lb.tw.test never resolved */
	cr_assert(strstr(l, "target=127.0.0.1:"), "%s", l);
	cr_assert_null(strstr(l, "target=lb.tw.test:"), "%s", l);
	cr_assert(strstr(l, "stop: abandoned 1 address lookups"), "%s", l);
	free(l);
}
