/*
 * test_notify.c - the notifier (collector/notify.h) against a real
 * PostgreSQL (tests/integration/test_notify.sh), real HTTP receivers
 * (tests/harness/webhook_receiver.py, started here with a scripted sequence
 * of answers; it records every request and verifies Standard Webhooks
 * signatures) and a real Alertmanager (/usr/bin/prometheus-alertmanager).
 *
 * Each test makes its own database, inserts alerts, alert_events and
 * notification_outbox rows by SQL as the evaluator would, runs notifiers on
 * event loops here, and checks the rows and what the receivers saw (their
 * own timestamps for the timing checks). Children are started with
 * PR_SET_PDEATHSIG and stopped by the suite's fini, so a failed test leaves
 * nothing running.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <curl/curl.h>
#include <event2/event.h>
#include <jansson.h>
#include <libpq-fe.h>

#include "db.h"
#include "log.h"
#include "notify.h"
#include "notify_config.h"
#include "proc.h"
#include "sql_migrations.h"
#include "twtime.h"

#define SECRET "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

/* ------------------------------------------------------------ children */

static pid_t g_kids[16];
static int g_nkids;

static pid_t spawn(char *const argv[], const char *logpath)
{
	int fd = open(logpath, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	cr_assert_geq(fd, 0, "%s: %s", logpath, strerror(errno));
	pid_t parent = getpid();
	pid_t pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGTERM);
		if (getppid() != parent)
			_exit(1);
		int nul = open("/dev/null", O_RDONLY);
		if (nul >= 0)
			dup2(nul, 0);
		dup2(fd, 1);
		dup2(fd, 2);
		execv(argv[0], argv);
		_exit(127);
	}
	close(fd);
	if (g_nkids < 16)
		g_kids[g_nkids++] = pid;
	return pid;
}

static void stop(pid_t pid)
{
	if (pid <= 0)
		return;
	tw_stop(pid, SIGTERM, 5000);
	for (int i = 0; i < g_nkids; i++)
		if (g_kids[i] == pid)
			g_kids[i] = 0;
}

static void stop_all(void)
{
	for (int i = 0; i < g_nkids; i++)
		if (g_kids[i] > 0)
			tw_stop(g_kids[i], SIGTERM, 5000);
	g_nkids = 0;
}

TestSuite(notify, .timeout = 180, .fini = stop_all);

/* ------------------------------------------------------------ helpers */

static const char *env(const char *name)
{
	const char *v = getenv(name);
	cr_assert(v && *v, "%s is not set (run through tests/integration/test_notify.sh)", name);
	return v;
}

static int port(const char *name)
{
	return (int)strtol(env(name), NULL, 10);
}

static const char *work(const char *file)
{
	return tw_fmt("%s/%s", env("TW_WORK"), file);
}

static PGconn *pg(const char *conninfo)
{
	PGconn *c = PQconnectdb(conninfo);
	cr_assert(PQstatus(c) == CONNECTION_OK, "connect: %s", PQerrorMessage(c));
	return c;
}

static void exec_ok(PGconn *c, const char *sql)
{
	PGresult *r = PQexec(c, sql);
	ExecStatusType st = PQresultStatus(r);
	cr_assert(st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK, "%s: %s", sql,
		  PQresultErrorMessage(r));
	PQclear(r);
}

__attribute__((format(printf, 2, 3)))
static long long q_int(PGconn *c, const char *fmt, ...)
{
	char sql[8192];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(sql, sizeof sql, fmt, ap);
	va_end(ap);
	PGresult *r = PQexec(c, sql);
	cr_assert(PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1, "%s: %s", sql,
		  PQresultErrorMessage(r));
	long long v = PQgetisnull(r, 0, 0) ? -1 : strtoll(PQgetvalue(r, 0, 0), NULL, 10);
	PQclear(r);
	return v;
}

/* A fresh migrated database; returns its conninfo (malloc'd). */
static char *new_db(const char *name)
{
	PGconn *c = pg(env("TW_PG_CONNINFO"));
	exec_ok(c, "SET client_min_messages = warning");
	exec_ok(c, tw_fmt("DROP DATABASE IF EXISTS %s", name));
	exec_ok(c, tw_fmt("CREATE DATABASE %s", name));
	PQfinish(c);
	char *ci = NULL;
	cr_assert(asprintf(&ci, "%s dbname=%s", env("TW_PG_CONNINFO"), name) > 0);
	char err[512] = "";
	int n = db_migrate(ci, err, sizeof err);
	cr_assert_eq(n, (int)sql_migrations_count, "migrate: %d (%s)", n, err);
	return ci;
}

/* As the evaluator does: a firing alert, its event and a trigger outbox row,
 * in one transaction. Returns the outbox id; *alert_id gets the alert. */
static long long fire(PGconn *c, const char *key, const char *rule, const char *severity,
		      long long *alert_id)
{
	exec_ok(c, "BEGIN");
	long long aid = q_int(c,
		"INSERT INTO alerts (dedup_key, rule, severity, state, subject, service, region_group, "
		"labels, summary, details, value, created_at, pending_since, firing_since, last_eval_at, "
		"notified_state) VALUES ('%s', '%s', '%s', 'firing', 'checkout-availability', 'checkout', "
		"'eu', '{\"team\": \"sre\", \"env\": \"test\"}', 'checkout burning error budget 16x', "
		"'{\"burn_1h\": 16.2}', 16.2, now(), now(), now(), now(), 'firing') RETURNING id",
		key, rule, severity);
	long long eid = q_int(c, "INSERT INTO alert_events (alert_id, at, from_state, to_state) "
			      "VALUES (%lld, now(), 'pending', 'firing') RETURNING id", aid);
	long long oid = q_int(c,
		"INSERT INTO notification_outbox (alert_id, event_id, action, severity, dedup_key, payload) "
		"SELECT a.id, %lld, 'trigger', a.severity, a.dedup_key, jsonb_build_object("
		"'rule', a.rule, 'severity', a.severity, 'state', a.state, 'summary', a.summary, "
		"'subject', a.subject, 'service', a.service, 'region_group', a.region_group, "
		"'labels', a.labels, 'annotations', jsonb_build_object('runbook', 'https://runbooks.example/slo'), "
		"'details', a.details, 'starts_at', to_json(a.firing_since), 'ends_at', NULL, "
		"'generator_url', 'http://tlswatch.example/alerts/' || a.id, 'dedup_key', a.dedup_key) "
		"FROM alerts a WHERE a.id = %lld RETURNING id", eid, aid);
	exec_ok(c, "COMMIT");
	if (alert_id)
		*alert_id = aid;
	return oid;
}

