/*
 * db_pool.c - the asynchronous connection pool of db.h.
 *
 * N slots (struct db_conn), each one pgconn (pgconn.h: connect, session
 * setup, reconnect with backoff and jitter) and the task running on it. A
 * task is a short sequence of requests on its slot's connection: the next
 * one is sent from the previous one's "done", so a task keeps its
 * connection (and its transaction) to the end. The session setup creates
 * the temp table `ingest_roll`; after every connect the slot reads the schema
 * version (T_CHECK) before it takes work.
 *
 * Tasks: the ingest task (db_ingest.c) and control tasks, one job each:
 * probe hello/heartbeat records, the last seq lookup, the schema re-check
 * while not ready, and partition upkeep (tw_maintain_partitions) hourly.
 *
 * A connection that breaks under a task requeues its batches (up to
 * BROKEN_MAX times; a batch whose COMMIT outcome is unknown runs again, and
 * the replay inserts nothing) and fails its control job.
 *
 * Lifetime: slots live as long as the pool (pgconn replaces its PGconn by
 * itself), so no callback frees its own object. Jobs are freed right after
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

#define BROKEN_MAX 3          /* connection lost while the batch ran */
#define CONNECT_TIMEOUT_MS 15000
#define TICK_MS 5000          /* schema re-check while not ready; maintenance */
#define MAINT_EVERY_MS (3600 * 1000)
#define MAINT_RETRY_MS (300 * 1000)
#define CTL_QUEUE_MAX 10000   /* hello/heartbeat records waiting */

static const char schema_sql[] =
	"SELECT (SELECT coalesce(max(version), 0) FROM schema_migrations), "
	"CASE WHEN tw_latency_bounds() = '{" DB_LATENCY_BOUNDS "}'::double precision[] "
	"THEN array_length(tw_latency_bounds(), 1) ELSE -1 END";

/* ------------------------------------------------------------- jobs */

void db_q_push(struct db_jobq *q, struct db_job *j)
{
	j->next = NULL;
	if (q->tail)
		q->tail->next = j;
	else
		q->head = j;
	q->tail = j;
	q->n++;
}

struct db_job *db_q_pop(struct db_jobq *q)
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

void db_q_prepend(struct db_jobq *q, struct db_jobq *front)
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

void db_job_free(struct db_job *j)
{
	if (!j)
		return;
	strbuf_free(&j->copy);
	strbuf_free(&j->arena);
	free(j->rowv);
	free(j->exist);
	free(j->probe_id);
	free(j->epoch);
	free(j->region);
	free(j->version);
	free(j);
}

static void job_free_all(struct db_jobq *q)
{
	struct db_job *j;
	while ((j = db_q_pop(q)))
		db_job_free(j);
}

void db_pool_job_finish(struct db_pool *p, struct db_job *j, bool ok, const char *err)
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
	db_job_free(j);
}

/* ----------------------------------------------------------- slots */

static int latest_version(void)
{
	int v = 0;
	for (size_t i = 0; i < sql_migrations_count; i++)
		if (sql_migrations[i].version > v)
			v = sql_migrations[i].version;
	return v;
}

static bool schema_ok(const struct db_pool *p)
{
	return p->schema_version >= p->latest && p->schema_buckets == DB_LATENCY_BUCKETS;
}

/* The connection broke under c's task (or a request could not be sent):
 * requeue or fail its jobs. */
static void conn_lost(struct db_conn *c, const char *why)
{
	struct db_pool *p = c->p;
	struct db_jobq failed = { 0 }, requeue = { 0 };
	struct db_job *j;
	char reason[256];

	snprintf(reason, sizeof reason, "%s", why ? why : "connection lost");
	while ((j = db_q_pop(&c->jobs))) {
		if (j->kind == J_INGEST && ++j->broken < BROKEN_MAX) {
			db_q_push(&requeue, j);
			p->queued_rows += j->rows;
		} else {
			if (j->kind == J_MAINTAIN) {
				p->maint_queued = false;
				p->next_maint = twtime_mono_ms() + MAINT_RETRY_MS;
			}
			if (j->kind == J_SCHEMA)
				p->schema_queued = false;
			db_q_push(&failed, j);
		}
	}
	db_q_prepend(&p->ingq, &requeue);
	c->task = T_NONE;
	db_plan_free(c);

	/* failed ingest jobs take their probe's queued jobs with them */
	struct db_jobq all = { 0 };
	while ((j = db_q_pop(&failed))) {
		db_q_push(&all, j);
		if (j->kind == J_INGEST)
			db_ingest_fail_probe(p, j->probe_id, &all);
	}
	while ((j = db_q_pop(&all)))
		db_pool_job_finish(p, j, false, reason);
	db_pool_changed(p);
}

