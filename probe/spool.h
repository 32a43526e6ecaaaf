/*
 * spool.h - the probe's disk spool: every Result is numbered and appended
 * here before it is sent; records leave only when the collector acks them
 * (DESIGN 5), or when the spool is full and the oldest are dropped (counted
 * and logged - the only way a result may be lost).
 *
 * On disk (directory created 0700, flock'ed by its one owner):
 *   SEQ.seg   segment files (0600) named by their first sequence number, 20
 *             digits. A segment is appended to by one process lifetime only
 *             (open starts a new one on the first append) and is closed
 *             before a record would take it past min(segment size,
 *             max_bytes); a record larger than that gets a segment alone.
 *             Each record:
 *               u32 BE  payload length
 *               u32 BE  CRC-32C of (seq bytes + payload)
 *               u64 BE  seq
 *               payload (a packed tlswatch.Result)
 *   state     "acked SEQ\nreserved SEQ\nepoch HEX\n", replaced atomically
 *             (write tmp, fsync, rename, fsync dir).
 *
 * Epoch: 128 random bits (32 hex digits) made when a spool is created -
 * `state` missing - and written to `state` before any number is handed out.
 * It names this spool's sequence: the collector keys what it has committed
 * on (probe id, epoch), so a wiped or new spool starting again from seq 1
 * is never taken for one the collector has already acked further (issue
 * 12). A `state` without the line (older spools) keeps the empty epoch:
 * its numbers continue what the collector knows of the probe.
 *
 * Sequence numbers survive restarts and are never reused: a block of numbers
 * is reserved in `state` (fsynced) before any of it is handed out, and on
 * open the next number is past both the newest record on disk and the
 * reservation. A crash can leave a gap in the sequence, never a duplicate.
 *
 * Recovery: on open every segment is scanned; the first record whose header
 * is cut short, whose length is impossible, whose CRC does not match or
 * whose seq does not increase ends that segment - the file is truncated
 * there (logged with the byte offset and count of bytes cut, and the
 * unacked records cut counted as dropped). Later segments are still read. Segments left empty or wholly acked are deleted.
 *
 * fsync policy: spool_sync_start() fsyncs the active segment; the daemon
 * calls it every fsync interval (default 1 s), and spool_sync() at
 * shutdown. A killed process loses nothing (the page cache survives it); a
 * power loss can lose at most the last interval, never corrupt what is
 * older.
 *
 * Durable writes off the loop. Without a worker (spool_opts.bio NULL) every
 * call below does its fsyncs, renames and unlinks before it returns. With
 * one (bio.h), the loop never waits for the disk: spool_ack() returns at
 * once and the ack takes effect - `state` persisted, then acked_seq moves
 * and segments are deleted, in that order, as above - when the worker has
 * written it (several acks meanwhile become one write); rotation fsyncs
 * the old segment on the worker; spool_sync_start() queues the fsync; the
 * next block of sequence numbers is reserved half a block ahead. What does
 * not change: a seq is handed out only once `state` reserving it is on
 * disk, and segments are deleted only once the ack covering them is -
 * except on a full disk (ENOSPC), where the acked segments go first so
 * that `state` can be written at all.
 * Failures of background writes are logged and counted (durable_errors);
 * a failed ack or reservation is retried by the next one.
 *
 * Not thread-safe; one owner on the event loop (the worker only ever sees
 * copies: its own fds and numbers).
 */
#ifndef TW_SPOOL_H
#define TW_SPOOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct bio;

#define SPOOL_SEGMENT_DEFAULT (4u << 20)   /* rotate after 4 MiB */
#define SPOOL_MAX_RECORD      (1u << 20)   /* a record's payload, at most */

struct spool;

struct spool_opts {
	const char *dir;
	uint64_t max_bytes;        /* total of all segment files; oldest whole
				    * segments dropped beyond; 0 = no limit */
	uint64_t segment_bytes;    /* 0 = SPOOL_SEGMENT_DEFAULT */
	struct bio *bio;           /* background durable writes; NULL: inline.
				    * Borrowed: must outlive the spool, whose
				    * spool_close() finishes its jobs first. */
};

/* One record handed out by spool_read(). data is owned by the spool_batch. */
struct spool_rec {
	uint64_t seq;
	const uint8_t *data;
	size_t len;
};

struct spool_batch {
	struct spool_rec *recs;
	size_t n;
	size_t bytes;              /* sum of payload lengths */
	void *priv;                /* storage; freed by spool_batch_free */
};

