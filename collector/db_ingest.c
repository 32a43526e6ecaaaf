/*
 * db_ingest.c - the ingest task of the pool (db_int.h).
 *
 * Two round trips per transaction on one pgconn:
 *   "BEGIN; COPY staging (..) FROM STDIN"  + the rows of the jobs (copy_data)
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
 * requeued at the head, up to RETRY_MAX times). A connection that breaks is
 * handled by the pool (db_pool.c: requeued up to a limit; a batch whose
 * COMMIT outcome is unknown runs again, and the replay inserts nothing).
 * Other errors fail the batch: callback(ok=false).
 */
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

/* pgconn_copy_cb: the rows of every job of the group, in chunks. */
static int copy_rows(void *arg, const char **buf, size_t *len)
{
	struct db_conn *c = arg;
	while (c->copy_job && c->copy_off >= c->copy_job->copy.len) {
		c->copy_job = c->copy_job->next;
		c->copy_off = 0;
	}
	if (!c->copy_job)
		return 0;
	size_t n = c->copy_job->copy.len - c->copy_off;
	*buf = c->copy_job->copy.p + c->copy_off;
	*len = n > COPY_CHUNK ? COPY_CHUNK : n;
	c->copy_off += *len;
	return 1;
}

bool db_ingest_start(struct db_conn *c)
{
	static char begin[2048];
	if (!take_group(c->p, &c->jobs))
		return false;
	c->task = T_INGEST;
	c->step = 0;
	c->copy_job = c->jobs.head;
	c->copy_off = 0;
	if (!begin[0] && snprintf(begin, sizeof begin, "BEGIN; %s", db_sql_copy()) >= (int)sizeof begin)
		abort(); /* the column table outgrew the buffer: a build-time bug */
	db_pool_send(c, begin, 0, NULL, copy_rows);
	return true;
}

void db_ingest_result(struct db_conn *c, const PGresult *r)
{
	if (c->step != 1)
		return;
	if (PQresultStatus(r) == PGRES_COMMAND_OK) {
		if (strcmp(PQcmdStatus((PGresult *)r), "COMMIT") == 0)
			c->committed = true;
		return;
	}
	if (PQresultStatus(r) != PGRES_TUPLES_OK)
		return;
	for (int i = 0; i < PQntuples(r); i++) {
		const char *id = PQgetvalue(r, i, 0);
		for (struct db_job *k = c->jobs.head; k; k = k->next)
			if (strcmp(k->probe_id, id) == 0)
				k->inserted = (size_t)strtoull(PQgetvalue(r, i, 1), NULL, 10);
	}
}

static void ingest_ended(struct db_conn *c)
{
	struct db_pool *p = c->p;
	struct db_jobq done = { 0 }, retry = { 0 };
	struct db_job *j;

	if (!c->failed && c->committed) {
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

void db_ingest_step_done(struct db_conn *c)
{
	if (c->step == 0 && !c->failed) {
		c->step = 1;
		db_pool_send(c, db_sql_ingest(), 0, NULL, NULL);
		return;
	}
	if (c->step < 2 && (c->failed || !c->committed) && pgconn_in_transaction(c->pg)) {
		c->step = 2; /* the first error stays in c->err */
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
	for (size_t i = 0; i < n; i++) {
		if (db_copy_result_epoch(&j->copy, results[i], probe_id, epoch, region,
					 probe_version, received_unix_ms) < 0) {
			log_warn("db: probe %s: result %zu of %zu cannot be stored (no seq or a required "
				 "field missing): batch refused", probe_id, i, n);
			db_job_free(j);
			errno = EINVAL;
			return NULL;
		}
		if (results[i]->seq > j->max_seq)
			j->max_seq = results[i]->seq;
	}
	if (j->copy.oom) {
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
