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
 * Reads: spool_read() streams with a cursor (segment name, file offset, seq
 * of the record just before the offset). A read whose floor equals the
 * cursor's seq continues at the cursor; any other read finds the segment by
 * binary search and walks its headers from the start (or from the cursor,
 * when the cursor is behind the floor in that same segment). Records are
 * fetched with pread() in windows of RBUF_CHUNK bytes, kept across calls,
 * and CRC-checked again.
 *
 * Acks persist `state` (write tmp, fsync, rename, fsync dir) before any
 * segment is deleted. A segment whose records are all acked is deleted even
 * when it is the active one: its fd is closed and the next append starts a
 * new segment, so there is no special case for "active and acked".
 */
#include "spool.h"
#include "bytes.h"
#include "log.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <unistd.h>

#define REC_HDR       16u              /* len, crc, seq */
#define SEG_NAME_LEN  20               /* digits before ".seg" */
#define SEQ_BLOCK     1024u            /* seqs reserved per state write */
#define RBUF_CHUNK    (256u << 10)     /* pread window */
#define STATE_FILE    "state"
#define STATE_TMP     "state.tmp"

typedef unsigned long long ull;

struct seg {
	uint64_t name;         /* from the file name: first seq when written */
	uint64_t first_seq;    /* of the first record; 0 when empty */
	uint64_t last_seq;     /* of the last record; 0 when empty */
	uint64_t size;         /* bytes of whole records */
	uint64_t nrecs;
	uint64_t live;         /* records with seq > the read floor */
};

struct spool {
	char *dir;
	int dirfd;             /* flock'ed for the spool's lifetime */
	uint64_t max_bytes;    /* 0: no limit */
	uint64_t seg_limit;    /* min(segment_bytes, max_bytes) */

	struct seg *segs;      /* sorted by name; the last may be active */
	size_t nsegs, cap;
	int active_fd;         /* segs[nsegs - 1] when >= 0 */
	bool dir_dirty;        /* a segment was created since the last dir fsync */
	uint64_t total;        /* sum of segs[].size */

	uint64_t last_seq;     /* highest seq appended or acked */
	uint64_t next;         /* the number spool_next_seq hands out */
	uint64_t reserved;     /* highest number covered by `state` */
	uint64_t acked;
	uint64_t drop_floor;   /* highest seq lost to max_bytes */

	uint64_t dropped;
	uint64_t truncated_bytes;

	/* read cursor: records before (cur_name, cur_off) have seq <= cur_seq,
	 * records from there on have seq > cur_seq */
	bool cur_valid;
	uint64_t cur_name, cur_off, cur_seq;

	int rfd;               /* cached read fd of a non-active segment */
	uint64_t rfd_name;

	/* pread window, kept across reads so that streaming one record at a
	 * time does not re-read a chunk per call: rbuf holds bytes
	 * [win_base, win_base + win_len) of segment win_name. Segments are
	 * append-only and windows never extend past a segment's size, so a
	 * window stays valid until its segment is deleted. */
	uint8_t *rbuf;
	size_t rbuf_cap;
	bool win_valid;
	uint64_t win_name, win_base;
	size_t win_len;
};

/* ---- helpers ---- */

static uint64_t max_u64(uint64_t a, uint64_t b)
{
	return a > b ? a : b;
}

static void seg_filename(char *buf, size_t len, uint64_t name)
{
	snprintf(buf, len, "%020llu.seg", (ull)name);
}

/* Records with seq > floor: those are the ones spool_read may return. */
static uint64_t read_floor(const struct spool *s)
{
	return max_u64(s->acked, s->drop_floor);
}

/* ---- CRC-32C (Castagnoli, reflected polynomial 0x82F63B78) ---- */

