/*
 * test_spool_full.c - the spool on a really full filesystem: each test
 * mounts a small tmpfs in a mount namespace of its own (Criterion runs every
 * test in its own process, so the mount disappears with it), fills it with
 * spooled records until writing fails, fills the last free bytes with a
 * filler file, and then checks that an ack still gets the spool going:
 * the acked segments are deleted although `state` needs a new block to
 * record the ack, results that could not be written are counted as
 * dropped, and a restart on the full disk does not stop that either.
 * Skipped where mount namespaces are not allowed (not root).
 */
#define _GNU_SOURCE
#include "spool_env.h"
#include "bio.h"

#include <event2/event.h>
#include <sched.h>
#include <sys/mount.h>

static char mnt[96];

static void full_setup(void)
{
	setup();
	mnt[0] = '\0';
}

static void full_teardown(void)
{
	if (mnt[0] && umount2(mnt, MNT_DETACH) != 0)
		fprintf(stderr, "umount %s: %s\n", mnt, strerror(errno));
	teardown();
}

TestSuite(spool_full, .init = full_setup, .fini = full_teardown);

/* A tmpfs of size bytes at tmpdir/fs; the spool goes in it. */
static void mount_small_fs(const char *size)
{
	char opts[64];

	if (unshare(CLONE_NEWNS) != 0)
		cr_skip_test("unshare(CLONE_NEWNS): %s (needs root)", strerror(errno));
	cr_assert_eq(mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL), 0,
		     "make / private: %s", strerror(errno));
	snprintf(mnt, sizeof mnt, "%s/fs", tmpdir);
	cr_assert_eq(mkdir(mnt, 0700), 0, "%s: %s", mnt, strerror(errno));
	snprintf(opts, sizeof opts, "size=%s", size);
	cr_assert_eq(mount("none", mnt, "tmpfs", 0, opts), 0, "mount tmpfs: %s", strerror(errno));
	snprintf(spdir, sizeof spdir, "%s/spool", mnt);
}

/* Uses up every free byte left: whole pages, then single bytes. */
static void fill_rest(void)
{
	char p[256];
	static const char zero[4096];
	int fd;

	snprintf(p, sizeof p, "%s/filler", mnt);
	fd = open(p, O_WRONLY | O_CREAT | O_APPEND, 0600);
	cr_assert_geq(fd, 0, "%s: %s", p, strerror(errno));
	while (write(fd, zero, sizeof zero) == (ssize_t)sizeof zero)
		;
	while (write(fd, zero, 1) == 1)
		;
	cr_assert_eq(errno, ENOSPC, "filler stopped with %s", strerror(errno));
	cr_assert_eq(close(fd), 0);
}

/* Appends 1000-byte records until one cannot be written; returns the last
 * seq written. The failed one must be counted as dropped. */
static uint64_t append_until_full(struct spool *s)
{
	uint8_t buf[1000];
	char err[256] = "";
	uint64_t last = 0;
	struct spool_stats st;

	for (int i = 0; i < 100000; i++) {
		uint64_t seq = spool_next_seq(s, err, sizeof err);

		if (seq == 0)
			break;
		payload_for(seq, buf, sizeof buf);
		if (spool_append(s, seq, buf, sizeof buf, err, sizeof err) != 0)
			break;
		last = seq;
	}
	cr_assert_not_null(strstr(err, "No space left"), "stopped by: %s", err);
	cr_assert_gt(last, 10, "only %" PRIu64 " records fit", last);
	spool_get_stats(s, &st);
	cr_assert_eq(st.dropped, 1, "a result that cannot be written is dropped, counted");
	cr_assert_eq(st.write_failed, 1);
	return last;
}

/* After the ack of last: nothing acked is left on disk, and results are
 * written again. */
static void check_recovered(struct spool *s, uint64_t last)
{
	struct spool_stats st;

	spool_get_stats(s, &st);
	cr_assert_eq(st.acked_seq, last, "acked %" PRIu64 ", want %" PRIu64, st.acked_seq, last);
	cr_assert_eq(st.segments, 0, "%" PRIu64 " acked segments left", st.segments);
	cr_assert_eq(count_segs(), 0);
	cr_assert_eq(st.records, 0);
	uint64_t seq = app_len(s, 1000);
	cr_assert_gt(seq, last);
	uint64_t got[4];
	cr_assert_eq(read_all(s, last, 10, 1000, got, 4), 1);
	cr_assert_eq(got[0], seq);
}

Test(spool_full, ack_on_full_disk_deletes_acked_segments)
{
	char err[256] = "";

	mount_small_fs("256k");
	struct spool *s = sp_open(0, 16 << 10);
	uint64_t last = append_until_full(s);
	fill_rest();

	/* the old code: `state` cannot be replaced (state.tmp needs a block),
	 * so the ack fails and every segment stays, for ever */
	cr_assert_eq(spool_ack(s, last, err, sizeof err), 0, "spool_ack: %s", err);
	check_recovered(s, last);
	spool_close(s);

	/* the ack is on disk */
	char sp[256], buf[128];
	state_path(sp, sizeof sp);
	read_file(sp, buf, sizeof buf);
	char want[64];
	snprintf(want, sizeof want, "acked %" PRIu64 "\n", last);
	cr_assert_eq(strncmp(buf, want, strlen(want)), 0, "state: %s", buf);
}

Test(spool_full, restart_on_full_disk_with_worker_recovers)
{
	char err[256] = "";
	struct event_base *base = event_base_new();
	cr_assert_not_null(base);
	struct bio *b = bio_new(base, err, sizeof err);
	cr_assert_not_null(b, "bio_new: %s", err);

	mount_small_fs("256k");
	struct spool_opts o = { .dir = spdir, .segment_bytes = 16 << 10, .bio = b };
	struct spool *s = spool_open(&o, err, sizeof err);
	cr_assert_not_null(s, "spool_open: %s", err);
	uint64_t last = append_until_full(s);
	fill_rest();
	spool_close(s);

	/* a restart on the full disk: open must not need a block either */
	s = spool_open(&o, err, sizeof err);
	cr_assert_not_null(s, "spool_open on a full disk: %s", err);
	struct spool_stats st;
	spool_get_stats(s, &st);
	cr_assert_gt(st.segments, 1);
	cr_assert_eq(spool_next_seq(s, err, sizeof err), 0, "no reservation fits yet");
	spool_get_stats(s, &st);
	cr_assert_eq(st.dropped, 1, "the result without a number is dropped, counted");

	/* the collector acks what the previous run sent */
	cr_assert_eq(spool_ack(s, last, err, sizeof err), 0, "spool_ack: %s", err);
	bio_drain(b);
	check_recovered(s, last);
	spool_close(s);
	bio_free(b);
	event_base_free(base);
}
