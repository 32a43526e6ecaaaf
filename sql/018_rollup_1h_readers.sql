-- 018_rollup_1h_readers.sql - 016's reader function in two parts, so that
-- a reader with its own OR of hour ranges keeps its bitmap scans.
--
-- tw_rollup_1h_live(lo, hi) bounded its scan of rollup_1h by [lo, hi). The
-- burn-rate statement (collector/sli.c, windows with whole days) passes the
-- span of all its windows' hours (30 days) and filters by an OR of the few
-- ranges it needs (edge hours, days rollup_1d does not serve). With the span
-- AND-ed in, PostgreSQL scanned the whole span by the primary key and
-- filtered (bench/eval.sh, 2,000 SLOs: 787 ms for that scan, 76,000 rows
-- kept of 1.44M) instead of a BitmapOr of the ranges (88 ms): an evaluation
-- with rollup_1d went from 446 to 1,078 ms against 1494f67.
--
-- tw_rollup_1h_built()         the built, clean hours (rollup_1h below
--                              ready_before, no dirty row): no bound, the
--                              caller's conditions reach the scan. The dirty
--                              hours are one array computed once (the
--                              builder keeps it short), not an anti-join per
--                              row: over the 1.44M rows of a 30-day budget
--                              before rollup_1d is built, 016's NOT EXISTS
--                              made the statement ~50% slower than reading
--                              rollup_1h alone, the array ~8%
-- tw_rollup_1h_unbuilt(lo, hi) the other hours of [lo, hi), summed from
--                              their minutes (016's two legs, bounded)
-- tw_rollup_1h_live(lo, hi)    as before: the two, the first bounded too
-- All SQL and STABLE, so inlined into their callers.

CREATE FUNCTION tw_rollup_1h_built() RETURNS SETOF rollup_1h
LANGUAGE sql STABLE AS $$
	SELECT h.* FROM rollup_1h h
	WHERE h.bucket < (SELECT ready_before FROM rollup_1h_state)
	  AND h.bucket <> ALL (ARRAY(SELECT hour FROM rollup_1h_dirty))
$$;

CREATE FUNCTION tw_rollup_1h_unbuilt(lo timestamptz, hi timestamptz) RETURNS SETOF rollup_1h
LANGUAGE sql STABLE AS $$
	SELECT a.* FROM rollup_1h_state st, LATERAL tw_rollup_1h_agg(greatest(lo, st.ready_before), hi) a
	UNION ALL
	SELECT a.* FROM (SELECT DISTINCT hour FROM rollup_1h_dirty
			 WHERE hour >= lo AND hour < hi
			   AND hour < (SELECT ready_before FROM rollup_1h_state)) d,
		LATERAL tw_rollup_1h_agg(d.hour, d.hour + interval '1 hour') a
$$;

CREATE OR REPLACE FUNCTION tw_rollup_1h_live(lo timestamptz, hi timestamptz) RETURNS SETOF rollup_1h
LANGUAGE sql STABLE AS $$
	SELECT * FROM tw_rollup_1h_built() WHERE bucket >= lo AND bucket < hi
	UNION ALL
	SELECT * FROM tw_rollup_1h_unbuilt(lo, hi)
$$;
