/*
 * db.c - the asynchronous connection pool of db.h.
 *
 * Each connection is a small state machine (enum conn_state) driven by
 * libevent on PQsocket(): PQconnectStartParams/PQconnectPoll, then a session
 * setup (temp table `staging`, schema check), then tasks. A task is a short
 * sequence of queries sent with PQsendQuery/PQsendQueryParams on a
 * non-blocking connection: PQflush until 0 (EV_WRITE while it returns 1),
 * PQconsumeInput/PQisBusy/PQgetResult on EV_READ, and for COPY
 * PQputCopyData/PQputCopyEnd (0 = would block: wait for EV_WRITE). conn_io()
 * is the one loop that moves a task's I/O forward; conn_set_state() the only
 * writer of the state.
 *
 * Ingest (two round trips per transaction):
 *   "BEGIN; COPY staging (..) FROM STDIN"  + the rows of the jobs
 *   "<ingest statement>; COMMIT"           -> (probe_id, inserted) rows
 * and on any error "ROLLBACK". Several queued batches of *different* probes
 * are coalesced into one transaction (at most GROUP_MAX_JOBS jobs and
 * GROUP_MAX_ROWS rows); each job's callback fires after that commit.
 *
 * Ordering: at most one transaction per probe is in flight, and a probe's
 * batches run in submission order, so a probe's callbacks (and Acks) come in
 * order. When a batch fails for good, the probe's batches still queued fail
 * with it, so no later batch can be acked past a failed one.
 *
 * Failures: deadlock/serialization failures are retried (rolled back and
 * requeued at the head, up to RETRY_MAX times); a connection that breaks
 * requeues its batches (a batch whose COMMIT outcome is unknown runs again:
 * the replay inserts nothing) up to BROKEN_MAX times and is re-established
 * with exponential backoff and jitter. Other errors fail the batch:
 * callback(ok=false).
 *
 * Lifetime: connections live as long as the pool (only their PGconn is
 * replaced), so no callback frees its own object. Jobs are freed right after
 * their callback. db_pool_free() calls no callback (see db_pool_free).
 */
#include "db.h"
#include "db_int.h"
#include "log.h"
#include "sql_migrations.h"
#include "twtime.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define GROUP_MAX_JOBS 64
#define GROUP_MAX_ROWS 20000
#define RETRY_MAX 5           /* deadlock / serialization failure */
#define BROKEN_MAX 3          /* connection lost while the batch ran */
#define CONNECT_TIMEOUT_MS 15000
#define TASK_TIMEOUT_MS 120000
#define TICK_MS 5000          /* schema re-check while not ready; maintenance */
#define MAINT_EVERY_MS (3600 * 1000)
#define MAINT_RETRY_MS (300 * 1000)
#define CTL_QUEUE_MAX 10000   /* hello/heartbeat records waiting */
#define COPY_CHUNK 65536

enum job_kind {
	J_INGEST,   /* a batch: COPY + ingest statement */
	J_SEEN,     /* db_probe_seen upsert */
	J_LAST_SEQ, /* db_last_seq lookup */
	J_MAINTAIN, /* tw_maintain_partitions() */
	J_SCHEMA,   /* re-read the schema version */
};

struct db_job {
	struct db_job *next;
	enum job_kind kind;
	char *probe_id;
	/* J_INGEST */
	struct db_buf copy;
	size_t rows;
	uint64_t max_seq;
	size_t inserted;
	int retries, broken;
	db_ingest_cb cb;
	void *arg;
	/* J_LAST_SEQ */
	void (*seq_cb)(void *arg, bool found, uint64_t seq);
	bool found;
	uint64_t seq;
	/* J_SEEN */
	char *region, *version;
	double clock_offset_ms;
	int64_t seen_ms;
};

struct jobq {
	struct db_job *head, *tail;
	size_t n;
};

enum conn_state {
	CS_DOWN,       /* no PGconn; the timer fires the next connect (backoff) */
	CS_CONNECTING, /* PQconnectPoll in progress; the timer is the connect deadline */
	CS_SETUP,      /* session setup task running (staging table, schema check) */
	CS_IDLE,       /* up, no task; EV_READ armed to notice a closed socket */
	CS_BUSY,       /* running a task; the timer is its deadline */
};
static const char *const conn_state_names[] = { "down", "connecting", "setup", "idle", "busy" };

enum task_kind { T_NONE, T_SETUP, T_INGEST, T_CONTROL };

enum io_state {
	IO_FLUSH,   /* query sent, output not yet flushed */
	IO_COPY,    /* server is in COPY IN: pumping the jobs' rows */
	IO_RESULTS, /* reading results until PQgetResult returns NULL */
};

struct conn {
	struct db_pool *p;
	unsigned idx;
	enum conn_state state;
	PGconn *pg;
	int fd;
	struct event *rev, *wev, *timer;
	bool rd_on, wr_on;      /* what rev/wev are armed for (saves epoll_ctl calls) */
	unsigned backoff_ms;
	bool ever_up;
	bool in_io;
	/* the running task */
	enum task_kind task;
	int step;
	enum io_state io;
	struct jobq jobs;         /* T_INGEST: the group; T_CONTROL: one job */
	struct db_job *copy_job;  /* COPY cursor */
	size_t copy_off;
	bool failed, committed;
	char sqlstate[6];
	char err[256];
};

