/*
 * test_bio.c - probe/bio.c (the background I/O worker) and the spool with
 * one attached (spool.h, "Durable writes off the loop").
 *
 * A "gate" job blocks the worker until the test opens it: that is how the
 * tests stand for a disk that has not finished an fsync yet, and check
 * what the loop sees meanwhile (acks not yet effective, appends not
 * waiting) and afterwards (ack persisted, then segments deleted).
 */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <event2/event.h>

#include "bio.h"
#include "log.h"
#include "spool.h"

static char tmpdir[64];
static struct event_base *base;

static int rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	return remove(path);
}

static void setup(void)
{
	snprintf(tmpdir, sizeof tmpdir, "/tmp/tw-bio-XXXXXX");
	cr_assert_not_null(mkdtemp(tmpdir));
	log_init("test_bio", TWLOG_ERROR, false);
	base = event_base_new();
	cr_assert_not_null(base);
}

static void teardown(void)
{
	if (base)
		event_base_free(base);
	base = NULL;
	if (tmpdir[0])
		nftw(tmpdir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

TestSuite(bio, .init = setup, .fini = teardown);

static struct bio *bio_open(void)
{
	char err[256] = "";
	struct bio *b = bio_new(base, err, sizeof err);
	cr_assert_not_null(b, "bio_new: %s", err);
	return b;
}

/* ---- a gate: work() blocks until gate_open() ---- */

struct gate {
	int fds[2];
	bool done_ran;
};

static void gate_work(void *arg)
{
	struct gate *g = arg;
	char c;
	while (read(g->fds[0], &c, 1) < 0 && errno == EINTR)
		;
}

static void gate_done(void *arg)
{
	((struct gate *)arg)->done_ran = true;
}

static void gate_close(struct bio *b, struct gate *g)
{
	cr_assert_eq(pipe(g->fds), 0);
	g->done_ran = false;
	cr_assert_eq(bio_submit(b, gate_work, gate_done, g), 0);
}

static void gate_open(struct gate *g)
{
	cr_assert_eq(write(g->fds[1], "x", 1), 1);
}

static void gate_free(struct gate *g)
{
	close(g->fds[0]);
	close(g->fds[1]);
}

/* ---- bio on its own ---- */

struct order {
	int log[16];
	int n;
	bool on_worker[16];
};

struct step {
	struct order *o;
	int id;
	pthread_t loop;
};

static void step_work(void *arg)
{
	struct step *s = arg;
	s->o->on_worker[s->id] = !pthread_equal(pthread_self(), s->loop);
}

static void step_done(void *arg)
{
	struct step *s = arg;
	cr_assert(pthread_equal(pthread_self(), s->loop), "done must run on the loop's thread");
	s->o->log[s->o->n++] = s->id;
}

Test(bio, jobs_run_in_order_on_the_worker_and_finish_on_the_loop)
{
	struct bio *b = bio_open();
	struct order o = { 0 };
	struct step st[8];

	for (int i = 0; i < 8; i++) {
		st[i] = (struct step){ &o, i, pthread_self() };
		cr_assert_eq(bio_submit(b, step_work, step_done, &st[i]), 0);
	}
	cr_assert_eq(bio_pending(b), 8);
	/* the loop delivers the done callbacks (no drain) */
	while (o.n < 8)
		cr_assert_geq(event_base_loop(base, EVLOOP_ONCE), 0);
	for (int i = 0; i < 8; i++) {
		cr_assert_eq(o.log[i], i, "done callbacks out of order");
		cr_assert(o.on_worker[i], "job %d ran on the loop's thread", i);
	}
	cr_assert_eq(bio_pending(b), 0);
	struct bio_stats bs;
	bio_get_stats(b, &bs);
	cr_assert_eq(bs.submitted, 8);
	cr_assert_eq(bs.done, 8);
	bio_free(b);
}

Test(bio, drain_waits_for_a_blocked_job_and_free_finishes_everything)
{
	struct bio *b = bio_open();
	struct gate g;

	gate_close(b, &g);
	cr_assert_eq(event_base_loop(base, EVLOOP_NONBLOCK), 0);
	cr_assert_not(g.done_ran, "done before the work finished");
	cr_assert_eq(bio_pending(b), 1);
	gate_open(&g);
	bio_drain(b);
	cr_assert(g.done_ran);
	cr_assert_eq(bio_pending(b), 0);

	/* bio_free runs what is still queued, done callbacks included */
	gate_close(b, &g);
	gate_open(&g);
	bio_free(b);
	cr_assert(g.done_ran);
	gate_free(&g);
}

/* ---- the spool with a worker ---- */

static struct spool *sp_open(struct bio *b, const char *sub, uint64_t seg_bytes)
{
	char dir[128], err[256] = "";
	snprintf(dir, sizeof dir, "%s/%s", tmpdir, sub);
	struct spool_opts o = { .dir = dir, .segment_bytes = seg_bytes, .bio = b };
	struct spool *s = spool_open(&o, err, sizeof err);
	cr_assert_not_null(s, "spool_open: %s", err);
	return s;
}

static uint64_t app(struct spool *s)
{
	uint8_t buf[100];
	char err[256] = "";
	uint64_t seq = spool_next_seq(s, err, sizeof err);
	cr_assert_neq(seq, 0, "spool_next_seq: %s", err);
	memset(buf, (int)(seq & 0xff), sizeof buf);
	cr_assert_eq(spool_append(s, seq, buf, sizeof buf, err, sizeof err), 0, "%s", err);
	return seq;
}

static unsigned long long state_acked(const char *sub)
{
	char path[160], buf[128] = "";
	unsigned long long acked = 0, reserved = 0;
	snprintf(path, sizeof path, "%s/%s/state", tmpdir, sub);
	FILE *f = fopen(path, "r");
	cr_assert_not_null(f, "%s: %s", path, strerror(errno));
	size_t n = fread(buf, 1, sizeof buf - 1, f);
	buf[n] = '\0';
	fclose(f);
	cr_assert_eq(sscanf(buf, "acked %llu\nreserved %llu\n", &acked, &reserved), 2, "%s", buf);
	return acked;
}

/* Segment files in the spool directory sub (read directly: a unit test
 * starts no shell). */
static int seg_count(const char *sub)
{
	char path[PATH_MAX];
	struct dirent *e;
	int n = 0;
	snprintf(path, sizeof path, "%s/%s", tmpdir, sub);
	DIR *d = opendir(path);
	cr_assert_not_null(d, "%s: %s", path, strerror(errno));
	while ((e = readdir(d)) != NULL) {
		size_t len = strlen(e->d_name);
		if (len > 4 && strcmp(e->d_name + len - 4, ".seg") == 0)
			n++;
	}
	closedir(d);
	return n;
}

Test(bio, ack_takes_effect_only_once_state_is_on_disk)
{
	struct bio *b = bio_open();
	/* 100-byte records in 1200-byte segments: 10 per segment */
	struct spool *s = sp_open(b, "ack", 1200);
	char err[256] = "";
	struct spool_stats st;
	struct gate g;

	bio_drain(b);   /* the first reservation */
	for (int i = 0; i < 35; i++)
		app(s);
	bio_drain(b);   /* rotation fsyncs */
	cr_assert_eq(seg_count("ack"), 4);

	/* the disk is "busy": the ack is queued behind the gate */
	gate_close(b, &g);
	cr_assert_eq(spool_ack(s, 25, err, sizeof err), 0, "%s", err);
	cr_assert_eq(spool_ack(s, 20, err, sizeof err), 0, "backwards is ignored: %s", err);
	spool_get_stats(s, &st);
	cr_assert_eq(st.acked_seq, 0, "acked_seq moved before state was written");
	cr_assert_eq(st.records, 35);
	cr_assert_eq(state_acked("ack"), 0);
	cr_assert_eq(seg_count("ack"), 4, "a segment went before its ack was durable");
	/* the loop keeps appending meanwhile, without waiting */
	app(s);

	gate_open(&g);
	bio_drain(b);
	spool_get_stats(s, &st);
	cr_assert_eq(state_acked("ack"), 25);
	cr_assert_eq(st.acked_seq, 25);
	cr_assert_eq(st.records, 11);
	cr_assert_eq(seg_count("ack"), 2, "segments 1-10 and 11-20 are wholly acked");
	cr_assert_eq(st.durable_errors, 0);

	spool_close(s);
	bio_free(b);
	gate_free(&g);
}

Test(bio, appends_do_not_wait_for_a_stalled_disk)
{
	struct bio *b = bio_open();
	struct spool *s = sp_open(b, "stall", 4096);
	struct spool_stats st;
	struct gate g;

	bio_drain(b);
	gate_close(b, &g);
	/* 1,000 appends rotate ~25 segments and use half the reservation: all
	 * of it queued behind the gate, none of it waited for */
	for (int i = 0; i < 1000; i++)
		app(s);
	char err[256] = "";
	cr_assert_eq(spool_sync_start(s, err, sizeof err), 0, "%s", err);
	spool_get_stats(s, &st);
	cr_assert_eq(st.reserve_waits, 0);
	cr_assert_gt(st.durable_pending, 20, "rotations should be queued, %llu are",
		     (unsigned long long)st.durable_pending);
	cr_assert_not(g.done_ran);
	gate_open(&g);

	/* spool_sync waits for everything queued, then syncs */
	cr_assert_eq(spool_sync(s, err, sizeof err), 0, "%s", err);
	spool_get_stats(s, &st);
	cr_assert_eq(st.durable_pending, 0);
	cr_assert_eq(st.last_seq, 1000);
	spool_close(s);

	/* reopened without a worker: everything is there, nothing reused */
	s = sp_open(NULL, "stall", 4096);
	spool_get_stats(s, &st);
	cr_assert_eq(st.records, 1000);
	cr_assert_gt(spool_next_seq(s, err, sizeof err), 1000);
	spool_close(s);
	bio_free(b);
	gate_free(&g);
}

Test(bio, reservation_asked_ahead_waited_for_only_when_behind)
{
	struct bio *b = bio_open();
	struct spool *s = sp_open(b, "resv", 0);
	struct spool_stats st;

	/* without ever running the loop or draining, numbers keep coming:
	 * whenever one is not reserved yet, spool_next_seq waits for it */
	for (int i = 0; i < 5000; i++)
		app(s);
	spool_get_stats(s, &st);
	cr_assert_eq(st.last_seq, 5000);
	cr_assert_lt(st.reserve_waits, 5, "%llu waits", (unsigned long long)st.reserve_waits);
	spool_close(s);
	bio_free(b);
}
