/*
 * spool_open.c - opening a spool: the directory (mkdir -p, flock), the
 * `state` file, the segment list, and recovery (spool.h: every segment is
 * scanned, the first bad record ends it and the file is truncated there);
 * and closing it.
 */
#include "spool.h"
#include "spool_int.h"
#include "bio.h"
#include "bytes.h"
#include "log.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

/* ---- open and recovery ---- */

/* mkdir -p with mode 0700 for whatever is created. */
static int mkdir_p(const char *path, char *err, size_t errlen)
{
	char buf[PATH_MAX];
	size_t n = strlen(path);

	if (n >= sizeof buf) {
		bytes_set_err(err, errlen, "%s: path too long", path);
		return -1;
	}
	memcpy(buf, path, n + 1);
	for (char *p = buf + 1; ; p++) {
		char c = *p;

		if (c != '/' && c != '\0')
			continue;
		*p = '\0';
		if (mkdir(buf, 0700) != 0 && errno != EEXIST) {
			bytes_set_err(err, errlen,
				"%s: cannot create spool directory: mkdir %s: %s",
				path, buf, strerror(errno));
			return -1;
		}
		*p = c;
		if (c == '\0')
			break;
	}
	return 0;
}


static int cmp_seg(const void *a, const void *b)
{
	const struct seg *x = a, *y = b;

	return x->name < y->name ? -1 : x->name > y->name;
}

static int list_segments(struct spool *s, char *err, size_t errlen)
{
	struct dirent *de;
	DIR *d;
	int fd, rc = -1;

	fd = openat(s->dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) {
		bytes_set_err(err, errlen, "%s: open: %s", s->dir, strerror(errno));
		return -1;
	}
	d = fdopendir(fd);
	if (d == NULL) {
		bytes_set_err(err, errlen, "%s: opendir: %s", s->dir, strerror(errno));
		if (close(fd) != 0)
			log_warn("spool: %s: close: %s", s->dir, strerror(errno));
		return -1;
	}
	for (;;) {
		struct seg g = { 0 };

		errno = 0;
		de = readdir(d);
		if (de == NULL) {
			if (errno != 0) {
				bytes_set_err(err, errlen, "%s: readdir: %s", s->dir,
					strerror(errno));
				goto out;
			}
			break;
		}
		if (!spool_parse_seg_name(de->d_name, &g.name))
			continue;
		if (spool_push_seg(s, &g) != 0) {
			bytes_set_err(err, errlen, "%s: out of memory", s->dir);
			goto out;
		}
	}
	if (s->nsegs > 1)
		qsort(s->segs, s->nsegs, sizeof s->segs[0], cmp_seg);
	rc = 0;
out:
	if (closedir(d) != 0)
		log_warn("spool: %s: closedir: %s", s->dir, strerror(errno));
	return rc;
}

#define LOST_SCAN_MAX (64u << 20)   /* bytes of a cut tail searched for records */

/*
 * How many records, not yet acked, a cut from offset `from` of segment g
 * loses (prev: the last good seq before the cut). Within a segment seqs are contiguous (spool.c), so the records
 * from the first bad one on carry expected, expected + 1, ...: the bad
 * record counts when its seq field says expected, and every intact record
 * found further on (seq in range, CRC right: a false match is 2^-32) proves
 * that all the seqs up to its own were there. A torn tail of garbage
 * counts 0, a stale out-of-order record too. Records lost with the page
 * cache before the tail is never seen here (a power loss) are not known.
 */
static uint64_t count_lost(struct spool *s, int fd, const struct seg *g, uint64_t prev,
			   uint64_t from, uint64_t size)
{
	uint64_t expected = g->nrecs ? g->last_seq + 1 : g->name;
	uint64_t cut = size - from, hi = 0, lo;
	uint8_t *buf;
	size_t n = 0;

	if (cut < REC_HDR || expected == 0)
		return 0;
	if (cut > LOST_SCAN_MAX)
		cut = REC_HDR;        /* only the bad record's own header */
	buf = malloc((size_t)cut);
	if (buf == NULL) {
		log_warn("spool: %s: out of memory counting the records of a cut", s->dir);
		return 0;
	}
	while (n < cut) {
		ssize_t r = pread(fd, buf + n, (size_t)cut - n, (off_t)(from + n));

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		n += (size_t)r;
	}
	if (n >= REC_HDR && bytes_get_be64(buf + 8) == expected)
		hi = expected;
	for (size_t off = 1; off + REC_HDR <= n; ) {
		const uint8_t *h = buf + off;
		uint64_t seq = bytes_get_be64(h + 8);
		uint32_t len = bytes_get_be32(h);

		if (seq > hi && seq >= expected && seq - expected <= n / (REC_HDR + 1) &&
		    len >= 1 && len <= SPOOL_MAX_RECORD && len <= n - off - REC_HDR &&
		    spool_crc32c(spool_crc32c(0, h + 8, 8), h + REC_HDR, len) ==
		    bytes_get_be32(h + 4)) {
			hi = seq;
			off += REC_HDR + len;
			continue;
		}
		off++;
	}
	free(buf);
	/* not acked, and not a stale copy of what an older segment holds */
	lo = max_u64(max_u64(expected, s->acked + 1), prev + 1);
	return hi >= lo ? hi - lo + 1 : 0;
}

