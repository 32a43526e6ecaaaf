/*
 * test_leader.c - exactly one alert evaluator among several collectors
 * (collector/evaluator.h): three real `tlswatch-collector run` processes
 * share one database with an SLO that is burning; the page is written to
 * the outbox exactly once, evaluation_runs shows one collector_id at a time,
 * and when the leader is SIGKILLed another collector takes over within a few
 * evaluation intervals without writing a duplicate.
 *
 * The evaluator runs on the wall clock here (it is the daemon), so the
 * failing rollup rows are written around the real now; evaluation_interval
 * is 1s.
 */
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <criterion/criterion.h>
#include <jansson.h>
#include <libpq-fe.h>

#include "db.h"
#include "proc.h"
#include "sql_migrations.h"
#include "twtime.h"

TestSuite(leader, .timeout = 200);

#define N 3

static const char *penv(const char *k)
{
	const char *v = getenv(k);
	cr_assert(v && *v, "%s is not set (run through tests/integration/test_leader.sh)", k);
	return v;
}

struct coll {
	char id[16], yaml[600], log[600];
	pid_t pid;
};

static void dump_logs(struct coll *cs)
{
	for (int i = 0; i < N; i++) {
		char *l = tw_read_file(cs[i].log);
		size_t n = l ? strlen(l) : 0;
		fprintf(stderr, "---- %s log (tail)\n%s\n", cs[i].id, l ? l + (n > 4000 ? n - 4000 : 0) : "");
		free(l);
	}
}

static long long q(PGconn *c, const char *sql)
{
	long long v = tw_pg_ll(c, sql);
	return v;
}

/* Polls sql until it returns >= want or timeout; returns the last value. */
static long long wait_for(PGconn *c, const char *sql, long long want, int timeout_ms)
{
	double end = tw_now_ms() + timeout_ms;
	long long v;
	while ((v = q(c, sql)) < want && tw_now_ms() < end)
		tw_sleep_ms(100);
	return v;
}