static const uint32_t crc32c_table[256] = {
	0x00000000, 0xf26b8303, 0xe13b70f7, 0x1350f3f4, 0xc79a971f, 0x35f1141c,
	0x26a1e7e8, 0xd4ca64eb, 0x8ad958cf, 0x78b2dbcc, 0x6be22838, 0x9989ab3b,
	0x4d43cfd0, 0xbf284cd3, 0xac78bf27, 0x5e133c24, 0x105ec76f, 0xe235446c,
	0xf165b798, 0x030e349b, 0xd7c45070, 0x25afd373, 0x36ff2087, 0xc494a384,
	0x9a879fa0, 0x68ec1ca3, 0x7bbcef57, 0x89d76c54, 0x5d1d08bf, 0xaf768bbc,
	0xbc267848, 0x4e4dfb4b, 0x20bd8ede, 0xd2d60ddd, 0xc186fe29, 0x33ed7d2a,
	0xe72719c1, 0x154c9ac2, 0x061c6936, 0xf477ea35, 0xaa64d611, 0x580f5512,
	0x4b5fa6e6, 0xb93425e5, 0x6dfe410e, 0x9f95c20d, 0x8cc531f9, 0x7eaeb2fa,
	0x30e349b1, 0xc288cab2, 0xd1d83946, 0x23b3ba45, 0xf779deae, 0x05125dad,
	0x1642ae59, 0xe4292d5a, 0xba3a117e, 0x4851927d, 0x5b016189, 0xa96ae28a,
	0x7da08661, 0x8fcb0562, 0x9c9bf696, 0x6ef07595, 0x417b1dbc, 0xb3109ebf,
	0xa0406d4b, 0x522bee48, 0x86e18aa3, 0x748a09a0, 0x67dafa54, 0x95b17957,
	0xcba24573, 0x39c9c670, 0x2a993584, 0xd8f2b687, 0x0c38d26c, 0xfe53516f,
	0xed03a29b, 0x1f682198, 0x5125dad3, 0xa34e59d0, 0xb01eaa24, 0x42752927,
	0x96bf4dcc, 0x64d4cecf, 0x77843d3b, 0x85efbe38, 0xdbfc821c, 0x2997011f,
	0x3ac7f2eb, 0xc8ac71e8, 0x1c661503, 0xee0d9600, 0xfd5d65f4, 0x0f36e6f7,
	0x61c69362, 0x93ad1061, 0x80fde395, 0x72966096, 0xa65c047d, 0x5437877e,
	0x4767748a, 0xb50cf789, 0xeb1fcbad, 0x197448ae, 0x0a24bb5a, 0xf84f3859,
	0x2c855cb2, 0xdeeedfb1, 0xcdbe2c45, 0x3fd5af46, 0x7198540d, 0x83f3d70e,
	0x90a324fa, 0x62c8a7f9, 0xb602c312, 0x44694011, 0x5739b3e5, 0xa55230e6,
	0xfb410cc2, 0x092a8fc1, 0x1a7a7c35, 0xe811ff36, 0x3cdb9bdd, 0xceb018de,
	0xdde0eb2a, 0x2f8b6829, 0x82f63b78, 0x709db87b, 0x63cd4b8f, 0x91a6c88c,
	0x456cac67, 0xb7072f64, 0xa457dc90, 0x563c5f93, 0x082f63b7, 0xfa44e0b4,
	0xe9141340, 0x1b7f9043, 0xcfb5f4a8, 0x3dde77ab, 0x2e8e845f, 0xdce5075c,
	0x92a8fc17, 0x60c37f14, 0x73938ce0, 0x81f80fe3, 0x55326b08, 0xa759e80b,
	0xb4091bff, 0x466298fc, 0x1871a4d8, 0xea1a27db, 0xf94ad42f, 0x0b21572c,
	0xdfeb33c7, 0x2d80b0c4, 0x3ed04330, 0xccbbc033, 0xa24bb5a6, 0x502036a5,
	0x4370c551, 0xb11b4652, 0x65d122b9, 0x97baa1ba, 0x84ea524e, 0x7681d14d,
	0x2892ed69, 0xdaf96e6a, 0xc9a99d9e, 0x3bc21e9d, 0xef087a76, 0x1d63f975,
	0x0e330a81, 0xfc588982, 0xb21572c9, 0x407ef1ca, 0x532e023e, 0xa145813d,
	0x758fe5d6, 0x87e466d5, 0x94b49521, 0x66df1622, 0x38cc2a06, 0xcaa7a905,
	0xd9f75af1, 0x2b9cd9f2, 0xff56bd19, 0x0d3d3e1a, 0x1e6dcdee, 0xec064eed,
	0xc38d26c4, 0x31e6a5c7, 0x22b65633, 0xd0ddd530, 0x0417b1db, 0xf67c32d8,
	0xe52cc12c, 0x1747422f, 0x49547e0b, 0xbb3ffd08, 0xa86f0efc, 0x5a048dff,
	0x8ecee914, 0x7ca56a17, 0x6ff599e3, 0x9d9e1ae0, 0xd3d3e1ab, 0x21b862a8,
	0x32e8915c, 0xc083125f, 0x144976b4, 0xe622f5b7, 0xf5720643, 0x07198540,
	0x590ab964, 0xab613a67, 0xb831c993, 0x4a5a4a90, 0x9e902e7b, 0x6cfbad78,
	0x7fab5e8c, 0x8dc0dd8f, 0xe330a81a, 0x115b2b19, 0x020bd8ed, 0xf0605bee,
	0x24aa3f05, 0xd6c1bc06, 0xc5914ff2, 0x37faccf1, 0x69e9f0d5, 0x9b8273d6,
	0x88d28022, 0x7ab90321, 0xae7367ca, 0x5c18e4c9, 0x4f48173d, 0xbd23943e,
	0xf36e6f75, 0x0105ec76, 0x12551f82, 0xe03e9c81, 0x34f4f86a, 0xc69f7b69,
	0xd5cf889d, 0x27a40b9e, 0x79b737ba, 0x8bdcb4b9, 0x988c474d, 0x6ae7c44e,
	0xbe2da0a5, 0x4c4623a6, 0x5f16d052, 0xad7d5351,
};

