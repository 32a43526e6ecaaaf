/*
 * test_pgconn.c - collector/pgconn.c against a real PostgreSQL
 * (tests/integration/test_pgconn.sh starts it): connect + setup, a query
 * with parameters, statement errors, COPY IN from a callback, the request
 * deadline, a killed backend and a server restart (reconnect with backoff),
 * per-object reconnect jitter, the conninfo expansion, freeing inside a
 * callback.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <event2/event.h>
#include <libpq-fe.h>

#include "log.h"
#include "pgconn.h"
#include "twtime.h"

TestSuite(pgconn, .timeout = 120);

/* ------------------------------------------------------------ helpers */

static const char *env(const char *name)
{
	const char *v = getenv(name);
	cr_assert(v && *v, "%s is not set (run through tests/integration/test_pgconn.sh)", name);
	return v;
}

static bool run_until(struct event_base *b, bool (*cond)(void *), void *arg, double secs)
{
	double end = twtime_mono_ms() + secs * 1000;
	while (!cond(arg)) {
		if (twtime_mono_ms() > end)
			return false;
		struct timeval tv = { 0, 5000 };
		event_base_loopexit(b, &tv);
		event_base_dispatch(b);
	}
	return true;
}

/* What the owner heard. */
struct owner {
	int ups, downs;
	char why[256];
};

static void on_state(void *arg, struct pgconn *c, bool up, const char *why)
{
	struct owner *o = arg;
	(void)c;
	if (up) {
		o->ups++;
	} else {
		o->downs++;
		snprintf(o->why, sizeof o->why, "%s", why ? why : "");
	}
}

/* What one request delivered. */
struct req {
	int results, dones;
	enum pgconn_outcome outcome;
	char err[256], sqlstate[6];
	char first[256];         /* first column of the first row of the last tuples result */
	char second[256];
	ExecStatusType last_status;
};

static void on_reply(void *arg, struct pgconn *c, struct pgconn_reply *rep)
{
	struct req *q = arg;
	(void)c;
	if (rep->result) {
		q->results++;
		q->last_status = PQresultStatus(rep->result);
		if (q->last_status == PGRES_TUPLES_OK && PQntuples(rep->result) > 0) {
			snprintf(q->first, sizeof q->first, "%s", PQgetvalue(rep->result, 0, 0));
			if (PQnfields(rep->result) > 1)
				snprintf(q->second, sizeof q->second, "%s",
					 PQgetvalue(rep->result, 0, 1));
		}
		return;
	}
	q->dones++;
	q->outcome = rep->outcome;
	snprintf(q->err, sizeof q->err, "%s", rep->err ? rep->err : "");
	snprintf(q->sqlstate, sizeof q->sqlstate, "%s", rep->sqlstate ? rep->sqlstate : "");
}

static bool req_done(void *arg) { return ((struct req *)arg)->dones > 0; }
static bool is_idle(void *arg) { return pgconn_is_idle(arg); }
static bool got_down(void *arg) { return ((struct owner *)arg)->downs > 0; }

static struct pgconn *conn_up(struct event_base *b, struct owner *ow, const char *setup,
			      unsigned rmin, unsigned rmax)
{
	char err[256] = "";
	struct pgconn_opts o = {
		.conninfo = env("TW_PG_CONNINFO"), .app_name = "tw-test-pgconn", .name = "test pg",
		.setup_sql = setup, .reconnect_min_ms = rmin, .reconnect_max_ms = rmax,
		.on_state = on_state, .arg = ow,
	};
	struct pgconn *c = pgconn_new(b, &o, err, sizeof err);
	cr_assert(c, "pgconn_new: %s", err);
	cr_assert(run_until(b, is_idle, c, 20), "not up in 20 s");
	cr_assert_eq(ow->ups, 1);
	return c;
}