static long long resolve(PGconn *c, long long aid)
{
	exec_ok(c, "BEGIN");
	exec_ok(c, tw_fmt("UPDATE alerts SET state = 'resolved', resolved_at = now(), "
			  "notified_state = 'resolved' WHERE id = %lld", aid));
	long long eid = q_int(c, "INSERT INTO alert_events (alert_id, at, from_state, to_state) "
			      "VALUES (%lld, now(), 'firing', 'resolved') RETURNING id", aid);
	long long oid = q_int(c,
		"INSERT INTO notification_outbox (alert_id, event_id, action, severity, dedup_key, payload) "
		"SELECT a.id, %lld, 'resolve', a.severity, a.dedup_key, jsonb_build_object("
		"'rule', a.rule, 'severity', a.severity, 'state', a.state, 'summary', a.summary, "
		"'subject', a.subject, 'service', a.service, 'region_group', a.region_group, "
		"'labels', a.labels, 'details', a.details, 'starts_at', to_json(a.firing_since), "
		"'ends_at', to_json(a.resolved_at), 'dedup_key', a.dedup_key) "
		"FROM alerts a WHERE a.id = %lld RETURNING id", eid, aid);
	exec_ok(c, "COMMIT");
	return oid;
}

struct recv {
	pid_t pid;
	int port;
	char log[256];
};

/* Starts a receiver; script as webhook_receiver.py --script. */
static void recv_start(struct recv *r, const char *port_env, const char *name, const char *script,
		       const char *extra1, const char *extra2)
{
	r->port = port(port_env);
	snprintf(r->log, sizeof r->log, "%s", work(tw_fmt("%s.jsonl", name)));
	unlink(r->log);
	char portbuf[16];
	snprintf(portbuf, sizeof portbuf, "%d", r->port);
	char *argv[16] = { (char *)"/usr/bin/python3", (char *)env("TW_RECEIVER"), (char *)"--port",
			   portbuf, (char *)"--log", r->log, (char *)"--script", (char *)script,
			   (char *)"--secret", (char *)SECRET };
	int i = 10;
	if (extra1)
		argv[i++] = (char *)extra1;
	if (extra2)
		argv[i++] = (char *)extra2;
	argv[i] = NULL;
	r->pid = spawn(argv, work(tw_fmt("%s.stderr", name)));
	cr_assert(tw_wait_port(r->port, 10000), "receiver %s did not listen on %d", name, r->port);
}

static void recv_stop(struct recv *r)
{
	stop(r->pid);
	r->pid = 0;
}

/* The requests the receiver recorded, as a JSON array. */
static json_t *recv_requests(const struct recv *r)
{
	json_t *arr = json_array();
	FILE *f = fopen(r->log, "r");
	if (!f)
		return arr;
	char *line = NULL;
	size_t cap = 0;
	while (getline(&line, &cap, f) > 0) {
		json_t *j = json_loads(line, 0, NULL);
		cr_assert_not_null(j, "bad receiver log line: %s", line);
		json_array_append_new(arr, j);
	}
	free(line);
	fclose(f);
	return arr;
}

static const char *req_header(json_t *req, const char *name)
{
	return json_string_value(json_object_get(json_object_get(req, "headers"), name));
}

static double req_t(json_t *req)
{
	return json_number_value(json_object_get(req, "t"));
}

/* notify.yaml into the work dir; returns a loaded config. */
static struct notify_config *config(const char *name, const char *text)
{
	const char *path = work(tw_fmt("%s.yaml", name));
	cr_assert_eq(tw_write_file(path, text), 0);
	char err[1024] = "";
	struct notify_config *c = notify_config_load(path, err, sizeof err);
	cr_assert_not_null(c, "%s", err);
	return c;
}

static struct notifier *start(struct event_base *b, const char *ci, struct notify_config *cfg)
{
	char err[512] = "";
	struct notifier *n = notify_new_config(b, ci, cfg, err, sizeof err);
	cr_assert_not_null(n, "notify_new: %s", err);
	return n;
}

/* Runs the loop until cond(arg) or the deadline; cond may query the DB. */
static bool run_until(struct event_base *b, bool (*cond)(void *), void *arg, double secs)
{
	double end = twtime_mono_ms() + secs * 1000;
	while (!cond(arg)) {
		if (twtime_mono_ms() > end)
			return false;
		struct timeval tv = { 0, 20000 };
		event_base_loopexit(b, &tv);
		event_base_dispatch(b);
	}
	return true;
}

static bool never(void *arg)
{
	(void)arg;
	return false;
}

static void run_for(struct event_base *b, double secs)
{
	run_until(b, never, NULL, secs);
}

struct settled {
	PGconn *c;
	long long want;
};

/* Every delivery is no longer pending, and there are `want` of them. */
static bool deliveries_settled(void *arg)
{
	struct settled *s = arg;
	return q_int(s->c, "SELECT count(*) FROM notification_deliveries WHERE state <> 'pending'") ==
	       s->want;
}

static void settle(struct event_base *b, PGconn *c, long long want, double secs)
{
	struct settled s = { c, want };
	cr_assert(run_until(b, deliveries_settled, &s, secs),
		  "deliveries not settled in %.0f s: %lld of %lld", secs,
		  q_int(c, "SELECT count(*) FROM notification_deliveries WHERE state <> 'pending'"), want);
}