struct spool_stats {
	uint64_t records;          /* unacked records on disk */
	uint64_t bytes;            /* size of all segment files */
	uint64_t segments;
	uint64_t acked_seq;        /* highest acked */
	uint64_t last_seq;         /* highest assigned (0: none yet) */
	uint64_t dropped;          /* results lost since open: dropped because of
				    * max_bytes, not written (write_failed), cut
				    * from a damaged segment at open (recovered_lost) */
	uint64_t write_failed;     /* results spool_next_seq/spool_append could
				    * not store (disk full, I/O) */
	uint64_t truncated_bytes;  /* torn/corrupt bytes cut at open */
	uint64_t recovered_lost;   /* unacked records in those bytes (spool_open.c
				    * says how they are counted) */
	uint64_t reserve_waits;    /* spool_next_seq waited for the worker */
	uint64_t durable_errors;   /* background fsync/state writes that failed */
	uint64_t durable_pending;  /* jobs queued on the worker */
};

/* Opens (creating the directory, mkdir -p, if needed) and recovers. NULL
 * with a reason in err (naming the path): not a directory, in use by
 * another spool_open (flock), unreadable or malformed `state`, I/O. */
struct spool *spool_open(const struct spool_opts *o, char *err, size_t errlen);
/* Syncs and closes. NULL is fine. */
void spool_close(struct spool *s);

/* The number the next appended record must carry; reserves a new block in
 * `state` when needed (returns 0 on an I/O failure, err set; the result is
 * then counted as dropped and write_failed). */
uint64_t spool_next_seq(struct spool *s, char *err, size_t errlen);

/* Appends one record (1..SPOOL_MAX_RECORD bytes) carrying seq (which must
 * be the value spool_next_seq returned; the counter then advances). One
 * write, no fsync. Drops the oldest segments when the total exceeds
 * max_bytes (counted; logged with log_warn); the record just appended is
 * never dropped. 0, or -1 with err set (disk full, record too large, seq
 * out of order); after -1 the same seq may be retried (an I/O failure has
 * counted the result as dropped and write_failed: the caller is expected
 * to give it up). data stays the caller's. */
int spool_append(struct spool *s, uint64_t seq, const uint8_t *data, size_t len,
		 char *err, size_t errlen);

/* Records with seq > after_seq, in order, at most max_recs and about
 * max_bytes (at least one record when any exists; 0 = no limit for either).
 * Acked and dropped records are never returned. Streaming (after_seq = the
 * last seq of the previous batch) continues from a cursor; any other
 * after_seq (a replay) is found by binary search. Payloads are CRC-checked
 * again. 0 with *out filled (out->n may be 0; free it with
 * spool_batch_free), -1 with err set on an I/O error or a record damaged
 * since open. */
int spool_read(struct spool *s, uint64_t after_seq, size_t max_recs, size_t max_bytes,
	       struct spool_batch *out, char *err, size_t errlen);
void spool_batch_free(struct spool_batch *b);

/* Everything up to seq is acked: the acked number is persisted (fsynced),
 * then segments wholly <= seq are deleted (the active one too: the next
 * append starts a new segment). Acks that go backwards are ignored, acks
 * past the last seq are clamped to it. 0 / -1. With a worker: 0 once the
 * write is queued; acked_seq moves when it is done. When `state` cannot be
 * written because the disk is full (ENOSPC), the segments wholly <= seq are
 * deleted first and the write is tried again: freeing them is what gets
 * a full spool going again. */
int spool_ack(struct spool *s, uint64_t seq, char *err, size_t errlen);

/* fsync the active segment (and the directory when a segment was created
 * since the last call), after every queued background job: when it
 * returns 0 everything appended and acked so far is durable. Blocks. 0 / -1. */
int spool_sync(struct spool *s, char *err, size_t errlen);

/* The same without waiting: with a worker the fsync is queued (unless one
 * is already queued) and its failure logged there; without one it is
 * spool_sync(). 0 / -1 (could not queue or inline failure). */
int spool_sync_start(struct spool *s, char *err, size_t errlen);

void spool_get_stats(const struct spool *s, struct spool_stats *st);

/* The uplink's highest seq in flight (sent, not yet acked; 0: none). The
 * max_bytes limit never deletes a segment holding records up to it: the
 * collector may commit them at any moment, and deleting them would count
 * them as dropped too. The spool may so pass max_bytes by what is in
 * flight (the uplink's window); the uplink lowers it to the acked seq when
 * its connection ends, so a dead connection holds nothing back. */
void spool_set_sent(struct spool *s, uint64_t seq);

/* The spool's epoch: 32 lowercase hex digits, or "" for a spool made before
 * epochs. Owned by the spool, valid until spool_close. */
const char *spool_epoch(const struct spool *s);

/* CRC-32C (Castagnoli), exposed for tests: crc32c(0, "123456789", 9) ==
 * 0xE3069283. */
uint32_t spool_crc32c(uint32_t crc, const void *buf, size_t len);

#endif