/* Runs one request to its done. */
static struct req run_req(struct event_base *b, struct pgconn *c, const char *sql, int n,
			  const char *const *params)
{
	struct req q = { 0 };
	struct pgconn_request rq = { .sql = sql, .nparams = n, .params = params, .cb = on_reply,
				     .arg = &q };
	cr_assert_eq(pgconn_submit(c, &rq), 0);
	cr_assert(run_until(b, req_done, &q, 30), "%s: no done in 30 s", sql);
	cr_assert_eq(q.dones, 1);
	return q;
}

/* A second, blocking session for the test's own checks. */
static PGconn *admin(void)
{
	PGconn *a = PQconnectdb(env("TW_PG_CONNINFO"));
	cr_assert(PQstatus(a) == CONNECTION_OK, "%s", PQerrorMessage(a));
	return a;
}

static long long admin_int(PGconn *a, const char *sql)
{
	PGresult *r = PQexec(a, sql);
	cr_assert(PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1, "%s: %s", sql,
		  PQresultErrorMessage(r));
	long long v = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
	PQclear(r);
	return v;
}

/* ------------------------------------------------------------ tests */

Test(pgconn, connects_runs_setup_and_a_query_with_params)
{
	struct event_base *b = event_base_new();
	struct owner ow = { 0 };
	struct pgconn *c = conn_up(b, &ow, "SET TimeZone = 'Asia/Tokyo'; SET DateStyle = 'ISO'",
				   0, 0);
	cr_assert(pgconn_is_up(c));
	cr_assert_not(pgconn_in_transaction(c));
	cr_assert_eq(pgconn_retry_delay_ms(c), 0);

	const char *p[2] = { "41", NULL };
	struct req q = run_req(b, c, "SELECT $1::int + 1, coalesce($2, 'null') || "
				     "current_setting('TimeZone')", 2, p);
	cr_assert_eq(q.outcome, PGCONN_OK, "%s", q.err);
	cr_assert_eq(q.results, 1);
	cr_assert_str_eq(q.first, "42");
	cr_assert_str_eq(q.second, "nullAsia/Tokyo", "the setup SQL ran on this session");

	/* our expansion: fallback application name and UTF8 */
	q = run_req(b, c, "SELECT current_setting('application_name'), "
			  "current_setting('client_encoding')", 0, NULL);
	cr_assert_str_eq(q.first, "tw-test-pgconn");
	cr_assert_str_eq(q.second, "UTF8");

	/* several statements in one request: every result, one done */
	q = run_req(b, c, "SELECT 1; SELECT 2; SELECT 3", 0, NULL);
	cr_assert_eq(q.results, 3);
	cr_assert_str_eq(q.first, "3");
	cr_assert_eq(q.outcome, PGCONN_OK);
	cr_assert_eq(ow.downs, 0);
	pgconn_free(c);
	event_base_free(b);
}

Test(pgconn, statement_error_has_its_sqlstate_and_the_connection_stays)
{
	struct event_base *b = event_base_new();
	struct owner ow = { 0 };
	struct pgconn *c = conn_up(b, &ow, NULL, 0, 0);
	struct req q = run_req(b, c, "SELECT 1 / 0", 0, NULL);
	cr_assert_eq(q.outcome, PGCONN_ERROR);
	cr_assert_str_eq(q.sqlstate, "22012");
	cr_assert(strstr(q.err, "division by zero"), "%s", q.err);
	cr_assert_null(strchr(q.err, '\n'));
	cr_assert(pgconn_is_idle(c));

	/* a failed statement inside a transaction block leaves it open */
	q = run_req(b, c, "BEGIN; SELECT no_such_column FROM pg_class", 0, NULL);
	cr_assert_eq(q.outcome, PGCONN_ERROR);
	cr_assert_str_eq(q.sqlstate, "42703");
	cr_assert(pgconn_in_transaction(c));
	q = run_req(b, c, "ROLLBACK", 0, NULL);
	cr_assert_eq(q.outcome, PGCONN_OK);
	cr_assert_not(pgconn_in_transaction(c));

	/* busy: a second request is refused, the first is unaffected */
	struct req q1 = { 0 }, q2 = { 0 };
	struct pgconn_request r1 = { .sql = "SELECT 7", .cb = on_reply, .arg = &q1 };
	struct pgconn_request r2 = { .sql = "SELECT 8", .cb = on_reply, .arg = &q2 };
	cr_assert_eq(pgconn_submit(c, &r1), 0);
	errno = 0;
	cr_assert_eq(pgconn_submit(c, &r2), -1);
	cr_assert_eq(errno, EBUSY);
	cr_assert(run_until(b, req_done, &q1, 10));
	cr_assert_str_eq(q1.first, "7");
	cr_assert_eq(q2.dones, 0);
	cr_assert_eq(ow.downs, 0);
	pgconn_free(c);
	event_base_free(b);
}