Test(leader, one_evaluator_pages_once_and_fails_over)
{
	const char *pipe = penv("TW_PIPE");
	char dir[600], conninfo[1024], slo[700];
	snprintf(dir, sizeof dir, "%s/leader", penv("TW_WORK"));
	cr_assert(mkdir(dir, 0700) == 0);
	PGconn *admin = tw_pg(NULL);
	cr_assert(admin);
	cr_assert(tw_pg_exec(admin, "CREATE DATABASE leader") == 0);
	PQfinish(admin);
	snprintf(conninfo, sizeof conninfo, "%s dbname=leader", penv("TW_PG_CONNINFO"));
	char err[512] = "";
	cr_assert_eq(db_migrate(conninfo, err, sizeof err), (int)sql_migrations_count, "%s", err);
	PGconn *c = tw_pg("leader");
	cr_assert(c);

	/* 20 handshakes a minute, 6 failing, from 70 minutes ago to 10 minutes
	 * ahead: every burn-rate rule of the SLO is far above its threshold
	 * (30% errors at 99.9% = 300x) for the whole test */
	cr_assert(tw_pg_exec(c,
		"INSERT INTO rollup_1m (bucket, target, port, sni, region, profile, service, attempts, "
		"successes, failures, outcomes, handshakes, handshake_ms_hist, handshake_ms_sum, "
		"handshake_ms_count, mtls_attempts, mtls_failures, ocsp_stapled_count, "
		"cipher_fallback_count, sni_mismatch_count, expiring_soon_count) "
		"SELECT date_trunc('minute', now()) + m * interval '1 minute', 'a.example', 443, '', "
		"'eu-west', 'default', 'shop', 20, 14, 6, '{}', 20, array_fill(0::bigint, ARRAY[20]), 0, "
		"0, 0, 0, 0, 0, 0, 0 FROM generate_series(-70, 10) m") == 0);
	cr_assert(tw_pg_exec(c,
		"INSERT INTO rollup_1h SELECT date_trunc('hour', bucket), target, port, sni, region, "
		"profile, max(service), sum(attempts), sum(successes), sum(failures), '{}', "
		"sum(handshakes), array_fill(0::bigint, ARRAY[20]), 0, 0, 0, 0, 0, 0, 0, 0 "
		"FROM rollup_1m GROUP BY 1, 2, 3, 4, 5, 6") == 0);

	snprintf(slo, sizeof slo, "%s/slos.yaml", dir);
	cr_assert(tw_write_file(slo,
		"slos:\n"
		"  - name: shop\n"
		"    sli: availability\n"
		"    objective: 99.9\n"
		"    selector: {service: shop}\n") == 0);

	/* every collector also runs a notifier towards one signed webhook */
	char notify[700];
	snprintf(notify, sizeof notify, "%s/notify.yaml", dir);
	cr_assert(tw_write_file(notify, tw_fmt(
		"sinks:\n"
		"  - name: pager\n"
		"    type: webhook\n"
		"    url: http://127.0.0.1:%s/hook\n"
		"    secret: whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\n"
		"routes:\n"
		"  - match:\n"
		"      severity: page\n"
		"    sinks: [pager]\n"
		"retry:\n"
		"  initial: 200ms\n"
		"delivery:\n"
		"  poll_interval: 200ms\n", penv("TW_PORT_HOOK"))) == 0);

	struct coll cs[N];
	static const char *const cport[N] = { "TW_PORT_C1", "TW_PORT_C2", "TW_PORT_C3" };
	static const char *const hport[N] = { "TW_PORT_H1", "TW_PORT_H2", "TW_PORT_H3" };
	for (int i = 0; i < N; i++) {
		snprintf(cs[i].id, sizeof cs[i].id, "c%d", i + 1);
		snprintf(cs[i].yaml, sizeof cs[i].yaml, "%.500s/c%d.yaml", dir, i + 1);
		snprintf(cs[i].log, sizeof cs[i].log, "%.500s/c%d.log", dir, i + 1);
		cr_assert(tw_write_file(cs[i].yaml, tw_fmt(
			"listen: 127.0.0.1:%s\n"
			"tls:\n"
			"  ca_file: %s/pipe-ca.pem\n"
			"  cert_file: %s/collector.pem\n"
			"  key_file: %s/collector.key\n"
			"http:\n"
			"  listen: 127.0.0.1:%s\n"
			"database:\n"
			"  conninfo: \"%s\"\n"
			"  connections: 1\n"
			"alerting:\n"
			"  slo_file: %s\n"
			"  evaluation_interval: 1s\n"
			"  collector_id: %s\n"
			"  notify_file: %s\n"
			"log:\n"
			"  level: info\n",
			penv(cport[i]), pipe, pipe, pipe, penv(hport[i]), conninfo, slo, cs[i].id,
			notify)) == 0);
	}
	for (int i = 0; i < N; i++) {
		char *argv[] = { (char *)tw_fmt("%s/tlswatch-collector", penv("TW_BUILD")), "run", "-c",
				 cs[i].yaml, NULL };
		cs[i].pid = tw_spawn(argv, cs[i].log);
		cr_assert(cs[i].pid > 0);
	}
	for (int i = 0; i < N; i++)
		if (!tw_wait_port((int)strtol(penv(cport[i]), NULL, 10), 15000)) {
			dump_logs(cs);
			cr_assert_fail("%s did not listen", cs[i].id);
		}

	/* the page: slo_burn_fast and slo_burn_slow triggered once each */
	const char *triggers = "SELECT count(*) FROM notification_outbox WHERE action = 'trigger' "
			       "AND dedup_key IN ('slo_burn_fast|shop|all', 'slo_burn_slow|shop|all')";
	if (wait_for(c, triggers, 2, 20000) != 2) {
		dump_logs(cs);
		cr_assert_fail("no page within 20 s");
	}
	/* a few more intervals with all three running */
	long long runs0 = q(c, "SELECT count(*) FROM evaluation_runs");
	wait_for(c, "SELECT count(*) FROM evaluation_runs", runs0 + 4, 10000);
	cr_assert_eq(q(c, triggers), 2);
	cr_assert_eq(q(c, "SELECT count(*) FROM notification_outbox WHERE action = 'trigger'"),
		     q(c, "SELECT count(DISTINCT dedup_key) FROM notification_outbox WHERE action = 'trigger'"));
	cr_assert_eq(q(c, "SELECT count(DISTINCT collector_id) FROM evaluation_runs"), 1,
		     "more than one evaluator");
	char *leader_id = NULL;
	{
		PGresult *r = PQexec(c, "SELECT collector_id FROM evaluation_runs LIMIT 1");
		cr_assert(PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1);
		leader_id = strdup(PQgetvalue(r, 0, 0));
		PQclear(r);
	}
	int li = -1;
	for (int i = 0; i < N; i++)
		if (!strcmp(cs[i].id, leader_id))
			li = i;
	cr_assert(li >= 0, "unknown leader %s", leader_id);
	cr_assert(tw_file_count(cs[li].log, "acquired the evaluator lock") == 1);
	for (int i = 0; i < N; i++)
		if (i != li)
			cr_assert_eq(tw_file_count(cs[i].log, "acquired the evaluator lock"), 0);

	/* kill the leader: its session ends, another collector takes over */
	long long last = q(c, "SELECT max(id) FROM evaluation_runs");
	double t_kill = tw_now_ms();
	tw_stop(cs[li].pid, SIGKILL, 5000);
	cs[li].pid = -1;
	const char *sql = tw_fmt("SELECT count(*) FROM evaluation_runs WHERE id > %lld AND "
				 "collector_id <> '%s'", last, leader_id);
	if (wait_for(c, sql, 1, 10000) < 1) {
		dump_logs(cs);
		cr_assert_fail("no other collector took over within 10 s");
	}
	double took = tw_now_ms() - t_kill;
	cr_log_info("failover took %.0f ms", took);
	cr_assert(took < 5000, "failover took %.0f ms (interval 1 s)", took);
	/* the new leader keeps evaluating; nothing is notified twice */
	long long after = q(c, "SELECT max(id) FROM evaluation_runs");
	wait_for(c, tw_fmt("SELECT count(*) FROM evaluation_runs WHERE id > %lld", after), 3, 10000);
	cr_assert_eq(q(c, tw_fmt("SELECT count(DISTINCT collector_id) FROM evaluation_runs "
				 "WHERE id > %lld", last)), 1, "two evaluators after the failover");
	/* one collector_id at a time: ordered by id, it changes exactly once */
	cr_assert_eq(q(c, "SELECT count(*) FROM (SELECT collector_id, lag(collector_id) OVER "
			  "(ORDER BY id) AS prev FROM evaluation_runs) s WHERE prev <> collector_id"), 1);
	cr_assert_eq(q(c, triggers), 2);
	cr_assert_eq(q(c, "SELECT count(*) FROM notification_outbox WHERE action = 'trigger'"),
		     q(c, "SELECT count(DISTINCT dedup_key) FROM notification_outbox WHERE action = 'trigger'"));
	cr_assert_eq(q(c, "SELECT count(*) FROM alerts WHERE state = 'firing' AND rule LIKE 'slo_burn_%'"),
		     q(c, "SELECT count(DISTINCT dedup_key) FROM alerts WHERE rule LIKE 'slo_burn_%'"));

	/* the new leader loses its database session (the server ends it): it
	 * stops evaluating, the lock is free, one collector (either survivor)
	 * evaluates again, and still nothing is notified twice */
	long long before_term = q(c, "SELECT max(id) FROM evaluation_runs");
	cr_assert_eq(q(c, tw_fmt("SELECT count(pg_terminate_backend(pid)) FROM pg_locks WHERE "
				 "locktype = 'advisory' AND classid = %d AND objid = %d AND granted",
				 1953985907, 2)), 1);
	if (wait_for(c, tw_fmt("SELECT count(*) FROM evaluation_runs WHERE id > %lld", before_term),
		     3, 15000) < 3) {
		dump_logs(cs);
		cr_assert_fail("nobody evaluated after the leader's session was terminated");
	}
	int lost = 0;
	for (int i = 0; i < N; i++)
		if (cs[i].pid > 0)
			lost += tw_file_count(cs[i].log, "database session lost");
	cr_assert_eq(lost, 1, "the terminated leader did not notice");
	long long after_term = q(c, "SELECT max(id) FROM evaluation_runs");
	wait_for(c, tw_fmt("SELECT count(*) FROM evaluation_runs WHERE id > %lld", after_term), 3, 10000);
	cr_assert_eq(q(c, tw_fmt("SELECT count(DISTINCT collector_id) FROM evaluation_runs "
				 "WHERE id > %lld", after_term)), 1, "two evaluators after the reconnect");
	cr_assert_eq(q(c, triggers), 2);
	cr_assert_eq(q(c, "SELECT count(*) FROM notification_outbox WHERE action = 'trigger'"),
		     q(c, "SELECT count(DISTINCT dedup_key) FROM notification_outbox WHERE action = 'trigger'"));

	/* end to end: the pager received each page exactly once, signed, with
	 * one webhook-id per state change - whichever collector delivered it */
	wait_for(c, "SELECT count(*) FROM notification_deliveries WHERE state = 'delivered'", 2, 10000);
	cr_assert_eq(q(c, "SELECT count(*) FROM notification_deliveries WHERE state = 'delivered'"), 2);
	char *hook = tw_read_file(penv("TW_HOOK_LOG"));
	cr_assert(hook, "the webhook receiver logged nothing");
	int posts = 0, signed_ok = 0;
	char ids[8][128];
	for (char *line = hook, *nl; line && *line; line = nl) {
		nl = strchr(line, '\n');
		if (nl)
			*nl++ = '\0';
		json_error_t je;
		json_t *o = json_loads(line, 0, &je);
		if (!o)
			continue;
		json_t *hd = json_object_get(o, "headers");
		const char *id = json_string_value(json_object_get(hd, "webhook-id"));
		cr_assert(id, "a request without webhook-id");
		for (int k = 0; k < posts && k < 8; k++)
			cr_expect_str_neq(ids[k], id, "webhook-id %s delivered twice", id);
		if (posts < 8)
			snprintf(ids[posts], sizeof ids[0], "%s", id);
		posts++;
		signed_ok += json_is_true(json_object_get(o, "sig"));
		cr_expect(strstr(json_string_value(json_object_get(o, "body")), "slo_burn_") != NULL);
		json_decref(o);
	}
	free(hook);
	cr_expect_eq(posts, 2, "the pager got %d requests for 2 pages", posts);
	cr_expect_eq(signed_ok, posts, "unsigned or badly signed requests");

	/* the others stop cleanly (the evaluator thread is joined) */
	for (int i = 0; i < N; i++) {
		if (cs[i].pid <= 0)
			continue;
		int st = tw_stop(cs[i].pid, SIGTERM, 15000);
		cr_expect(WIFEXITED(st) && WEXITSTATUS(st) == 0, "%s exit status %d", cs[i].id, st);
	}
	for (int i = 0; i < N; i++) {
		cr_expect_eq(tw_file_count(cs[i].log, "Sanitizer"), 0, "%s: sanitizer report", cs[i].id);
		cr_expect_eq(tw_file_count(cs[i].log, "runtime error"), 0, "%s: UBSan report", cs[i].id);
		/* only the collector whose session was terminated may have seen an
		 * evaluation fail (the one in flight when it was cut) */
		if (tw_file_count(cs[i].log, "database session lost") == 0)
			cr_expect_eq(tw_file_count(cs[i].log, "evaluation failed"), 0,
				     "%s: evaluation failed", cs[i].id);
		else
			cr_expect_leq(tw_file_count(cs[i].log, "evaluation failed"), 1, "%s", cs[i].id);
	}
	free(leader_id);
	PQfinish(c);
}
