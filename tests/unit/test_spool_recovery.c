/*
 * test_spool_recovery.c - probe/spool.c after crashes and acks: sequence
 * numbers never reused (across reopen, a killed writer, a lost tail),
 * recovery from torn, corrupt and out-of-order segments, malformed state,
 * and acks deleting segments durably (spool.h, DESIGN 5). Format, reads and
 * the size limit: test_spool.c. Helpers: spool_env.h.
 *
 * Every test runs in its own temp dir, made by the suite's init and
 * removed by its fini even when an assertion fails.
 */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "spool.h"
#include "spool_env.h"

TestSuite(spool, .init = setup, .fini = teardown);

/* ---- sequence numbers ---- */

Test(spool, seq_continues_across_reopen)
{
	struct spool *s = sp_open(0, 0);
	uint64_t seqs[64], first_new;
	char p[256], state[128], err[256];

	for (int i = 0; i < 10; i++)
		app(s);
	cr_assert_eq(spool_next_seq(s, err, sizeof err), 11, "asking twice gives the same");
	cr_assert_eq(spool_next_seq(s, err, sizeof err), 11);
	spool_close(s);

	s = sp_open(0, 0);
	{
		struct spool_stats st;

		spool_get_stats(s, &st);
		cr_assert_eq(st.last_seq, 10);
		cr_assert_eq(st.records, 10);
	}
	first_new = app(s);
	/* the whole reserved block 1..1024 may have been handed out */
	cr_assert_gt(first_new, 1024, "reopen starts past the reservation, got %" PRIu64,
		     first_new);
	state_path(p, sizeof p);
	read_file(p, state, sizeof state);
	check_state(state, "acked 0\nreserved 2048\n");
	for (int i = 0; i < 9; i++)
		app(s);
	cr_assert_eq(read_all(s, 0, 4, 0, seqs, 64), 20);
	for (int i = 1; i < 20; i++)
		cr_assert_gt(seqs[i], seqs[i - 1]);
	cr_assert_eq(seqs[10], first_new);
	spool_close(s);
}

/* Child: open, append n records, report the last seq on fd, _exit without
 * spool_close (no sync, no cleanup) - a killed process. */
static void crash_child(int wfd, int n, uint64_t seg_bytes)
{
	struct spool_opts o = { .dir = spdir, .segment_bytes = seg_bytes };
	char err[256];
	struct spool *s = spool_open(&o, err, sizeof err);
	uint64_t seq = 0;
	uint8_t buf[256];

	if (s == NULL)
		_exit(2);
	for (int i = 0; i < n; i++) {
		seq = spool_next_seq(s, err, sizeof err);
		if (seq == 0)
			_exit(3);
		payload_for(seq, buf, len_for(seq));
		if (spool_append(s, seq, buf, len_for(seq), err, sizeof err) != 0)
			_exit(4);
	}
	if (write(wfd, &seq, sizeof seq) != sizeof seq)
		_exit(5);
	_exit(0);
}

static uint64_t run_crash_child(int n, uint64_t seg_bytes)
{
	int fds[2], status;
	uint64_t last = 0;
	pid_t pid;

	cr_assert_eq(pipe(fds), 0);
	pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		close(fds[0]);
		crash_child(fds[1], n, seg_bytes);
	}
	close(fds[1]);
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child status %d", status);
	cr_assert_eq(read(fds[0], &last, sizeof last), (ssize_t)sizeof last);
	close(fds[0]);
	return last;
}

Test(spool, crash_never_reuses_seq)
{
	static uint64_t seqs[8000];
	uint64_t last_handed = 0;
	struct spool *s;
	size_t n;

	/* 1500 > one 1024 block: the child reserves twice */
	for (int round = 0; round < 3; round++) {
		uint64_t last = run_crash_child(1500, 16384);

		cr_assert_gt(last, last_handed, "round %d: seq went backwards", round);
		last_handed = last;
	}
	s = sp_open(0, 16384);
	n = read_all(s, 0, 700, 0, seqs, 8000);
	cr_assert_eq(n, 4500, "a killed process loses nothing (page cache)");
	for (size_t i = 1; i < n; i++)
		cr_assert_gt(seqs[i], seqs[i - 1], "seqs strictly increase at %zu", i);
	cr_assert_eq(seqs[n - 1], last_handed);
	cr_assert_gt(app(s), last_handed);
	spool_close(s);
}

/* A power loss takes unsynced records whose seqs may already be committed
 * by the collector: the reservation must keep them from being reused. */
