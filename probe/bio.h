/*
 * bio.h - background I/O: one worker thread that does the probe's blocking
 * durable writes (fsync, rename, unlink, the stats file) so that a slow
 * disk never stalls the event loop that runs the handshakes. Modelled on
 * redis's bio.c.
 *
 * A job is two functions and an argument: work(arg) runs on the worker
 * thread, then done(arg) runs on the event loop (through a pipe the loop
 * watches). Jobs run one at a time in submission order, and their done
 * callbacks run in that order too, so a caller may rely on "what I
 * submitted first is durable first".
 *
 * Rules for work(): touch only what the job owns (its own fds, copies of
 * strings, result fields the done callback reads); no logging, no libevent,
 * no state shared with the loop. done() is where results are looked at,
 * logged and the job freed.
 *
 * Ownership: arg stays the caller's; bio never frees it. bio_free() first
 * finishes every job (work and done), so nothing is left behind.
 */
#ifndef TW_BIO_H
#define TW_BIO_H

#include <stddef.h>
#include <stdint.h>
#include <event2/event.h>

struct bio;

typedef void (*bio_fn)(void *arg);

struct bio_stats {
	uint64_t submitted;
	uint64_t done;          /* done callbacks run */
	uint64_t waits;         /* bio_drain() calls that had to wait */
	double work_max_ms;     /* longest work() */
	double work_last_ms;
};

/* Starts the worker; done callbacks are delivered on base. NULL with err
 * set when the thread or pipe cannot be created. */
struct bio *bio_new(struct event_base *base, char *err, size_t errlen);

/* Queues a job. 0, or -1 (out of memory: nothing was queued, the caller
 * does the work itself or reports). */
int bio_submit(struct bio *b, bio_fn work, bio_fn done, void *arg)
	__attribute__((warn_unused_result));

/* Blocks until every queued job has run, then runs the pending done
 * callbacks here (they may queue more; those are finished too). For
 * shutdown and for callers that cannot go on without a durable result. */
void bio_drain(struct bio *b);

/* Jobs queued or running whose done callback has not run yet. */
size_t bio_pending(const struct bio *b);

void bio_get_stats(const struct bio *b, struct bio_stats *st);

/* Drains, stops the thread and frees. NULL is fine. */
void bio_free(struct bio *b);

#endif
