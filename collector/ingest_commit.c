/*
 * ingest_commit.c - a probe connection's database side (its sub-state
 * enum conn_db, in ingest_int.h): the db_last_seq lookup after Hello whose
 * answer is the first Ack (per probe and spool epoch: a new epoch has
 * nothing committed, so nothing of it is acked), then one db_ingest job at a time whose commit is
 * acked, failures retried after a backoff. conn_set_db() is the only writer
 * of c->db; every answer ends in ingest_conn_drive().
 *
 * Ordering. At most one request per connection is outstanding, so one
 * probe's commits - and acks - happen in order; a connection that has a
 * predecessor (the same probe's older connection, its job still running)
 * asks nothing until that job has finished.
 *
 * Database failures. A failed job is not acked; its rows go back to the
 * front of the queue and are retried (backoff 0.5 s doubling to 8 s, or at
 * once when the database says it is ready). After INGEST_MAX_DB_ATTEMPTS
 * consecutive failures of the same rows the connection is closed: the probe
 * still holds them in its spool and replays them on its next connection, so
 * nothing is lost and a poison batch does not spin forever here. Running out
 * of memory while submitting counts as a failed attempt.
 */
#include "ingest_int.h"
#include "db.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static const char *const db_names[] = { "lookup_due", "lookup", "idle", "job", "backoff" };

/* The only writer of c->db. */
static void conn_set_db(struct ingest_conn *c, enum conn_db db)
{
	if (c->db == db)
		return;
	log_debug("peer=%s probe=%s db %s -> %s", c->peer, c->probe_id[0] ? c->probe_id : "-",
		  db_names[c->db], db_names[db]);
	c->db = db;
}

/* ---- db_last_seq lookups ----
 *
 * db_last_seq() cannot be cancelled, and its answer may come after the
 * connection - or the whole server - is gone (ingest_free() before the pool
 * answers on a later loop turn). So the callback's argument is not the
 * connection but a number, and this table maps the numbers still wanted to
 * their connections. Closing a connection removes its entry; an answer
 * whose number is not in the table is dropped. Nothing is allocated per
 * lookup, so an answer that never comes (the pool freed first) leaks
 * nothing. One table per process, used only from the loop thread.
 */
#define LOOKUP_BUCKETS 256
static struct ingest_conn *lookup_table[LOOKUP_BUCKETS];
static uint64_t lookup_last_id;

static void lookup_add(struct ingest_conn *c)
{
	struct ingest_conn **head;
	c->lookup_id = ++lookup_last_id;
	head = &lookup_table[c->lookup_id % LOOKUP_BUCKETS];
	c->lookup_next = *head;
	*head = c;
}

/* Takes the entry of id out of the table: its connection, or NULL. */
static struct ingest_conn *lookup_take(uint64_t id)
{
	struct ingest_conn **pp = &lookup_table[id % LOOKUP_BUCKETS];
	for (; *pp; pp = &(*pp)->lookup_next) {
		struct ingest_conn *c = *pp;
		if (c->lookup_id == id) {
			*pp = c->lookup_next;
			c->lookup_next = NULL;
			c->lookup_id = 0;
			return c;
		}
	}
	return NULL;
}

static void conn_backoff(struct ingest_conn *c, unsigned ms)
{
	struct timeval tv;
	ingest_ms_to_tv(ms, &tv);
	evtimer_add(c->retry, &tv);
	conn_set_db(c, CDB_BACKOFF);
}

/* One more failed attempt at the same rows (they are queued again): back
 * off, 0.5 s doubling to 8 s; after INGEST_MAX_DB_ATTEMPTS close instead,
 * so the probe replays them from its spool later. */
static void conn_attempt_failed(struct ingest_conn *c, size_t rows, const char *why)
{
	c->db_failures++;
	if (c->db_failures >= INGEST_MAX_DB_ATTEMPTS) {
		ingest_conn_end(c, CLOSE_DB_FAILED, TWLOG_ERROR,
				"the same %zu rows failed %u times (last: %s); closing so the "
				"probe replays them from its spool later", rows, c->db_failures, why);
		return;
	}
	unsigned ms = INGEST_RETRY_MIN_MS << (c->db_failures - 1);
	if (ms > INGEST_RETRY_MAX_MS)
		ms = INGEST_RETRY_MAX_MS;
	ingest_conn_log(c, TWLOG_WARN, "a batch of %zu rows was not stored (attempt %u): %s; "
			"not acked, retrying in %u ms", rows, c->db_failures, why, ms);
	conn_backoff(c, ms);
}

static void lastseq_cb(void *arg, bool found, uint64_t seq)
{
	struct ingest_conn *c = lookup_take((uint64_t)(uintptr_t)arg);
	if (!c)
		return;  /* closed meanwhile, perhaps with the whole server */
	conn_set_db(c, CDB_IDLE);
	if (found) {
		ingest_conn_log(c, TWLOG_DEBUG, "last committed seq=%llu", (unsigned long long)seq);
		ingest_conn_send_ack(c, seq);
	}
	ingest_conn_drive(c);
}