struct db_pool {
	struct event_base *base;
	char *conninfo;
	struct db_opts o;
	struct conn *conns;
	unsigned nconns, up;
	struct jobq ingq, ctlq;
	size_t queued_rows;
	struct event *kick, *tick;
	void (*ready_cb)(void *arg);
	void *ready_arg;
	bool accepting; /* db_can_accept() when last looked */
	bool ready_pending; /* accepting resumed: call ready_cb from the kick event */
	int schema_version;
	int schema_buckets;
	int latest;
	bool maint_queued, schema_queued;
	double next_maint; /* tw_mono_ms(); 0 = as soon as the schema is current */
	double next_schema; /* while not ready: the next schema re-check */
	struct db_stats st;
};

static void conn_io(struct conn *c);
static void conn_start(struct conn *c);
static void pool_dispatch(struct db_pool *p);
static void pool_changed(struct db_pool *p);

/* ------------------------------------------------------------- jobs */

static void q_push(struct jobq *q, struct db_job *j)
{
	j->next = NULL;
	if (q->tail)
		q->tail->next = j;
	else
		q->head = j;
	q->tail = j;
	q->n++;
}

static struct db_job *q_pop(struct jobq *q)
{
	struct db_job *j = q->head;
	if (!j)
		return NULL;
	q->head = j->next;
	if (!q->head)
		q->tail = NULL;
	q->n--;
	j->next = NULL;
	return j;
}

/* Puts the jobs of `front` (in their order) before those of q. */
static void q_prepend(struct jobq *q, struct jobq *front)
{
	if (!front->head)
		return;
	front->tail->next = q->head;
	if (!q->tail)
		q->tail = front->tail;
	q->head = front->head;
	q->n += front->n;
	front->head = front->tail = NULL;
	front->n = 0;
}

static void job_free(struct db_job *j)
{
	if (!j)
		return;
	db_buf_free(&j->copy);
	free(j->probe_id);
	free(j->region);
	free(j->version);
	free(j);
}

static void job_free_all(struct jobq *q)
{
	struct db_job *j;
	while ((j = q_pop(q)))
		job_free(j);
}

/* Calls the job's callback (unless cancelled) and frees it. */
static void job_finish(struct db_pool *p, struct db_job *j, bool ok, const char *err)
{
	switch (j->kind) {
	case J_INGEST:
		if (ok) {
			p->st.batches_committed++;
			p->st.rows_inserted += j->inserted;
			p->st.rows_duplicate += j->rows - j->inserted;
		} else {
			p->st.batches_failed++;
		}
		if (j->cb)
			j->cb(j->arg, ok, j->max_seq, ok ? j->inserted : 0, ok ? NULL : err);
		break;
	case J_LAST_SEQ:
		if (j->seq_cb)
			j->seq_cb(j->arg, ok && j->found, ok && j->found ? j->seq : 0);
		break;
	default:
		break;
	}
	job_free(j);
}

/* A batch failed for good: the same probe's queued batches fail too. */
static void fail_probe_queue(struct db_pool *p, const char *probe_id, struct jobq *out)
{
	struct db_job **pp = &p->ingq.head, *prev = NULL;
	while (*pp) {
		struct db_job *j = *pp;
		if (strcmp(j->probe_id, probe_id) == 0) {
			*pp = j->next;
			if (p->ingq.tail == j)
				p->ingq.tail = prev;
			p->ingq.n--;
			p->queued_rows -= j->rows;
			q_push(out, j);
		} else {
			prev = j;
			pp = &j->next;
		}
	}
}

/* ----------------------------------------------------- connection I/O */

static void conn_set_state(struct conn *c, enum conn_state s)
{
	if (c->state == s)
		return;
	log_debug("db: conn %u %s -> %s", c->idx, conn_state_names[c->state], conn_state_names[s]);
	bool was_up = c->state == CS_IDLE || c->state == CS_BUSY;
	bool is_up = s == CS_IDLE || s == CS_BUSY;
	c->state = s;
	if (was_up && !is_up)
		c->p->up--;
	else if (!was_up && is_up)
		c->p->up++;
}

static void conn_drop_events(struct conn *c)
{
	if (c->rev)
		event_free(c->rev);
	if (c->wev)
		event_free(c->wev);
	c->rev = c->wev = NULL;
	c->rd_on = c->wr_on = false;
	c->fd = -1;
}

static void on_io(evutil_socket_t fd, short what, void *arg);

/* Arms EV_READ / EV_WRITE on the current socket (re-created when libpq
 * changed it, which it does while connecting). */
static int conn_watch(struct conn *c, bool rd, bool wr)
{
	int fd = PQsocket(c->pg);
	if (fd < 0)
		return -1;
	if (fd != c->fd || !c->rev) {
		conn_drop_events(c);
		c->rev = event_new(c->p->base, fd, EV_READ | EV_PERSIST, on_io, c);
		c->wev = event_new(c->p->base, fd, EV_WRITE | EV_PERSIST, on_io, c);
		if (!c->rev || !c->wev)
			return -1;
		c->fd = fd;
		c->rd_on = c->wr_on = false;
	}
	if (rd != c->rd_on) {
		if ((rd ? event_add(c->rev, NULL) : event_del(c->rev)) < 0)
			return -1;
		c->rd_on = rd;
	}
	if (wr != c->wr_on) {
		if ((wr ? event_add(c->wev, NULL) : event_del(c->wev)) < 0)
			return -1;
		c->wr_on = wr;
	}
	return 0;
}

