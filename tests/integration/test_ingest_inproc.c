/*
 * test_ingest_inproc.c - the probe server (collector/ingest.h) run inside
 * the test process, against a real PostgreSQL (test_ingest_inproc.sh): what
 * a separate collector process cannot show - an injected allocation failure
 * and the order of teardown while the database still owes an answer.
 *
 * The server's event loop runs on a thread of its own while the test plays a
 * probe with the blocking client of tests/harness/tlsprobe.h; the test
 * touches the server, the pool and the base only while that thread is
 * stopped (srv_pause / srv_resume). Each test uses its own database.
 */
#include <criterion/criterion.h>
#include <libpq-fe.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>

#include "db.h"
#include "ingest.h"
#include "ingest_batch.h"
#include "proc.h"
#include "tlsprobe.h"

TestSuite(ingest_inproc, .timeout = 60);

static const char *penv(const char *k)
{
	const char *v = getenv(k);
	cr_assert(v && *v, "%s is not set (run through tests/integration/test_ingest_inproc.sh)", k);
	return v;
}

/* ---- a server on a loop thread ---- */

struct srv {
	char conninfo[1024];
	struct event_base *base;
	struct db_pool *db;
	struct ingest *ing;
	struct event *tick;
	pthread_t th;
	bool running;
	atomic_int stop;
};

static void tick_cb(evutil_socket_t fd, short what, void *arg)
{
	struct srv *s = arg;
	if (atomic_load(&s->stop))
		event_base_loopbreak(s->base);
}

static void *loop_main(void *arg)
{
	struct srv *s = arg;
	event_base_loop(s->base, EVLOOP_NO_EXIT_ON_EMPTY);
	return NULL;
}

static void srv_resume(struct srv *s)
{
	cr_assert(!s->running);
	atomic_store(&s->stop, 0);
	cr_assert_eq(pthread_create(&s->th, NULL, loop_main, s), 0);
	s->running = true;
}

static void srv_pause(struct srv *s)
{
	if (!s->running)
		return;
	atomic_store(&s->stop, 1);
	pthread_join(s->th, NULL);
	s->running = false;
}

/* Runs the loop on this thread until *flag is set or ms pass; the flag's value. */
static bool srv_run_until(struct srv *s, const atomic_int *flag, int ms)
{
	double end = tw_now_ms() + ms;
	struct timeval slice = { 0, 20000 };
	while (!atomic_load(flag) && tw_now_ms() < end) {
		event_base_loopexit(s->base, &slice);
		event_base_dispatch(s->base);
	}
	return atomic_load(flag) != 0;
}

/* A fresh migrated database named dbname, a pool of one connection to it,
 * and the server on a free port; the loop is not running yet. */
static void srv_create(struct srv *s, const char *dbname)
{
	char err[512];
	memset(s, 0, sizeof *s);
	PGconn *admin = tw_pg(NULL);
	cr_assert_not_null(admin, "cannot connect to the test PostgreSQL");
	cr_assert_eq(tw_pg_exec(admin, tw_fmt("CREATE DATABASE %s", dbname)), 0);
	PQfinish(admin);
	snprintf(s->conninfo, sizeof s->conninfo, "%s dbname=%s", penv("TW_PG_CONNINFO"), dbname);
	cr_assert_geq(db_migrate(s->conninfo, err, sizeof err), 0, "migrate: %s", err);

	cr_assert_not_null(s->base = event_base_new());
	struct db_opts dbo = { .conninfo = s->conninfo, .connections = 1 };
	cr_assert_not_null(s->db = db_pool_new(s->base, &dbo, err, sizeof err), "%s", err);
	struct ingest_opts o = {
		.host = "127.0.0.1",
		.ca_file = tw_fmt("%s/pipe-ca.pem", penv("TW_PIPE")),
		.cert_file = tw_fmt("%s/collector.pem", penv("TW_PIPE")),
		.key_file = tw_fmt("%s/collector.key", penv("TW_PIPE")),
		.idle_timeout_ms = 30000,
	};
	bool bind_failed;
	s->ing = ingest_new(s->base, s->db, &o, &bind_failed, err, sizeof err);
	cr_assert_not_null(s->ing, "ingest_new: %s", err);
	cr_assert_not_null(s->tick = event_new(s->base, -1, EV_PERSIST, tick_cb, s));
	struct timeval tv = { 0, 10000 };
	cr_assert_eq(event_add(s->tick, &tv), 0);
}

