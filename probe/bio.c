/*
 * bio.c - the background I/O worker; see bio.h for the contract.
 *
 * Two lists under one mutex: `queue` (submitted, work not run yet) and
 * `finished` (work run, done callback not run yet). The worker pops from
 * queue, runs work() without the lock, appends to finished and, when
 * finished was empty, writes one byte to a non-blocking pipe. The loop's
 * read event on the pipe empties it and runs the done callbacks in order.
 * One byte per batch rather than per job keeps the pipe from filling; a
 * byte left over after bio_drain() only wakes the loop for an empty list.
 *
 * The worker blocks every signal: libevent's signal events and the
 * daemon's handlers belong to the loop's thread.
 */
#define _GNU_SOURCE 1      /* pipe2 */
#include "bio.h"
#include "bytes.h"
#include "twtime.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct bio_job {
	bio_fn work, done;
	void *arg;
	struct bio_job *next;
};

struct bio_list {
	struct bio_job *head, *tail;
};

struct bio {
	struct event *ev_wake;
	int pipe_r, pipe_w;
	pthread_t thread;
	bool started;

	pthread_mutex_t mu;
	pthread_cond_t cond_work;     /* queue not empty, or stop */
	pthread_cond_t cond_idle;     /* a job finished */
	struct bio_list queue, finished;
	bool busy;                    /* the worker is inside work() */
	bool stop;
	double work_max_ms, work_last_ms;   /* written by the worker */

	/* loop side only */
	size_t pending;
	uint64_t submitted, ndone, waits;
};

static void list_push(struct bio_list *l, struct bio_job *j)
{
	j->next = NULL;
	if (l->tail)
		l->tail->next = j;
	else
		l->head = j;
	l->tail = j;
}

static void *bio_main(void *arg)
{
	struct bio *b = arg;

	pthread_mutex_lock(&b->mu);
	for (;;) {
		while (!b->queue.head && !b->stop)
			pthread_cond_wait(&b->cond_work, &b->mu);
		struct bio_job *j = b->queue.head;
		if (!j)
			break;          /* stop, and nothing left to do */
		b->queue.head = j->next;
		if (!b->queue.head)
			b->queue.tail = NULL;
		b->busy = true;
		pthread_mutex_unlock(&b->mu);

		double t0 = twtime_mono_ms();
		j->work(j->arg);
		double dt = twtime_mono_ms() - t0;

		pthread_mutex_lock(&b->mu);
		b->busy = false;
		b->work_last_ms = dt;
		if (dt > b->work_max_ms)
			b->work_max_ms = dt;
		bool wake = b->finished.head == NULL;
		list_push(&b->finished, j);
		pthread_cond_broadcast(&b->cond_idle);
		if (wake) {
			/* EAGAIN: a byte is already waiting, which is all we need */
			ssize_t w = write(b->pipe_w, "x", 1);
			(void)w;
		}
	}
	pthread_mutex_unlock(&b->mu);
	return NULL;
}

/* Runs the done callbacks of every finished job, in order. */
static void run_finished(struct bio *b)
{
	pthread_mutex_lock(&b->mu);
	struct bio_job *j = b->finished.head;
	b->finished.head = b->finished.tail = NULL;
	pthread_mutex_unlock(&b->mu);
	while (j) {
		struct bio_job *next = j->next;
		b->pending--;
		b->ndone++;
		if (j->done)
			j->done(j->arg);
		free(j);
		j = next;
	}
}

static void on_wake(evutil_socket_t fd, short what, void *arg)
{
	struct bio *b = arg;
	char buf[64];

	while (read(b->pipe_r, buf, sizeof buf) > 0)
		;
	run_finished(b);
}

struct bio *bio_new(struct event_base *base, char *err, size_t errlen)
{
	struct bio *b = calloc(1, sizeof *b);
	int fds[2] = { -1, -1 };
	sigset_t all, old;
	int rc;

	if (!b) {
		bytes_set_err(err, errlen, "background I/O: out of memory");
		return NULL;
	}
	b->pipe_r = b->pipe_w = -1;
	if (pthread_mutex_init(&b->mu, NULL) != 0) {
		free(b);
		bytes_set_err(err, errlen, "background I/O: cannot create a mutex");
		return NULL;
	}
	if (pthread_cond_init(&b->cond_work, NULL) != 0 ||
	    pthread_cond_init(&b->cond_idle, NULL) != 0) {
		bytes_set_err(err, errlen, "background I/O: cannot create a condition");
		goto fail;
	}
	if (pipe2(fds, O_NONBLOCK | O_CLOEXEC) != 0) {
		bytes_set_err(err, errlen, "background I/O: pipe: %s", strerror(errno));
		goto fail;
	}
	b->pipe_r = fds[0];
	b->pipe_w = fds[1];
	b->ev_wake = event_new(base, b->pipe_r, EV_READ | EV_PERSIST, on_wake, b);
	if (!b->ev_wake || event_add(b->ev_wake, NULL) != 0) {
		bytes_set_err(err, errlen, "background I/O: cannot create its event");
		goto fail;
	}
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	rc = pthread_create(&b->thread, NULL, bio_main, b);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc != 0) {
		bytes_set_err(err, errlen, "background I/O: cannot start its thread: %s",
			      strerror(rc));
		goto fail;
	}
	b->started = true;
	return b;
fail:
	bio_free(b);
	return NULL;
}

int bio_submit(struct bio *b, bio_fn work, bio_fn done, void *arg)
{
	struct bio_job *j = malloc(sizeof *j);

	if (!j)
		return -1;
	j->work = work;
	j->done = done;
	j->arg = arg;
	pthread_mutex_lock(&b->mu);
	list_push(&b->queue, j);
	pthread_cond_signal(&b->cond_work);
	pthread_mutex_unlock(&b->mu);
	b->pending++;
	b->submitted++;
	return 0;
}

void bio_drain(struct bio *b)
{
	bool waited = false;

	while (b->pending > 0) {
		pthread_mutex_lock(&b->mu);
		while (b->queue.head || b->busy) {
			waited = true;
			pthread_cond_wait(&b->cond_idle, &b->mu);
		}
		pthread_mutex_unlock(&b->mu);
		run_finished(b);   /* may queue more: the loop goes round */
	}
	if (waited)
		b->waits++;
}

size_t bio_pending(const struct bio *b)
{
	return b->pending;
}

void bio_get_stats(const struct bio *b, struct bio_stats *st)
{
	struct bio *mb = (struct bio *)b;   /* the mutex, not the contents */

	memset(st, 0, sizeof *st);
	st->submitted = b->submitted;
	st->done = b->ndone;
	st->waits = b->waits;
	pthread_mutex_lock(&mb->mu);
	st->work_max_ms = b->work_max_ms;
	st->work_last_ms = b->work_last_ms;
	pthread_mutex_unlock(&mb->mu);
}

void bio_free(struct bio *b)
{
	if (!b)
		return;
	if (b->started) {
		bio_drain(b);
		pthread_mutex_lock(&b->mu);
		b->stop = true;
		pthread_cond_signal(&b->cond_work);
		pthread_mutex_unlock(&b->mu);
		pthread_join(b->thread, NULL);
	}
	if (b->ev_wake)
		event_free(b->ev_wake);
	/* closing a pipe fails only for a bad fd, and no one is left to tell */
	if (b->pipe_r >= 0)
		(void)close(b->pipe_r);
	if (b->pipe_w >= 0)
		(void)close(b->pipe_w);
	pthread_cond_destroy(&b->cond_work);
	pthread_cond_destroy(&b->cond_idle);
	pthread_mutex_destroy(&b->mu);
	free(b);
}
