/*
 * spool.c - the probe's disk spool. See spool.h for the contract and the
 * on-disk format; the notes here explain how it is kept.
 *
 * In memory: the directory fd (flock'ed, so two probes never share a spool),
 * a sorted array of segments (name, first/last seq, size, record count,
 * records still readable), the active segment's fd, the sequence counters
 * and a read cursor.
 *
 * Segments. A segment holds records from one process lifetime only: the
 * active segment is created on the first append after open (named by that
 * record's seq) and never reopened for appending after a restart, so a torn
 * tail left by a crash is cut once at open and nothing is ever written
 * behind it. Within one segment the seqs are therefore contiguous (the
 * counter advances by one per append), which lets the unacked-record count
 * be computed by subtraction; a segment that is not contiguous (never
 * written by this code) falls back to counting its headers.
 *
 * Rotation: the active segment is fsynced and closed when the next record
 * would push it past min(segment_bytes, max_bytes). Capping at max_bytes is
 * what makes the size limit work with a tiny max: the newest record always
 * lands in a segment that also fits under the limit (or holds it alone), so
 * dropping every older segment is enough and the newest is never dropped.
 *
 * Acks persist `state` (write tmp, fsync, rename, fsync dir) before any
 * segment is deleted. A segment whose records are all acked is deleted even
 * when it is the active one: its fd is closed and the next append starts a
 * new segment, so there is no special case for "active and acked".
 *
 * With a background worker (spool_opts.bio) nothing here waits for the
 * disk: a rotation hands the old fd to the worker (fsync, close), an ack
 * only records what is wanted and spool_state.c persists it, deleting
 * segments when the write is done (spool_ack_persisted), and reservations
 * are asked for half a block ahead. The one wait left is a reservation the
 * disk has not delivered yet (counted in reserve_waits).
 */
#include "spool.h"
#include "spool_int.h"
#include "bio.h"
#include "bytes.h"
#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

/* ---- segments ---- */

/* An fd to read segs[i]: the active fd, or a cached O_RDONLY one. */
int spool_seg_read_fd(struct spool *s, size_t i, char *err, size_t errlen)
{
	char name[SEG_NAME_LEN + 8];

	if (i == s->nsegs - 1 && s->active_fd >= 0)
		return s->active_fd;
	if (s->rfd >= 0 && s->rfd_name == s->segs[i].name)
		return s->rfd;
	if (s->rfd >= 0) {
		if (close(s->rfd) != 0)
			log_warn("spool: %s: close: %s", s->dir, strerror(errno));
		s->rfd = -1;
	}
	seg_filename(name, sizeof name, s->segs[i].name);
	s->rfd = openat(s->dirfd, name, O_RDONLY | O_CLOEXEC);
	if (s->rfd < 0) {
		bytes_set_err(err, errlen, "%s/%s: open: %s", s->dir, name, strerror(errno));
		return -1;
	}
	s->rfd_name = s->segs[i].name;
	return s->rfd;
}

/* Records of segs[i] with seq > floor. */
static int seg_count_live(struct spool *s, size_t i, uint64_t floor, uint64_t *out,
			  char *err, size_t errlen)
{
	struct seg *g = &s->segs[i];
	struct rec_iter it;
	enum rec_status st;
	const uint8_t *data;
	const char *why = "";
	uint64_t seq, n = 0;
	uint32_t len;
	int fd;

	if (g->nrecs == 0 || g->last_seq <= floor) {
		*out = 0;
		return 0;
	}
	if (g->first_seq > floor) {
		*out = g->nrecs;
		return 0;
	}
	if (g->last_seq - g->first_seq + 1 == g->nrecs) {
		*out = g->last_seq - floor;  /* contiguous: see the top */
		return 0;
	}
	fd = spool_seg_read_fd(s, i, err, errlen);
	if (fd < 0)
		return -1;
	iter_init(&it, fd, g->name, 0, g->size);
	while ((st = spool_iter_next(s, &it, &seq, &data, &len, &why)) == REC_OK)
		if (seq > floor)
			n++;
	if (st != REC_END) {
		bytes_set_err(err, errlen, "%s/%020llu.seg: offset %llu: %s", s->dir,
			(ull)g->name, (ull)it.off,
			st == REC_IOERR ? strerror(errno) : why);
		return -1;
	}
	*out = n;
	return 0;
}

/* Recomputes the live counts after the read floor moved up. */
int spool_refresh_live(struct spool *s, char *err, size_t errlen)
{
	uint64_t floor = read_floor(s);

	for (size_t i = 0; i < s->nsegs && s->segs[i].first_seq <= floor; i++) {
		if (s->segs[i].nrecs == 0)
			continue;
		if (seg_count_live(s, i, floor, &s->segs[i].live, err, errlen) != 0)
			return -1;
	}
	return 0;
}