static void timer_in(struct event *ev, unsigned ms)
{
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };
	event_add(ev, &tv);
}

static void errcopy(char *dst, size_t cap, const char *src)
{
	snprintf(dst, cap, "%s", src ? src : "unknown error");
	dst[strcspn(dst, "\n")] = '\0';
}

/* The connection is unusable: close it, requeue or fail its jobs, and
 * schedule the reconnect. */
static void conn_fail(struct conn *c, const char *why)
{
	struct db_pool *p = c->p;
	struct jobq failed = { 0 }, requeue = { 0 };
	char reason[256];

	errcopy(reason, sizeof reason, why);
	if (c->state == CS_CONNECTING || c->state == CS_SETUP)
		log_warn("db: conn %u: connect failed: %s (retry in %u ms)", c->idx, reason,
			 c->backoff_ms);
	else
		log_warn("db: conn %u: connection lost: %s", c->idx, reason);

	struct db_job *j;
	while ((j = q_pop(&c->jobs))) {
		if (j->kind == J_INGEST && ++j->broken < BROKEN_MAX) {
			q_push(&requeue, j);
			p->queued_rows += j->rows;
		} else {
			if (j->kind == J_MAINTAIN)
				p->maint_queued = false, p->next_maint = tw_mono_ms() + MAINT_RETRY_MS;
			if (j->kind == J_SCHEMA)
				p->schema_queued = false;
			q_push(&failed, j);
		}
	}
	q_prepend(&p->ingq, &requeue);
	c->task = T_NONE;
	c->copy_job = NULL;
	conn_drop_events(c);
	PQfinish(c->pg);
	c->pg = NULL;
	conn_set_state(c, CS_DOWN);
	/* backoff with +-20% jitter */
	unsigned d = c->backoff_ms;
	d = d - d / 5 + (unsigned)(random() % (long)(d / 5 * 2 + 1));
	timer_in(c->timer, d);
	c->backoff_ms = c->backoff_ms * 2 > p->o.reconnect_max_ms ? p->o.reconnect_max_ms
								     : c->backoff_ms * 2;

	/* failed ingest jobs take their probe's queued jobs with them */
	struct jobq all = { 0 };
	while ((j = q_pop(&failed))) {
		q_push(&all, j);
		if (j->kind == J_INGEST)
			fail_probe_queue(p, j->probe_id, &all);
	}
	while ((j = q_pop(&all)))
		job_finish(p, j, false, reason);
	pool_changed(p);
}

static bool conn_send(struct conn *c, const char *sql, int n, const char *const *vals)
{
	int ok = n ? PQsendQueryParams(c->pg, sql, n, NULL, vals, NULL, NULL, 0)
		   : PQsendQuery(c->pg, sql);
	if (!ok) {
		conn_fail(c, PQerrorMessage(c->pg));
		return false;
	}
	c->io = IO_FLUSH;
	c->failed = c->committed = false;
	c->sqlstate[0] = c->err[0] = '\0';
	return true;
}

static void conn_kick(struct conn *c)
{
	if (!c->in_io)
		conn_io(c);
}

/* COPY rows of every job of the group. 1 done, 0 wait for EV_WRITE, -1 broken. */
static int copy_pump(struct conn *c)
{
	for (;;) {
		int f = PQflush(c->pg);
		if (f < 0)
			return -1;
		if (f > 0)
			return 0;
		while (c->copy_job && c->copy_off >= c->copy_job->copy.len) {
			c->copy_job = c->copy_job->next;
			c->copy_off = 0;
		}
		if (!c->copy_job) {
			int r = PQputCopyEnd(c->pg, NULL);
			if (r < 0)
				return -1;
			if (r == 0)
				return 0;
			return PQflush(c->pg) < 0 ? -1 : 1; /* IO_RESULTS flushes the rest */
		}
		size_t n = c->copy_job->copy.len - c->copy_off;
		if (n > COPY_CHUNK)
			n = COPY_CHUNK;
		int r = PQputCopyData(c->pg, c->copy_job->copy.p + c->copy_off, (int)n);
		if (r < 0)
			return -1;
		if (r == 0)
			return 0;
		c->copy_off += n;
	}
}

static void task_result(struct conn *c, PGresult *r);
static void task_step_done(struct conn *c);

