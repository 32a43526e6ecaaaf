/*
 * ingest_batch.c - a probe connection's batch queue (see ingest_batch.h).
 */
#include "ingest_batch.h"

#include <stdlib.h>

void *(*ingest_batch_malloc)(size_t n) = malloc;

/* One received ResultBatch; owns the decoded envelope. */
struct ingest_batch {
	struct ingest_batch *next;
	Tlswatch__Envelope *env;
	size_t n;
	size_t bytes;
	int64_t received_ms;
};

/* Frees a list; returns the bytes it held. */
static size_t batches_free(struct ingest_batch *b)
{
	size_t bytes = 0;
	while (b) {
		struct ingest_batch *next = b->next;
		bytes += b->bytes;
		tlswatch__envelope__free_unpacked(b->env, NULL);
		free(b);
		b = next;
	}
	return bytes;
}

int ingest_batchq_push(struct ingest_batchq *q, Tlswatch__Envelope *env, int64_t received_ms)
{
	return ingest_batchq_push_sized(q, env, received_ms, 0);
}

int ingest_batchq_push_sized(struct ingest_batchq *q, Tlswatch__Envelope *env,
			     int64_t received_ms, size_t bytes)
{
	struct ingest_batch *b = calloc(1, sizeof *b);
	if (!b) {
		tlswatch__envelope__free_unpacked(env, NULL);
		return -1;
	}
	b->env = env;
	b->n = env->batch->n_results;
	b->received_ms = received_ms;
	b->bytes = bytes;
	q->held_bytes += bytes;
	if (q->pending_tail)
		q->pending_tail->next = b;
	else
		q->pending = b;
	q->pending_tail = b;
	q->held_rows += b->n;
	return 0;
}

Tlswatch__Result **ingest_batchq_submit(struct ingest_batchq *q, size_t max_rows, size_t *rows,
					int64_t *received_ms)
{
	size_t n = 0, k = 0;
	struct ingest_batch *b = q->pending, *last = NULL;
	while (b && (n == 0 || n + b->n <= max_rows)) {
		n += b->n;
		last = b;
		b = b->next;
	}
	if (!last)
		return NULL;
	Tlswatch__Result **arr = ingest_batch_malloc(n * sizeof *arr);
	if (!arr)
		return NULL;
	for (struct ingest_batch *x = q->pending; x != last->next; x = x->next)
		for (size_t i = 0; i < x->n; i++)
			arr[k++] = x->env->batch->results[i];
	q->inflight = q->pending;
	q->pending = last->next;
	if (!q->pending)
		q->pending_tail = NULL;
	last->next = NULL;
	q->inflight_rows = n;
	*rows = n;
	*received_ms = q->inflight->received_ms;
	return arr;
}

size_t ingest_batchq_committed(struct ingest_batchq *q)
{
	size_t n = q->inflight_rows;
	q->held_bytes -= batches_free(q->inflight);
	q->inflight = NULL;
	q->inflight_rows = 0;
	q->held_rows -= n;
	return n;
}

void ingest_batchq_requeue(struct ingest_batchq *q)
{
	struct ingest_batch *last = q->inflight;
	if (!last)
		return;
	while (last->next)
		last = last->next;
	last->next = q->pending;
	if (!q->pending)
		q->pending_tail = last;
	q->pending = q->inflight;
	q->inflight = NULL;
	q->inflight_rows = 0;
}

size_t ingest_batchq_drop_pending(struct ingest_batchq *q)
{
	size_t n = q->held_rows - q->inflight_rows;
	q->held_bytes -= batches_free(q->pending);
	q->pending = q->pending_tail = NULL;
	q->held_rows -= n;
	return n;
}

size_t ingest_batchq_clear(struct ingest_batchq *q)
{
	size_t n = q->held_rows;
	q->held_bytes -= batches_free(q->pending);
	q->held_bytes -= batches_free(q->inflight);
	q->pending = q->pending_tail = q->inflight = NULL;
	q->held_rows = q->inflight_rows = 0;
	return n;
}