uint32_t spool_crc32c(uint32_t crc, const void *buf, size_t len)
{
	const uint8_t *p = buf;

	crc = ~crc;
	while (len--)
		crc = crc32c_table[(crc ^ *p++) & 0xff] ^ (crc >> 8);
	return ~crc;
}

/* ---- reading records: a pread window over one segment ---- */

struct rec_iter {
	int fd;
	uint64_t name;         /* the segment's, for the window */
	uint64_t off;          /* the next record's offset */
	uint64_t end;          /* bytes of the file that may hold records */
};

enum rec_status { REC_OK, REC_END, REC_BAD, REC_IOERR };

static void iter_init(struct rec_iter *it, int fd, uint64_t name, uint64_t off, uint64_t end)
{
	it->fd = fd;
	it->name = name;
	it->off = off;
	it->end = end;
}

/* Points *p at `need` bytes of the file at it->off. 1, 0 when the file
 * ends first, -1 with errno set. */
static int iter_fetch(struct spool *s, struct rec_iter *it, size_t need, const uint8_t **p)
{
	uint64_t off = it->off;
	size_t want, got = 0;

	if (off > it->end || need > it->end - off)
		return 0;
	if (s->win_valid && s->win_name == it->name && off >= s->win_base &&
	    off - s->win_base + need <= s->win_len) {
		*p = s->rbuf + (off - s->win_base);
		return 1;
	}
	want = need > RBUF_CHUNK ? need : RBUF_CHUNK;
	if (want > it->end - off)
		want = (size_t)(it->end - off);
	if (want > s->rbuf_cap) {
		uint8_t *nb = realloc(s->rbuf, want);

		if (nb == NULL)
			return -1;  /* errno = ENOMEM */
		s->rbuf = nb;
		s->rbuf_cap = want;
	}
	s->win_valid = false;
	while (got < want) {
		ssize_t r = pread(it->fd, s->rbuf + got, want - got, (off_t)(off + got));

		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (r == 0)
			break;
		got += (size_t)r;
	}
	s->win_valid = true;
	s->win_name = it->name;
	s->win_base = off;
	s->win_len = got;
	if (got < need)
		return 0;
	*p = s->rbuf;
	return 1;
}

