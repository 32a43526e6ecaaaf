/*
 * spool_env.h - helpers of the spool's unit tests (test_spool.c,
 * test_spool_recovery.c): a temp dir per test (setup/teardown, for the
 * suite's init and fini), payloads derived from their seq (payload_for) so
 * any record read back is checked byte for byte, appends and reads with
 * assertions, and the segment and state files on disk. Included by test
 * files only; every helper is static inline.
 */
#ifndef TW_SPOOL_ENV_H
#define TW_SPOOL_ENV_H

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
#include <unistd.h>

#include "log.h"
#include "spool.h"

#define HDR 16u

static char tmpdir[64];
static char spdir[128];

static inline int rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	return remove(path);
}

static inline void setup(void)
{
	snprintf(tmpdir, sizeof tmpdir, "/tmp/tw-spool-XXXXXX");
	cr_assert_not_null(mkdtemp(tmpdir));
	/* a nested path: open must create it (mkdir -p) */
	snprintf(spdir, sizeof spdir, "%s/a/spool", tmpdir);
	log_init("test_spool", TWLOG_ERROR, false);
}

static inline void teardown(void)
{
	if (tmpdir[0])
		nftw(tmpdir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}


/* ---- helpers ---- */

static inline size_t len_for(uint64_t seq)
{
	return 1 + (size_t)((seq * 37) % 150);
}

static inline void payload_for(uint64_t seq, uint8_t *buf, size_t len)
{
	for (size_t i = 0; i < len; i++)
		buf[i] = (uint8_t)(seq * 131 + i * 7 + (seq >> 8));
}

static inline struct spool *sp_open(uint64_t max_bytes, uint64_t seg_bytes)
{
	struct spool_opts o = { .dir = spdir, .max_bytes = max_bytes,
				.segment_bytes = seg_bytes };
	char err[256] = "";
	struct spool *s = spool_open(&o, err, sizeof err);

	cr_assert_not_null(s, "spool_open: %s", err);
	return s;
}

/* Appends one record of len bytes (0: len_for(seq)); returns its seq. */
static inline uint64_t app_len(struct spool *s, size_t len)
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

static inline uint64_t app(struct spool *s)
{
	return app_len(s, 0);
}

/* Asserts rec carries the payload its seq implies (len 0: len_for). */
static inline void check_rec(const struct spool_rec *r, size_t len)
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
static inline size_t read_all(struct spool *s, uint64_t after, size_t per, size_t len,
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

static inline int count_segs(void)
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
static inline uint64_t seg_bytes_on_disk(void)
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
static inline void seg_path(char *out, size_t len, bool newest)
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

static inline off_t file_size(const char *p)
{
	struct stat sb;

	cr_assert_eq(stat(p, &sb), 0, "%s: %s", p, strerror(errno));
	return sb.st_size;
}

static inline void read_file(const char *p, char *buf, size_t cap)
{
	FILE *f = fopen(p, "r");
	size_t n;

	cr_assert_not_null(f, "%s: %s", p, strerror(errno));
	n = fread(buf, 1, cap - 1, f);
	buf[n] = '\0';
	fclose(f);
}

static inline void state_path(char *out, size_t len)
{
	snprintf(out, len, "%s/state", spdir);
}

/* `state` is want ("acked N\nreserved N\n") followed by the epoch line of
 * a spool made with epochs: "epoch " and 32 lowercase hex digits. */
static inline void check_state(const char *state, const char *want)
{
	size_t n = strlen(want);

	cr_assert(strncmp(state, want, n) == 0, "state \"%s\" does not start with \"%s\"",
		  state, want);
	cr_assert(strncmp(state + n, "epoch ", 6) == 0, "no epoch line in \"%s\"", state);
	cr_assert_eq(strspn(state + n + 6, "0123456789abcdef"), 32, "epoch in \"%s\"", state);
	cr_assert_str_eq(state + n + 6 + 32, "\n");
}


#endif