/* Moves the running task's I/O as far as it goes without blocking. */
static void conn_io(struct conn *c)
{
	c->in_io = true;
	while (c->state == CS_SETUP || c->state == CS_BUSY) {
		if (c->io == IO_FLUSH || c->io == IO_COPY) {
			int r;
			if (c->io == IO_COPY) {
				r = copy_pump(c);
			} else {
				int f = PQflush(c->pg);
				r = f < 0 ? -1 : f > 0 ? 0 : 1;
			}
			if (r < 0) {
				conn_fail(c, PQerrorMessage(c->pg));
				break;
			}
			if (r == 0) {
				if (conn_watch(c, true, true) < 0)
					conn_fail(c, "cannot watch the socket");
				break;
			}
			c->io = IO_RESULTS;
			if (conn_watch(c, true, false) < 0) {
				conn_fail(c, "cannot watch the socket");
				break;
			}
			continue;
		}
		/* IO_RESULTS: keep flushing what is left, then read. */
		int f = PQflush(c->pg);
		if (f < 0) {
			conn_fail(c, PQerrorMessage(c->pg));
			break;
		}
		if (conn_watch(c, true, f > 0) < 0) {
			conn_fail(c, "cannot watch the socket");
			break;
		}
		if (PQisBusy(c->pg))
			break;
		PGresult *r = PQgetResult(c->pg);
		if (!r) {
			if (PQstatus(c->pg) == CONNECTION_BAD) {
				conn_fail(c, PQerrorMessage(c->pg));
				break;
			}
			task_step_done(c); /* sends the next query or ends the task */
			continue;
		}
		switch (PQresultStatus(r)) {
		case PGRES_COPY_IN:
			if (c->task != T_INGEST) {
				PQputCopyEnd(c->pg, "unexpected COPY");
				break;
			}
			c->copy_job = c->jobs.head;
			c->copy_off = 0;
			c->io = IO_COPY;
			break;
		case PGRES_COPY_OUT:
		case PGRES_COPY_BOTH:
			PQclear(r);
			conn_fail(c, "unexpected COPY OUT");
			c->in_io = false;
			return;
		case PGRES_FATAL_ERROR:
			if (!c->failed) {
				const char *ss = PQresultErrorField(r, PG_DIAG_SQLSTATE);
				snprintf(c->sqlstate, sizeof c->sqlstate, "%s", ss ? ss : "");
				errcopy(c->err, sizeof c->err, PQresultErrorMessage(r));
			}
			c->failed = true;
			break;
		default:
			task_result(c, r);
		}
		PQclear(r);
	}
	c->in_io = false;
}

static void on_io(evutil_socket_t fd, short what, void *arg)
{
	struct conn *c = arg;
	(void)fd;
	if (c->state == CS_CONNECTING) {
		switch (PQconnectPoll(c->pg)) {
		case PGRES_POLLING_READING:
			if (conn_watch(c, true, false) < 0)
				conn_fail(c, "cannot watch the socket");
			return;
		case PGRES_POLLING_WRITING:
			if (conn_watch(c, false, true) < 0)
				conn_fail(c, "cannot watch the socket");
			return;
		case PGRES_POLLING_OK:
			break;
		default:
			conn_fail(c, PQerrorMessage(c->pg));
			return;
		}
		if (PQsetnonblocking(c->pg, 1) != 0 || conn_watch(c, true, false) < 0) {
			conn_fail(c, "cannot make the connection non-blocking");
			return;
		}
		/* session setup: statement_timeout bounds every query server-side */
		conn_set_state(c, CS_SETUP);
		c->task = T_SETUP;
		c->step = 0;
		static char setup[4096];
		if (!setup[0] &&
		    snprintf(setup, sizeof setup,
			     "SET statement_timeout = '100s'; SET client_min_messages = warning; "
			     /* rollup buckets are UTC minutes and hours whatever the server zone */
			     "SET TimeZone = 'UTC'; %s",
			     db_sql_staging_ddl()) >= (int)sizeof setup) {
			setup[0] = '\0';
			conn_fail(c, "internal: setup SQL too long");
			return;
		}
		if (conn_send(c, setup, 0, NULL))
			conn_kick(c);
		return;
	}
	if (!c->pg)
		return;
	if ((what & EV_READ) && !PQconsumeInput(c->pg)) {
		conn_fail(c, PQerrorMessage(c->pg));
		return;
	}
	if (c->state == CS_IDLE) {
		PGnotify *n;
		while ((n = PQnotifies(c->pg)))
			PQfreemem(n);
		if (PQstatus(c->pg) == CONNECTION_BAD)
			conn_fail(c, PQerrorMessage(c->pg));
		else if (what & EV_WRITE)
			conn_watch(c, true, false);
		return;
	}
	conn_kick(c);
}

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
	struct conn *c = arg;
	(void)fd;
	(void)what;
	if (c->state == CS_DOWN)
		conn_start(c);
	else if (c->state != CS_IDLE)
		conn_fail(c, c->state == CS_BUSY ? "query timed out" : "connect timed out");
}

/* Server notices (and libpq's own) go to our log, not to stderr. */
static void on_notice(void *arg, const char *msg)
{
	struct conn *c = arg;
	char m[256];
	errcopy(m, sizeof m, msg);
	log_info("db: conn %u: server says: %s", c->idx, m);
}

static void conn_start(struct conn *c)
{
	const char *keys[5], *vals[5];
	db_conn_params(c->p->conninfo, keys, vals);
	c->pg = PQconnectStartParams(keys, vals, 1);
	conn_set_state(c, CS_CONNECTING);
	if (!c->pg || PQstatus(c->pg) == CONNECTION_BAD) {
		conn_fail(c, c->pg ? PQerrorMessage(c->pg) : "out of memory");
		return;
	}
	PQsetNoticeProcessor(c->pg, on_notice, c);
	timer_in(c->timer, CONNECT_TIMEOUT_MS);
	/* libpq: behave as if PQconnectPoll had returned PGRES_POLLING_WRITING */
	if (conn_watch(c, false, true) < 0)
		conn_fail(c, "cannot watch the socket");
}

/* ---------------------------------------------------------------- tasks */