/* Decodes the record at it->off and advances past it. On REC_OK *data
 * points into s->rbuf until the next call. On REC_BAD *why says what is
 * wrong and it->off stays at the bad record. */
static enum rec_status iter_next(struct spool *s, struct rec_iter *it, uint64_t *seq,
				 const uint8_t **data, uint32_t *len, const char **why)
{
	const uint8_t *p;
	uint32_t n, crc;
	int r;

	if (it->off >= it->end)
		return REC_END;
	r = iter_fetch(s, it, REC_HDR, &p);
	if (r < 0)
		return REC_IOERR;
	if (r == 0) {
		*why = "header cut short";
		return REC_BAD;
	}
	n = bytes_get_be32(p);
	crc = bytes_get_be32(p + 4);
	if (n == 0 || n > SPOOL_MAX_RECORD) {
		*why = "impossible length";
		return REC_BAD;
	}
	r = iter_fetch(s, it, REC_HDR + n, &p);
	if (r < 0)
		return REC_IOERR;
	if (r == 0) {
		*why = "payload cut short";
		return REC_BAD;
	}
	/* the seq bytes and the payload are adjacent: one CRC call */
	if (spool_crc32c(0, p + 8, 8 + (size_t)n) != crc) {
		*why = "CRC mismatch";
		return REC_BAD;
	}
	*seq = bytes_get_be64(p + 8);
	*data = p + REC_HDR;
	*len = n;
	it->off += REC_HDR + n;
	return REC_OK;
}

/* ---- segments ---- */

/* An fd to read segs[i]: the active fd, or a cached O_RDONLY one. */
static int seg_read_fd(struct spool *s, size_t i, char *err, size_t errlen)
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
	fd = seg_read_fd(s, i, err, errlen);
	if (fd < 0)
		return -1;
	iter_init(&it, fd, g->name, 0, g->size);
	while ((st = iter_next(s, &it, &seq, &data, &len, &why)) == REC_OK)
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
static int refresh_live(struct spool *s, char *err, size_t errlen)
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

/* fsyncs and closes the active segment; the next append starts a new one. */
static int close_active(struct spool *s, bool sync, char *err, size_t errlen)
{
	char name[SEG_NAME_LEN + 8];
	int fd = s->active_fd;

	if (fd < 0)
		return 0;
	seg_filename(name, sizeof name, s->segs[s->nsegs - 1].name);
	if (sync && fsync(fd) != 0) {
		bytes_set_err(err, errlen, "%s/%s: fsync: %s", s->dir, name, strerror(errno));
		return -1;
	}
	s->active_fd = -1;
	if (close(fd) != 0) {
		bytes_set_err(err, errlen, "%s/%s: close: %s", s->dir, name, strerror(errno));
		return -1;
	}
	return 0;
}

/* Unlinks segs[0] and removes it from the array. */
static int delete_oldest(struct spool *s, char *err, size_t errlen)
{
	char name[SEG_NAME_LEN + 8];
	struct seg *g = &s->segs[0];

	seg_filename(name, sizeof name, g->name);
	if (s->nsegs == 1 && s->active_fd >= 0) {
		/* nothing will be appended to a segment we are about to delete */
		if (close_active(s, false, err, errlen) != 0)
			return -1;
	}
	if (s->rfd >= 0 && s->rfd_name == g->name) {
		if (close(s->rfd) != 0)
			log_warn("spool: %s/%s: close: %s", s->dir, name, strerror(errno));
		s->rfd = -1;
	}
	if (unlinkat(s->dirfd, name, 0) != 0 && errno != ENOENT) {
		bytes_set_err(err, errlen, "%s/%s: unlink: %s", s->dir, name, strerror(errno));
		return -1;
	}
	if (s->cur_valid && s->cur_name == g->name)
		s->cur_valid = false;
	if (s->win_valid && s->win_name == g->name)
		s->win_valid = false;
	s->total -= g->size;
	s->nsegs--;
	memmove(&s->segs[0], &s->segs[1], s->nsegs * sizeof s->segs[0]);
	return 0;
}

static int push_seg(struct spool *s, const struct seg *g)
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

/* ---- state file ---- */