static const char *hook_yaml(int p, const char *retry)
{
	return tw_fmt("sinks:\n"
		      "  - name: hook\n"
		      "    type: webhook\n"
		      "    url: http://127.0.0.1:%d/hooks/tlswatch\n"
		      "    secret: " SECRET "\n"
		      "    timeout: 2s\n"
		      "retry: %s\n"
		      "delivery: {poll_interval: 50ms, lease: 10s}\n", p, retry);
}

/* ------------------------------------------------------------ retries */

Test(notify, server_errors_retried_then_delivered_once_with_one_id)
{
	char *ci = new_db("notify_retry");
	PGconn *c = pg(ci);
	struct recv r;
	recv_start(&r, "TW_PORT_R1", "retry", "500,500,202", NULL, NULL);
	struct event_base *b = event_base_new();
	struct notifier *n = start(b, ci, config("retry",
		hook_yaml(r.port, "{initial: 200ms, max: 5s, jitter: 0}")));
	long long oid = fire(c, "slo_burn_fast/checkout/eu", "slo_burn_fast", "page", NULL);

	settle(b, c, 1, 20);
	run_for(b, 0.5); /* nothing more may happen */
	cr_assert_eq(q_int(c, "SELECT count(*) FROM notification_deliveries"), 1);
	cr_assert_eq(q_int(c, "SELECT count(*) FROM notification_deliveries WHERE state = 'delivered' "
			   "AND attempts = 3 AND last_status = 202 AND delivered_at IS NOT NULL "
			   "AND locked_until IS NULL AND idempotency_key = 'tw-%lld-hook'", oid), 1);
	cr_assert_eq(q_int(c, "SELECT count(*) FROM notification_attempts"), 3);
	cr_assert_eq(q_int(c, "SELECT count(*) FROM notification_attempts WHERE http_status = 500 "
			   "AND error LIKE 'HTTP 500%%'"), 2);
	cr_assert_eq(q_int(c, "SELECT count(*) FROM notification_attempts WHERE http_status = 202 "
			   "AND error IS NULL AND duration_ms >= 0"), 1);
	cr_assert_eq(q_int(c, "SELECT count(*) FROM notification_outbox WHERE routed_at IS NOT NULL"), 1);

	json_t *reqs = recv_requests(&r);
	cr_assert_eq(json_array_size(reqs), 3u);
	const char *id0 = req_header(json_array_get(reqs, 0), "webhook-id");
	cr_assert_str_eq(id0, tw_fmt("tw-%lld-hook", oid));
	for (size_t i = 0; i < 3; i++) {
		json_t *q = json_array_get(reqs, i);
		cr_assert_str_eq(req_header(q, "webhook-id"), id0, "request %zu", i);
		cr_assert(json_is_true(json_object_get(q, "sig")), "request %zu: bad signature", i);
		cr_assert_str_eq(json_string_value(json_object_get(q, "path")), "/hooks/tlswatch");
	}
	/* exponential backoff, measured by the receiver: >= 200 ms, then >= 400 ms */
	double g1 = req_t(json_array_get(reqs, 1)) - req_t(json_array_get(reqs, 0));
	double g2 = req_t(json_array_get(reqs, 2)) - req_t(json_array_get(reqs, 1));
	cr_assert(g1 >= 0.19 && g1 < 3, "first retry after %.3f s", g1);
	cr_assert(g2 >= 0.39 && g2 < 3, "second retry after %.3f s", g2);
	/* the body is the outbox payload, as a Standard Webhooks event */
	json_t *body = json_loads(json_string_value(json_object_get(json_array_get(reqs, 0), "body")),
				  0, NULL);
	cr_assert_str_eq(json_string_value(json_object_get(body, "type")), "alert.trigger");
	cr_assert_str_eq(json_string_value(json_object_get(json_object_get(body, "data"), "rule")),
			 "slo_burn_fast");
	json_decref(body);
	json_decref(reqs);

	struct notifier_stats st;
	notify_get_stats(n, &st);
	cr_assert_eq(st.delivered, 1u);
	cr_assert_eq(st.retries, 2u);
	cr_assert_eq(st.failed, 0u);
	cr_assert_eq(st.attempts, 3u);
	cr_assert_eq(st.routed, 1u);
	cr_assert(st.db_up);
	notify_free(n);
	event_base_free(b);
	recv_stop(&r);
	PQfinish(c);
	free(ci);
}

Test(notify, retry_after_is_honoured)
{
	char *ci = new_db("notify_ra");
	PGconn *c = pg(ci);
	struct recv r;
	/* seconds form first, then an HTTP-date 3 s ahead (second resolution) */
	recv_start(&r, "TW_PORT_R2", "ra", "429:2,503:date:3,200", NULL, NULL);
	struct event_base *b = event_base_new();
	struct notifier *n = start(b, ci, config("ra",
		hook_yaml(r.port, "{initial: 100ms, max: 1s, jitter: 0}")));
	fire(c, "k-ra", "cert_expiry_24h", "page", NULL);
	settle(b, c, 1, 30);

	json_t *reqs = recv_requests(&r);
	cr_assert_eq(json_array_size(reqs), 3u);
	double g1 = req_t(json_array_get(reqs, 1)) - req_t(json_array_get(reqs, 0));
	double g2 = req_t(json_array_get(reqs, 2)) - req_t(json_array_get(reqs, 1));
	/* backoff alone would be 100 ms and 200 ms */
	cr_assert(g1 >= 1.99, "second attempt %.3f s after a 429 with Retry-After: 2", g1);
	cr_assert(g1 < 4, "second attempt only after %.3f s", g1);
	cr_assert(g2 >= 1.9, "third attempt %.3f s after a Retry-After date 3 s ahead", g2);
	json_decref(reqs);
	cr_assert_eq(q_int(c, "SELECT count(*) FROM notification_attempts WHERE http_status = 429 "
			   "AND retry_after_ms = 2000"), 1);
	cr_assert_eq(q_int(c, "SELECT count(*) FROM notification_attempts WHERE http_status = 503 "
			   "AND retry_after_ms BETWEEN 1000 AND 3000"), 1);
	cr_assert_eq(q_int(c, "SELECT count(*) FROM notification_deliveries WHERE state = 'delivered' "
			   "AND attempts = 3"), 1);
	notify_free(n);
	event_base_free(b);
	recv_stop(&r);
	PQfinish(c);
	free(ci);
}

