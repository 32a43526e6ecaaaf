/*
 * db_seen.h - the certificate sightings and targets rows this collector
 * has committed, so that an ingest transaction can leave out a row whose
 * upsert would change nothing but move a last_seen by less than
 * DB_SEEN_LAG_MS (db_plan.c; issue 11, BENCHMARKS.md "The rows every
 * transaction rewrote").
 *
 * What a skipped row costs a reader: certificate_sightings.last_seen and
 * targets.last_seen may be behind the newest result of that row by less
 * than DB_SEEN_LAG_MS (for targets, the bound sql/011 gave in SQL, which
 * db_sql.c no longer applies). first_seen is never behind: a row is skipped only when the
 * first_seen it carries is not below one this collector committed, and
 * first_seen only ever goes down. A service or labels change is never
 * skipped (the row's hash differs). Why it is safe to leave the
 * certificate out with its sightings: see db_plan.c.
 *
 * Entries are noted only after their transaction committed (db_ingest.c),
 * so a rolled-back write is never taken for a stored one. Another collector
 * writing the same rows only makes the stored values newer. The table holds
 * at most DB_SEEN_MAX entries (about 200 bytes each with a 100-byte key, so
 * about 20 MB per table at most) and is emptied when full: the next write of
 * each row then goes through. A fleet with more sightings than that gains
 * less, and loses nothing.
 *
 * A collector cannot see rows deleted under it (a TRUNCATE, a DELETE by
 * hand): such a row comes back with the first result more than
 * DB_SEEN_LAG_MS past the last write this collector knows of, or when it
 * restarts. Retention deletes only rows whose last_seen is long past.
 */
#ifndef TW_DB_SEEN_H
#define TW_DB_SEEN_H

#include "db_tab.h"
#include "strbuf.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define DB_SEEN_LAG_MS 60000
#define DB_SEEN_MAX 100000

/* True when a write of key spanning [first, last] (unix ms) with payload
 * hash `hash` may be left out: this collector committed the row with a
 * first_seen <= first, and last is at most DB_SEEN_LAG_MS after the
 * last_seen it committed, and the hash is the one it committed (or the
 * write is older than that last_seen, which the upsert would not apply). */
bool db_seen_covers(const struct db_tab *seen, const void *key, size_t klen, int64_t first,
		    int64_t last, uint64_t hash);

/* Records a write of the transaction being planned into pending (a
 * buffer of records), for db_seen_commit() once it committed. */
void db_seen_pend(struct strbuf *pending, const void *key, size_t klen, int64_t first,
		  int64_t last, uint64_t hash);

/* The transaction that wrote pending committed: notes its writes in seen.
 * Out of memory drops the table's entries (they are only a shortcut). */
void db_seen_commit(struct db_tab *seen, const struct strbuf *pending);

#endif