static int latest_version(void)
{
	int v = 0;
	for (size_t i = 0; i < sql_migrations_count; i++)
		if (sql_migrations[i].version > v)
			v = sql_migrations[i].version;
	return v;
}

static const char schema_sql[] =
	"SELECT (SELECT coalesce(max(version), 0) FROM schema_migrations), "
	"array_length(tw_latency_bounds(), 1)";

static void task_result(struct conn *c, PGresult *r)
{
	struct db_pool *p = c->p;
	if (PQresultStatus(r) == PGRES_COMMAND_OK) {
		if (c->task == T_INGEST && c->step == 1 && strcmp(PQcmdStatus(r), "COMMIT") == 0)
			c->committed = true;
		return;
	}
	if (PQresultStatus(r) != PGRES_TUPLES_OK)
		return;
	struct db_job *j = c->jobs.head;
	if (c->task == T_SETUP || (c->task == T_CONTROL && j && j->kind == J_SCHEMA)) {
		if (PQntuples(r) == 1) {
			p->schema_version = (int)strtol(PQgetvalue(r, 0, 0), NULL, 10);
			p->schema_buckets = PQgetisnull(r, 0, 1) ? 0 : (int)strtol(PQgetvalue(r, 0, 1), NULL, 10);
		}
	} else if (c->task == T_INGEST && c->step == 1) {
		for (int i = 0; i < PQntuples(r); i++) {
			const char *id = PQgetvalue(r, i, 0);
			for (struct db_job *k = c->jobs.head; k; k = k->next)
				if (strcmp(k->probe_id, id) == 0)
					k->inserted = (size_t)strtoull(PQgetvalue(r, i, 1), NULL, 10);
		}
	} else if (c->task == T_CONTROL && j && j->kind == J_LAST_SEQ) {
		if (PQntuples(r) == 1 && !PQgetisnull(r, 0, 0)) {
			j->found = true;
			j->seq = strtoull(PQgetvalue(r, 0, 0), NULL, 10);
		}
	} else if (c->task == T_CONTROL && j && j->kind == J_MAINTAIN) {
		for (int i = 0; i < PQntuples(r); i++) {
			const char *a = PQgetvalue(r, i, 0);
			if (strcmp(a, "created") == 0 || strcmp(a, "dropped") == 0)
				log_info("db: partition %s %s", PQgetvalue(r, i, 1), a);
			else
				log_warn("db: partition %s %s: %s", PQgetvalue(r, i, 1), a,
					 PQgetvalue(r, i, 2));
		}
	}
}

static bool schema_ok(const struct db_pool *p)
{
	return p->schema_version >= p->latest && p->schema_buckets == DB_LATENCY_BUCKETS;
}

/* The task is over: the connection is idle again; then the callbacks. */
static void task_end(struct conn *c, struct jobq *done, bool ok, const char *err)
{
	struct db_pool *p = c->p;
	c->task = T_NONE;
	event_del(c->timer);
	conn_set_state(c, CS_IDLE);
	if (conn_watch(c, true, false) < 0)
		conn_fail(c, "cannot watch the socket"); /* c holds no job now */
	struct db_job *j;
	while ((j = q_pop(done)))
		job_finish(p, j, ok, err);
	pool_changed(p);
}

static void ingest_ended(struct conn *c)
{
	struct db_pool *p = c->p;
	struct jobq done = { 0 }, retry = { 0 };
	struct db_job *j;

	if (!c->failed && c->committed) {
		while ((j = q_pop(&c->jobs)))
			q_push(&done, j);
		task_end(c, &done, true, NULL);
		return;
	}
	const char *err = c->failed ? c->err : "COMMIT did not commit";
	bool transient = strcmp(c->sqlstate, "40P01") == 0 || strcmp(c->sqlstate, "40001") == 0;
	log_warn("db: conn %u: batch of %zu job(s) failed: %s%s", c->idx, c->jobs.n, err,
		 transient ? " (retrying)" : "");
	while ((j = q_pop(&c->jobs))) {
		if (transient && ++j->retries < RETRY_MAX) {
			q_push(&retry, j);
			p->queued_rows += j->rows;
		} else {
			q_push(&done, j);
		}
	}
	q_prepend(&p->ingq, &retry);
	struct jobq all = { 0 };
	while ((j = q_pop(&done))) {
		q_push(&all, j);
		fail_probe_queue(p, j->probe_id, &all);
	}
	char why[256];
	errcopy(why, sizeof why, err);
	task_end(c, &all, false, why);
}

