/*
 * notify_env.h - helpers of the notifier's integration tests
 * (test_notify.c, test_notify_outbox.c): children started with
 * PR_SET_PDEATHSIG and stopped by the suite's fini (stop_all), the
 * fixture's environment, alerts and outbox rows written by SQL as the
 * evaluator would, scripted webhook receivers (tests/harness/
 * webhook_receiver.py) and what they recorded, notifiers on a local event
 * loop. Included by test files only; every helper is static inline.
 */
#ifndef TW_NOTIFY_ENV_H
#define TW_NOTIFY_ENV_H

#include <criterion/criterion.h>
#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <jansson.h>
#include <libpq-fe.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "pg_env.h"
#include "db.h"
#include "notify.h"
#include "notify_config.h"
#include "proc.h"
#include "sql_migrations.h"
#include "twtime.h"

#define SECRET "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


/* ------------------------------------------------------------ children */

static pid_t g_kids[16];
static int g_nkids;

static inline pid_t spawn(char *const argv[], const char *logpath)
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

static inline void stop(pid_t pid)
{
	if (pid <= 0)
		return;
	tw_stop(pid, SIGTERM, 5000);
	for (int i = 0; i < g_nkids; i++)
		if (g_kids[i] == pid)
			g_kids[i] = 0;
}

static inline void stop_all(void)
{
	for (int i = 0; i < g_nkids; i++)
		if (g_kids[i] > 0)
			tw_stop(g_kids[i], SIGTERM, 5000);
	g_nkids = 0;
}


/* ------------------------------------------------------------ helpers */

static inline const char *env(const char *name)
{
	const char *v = getenv(name);
	cr_assert(v && *v, "%s is not set (run through tests/integration/test_notify.sh)", name);
	return v;
}

static inline int port(const char *name)
{
	return (int)strtol(env(name), NULL, 10);
}

static inline const char *work(const char *file)
{
	return tw_fmt("%s/%s", env("TW_WORK"), file);
}

static inline PGconn *pg(const char *conninfo)
{
	PGconn *c = PQconnectdb(conninfo);
	cr_assert(PQstatus(c) == CONNECTION_OK, "connect: %s", PQerrorMessage(c));
	return c;
}

/* A fresh migrated database; returns its conninfo (malloc'd). */
static inline char *new_db(const char *name)
{
	PGconn *c = pg(env("TW_PG_CONNINFO"));
	exec_ok(c, "SET client_min_messages = warning");
	exec_ok(c, "%s", tw_fmt("DROP DATABASE IF EXISTS %s", name));
	exec_ok(c, "%s", tw_fmt("CREATE DATABASE %s", name));
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
static inline long long fire(PGconn *c, const char *key, const char *rule, const char *severity,
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

static inline long long resolve(PGconn *c, long long aid)
{
	exec_ok(c, "BEGIN");
	exec_ok(c, "%s", tw_fmt("UPDATE alerts SET state = 'resolved', resolved_at = now(), "
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
static inline void recv_start(struct recv *r, const char *port_env, const char *name, const char *script,
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

static inline void recv_stop(struct recv *r)
{
	stop(r->pid);
	r->pid = 0;
}

/* The requests the receiver recorded, as a JSON array. */
static inline json_t *recv_requests(const struct recv *r)
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

static inline const char *req_header(json_t *req, const char *name)
{
	return json_string_value(json_object_get(json_object_get(req, "headers"), name));
}

static inline double req_t(json_t *req)
{
	return json_number_value(json_object_get(req, "t"));
}

/* notify.yaml into the work dir; returns a loaded config. */
static inline struct notify_config *config(const char *name, const char *text)
{
	const char *path = work(tw_fmt("%s.yaml", name));
	cr_assert_eq(tw_write_file(path, text), 0);
	char err[1024] = "";
	struct notify_config *c = notify_config_load(path, err, sizeof err);
	cr_assert_not_null(c, "%s", err);
	return c;
}

static inline struct notifier *start(struct event_base *b, const char *ci, struct notify_config *cfg)
{
	char err[512] = "";
	struct notifier *n = notify_new_config(b, ci, cfg, err, sizeof err);
	cr_assert_not_null(n, "notify_new: %s", err);
	return n;
}

struct settled {
	PGconn *c;
	long long want;
};

/* Every delivery is no longer pending, and there are `want` of them. */
static inline bool deliveries_settled(void *arg)
{
	struct settled *s = arg;
	return q_int(s->c, "SELECT count(*) FROM notification_deliveries WHERE state <> 'pending'") ==
	       s->want;
}

static inline void settle(struct event_base *b, PGconn *c, long long want, double secs)
{
	struct settled s = { c, want };
	cr_assert(run_until(b, deliveries_settled, &s, secs),
		  "deliveries not settled in %.0f s: %lld of %lld", secs,
		  q_int(c, "SELECT count(*) FROM notification_deliveries WHERE state <> 'pending'"), want);
}

static inline const char *hook_yaml(int p, const char *retry)
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


#endif