/* COPY data from a cursor over a big buffer, in small chunks. */
struct copysrc {
	char *data;
	size_t len, off, chunk;
	int calls;
	bool abort_midway;
};

static int copy_cb(void *arg, const char **buf, size_t *len)
{
	struct copysrc *s = arg;
	s->calls++;
	if (s->abort_midway && s->off > s->len / 2)
		return -1;
	if (s->off >= s->len)
		return 0;
	size_t n = s->len - s->off < s->chunk ? s->len - s->off : s->chunk;
	*buf = s->data + s->off;
	*len = n;
	s->off += n;
	return 1;
}

struct copyreq {
	struct copysrc src;
	struct req q;
};

static void on_copy_reply(void *arg, struct pgconn *c, struct pgconn_reply *rep)
{
	on_reply(&((struct copyreq *)arg)->q, c, rep);
}

static int copy_data_cb(void *arg, const char **buf, size_t *len)
{
	return copy_cb(&((struct copyreq *)arg)->src, buf, len);
}

Test(pgconn, copy_in_is_fed_from_the_callback)
{
	struct event_base *b = event_base_new();
	struct owner ow = { 0 };
	struct pgconn *c = conn_up(b, &ow, "CREATE TEMP TABLE t (n bigint, s text)", 0, 0);

	/* 200000 rows (~4 MB): more than libpq and the socket buffer take at once */
	enum { ROWS = 200000 };
	size_t cap = (size_t)ROWS * 32;
	struct copyreq cr = { .src = { .data = malloc(cap), .chunk = 7000 } };
	cr_assert(cr.src.data);
	for (int i = 1; i <= ROWS; i++) {
		int k = snprintf(cr.src.data + cr.src.len, cap - cr.src.len, "%d\tr\\t%d\\\\\n", i, i);
		cr.src.len += (size_t)k;
	}
	struct pgconn_request rq = { .sql = "BEGIN; COPY t (n, s) FROM STDIN", .copy_data = copy_data_cb,
				     .cb = on_copy_reply, .arg = &cr };
	cr_assert_eq(pgconn_submit(c, &rq), 0);
	cr_assert(run_until(b, req_done, &cr.q, 60));
	cr_assert_eq(cr.q.outcome, PGCONN_OK, "%s", cr.q.err);
	cr_assert_eq(cr.src.off, cr.src.len);
	cr_assert_gt(cr.src.calls, 500);
	cr_assert(pgconn_in_transaction(c));
	struct req q = run_req(b, c, "COMMIT; SELECT count(*), sum(n) || '/' || "
				     "count(*) FILTER (WHERE s = E'r\\t' || n || E'\\\\') FROM t", 0, NULL);
	cr_assert_eq(q.outcome, PGCONN_OK, "%s", q.err);
	cr_assert_str_eq(q.first, "200000");
	cr_assert_str_eq(q.second, "20000100000/200000");

	/* aborted by the callback: the statement fails, the connection stays */
	struct copyreq ab = { .src = { .data = cr.src.data, .len = cr.src.len, .chunk = 9000,
				       .abort_midway = true } };
	rq.sql = "COPY t (n, s) FROM STDIN";
	rq.arg = &ab;
	cr_assert_eq(pgconn_submit(c, &rq), 0);
	cr_assert(run_until(b, req_done, &ab.q, 60));
	cr_assert_eq(ab.q.outcome, PGCONN_ERROR);
	cr_assert(strstr(ab.q.err, "aborted by the client"), "%s", ab.q.err);
	q = run_req(b, c, "SELECT count(*) FROM t", 0, NULL);
	cr_assert_str_eq(q.first, "200000", "the aborted COPY stored nothing");

	/* a COPY the request did not ask for is refused */
	q = run_req(b, c, "COPY t FROM STDIN", 0, NULL);
	cr_assert_eq(q.outcome, PGCONN_ERROR);
	cr_assert(pgconn_is_idle(c));
	cr_assert_eq(ow.downs, 0);
	free(cr.src.data);
	pgconn_free(c);
	event_base_free(b);
}

