/*
 * db_ingest.c - the ingest task of the pool (db_int.h).
 *
 * One transaction per group of jobs on one pgconn, a round trip per step
 * (enum step below). Several queued batches of *different* probes are
 * coalesced into one transaction (at most GROUP_MAX_JOBS jobs and
 * GROUP_MAX_ROWS rows); each job's callback fires after that commit.
 *
 * Exactness (issue 11). The transaction first locks the probe_spools row of
 * each (probe, spool epoch) it carries and reads its last_seq, the highest
 * seq committed (db_sql_lock). A probe numbers its spool's results in
 * ascending order and sends them in that order; a connection has one job in
 * flight and a probe's jobs run in submission order (below), a failed job is
 * retried before anything after it (ingest_commit.c), and a probe that moved
 * to another connection or collector replays from its last Ack, which is
 * never above last_seq. So no row above last_seq is stored yet; a batch
 * that reaches at or below it (a replay) has the stored keys of that seq
 * range read back (S_EXIST) and exactly those rows dropped (a spool that
 * numbers below a mark it did not make still gets its rows stored). The
 * new rows are COPY'd straight into results, each with the transaction's
 * number (rollup_1m is built from them off this path, sql/020), and the
 * small tables are upserted from the same rows, pre-aggregated (db_plan.c).
 * Two transactions of one probe (a failover
 * while the old collector still commits) serialise on the row lock, and the
 * second reads the first's last_seq. The results key stays as the backstop:
 * a duplicate that got through would fail the COPY, never count twice.
 *
 * Ordering: at most one transaction per probe is in flight, and a probe's
 * batches run in submission order, so a probe's callbacks (and Acks) come in
 * order. When a batch fails for good, the probe's batches still queued fail
 * with it, so no later batch can be acked past a failed one.
 *
 * Failures: deadlock/serialization failures are retried (rolled back and
 * requeued at the head, up to RETRY_MAX times). A connection that breaks is
 * handled by the pool (db_pool.c: requeued up to a limit; a batch whose
 * COMMIT outcome is unknown runs again, and its rows are then below the
 * watermark). Other errors fail the batch: callback(ok=false).
 */
#include "db_copy_bin.h"
#include "db_int.h"
#include "log.h"
#include "twtime.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define GROUP_MAX_JOBS 64
#define GROUP_MAX_ROWS 20000
#define RETRY_MAX 5           /* deadlock / serialization failure */
#define COPY_CHUNK 65536

void db_ingest_fail_probe(struct db_pool *p, const char *probe_id, struct db_jobq *out)
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
			db_q_push(out, j);
		} else {
			prev = j;
			pp = &j->next;
		}
	}
}

