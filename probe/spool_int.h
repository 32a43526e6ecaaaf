/*
 * spool_int.h - what the spool's files share: the in-memory spool, the
 * record iterator and the functions one spool file calls in another. Not
 * for use outside probe/spool*.c (the API is spool.h). It includes nothing
 * of ours, so the spool's files include spool.h first, then this.
 *
 *   spool.c         segments in memory, sequence numbers, append, ack, sync,
 *                   stats
 *   spool_format.c  the on-disk record format: CRC-32C, segment names, the
 *                   record iterator over a pread window
 *   spool_open.c    open, recovery (scan, truncate torn tails), close
 *   spool_read.c    spool_read: streaming and replay reads into batches
 *   spool_state.c   the `state` file, and the durable writes (state, fsync,
 *                   unlink) inline or on the background worker (bio.h)
 */
#ifndef TW_SPOOL_INT_H
#define TW_SPOOL_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

struct bio;

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

#define SPOOL_EPOCH_HEX 32              /* a spool epoch: 128 random bits */

struct spool {
	char *dir;
	/* the spool's identity (spool.h), fixed for its life; "" for a spool
	 * whose `state` predates epochs */
	char epoch[SPOOL_EPOCH_HEX + 1];
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
	uint64_t sent;         /* spool_set_sent: in flight up to here */

	uint64_t dropped;
	uint64_t write_failed;   /* of dropped: results that could not be written */
	bool write_failing;      /* the last write failed (logged once per run) */
	uint64_t truncated_bytes;
	uint64_t recovered_lost; /* of dropped: records cut at open */

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

	/* Background durability (spool_state.c). With bio NULL every fsync,
	 * rename and unlink happens inline, as the contract in spool.h
	 * describes for the plain calls. */
	struct bio *bio;
	bool state_busy;       /* a `state` write is queued on the bio */
	uint64_t ack_want;     /* highest ack asked for (> acked while persisting) */
	uint64_t reserve_want; /* reservation asked for (> reserved while persisting) */
	bool sync_busy;        /* a segment/directory fsync is queued */
	bool sync_failed;      /* the last background fsync failed (logged once) */
	uint64_t reserve_waits;
	uint64_t sync_errors;
	uint64_t state_errors;
};

static inline uint64_t max_u64(uint64_t a, uint64_t b)
{
	return a > b ? a : b;
}

static inline void seg_filename(char *buf, size_t len, uint64_t name)
{
	snprintf(buf, len, "%020llu.seg", (ull)name);
}

/* Records with seq > floor: those are the ones spool_read may return. */
static inline uint64_t read_floor(const struct spool *s)
{
	return max_u64(s->acked, s->drop_floor);
}

/* ---- spool_format.c: reading records through a pread window ---- */

struct rec_iter {
	int fd;
	uint64_t name;         /* the segment's, for the window */
	uint64_t off;          /* the next record's offset */
	uint64_t end;          /* bytes of the file that may hold records */
};

enum rec_status { REC_OK, REC_END, REC_BAD, REC_IOERR };

static inline void iter_init(struct rec_iter *it, int fd, uint64_t name, uint64_t off,
			     uint64_t end)
{
	it->fd = fd;
	it->name = name;
	it->off = off;
	it->end = end;
}

/* Decodes the record at it->off and advances past it. On REC_OK *data
 * points into s->rbuf until the next call. On REC_BAD *why says what is
 * wrong and it->off stays at the bad record. */
enum rec_status spool_iter_next(struct spool *s, struct rec_iter *it, uint64_t *seq,
				const uint8_t **data, uint32_t *len, const char **why);

/* "00000000000000000042.seg" -> 42 */
bool spool_parse_seg_name(const char *name, uint64_t *v);

/* ---- spool.c: segments ---- */

/* An fd to read segs[i]: the active fd, or a cached O_RDONLY one. */
int spool_seg_read_fd(struct spool *s, size_t i, char *err, size_t errlen);
/* Recomputes the live counts after the read floor moved up. */
int spool_refresh_live(struct spool *s, char *err, size_t errlen);
/* Closes the active segment (fsynced first when sync; on the bio when
 * there is one); the next append starts a new one. */
int spool_close_active(struct spool *s, bool sync, char *err, size_t errlen);
/* Unlinks segs[0] (on the bio when there is one) and removes it. */
int spool_delete_oldest(struct spool *s, char *err, size_t errlen);
/* `state` says acked >= seq on disk: count it and delete the segments
 * wholly acked. */
int spool_ack_persisted(struct spool *s, uint64_t seq, char *err, size_t errlen);
int spool_push_seg(struct spool *s, const struct seg *g);
/* The disk is full and `state` cannot record the ack of seq: deletes the
 * segments wholly <= seq before `state` says so (their records are
 * committed by the collector, so nothing is lost; a crash now only leaves
 * `state` with an older ack, whose segments are gone). *freed: how many. */
int spool_delete_acked_early(struct spool *s, uint64_t seq, size_t *freed,
			     char *err, size_t errlen);

/* ---- spool_state.c ---- */

/* Replaces `state` (tmp, fsync, rename, fsync dir), inline; it carries
 * s->epoch too. */
int spool_state_write(struct spool *s, uint64_t acked, uint64_t reserved,
		      char *err, size_t errlen);
/* Reads `state`; a missing file means a new spool (0, 0): *fresh is set
 * and a new random epoch is made (spool_state_write persists it). */
int spool_state_read(struct spool *s, bool *fresh, char *err, size_t errlen);
/* With a bio: queues a `state` write when an ack or a reservation is
 * wanted and none is queued. 0, or -1 when it could not be queued. */
int spool_state_kick(struct spool *s);
/* fsync + close fd on the bio (inline without one, or when queuing
 * fails). */
int spool_fsync_close(struct spool *s, int fd, const char *name, char *err, size_t errlen);
/* unlinkat(dirfd, name) on the bio (inline without one). */
int spool_unlink(struct spool *s, const char *name, char *err, size_t errlen);
/* fsync the active segment and, when dirty, the directory; inline. */
int spool_sync_now(struct spool *s, char *err, size_t errlen);

#endif