Test(notify, client_errors_fail_without_retry)
{
	char *ci = new_db("notify_400");
	PGconn *c = pg(ci);
	struct recv r;
	recv_start(&r, "TW_PORT_R3", "bad", "400,200", NULL, NULL);
	struct event_base *b = event_base_new();
	struct notifier *n = start(b, ci, config("bad",
		hook_yaml(r.port, "{initial: 100ms, max: 200ms, jitter: 0}")));
	fire(c, "k-400", "sni_mismatch", "ticket", NULL);
	settle(b, c, 1, 20);
	run_for(b, 1.0); /* several backoff periods: still nothing */
	cr_assert_eq(q_int(c, "SELECT count(*) FROM notification_deliveries WHERE state = 'failed' "
			   "AND attempts = 1 AND last_status = 400 AND last_error LIKE 'HTTP 400%%'"), 1);
	cr_assert_eq(q_int(c, "SELECT count(*) FROM notification_attempts"), 1);
	json_t *reqs = recv_requests(&r);
	cr_assert_eq(json_array_size(reqs), 1u);
	json_decref(reqs);
	struct notifier_stats st;
	notify_get_stats(n, &st);
	cr_assert_eq(st.failed, 1u);
	cr_assert_eq(st.retries, 0u);
	notify_free(n);
	event_base_free(b);
	recv_stop(&r);
	PQfinish(c);
	free(ci);
}

Test(notify, receiver_down_retried_with_backoff_until_it_returns)
{
	char *ci = new_db("notify_down");
	PGconn *c = pg(ci);
	struct event_base *b = event_base_new();
	int p = port("TW_PORT_R4");
	struct notifier *n = start(b, ci, config("down",
		hook_yaml(p, "{initial: 100ms, max: 400ms, jitter: 0}")));
	fire(c, "k-down", "probe_silent", "ticket", NULL);
	run_for(b, 1.6);
	/* connection refused: attempts at ~0, 0.1, 0.3, 0.7, 1.1, 1.5 s */
	long long tries = q_int(c, "SELECT count(*) FROM notification_attempts WHERE "
				"http_status IS NULL AND error IS NOT NULL");
	cr_assert(tries >= 3 && tries <= 7, "%lld attempts while down", tries);
	cr_assert_eq(q_int(c, "SELECT count(*) FROM notification_deliveries WHERE state = 'pending'"), 1);
	/* the gaps grow (database clock): the last gap is the cap, the first the initial */
	cr_assert_eq(q_int(c, "WITH g AS (SELECT at - lag(at) OVER (ORDER BY at) AS d FROM "
			   "notification_attempts) SELECT count(*) FROM g WHERE d < interval '90 ms'"), 0);
	cr_assert_eq(q_int(c, "WITH g AS (SELECT at - lag(at) OVER (ORDER BY at) AS d FROM "
			   "notification_attempts) SELECT count(*) FROM g WHERE d > interval '390 ms'") >= 1,
		     1);
	struct recv r;
	recv_start(&r, "TW_PORT_R4", "down", "200", NULL, NULL);
	settle(b, c, 1, 10);
	cr_assert_eq(q_int(c, "SELECT count(*) FROM notification_deliveries WHERE state = 'delivered' "
			   "AND attempts = %lld + 1", q_int(c, "SELECT count(*) FROM notification_attempts "
							    "WHERE http_status IS NULL")), 1);
	json_t *reqs = recv_requests(&r);
	cr_assert_eq(json_array_size(reqs), 1u);
	json_decref(reqs);
	notify_free(n);
	event_base_free(b);
	recv_stop(&r);
	PQfinish(c);
	free(ci);
}

Test(notify, receiver_verifies_our_signature_and_rejects_a_wrong_key)
{
	char *ci = new_db("notify_sig");
	PGconn *c = pg(ci);
	struct recv r;
	recv_start(&r, "TW_PORT_R5", "sig", "200", "--reject-bad-sig", NULL);
	struct event_base *b = event_base_new();
	struct notifier *n = start(b, ci, config("sig", tw_fmt(
		"sinks:\n"
		"  - name: good\n"
		"    type: webhook\n"
		"    url: http://127.0.0.1:%d/good\n"
		"    secret: " SECRET "\n"
		"  - name: wrong-key\n"
		"    type: webhook\n"
		"    url: http://127.0.0.1:%d/wrong\n"
		"    secret: whsec_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\n"
		"delivery: {poll_interval: 50ms}\n", r.port, r.port)));
	long long oid = fire(c, "k-sig", "slo_burn_slow", "page", NULL);
	settle(b, c, 2, 20);
	cr_assert_eq(q_int(c, "SELECT count(*) FROM notification_deliveries WHERE sink = 'good' "
			   "AND state = 'delivered'"), 1);
	/* 401 from the receiver: not retried */
	cr_assert_eq(q_int(c, "SELECT count(*) FROM notification_deliveries WHERE sink = 'wrong-key' "
			   "AND state = 'failed' AND last_status = 401 AND attempts = 1"), 1);
	json_t *reqs = recv_requests(&r);
	cr_assert_eq(json_array_size(reqs), 2u);
	for (size_t i = 0; i < 2; i++) {
		json_t *q = json_array_get(reqs, i);
		bool good = strcmp(json_string_value(json_object_get(q, "path")), "/good") == 0;
		cr_assert_eq(json_is_true(json_object_get(q, "sig")), good);
		cr_assert_str_eq(req_header(q, "webhook-id"),
				 tw_fmt("tw-%lld-%s", oid, good ? "good" : "wrong-key"));
	}
	json_decref(reqs);
	notify_free(n);
	event_base_free(b);
	recv_stop(&r);
	PQfinish(c);
	free(ci);
}