Test(pgconn, request_deadline_drops_the_connection_and_it_comes_back)
{
	struct event_base *b = event_base_new();
	struct owner ow = { 0 };
	struct pgconn *c = conn_up(b, &ow, NULL, 50, 200);
	struct req q = { 0 };
	struct pgconn_request rq = { .sql = "SELECT pg_sleep(20)", .timeout_ms = 300,
				     .cb = on_reply, .arg = &q };
	double t0 = twtime_mono_ms();
	cr_assert_eq(pgconn_submit(c, &rq), 0);
	cr_assert(run_until(b, req_done, &q, 10));
	double took = twtime_mono_ms() - t0;
	cr_assert_eq(q.outcome, PGCONN_LOST);
	cr_assert(strstr(q.err, "timed out"), "%s", q.err);
	cr_assert(took >= 250 && took < 3000, "deadline after %.0f ms", took);
	cr_assert_eq(ow.downs, 1, "the owner hears the connection went down");
	/* back by itself; the next request works */
	cr_assert(run_until(b, is_idle, c, 10), "no reconnect after the deadline");
	cr_assert_eq(ow.ups, 2);
	cr_assert_eq(pgconn_reconnects(c), 1);
	q = run_req(b, c, "SELECT 5", 0, NULL);
	cr_assert_str_eq(q.first, "5");
	pgconn_free(c);
	event_base_free(b);
}

Test(pgconn, killed_backend_reconnects_idle_or_busy)
{
	struct event_base *b = event_base_new();
	struct owner ow = { 0 };
	struct pgconn *c = conn_up(b, &ow, NULL, 50, 400);
	PGconn *a = admin();

	/* idle: the close is noticed without a request */
	struct req q = run_req(b, c, "SELECT pg_backend_pid()", 0, NULL);
	char sql[400];
	snprintf(sql, sizeof sql, "SELECT pg_terminate_backend(%s)::int", q.first);
	cr_assert_eq(admin_int(a, sql), 1);
	cr_assert(run_until(b, got_down, &ow, 10), "the idle connection's loss went unnoticed");
	cr_assert(run_until(b, is_idle, c, 10));
	cr_assert_eq(ow.ups, 2);

	/* busy: the request ends LOST, then the owner hears down, then up */
	q = run_req(b, c, "SELECT pg_backend_pid()", 0, NULL);
	struct req sl = { 0 };
	struct pgconn_request rq = { .sql = "SELECT pg_sleep(30)", .cb = on_reply, .arg = &sl };
	cr_assert_eq(pgconn_submit(c, &rq), 0);
	struct timeval tv = { 0, 200000 };
	event_base_loopexit(b, &tv);
	event_base_dispatch(b);
	snprintf(sql, sizeof sql, "SELECT pg_terminate_backend(%s)::int", q.first);
	cr_assert_eq(admin_int(a, sql), 1);
	cr_assert(run_until(b, req_done, &sl, 10));
	cr_assert_eq(sl.outcome, PGCONN_LOST);
	cr_assert_eq(ow.downs, 2);
	cr_assert(run_until(b, is_idle, c, 10));
	cr_assert_eq(ow.ups, 3);
	cr_assert_eq(pgconn_reconnects(c), 2);
	PQfinish(a);
	pgconn_free(c);
	event_base_free(b);
}