static void control_result(struct db_conn *c, const PGresult *r)
{
	struct db_pool *p = c->p;
	struct db_job *j = c->jobs.head;
	if (PQresultStatus(r) != PGRES_TUPLES_OK)
		return;
	if (c->task == T_CHECK || (c->task == T_CONTROL && j && j->kind == J_SCHEMA)) {
		if (PQntuples(r) == 1) {
			p->schema_version = (int)strtol(PQgetvalue(r, 0, 0), NULL, 10);
			p->schema_buckets = PQgetisnull(r, 0, 1) ? 0 : (int)strtol(PQgetvalue(r, 0, 1), NULL, 10);
		}
	} else if (c->task == T_CONTROL && j && j->kind == J_LAST_SEQ) {
		if (PQntuples(r) == 1 && !PQgetisnull(r, 0, 0)) {
			j->found = true;
			j->seq = strtoull(PQgetvalue(r, 0, 0), NULL, 10);
		}
	} else if (c->task == T_CONTROL && j && (j->kind == J_MAINTAIN || j->kind == J_MAINTAIN_1M)) {
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

void db_pool_task_end(struct db_conn *c, struct db_jobq *done, bool ok, const char *err)
{
	struct db_pool *p = c->p;
	c->task = T_NONE;
	db_plan_free(c);
	struct db_job *j;
	while ((j = db_q_pop(done)))
		db_pool_job_finish(p, j, ok, err);
	db_pool_changed(p);
}

static void check_done(struct db_conn *c)
{
	struct db_pool *p = c->p;
	struct db_jobq none = { 0 };
	if (c->failed) {
		/* not migrated yet: the connection still serves nothing useful */
		p->schema_version = 0;
		log_debug("db: schema check: %s", c->err);
	}
	if (!schema_ok(p))
		log_warn("db: schema version %d (latest %d, %d latency buckets): not ready",
			 p->schema_version, p->latest, p->schema_buckets);
	c->checked = true;
	p->up++;
	log_info("db: conn %u up", c->idx);
	db_pool_task_end(c, &none, true, NULL);
}

static void control_done(struct db_conn *c)
{
	struct db_pool *p = c->p;
	struct db_job *j = db_q_pop(&c->jobs);
	struct db_jobq done = { 0 };
	if (c->failed && j->kind != J_SCHEMA)
		log_warn("db: conn %u: %s failed: %s", c->idx,
			 j->kind == J_SEEN ? "probe record" : j->kind == J_LAST_SEQ ? "last seq"
			 : j->kind == J_MAINTAIN || j->kind == J_MAINTAIN_1M ? "partition maintenance"
			 : "schema check", c->err);
	if (j->kind == J_MAINTAIN) {
		p->maint_queued = false;
		p->next_maint = twtime_mono_ms() + (c->failed ? MAINT_RETRY_MS : MAINT_EVERY_MS);
	} else if (j->kind == J_SCHEMA) {
		p->schema_queued = false;
		if (c->failed) {
			p->schema_version = 0;
			log_debug("db: schema check: %s", c->err);
		}
	}
	char err[sizeof c->err];
	memcpy(err, c->err, sizeof err);
	db_q_push(&done, j);
	db_pool_task_end(c, &done, !c->failed, err);
}

/* pgconn_cb of every request of every slot. */
static void on_reply(void *arg, struct pgconn *pg, struct pgconn_reply *rep)
{
	struct db_conn *c = arg;
	(void)pg;
	if (rep->result) {
		if (c->task == T_INGEST)
			db_ingest_result(c, rep->result);
		else
			control_result(c, rep->result);
		return;
	}
	if (rep->outcome == PGCONN_LOST) {
		conn_lost(c, rep->err);
		return;
	}
	if (rep->outcome == PGCONN_ERROR && !c->failed) {
		c->failed = true;
		snprintf(c->err, sizeof c->err, "%s", rep->err ? rep->err : "error");
		snprintf(c->sqlstate, sizeof c->sqlstate, "%s", rep->sqlstate ? rep->sqlstate : "");
	}
	switch (c->task) {
	case T_CHECK:
		check_done(c);
		return;
	case T_INGEST:
		db_ingest_step_done(c);
		return;
	case T_CONTROL:
		control_done(c);
		return;
	case T_NONE:
		return;
	}
}

bool db_pool_send(struct db_conn *c, const char *sql, int n, const char *const *vals,
		  pgconn_copy_cb copy)
{
	struct pgconn_request rq = {
		.sql = sql, .nparams = n, .params = vals, .timeout_ms = DB_TASK_TIMEOUT_MS,
		.copy_data = copy, .cb = on_reply, .arg = c,
	};
	if (c->step == 0) {
		c->failed = c->committed = false;
		c->err[0] = c->sqlstate[0] = '\0';
	}
	if (pgconn_submit(c->pg, &rq) == 0)
		return true;
	conn_lost(c, "cannot send the request");
	return false;
}

/* pgconn on_state: up -> read the schema first; down -> stop counting it. */
static void on_conn_state(void *arg, struct pgconn *pg, bool up, const char *why)
{
	struct db_conn *c = arg;
	struct db_pool *p = c->p;
	(void)pg;
	(void)why;
	if (up) {
		c->task = T_CHECK;
		c->step = 0;
		db_pool_send(c, schema_sql, 0, NULL, NULL);
		return;
	}
	if (c->checked) {
		c->checked = false;
		p->up--;
	}
	db_pool_changed(p);
}

/*
 * A probe's hello ($6..$9 NULL) or heartbeat: last_seen, version, clock
 * offset, and the heartbeat's spool counters (sql/006_probe_spool.sql).
 * dropped_at moves when the dropped counter shows new drops: it grew, or it
 * is non-zero and differs after the probe restarted (the counter restarts
 * at 0 with the process). A counter the heartbeat lacks keeps its value.
 */
static const char sql_probe_seen[] =
	"INSERT INTO probes (probe_id, region, version, first_seen, last_seen, clock_offset_ms, "
	"  spool_records, spool_bytes, dropped_total, overdue_total, counters_at, dropped_at) "
	"VALUES ($1, $2, $3, to_timestamp($5::bigint / 1000.0), to_timestamp($5::bigint / 1000.0), "
	"  $4, $6::bigint, $7::bigint, $8::bigint, $9::bigint, "
	"  CASE WHEN coalesce($6::bigint, $7::bigint, $8::bigint, $9::bigint) IS NOT NULL THEN to_timestamp($5::bigint / 1000.0) END, "
	"  CASE WHEN $8::bigint > 0 THEN to_timestamp($5::bigint / 1000.0) END) "
	"ON CONFLICT (probe_id) DO UPDATE SET "
	"region = EXCLUDED.region, version = coalesce(EXCLUDED.version, probes.version), "
	"last_seen = greatest(probes.last_seen, EXCLUDED.last_seen), "
	"clock_offset_ms = coalesce(EXCLUDED.clock_offset_ms, probes.clock_offset_ms), "
	"spool_records = coalesce(EXCLUDED.spool_records, probes.spool_records), "
	"spool_bytes = coalesce(EXCLUDED.spool_bytes, probes.spool_bytes), "
	"overdue_total = coalesce(EXCLUDED.overdue_total, probes.overdue_total), "
	"dropped_total = coalesce(EXCLUDED.dropped_total, probes.dropped_total), "
	"counters_at = coalesce(EXCLUDED.counters_at, probes.counters_at), "
	"dropped_at = CASE WHEN EXCLUDED.dropped_total > 0 AND (probes.dropped_total IS NULL "
	"  OR EXCLUDED.dropped_total <> probes.dropped_total) "
	"  THEN EXCLUDED.last_seen ELSE probes.dropped_at END";

static void send_control(struct db_conn *c, struct db_job *j)
{
	struct db_pool *p = c->p;
	char a[32], b[32], d[32];
	db_q_push(&c->jobs, j);
	c->task = T_CONTROL;
	c->step = 0;
	switch (j->kind) {
	case J_SEEN: {
		char n[4][24];
		const struct db_probe_counters *k = &j->counters;
		const bool has[4] = { k->has_spool_records, k->has_spool_bytes, k->has_dropped,
				      k->has_overdue };
		const uint64_t val[4] = { k->spool_records, k->spool_bytes, k->dropped, k->overdue };
		for (int i = 0; i < 4; i++)
			snprintf(n[i], sizeof n[i], "%llu", (unsigned long long)val[i]);
		snprintf(a, sizeof a, "%.3f", j->clock_offset_ms);
		snprintf(b, sizeof b, "%lld", (long long)j->seen_ms);
		const char *v[9] = { j->probe_id, j->region, j->version,
				     isfinite(j->clock_offset_ms) ? a : NULL, b,
				     has[0] ? n[0] : NULL, has[1] ? n[1] : NULL,
				     has[2] ? n[2] : NULL, has[3] ? n[3] : NULL };
		db_pool_send(c, sql_probe_seen, 9, v, NULL);
		return;
	}
	case J_LAST_SEQ: {
		const char *v[2] = { j->probe_id, j->epoch };
		db_pool_send(c, "SELECT last_seq FROM probe_spools WHERE probe_id = $1 "
				"AND spool_epoch = $2", 2, v, NULL);
		return;
	}
	case J_MAINTAIN_1M: {
		snprintf(d, sizeof d, "%u", p->o.partitions_ahead_days);
		const char *v[1] = { d };
		db_pool_send(c, "SELECT action, partition_name, detail FROM "
				"tw_maintain_minute_partitions($1::integer)", 1, v, NULL);
		return;
	}
	case J_MAINTAIN: {
		snprintf(a, sizeof a, "%u", p->o.retention_days);
		snprintf(d, sizeof d, "%u", p->o.partitions_ahead_days);
		const char *v[2] = { a, d };
		db_pool_send(c, "SELECT action, partition_name, detail FROM "
				"tw_maintain_partitions($1::integer, $2::integer)", 2, v, NULL);
		return;
	}
	default:
		db_pool_send(c, schema_sql, 0, NULL, NULL);
	}
}

static void pool_dispatch(struct db_pool *p)
{
	for (unsigned i = 0; i < p->nconns; i++) {
		struct db_conn *c = &p->conns[i];
		if (!c->checked || c->task != T_NONE || !pgconn_is_idle(c->pg))
			continue;
		struct db_job *j = db_q_pop(&p->ctlq);
		if (j) {
			send_control(c, j);
			continue;
		}
		if (!db_ingest_start(c))
			break;
	}
}

/* ----------------------------------------------------------------- pool */

bool db_pool_can_accept(const struct db_pool *p)
{
	return p->up > 0 && p->queued_rows <= p->o.queue_max_rows;
}

static void queue_control(struct db_pool *p, enum db_job_kind k)
{
	struct db_job *j = calloc(1, sizeof *j);
	if (!j)
		return;
	j->kind = k;
	db_q_push(&p->ctlq, j);
	if (k == J_MAINTAIN)
		p->maint_queued = true;
	else if (k == J_SCHEMA)
		p->schema_queued = true;
}

/* Schema re-check while not ready; partition upkeep when due. */
static void pool_housekeeping(struct db_pool *p)
{
	if (p->up == 0)
		return;
	if (!schema_ok(p)) {
		if (!p->schema_queued && twtime_mono_ms() >= p->next_schema) {
			p->next_schema = twtime_mono_ms() + TICK_MS;
			queue_control(p, J_SCHEMA);
		}
		return;
	}
	/* two statements, two transactions (sql/020_rollup_1m_builder.sql):
	 * rollup_1m's partitions, then results' and the other retentions */
	if (!p->maint_queued && twtime_mono_ms() >= p->next_maint) {
		queue_control(p, J_MAINTAIN_1M);
		queue_control(p, J_MAINTAIN);
	}
}

void db_pool_changed(struct db_pool *p)
{
	pool_housekeeping(p);
	pool_dispatch(p);
	bool now = db_pool_can_accept(p);
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
	db_pool_changed(p);
	if (p->ready_pending && db_pool_can_accept(p)) {
		p->ready_pending = false;
		if (p->ready_cb)
			p->ready_cb(p->ready_arg);
	}
}

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	db_pool_changed(arg);
}

static void timer_in(struct event *ev, unsigned ms)
{
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };
	event_add(ev, &tv);
}