/* ------------------------------------------------------------ several collectors */

struct runner {
	pthread_t th;
	const char *ci;
	struct notify_config *cfg;
	atomic_bool stop;
	struct notifier_stats st;
	char err[256];
};

static void *runner_main(void *arg)
{
	struct runner *ru = arg;
	struct event_base *b = event_base_new();
	struct notifier *n = notify_new_config(b, ru->ci, ru->cfg, ru->err, sizeof ru->err);
	if (n) {
		while (!atomic_load(&ru->stop)) {
			struct timeval tv = { 0, 20000 };
			event_base_loopexit(b, &tv);
			event_base_dispatch(b);
		}
		notify_get_stats(n, &ru->st);
		notify_free(n);
	}
	event_base_free(b);
	return NULL;
}

Test(notify, two_notifiers_deliver_each_row_exactly_once)
{
	char *ci = new_db("notify_two");
	PGconn *c = pg(ci);
	struct recv r;
	/* a slow receiver (40 ms per request) so that both notifiers have work in flight */
	recv_start(&r, "TW_PORT_R6", "two", "200", "--delay-ms", "40");
	const char *y = tw_fmt("sinks:\n"
			       "  - name: hook\n"
			       "    type: webhook\n"
			       "    url: http://127.0.0.1:%d/two\n"
			       "    secret: " SECRET "\n"
			       "delivery: {poll_interval: 20ms, batch: 5, max_in_flight: 4}\n", r.port);
	struct runner a = { .ci = ci, .cfg = config("two_a", y) };
	struct runner b2 = { .ci = ci, .cfg = config("two_b", y) };
	atomic_init(&a.stop, false);
	atomic_init(&b2.stop, false);
	cr_assert_eq(pthread_create(&a.th, NULL, runner_main, &a), 0);
	cr_assert_eq(pthread_create(&b2.th, NULL, runner_main, &b2), 0);
	const int N = 60;
	for (int i = 0; i < N; i++)
		fire(c, tw_fmt("k-two-%d", i), "cert_expiry_7d", "ticket", NULL);
	double end = twtime_mono_ms() + 60000;
	while (q_int(c, "SELECT count(*) FROM notification_deliveries WHERE state = 'delivered'") < N &&
	       twtime_mono_ms() < end)
		tw_sleep_ms(50);
	tw_sleep_ms(300);
	atomic_store(&a.stop, true);
	atomic_store(&b2.stop, true);
	pthread_join(a.th, NULL);
	pthread_join(b2.th, NULL);
	cr_assert_str_empty(a.err);
	cr_assert_str_empty(b2.err);

	cr_assert_eq(q_int(c, "SELECT count(*) FROM notification_deliveries"), N);
	cr_assert_eq(q_int(c, "SELECT count(*) FROM notification_deliveries WHERE state = 'delivered' "
			   "AND attempts = 1"), N);
	cr_assert_eq(q_int(c, "SELECT count(*) FROM notification_attempts"), N);
	json_t *reqs = recv_requests(&r);
	cr_assert_eq(json_array_size(reqs), (size_t)N, "%zu requests for %d rows",
		     json_array_size(reqs), N);
	for (size_t i = 0; i < json_array_size(reqs); i++)
		for (size_t j = i + 1; j < json_array_size(reqs); j++)
			cr_assert_str_neq(req_header(json_array_get(reqs, i), "webhook-id"),
					  req_header(json_array_get(reqs, j), "webhook-id"));
	json_decref(reqs);
	cr_assert_eq(a.st.delivered + b2.st.delivered, (uint64_t)N);
	cr_assert_eq(a.st.routed + b2.st.routed, (uint64_t)N);
	cr_log_info("notifier A delivered %llu, B %llu", (unsigned long long)a.st.delivered,
		    (unsigned long long)b2.st.delivered);
	recv_stop(&r);
	PQfinish(c);
	free(ci);
}

/* ------------------------------------------------------------ secrets, sink payloads */