static void job_cb(void *arg, bool ok, uint64_t max_seq, size_t inserted, const char *err)
{
	struct ingest_conn *c = arg;
	struct ingest *ing = c->ing;
	size_t rows = c->q.inflight_rows;
	c->job = NULL;
	conn_set_db(c, CDB_IDLE);
	if (ok) {
		ing->st.jobs_committed++;
		ing->st.rows_inserted += inserted;
		ing->st.rows_duplicate += rows >= inserted ? rows - inserted : 0;
		c->db_failures = 0;
		size_t bytes = c->q.held_bytes;
		ing->st.pending_rows -= ingest_batchq_committed(&c->q);
		ingest_bytes_sub(ing, bytes - c->q.held_bytes);
	} else {
		ing->st.jobs_failed++;
		ingest_batchq_requeue(&c->q);
	}
	if (c->state == CONN_RETIRING) {
		ingest_conn_log(c, TWLOG_INFO, "superseded connection's last batch %s; closing it",
				ok ? "committed" : "failed");
		ingest_conn_close(c);
		return;
	}
	if (!ok) {
		conn_attempt_failed(c, rows, err ? err : "database error");
		return;
	}
	ingest_conn_log(c, TWLOG_DEBUG, "committed %zu rows (%zu new), max seq=%llu", rows,
			inserted, (unsigned long long)max_seq);
	ingest_conn_send_ack(c, max_seq);
	if (c->q.held_rows == 0)
		ingest_conn_idle_restart(c);
	ingest_conn_drive(c);
}

/* Submits the first pending batches (up to max_pending_rows rows, at least
 * one batch) as one job. IO_COMPLETE: in flight. IO_INCOMPLETE: the
 * database cannot take rows now (reading paused everywhere). IO_SOFT_ERROR:
 * not submitted: CDB_BACKOFF, or closed after too many attempts.
 * IO_HARD_ERROR: c was refused. */
static enum conn_io conn_db_submit(struct ingest_conn *c)
{
	struct ingest *ing = c->ing;
	size_t rows = 0;
	int64_t received_ms = 0;
	if (!ingest_db_takes_rows(ing)) {
		ingest_pause_all(ing);
		return IO_INCOMPLETE;
	}
	Tlswatch__Result **arr = ingest_batchq_submit(&c->q, ing->o.max_pending_rows, &rows,
						      &received_ms);
	if (!arr) {
		/* nothing moved: like a failed job, an attempt that goes again */
		conn_attempt_failed(c, c->q.held_rows, "out of memory submitting them");
		return IO_SOFT_ERROR;
	}
	conn_set_db(c, CDB_JOB);
	errno = 0;
	struct db_job *j = db_ingest_epoch(ing->db, c->probe_id, c->epoch, c->region, c->version,
					   arr, rows, received_ms, job_cb, c);
	int e = errno;
	free(arr);
	if (j) {
		if (c->db == CDB_JOB)  /* its callback has not run yet */
			c->job = j;
		return IO_COMPLETE;
	}
	conn_set_db(c, CDB_IDLE);
	ingest_batchq_requeue(&c->q);
	if (e == EAGAIN) {
		ingest_pause_all(ing);
		return IO_INCOMPLETE;
	}
	if (e == EINVAL) {
		/* ingest_proto checked what it can; never retry what cannot be stored */
		ingest_conn_refuse(c, REFUSE_PROTOCOL, "a batch of %zu rows cannot be stored (a "
				   "result lacks a required field)", rows);
		return IO_HARD_ERROR;
	}
	conn_attempt_failed(c, rows, strerror(e ? e : EIO));
	return IO_SOFT_ERROR;
}

void ingest_commit_step(struct ingest_conn *c)
{
	if ((c->state != CONN_STREAMING && c->state != CONN_DRAINING) || c->predecessor)
		return;
	if (c->db == CDB_LOOKUP_DUE && c->state == CONN_DRAINING)
		conn_set_db(c, CDB_IDLE);  /* no lookup while draining: acks come from commits */
	if (c->db == CDB_LOOKUP_DUE) {
		/* CDB_LOOKUP before the call: an answer given at once finds the
		 * state it ends */
		lookup_add(c);
		conn_set_db(c, CDB_LOOKUP);
		if (db_last_seq_epoch(c->ing->db, c->probe_id, c->epoch, lastseq_cb,
				      (void *)(uintptr_t)c->lookup_id) == 0)
			return;
		lookup_take(c->lookup_id);  /* no database now: acks come from commits */
		conn_set_db(c, CDB_IDLE);
		ingest_conn_log(c, TWLOG_DEBUG, "cannot look up the last committed seq now");
	}
	if (c->db == CDB_IDLE && c->q.pending)
		(void)conn_db_submit(c);  /* every outcome is in c->db or c->state */
}

void ingest_commit_db_ready(struct ingest_conn *c)
{
	if (c->db == CDB_BACKOFF) {
		evtimer_del(c->retry);
		conn_set_db(c, CDB_IDLE);
	}
	ingest_conn_kick(c);
}

void ingest_commit_retry_cb(evutil_socket_t fd, short what, void *arg)
{
	struct ingest_conn *c = arg;
	if (c->db == CDB_BACKOFF)
		conn_set_db(c, CDB_IDLE);
	ingest_conn_drive(c);
}

void ingest_commit_release(struct ingest_conn *c)
{
	if (c->job) {
		db_job_cancel(c->job);
		c->job = NULL;
	}
	if (c->lookup_id)
		lookup_take(c->lookup_id);
	evtimer_del(c->retry);
	conn_set_db(c, CDB_IDLE);
}
