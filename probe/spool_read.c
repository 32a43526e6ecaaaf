/*
 * spool_read.c - spool_read(): records after a sequence number, as a batch.
 *
 * Reads stream with a cursor (segment name, file offset, seq of the record
 * just before the offset). A read whose floor equals the cursor's seq
 * continues at the cursor; any other read finds the segment by binary
 * search and walks its headers from the start (or from the cursor, when
 * the cursor is behind the floor in that same segment).
 */
#include "spool.h"
#include "spool_int.h"
#include "bytes.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* ---- read ---- */

/* Index of the first segment holding a record with seq > floor. */
static size_t find_seg(const struct spool *s, uint64_t floor)
{
	size_t lo = 0, hi = s->nsegs;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const struct seg *g = &s->segs[mid];

		if (g->nrecs > 0 && g->last_seq <= floor)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static bool find_by_name(const struct spool *s, uint64_t name, size_t *idx)
{
	size_t lo = 0, hi = s->nsegs;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (s->segs[mid].name < name)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo < s->nsegs && s->segs[lo].name == name) {
		*idx = lo;
		return true;
	}
	return false;
}

struct batch_build {
	struct spool_rec *recs;
	size_t *offs;          /* payload offsets into store until the end */
	size_t n, cap;
	uint8_t *store;
	size_t used, store_cap;
};

static int batch_add(struct batch_build *b, uint64_t seq, const uint8_t *data, size_t len)
{
	if (b->n == b->cap) {
		size_t ncap = b->cap ? b->cap * 2 : 64;
		struct spool_rec *r = realloc(b->recs, ncap * sizeof *r);
		size_t *o;

		if (r == NULL)
			return -1;
		b->recs = r;
		o = realloc(b->offs, ncap * sizeof *o);
		if (o == NULL)
			return -1;
		b->offs = o;
		b->cap = ncap;
	}
	if (b->store_cap - b->used < len) {
		size_t ncap = b->store_cap ? b->store_cap : 64u << 10;
		uint8_t *st;

		while (ncap - b->used < len)
			ncap *= 2;
		st = realloc(b->store, ncap);
		if (st == NULL)
			return -1;
		b->store = st;
		b->store_cap = ncap;
	}
	memcpy(b->store + b->used, data, len);
	b->recs[b->n].seq = seq;
	b->recs[b->n].data = NULL;
	b->recs[b->n].len = len;
	b->offs[b->n++] = b->used;
	b->used += len;
	return 0;
}

int spool_read(struct spool *s, uint64_t after_seq, size_t max_recs, size_t max_bytes,
	       struct spool_batch *out, char *err, size_t errlen)
{
	struct batch_build b = { 0 };
	uint64_t floor = max_u64(after_seq, read_floor(s));
	uint64_t off = 0, last = floor;
	size_t i, ci;
	int rc = -1;

	memset(out, 0, sizeof *out);
	if (floor >= s->last_seq || s->nsegs == 0)
		return 0;

	i = find_seg(s, floor);
	if (s->cur_valid && s->cur_seq <= floor && find_by_name(s, s->cur_name, &ci) &&
	    (s->cur_seq == floor || ci == i)) {
		/* streaming: continue where the last read stopped */
		i = ci;
		off = s->cur_off;
	}

	for (; i < s->nsegs; i++, off = 0) {
		struct rec_iter it;
		enum rec_status st;
		const uint8_t *data;
		const char *why = "";
		uint64_t seq;
		uint32_t len;
		int fd = spool_seg_read_fd(s, i, err, errlen);

		if (fd < 0)
			goto out;
		iter_init(&it, fd, s->segs[i].name, off, s->segs[i].size);
		for (;;) {
			uint64_t at = it.off;

			st = spool_iter_next(s, &it, &seq, &data, &len, &why);
			if (st == REC_END)
				break;
			if (st != REC_OK) {
				bytes_set_err(err, errlen, "%s/%020llu.seg: offset %llu: %s",
					s->dir, (ull)s->segs[i].name, (ull)at,
					st == REC_IOERR ? strerror(errno) : why);
				goto out;
			}
			if (seq <= floor)
				continue;
			if ((max_recs && b.n >= max_recs) ||
			    (max_bytes && b.n > 0 && b.used + len > max_bytes)) {
				off = at;   /* the cursor stops before it */
				goto done;
			}
			if (seq <= last) {
				bytes_set_err(err, errlen, "%s/%020llu.seg: offset %llu: seq %llu "
					"after %llu", s->dir, (ull)s->segs[i].name, (ull)at,
					(ull)seq, (ull)last);
				goto out;
			}
			if (batch_add(&b, seq, data, len) != 0) {
				bytes_set_err(err, errlen, "%s: out of memory", s->dir);
				goto out;
			}
			last = seq;
		}
		off = it.off;
		if (i + 1 == s->nsegs)
			break;
	}
done:
	if (i >= s->nsegs)
		i = s->nsegs - 1;
	s->cur_valid = true;
	s->cur_name = s->segs[i].name;
	s->cur_off = off;
	s->cur_seq = last;

	for (size_t k = 0; k < b.n; k++)
		b.recs[k].data = b.store + b.offs[k];
	out->recs = b.recs;
	out->n = b.n;
	out->bytes = b.used;
	out->priv = b.store;
	b.recs = NULL;
	b.store = NULL;
	rc = 0;
out:
	free(b.recs);
	free(b.offs);
	free(b.store);
	return rc;
}

void spool_batch_free(struct spool_batch *b)
{
	if (b == NULL)
		return;
	free(b->recs);
	free(b->priv);
	memset(b, 0, sizeof *b);
}