Test(notify, secrets_never_appear_in_the_log)
{
	char *ci = new_db("notify_secrets");
	PGconn *c = pg(ci);
	struct recv r;
	/* every sink first gets a 500 (retry logs), then 200 */
	recv_start(&r, "TW_PORT_R1", "secrets", "500,500,500,200", NULL, NULL);
	setenv("TW_TEST_PD_KEY", "PDROUTINGKEYSECRET0123", 1);
	const char *y = tw_fmt(
		"sinks:\n"
		"  - name: pd\n"
		"    type: pagerduty\n"
		"    url: http://127.0.0.1:%d/v2/enqueue\n"
		"    routing_key_env: TW_TEST_PD_KEY\n"
		"  - name: slack\n"
		"    type: slack\n"
		"    url: http://127.0.0.1:%d/services/T000/B000/SLACKSECRETPATH\n"
		"  - name: hook\n"
		"    type: webhook\n"
		"    url: http://127.0.0.1:%d/hook\n"
		"    secret: " SECRET "\n"
		"    headers: {Authorization: Bearer HEADERSECRETTOKEN}\n"
		"retry: {initial: 100ms, jitter: 0}\n"
		"delivery: {poll_interval: 50ms}\n", r.port, r.port, r.port);

	/* everything the notifier logs, at debug level, into a file */
	const char *logpath = work("secrets.log");
	fflush(stderr);
	int saved = dup(2);
	int fd = open(logpath, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	cr_assert_geq(fd, 0);
	dup2(fd, 2);
	close(fd);
	log_init("test_notify", TWLOG_DEBUG, false);

	struct event_base *b = event_base_new();
	struct notifier *n = start(b, ci, config("secrets", y));
	long long oid = fire(c, "k-secrets", "mtls_mass_failure", "page", NULL);
	settle(b, c, 3, 20);
	/* a config error about a secret does not show it either */
	char err[512];
	setenv("TW_TEST_BAD_SECRET", "whsec_NOTBASE64SECRET!!!", 1);
	const char *bad = work("bad.yaml");
	tw_write_file(bad, "sinks:\n  - name: h\n    type: webhook\n    url: http://127.0.0.1:1/\n"
		      "    secret_env: TW_TEST_BAD_SECRET\n");
	cr_assert_null(notify_new(b, ci, bad, err, sizeof err));
	log_error("config error: %s", err);
	notify_free(n);
	event_base_free(b);

	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	log_init("test_notify", TWLOG_WARN, false);

	char *log = tw_read_file(logpath);
	cr_assert_not_null(log);
	static const char *const secrets[] = { "PDROUTINGKEYSECRET0123", "SLACKSECRETPATH",
		"/services/T000", "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "HEADERSECRETTOKEN",
		"NOTBASE64SECRET", "Bearer" };
	for (size_t i = 0; i < sizeof secrets / sizeof *secrets; i++)
		cr_assert_null(strstr(log, secrets[i]), "the log shows \"%s\":\n%s", secrets[i], log);
	/* it does say what happened, by sink name and host */
	const char *host = tw_fmt("host 127.0.0.1:%d", r.port);
	cr_assert(strstr(log, host) && strstr(log, "sink slack") && strstr(log, "sink pd") &&
		  strstr(log, "sink hook") && strstr(log, "HTTP 500") && strstr(log, "delivered"),
		  "%s", log);
	free(log);

	/* and the secrets did go where they belong */
	json_t *reqs = recv_requests(&r);
	cr_assert_eq(json_array_size(reqs), 6u); /* 3 x 500 then 3 x 200, in some order */
	bool pd = false, slack = false, hook = false;
	for (size_t i = 0; i < json_array_size(reqs); i++) {
		json_t *q = json_array_get(reqs, i);
		const char *path = json_string_value(json_object_get(q, "path"));
		json_t *body = json_loads(json_string_value(json_object_get(q, "body")), 0, NULL);
		cr_assert_not_null(body);
		if (strcmp(path, "/v2/enqueue") == 0) {
			pd = true;
			cr_assert_str_eq(json_string_value(json_object_get(body, "routing_key")),
					 "PDROUTINGKEYSECRET0123");
			cr_assert_str_eq(json_string_value(json_object_get(body, "event_action")), "trigger");
			cr_assert_str_eq(json_string_value(json_object_get(body, "dedup_key")), "k-secrets");
			json_t *pl = json_object_get(body, "payload");
			cr_assert_str_eq(json_string_value(json_object_get(pl, "severity")), "critical");
			cr_assert_str_eq(json_string_value(json_object_get(pl, "source")),
					 "checkout-availability");
			cr_assert_not_null(json_object_get(json_object_get(pl, "custom_details"), "details"));
		} else if (strstr(path, "SLACKSECRETPATH")) {
			slack = true;
			cr_assert(strstr(json_string_value(json_object_get(body, "text")), "[FIRING]"));
		} else {
			hook = true;
			cr_assert_str_eq(req_header(q, "authorization"), "Bearer HEADERSECRETTOKEN");
			cr_assert_str_eq(req_header(q, "webhook-id"), tw_fmt("tw-%lld-hook", oid));
			cr_assert(json_is_true(json_object_get(q, "sig")));
		}
		json_decref(body);
	}
	cr_assert(pd && slack && hook);
	json_decref(reqs);
	recv_stop(&r);
	PQfinish(c);
	free(ci);
}

Test(notify, unrouted_alerts_are_marked_and_sent_nowhere)
{
	char *ci = new_db("notify_route");
	PGconn *c = pg(ci);
	struct recv r;
	recv_start(&r, "TW_PORT_R2", "route", "200", NULL, NULL);
	struct event_base *b = event_base_new();
	struct notifier *n = start(b, ci, config("route", tw_fmt(
		"sinks:\n"
		"  - name: pages\n"
		"    type: webhook\n"
		"    url: http://127.0.0.1:%d/pages\n"
		"    secret: " SECRET "\n"
		"  - name: sre\n"
		"    type: webhook\n"
		"    url: http://127.0.0.1:%d/sre\n"
		"    secret: " SECRET "\n"
		"routes:\n"
		"  - match: {severity: page}\n"
		"    sinks: pages\n"
		"    continue: true\n"
		"  - match: {labels: {team: sre}, region: eu}\n"
		"    sinks: [sre, pages]\n"
		"  - match: {rule: never}\n"
		"    sinks: sre\n"
		"delivery: {poll_interval: 50ms}\n", r.port, r.port)));
	long long page = fire(c, "k-page", "slo_burn_fast", "page", NULL);
	/* a ticket for team sre in eu: sre + pages; one with another team: nowhere */
	long long ticket = fire(c, "k-ticket", "cert_expiry_30d", "ticket", NULL);
	long long other_aid;
	long long other = fire(c, "k-other", "cert_expiry_30d", "ticket", &other_aid);
	exec_ok(c, tw_fmt("UPDATE notification_outbox SET payload = jsonb_set(payload, '{labels}', "
			  "'{\"team\": \"web\"}') WHERE id = %lld", other));
	settle(b, c, 4, 20);
	run_for(b, 0.3);
	cr_assert_eq(q_int(c, "SELECT count(*) FROM notification_outbox WHERE routed_at IS NULL"), 0);
	cr_assert_eq(q_int(c, "SELECT count(*) FROM notification_deliveries WHERE outbox_id = %lld", page), 2);
	cr_assert_eq(q_int(c, "SELECT count(*) FROM notification_deliveries WHERE outbox_id = %lld", ticket), 2);
	cr_assert_eq(q_int(c, "SELECT count(*) FROM notification_deliveries WHERE outbox_id = %lld", other), 0);
	json_t *reqs = recv_requests(&r);
	cr_assert_eq(json_array_size(reqs), 4u);
	json_decref(reqs);
	notify_free(n);
	event_base_free(b);
	recv_stop(&r);
	PQfinish(c);
	free(ci);
}

/* ------------------------------------------------------------ real Alertmanager */

struct mem {
	char *p;
	size_t n;
};

static size_t mem_cb(char *d, size_t s, size_t k, void *arg)
{
	struct mem *m = arg;
	char *np = realloc(m->p, m->n + s * k + 1);
	cr_assert_not_null(np);
	memcpy(np + m->n, d, s * k);
	m->p = np;
	m->n += s * k;
	m->p[m->n] = '\0';
	return s * k;
}

/* GET url; returns the body (malloc'd) and *status. */
static char *http_get(const char *url, long *status)
{
	struct mem m = { NULL, 0 };
	CURL *e = curl_easy_init();
	cr_assert_not_null(e);
	curl_easy_setopt(e, CURLOPT_URL, url);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, mem_cb);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, &m);
	curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, 5000L);
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	*status = 0;
	if (curl_easy_perform(e) == CURLE_OK)
		curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, status);
	curl_easy_cleanup(e);
	return m.p ? m.p : strdup("");
}