int spool_close_active(struct spool *s, bool sync, char *err, size_t errlen)
{
	char name[SEG_NAME_LEN + 8];
	int fd = s->active_fd;

	if (fd < 0)
		return 0;
	seg_filename(name, sizeof name, s->segs[s->nsegs - 1].name);
	s->active_fd = -1;
	if (sync)
		return spool_fsync_close(s, fd, name, err, errlen);
	if (close(fd) != 0) {
		bytes_set_err(err, errlen, "%s/%s: close: %s", s->dir, name, strerror(errno));
		return -1;
	}
	return 0;
}

int spool_delete_oldest(struct spool *s, char *err, size_t errlen)
{
	char name[SEG_NAME_LEN + 8];
	struct seg *g = &s->segs[0];

	seg_filename(name, sizeof name, g->name);
	if (s->nsegs == 1 && s->active_fd >= 0) {
		/* nothing will be appended to a segment we are about to delete */
		if (spool_close_active(s, false, err, errlen) != 0)
			return -1;
	}
	if (s->rfd >= 0 && s->rfd_name == g->name) {
		if (close(s->rfd) != 0)
			log_warn("spool: %s/%s: close: %s", s->dir, name, strerror(errno));
		s->rfd = -1;
	}
	if (spool_unlink(s, name, err, errlen) != 0)
		return -1;
	if (s->cur_valid && s->cur_name == g->name)
		s->cur_valid = false;
	if (s->win_valid && s->win_name == g->name)
		s->win_valid = false;
	s->total -= g->size;
	s->nsegs--;
	memmove(&s->segs[0], &s->segs[1], s->nsegs * sizeof s->segs[0]);
	return 0;
}

int spool_push_seg(struct spool *s, const struct seg *g)
{
	if (s->nsegs == s->cap) {
		size_t ncap = s->cap ? s->cap * 2 : 16;
		struct seg *n = realloc(s->segs, ncap * sizeof *n);

		if (n == NULL)
			return -1;
		s->segs = n;
		s->cap = ncap;
	}
	s->segs[s->nsegs++] = *g;
	return 0;
}

/* ---- sequence numbers ---- */

/*
 * Why reserve: a record is appended (page cache) long before it is fsynced,
 * and the uplink may send it, and the collector commit it, within that
 * window. After a power loss the record is gone from disk but its seq is in
 * the collector's database. If the next number were derived only from what
 * is on disk, a new result would get that seq again, and the collector would
 * take it for a retransmission and silently discard it. So no number is
 * handed out before `state` (fsynced) says it is reserved, and open starts
 * past the reservation: a crash costs a gap, never a duplicate. Reserving
 * SEQ_BLOCK at a time keeps that to one fsync per 1024 records.
 *
 * With a worker the next block is asked for while half of this one is
 * left, so the loop normally never waits; if the disk is that far behind,
 * it waits for the queued write, and writes inline if that failed.
 */
/* A result the caller could not store: counted as dropped, and logged when
 * writing starts failing (the caller logs each one, rate-limited). */
static void count_write_failed(struct spool *s, const char *err)
{
	s->dropped++;
	s->write_failed++;
	if (!s->write_failing)
		log_warn("spool: %s: results cannot be written, counting them as dropped: %s",
			 s->dir, err);
	s->write_failing = true;
}

static void count_write_ok(struct spool *s)
{
	if (s->write_failing)
		log_info("spool: %s: results are written again (%llu dropped so far because "
			 "they could not be written)", s->dir, (ull)s->write_failed);
	s->write_failing = false;
}

uint64_t spool_next_seq(struct spool *s, char *err, size_t errlen)
{
	if (s->bio) {
		if (s->next + SEQ_BLOCK / 2 > s->reserved) {
			uint64_t want = s->next + (2 * SEQ_BLOCK - 1);

			if (want > s->next && want > s->reserve_want)
				s->reserve_want = want;
			/* a failure to queue is covered by the inline write below */
			(void)spool_state_kick(s);
		}
		if (s->next > s->reserved && bio_pending(s->bio) > 0) {
			s->reserve_waits++;
			bio_drain(s->bio);
		}
	}
	if (s->next > s->reserved) {
		uint64_t r = s->next + (SEQ_BLOCK - 1);

		if (r < s->next) {
			bytes_set_err(err, errlen, "%s: sequence numbers exhausted", s->dir);
			count_write_failed(s, err);
			return 0;
		}
		if (spool_state_write(s, s->acked, r, err, errlen) != 0) {
			count_write_failed(s, err);
			return 0;
		}
		s->reserved = r;
	}
	return s->next;
}