Test(pgconn, server_restart_backs_off_exponentially_then_reconnects)
{
	struct event_base *b = event_base_new();
	struct owner ow = { 0 };
	struct pgconn *c = conn_up(b, &ow, NULL, 100, 1600);
	cr_assert_eq(system(env("TW_PG_STOP")), 0, "pg stop failed");
	cr_assert(run_until(b, got_down, &ow, 10));
	/* watch the scheduled delays of successive attempts */
	unsigned seen[16];
	int n = 0;
	unsigned last = 0;
	double end = twtime_mono_ms() + 9000;
	while (n < 6 && twtime_mono_ms() < end) {
		unsigned d = pgconn_retry_delay_ms(c);
		if (d && d != last) {
			seen[n++] = d;
			last = d;
		}
		struct timeval tv = { 0, 2000 };
		event_base_loopexit(b, &tv);
		event_base_dispatch(b);
	}
	cr_assert_geq(n, 5, "only %d reconnect attempts seen", n);
	/* base 100, 200, 400, 800, 1600, 1600 ... each +-20% */
	unsigned base = 100;
	for (int i = 0; i < n; i++) {
		cr_assert(seen[i] >= base - base / 5 && seen[i] <= base + base / 5,
			  "attempt %d: delay %u ms, base %u", i, seen[i], base);
		base = base * 2 > 1600 ? 1600 : base * 2;
	}
	cr_assert_not(pgconn_is_up(c));
	cr_assert_eq(system(env("TW_PG_START")), 0, "pg start failed");
	cr_assert(run_until(b, is_idle, c, 20), "not back after the restart");
	cr_assert_eq(ow.ups, 2);
	struct req q = run_req(b, c, "SELECT 9", 0, NULL);
	cr_assert_str_eq(q.first, "9");
	pgconn_free(c);
	event_base_free(b);
}

/* A fresh process's first reconnect delay against a closed port. */
static unsigned first_delay_in_child(void)
{
	struct event_base *b = event_base_new();
	char err[256];
	struct pgconn_opts o = {
		.conninfo = "host=127.0.0.1 port=1 dbname=x connect_timeout=2",
		.reconnect_min_ms = 5000, .reconnect_max_ms = 5000,
	};
	struct pgconn *c = pgconn_new(b, &o, err, sizeof err);
	if (!c)
		return 0;
	double end = twtime_mono_ms() + 5000;
	while (!pgconn_retry_delay_ms(c) && twtime_mono_ms() < end) {
		struct timeval tv = { 0, 5000 };
		event_base_loopexit(b, &tv);
		event_base_dispatch(b);
	}
	unsigned d = pgconn_retry_delay_ms(c);
	pgconn_free(c);
	event_base_free(b);
	return d;
}

/* Regression: reconnect jitter came from random(), never seeded, so every
 * collector process drew the same delays and reconnected in step. Two
 * forked processes (same memory, same libc state) must draw different
 * delays now. */
Test(pgconn, jitter_differs_between_processes_with_the_same_backoff)
{
	unsigned d[4];
	for (int i = 0; i < 4; i++) {
		int fds[2];
		cr_assert_eq(pipe(fds), 0);
		pid_t pid = fork();
		cr_assert_geq(pid, 0);
		if (pid == 0) {
			close(fds[0]);
			unsigned v = first_delay_in_child();
			_exit(write(fds[1], &v, sizeof v) == (ssize_t)sizeof v ? 0 : 1);
		}
		close(fds[1]);
		cr_assert_eq(read(fds[0], &d[i], sizeof d[i]), (ssize_t)sizeof d[i]);
		close(fds[0]);
		int st = 0;
		cr_assert_eq(waitpid(pid, &st, 0), pid);
		cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
		cr_assert(d[i] >= 4000 && d[i] <= 6000, "delay %u outside 5000 +-20%%", d[i]);
	}
	/* 2001 possible values: four equal draws would be a 1 in 8e9 accident */
	cr_assert_not(d[0] == d[1] && d[1] == d[2] && d[2] == d[3],
		      "four processes drew the same reconnect delay %u ms", d[0]);
	int distinct = 0;
	for (int i = 0; i < 4; i++) {
		bool dup = false;
		for (int j = 0; j < i; j++)
			dup |= d[i] == d[j];
		distinct += !dup;
	}
	cr_assert_geq(distinct, 3, "delays %u %u %u %u", d[0], d[1], d[2], d[3]);
}