/* Alertmanager's alert with our dedup_key label, or NULL (new reference). */
static json_t *am_alert(int p, const char *dedup_key)
{
	long st;
	char *body = http_get(tw_fmt("http://127.0.0.1:%d/api/v2/alerts", p), &st);
	cr_assert_eq(st, 200, "GET /api/v2/alerts: %ld %s", st, body);
	json_t *arr = json_loads(body, 0, NULL);
	free(body);
	cr_assert(json_is_array(arr));
	json_t *found = NULL;
	for (size_t i = 0; i < json_array_size(arr); i++) {
		json_t *a = json_array_get(arr, i);
		const char *k = json_string_value(json_object_get(json_object_get(a, "labels"),
								   "dedup_key"));
		if (k && strcmp(k, dedup_key) == 0)
			found = json_incref(a);
	}
	json_decref(arr);
	return found;
}

struct am_wait {
	int port;
	const char *key;
	bool want_active;
};

static bool am_state(void *arg)
{
	struct am_wait *w = arg;
	json_t *a = am_alert(w->port, w->key);
	bool ok;
	if (w->want_active)
		ok = a && strcmp(json_string_value(json_object_get(json_object_get(a, "status"),
								     "state")) ?: "", "active") == 0;
	else
		ok = a == NULL;
	json_decref(a);
	return ok;
}

Test(notify, real_alertmanager_lists_our_alert_and_ends_it_on_resolve)
{
	const char *bin = "/usr/bin/prometheus-alertmanager";
	cr_assert(access(bin, X_OK) == 0, "%s is missing: apt-get install prometheus-alertmanager "
		  "(scripts/deps.sh)", bin);
	int p = port("TW_PORT_AM");
	const char *cfgp = work("alertmanager.yml");
	cr_assert_eq(tw_write_file(cfgp, "route:\n  receiver: blackhole\n  group_wait: 1s\n"
				   "receivers:\n  - name: blackhole\n"), 0);
	const char *storage = work("am-data");
	mkdir(storage, 0700);
	char *argv[] = { (char *)bin, (char *)tw_fmt("--config.file=%s", cfgp),
			 (char *)tw_fmt("--storage.path=%s", storage),
			 (char *)tw_fmt("--web.listen-address=127.0.0.1:%d", p),
			 (char *)"--cluster.listen-address=", (char *)"--log.level=warn", NULL };
	pid_t am = spawn(argv, work("alertmanager.log"));
	cr_assert(tw_wait_port(p, 20000), "alertmanager did not listen on %d", p);
	long st = 0;
	double end = twtime_mono_ms() + 20000;
	while (twtime_mono_ms() < end) {
		free(http_get(tw_fmt("http://127.0.0.1:%d/-/ready", p), &st));
		if (st == 200)
			break;
		tw_sleep_ms(100);
	}
	cr_assert_eq(st, 200, "alertmanager not ready");

	char *ci = new_db("notify_am");
	PGconn *c = pg(ci);
	struct event_base *b = event_base_new();
	struct notifier *n = start(b, ci, config("am", tw_fmt(
		"sinks:\n"
		"  - name: am\n"
		"    type: alertmanager\n"
		"    url: http://127.0.0.1:%d/\n"
		"delivery: {poll_interval: 50ms}\n", p)));
	long long aid;
	fire(c, "slo_burn_fast/checkout-availability/eu", "slo_burn_fast", "page", &aid);
	settle(b, c, 1, 20);
	cr_assert_eq(q_int(c, "SELECT count(*) FROM notification_deliveries WHERE state = 'delivered' "
			   "AND last_status = 200"), 1);

	struct am_wait w = { p, "slo_burn_fast/checkout-availability/eu", true };
	cr_assert(run_until(b, am_state, &w, 10), "alert not active in Alertmanager");
	json_t *a = am_alert(p, w.key);
	json_t *l = json_object_get(a, "labels");
	cr_assert_str_eq(json_string_value(json_object_get(l, "alertname")), "slo_burn_fast");
	cr_assert_str_eq(json_string_value(json_object_get(l, "severity")), "page");
	cr_assert_str_eq(json_string_value(json_object_get(l, "service")), "checkout");
	cr_assert_str_eq(json_string_value(json_object_get(l, "region")), "eu");
	cr_assert_str_eq(json_string_value(json_object_get(l, "subject")), "checkout-availability");
	cr_assert_str_eq(json_string_value(json_object_get(l, "team")), "sre");
	cr_assert_str_eq(json_string_value(json_object_get(l, "env")), "test");
	cr_assert_str_eq(json_string_value(json_object_get(json_object_get(a, "annotations"),
							   "summary")),
			 "checkout burning error budget 16x");
	cr_assert_str_eq(json_string_value(json_object_get(a, "generatorURL")),
			 tw_fmt("http://tlswatch.example/alerts/%lld", aid));
	/* endsAt far ahead (hold, 90 days): Alertmanager will not resolve it by itself */
	const char *ends = json_string_value(json_object_get(a, "endsAt"));
	cr_assert_not_null(ends);
	cr_assert(q_int(c, "SELECT ('%s'::timestamptz > now() + interval '89 days')::int", ends) == 1,
		  "endsAt %s", ends);
	json_decref(a);

	resolve(c, aid);
	settle(b, c, 2, 20);
	w.want_active = false;
	cr_assert(run_until(b, am_state, &w, 10), "alert still listed by Alertmanager after resolve");
	/* Alertmanager's API lists only alerts whose endsAt is in the future: it ended */

	notify_free(n);
	event_base_free(b);
	stop(am);
	PQfinish(c);
	free(ci);
}