static bool probe_in_flight(const struct db_pool *p, const char *probe_id)
{
	for (unsigned i = 0; i < p->nconns; i++) {
		const struct db_conn *c = &p->conns[i];
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
static bool take_group(struct db_pool *p, struct db_jobq *out)
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
			db_q_push(out, j);
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

/* The steps of an ingest task (c->step): one round trip each. */
enum step {
	S_BEGIN,     /* BEGIN */
	S_LOCK,      /* db_sql_lock(): watermarks, rows locked */
	S_EXIST,     /* db_sql_exist(): rows stored at or below a watermark */
	S_COPY_ROWS, /* COPY results: the rows above the watermarks */
	S_UPSERT,    /* db_sql_ingest(): certificates, sightings, probes, spools */
	S_TARGETS,   /* db_sql_targets(): last, its row locks are the contended ones */
	S_COMMIT,    /* COMMIT */
	S_ROLLBACK,  /* after the first error, inside the transaction */
};

void db_ingest_run_add(struct strbuf *rows, const struct db_job *j, size_t line, size_t len)
{
	const char *p = j->copy.p + line;
	if (rows->len >= sizeof(struct db_run)) {
		struct db_run *last = (struct db_run *)(rows->p + rows->len - sizeof *last);
		if (last->p + last->len == p) { /* the next tuple of the same job */
			last->len += len;
			return;
		}
	}
	struct db_run r = { p, len };
	strbuf_put(rows, &r, sizeof r); /* malloc'd: aligned for the struct */
}

/* pgconn_copy_cb of COPY results: the binary header, the tuples of the runs
 * in c->rows, the trailer, read as one stream at c->copy_off. */
static int copy_rows_bin(void *arg, const char **buf, size_t *len)
{
	struct db_conn *c = arg;
	const struct db_run *rv = (const struct db_run *)c->rows.p;
	size_t nr = c->rows.len / sizeof *rv;
	const size_t h = sizeof db_copy_bin_header, t = sizeof db_copy_bin_trailer;
	size_t off = c->copy_off;
	if (off < h) {
		*buf = db_copy_bin_header + off;
		*len = h - off;
		c->copy_off += *len;
		return 1;
	}
	off -= h; /* into the tuples: run copy_run starts at copy_base */
	while (c->copy_run < nr && off - c->copy_base >= rv[c->copy_run].len)
		c->copy_base += rv[c->copy_run++].len;
	off -= c->copy_base;
	if (c->copy_run < nr) {
		size_t n = rv[c->copy_run].len - off;
		*buf = rv[c->copy_run].p + off;
		*len = n > COPY_CHUNK ? COPY_CHUNK : n;
	} else if (off < t) {
		*buf = db_copy_bin_trailer + off;
		*len = t - off;
	} else {
		return 0;
	}
	c->copy_off += *len;
	return 1;
}

bool db_ingest_start(struct db_conn *c)
{
	if (!take_group(c->p, &c->jobs))
		return false;
	c->task = T_INGEST;
	c->step = S_BEGIN;
	db_pool_send(c, "BEGIN", 0, NULL, NULL);
	return true;
}

/* Sends the lock statement with its parameters, (probe, epoch, received_at)
 * of each job with rows; *sent false when there is nothing to lock. False
 * when out of memory. */
static bool send_lock(struct db_conn *c, bool *sent)
{
	size_t n = 0;
	*sent = false;
	for (struct db_job *j = c->jobs.head; j; j = j->next)
		n += j->rows_added > 0;
	if (n == 0)
		return true;
	free(c->lock_vals);
	c->lock_vals = calloc(3 * n, sizeof *c->lock_vals);
	if (!c->lock_vals || db_sql_lock(&c->lock_sql, n) < 0)
		return false;
	struct strbuf *ts = &c->misc; /* the timestamps, until db_plan_build() */
	strbuf_reset(ts);
	size_t *offs = calloc(n, sizeof *offs), i = 0;
	if (!offs)
		return false;
	for (struct db_job *j = c->jobs.head; j; j = j->next) {
		if (!j->rows_added)
			continue;
		offs[i++] = ts->len;
		db_put_ts_ms(ts, j->received_ms);
		strbuf_put(ts, "", 1);
	}
	if (ts->oom) {
		free(offs);
		return false;
	}
	i = 0;
	for (struct db_job *j = c->jobs.head; j; j = j->next) {
		if (!j->rows_added)
			continue;
		c->lock_vals[3 * i] = j->arena.p + j->probe_off;
		c->lock_vals[3 * i + 1] = j->arena.p + j->epoch_off;
		c->lock_vals[3 * i + 2] = ts->p + offs[i];
		i++;
	}
	free(offs);
	c->step = S_LOCK;
	*sent = true;
	db_pool_send(c, c->lock_sql.p, (int)(3 * n), c->lock_vals, NULL);
	return true;
}

static struct db_job *job_of(struct db_conn *c, const char *id, const char *ep)
{
	for (struct db_job *k = c->jobs.head; k; k = k->next)
		if (k->rows_added && strcmp(k->arena.p + k->probe_off, id) == 0 &&
		    strcmp(k->arena.p + k->epoch_off, ep) == 0)
			return k;
	return NULL;
}

static void add_exist(struct db_conn *c, const char *id, const char *ep, int64_t seq, int64_t ms)
{
	struct db_job *j = job_of(c, id, ep);
	if (!j)
		return;
	if (j->nexist + 2 > j->exist_cap) {
		size_t cap = j->exist_cap ? 2 * j->exist_cap : 64;
		int64_t *v = realloc(j->exist, cap * sizeof *v);
		if (!v) {
			c->failed = true;
			snprintf(c->err, sizeof c->err, "out of memory reading stored rows");
			return;
		}
		j->exist = v;
		j->exist_cap = cap;
	}
	j->exist[j->nexist++] = seq;
	j->exist[j->nexist++] = ms;
}

/* Sends db_sql_exist() for the jobs with rows at or below their watermark;
 * *sent false when there are none. False when out of memory. */
static bool send_exist(struct db_conn *c, bool *sent)
{
	size_t n = 0;
	*sent = false;
	for (struct db_job *j = c->jobs.head; j; j = j->next) {
		j->nexist = 0;
		n += j->rows_added && j->min_seq <= j->wm;
	}
	if (n == 0)
		return true;
	free(c->lock_vals);
	c->lock_vals = calloc(4 * n, sizeof *c->lock_vals);
	if (!c->lock_vals || db_sql_exist(&c->lock_sql, n) < 0)
		return false;
	struct strbuf *nums = &c->misc;
	strbuf_reset(nums);
	for (struct db_job *j = c->jobs.head; j; j = j->next)
		if (j->rows_added && j->min_seq <= j->wm)
			strbuf_printf(nums, "%lld%c%lld%c", (long long)j->min_seq, 0,
				      (long long)j->wm, 0);
	if (nums->oom)
		return false;
	size_t i = 0, off = 0;
	for (struct db_job *j = c->jobs.head; j; j = j->next) {
		if (!j->rows_added || j->min_seq > j->wm)
			continue;
		c->lock_vals[4 * i] = j->arena.p + j->probe_off;
		c->lock_vals[4 * i + 1] = j->arena.p + j->epoch_off;
		c->lock_vals[4 * i + 2] = nums->p + off;
		off += strlen(nums->p + off) + 1;
		c->lock_vals[4 * i + 3] = nums->p + off;
		off += strlen(nums->p + off) + 1;
		i++;
	}
	c->step = S_EXIST;
	*sent = true;
	db_pool_send(c, c->lock_sql.p, (int)(4 * n), c->lock_vals, NULL);
	return true;
}

void db_ingest_result(struct db_conn *c, const PGresult *r)
{
	if (c->step == S_COMMIT && PQresultStatus(r) == PGRES_COMMAND_OK) {
		if (strcmp(PQcmdStatus((PGresult *)r), "COMMIT") == 0)
			c->committed = true;
		return;
	}
	if (PQresultStatus(r) != PGRES_TUPLES_OK)
		return;
	if (c->step == S_EXIST) {
		for (int i = 0; i < PQntuples(r); i++)
			add_exist(c, PQgetvalue(r, i, 0), PQgetvalue(r, i, 1),
				  strtoll(PQgetvalue(r, i, 2), NULL, 10),
				  strtoll(PQgetvalue(r, i, 3), NULL, 10));
		return;
	}
	if (c->step != S_LOCK)
		return;
	for (int i = 0; i < PQntuples(r); i++) {
		const char *id = PQgetvalue(r, i, 0), *ep = PQgetvalue(r, i, 1);
		for (struct db_job *k = c->jobs.head; k; k = k->next)
			if (k->rows_added && strcmp(k->arena.p + k->probe_off, id) == 0 &&
			    strcmp(k->arena.p + k->epoch_off, ep) == 0) {
				k->wm = strtoll(PQgetvalue(r, i, 2), NULL, 10);
				k->has_wm = true;
			}
	}
}

static void ingest_ended(struct db_conn *c)
{
	struct db_pool *p = c->p;
	struct db_jobq done = { 0 }, retry = { 0 };
	struct db_job *j;

	if (!c->failed && c->committed) {
		db_seen_commit(&p->seen_sights, &c->pend_sights);
		db_seen_commit(&p->seen_targets, &c->pend_targets);
		while ((j = db_q_pop(&c->jobs)))
			db_q_push(&done, j);
		db_pool_task_end(c, &done, true, NULL);
		return;
	}
	const char *err = c->failed ? c->err : "COMMIT did not commit";
	bool transient = strcmp(c->sqlstate, "40P01") == 0 || strcmp(c->sqlstate, "40001") == 0;
	log_warn("db: conn %u: batch of %zu job(s) failed: %s%s", c->idx, c->jobs.n, err,
		 transient ? " (retrying)" : "");
	while ((j = db_q_pop(&c->jobs))) {
		if (transient && ++j->retries < RETRY_MAX) {
			db_q_push(&retry, j);
			p->queued_rows += j->rows;
		} else {
			db_q_push(&done, j);
		}
	}
	db_q_prepend(&p->ingq, &retry);
	struct db_jobq all = { 0 };
	while ((j = db_q_pop(&done))) {
		db_q_push(&all, j);
		db_ingest_fail_probe(p, j->probe_id, &all);
	}
	char why[256];
	snprintf(why, sizeof why, "%s", err);
	db_pool_task_end(c, &all, false, why);
}

/* Marks the task failed with msg (unless an error came first). */
static void fail_local(struct db_conn *c, const char *msg)
{
	if (!c->failed) {
		c->failed = true;
		snprintf(c->err, sizeof c->err, "%s", msg);
		c->sqlstate[0] = '\0';
	}
}

/* The next step after c->step, skipping those with nothing to send. */
static void next_step(struct db_conn *c)
{
	bool sent;
	switch (c->step) {
	case S_BEGIN:
		for (struct db_job *j = c->jobs.head; j; j = j->next)
			j->has_wm = false;
		if (!send_lock(c, &sent)) {
			fail_local(c, "out of memory building the watermark lock");
			db_ingest_step_done(c);
			return;
		}
		if (sent)
			return;
		/* nothing to lock */
		/* fall through */
	case S_LOCK:
		for (struct db_job *j = c->jobs.head; j; j = j->next)
			if (j->rows_added && !j->has_wm) {
				fail_local(c, "the watermark lock returned no row for a probe");
				db_ingest_step_done(c);
				return;
			}
		if (!send_exist(c, &sent)) {
			fail_local(c, "out of memory building the replay check");
			db_ingest_step_done(c);
			return;
		}
		if (sent)
			return;
		/* fall through */
	case S_EXIST:
		if (db_plan_build(c) < 0) {
			fail_local(c, "out of memory planning the batch");
			db_ingest_step_done(c);
			return;
		}
		if (c->rows.len) {
			c->step = S_COPY_ROWS;
			c->copy_off = c->copy_run = c->copy_base = 0;
			db_pool_send(c, db_sql_copy(), 0, NULL, copy_rows_bin);
			return;
		}
		/* every row was a replay */
		/* fall through */
	case S_COPY_ROWS:
		if (c->rows.len) {
			const char *v[1] = { c->misc.p };
			c->step = S_UPSERT;
			db_pool_send(c, db_sql_ingest(), 1, v, NULL);
			return;
		}
		/* fall through */
	case S_UPSERT:
		if (c->rows.len && c->ntargets) {
			const char *v[1] = { c->tmisc.p };
			c->step = S_TARGETS;
			db_pool_send(c, db_sql_targets(), 1, v, NULL);
			return;
		}
		/* fall through */
	case S_TARGETS:
		c->step = S_COMMIT;
		db_pool_send(c, "COMMIT", 0, NULL, NULL);
		return;
	default:
		ingest_ended(c);
	}
}

void db_ingest_step_done(struct db_conn *c)
{
	if (!c->failed && c->step != S_ROLLBACK) {
		next_step(c);
		return;
	}
	if (c->step < S_ROLLBACK && pgconn_in_transaction(c->pg)) {
		c->step = S_ROLLBACK; /* the first error stays in c->err */
		db_pool_send(c, "ROLLBACK", 0, NULL, NULL);
		return;
	}
	ingest_ended(c);
}

struct db_job *db_ingest(struct db_pool *p, const char *probe_id, const char *region,
			 const char *probe_version, Tlswatch__Result *const *results, size_t n,
			 int64_t received_unix_ms, db_ingest_cb cb, void *arg)
{
	return db_ingest_epoch(p, probe_id, "", region, probe_version, results, n,
			       received_unix_ms, cb, arg);
}

struct db_job *db_ingest_epoch(struct db_pool *p, const char *probe_id, const char *epoch,
			       const char *region, const char *probe_version,
			       Tlswatch__Result *const *results, size_t n, int64_t received_unix_ms,
			       db_ingest_cb cb, void *arg)
{
	if (!p || !probe_id || !epoch || !region || (n && !results)) {
		errno = EINVAL;
		return NULL;
	}
	if (!db_pool_can_accept(p)) {
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
	j->received_ms = received_unix_ms;
	strbuf_put(&j->arena, "", 1); /* offset 0 is NULL */
	j->probe_off = j->arena.len;
	db_put_clean(&j->arena, probe_id);
	strbuf_put(&j->arena, "", 1);
	j->epoch_off = j->arena.len;
	db_put_clean(&j->arena, epoch);
	strbuf_put(&j->arena, "", 1);
	j->region_off = j->arena.len;
	db_put_clean(&j->arena, region);
	strbuf_put(&j->arena, "", 1);
	if (probe_version) {
		j->version_off = j->arena.len;
		db_put_clean(&j->arena, probe_version);
		strbuf_put(&j->arena, "", 1);
	}
	if (n && !(j->rowv = calloc(n, sizeof *j->rowv))) {
		db_job_free(j);
		errno = ENOMEM;
		return NULL;
	}
	for (size_t i = 0; i < n; i++) {
		size_t line = j->copy.len;
		if (db_copy_bin_result(&j->copy, results[i], probe_id, epoch, region,
				       probe_version, received_unix_ms) < 0) {
			log_warn("db: probe %s: result %zu of %zu cannot be stored (no seq, a required "
				 "field missing or a value out of range): batch refused", probe_id, i, n);
			db_job_free(j);
			errno = EINVAL;
			return NULL;
		}
		if (db_plan_add_row(j, results[i], line, j->copy.len - line, received_unix_ms) < 0)
			break; /* out of memory: the arena says so below */
		if (results[i]->seq > j->max_seq)
			j->max_seq = results[i]->seq;
		if (i == 0 || (int64_t)results[i]->seq < j->min_seq)
			j->min_seq = (int64_t)results[i]->seq;
	}
	if (j->copy.oom || j->arena.oom) {
		db_job_free(j);
		errno = ENOMEM;
		return NULL;
	}
	db_q_push(&p->ingq, j);
	p->queued_rows += n;
	p->accepting = db_pool_can_accept(p);
	event_active(p->kick, EV_TIMEOUT, 0); /* dispatch on the loop, not in here */
	return j;
}