Test(spool, lost_tail_does_not_reuse_seq)
{
	uint64_t last = run_crash_child(30, 0), cut = 0, next;
	char p[512], err[256];
	struct spool *s;
	struct spool_stats st;

	/* the page cache "loses" the last 5 records */
	for (uint64_t q = last - 4; q <= last; q++)
		cut += HDR + len_for(q);
	seg_path(p, sizeof p, true);
	cr_assert_eq(truncate(p, file_size(p) - (off_t)cut), 0);

	s = sp_open(0, 0);
	spool_get_stats(s, &st);
	cr_assert_eq(st.last_seq, last - 5);
	cr_assert_eq(st.truncated_bytes, 0, "whole records gone is not a torn tail");
	next = spool_next_seq(s, err, sizeof err);
	cr_assert_gt(next, last, "seq %" PRIu64 " reused (child handed out up to %" PRIu64 ")",
		     next, last);
	spool_close(s);
}

/* ---- recovery ---- */

/* Ten records in one segment; returns that segment's path. */
static void ten_records(char *p, size_t len)
{
	struct spool *s = sp_open(0, 0);

	for (int i = 0; i < 10; i++)
		app(s);
	spool_close(s);
	seg_path(p, len, true);
}

static uint64_t offset_of(uint64_t seq)
{
	uint64_t off = 0;

	for (uint64_t q = 1; q < seq; q++)
		off += HDR + len_for(q);
	return off;
}

/* Reopens after damage: expects `intact` records, `cut` bytes cut and
 * `lost` records counted as dropped, then appends three and checks
 * everything reads back, also after another reopen (which must find
 * nothing left to cut). */
static void expect_recovery(size_t intact, uint64_t cut, uint64_t lost)
{
	struct spool *s = sp_open(0, 0);
	struct spool_stats st;
	uint64_t seqs[64];

	spool_get_stats(s, &st);
	cr_assert_eq(st.truncated_bytes, cut);
	cr_assert_eq(st.recovered_lost, lost, "lost %" PRIu64 ", want %" PRIu64,
		     st.recovered_lost, lost);
	cr_assert_eq(st.dropped, lost, "records cut are dropped, counted");
	cr_assert_eq(st.records, intact);
	cr_assert_eq(read_all(s, 0, 3, 0, seqs, 64), intact);
	for (size_t i = 0; i < intact; i++)
		cr_assert_eq(seqs[i], i + 1);
	for (int i = 0; i < 3; i++)
		cr_assert_gt(app(s), 10, "no seq reused after a cut");
	cr_assert_eq(read_all(s, 0, 3, 0, seqs, 64), intact + 3);
	spool_close(s);

	s = sp_open(0, 0);
	spool_get_stats(s, &st);
	cr_assert_eq(st.truncated_bytes, 0);
	cr_assert_eq(st.dropped, 0);
	cr_assert_eq(read_all(s, 0, 100, 0, seqs, 64), intact + 3);
	spool_close(s);
}

Test(spool, torn_tail_mid_payload)
{
	char p[512];
	off_t full;

	ten_records(p, sizeof p);
	full = file_size(p);
	cr_assert_eq(truncate(p, full - 3), 0);
	expect_recovery(9, HDR + len_for(10) - 3, 1);
	cr_assert_eq(file_size(p), (off_t)offset_of(10), "cut at the torn record");
}

Test(spool, torn_tail_garbage_short)
{
	char p[512];
	FILE *f;

	ten_records(p, sizeof p);
	f = fopen(p, "a");
	cr_assert_not_null(f);
	fputs("GARBAGE", f);   /* 7 bytes: not even a header */
	fclose(f);
	expect_recovery(10, 7, 0);    /* no record there */
}

Test(spool, torn_tail_garbage_impossible_length)
{
	char p[512];
	uint8_t junk[40];
	FILE *f;

	ten_records(p, sizeof p);
	memset(junk, 0xff, sizeof junk);
	f = fopen(p, "a");
	cr_assert_not_null(f);
	cr_assert_eq(fwrite(junk, 1, sizeof junk, f), sizeof junk);
	fclose(f);
	expect_recovery(10, sizeof junk, 0);
}

Test(spool, flipped_byte_cuts_from_that_record)
{
	char p[512];
	off_t full;
	uint64_t at = offset_of(6) + HDR + 0;
	int fd;
	uint8_t c;

	ten_records(p, sizeof p);
	full = file_size(p);
	fd = open(p, O_RDWR);
	cr_assert_geq(fd, 0);
	cr_assert_eq(pread(fd, &c, 1, (off_t)at), 1);
	c ^= 0x01;
	cr_assert_eq(pwrite(fd, &c, 1, (off_t)at), 1);
	close(fd);
	expect_recovery(5, (uint64_t)full - offset_of(6), 5);  /* 6..10 */
}

