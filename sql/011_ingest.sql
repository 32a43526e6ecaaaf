-- 011_ingest.sql - what the ingest statement keeps exact and what it keeps
-- within a bound (issue 11, collector/db_sql.c, BENCHMARKS.md).
--
-- Exact, in the transaction that inserts the rows, from the rows actually
-- inserted (a replay changes nothing): results, rollup_1m, rollup_1h,
-- certificates, certificate_sightings, probes, probe_spools.
--
-- targets is read for its service and labels (SLO selectors) and for "was
-- any target seen in the last 5 minutes" (collector/evaluator.c). Every
-- probe reports the same targets, so rewriting each target's row in every
-- batch made concurrent batches wait on each other's row locks: in the
-- bench it was 64% of the ingest statement's time. A batch now rewrites a
-- target's row only when first_seen, service or labels would change, or
-- when last_seen would advance by more than one minute. The check reads the
-- row without a lock: if two probes report *different* labels (or service)
-- for one target in the same moment, the row can keep the other probe's
-- labels until this probe's next batch of that target rewrites it (probes
-- with differing labels for one target made the row flip between them
-- before this change too).
COMMENT ON COLUMN targets.last_seen IS
	'started_at of the newest result of this target, at most one minute behind (sql/011_ingest.sql); '
	'service and labels are those of the newest result';

-- certificate_sightings: every batch moves last_seen of the sightings it
-- saw. With last_seen indexed no such update could be HOT: each one added an
-- entry to all three indexes (and btree bottom-up deletion to clean them).
-- The index served only retention's once-a-run DELETE (a sequential scan
-- of a table of targets x regions x certificates is cheap); fillfactor 70
-- leaves the room a HOT update needs. Measured (60 batches of 500 upserts
-- moving last_seen, 5,000 sightings, PostgreSQL 15, BENCHMARKS.md): 2,051 ms
-- with the index, 1,314 ms without, 850 ms without and fillfactor 70 (94%
-- of the updates HOT).
DROP INDEX certificate_sightings_last_seen_idx;
ALTER TABLE certificate_sightings SET (fillfactor = 70);