static void task_step_done(struct conn *c)
{
	struct db_pool *p = c->p;
	struct db_job *j = c->jobs.head;
	struct jobq done = { 0 };

	switch (c->task) {
	case T_SETUP:
		if (c->step == 0) {
			if (c->failed) {
				conn_fail(c, c->err);
				return;
			}
			c->step = 1;
			conn_send(c, schema_sql, 0, NULL);
			return;
		}
		if (c->failed) {
			/* not migrated yet: the connection still serves nothing useful */
			p->schema_version = 0;
			log_debug("db: schema check: %s", c->err);
		}
		if (!schema_ok(p))
			log_warn("db: schema version %d (latest %d, %d latency buckets): not ready",
				 p->schema_version, p->latest, p->schema_buckets);
		c->backoff_ms = p->o.reconnect_min_ms;
		if (c->ever_up)
			p->st.reconnects++;
		c->ever_up = true;
		log_info("db: conn %u up", c->idx);
		task_end(c, &done, true, NULL);
		return;
	case T_INGEST:
		if (c->step == 0 && !c->failed) {
			c->step = 1;
			conn_send(c, db_sql_ingest(), 0, NULL);
			return;
		}
		if (c->step < 2 && (c->failed || !c->committed) &&
		    PQtransactionStatus(c->pg) != PQTRANS_IDLE) {
			c->step = 2;
			bool f = c->failed;
			char err[sizeof c->err], ss[sizeof c->sqlstate];
			memcpy(err, c->err, sizeof err);
			memcpy(ss, c->sqlstate, sizeof ss);
			if (!conn_send(c, "ROLLBACK", 0, NULL))
				return;
			c->failed = f; /* keep the first error */
			memcpy(c->err, err, sizeof err);
			memcpy(c->sqlstate, ss, sizeof ss);
			return;
		}
		ingest_ended(c);
		return;
	case T_CONTROL:
		q_pop(&c->jobs);
		if (c->failed && j->kind != J_SCHEMA)
			log_warn("db: conn %u: %s failed: %s", c->idx,
				 j->kind == J_SEEN ? "probe record" : j->kind == J_LAST_SEQ ? "last seq"
				 : j->kind == J_MAINTAIN ? "partition maintenance" : "schema check", c->err);
		if (j->kind == J_MAINTAIN) {
			p->maint_queued = false;
			p->next_maint = tw_mono_ms() + (c->failed ? MAINT_RETRY_MS : MAINT_EVERY_MS);
		} else if (j->kind == J_SCHEMA) {
			p->schema_queued = false;
			if (c->failed) {
				p->schema_version = 0;
				log_debug("db: schema check: %s", c->err);
			}
		}
		bool ok = !c->failed;
		char err[sizeof c->err];
		memcpy(err, c->err, sizeof err);
		q_push(&done, j);
		task_end(c, &done, ok, err);
		return;
	case T_NONE:
		return;
	}
}

static bool probe_in_flight(const struct db_pool *p, const char *probe_id)
{
	for (unsigned i = 0; i < p->nconns; i++) {
		const struct conn *c = &p->conns[i];
		if (c->task != T_INGEST)
			continue;
		for (const struct db_job *j = c->jobs.head; j; j = j->next)
			if (strcmp(j->probe_id, probe_id) == 0)
				return true;
	}
	return false;
}

static bool in_list(char *const *v, size_t n, const char *s)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(v[i], s) == 0)
			return true;
	return false;
}

/* Takes the next group of ingest jobs: the first queued job of each probe
 * that has none in flight, distinct probes only, in queue order. */
static bool take_group(struct db_pool *p, struct jobq *out)
{
	char *blocked[GROUP_MAX_JOBS * 4];
	size_t nb = 0, rows = 0, scanned = 0;
	struct db_job **pp = &p->ingq.head, *prev = NULL;

	while (*pp && out->n < GROUP_MAX_JOBS && scanned++ < 4096) {
		struct db_job *j = *pp;
		bool skip = in_list(blocked, nb, j->probe_id) || probe_in_flight(p, j->probe_id) ||
			    (out->n > 0 && rows + j->rows > GROUP_MAX_ROWS);
		if (!skip) {
			*pp = j->next;
			if (p->ingq.tail == j)
				p->ingq.tail = prev;
			p->ingq.n--;
			p->queued_rows -= j->rows;
			rows += j->rows;
			q_push(out, j);
		} else {
			prev = j;
			pp = &j->next;
		}
		if (!in_list(blocked, nb, j->probe_id)) {
			if (nb == sizeof blocked / sizeof blocked[0])
				break;
			blocked[nb++] = j->probe_id;
		}
	}
	return out->n > 0;
}

static void pool_dispatch(struct db_pool *p)
{
	for (unsigned i = 0; i < p->nconns; i++) {
		struct conn *c = &p->conns[i];
		if (c->state != CS_IDLE)
			continue;
		struct db_job *j = q_pop(&p->ctlq);
		if (j) {
			q_push(&c->jobs, j);
			c->task = T_CONTROL;
			c->step = 0;
			conn_set_state(c, CS_BUSY);
			timer_in(c->timer, TASK_TIMEOUT_MS);
			char a[32], b[32], d[32];
			bool sent;
			switch (j->kind) {
			case J_SEEN: {
				snprintf(a, sizeof a, "%.3f", j->clock_offset_ms);
				snprintf(b, sizeof b, "%lld", (long long)j->seen_ms);
				const char *v[5] = { j->probe_id, j->region, j->version,
						     isfinite(j->clock_offset_ms) ? a : NULL, b };
				sent = conn_send(c,
					"INSERT INTO probes (probe_id, region, version, first_seen, last_seen, "
					"clock_offset_ms) VALUES ($1, $2, $3, to_timestamp($5::bigint / 1000.0), "
					"to_timestamp($5::bigint / 1000.0), $4) ON CONFLICT (probe_id) DO UPDATE SET "
					"region = EXCLUDED.region, version = coalesce(EXCLUDED.version, probes.version), "
					"last_seen = greatest(probes.last_seen, EXCLUDED.last_seen), "
					"clock_offset_ms = coalesce(EXCLUDED.clock_offset_ms, probes.clock_offset_ms)",
					5, v);
				break;
			}
			case J_LAST_SEQ: {
				const char *v[1] = { j->probe_id };
				sent = conn_send(c, "SELECT last_seq FROM probes WHERE probe_id = $1", 1, v);
				break;
			}
			case J_MAINTAIN: {
				snprintf(a, sizeof a, "%u", p->o.retention_days);
				snprintf(d, sizeof d, "%u", p->o.partitions_ahead_days);
				const char *v[2] = { a, d };
				sent = conn_send(c, "SELECT action, partition_name, detail FROM "
						    "tw_maintain_partitions($1::integer, $2::integer)", 2, v);
				break;
			}
			default:
				sent = conn_send(c, schema_sql, 0, NULL);
			}
			if (sent)
				conn_kick(c);
			continue;
		}
		if (!take_group(p, &c->jobs))
			break;
		c->task = T_INGEST;
		c->step = 0;
		conn_set_state(c, CS_BUSY);
		timer_in(c->timer, TASK_TIMEOUT_MS);
		static char begin[2048];
		if (!begin[0] && snprintf(begin, sizeof begin, "BEGIN; %s", db_sql_copy()) >= (int)sizeof begin)
			abort(); /* the column table outgrew the buffer: a build-time bug */
		if (conn_send(c, begin, 0, NULL))
			conn_kick(c);
	}
}

