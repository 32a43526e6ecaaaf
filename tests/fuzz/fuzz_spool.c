/*
 * fuzz_spool.c - libFuzzer target for the probe's spool record reader:
 * recovery at open (probe/spool_open.c), the record iterator
 * (probe/spool_format.c) and spool_read (probe/spool_read.c).
 *
 * Built by `make fuzz`; run by `make fuzz-smoke` with the seed corpus in
 * tests/fuzz/corpus/fuzz_spool/ (segments written by the spool itself).
 *
 * Input: byte 0 picks the `state` file (bit 0: none, a fresh spool; else
 * "acked A\nreserved R\n" with A from bits 1-3), the rest is the bytes of
 * one segment file. Contract checked: spool_open either refuses with a
 * message or recovers; every record spool_read then returns has a seq past
 * the acked one, strictly increasing, a payload of 1..SPOOL_MAX_RECORD
 * bytes; appending and acking afterwards still work; nothing crashes,
 * leaks or reads out of bounds.
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "spool.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char dir[64];

static void write_file(const char *name, const uint8_t *p, size_t n)
{
	char fp[160];
	FILE *f;

	snprintf(fp, sizeof fp, "%s/%s", dir, name);
	f = fopen(fp, "wb");
	if (f == NULL)
		abort();
	if (n && fwrite(p, 1, n, f) != n)
		abort();
	if (fclose(f) != 0)
		abort();
}

static void empty_dir(void)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char fp[600];

	if (d == NULL)
		return;
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		snprintf(fp, sizeof fp, "%s/%s", dir, e->d_name);
		unlink(fp);
	}
	closedir(d);
}

/* libFuzzer ends with exit(): the scratch spool goes with it */
static void remove_dir(void)
{
	empty_dir();
	rmdir(dir);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct spool_opts o = { 0 };
	struct spool_batch b;
	struct spool_stats st;
	struct spool *s;
	char err[512];
	uint64_t after = 0, seq;
	static const uint8_t rec[] = { 0x08, 0x01 };

	if (size < 1)
		return 0;
	if (!dir[0]) {
		/* tmpfs when there is one: the spool fsyncs, a disk makes that slow */
		snprintf(dir, sizeof dir, "%s/tw_fuzz_spool_%d",
			 access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp", (int)getpid());
		mkdir(dir, 0700);
		atexit(remove_dir);
	}
	empty_dir();
	if (data[0] & 1) {
		char state[96];
		unsigned acked = (data[0] >> 1) & 7;
		int n = snprintf(state, sizeof state, "acked %u\nreserved %u\n",
				 acked, acked + 1024);
		write_file("state", (const uint8_t *)state, (size_t)n);
	}
	write_file("00000000000000000001.seg", data + 1, size - 1);

	o.dir = dir;
	o.segment_bytes = 4096;
	err[0] = '\0';
	s = spool_open(&o, err, sizeof err);
	if (s == NULL) {
		if (!err[0])
			abort();
		return 0;
	}
	spool_get_stats(s, &st);
	after = st.acked_seq;
	for (;;) {
		if (spool_read(s, after, 7, 0, &b, err, sizeof err) != 0)
			abort();   /* nothing on disk changed since open */
		if (b.n == 0) {
			spool_batch_free(&b);
			break;
		}
		for (size_t i = 0; i < b.n; i++) {
			if (b.recs[i].seq <= after || b.recs[i].len == 0 ||
			    b.recs[i].len > SPOOL_MAX_RECORD)
				abort();
			after = b.recs[i].seq;
		}
		spool_batch_free(&b);
	}
	/* the recovered spool still takes and hands back a record */
	seq = spool_next_seq(s, err, sizeof err);
	if (seq == 0 || seq <= after)
		abort();
	if (spool_append(s, seq, rec, sizeof rec, err, sizeof err) != 0)
		abort();
	if (spool_read(s, after, 0, 0, &b, err, sizeof err) != 0 || b.n != 1 ||
	    b.recs[0].seq != seq || b.recs[0].len != sizeof rec)
		abort();
	spool_batch_free(&b);
	if (spool_ack(s, seq, err, sizeof err) != 0)
		abort();
	spool_close(s);
	return 0;
}