/* ------------------------------------------------------------ failures of our own */

struct inflight {
	struct notifier *n;
	unsigned want;
};

static bool in_flight_is(void *arg)
{
	struct inflight *f = arg;
	struct notifier_stats st;
	notify_get_stats(f->n, &st);
	return st.in_flight == f->want;
}

/* A collector that dies with a request in flight: its lease expires and
 * another one sends the delivery again, with the same idempotency key. */
Test(notify, lease_of_a_dead_notifier_expires_and_another_delivers)
{
	char *ci = new_db("notify_lease");
	PGconn *c = pg(ci);
	struct recv r;
	recv_start(&r, "TW_PORT_R3", "lease", "200", "--delay-ms", "1500");
	const char *y = tw_fmt("sinks:\n"
			       "  - name: hook\n"
			       "    type: webhook\n"
			       "    url: http://127.0.0.1:%d/lease\n"
			       "    secret: " SECRET "\n"
			       "    timeout: 1s\n"
			       "delivery: {poll_interval: 50ms, lease: 2s}\n", r.port);
	struct event_base *b1 = event_base_new();
	struct notifier *n1 = start(b1, ci, config("lease1", y));
	long long oid = fire(c, "k-lease", "clock_skew", "ticket", NULL);
	struct inflight f = { n1, 1 };
	cr_assert(run_until(b1, in_flight_is, &f, 10), "no request in flight");
	double t0 = twtime_mono_ms();
	notify_free(n1);  /* dies: nothing recorded, the lease stays */
	event_base_free(b1);
	cr_assert_eq(q_int(c, "SELECT count(*) FROM notification_deliveries WHERE state = 'pending' "
			   "AND locked_until > now() AND attempts = 0"), 1);

	struct event_base *b2 = event_base_new();
	struct notifier *n2 = start(b2, ci, config("lease2", y));
	/* the receiver answers in 1.5 s > timeout 1 s: n2's attempts time out too,
	 * so let it answer at once from now on */
	recv_stop(&r);
	recv_start(&r, "TW_PORT_R3", "lease-b", "200", NULL, NULL);
	settle(b2, c, 1, 20);
	double waited = (twtime_mono_ms() - t0) / 1000;
	cr_assert(waited >= 1.5, "delivered %.2f s after the first holder died: before its lease "
		  "(2 s from the claim) ran out", waited);
	cr_assert_eq(q_int(c, "SELECT count(*) FROM notification_deliveries WHERE state = 'delivered' "
			   "AND attempts = 1"), 1);
	json_t *reqs = recv_requests(&r);
	cr_assert_eq(json_array_size(reqs), 1u);
	cr_assert_str_eq(req_header(json_array_get(reqs, 0), "webhook-id"), tw_fmt("tw-%lld-hook", oid));
	json_decref(reqs);
	notify_free(n2);
	event_base_free(b2);
	recv_stop(&r);
	PQfinish(c);
	free(ci);
}

/* The database goes away while a request is in flight: the outcome is
 * recorded after the reconnect, once, and the delivery is not sent again. */
Test(notify, outcome_recorded_after_a_database_outage)
{
	char *ci = new_db("notify_outage");
	PGconn *c = pg(ci);
	struct recv r;
	recv_start(&r, "TW_PORT_R5", "outage", "202", "--delay-ms", "800");
	struct event_base *b = event_base_new();
	struct notifier *n = start(b, ci, config("outage", tw_fmt(
		"sinks:\n"
		"  - name: hook\n"
		"    type: webhook\n"
		"    url: http://127.0.0.1:%d/outage\n"
		"    secret: " SECRET "\n"
		"delivery: {poll_interval: 50ms}\n", r.port)));
	fire(c, "k-outage", "slo_burn_fast", "page", NULL);
	PQfinish(c);
	struct inflight f = { n, 1 };
	cr_assert(run_until(b, in_flight_is, &f, 10), "no request in flight");
	cr_assert_eq(system(env("TW_PG_STOP")), 0, "pg_ctl stop failed");
	f.want = 0;
	cr_assert(run_until(b, in_flight_is, &f, 10), "request did not finish");
	run_for(b, 1.0);  /* reconnect attempts fail meanwhile */
	struct notifier_stats st;
	notify_get_stats(n, &st);
	cr_assert(!st.db_up);
	cr_assert_eq(st.attempts, 0u);
	cr_assert_eq(system(env("TW_PG_START")), 0, "pg_ctl start failed");
	c = pg(ci);
	settle(b, c, 1, 30);
	run_for(b, 0.5);
	cr_assert_eq(q_int(c, "SELECT count(*) FROM notification_deliveries WHERE state = 'delivered' "
			   "AND attempts = 1 AND last_status = 202"), 1);
	cr_assert_eq(q_int(c, "SELECT count(*) FROM notification_attempts"), 1);
	json_t *reqs = recv_requests(&r);
	cr_assert_eq(json_array_size(reqs), 1u);
	json_decref(reqs);
	notify_get_stats(n, &st);
	cr_assert(st.db_up);
	cr_assert_eq(st.delivered, 1u);
	notify_free(n);
	event_base_free(b);
	recv_stop(&r);
	PQfinish(c);
	free(ci);
}