/* Flips one byte of the 8-byte seq field of record `seq`'s header. */
static void flip_seq_field(const char *p, uint64_t seq)
{
	uint64_t at = offset_of(seq) + 8 + 7;
	uint8_t c;
	int fd = open(p, O_RDWR);

	cr_assert_geq(fd, 0);
	cr_assert_eq(pread(fd, &c, 1, (off_t)at), 1);
	c ^= 0x40;
	cr_assert_eq(pwrite(fd, &c, 1, (off_t)at), 1);
	close(fd);
}

Test(spool, corrupt_header_counts_the_intact_records_behind_it)
{
	char p[512];
	off_t full;

	ten_records(p, sizeof p);
	full = file_size(p);
	flip_seq_field(p, 4);
	/* record 4 no longer says 4, but 5..10 are intact: 4..10 are lost */
	expect_recovery(3, (uint64_t)full - offset_of(4), 7);
}

Test(spool, acked_records_cut_are_not_counted)
{
	char p[512], err[256];
	struct spool *s = sp_open(0, 0);
	struct spool_stats st;
	uint64_t seqs[16];

	for (int i = 0; i < 10; i++)
		app(s);
	cr_assert_eq(spool_ack(s, 7, err, sizeof err), 0, "spool_ack: %s", err);
	spool_close(s);
	seg_path(p, sizeof p, true);
	flip_seq_field(p, 6);

	s = sp_open(0, 0);
	spool_get_stats(s, &st);
	cr_assert_eq(st.recovered_lost, 3, "8..10 lost, 6 and 7 were acked (%" PRIu64 ")",
		     st.recovered_lost);
	cr_assert_eq(st.dropped, 3);
	cr_assert_eq(st.records, 0);
	cr_assert_eq(read_all(s, 0, 16, 0, seqs, 16), 0);
	spool_close(s);
}

Test(spool, corrupt_segment_does_not_hide_later_ones)
{
	struct spool *s = sp_open(0, 300);
	static uint64_t seqs[200];
	struct spool_stats st;
	char p[512];
	uint8_t c;
	size_t n;
	int fd;

	for (int i = 0; i < 100; i++)
		app(s);
	spool_close(s);
	/* damage the first record's payload of the oldest segment */
	seg_path(p, sizeof p, false);
	fd = open(p, O_RDWR);
	cr_assert_geq(fd, 0);
	cr_assert_eq(pread(fd, &c, 1, HDR), 1);
	c ^= 0x80;
	cr_assert_eq(pwrite(fd, &c, 1, HDR), 1);
	close(fd);

	s = sp_open(0, 300);
	spool_get_stats(s, &st);
	cr_assert_gt(st.truncated_bytes, 0);
	n = read_all(s, 0, 7, 0, seqs, 200);
	cr_assert_lt(n, 100);
	cr_assert_gt(n, 90, "only the damaged segment is lost (read %zu)", n);
	cr_assert_eq(seqs[n - 1], 100, "later segments are still read");
	cr_assert_eq(st.records, n);
	spool_close(s);
}

Test(spool, seq_not_increasing_across_segments_is_cut)
{
	struct spool *s = sp_open(0, 300);
	static uint64_t seqs[200];
	struct spool_stats st;
	char oldest[512], copy[512], buf[4096];
	ssize_t got;
	size_t n;
	int in, out;

	for (int i = 0; i < 100; i++)
		app(s);
	spool_close(s);
	/* a stale copy of the oldest segment sorted after everything else */
	seg_path(oldest, sizeof oldest, false);
	snprintf(copy, sizeof copy, "%s/09999999999999999999.seg", spdir);
	in = open(oldest, O_RDONLY);
	out = open(copy, O_WRONLY | O_CREAT | O_EXCL, 0600);
	cr_assert(in >= 0 && out >= 0);
	while ((got = read(in, buf, sizeof buf)) > 0)
		cr_assert_eq(write(out, buf, (size_t)got), got);
	cr_assert_eq(got, 0);
	close(in);
	close(out);

	s = sp_open(0, 300);
	spool_get_stats(s, &st);
	cr_assert_eq(st.truncated_bytes, (uint64_t)file_size(oldest),
		     "the whole copy is cut: its seqs do not increase");
	cr_assert_eq(access(copy, F_OK), -1, "a segment cut to nothing is removed");
	cr_assert_eq(st.dropped, 0, "a stale copy loses nothing");
	n = read_all(s, 0, 1000, 0, seqs, 200);
	cr_assert_eq(n, 100, "no record is returned twice");
	spool_close(s);
}

/* Streaming one record per call through a large backlog (the uplink's
 * pattern, served by the read cursor) returns every record once, in order.
 * (That it is linear, not quadratic, is a speed property: not asserted.) */
