/*
 * ingest_batch.h - one probe connection's queue of received ResultBatches:
 * pending (received, not yet submitted, in order) and the group in flight
 * (submitted to the database as one job). A connection has at most one group
 * in flight, so one probe's rows are committed - and acked - in order.
 *
 * Ownership: the queue owns every batch and the decoded envelope in it (its
 * Results). ingest_batchq_submit() returns an array of pointers into those
 * envelopes: the caller frees the array, never the Results, which stay the
 * queue's until ingest_batchq_committed() or _requeue().
 *
 * Test seam: the arrays come from ingest_batch_malloc (malloc unless a test
 * injects failures).
 */
#ifndef TW_INGEST_BATCH_H
#define TW_INGEST_BATCH_H

#include <stddef.h>
#include <stdint.h>

#include "tlswatch.pb-c.h"

extern void *(*ingest_batch_malloc)(size_t n);

struct ingest_batch;

struct ingest_batchq {
	struct ingest_batch *pending, *pending_tail;
	struct ingest_batch *inflight;  /* the group of the job in flight */
	size_t held_rows;               /* pending + in flight */
	size_t inflight_rows;
	size_t held_bytes;              /* what their decoding cost (pushed sizes) */
};

/* Appends env's (non-empty) batch; takes env. 0, or -1 when out of memory
 * (env is freed). */
int ingest_batchq_push(struct ingest_batchq *q, Tlswatch__Envelope *env, int64_t received_ms)
	__attribute__((warn_unused_result));
/* The same, counting bytes (the memory env takes) in held_bytes until the
 * batch is freed: committed, dropped or cleared. */
int ingest_batchq_push_sized(struct ingest_batchq *q, Tlswatch__Envelope *env,
			     int64_t received_ms, size_t bytes) __attribute__((warn_unused_result));

/* Moves the first pending batches - up to max_rows rows, at least one batch -
 * in flight. Returns their Results as one array (*rows long, *received_ms of
 * the first batch). NULL when nothing is pending or out of memory: then
 * nothing moved. */
Tlswatch__Result **ingest_batchq_submit(struct ingest_batchq *q, size_t max_rows, size_t *rows,
					int64_t *received_ms);

/* The group in flight is committed: freed. Returns its rows. */
size_t ingest_batchq_committed(struct ingest_batchq *q);
/* The group in flight was not stored: back to the front, in order. */
void ingest_batchq_requeue(struct ingest_batchq *q);
/* Frees the pending batches (not the group in flight); returns their rows. */
size_t ingest_batchq_drop_pending(struct ingest_batchq *q);
/* Frees everything; returns the rows dropped. */
size_t ingest_batchq_clear(struct ingest_batchq *q);

#endif