/* Scans segs[i], truncating at the first bad record. *prev is the last
 * good seq of the spool so far. */
static int recover_segment(struct spool *s, size_t i, uint64_t *prev, char *err, size_t errlen)
{
	char name[SEG_NAME_LEN + 8];
	struct seg *g = &s->segs[i];
	struct rec_iter it;
	enum rec_status st;
	const uint8_t *data;
	const char *why = "";
	struct stat sb;
	uint64_t seq;
	uint32_t len;
	int fd, rc = -1;

	seg_filename(name, sizeof name, g->name);
	fd = openat(s->dirfd, name, O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		bytes_set_err(err, errlen, "%s/%s: open: %s", s->dir, name, strerror(errno));
		return -1;
	}
	if (fstat(fd, &sb) != 0) {
		bytes_set_err(err, errlen, "%s/%s: fstat: %s", s->dir, name, strerror(errno));
		goto out;
	}
	iter_init(&it, fd, g->name, 0, (uint64_t)sb.st_size);
	while ((st = spool_iter_next(s, &it, &seq, &data, &len, &why)) == REC_OK) {
		if (seq <= *prev) {
			why = "seq does not increase";
			st = REC_BAD;
			it.off -= REC_HDR + len;
			break;
		}
		if (g->nrecs++ == 0)
			g->first_seq = seq;
		g->last_seq = seq;
		*prev = seq;
	}
	if (st == REC_IOERR) {
		bytes_set_err(err, errlen, "%s/%s: read: %s", s->dir, name, strerror(errno));
		goto out;
	}
	g->size = it.off;
	if (st == REC_BAD) {
		uint64_t cut = (uint64_t)sb.st_size - it.off;
		uint64_t lost = count_lost(s, fd, g, *prev, it.off,
					   (uint64_t)sb.st_size);

		if (ftruncate(fd, (off_t)it.off) != 0) {
			bytes_set_err(err, errlen, "%s/%s: ftruncate to %llu: %s", s->dir, name,
				(ull)it.off, strerror(errno));
			goto out;
		}
		if (fsync(fd) != 0) {
			bytes_set_err(err, errlen, "%s/%s: fsync: %s", s->dir, name,
				strerror(errno));
			goto out;
		}
		s->truncated_bytes += cut;
		/* results lost count as dropped: the heartbeat reports them */
		s->dropped += lost;
		s->recovered_lost += lost;
		log_warn("spool: %s/%s: %s at offset %llu, truncated %llu bytes, "
			 "%llu unacked records lost", s->dir, name, why, (ull)it.off,
			 (ull)cut, (ull)lost);
	}
	rc = 0;
out:
	if (close(fd) != 0 && rc == 0) {
		bytes_set_err(err, errlen, "%s/%s: close: %s", s->dir, name, strerror(errno));
		rc = -1;
	}
	return rc;
}

static int recover(struct spool *s, char *err, size_t errlen)
{
	uint64_t prev = 0;
	size_t keep = 0;

	for (size_t i = 0; i < s->nsegs; i++)
		if (recover_segment(s, i, &prev, err, errlen) != 0)
			return -1;
	s->win_valid = false;   /* may hold bytes cut since */
	s->last_seq = max_u64(prev, s->acked);

	/* drop segments that are empty or wholly acked; keep the rest in order */
	for (size_t i = 0; i < s->nsegs; i++) {
		struct seg *g = &s->segs[i];
		char name[SEG_NAME_LEN + 8];

		if (g->nrecs > 0 && g->last_seq > s->acked) {
			s->segs[keep++] = *g;
			continue;
		}
		seg_filename(name, sizeof name, g->name);
		if (unlinkat(s->dirfd, name, 0) != 0 && errno != ENOENT) {
			bytes_set_err(err, errlen, "%s/%s: unlink: %s", s->dir, name,
				strerror(errno));
			return -1;
		}
	}
	s->nsegs = keep;
	s->total = 0;
	for (size_t i = 0; i < s->nsegs; i++) {
		s->total += s->segs[i].size;
		s->segs[i].live = s->segs[i].nrecs;
	}
	return spool_refresh_live(s, err, errlen);
}