static void free_on_done(void *arg, struct pgconn *c, struct pgconn_reply *rep)
{
	if (rep->result)
		return;
	*(int *)arg += 1;
	pgconn_free(c);
}

static bool int_set(void *arg) { return *(int *)arg > 0; }

Test(pgconn, free_inside_its_own_callback_is_safe)
{
	struct event_base *b = event_base_new();
	struct owner ow = { 0 };
	struct pgconn *c = conn_up(b, &ow, NULL, 0, 0);
	int done = 0;
	struct pgconn_request rq = { .sql = "SELECT 1", .cb = free_on_done, .arg = &done };
	cr_assert_eq(pgconn_submit(c, &rq), 0);
	cr_assert(run_until(b, int_set, &done, 10));
	/* and on a LOST done (deadline) */
	struct pgconn *c2 = conn_up(b, &(struct owner){ 0 }, NULL, 0, 0);
	int done2 = 0;
	struct pgconn_request r2 = { .sql = "SELECT pg_sleep(10)", .timeout_ms = 100,
				     .cb = free_on_done, .arg = &done2 };
	cr_assert_eq(pgconn_submit(c2, &r2), 0);
	cr_assert(run_until(b, int_set, &done2, 10));
	/* the loop has nothing of theirs left: it returns at once */
	cr_assert_eq(event_base_dispatch(b), 1);
	event_base_free(b);
}

Test(pgconn, conninfo_expansion_user_wins_except_encoding)
{
	char err[512] = "";
	char ci[512];
	snprintf(ci, sizeof ci, "%s application_name=mine client_encoding=LATIN1 "
		 "keepalives_idle=77", env("TW_PG_CONNINFO"));
	PGconn *a = pgconn_connect_blocking(ci, "tw-fallback", err, sizeof err);
	cr_assert(a, "%s", err);
	cr_assert_str_eq(PQparameterStatus(a, "application_name"), "mine");
	cr_assert_str_eq(PQparameterStatus(a, "client_encoding"), "UTF8");
	PQconninfoOption *opts = PQconninfo(a);
	for (PQconninfoOption *o = opts; o && o->keyword; o++) {
		if (strcmp(o->keyword, "keepalives_idle") == 0)
			cr_assert_str_eq(o->val, "77");
		if (strcmp(o->keyword, "keepalives_count") == 0)
			cr_assert_str_eq(o->val, "3", "our default where the user says nothing");
	}
	PQconninfoFree(opts);
	PQfinish(a);

	a = pgconn_connect_blocking(env("TW_PG_CONNINFO"), "tw-fallback", err, sizeof err);
	cr_assert(a, "%s", err);
	cr_assert_str_eq(PQparameterStatus(a, "application_name"), "tw-fallback");
	PQfinish(a);

	/* a URI works too; a bad conninfo is an error message, not a crash */
	cr_assert_null(pgconn_connect_blocking("postgresql://127.0.0.1:1/x?connect_timeout=2",
					       NULL, err, sizeof err));
	cr_assert(err[0] && !strchr(err, '\n'), "%s", err);
	cr_assert_null(pgconn_connect_blocking("nonsense==", NULL, err, sizeof err));
	cr_assert(err[0]);
}
