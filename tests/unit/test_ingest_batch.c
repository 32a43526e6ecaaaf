/*
 * test_ingest_batch.c - the probe server's per-connection batch queue
 * (collector/ingest_batch.h): order, the row cap of one submission, a failed
 * job's rows back in front, what a superseded connection drops, and an
 * allocation failure that moves nothing.
 */
#include <criterion/criterion.h>
#include <stdlib.h>

#include "ingest_batch.h"

TestSuite(ingest_batch);

/* A decoded Envelope{ResultBatch} with results seq first..first+n-1, owned
 * like one from the wire (free_unpacked). */
static Tlswatch__Envelope *batch_env(uint64_t first, size_t n)
{
	Tlswatch__Result *rs = calloc(n, sizeof *rs);
	Tlswatch__Result **rp = calloc(n, sizeof *rp);
	cr_assert(rs && rp);
	for (size_t i = 0; i < n; i++) {
		tlswatch__result__init(&rs[i]);
		rs[i].has_seq = true;
		rs[i].seq = first + i;
		rs[i].target = "t";
		rs[i].profile = "p";
		rs[i].outcome = "ok";
		rp[i] = &rs[i];
	}
	Tlswatch__ResultBatch b = TLSWATCH__RESULT_BATCH__INIT;
	Tlswatch__Envelope e = TLSWATCH__ENVELOPE__INIT;
	b.n_results = n;
	b.results = rp;
	e.msg_case = TLSWATCH__ENVELOPE__MSG_BATCH;
	e.batch = &b;
	size_t len = tlswatch__envelope__get_packed_size(&e);
	uint8_t *buf = malloc(len);
	cr_assert_not_null(buf);
	tlswatch__envelope__pack(&e, buf);
	Tlswatch__Envelope *out = tlswatch__envelope__unpack(NULL, len, buf);
	cr_assert_not_null(out);
	free(buf);
	free(rp);
	free(rs);
	return out;
}

static void push(struct ingest_batchq *q, uint64_t first, size_t n, int64_t received_ms)
{
	cr_assert_eq(ingest_batchq_push(q, batch_env(first, n), received_ms), 0);
}

/* Submits and checks the seqs of the group: first..first+n-1. */
static void expect_submit(struct ingest_batchq *q, size_t max_rows, uint64_t first, size_t n,
			  int64_t received_ms)
{
	size_t rows = 0;
	int64_t rcv = 0;
	Tlswatch__Result **arr = ingest_batchq_submit(q, max_rows, &rows, &rcv);
	cr_assert_not_null(arr);
	cr_assert_eq(rows, n);
	cr_expect_eq(rcv, received_ms);
	for (size_t i = 0; i < n; i++)
		cr_expect_eq(arr[i]->seq, first + i, "row %zu has seq %llu", i,
			     (unsigned long long)arr[i]->seq);
	free(arr);
}

Test(ingest_batch, groups_in_order_up_to_the_row_cap)
{
	struct ingest_batchq q = { 0 };
	push(&q, 1, 3, 100);
	push(&q, 4, 3, 200);
	push(&q, 7, 5, 300);
	cr_expect_eq(q.held_rows, 11);
	expect_submit(&q, 6, 1, 6, 100);   /* two batches fit, the third does not */
	cr_expect_eq(q.inflight_rows, 6);
	cr_expect_eq(ingest_batchq_committed(&q), 6);
	cr_expect_eq(q.held_rows, 5);
	expect_submit(&q, 2, 7, 5, 300);   /* at least one batch, even over the cap */
	cr_expect_eq(ingest_batchq_committed(&q), 5);
	cr_expect_eq(q.held_rows, 0);
	size_t rows = 99;
	int64_t rcv;
	cr_expect_null(ingest_batchq_submit(&q, 10, &rows, &rcv), "nothing pending");
}

Test(ingest_batch, failed_group_goes_back_in_front)
{
	struct ingest_batchq q = { 0 };
	push(&q, 1, 2, 10);
	push(&q, 3, 2, 20);
	expect_submit(&q, 2, 1, 2, 10);
	push(&q, 5, 2, 30);                /* arrives while the job runs */
	ingest_batchq_requeue(&q);
	cr_expect_eq(q.inflight_rows, 0);
	cr_expect_eq(q.held_rows, 6);
	expect_submit(&q, 100, 1, 6, 10);  /* 1..6, in order */
	cr_expect_eq(ingest_batchq_committed(&q), 6);
	push(&q, 7, 1, 40);                /* the tail is still right */
	expect_submit(&q, 100, 7, 1, 40);
	cr_expect_eq(ingest_batchq_clear(&q), 1);
}

Test(ingest_batch, drop_pending_keeps_the_group_in_flight)
{
	struct ingest_batchq q = { 0 };
	push(&q, 1, 4, 10);
	push(&q, 5, 2, 20);
	push(&q, 7, 3, 30);
	expect_submit(&q, 4, 1, 4, 10);
	cr_expect_eq(ingest_batchq_drop_pending(&q), 5);
	cr_expect_eq(q.held_rows, 4);
	cr_expect_null(q.pending);
	cr_expect_eq(ingest_batchq_committed(&q), 4);
	cr_expect_eq(q.held_rows, 0);
	push(&q, 11, 1, 50);               /* usable afterwards */
	expect_submit(&q, 4, 11, 1, 50);
	cr_expect_eq(ingest_batchq_clear(&q), 1);
}

static int fail_next;

static void *failing_malloc(size_t n)
{
	if (fail_next) {
		fail_next = 0;
		return NULL;
	}
	return malloc(n);
}

Test(ingest_batch, out_of_memory_moves_nothing)
{
	struct ingest_batchq q = { 0 };
	push(&q, 1, 2, 10);
	ingest_batch_malloc = failing_malloc;
	fail_next = 1;
	size_t rows = 0;
	int64_t rcv = 0;
	cr_expect_null(ingest_batchq_submit(&q, 10, &rows, &rcv));
	ingest_batch_malloc = malloc;
	cr_expect_null(q.inflight);
	cr_expect_eq(q.inflight_rows, 0);
	cr_expect_eq(q.held_rows, 2);
	expect_submit(&q, 10, 1, 2, 10);   /* the next attempt takes the same rows */
	cr_expect_eq(ingest_batchq_clear(&q), 2);
}

/* held_bytes follows every way a batch leaves: committed, requeued (stays),
 * dropped as pending, cleared (issue 12: the byte bounds rely on it). */
Test(ingest_batch, held_bytes_follow_the_batches)
{
	struct ingest_batchq q = { 0 };
	cr_assert_eq(ingest_batchq_push_sized(&q, batch_env(1, 2), 1, 100), 0);
	cr_assert_eq(ingest_batchq_push_sized(&q, batch_env(3, 2), 2, 200), 0);
	cr_assert_eq(ingest_batchq_push_sized(&q, batch_env(5, 2), 3, 400), 0);
	cr_assert_eq(q.held_bytes, 700);
	expect_submit(&q, 2, 1, 2, 1);
	ingest_batchq_requeue(&q);
	cr_assert_eq(q.held_bytes, 700, "a requeued group is still held");
	expect_submit(&q, 2, 1, 2, 1);
	cr_assert_eq(ingest_batchq_committed(&q), 2);
	cr_assert_eq(q.held_bytes, 600);
	expect_submit(&q, 2, 3, 2, 2);
	cr_assert_eq(ingest_batchq_drop_pending(&q), 2);
	cr_assert_eq(q.held_bytes, 200, "the group in flight stays");
	cr_assert_eq(ingest_batchq_clear(&q), 2);
	cr_assert_eq(q.held_bytes, 0);
}