/* srv_create, then the loop runs until the pool is ready. */
static void srv_start(struct srv *s, const char *dbname)
{
	srv_create(s, dbname);
	for (int i = 0; i < 500 && !db_is_ready(s->db); i++) {
		struct timeval slice = { 0, 20000 };
		event_base_loopexit(s->base, &slice);
		event_base_dispatch(s->base);
	}
	cr_assert(db_is_ready(s->db), "the pool did not become ready");
}

static void srv_free(struct srv *s)
{
	srv_pause(s);
	ingest_free(s->ing);
	db_pool_free(s->db);
	if (s->tick)
		event_free(s->tick);
	event_base_free(s->base);
}

static struct tw_probe *connect_probe(struct srv *s, const char *name)
{
	struct tw_probe *c = tw_probe_connect(penv("TW_PIPE"), name, 0, (int)ingest_port(s->ing));
	cr_assert_not_null(c);
	cr_assert(c->handshake_ok, "TLS handshake as %s failed", name);
	return c;
}

/* Reads Acks until one for seq arrives: true, or false when the connection
 * closes or stays quiet for timeout_ms. */
static bool await_ack(struct tw_probe *c, uint64_t seq, unsigned timeout_ms)
{
	tw_probe_set_timeout(c, timeout_ms);
	for (;;) {
		Tlswatch__Envelope *e = NULL;
		if (tw_probe_read_env(c, &e) != 1)
			return false;
		bool hit = e->msg_case == TLSWATCH__ENVELOPE__MSG_ACK && e->ack->seq == seq;
		tlswatch__envelope__free_unpacked(e, NULL);
		if (hit)
			return true;
	}
}

static int64_t started_base(void)
{
	return ((int64_t)time(NULL) - 3600) * 1000;
}

/* ---- out of memory while submitting a batch ---- */

static atomic_int alloc_failures_left;
static atomic_int alloc_failed;

static void *failing_malloc(size_t n)
{
	if (atomic_load(&alloc_failures_left) > 0) {
		atomic_fetch_sub(&alloc_failures_left, 1);
		atomic_fetch_add(&alloc_failed, 1);
		return NULL;
	}
	return malloc(n);
}

/* The array of a submission cannot be allocated: the rows stay queued and go
 * again later, so the probe gets its Ack (before: the connection stayed
 * wedged - no job, no retry, no Ack ever). */
Test(ingest_inproc, submit_out_of_memory_retries_later)
{
	struct srv s;
	srv_start(&s, "inproc_oom");
	ingest_batch_malloc = failing_malloc;
	atomic_store(&alloc_failures_left, 1);
	srv_resume(&s);

	struct tw_probe *c = connect_probe(&s, "probe-a");
	cr_assert_eq(tw_probe_send_hello(c, "probe-a", "eu-west"), 0);
	cr_assert_eq(tw_probe_send_batch(c, 1, 3, NULL, NULL, started_base()), 0);
	cr_expect(await_ack(c, 3, 6000), "no Ack after an allocation failure: the connection is "
		  "wedged");
	cr_expect_eq(atomic_load(&alloc_failed), 1, "the injected failure was not hit");
	/* and the stream goes on normally */
	cr_assert_eq(tw_probe_send_batch(c, 4, 5, NULL, NULL, started_base()), 0);
	cr_expect(await_ack(c, 5, 5000));
	tw_probe_free(c);
	srv_pause(&s);
	struct ingest_stats st;
	ingest_get_stats(s.ing, &st);
	cr_expect_eq(st.pending_rows, 0);
	cr_expect_geq(st.jobs_committed, 2);
	ingest_batch_malloc = malloc;
	srv_free(&s);
}

/* Memory never comes back: after as many attempts as a failing database
 * gets, the connection closes (the probe replays from its spool) instead
 * of retrying forever. */