static int write_state(struct spool *s, uint64_t acked, uint64_t reserved,
		       char *err, size_t errlen)
{
	char buf[64];
	int fd, n, rc = -1;
	size_t off = 0;

	n = snprintf(buf, sizeof buf, "acked %llu\nreserved %llu\n",
		     (ull)acked, (ull)reserved);
	if (n < 0 || (size_t)n >= sizeof buf) {
		bytes_set_err(err, errlen, "%s/%s: state does not fit", s->dir, STATE_TMP);
		return -1;
	}
	fd = openat(s->dirfd, STATE_TMP, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0) {
		bytes_set_err(err, errlen, "%s/%s: open: %s", s->dir, STATE_TMP, strerror(errno));
		return -1;
	}
	while (off < (size_t)n) {
		ssize_t w = write(fd, buf + off, (size_t)n - off);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			bytes_set_err(err, errlen, "%s/%s: write: %s", s->dir, STATE_TMP,
				strerror(errno));
			goto out;
		}
		off += (size_t)w;
	}
	if (fsync(fd) != 0) {
		bytes_set_err(err, errlen, "%s/%s: fsync: %s", s->dir, STATE_TMP, strerror(errno));
		goto out;
	}
	rc = 0;
out:
	if (close(fd) != 0 && rc == 0) {
		bytes_set_err(err, errlen, "%s/%s: close: %s", s->dir, STATE_TMP, strerror(errno));
		rc = -1;
	}
	if (rc == 0 && renameat(s->dirfd, STATE_TMP, s->dirfd, STATE_FILE) != 0) {
		bytes_set_err(err, errlen, "%s/%s: rename to %s: %s", s->dir, STATE_TMP,
			STATE_FILE, strerror(errno));
		rc = -1;
	}
	if (rc == 0 && fsync(s->dirfd) != 0) {
		bytes_set_err(err, errlen, "%s: fsync: %s", s->dir, strerror(errno));
		rc = -1;
	}
	if (rc != 0 && unlinkat(s->dirfd, STATE_TMP, 0) != 0 && errno != ENOENT)
		log_warn("spool: %s/%s: unlink: %s", s->dir, STATE_TMP, strerror(errno));
	return rc;
}

/* Parses "NAME <digits>\n" at *p; advances *p. */
static int parse_state_line(const char **p, const char *key, uint64_t *v)
{
	size_t kl = strlen(key);
	const char *q = *p;
	char *end;
	unsigned long long x;

	if (strncmp(q, key, kl) != 0 || q[kl] != ' ')
		return -1;
	q += kl + 1;
	if (*q < '0' || *q > '9')
		return -1;
	errno = 0;
	x = strtoull(q, &end, 10);
	if (errno != 0 || *end != '\n')
		return -1;
	*v = x;
	*p = end + 1;
	return 0;
}

/* Reads `state`; a missing file means a new spool (0, 0). */
static int read_state(struct spool *s, char *err, size_t errlen)
{
	char buf[128];
	const char *p = buf;
	size_t got = 0;
	int fd, rc = -1;

	fd = openat(s->dirfd, STATE_FILE, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ENOENT)
			return 0;
		bytes_set_err(err, errlen, "%s/%s: open: %s", s->dir, STATE_FILE, strerror(errno));
		return -1;
	}
	while (got < sizeof buf - 1) {
		ssize_t r = read(fd, buf + got, sizeof buf - 1 - got);

		if (r < 0) {
			if (errno == EINTR)
				continue;
			bytes_set_err(err, errlen, "%s/%s: read: %s", s->dir, STATE_FILE,
				strerror(errno));
			goto out;
		}
		if (r == 0)
			break;
		got += (size_t)r;
	}
	buf[got] = '\0';
	/* A damaged state could make us reuse seqs; refuse rather than guess. */
	if (strlen(buf) != got || parse_state_line(&p, "acked", &s->acked) != 0 ||
	    parse_state_line(&p, "reserved", &s->reserved) != 0 || *p != '\0') {
		bytes_set_err(err, errlen, "%s/%s: malformed (want \"acked N\\nreserved N\\n\")",
			s->dir, STATE_FILE);
		goto out;
	}
	rc = 0;