/* ---- append ---- */

static int open_active(struct spool *s, uint64_t seq, char *err, size_t errlen)
{
	char name[SEG_NAME_LEN + 8];
	struct seg g = { .name = seq };
	int fd;

	if (spool_push_seg(s, &g) != 0) {
		bytes_set_err(err, errlen, "%s: out of memory", s->dir);
		return -1;
	}
	seg_filename(name, sizeof name, seq);
	fd = openat(s->dirfd, name, O_RDWR | O_APPEND | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0) {
		bytes_set_err(err, errlen, "%s/%s: create: %s", s->dir, name, strerror(errno));
		s->nsegs--;
		return -1;
	}
	s->active_fd = fd;
	s->dir_dirty = true;   /* spool_sync makes the new name durable */
	return 0;
}

/* Deletes the oldest segments while the spool is over max_bytes; the
 * newest segment (holding the record just appended) always stays. */
static void enforce_limit(struct spool *s)
{
	char err[256];

	while (s->max_bytes && s->total > s->max_bytes && s->nsegs > 1) {
		struct seg g = s->segs[0];
		uint64_t from = max_u64(g.first_seq, read_floor(s) + 1);

		/* records of it in flight: the collector may store them */
		if (g.live && from <= s->sent)
			return;

		if (spool_delete_oldest(s, err, sizeof err) != 0) {
			/* the record is stored; report and try again next append */
			log_error("spool: cannot enforce max_bytes=%llu: %s",
				  (ull)s->max_bytes, err);
			return;
		}
		if (g.live == 0)
			continue;
		s->dropped += g.live;
		log_warn("spool: dropped %llu records (seq %llu..%llu) because the spool "
			 "reached max_bytes=%llu", (ull)g.live, (ull)from,
			 (ull)g.last_seq, (ull)s->max_bytes);
		s->drop_floor = max_u64(s->drop_floor, g.last_seq);
	}
}

int spool_append(struct spool *s, uint64_t seq, const uint8_t *data, size_t len,
		 char *err, size_t errlen)
{
	char name[SEG_NAME_LEN + 8];
	uint8_t hdr[REC_HDR];
	struct seg *g;
	size_t done = 0, rec = REC_HDR + len;
	int eno;

	if (data == NULL || len == 0 || len > SPOOL_MAX_RECORD) {
		bytes_set_err(err, errlen, "%s: record of %zu bytes (allowed 1..%u)", s->dir,
			len, SPOOL_MAX_RECORD);
		return -1;
	}
	if (seq != s->next || seq > s->reserved) {
		bytes_set_err(err, errlen, "%s: seq %llu out of order (spool_next_seq gives %llu)",
			s->dir, (ull)seq, (ull)s->next);
		return -1;
	}
	if (s->active_fd >= 0) {
		g = &s->segs[s->nsegs - 1];
		if (g->nrecs > 0 && g->size + rec > s->seg_limit &&
		    spool_close_active(s, true, err, errlen) != 0) {
			count_write_failed(s, err);
			return -1;
		}
	}
	if (s->active_fd < 0 && open_active(s, seq, err, errlen) != 0) {
		count_write_failed(s, err);
		return -1;
	}
	g = &s->segs[s->nsegs - 1];

	bytes_put_be32(hdr, (uint32_t)len);
	bytes_put_be64(hdr + 8, seq);
	bytes_put_be32(hdr + 4, spool_crc32c(spool_crc32c(0, hdr + 8, 8), data, len));
	/* one writev per record; loop only on a short write */
	while (done < rec) {
		struct iovec v[2];
		int nv = 0;
		ssize_t w;

		if (done < REC_HDR) {
			v[nv].iov_base = hdr + done;
			v[nv++].iov_len = REC_HDR - done;
			v[nv].iov_base = (void *)data;
			v[nv++].iov_len = len;
		} else {
			v[nv].iov_base = (void *)(data + (done - REC_HDR));
			v[nv++].iov_len = rec - done;
		}
		w = writev(s->active_fd, v, nv);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			goto fail;
		}
		done += (size_t)w;
	}
	if (g->nrecs++ == 0)
		g->first_seq = seq;
	g->last_seq = seq;
	g->size += rec;
	g->live++;
	s->total += rec;
	s->last_seq = seq;
	s->next = seq + 1;
	count_write_ok(s);
	enforce_limit(s);
	return 0;

