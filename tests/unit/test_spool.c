/*
 * test_spool.c - probe/spool.c: segments, CRC, recovery, seq reservation,
 * acks and the size limit (spool.h, DESIGN 5).
 *
 * Every test runs in its own temp dir (mkdtemp under /tmp), made by the
 * suite's init and removed by its fini even when an assertion fails.
 * Payloads are derived from their seq (payload_for), so any record read
 * back can be checked byte for byte without keeping a copy.
 */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "spool.h"

#define HDR 16u

static char tmpdir[64];
static char spdir[128];

static int rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	return remove(path);
}

static void setup(void)
{
	snprintf(tmpdir, sizeof tmpdir, "/tmp/tw-spool-XXXXXX");
	cr_assert_not_null(mkdtemp(tmpdir));
	/* a nested path: open must create it (mkdir -p) */
	snprintf(spdir, sizeof spdir, "%s/a/spool", tmpdir);
	log_init("test_spool", TWLOG_ERROR, false);
}

static void teardown(void)
{
	if (tmpdir[0])
		nftw(tmpdir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

TestSuite(spool, .init = setup, .fini = teardown);

/* ---- helpers ---- */

static size_t len_for(uint64_t seq)
{
	return 1 + (size_t)((seq * 37) % 150);
}

static void payload_for(uint64_t seq, uint8_t *buf, size_t len)
{
	for (size_t i = 0; i < len; i++)
		buf[i] = (uint8_t)(seq * 131 + i * 7 + (seq >> 8));
}

static struct spool *sp_open(uint64_t max_bytes, uint64_t seg_bytes)
{
	struct spool_opts o = { .dir = spdir, .max_bytes = max_bytes,
				.segment_bytes = seg_bytes };
	char err[256] = "";
	struct spool *s = spool_open(&o, err, sizeof err);

	cr_assert_not_null(s, "spool_open: %s", err);
	return s;
}

/* Appends one record of len bytes (0: len_for(seq)); returns its seq. */
static uint64_t app_len(struct spool *s, size_t len)
{
	uint8_t buf[2048];
	char err[256] = "";
	uint64_t seq = spool_next_seq(s, err, sizeof err);

	cr_assert_neq(seq, 0, "spool_next_seq: %s", err);
	if (len == 0)
		len = len_for(seq);
	cr_assert_leq(len, sizeof buf);
	payload_for(seq, buf, len);
	cr_assert_eq(spool_append(s, seq, buf, len, err, sizeof err), 0,
		     "append %" PRIu64 ": %s", seq, err);
	return seq;
}

static uint64_t app(struct spool *s)
{
	return app_len(s, 0);
}

/* Asserts rec carries the payload its seq implies (len 0: len_for). */
static void check_rec(const struct spool_rec *r, size_t len)
{
	uint8_t want[2048];

	if (len == 0)
		len = len_for(r->seq);
	cr_assert_eq(r->len, len, "seq %" PRIu64 ": len %zu, want %zu", r->seq, r->len, len);
	payload_for(r->seq, want, len);
	cr_assert_eq(memcmp(r->data, want, len), 0, "seq %" PRIu64 ": payload differs", r->seq);
}

/* Streams every record after `after` in batches of `per`; fills seqs (up to
 * cap) and returns the count. Checks order and payloads (len 0: len_for). */
static size_t read_all(struct spool *s, uint64_t after, size_t per, size_t len,
		       uint64_t *seqs, size_t cap)
{
	size_t n = 0;
	char err[256] = "";

	for (;;) {
		struct spool_batch b;

		cr_assert_eq(spool_read(s, after, per, 0, &b, err, sizeof err), 0,
			     "spool_read: %s", err);
		if (b.n == 0) {
			spool_batch_free(&b);
			return n;
		}
		cr_assert_leq(b.n, per);
		for (size_t i = 0; i < b.n; i++) {
			cr_assert_gt(b.recs[i].seq, after, "seq %" PRIu64 " not after %" PRIu64,
				     b.recs[i].seq, after);
			check_rec(&b.recs[i], len);
			after = b.recs[i].seq;
			if (n < cap)
				seqs[n] = after;
			n++;
		}
		spool_batch_free(&b);
	}
}

static int count_segs(void)
{
	DIR *d = opendir(spdir);
	struct dirent *de;
	int n = 0;

	cr_assert_not_null(d);
	while ((de = readdir(d)) != NULL) {
		size_t l = strlen(de->d_name);

		if (l == 24 && strcmp(de->d_name + 20, ".seg") == 0)
			n++;
	}
	closedir(d);
	return n;
}

/* Sum of the sizes of all segment files. */
static uint64_t seg_bytes_on_disk(void)
{
	DIR *d = opendir(spdir);
	struct dirent *de;
	uint64_t total = 0;

	cr_assert_not_null(d);
	while ((de = readdir(d)) != NULL) {
		char p[512];
		struct stat sb;

		if (strlen(de->d_name) != 24 || strcmp(de->d_name + 20, ".seg") != 0)
			continue;
		snprintf(p, sizeof p, "%s/%s", spdir, de->d_name);
		cr_assert_eq(stat(p, &sb), 0);
		total += (uint64_t)sb.st_size;
	}
	closedir(d);
	return total;
}

/* Path of the newest (or oldest) segment file. */
static void seg_path(char *out, size_t len, bool newest)
{
	DIR *d = opendir(spdir);
	struct dirent *de;
	char best[32] = "";

	cr_assert_not_null(d);
	while ((de = readdir(d)) != NULL) {
		if (strlen(de->d_name) != 24 || strcmp(de->d_name + 20, ".seg") != 0)
			continue;
		if (best[0] == '\0' || (strcmp(de->d_name, best) > 0) == newest)
			snprintf(best, sizeof best, "%s", de->d_name);
	}
	closedir(d);
	cr_assert_neq(best[0], '\0', "no segment in %s", spdir);
	snprintf(out, len, "%s/%s", spdir, best);
}

static off_t file_size(const char *p)
{
	struct stat sb;

	cr_assert_eq(stat(p, &sb), 0, "%s: %s", p, strerror(errno));
	return sb.st_size;
}

static void read_file(const char *p, char *buf, size_t cap)
{
	FILE *f = fopen(p, "r");
	size_t n;

	cr_assert_not_null(f, "%s: %s", p, strerror(errno));
	n = fread(buf, 1, cap - 1, f);
	buf[n] = '\0';
	fclose(f);
}

static void state_path(char *out, size_t len)
{
	snprintf(out, len, "%s/state", spdir);
}

/* ---- CRC ---- */

Test(spool, crc32c_vector)
{
	uint32_t part = spool_crc32c(0, "1234", 4);

	cr_assert_eq(spool_crc32c(0, "123456789", 9), 0xE3069283u);
	cr_assert_eq(spool_crc32c(part, "56789", 5), 0xE3069283u, "CRC must chain");
	cr_assert_eq(spool_crc32c(0, "", 0), 0u);
	/* 32 zero bytes: RFC 3720 B.4 test vector */
	{
		uint8_t z[32] = { 0 };

		cr_assert_eq(spool_crc32c(0, z, sizeof z), 0x8A9136AAu);
	}
}

/* ---- round trip, format ---- */

Test(spool, append_read_round_trip)
{
	struct spool *s = sp_open(0, 0);
	struct spool_stats st;
	struct spool_batch b;
	char err[256];
	uint64_t bytes = 0;

	for (uint64_t i = 1; i <= 200; i++) {
		uint64_t seq = app(s);

		cr_assert_eq(seq, i, "a fresh spool numbers from 1");
		bytes += HDR + len_for(seq);
	}
	cr_assert_eq(spool_read(s, 0, 1000, 1u << 30, &b, err, sizeof err), 0, "%s", err);
	cr_assert_eq(b.n, 200);
	for (size_t i = 0; i < b.n; i++) {
		cr_assert_eq(b.recs[i].seq, i + 1);
		check_rec(&b.recs[i], 0);
	}
	spool_batch_free(&b);
	cr_assert_null(b.recs, "batch_free clears the batch");

	spool_get_stats(s, &st);
	cr_assert_eq(st.records, 200);
	cr_assert_eq(st.last_seq, 200);
	cr_assert_eq(st.bytes, bytes);
	cr_assert_eq(st.segments, 1);
	cr_assert_eq(seg_bytes_on_disk(), bytes, "no write is left unflushed in user space");
	spool_close(s);
}

Test(spool, on_disk_format_and_modes)
{
	struct spool *s = sp_open(0, 0);
	char p[512], state[128];
	uint8_t raw[HDR + 200], want[200], crcin[8 + 200];
	struct stat sb;
	size_t len = len_for(1);
	int fd;

	cr_assert_eq(app(s), 1);
	cr_assert_eq(stat(spdir, &sb), 0);
	cr_assert(S_ISDIR(sb.st_mode));
	cr_assert_eq(sb.st_mode & 0777, 0700, "spool dir mode %o", sb.st_mode & 0777);

	snprintf(p, sizeof p, "%s/00000000000000000001.seg", spdir);
	cr_assert_eq(stat(p, &sb), 0, "segment named by its first seq, 20 digits");
	cr_assert_eq(sb.st_mode & 0777, 0600);

	fd = open(p, O_RDONLY);
	cr_assert_geq(fd, 0);
	cr_assert_eq(read(fd, raw, sizeof raw), (ssize_t)(HDR + len));
	close(fd);
	cr_assert_eq(((uint32_t)raw[0] << 24 | raw[1] << 16 | raw[2] << 8 | raw[3]), len,
		     "u32 BE length");
	for (int i = 8; i < 15; i++)
		cr_assert_eq(raw[i], 0);
	cr_assert_eq(raw[15], 1, "u64 BE seq");
	payload_for(1, want, len);
	cr_assert_eq(memcmp(raw + HDR, want, len), 0);
	memcpy(crcin, raw + 8, 8);
	memcpy(crcin + 8, want, len);
	cr_assert_eq(((uint32_t)raw[4] << 24 | (uint32_t)raw[5] << 16 |
		      (uint32_t)raw[6] << 8 | raw[7]), spool_crc32c(0, crcin, 8 + len),
		     "CRC-32C of seq bytes + payload");

	state_path(p, sizeof p);
	read_file(p, state, sizeof state);
	cr_assert_str_eq(state, "acked 0\nreserved 1024\n");
	spool_close(s);
}

/* ---- reads ---- */

Test(spool, read_limits_streaming_and_replay)
{
	struct spool *s = sp_open(0, 0);
	struct spool_batch b;
	uint64_t seqs[300];
	char err[256];

	for (int i = 0; i < 100; i++)
		app(s);

	cr_assert_eq(spool_read(s, 0, 7, 0, &b, err, sizeof err), 0);
	cr_assert_eq(b.n, 7, "max_recs caps the batch");
	cr_assert_eq(b.recs[6].seq, 7);
	spool_batch_free(&b);

	cr_assert_eq(spool_read(s, 10, 100, 1, &b, err, sizeof err), 0);
	cr_assert_eq(b.n, 1, "at least one record even when it exceeds max_bytes");
	cr_assert_eq(b.recs[0].seq, 11);
	spool_batch_free(&b);

	cr_assert_eq(spool_read(s, 0, 100, 200, &b, err, sizeof err), 0);
	cr_assert_gt(b.n, 1);
	cr_assert_leq(b.bytes, 200, "about max_bytes: never more when >1 record");
	{
		size_t sum = 0;

		for (size_t i = 0; i < b.n; i++)
			sum += b.recs[i].len;
		cr_assert_eq(b.bytes, sum);
	}
	spool_batch_free(&b);

	cr_assert_eq(read_all(s, 0, 9, 0, seqs, 300), 100);
	for (int i = 0; i < 100; i++)
		cr_assert_eq(seqs[i], (uint64_t)i + 1);

	/* streaming continues onto records appended after the cursor hit the end */
	for (int i = 0; i < 50; i++)
		app(s);
	cr_assert_eq(read_all(s, 100, 9, 0, seqs, 300), 50);
	cr_assert_eq(seqs[0], 101);
	cr_assert_eq(seqs[49], 150);

	/* replay from arbitrary points, backwards and forwards */
	cr_assert_eq(read_all(s, 42, 1000, 0, seqs, 300), 108);
	cr_assert_eq(seqs[0], 43);
	cr_assert_eq(read_all(s, 0, 1000, 0, seqs, 300), 150);
	cr_assert_eq(read_all(s, 149, 1000, 0, seqs, 300), 1);
	cr_assert_eq(read_all(s, 150, 1000, 0, seqs, 300), 0);
	cr_assert_eq(read_all(s, 1u << 30, 1000, 0, seqs, 300), 0);
	spool_close(s);
}

Test(spool, read_across_segment_rotation)
{
	struct spool *s = sp_open(0, 300);
	uint64_t seqs[400];
	DIR *d;
	struct dirent *de;
	int nseg;

	for (int i = 0; i < 300; i++)
		app(s);
	nseg = count_segs();
	cr_assert_gt(nseg, 50, "segment_bytes=300 must rotate (got %d segments)", nseg);

	cr_assert_eq(read_all(s, 0, 1000, 0, seqs, 400), 300);
	for (int i = 0; i < 300; i++)
		cr_assert_eq(seqs[i], (uint64_t)i + 1);
	for (uint64_t after = 0; after <= 300; after += 17) {
		size_t n = read_all(s, after, 5, 0, seqs, 400);

		cr_assert_eq(n, 300 - after, "after %" PRIu64, after);
		if (n)
			cr_assert_eq(seqs[0], after + 1);
	}

	/* each file: named by its first record's seq, no larger than the limit
	 * unless it holds one record */
	d = opendir(spdir);
	cr_assert_not_null(d);
	while ((de = readdir(d)) != NULL) {
		char p[512];
		uint8_t h[HDR];
		unsigned long long name;
		uint64_t seq = 0;
		int fd;

		if (strlen(de->d_name) != 24 || strcmp(de->d_name + 20, ".seg") != 0)
			continue;
		name = strtoull(de->d_name, NULL, 10);
		snprintf(p, sizeof p, "%s/%s", spdir, de->d_name);
		fd = open(p, O_RDONLY);
		cr_assert_geq(fd, 0);
		cr_assert_eq(read(fd, h, HDR), (ssize_t)HDR);
		close(fd);
		for (int i = 8; i < 16; i++)
			seq = seq << 8 | h[i];
		cr_assert_eq(seq, name, "%s starts with seq %" PRIu64, de->d_name, seq);
		cr_assert_leq(file_size(p), 300);
	}
	closedir(d);
	spool_close(s);
}

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
	cr_assert_str_eq(state, "acked 0\nreserved 2048\n");
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

/* Reopens after damage: expects `intact` records and `cut` bytes cut, then
 * appends three and checks everything reads back, also after another
 * reopen (which must find nothing left to cut). */
static void expect_recovery(size_t intact, uint64_t cut)
{
	struct spool *s = sp_open(0, 0);
	struct spool_stats st;
	uint64_t seqs[64];

	spool_get_stats(s, &st);
	cr_assert_eq(st.truncated_bytes, cut);
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
	expect_recovery(9, HDR + len_for(10) - 3);
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
	expect_recovery(10, 7);
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
	expect_recovery(10, sizeof junk);
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
	expect_recovery(5, (uint64_t)full - offset_of(6));
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
	cr_assert_str_eq(state, "acked 50\nreserved 1024\n");

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

/* ---- size limit ---- */

Test(spool, size_limit_drops_oldest_counted)
{
	/* 50-byte payloads: 66 bytes a record, 3 per 200-byte segment */
	struct spool *s = sp_open(1000, 200);
	static uint64_t seqs[200];
	struct spool_stats st;
	uint64_t last = 0;
	size_t n;

	for (int i = 0; i < 100; i++) {
		last = app_len(s, 50);
		cr_assert_leq(seg_bytes_on_disk(), 1000, "after append %d", i);
	}
	spool_get_stats(s, &st);
	cr_assert_leq(st.bytes, 1000);
	cr_assert_eq(st.bytes, seg_bytes_on_disk());
	n = read_all(s, 0, 7, 50, seqs, 200);
	cr_assert_gt(n, 9, "most of max_bytes stays used (read %zu)", n);
	cr_assert_eq(st.dropped, 100 - n, "dropped %" PRIu64 ", unreadable %zu",
		     st.dropped, 100 - n);
	cr_assert_eq(st.records, n);
	cr_assert_eq(seqs[n - 1], last, "the newest record is kept");
	for (size_t i = 1; i < n; i++)
		cr_assert_eq(seqs[i], seqs[i - 1] + 1, "only the oldest are dropped");
	spool_close(s);
}

Test(spool, size_limit_smaller_than_a_record)
{
	struct spool *s = sp_open(10, 0);
	struct spool_stats st;
	uint64_t seqs[8], last = 0;

	for (int i = 0; i < 20; i++)
		last = app_len(s, 100);
	spool_get_stats(s, &st);
	cr_assert_eq(st.segments, 1);
	cr_assert_eq(st.dropped, 19);
	cr_assert_eq(st.records, 1);
	cr_assert_eq(read_all(s, 0, 8, 100, seqs, 8), 1);
	cr_assert_eq(seqs[0], last, "the newest record is never dropped");
	spool_close(s);
}

Test(spool, size_limit_does_not_count_acked_as_dropped)
{
	struct spool *s = sp_open(1000, 200);
	static uint64_t seqs[200];
	struct spool_stats st;
	char err[256];
	size_t n;

	for (int i = 0; i < 6; i++)
		app_len(s, 50);           /* segments 1..3, 4..6 */
	cr_assert_eq(spool_ack(s, 2, err, sizeof err), 0, "%s", err);
	cr_assert_eq(count_segs(), 2, "segment 1..3 is only partly acked");
	for (int i = 0; i < 94; i++)
		app_len(s, 50);
	spool_get_stats(s, &st);
	n = read_all(s, 0, 7, 50, seqs, 200);
	cr_assert_eq(st.dropped, 100 - 2 - n, "acked records are not drops (%" PRIu64 ")",
		     st.dropped);
	cr_assert_eq(seqs[n - 1], 100);
	spool_close(s);
}

/* ---- mixed workload: streaming reader, acks, reopen ---- */

Test(spool, streaming_with_acks_and_reopen)
{
	static uint64_t model[5000];
	struct spool *s = sp_open(0, 1024);
	size_t nm = 0, streamed = 0;
	uint64_t cursor = 0, rng = 12345;
	char err[256];

	for (int op = 0; op < 6000; op++) {
		uint64_t r;

		rng = rng * 6364136223846793005ull + 1442695040888963407ull;
		r = (rng >> 33) % 100;
		if (r < 70 && nm < 5000) {
			model[nm++] = app(s);
		} else if (r < 92) {
			struct spool_batch b;

			cr_assert_eq(spool_read(s, cursor, 1 + r % 13, 0, &b, err, sizeof err),
				     0, "%s", err);
			for (size_t i = 0; i < b.n; i++) {
				cr_assert_lt(streamed, nm);
				cr_assert_eq(b.recs[i].seq, model[streamed],
					     "op %d: got %" PRIu64 " want %" PRIu64, op,
					     b.recs[i].seq, model[streamed]);
				check_rec(&b.recs[i], 0);
				streamed++;
				cursor = b.recs[i].seq;
			}
			spool_batch_free(&b);
		} else if (r < 99) {
			cr_assert_eq(spool_ack(s, cursor, err, sizeof err), 0, "%s", err);
		} else {
			/* reconnect + restart: replay from the ack */
			struct spool_stats st;

			spool_close(s);
			s = sp_open(0, 1024);
			spool_get_stats(s, &st);
			cursor = st.acked_seq;
			for (streamed = 0; streamed < nm && model[streamed] <= cursor; streamed++)
				;
		}
	}
	cr_assert_gt(nm, 3000);
	spool_close(s);
}

/* ---- bad inputs ---- */

Test(spool, dir_is_a_regular_file)
{
	struct spool_opts o = { .dir = spdir };
	char err[256] = "", parent[160];
	FILE *f;

	snprintf(parent, sizeof parent, "%s/a", tmpdir);
	cr_assert_eq(mkdir(parent, 0700), 0);
	f = fopen(spdir, "w");
	cr_assert_not_null(f);
	fclose(f);
	cr_assert_null(spool_open(&o, err, sizeof err));
	cr_assert(strstr(err, spdir) != NULL, "err names the path: %s", err);
	cr_assert(strstr(err, "not a directory") != NULL, "%s", err);
}

Test(spool, second_open_is_refused)
{
	struct spool *s = sp_open(0, 0);
	struct spool_opts o = { .dir = spdir };
	char err[256] = "";

	cr_assert_null(spool_open(&o, err, sizeof err), "two owners would reuse seqs");
	cr_assert(strstr(err, spdir) != NULL, "%s", err);
	spool_close(s);
	s = sp_open(0, 0);
	spool_close(s);
}

Test(spool, bad_records_and_out_of_order_seq)
{
	struct spool *s = sp_open(0, 0);
	static uint8_t big[SPOOL_MAX_RECORD + 1];
	struct spool_batch b;
	char err[256];
	uint64_t seq, first;

	first = app(s);
	seq = spool_next_seq(s, err, sizeof err);
	cr_assert_eq(seq, first + 1);

	err[0] = '\0';
	cr_assert_eq(spool_append(s, seq, big, sizeof big, err, sizeof err), -1);
	cr_assert(strstr(err, "bytes") != NULL, "too large: %s", err);
	err[0] = '\0';
	cr_assert_eq(spool_append(s, seq, big, 0, err, sizeof err), -1);
	cr_assert_neq(err[0], '\0', "empty record");
	err[0] = '\0';
	cr_assert_eq(spool_append(s, seq + 1, big, 10, err, sizeof err), -1);
	cr_assert(strstr(err, "out of order") != NULL, "ahead: %s", err);
	cr_assert_eq(spool_append(s, first, big, 10, err, sizeof err), -1, "duplicate");
	cr_assert_eq(spool_append(s, seq + 5000, big, 10, err, sizeof err), -1,
		     "beyond the reservation");

	/* none of that advanced anything; a max-size record still fits */
	memset(big, 0xa5, SPOOL_MAX_RECORD);
	cr_assert_eq(spool_append(s, seq, big, SPOOL_MAX_RECORD, err, sizeof err), 0, "%s",
		     err);
	cr_assert_eq(spool_read(s, first, 10, 0, &b, err, sizeof err), 0, "%s", err);
	cr_assert_eq(b.n, 1);
	cr_assert_eq(b.recs[0].seq, seq);
	cr_assert_eq(b.recs[0].len, SPOOL_MAX_RECORD);
	cr_assert_eq(memcmp(b.recs[0].data, big, SPOOL_MAX_RECORD), 0);
	spool_batch_free(&b);
	spool_close(s);

	s = sp_open(0, 0);
	cr_assert_eq(spool_read(s, first, 10, 0, &b, err, sizeof err), 0, "%s", err);
	cr_assert_eq(b.n, 1, "a max-size record survives recovery");
	cr_assert_eq(b.recs[0].len, SPOOL_MAX_RECORD);
	spool_batch_free(&b);
	spool_close(s);
}