out:
	if (close(fd) != 0)
		log_warn("spool: %s/%s: close: %s", s->dir, STATE_FILE, strerror(errno));
	return rc;
}

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

/* "00000000000000000042.seg" -> 42 */
static bool parse_seg_name(const char *name, uint64_t *v)
{
	unsigned long long x = 0;

	for (int i = 0; i < SEG_NAME_LEN; i++) {
		if (name[i] < '0' || name[i] > '9')
			return false;
		if (x > (ULLONG_MAX - 9) / 10)
			return false;
		x = x * 10 + (unsigned)(name[i] - '0');
	}
	if (strcmp(name + SEG_NAME_LEN, ".seg") != 0)
		return false;
	*v = x;
	return true;
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
		if (!parse_seg_name(de->d_name, &g.name))
			continue;
		if (push_seg(s, &g) != 0) {
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
	while ((st = iter_next(s, &it, &seq, &data, &len, &why)) == REC_OK) {
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
		log_warn("spool: %s/%s: %s at offset %llu, truncated %llu bytes",
			 s->dir, name, why, (ull)it.off, (ull)cut);
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
	return refresh_live(s, err, errlen);
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
	if (read_state(s, err, errlen) != 0)
		goto fail;
	if (list_segments(s, err, errlen) != 0)
		goto fail;
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
	if (close_active(s, false, err, sizeof err) != 0)
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
 */
uint64_t spool_next_seq(struct spool *s, char *err, size_t errlen)
{
	if (s->next > s->reserved) {
		uint64_t r = s->next + (SEQ_BLOCK - 1);

		if (r < s->next) {
			bytes_set_err(err, errlen, "%s: sequence numbers exhausted", s->dir);
			return 0;
		}
		if (write_state(s, s->acked, r, err, errlen) != 0)
			return 0;
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

	if (push_seg(s, &g) != 0) {
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

		if (delete_oldest(s, err, sizeof err) != 0) {
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
		    close_active(s, true, err, errlen) != 0)
			return -1;
	}
	if (s->active_fd < 0 && open_active(s, seq, err, errlen) != 0)
		return -1;
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
	enforce_limit(s);
	return 0;

fail:
	eno = errno;
	seg_filename(name, sizeof name, g->name);
	bytes_set_err(err, errlen, "%s/%s: write: %s", s->dir, name, strerror(eno));
	/* Cut a partial record so the segment stays appendable; if that fails
	 * too, stop appending to it (open will cut the torn tail). */
	if (done > 0 && ftruncate(s->active_fd, (off_t)g->size) != 0) {
		char e2[256];

		log_error("spool: %s/%s: ftruncate to %llu after a failed write: %s",
			  s->dir, name, (ull)g->size, strerror(errno));
		if (close_active(s, false, e2, sizeof e2) != 0)
			log_error("spool: %s", e2);
	}
	return -1;
}

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
		int fd = seg_read_fd(s, i, err, errlen);

		if (fd < 0)
			goto out;
		iter_init(&it, fd, s->segs[i].name, off, s->segs[i].size);
		for (;;) {
			uint64_t at = it.off;

			st = iter_next(s, &it, &seq, &data, &len, &why);
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

/* ---- ack, sync, stats ---- */

int spool_ack(struct spool *s, uint64_t seq, char *err, size_t errlen)
{
	if (seq > s->last_seq)
		seq = s->last_seq;
	if (seq > s->acked) {
		if (write_state(s, seq, s->reserved, err, errlen) != 0)
			return -1;
		s->acked = seq;
		if (refresh_live(s, err, errlen) != 0)
			return -1;
	}
	/* also retries deletions that failed on an earlier ack */
	while (s->nsegs > 0 && s->segs[0].nrecs > 0 && s->segs[0].last_seq <= s->acked) {
		if (delete_oldest(s, err, errlen) != 0)
			return -1;
	}
	return 0;
}

int spool_sync(struct spool *s, char *err, size_t errlen)
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
	st->truncated_bytes = s->truncated_bytes;
}