/* ----------------------------------------------------------------- pool */

static bool can_accept(const struct db_pool *p)
{
	return p->up > 0 && p->queued_rows <= p->o.queue_max_rows;
}

static void queue_control(struct db_pool *p, enum job_kind k)
{
	struct db_job *j = calloc(1, sizeof *j);
	if (!j)
		return;
	j->kind = k;
	q_push(&p->ctlq, j);
	if (k == J_MAINTAIN)
		p->maint_queued = true;
	else
		p->schema_queued = true;
}

/* Schema re-check while not ready; partition upkeep when due. */
static void pool_housekeeping(struct db_pool *p)
{
	if (p->up == 0)
		return;
	if (!schema_ok(p)) {
		if (!p->schema_queued && tw_mono_ms() >= p->next_schema) {
			p->next_schema = tw_mono_ms() + TICK_MS;
			queue_control(p, J_SCHEMA);
		}
		return;
	}
	if (!p->maint_queued && tw_mono_ms() >= p->next_maint)
		queue_control(p, J_MAINTAIN);
}

/* After any change of connections or queue: dispatch, and tell the server
 * (through the kick event, never from inside a caller) when accepting
 * resumes. */
static void pool_changed(struct db_pool *p)
{
	pool_housekeeping(p);
	pool_dispatch(p);
	bool now = can_accept(p);
	if (now && !p->accepting) {
		p->ready_pending = true;
		event_active(p->kick, EV_TIMEOUT, 0);
	}
	p->accepting = now;
}

static void on_kick(evutil_socket_t fd, short what, void *arg)
{
	struct db_pool *p = arg;
	(void)fd;
	(void)what;
	pool_dispatch(p);
	pool_changed(p);
	if (p->ready_pending && can_accept(p)) {
		p->ready_pending = false;
		if (p->ready_cb)
			p->ready_cb(p->ready_arg);
	}
}

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
	struct db_pool *p = arg;
	(void)fd;
	(void)what;
	pool_changed(p);
}

struct db_pool *db_pool_new(struct event_base *base, const struct db_opts *o, char *err,
			    size_t errlen)
{
	if (!base || !o || !o->conninfo) {
		snprintf(err, errlen, "db: no event base or conninfo");
		return NULL;
	}
	struct db_pool *p = calloc(1, sizeof *p);
	if (!p)
		goto oom;
	p->base = base;
	p->o = *o;
	if (!p->o.connections)
		p->o.connections = 4;
	if (!p->o.queue_max_rows)
		p->o.queue_max_rows = 50000;
	if (!p->o.reconnect_min_ms)
		p->o.reconnect_min_ms = 250;
	if (!p->o.reconnect_max_ms)
		p->o.reconnect_max_ms = 10000;
	if (p->o.reconnect_max_ms < p->o.reconnect_min_ms)
		p->o.reconnect_max_ms = p->o.reconnect_min_ms;
	if (!p->o.retention_days)
		p->o.retention_days = 30;
	if (!p->o.partitions_ahead_days)
		p->o.partitions_ahead_days = 3;
	if (p->o.connections > 64 || p->o.retention_days > 100000 || p->o.partitions_ahead_days > 100000) {
		snprintf(err, errlen, "db: connections (<= 64) or retention/ahead days out of range");
		free(p);
		return NULL;
	}
	p->latest = latest_version();
	p->nconns = p->o.connections;
	p->conninfo = strdup(o->conninfo);
	p->conns = calloc(p->nconns, sizeof *p->conns);
	p->kick = event_new(base, -1, 0, on_kick, p);
	p->tick = event_new(base, -1, EV_PERSIST, on_tick, p);
	if (!p->conninfo || !p->conns || !p->kick || !p->tick || !db_sql_ingest() ||
	    !db_sql_copy() || !db_sql_staging_ddl())
		goto oom;
	for (unsigned i = 0; i < p->nconns; i++) {
		struct conn *c = &p->conns[i];
		c->p = p;
		c->idx = i;
		c->fd = -1;
		c->backoff_ms = p->o.reconnect_min_ms;
		c->timer = evtimer_new(base, on_timer, c);
		if (!c->timer)
			goto oom;
	}
	timer_in(p->tick, TICK_MS);
	for (unsigned i = 0; i < p->nconns; i++)
		conn_start(&p->conns[i]);
	return p;
oom:
	snprintf(err, errlen, "db: out of memory");
	db_pool_free(p);
	return NULL;
}