Test(ingest_inproc, submit_out_of_memory_for_good_closes)
{
	struct srv s;
	srv_start(&s, "inproc_oom_close");
	ingest_batch_malloc = failing_malloc;
	atomic_store(&alloc_failures_left, 1000);
	srv_resume(&s);

	struct tw_probe *c = connect_probe(&s, "probe-b");
	cr_assert_eq(tw_probe_send_hello(c, "probe-b", "us-east"), 0);
	cr_assert_eq(tw_probe_send_batch(c, 1, 2, NULL, NULL, started_base()), 0);
	tw_probe_set_timeout(c, 15000);  /* backoff 0.5 + 1 + 2 + 4 s */
	cr_expect(tw_probe_closed_by_peer(c), "still open after repeated allocation failures");
	tw_probe_free(c);
	srv_pause(&s);
	ingest_batch_malloc = malloc;
	struct ingest_stats st;
	ingest_get_stats(s.ing, &st);
	cr_expect_eq(atomic_load(&alloc_failed), 5, "attempts: %d", atomic_load(&alloc_failed));
	cr_expect_eq(st.closed[CLOSE_DB_FAILED], 1);
	cr_expect_eq(st.pending_rows, 0);
	cr_expect_eq(st.jobs_committed, 0);
	srv_free(&s);
}

/* ---- teardown while the database still owes an answer ---- */

/* The server is freed before the pool has connected; when it does, the
 * pool's "ready" callback must not reach the freed server (it did: under
 * SANITIZE=1 a heap-use-after-free in on_db_ready). */
Test(ingest_inproc, free_before_the_pool_is_ready)
{
	struct srv s;
	srv_create(&s, "inproc_ready");
	ingest_free(s.ing);
	s.ing = NULL;
	for (int i = 0; i < 500 && !db_is_ready(s.db); i++) {
		struct timeval slice = { 0, 20000 };
		event_base_loopexit(s.base, &slice);
		event_base_dispatch(s.base);
	}
	cr_expect(db_is_ready(s.db), "the pool did not become ready");
	struct timeval slice = { 0, 100000 };  /* its ready callback runs from its kick event */
	event_base_loopexit(s.base, &slice);
	event_base_dispatch(s.base);
	srv_free(&s);
}


static void last_seq_cb(void *arg, bool found, uint64_t seq)
{
	atomic_store((atomic_int *)arg, 1);
}

/* A connection asked db_last_seq (which cannot be cancelled); the server is
 * freed before the answer comes, and the pool delivers it afterwards. Under
 * SANITIZE=1 this was a heap-use-after-free of the freed connection. */
Test(ingest_inproc, free_with_last_seq_outstanding)
{
	struct srv s;
	srv_start(&s, "inproc_free");
	/* Hold the probes table: the Hello's probe record and its db_last_seq
	 * lookup queue behind the lock on the pool's one connection. */
	PGconn *lock = PQconnectdb(s.conninfo);
	cr_assert_eq(PQstatus(lock), CONNECTION_OK, "%s", PQerrorMessage(lock));
	cr_assert_eq(tw_pg_exec(lock, "BEGIN; LOCK TABLE probes IN ACCESS EXCLUSIVE MODE"), 0);
	srv_resume(&s);

	struct tw_probe *c = connect_probe(&s, "probe-b");
	cr_assert_eq(tw_probe_send_hello(c, "probe-b", "us-east"), 0);
	PGconn *q = PQconnectdb(s.conninfo);
	cr_assert_eq(PQstatus(q), CONNECTION_OK);
	bool waiting = false;
	for (int i = 0; i < 250 && !waiting; i++) {
		PGresult *r = PQexec(q, "SELECT count(*) FROM pg_stat_activity WHERE datname = "
				     "current_database() AND wait_event_type = 'Lock' AND pid <> "
				     "pg_backend_pid()");
		waiting = PQresultStatus(r) == PGRES_TUPLES_OK && strcmp(PQgetvalue(r, 0, 0), "1") == 0;
		PQclear(r);
		if (!waiting)
			tw_sleep_ms(20);
	}
	PQfinish(q);
	cr_assert(waiting, "the Hello's database work never reached the lock");

	srv_pause(&s);
	ingest_free(s.ing);
	s.ing = NULL;
	/* Queued after the connection's lookup on the same connection: when it
	 * is answered, so was the lookup. */
	atomic_int answered = 0;
	cr_assert_eq(db_last_seq(s.db, "probe-b", last_seq_cb, &answered), 0);
	cr_assert_eq(tw_pg_exec(lock, "COMMIT"), 0);
	PQfinish(lock);
	cr_expect(srv_run_until(&s, &answered, 10000), "the pool never answered");
	tw_probe_free(c);
	srv_free(&s);
}