struct spool *spool_open(const struct spool_opts *o, char *err, size_t errlen)
{
	struct spool *s;
	struct stat sb;

	if (o == NULL || o->dir == NULL || o->dir[0] == '\0') {
		bytes_set_err(err, errlen, "spool: no directory given");
		return NULL;
	}
	s = calloc(1, sizeof *s);
	if (s == NULL) {
		bytes_set_err(err, errlen, "%s: out of memory", o->dir);
		return NULL;
	}
	s->dirfd = -1;
	s->active_fd = -1;
	s->rfd = -1;
	s->max_bytes = o->max_bytes;
	s->seg_limit = o->segment_bytes ? o->segment_bytes : SPOOL_SEGMENT_DEFAULT;
	if (s->max_bytes && s->seg_limit > s->max_bytes)
		s->seg_limit = s->max_bytes;
	s->dir = strdup(o->dir);
	if (s->dir == NULL) {
		bytes_set_err(err, errlen, "%s: out of memory", o->dir);
		goto fail;
	}
	if (mkdir_p(s->dir, err, errlen) != 0)
		goto fail;
	s->dirfd = open(s->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (s->dirfd < 0) {
		if (errno == ENOTDIR)
			bytes_set_err(err, errlen, "%s: exists and is not a directory", s->dir);
		else
			bytes_set_err(err, errlen, "%s: open: %s", s->dir, strerror(errno));
		goto fail;
	}
	if (fstat(s->dirfd, &sb) != 0 || !S_ISDIR(sb.st_mode)) {
		bytes_set_err(err, errlen, "%s: not a directory", s->dir);
		goto fail;
	}
	if (flock(s->dirfd, LOCK_EX | LOCK_NB) != 0) {
		if (errno == EWOULDBLOCK)
			bytes_set_err(err, errlen, "%s: spool is in use by another process",
				s->dir);
		else
			bytes_set_err(err, errlen, "%s: flock: %s", s->dir, strerror(errno));
		goto fail;
	}
	bool fresh;
	if (spool_state_read(s, &fresh, err, errlen) != 0)
		goto fail;
	if (list_segments(s, err, errlen) != 0)
		goto fail;
	if (fresh && s->nsegs > 0)
		log_warn("spool: %s: segments without a `state` file: they are sent again under "
			 "a new epoch (the collector may store those it had already twice)", s->dir);
	/* A new spool's epoch is on disk before anything is numbered under it
	 * (every later `state` write carries it too): a crash now must not
	 * give its records another identity at the next open. */
	if (fresh && spool_state_write(s, 0, 0, err, errlen) != 0) {
		if (errno != ENOSPC)
			goto fail;
		log_warn("spool: %s: cannot write the new spool's state yet: %s", s->dir, err);
	}
	if (recover(s, err, errlen) != 0)
		goto fail;
	/* Past everything that may have been handed out before: records on
	 * disk, the ack, and the whole reserved block (some of which may have
	 * gone to records lost with the page cache). */
	s->next = max_u64(max_u64(s->last_seq, s->acked), s->reserved) + 1;
	if (s->next == 0) {
		bytes_set_err(err, errlen, "%s: sequence numbers exhausted", s->dir);
		goto fail;
	}
	s->bio = o->bio;
	if (s->bio && s->next > s->reserved && s->next + 2 * SEQ_BLOCK - 1 > s->next) {
		/* The first two blocks, here: open runs before the loop has
		 * anything to do, and the first result must not wait. */
		uint64_t r = s->next + 2 * SEQ_BLOCK - 1;

		if (spool_state_write(s, s->acked, r, err, errlen) == 0) {
			s->reserved = r;
		} else if (errno == ENOSPC) {
			/* A full disk must not keep the probe from starting: the
			 * uplink's first ack frees it (spool_ack), and until then
			 * spool_next_seq fails and counts each result as dropped. */
			log_warn("spool: %s: starting without a reservation: %s", s->dir, err);
		} else {
			goto fail;
		}
	}
	return s;
fail:
	spool_close(s);
	return NULL;
}

void spool_close(struct spool *s)
{
	char err[256];

	if (s == NULL)
		return;
	if (s->dirfd >= 0 && spool_sync(s, err, sizeof err) != 0)
		log_error("spool: %s", err);
	if (spool_close_active(s, false, err, sizeof err) != 0)
		log_error("spool: %s", err);
	if (s->rfd >= 0 && close(s->rfd) != 0)
		log_warn("spool: %s: close: %s", s->dir, strerror(errno));
	if (s->dirfd >= 0 && close(s->dirfd) != 0)
		log_warn("spool: %s: close: %s", s->dir, strerror(errno));
	free(s->rbuf);
	free(s->segs);
	free(s->dir);
	free(s);
}