struct db_pool *db_pool_new(struct event_base *base, const struct db_opts *o, char *err,
			    size_t errlen)
{
	static char setup[4096];
	if (!base || !o || !o->conninfo) {
		snprintf(err, errlen, "db: no event base or conninfo");
		return NULL;
	}
	/* a permanently invalid option (or one from the environment) would
	 * fail every connect, retried for ever: refuse to start instead */
	char why[384];
	if (db_conninfo_check(o->conninfo, why, sizeof why) != 0) {
		snprintf(err, errlen, "conninfo %s", why);
		return NULL;
	}
	struct db_pool *p = calloc(1, sizeof *p);
	if (!p)
		goto oom;
	p->base = base;
	p->o = *o;
	p->o.conninfo = NULL; /* the pgconns keep (and wipe) their copies */
	if (!p->o.connections)
		p->o.connections = 4;
	if (!p->o.queue_max_rows)
		p->o.queue_max_rows = 50000;
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
	p->conns = calloc(p->nconns, sizeof *p->conns);
	p->kick = event_new(base, -1, 0, on_kick, p);
	p->tick = event_new(base, -1, EV_PERSIST, on_tick, p);
	if (!p->conns || !p->kick || !p->tick || !db_sql_ingest() || !db_sql_copy())
		goto oom;
	/* statement_timeout bounds every query server-side; rollup buckets are
	 * UTC minutes and hours whatever the server's zone */
	if (!setup[0] &&
	    snprintf(setup, sizeof setup,
		     "SET statement_timeout = '100s'; SET client_min_messages = warning; "
		     "SET TimeZone = 'UTC'") >= (int)sizeof setup)
		abort(); /* the column table outgrew the buffer: a build-time bug */
	for (unsigned i = 0; i < p->nconns; i++) {
		struct db_conn *c = &p->conns[i];
		char name[32];
		snprintf(name, sizeof name, "db: conn %u", i);
		c->p = p;
		c->idx = i;
		struct pgconn_opts po = {
			.conninfo = o->conninfo, .app_name = "tlswatch-collector", .name = name,
			.setup_sql = setup, .connect_timeout_ms = CONNECT_TIMEOUT_MS,
			.reconnect_min_ms = o->reconnect_min_ms, .reconnect_max_ms = o->reconnect_max_ms,
			.on_state = on_conn_state, .arg = c,
		};
		if (!(c->pg = pgconn_new(base, &po, err, errlen))) {
			db_pool_free(p);
			return NULL;
		}
	}
	timer_in(p->tick, TICK_MS);
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
		struct db_conn *c = &p->conns[i];
		pgconn_free(c->pg);
		job_free_all(&c->jobs);
		db_plan_free(c);
	}
	job_free_all(&p->ingq);
	job_free_all(&p->ctlq);
	db_tab_clear(&p->seen_sights);
	db_tab_clear(&p->seen_targets);
	if (p->kick)
		event_free(p->kick);
	if (p->tick)
		event_free(p->tick);
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
	return p && db_pool_can_accept(p);
}