Test(spool, streaming_one_at_a_time_is_in_order)
{
	struct spool *s = sp_open(0, 0);
	uint64_t after = 0;
	char err[256];

	for (int i = 0; i < 20000; i++)
		app(s);
	for (int i = 0; i < 20000; i++) {
		struct spool_batch b;

		cr_assert_eq(spool_read(s, after, 1, 0, &b, err, sizeof err), 0, "%s", err);
		cr_assert_eq(b.n, 1);
		cr_assert_eq(b.recs[0].seq, after + 1);
		after = b.recs[0].seq;
		spool_batch_free(&b);
	}
	struct spool_batch b;
	cr_assert_eq(spool_read(s, after, 1, 0, &b, err, sizeof err), 0, "%s", err);
	cr_assert_eq(b.n, 0, "nothing after the last record");
	spool_batch_free(&b);
	spool_close(s);
}

Test(spool, malformed_state_is_refused)
{
	struct spool *s = sp_open(0, 0);
	struct spool_opts o = { .dir = spdir };
	char p[512], err[256] = "";
	FILE *f;

	app(s);
	spool_close(s);
	state_path(p, sizeof p);
	f = fopen(p, "w");
	cr_assert_not_null(f);
	fputs("acked 0\nreserved x\n", f);
	fclose(f);
	cr_assert_null(spool_open(&o, err, sizeof err));
	cr_assert(strstr(err, "state") != NULL, "err names the file: %s", err);
}

/* ---- acks ---- */

Test(spool, ack_deletes_segments_and_persists)
{
	struct spool *s = sp_open(0, 300);
	static uint64_t seqs[200];
	struct spool_stats st;
	char p[256], state[128], err[256];
	int before, after;

	for (int i = 0; i < 100; i++)
		app(s);
	before = count_segs();
	cr_assert_eq(spool_ack(s, 50, err, sizeof err), 0, "%s", err);
	after = count_segs();
	cr_assert_lt(after, before, "ack deletes whole segments (%d -> %d)", before, after);
	cr_assert_gt(after, 0);
	spool_get_stats(s, &st);
	cr_assert_eq(st.acked_seq, 50);
	cr_assert_eq(st.records, 50);
	cr_assert_eq(st.segments, (uint64_t)after);
	cr_assert_eq(st.bytes, seg_bytes_on_disk());
	cr_assert_lt(seg_bytes_on_disk(), offset_of(101) - offset_of(51) + 300,
		     "at most one partly acked segment is left");
	cr_assert_eq(read_all(s, 0, 8, 0, seqs, 200), 50, "acked records are not read");
	cr_assert_eq(seqs[0], 51);

	cr_assert_eq(spool_ack(s, 20, err, sizeof err), 0, "backward ack is ignored");
	spool_get_stats(s, &st);
	cr_assert_eq(st.acked_seq, 50);
	spool_close(s);

	state_path(p, sizeof p);
	read_file(p, state, sizeof state);
	check_state(state, "acked 50\nreserved 1024\n");

	s = sp_open(0, 300);
	spool_get_stats(s, &st);
	cr_assert_eq(st.acked_seq, 50);
	cr_assert_eq(st.records, 50);
	cr_assert_eq(read_all(s, 0, 8, 0, seqs, 200), 50);
	cr_assert_eq(seqs[0], 51);

	/* beyond the last seq: clamped, everything goes */
	cr_assert_eq(spool_ack(s, 1000000, err, sizeof err), 0, "%s", err);
	spool_get_stats(s, &st);
	cr_assert_eq(st.acked_seq, 100);
	cr_assert_eq(st.records, 0);
	cr_assert_eq(count_segs(), 0);
	cr_assert_eq(read_all(s, 0, 8, 0, seqs, 200), 0);
	{
		uint64_t q = app(s);

		cr_assert_gt(q, 100);
		cr_assert_eq(read_all(s, 0, 8, 0, seqs, 200), 1);
		cr_assert_eq(seqs[0], q);
	}
	spool_close(s);
}

Test(spool, ack_of_active_segment_then_append)
{
	struct spool *s = sp_open(0, 0);
	uint64_t seqs[16], a, b;
	char err[256];

	a = app(s);
	cr_assert_eq(spool_ack(s, a, err, sizeof err), 0, "%s", err);
	cr_assert_eq(count_segs(), 0, "the wholly acked active segment is deleted");
	b = app(s);
	cr_assert_eq(b, a + 1);
	cr_assert_eq(count_segs(), 1);
	cr_assert_eq(read_all(s, 0, 8, 0, seqs, 16), 1);
	cr_assert_eq(seqs[0], b);
	spool_close(s);
}
