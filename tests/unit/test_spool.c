/*
 * test_spool.c - probe/spool.c: CRC, the on-disk format, reads across
 * segments, the size limit, a mixed workload and bad inputs (spool.h,
 * DESIGN 5). Sequence numbers, crash recovery and acks:
 * test_spool_recovery.c. Helpers: spool_env.h.
 *
 * Every test runs in its own temp dir (mkdtemp under /tmp), made by the
 * suite's init and removed by its fini even when an assertion fails.
 * Payloads are derived from their seq (payload_for), so any record read
 * back can be checked byte for byte without keeping a copy.
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
#include <unistd.h>

#include "spool.h"
#include "spool_env.h"

TestSuite(spool, .init = setup, .fini = teardown);

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
	check_state(state, "acked 0\nreserved 1024\n");
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