bool db_is_ready(const struct db_pool *p)
{
	return p && p->up > 0 && schema_ok(p);
}

void db_job_cancel(struct db_job *j)
{
	if (j) {
		j->cb = NULL;
		j->seq_cb = NULL;
	}
}

void db_probe_seen(struct db_pool *p, const char *probe_id, const char *region,
		   const char *version, double clock_offset_ms,
		   const struct db_probe_counters *counters)
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
	j->seen_ms = twtime_wall_ms();
	if (counters)
		j->counters = *counters;
	if (!j->probe_id || !j->region || (version && !j->version)) {
		db_job_free(j);
		return;
	}
	db_q_push(&p->ctlq, j);
	event_active(p->kick, EV_TIMEOUT, 0);
}

int db_last_seq(struct db_pool *p, const char *probe_id,
		void (*cb)(void *arg, bool found, uint64_t seq), void *arg)
{
	return db_last_seq_epoch(p, probe_id, "", cb, arg);
}

int db_last_seq_epoch(struct db_pool *p, const char *probe_id, const char *epoch,
		      void (*cb)(void *arg, bool found, uint64_t seq), void *arg)
{
	if (!p || !probe_id || !epoch || p->up == 0)
		return -1;
	struct db_job *j = calloc(1, sizeof *j);
	if (!j || !(j->probe_id = strdup(probe_id)) || !(j->epoch = strdup(epoch))) {
		if (j)
			free(j->probe_id);
		free(j);
		return -1;
	}
	j->kind = J_LAST_SEQ;
	j->seq_cb = cb;
	j->arg = arg;
	db_q_push(&p->ctlq, j);
	event_active(p->kick, EV_TIMEOUT, 0);
	return 0;
}

void db_get_stats(const struct db_pool *p, struct db_stats *st)
{
	*st = p->st;
	st->reconnects = 0;
	for (unsigned i = 0; i < p->nconns; i++)
		st->reconnects += pgconn_reconnects(p->conns[i].pg);
	st->connections_up = p->up;
	st->queued_rows = p->queued_rows;
}