fail:
	eno = errno;
	seg_filename(name, sizeof name, g->name);
	bytes_set_err(err, errlen, "%s/%s: write: %s", s->dir, name, strerror(eno));
	count_write_failed(s, err);
	/* Cut a partial record so the segment stays appendable; if that fails
	 * too, stop appending to it (open will cut the torn tail). */
	if (done > 0 && ftruncate(s->active_fd, (off_t)g->size) != 0) {
		char e2[256];

		log_error("spool: %s/%s: ftruncate to %llu after a failed write: %s",
			  s->dir, name, (ull)g->size, strerror(errno));
		if (spool_close_active(s, false, e2, sizeof e2) != 0)
			log_error("spool: %s", e2);
	}
	return -1;
}

/* ---- ack, sync, stats ---- */

int spool_ack(struct spool *s, uint64_t seq, char *err, size_t errlen)
{
	if (seq > s->last_seq)
		seq = s->last_seq;
	if (s->bio) {
		if (seq > s->ack_want)
			s->ack_want = seq;
		if (spool_state_kick(s) == 0)
			return 0;
		/* the job could not be queued (memory): persist it here */
	}
	if (seq > s->acked && spool_state_write(s, seq, s->reserved, err, errlen) != 0) {
		/* A full disk must not keep the acked segments, whose deletion
		 * is what frees it: delete them first, then write again. */
		size_t freed = 0;
		char e2[256];

		if (errno != ENOSPC)
			return -1;
		if (spool_delete_acked_early(s, seq, &freed, e2, sizeof e2) != 0) {
			log_error("spool: %s", e2);
			return -1;
		}
		if (freed == 0 || spool_state_write(s, seq, s->reserved, err, errlen) != 0)
			return -1;
		log_warn("spool: %s: disk full: deleted %zu acked segments before recording "
			 "ack %llu", s->dir, freed, (ull)seq);
	}
	return spool_ack_persisted(s, seq, err, errlen);
}

int spool_delete_acked_early(struct spool *s, uint64_t seq, size_t *freed,
			     char *err, size_t errlen)
{
	*freed = 0;
	while (s->nsegs > 0 && s->segs[0].nrecs > 0 && s->segs[0].last_seq <= seq) {
		if (spool_delete_oldest(s, err, errlen) != 0)
			return -1;
		(*freed)++;
	}
	return 0;
}

int spool_ack_persisted(struct spool *s, uint64_t seq, char *err, size_t errlen)
{
	if (seq > s->acked) {
		s->acked = seq;
		if (spool_refresh_live(s, err, errlen) != 0)
			return -1;
	}
	/* also retries deletions that failed on an earlier ack */
	while (s->nsegs > 0 && s->segs[0].nrecs > 0 && s->segs[0].last_seq <= s->acked) {
		if (spool_delete_oldest(s, err, errlen) != 0)
			return -1;
	}
	return 0;
}

int spool_sync(struct spool *s, char *err, size_t errlen)
{
	if (s->bio)
		bio_drain(s->bio);
	return spool_sync_now(s, err, errlen);
}

int spool_sync_now(struct spool *s, char *err, size_t errlen)
{
	if (s->active_fd >= 0 && fsync(s->active_fd) != 0) {
		bytes_set_err(err, errlen, "%s/%020llu.seg: fsync: %s", s->dir,
			(ull)s->segs[s->nsegs - 1].name, strerror(errno));
		return -1;
	}
	if (s->dir_dirty) {
		if (fsync(s->dirfd) != 0) {
			bytes_set_err(err, errlen, "%s: fsync: %s", s->dir, strerror(errno));
			return -1;
		}
		s->dir_dirty = false;
	}
	return 0;
}

void spool_set_sent(struct spool *s, uint64_t seq)
{
	s->sent = seq;
}

void spool_get_stats(const struct spool *s, struct spool_stats *st)
{
	memset(st, 0, sizeof *st);
	for (size_t i = 0; i < s->nsegs; i++)
		st->records += s->segs[i].live;
	st->bytes = s->total;
	st->segments = s->nsegs;
	st->acked_seq = s->acked;
	st->last_seq = s->last_seq;
	st->dropped = s->dropped;
	st->write_failed = s->write_failed;
	st->recovered_lost = s->recovered_lost;
	st->truncated_bytes = s->truncated_bytes;
	st->reserve_waits = s->reserve_waits;
	st->durable_errors = s->sync_errors + s->state_errors;
	st->durable_pending = s->bio ? bio_pending(s->bio) : 0;
}


const char *spool_epoch(const struct spool *s)
{
	return s->epoch;
}
