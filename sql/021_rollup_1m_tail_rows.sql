-- 021: the rows of rollup_1m's tail, unaggregated, for readers that count
-- per hour (issue 11).
--
-- 020 gave readers the tail (results rows whose transaction the builder has
-- not added to rollup_1m yet) only as minutes, through tw_rollup_1m_of: a
-- group per series, minute and outcome, then per series and minute, every
-- counter and the outcomes map built. The /metrics refresh only counts
-- outcomes per series and hour, twice a refresh, and paid for the minutes
-- it then threw away: over a 1,000,000-row tail (a burst that outran the
-- builder) 4.0 s for one of its two reads through tw_rollup_1m_of, 0.9 s
-- grouping these rows by hour directly; in bench/ingest.sh's burst the
-- refresh took 13% of both CPUs and hit its 10 s statement timeout.
--
-- The rows are those tw_rollup_1m_of(NULL, NULL, lo, hi) aggregates, by the
-- same conditions (keep the two equal): ingest_batch above rollup_1m_state's
-- ready_batch, in the reader's snapshot, so a reader that also reads
-- rollup_1m in the same statement counts every row once; the same stated
-- upper bound (a range estimate: the batch index, not a scan of today's
-- partition); the same removed join, so that rollup_1m is locked before
-- results (020: partition maintenance takes them in that order). SQL and
-- STABLE, so inlined: the caller's conditions and columns reach the scan.
-- sni is as stored (NULL for none); rollup_1m's key has '' for it.
CREATE FUNCTION tw_rollup_1m_tail_rows(lo timestamptz, hi timestamptz) RETURNS SETOF results
LANGUAGE sql STABLE AS $$
	SELECT results.*
	FROM (SELECT count(*) FROM (SELECT FROM rollup_1m LIMIT 0) z) AS lock_order
	     RIGHT JOIN results ON true
	WHERE ingest_batch > (SELECT ready_batch FROM rollup_1m_state)
	  AND ingest_batch <= 9223372036854775807
	  AND started_at >= lo AND started_at < hi
$$;