/* Closes every connection (an open transaction is rolled back by the
 * server) and frees every job, queued or running, WITHOUT calling their
 * callbacks: the caller is shutting down. Must not be called from inside a
 * db callback. */
void db_pool_free(struct db_pool *p)
{
	if (!p)
		return;
	for (unsigned i = 0; p->conns && i < p->nconns; i++) {
		struct conn *c = &p->conns[i];
		conn_drop_events(c);
		if (c->timer)
			event_free(c->timer);
		if (c->pg)
			PQfinish(c->pg);
		job_free_all(&c->jobs);
	}
	job_free_all(&p->ingq);
	job_free_all(&p->ctlq);
	if (p->kick)
		event_free(p->kick);
	if (p->tick)
		event_free(p->tick);
	if (p->conninfo) {
		memset(p->conninfo, 0, strlen(p->conninfo));
		free(p->conninfo);
	}
	free(p->conns);
	free(p);
}

void db_on_ready(struct db_pool *p, void (*cb)(void *arg), void *arg)
{
	p->ready_cb = cb;
	p->ready_arg = arg;
}

bool db_can_accept(const struct db_pool *p)
{
	return p && can_accept(p);
}

bool db_is_ready(const struct db_pool *p)
{
	return p && p->up > 0 && schema_ok(p);
}

struct db_job *db_ingest(struct db_pool *p, const char *probe_id, const char *region,
			 const char *probe_version, Tlswatch__Result *const *results, size_t n,
			 int64_t received_unix_ms, db_ingest_cb cb, void *arg)
{
	if (!p || !probe_id || !region || (n && !results)) {
		errno = EINVAL;
		return NULL;
	}
	if (!can_accept(p)) {
		p->accepting = false;
		errno = EAGAIN;
		return NULL;
	}
	struct db_job *j = calloc(1, sizeof *j);
	if (!j || !(j->probe_id = strdup(probe_id))) {
		free(j);
		errno = ENOMEM;
		return NULL;
	}
	j->kind = J_INGEST;
	j->cb = cb;
	j->arg = arg;
	j->rows = n;
	for (size_t i = 0; i < n; i++) {
		if (db_copy_result(&j->copy, results[i], probe_id, region, probe_version,
				   received_unix_ms) < 0) {
			log_warn("db: probe %s: result %zu of %zu cannot be stored (no seq or a required "
				 "field missing): batch refused", probe_id, i, n);
			job_free(j);
			errno = EINVAL;
			return NULL;
		}
		if (results[i]->seq > j->max_seq)
			j->max_seq = results[i]->seq;
	}
	if (j->copy.oom) {
		job_free(j);
		errno = ENOMEM;
		return NULL;
	}
	q_push(&p->ingq, j);
	p->queued_rows += n;
	p->accepting = can_accept(p);
	event_active(p->kick, EV_TIMEOUT, 0); /* dispatch on the loop, not in here */
	return j;
}

void db_job_cancel(struct db_job *j)
{
	if (j) {
		j->cb = NULL;
		j->seq_cb = NULL;
	}
}

void db_probe_seen(struct db_pool *p, const char *probe_id, const char *region,
		   const char *version, double clock_offset_ms)
{
	if (!p || !probe_id || !region || p->up == 0 || p->ctlq.n >= CTL_QUEUE_MAX) {
		log_debug("db: probe %s: seen record dropped (no connection or queue full)",
			  probe_id ? probe_id : "?");
		return;
	}
	struct db_job *j = calloc(1, sizeof *j);
	if (!j)
		return;
	j->kind = J_SEEN;
	j->probe_id = strdup(probe_id);
	j->region = strdup(region);
	j->version = version ? strdup(version) : NULL;
	j->clock_offset_ms = clock_offset_ms;
	j->seen_ms = tw_wall_ms();
	if (!j->probe_id || !j->region || (version && !j->version)) {
		job_free(j);
		return;
	}
	q_push(&p->ctlq, j);
	event_active(p->kick, EV_TIMEOUT, 0);
}

int db_last_seq(struct db_pool *p, const char *probe_id,
		void (*cb)(void *arg, bool found, uint64_t seq), void *arg)
{
	if (!p || !probe_id || p->up == 0)
		return -1;
	struct db_job *j = calloc(1, sizeof *j);
	if (!j || !(j->probe_id = strdup(probe_id))) {
		free(j);
		return -1;
	}
	j->kind = J_LAST_SEQ;
	j->seq_cb = cb;
	j->arg = arg;
	q_push(&p->ctlq, j);
	event_active(p->kick, EV_TIMEOUT, 0);
	return 0;
}

void db_get_stats(const struct db_pool *p, struct db_stats *st)
{
	*st = p->st;
	st->connections_up = p->up;
	st->queued_rows = p->queued_rows;
}
