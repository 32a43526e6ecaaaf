-- 020_rollup_1m_builder.sql - rollup_1m built off the ingest path, from
-- results, as 016 builds rollup_1h from rollup_1m (issue 11; BENCHMARKS.md
-- "rollup_1m off the ingest path").
--
-- Before: every ingest transaction COPY'd its series-minutes into a temp
-- table and upserted them into rollup_1m. At the 1-2 results per
-- series-minute of a real fleet that is a second table as large as results,
-- written row by row with ON CONFLICT: 37% of PostgreSQL's CPU on the
-- ingest path (perf, BENCHMARKS.md). Now the ingest writes results only
-- (and certificates, sightings, targets, probe rows), and each results row
-- carries the number of its ingest transaction:
--
--   results.ingest_batch          nextval(ingest_batch_seq), one per ingest
--                                 transaction, taken after the shared lock
--                                 below (tw_ingest_batch, which sets the
--                                 transaction-local tw.ingest_batch that
--                                 the column's DEFAULT reads). NULL for
--                                 rows written any other way (rows from
--                                 before this migration, collectors older
--                                 than it, which still upsert rollup_1m
--                                 themselves): those are never in the tail.
--   rollup_1m_state.ready_batch   rollup_1m holds every results row with
--                                 ingest_batch <= ready_batch; the rows
--                                 above it are "the tail"
--   rollup_1m_state.mark_batch    every ingest transaction with a number
--                                 <= mark_batch has ended
--
-- Exactness, 016's protocol with transaction numbers instead of hours:
--   claim (tw_rollup_1m_claim, autocommit): under the advisory lock
--         (1953985907, 20) taken EXCLUSIVE, which every ingest transaction
--         holds SHARED from its first statement to its end and takes before
--         its number, moves mark_batch to the sequence's last value: every
--         transaction that drew a number up to it has committed or rolled
--         back, and every later one draws a larger number.
--   step  (tw_rollup_1m_step): adds the tail rows with numbers in
--         (ready_batch, min(mark_batch, ready_batch + chunk)] to rollup_1m
--         with the merge rules the ingest's upsert had, records the hours
--         below rollup_1h's mark_before it wrote minutes into (016's
--         rollup_1h_dirty, under 016's shared lock, as the ingest did), and
--         moves ready_batch, in one transaction: a collector killed anywhere
--         leaves every row counted exactly once.
-- Readers add the tail (the results rows above ready_batch, read in the
-- same snapshot as ready_batch and rollup_1m) once, at the level they read:
-- tw_rollup_1m_live(lo, hi) per minute, tw_rollup_1h_live(lo, hi) and the
-- view rollup_1h_live per hour, collector/sli.c as a leg of its own. A row
-- in the tail is in no rollup yet (not in rollup_1m, so not in any hour or
-- day built from it); a row at or below ready_batch is in rollup_1m, and in
-- its hour once that is built, or the hour is dirty. So every reader is
-- exact at every instant; the builder's lag (one evaluation interval) only
-- costs the readers the tail's rows, found by results_ingest_batch_idx.
--
-- Retention: a results partition holding tail rows is not dropped until the
-- builder has added them (tw_maintain_partitions below, now in two parts).

CREATE SEQUENCE ingest_batch_seq;

ALTER TABLE results ADD COLUMN ingest_batch bigint
	DEFAULT nullif(current_setting('tw.ingest_batch', true), '')::bigint;
CREATE INDEX results_ingest_batch_idx ON results (ingest_batch) WHERE ingest_batch IS NOT NULL;

CREATE TABLE rollup_1m_state (
	one         boolean PRIMARY KEY DEFAULT true CHECK (one),
	mark_batch  bigint NOT NULL,    -- every ingest transaction numbered up to it has ended
	ready_batch bigint NOT NULL,    -- rollup_1m holds the results rows numbered up to it
	updated_at  timestamptz NOT NULL DEFAULT now(),
	CHECK (ready_batch <= mark_batch)
);
INSERT INTO rollup_1m_state (one, mark_batch, ready_batch) VALUES (true, 0, 0);
ANALYZE rollup_1m_state;

-- The ingest transaction's number (collector/db_sql.c db_sql_lock, its first
-- statement): the claim's lock shared, then the number, which the COPY into
-- results stores through the column's DEFAULT.
CREATE FUNCTION tw_ingest_batch() RETURNS bigint
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
	b bigint;
BEGIN
	PERFORM pg_advisory_xact_lock_shared(1953985907, 20);
	b := nextval('ingest_batch_seq');
	PERFORM set_config('tw.ingest_batch', b::text, true);
	RETURN b;
END
$$;

-- rollup_1m's rows of the results rows numbered in (lo_batch, hi_batch]
-- (lo_batch NULL: rollup_1m_state.ready_batch, i.e. the tail; hi_batch
-- NULL: no bound) that started in [lo, hi), with the rules the
-- ingest's upsert had (collector/db_plan.c agg_add before this migration):
-- outcomes counted per outcome, successes the 'ok' ones, handshakes the rows
-- with a TLS version, the histogram by tw_latency_bucket, stapled and
-- no-responder counted only with a TLS version, mTLS failures the
-- client-certificate outcomes of mTLS rows, service the greatest of the
-- group's. A minute may also have a row in rollup_1m: readers sum.
-- One pass over results: counted per (series-minute, outcome) (as integers:
-- their sums per series-minute are then bigint sums, not numeric ones), then
-- summed per series-minute; no join of two aggregates, which an estimate
-- of one row each turned into a nested loop (10 minutes for 200,000 rows).
-- SQL and STABLE, one SELECT, so inlined into its callers (no subquery in
-- the arguments, which would prevent it: hence NULL for the tail): their
-- conditions on the key (a target) reach the scan of results, and their
-- statement locks results when it is planned. lock_order (one row, no
-- column used: the planner removes the join) makes that lock come after
-- rollup_1m's, the order partition maintenance takes them in: a reader
-- that locked results first and rollup_1m later (tw_rollup_1h_agg, not
-- inlined, runs at execution) deadlocked with it (test_rollup_1m). The upper bound is always there, so
-- that with the lower one unknown at planning (a caller's subquery) the
-- planner estimates a range (0.5% of a partition: its index) rather than a
-- third of it (a scan of the whole of today's partition). A column added
-- to rollup_1m later must be added here.
CREATE FUNCTION tw_rollup_1m_of(lo_batch bigint, hi_batch bigint, lo timestamptz, hi timestamptz)
RETURNS SETOF rollup_1m
LANGUAGE sql STABLE AS $$
	SELECT bucket, target, port, sni, region, profile, max(service), sum(n),
	       coalesce(sum(n) FILTER (WHERE outcome = 'ok'), 0),
	       coalesce(sum(n) FILTER (WHERE outcome <> 'ok'), 0),
	       jsonb_object_agg(outcome, n), sum(handshakes),
	       ARRAY[sum(h1), sum(h2), sum(h3), sum(h4), sum(h5), sum(h6), sum(h7), sum(h8), sum(h9), sum(h10), sum(h11), sum(h12), sum(h13), sum(h14), sum(h15), sum(h16), sum(h17), sum(h18), sum(h19), sum(h20)],
	       coalesce(sum(hsum), 0), sum(hcount), sum(mtls_attempts), sum(mtls_failures),
	       sum(stapled), sum(fallback), sum(mismatch), sum(expiring), min(min_days),
	       min(min_chain), sum(no_responder)
	FROM (SELECT bucket, target, port, sni, region, profile, outcome, max(service) AS service,
		     count(*)::integer AS n, count(tls_version)::integer AS handshakes,
		     count(*) FILTER (WHERE lb = 1)::integer AS h1,
		     count(*) FILTER (WHERE lb = 2)::integer AS h2,
		     count(*) FILTER (WHERE lb = 3)::integer AS h3,
		     count(*) FILTER (WHERE lb = 4)::integer AS h4,
		     count(*) FILTER (WHERE lb = 5)::integer AS h5,
		     count(*) FILTER (WHERE lb = 6)::integer AS h6,
		     count(*) FILTER (WHERE lb = 7)::integer AS h7,
		     count(*) FILTER (WHERE lb = 8)::integer AS h8,
		     count(*) FILTER (WHERE lb = 9)::integer AS h9,
		     count(*) FILTER (WHERE lb = 10)::integer AS h10,
		     count(*) FILTER (WHERE lb = 11)::integer AS h11,
		     count(*) FILTER (WHERE lb = 12)::integer AS h12,
		     count(*) FILTER (WHERE lb = 13)::integer AS h13,
		     count(*) FILTER (WHERE lb = 14)::integer AS h14,
		     count(*) FILTER (WHERE lb = 15)::integer AS h15,
		     count(*) FILTER (WHERE lb = 16)::integer AS h16,
		     count(*) FILTER (WHERE lb = 17)::integer AS h17,
		     count(*) FILTER (WHERE lb = 18)::integer AS h18,
		     count(*) FILTER (WHERE lb = 19)::integer AS h19,
		     count(*) FILTER (WHERE lb = 20)::integer AS h20,
		     sum(handshake_ms) AS hsum, count(handshake_ms)::integer AS hcount,
		     count(*) FILTER (WHERE mtls)::integer AS mtls_attempts,
		     count(*) FILTER (WHERE mtls AND outcome IN ('client_cert_required',
								 'client_cert_rejected'))::integer
			AS mtls_failures,
		     count(*) FILTER (WHERE tls_version IS NOT NULL AND ocsp_stapled)::integer AS stapled,
		     count(*) FILTER (WHERE 'cipher_fallback' = ANY (findings))::integer AS fallback,
		     count(*) FILTER (WHERE sni_match = false)::integer AS mismatch,
		     count(*) FILTER (WHERE 'expiring_soon' = ANY (findings))::integer AS expiring,
		     min(days_to_expiry) AS min_days, min(chain_not_after_min) AS min_chain,
		     count(*) FILTER (WHERE tls_version IS NOT NULL AND ocsp_responder_named = false)::integer
			AS no_responder
	      FROM (SELECT date_trunc('minute', started_at, 'UTC') AS bucket, target, port,
			   coalesce(sni, '') AS sni, region, profile, outcome, service, tls_version,
			   tw_latency_bucket(handshake_ms) AS lb, handshake_ms, mtls, ocsp_stapled,
			   findings, sni_match, days_to_expiry, chain_not_after_min, ocsp_responder_named
		    FROM (SELECT count(*) FROM (SELECT FROM rollup_1m LIMIT 0) z) AS lock_order
			 RIGHT JOIN results ON true
		    WHERE ingest_batch > coalesce(lo_batch, (SELECT ready_batch FROM rollup_1m_state))
		      AND ingest_batch <= coalesce(hi_batch, 9223372036854775807)
		      AND started_at >= lo AND started_at < hi) r
	      GROUP BY 1, 2, 3, 4, 5, 6, 7) x
	GROUP BY 1, 2, 3, 4, 5, 6
$$;

-- The claim (see the top): when the last claim's rows are all added and an
-- ingest transaction has drawn a number since, moves mark_batch to the
-- sequence's last value under the lock taken EXCLUSIVE. Returns the new
-- mark_batch, or NULL. The lock waits for the ingest transactions in flight
-- (and makes new ones wait behind it) for as long as the longest of them:
-- lock_timeout bounds that, and the next run claims again.
CREATE FUNCTION tw_rollup_1m_claim() RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
	st rollup_1m_state;
	upto bigint;
BEGIN
	SELECT * INTO st FROM rollup_1m_state;
	SELECT CASE WHEN is_called THEN last_value ELSE 0 END INTO upto FROM ingest_batch_seq;
	IF st.ready_batch < st.mark_batch OR upto <= st.mark_batch THEN
		RETURN NULL;    -- without the lock: nothing to claim
	END IF;
	PERFORM set_config('lock_timeout', '5s', true);
	PERFORM pg_advisory_xact_lock(1953985907, 20);
	SELECT * INTO st FROM rollup_1m_state FOR UPDATE;
	SELECT CASE WHEN is_called THEN last_value ELSE 0 END INTO upto FROM ingest_batch_seq;
	IF st.ready_batch < st.mark_batch OR upto <= st.mark_batch THEN
		RETURN NULL;
	END IF;
	UPDATE rollup_1m_state SET mark_batch = upto, updated_at = now();
	RETURN upto;
END
$$;

-- One step (see the top): adds the rows numbered in (ready_batch,
-- min(mark_batch, ready_batch + chunk)] to rollup_1m. Returns how many
-- results rows it added, or NULL when nothing was claimed. The upsert's
-- merges are those of the ingest's (collector/db_sql.c before this
-- migration): counters and histogram buckets added (20 buckets, checked by
-- the collector against tw_latency_bounds at connect), outcomes merged,
-- minima least, service the new one when it has one.
CREATE FUNCTION tw_rollup_1m_step(chunk bigint) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
	st rollup_1m_state;
	upto bigint;
	n bigint;
BEGIN
	SELECT * INTO st FROM rollup_1m_state FOR UPDATE;  -- one step at a time
	IF st.ready_batch >= st.mark_batch THEN
		RETURN NULL;
	END IF;
	upto := least(st.mark_batch, st.ready_batch + greatest(chunk, 1));
	WITH a AS MATERIALIZED (
		SELECT * FROM tw_rollup_1m_of(st.ready_batch, upto, '-infinity', 'infinity')),
	up AS (
		INSERT INTO rollup_1m AS m SELECT * FROM a
		ON CONFLICT (bucket, target, port, sni, region, profile) DO UPDATE SET
			service = coalesce(EXCLUDED.service, m.service),
			attempts = m.attempts + EXCLUDED.attempts,
			successes = m.successes + EXCLUDED.successes,
			failures = m.failures + EXCLUDED.failures,
			-- one outcome (its count is all the attempts): one jsonb_set;
			-- more: the function (inline, as the ingest's upsert had them:
			-- PL/pgSQL merges were most of a conflicting row's cost)
			outcomes = CASE WHEN (jsonb_path_query_first(EXCLUDED.outcomes,
					'$.keyvalue().value'))::bigint = EXCLUDED.attempts
				THEN jsonb_set(m.outcomes, ARRAY[jsonb_path_query_first(EXCLUDED.outcomes,
					'$.keyvalue().key') #>> '{}'], to_jsonb(coalesce((m.outcomes ->>
					(jsonb_path_query_first(EXCLUDED.outcomes, '$.keyvalue().key') #>> '{}'))::bigint,
					0) + EXCLUDED.attempts))
				ELSE tw_jsonb_count_add(m.outcomes, EXCLUDED.outcomes) END,
			handshakes = m.handshakes + EXCLUDED.handshakes,
			handshake_ms_hist = ARRAY[coalesce(m.handshake_ms_hist[1], 0) + EXCLUDED.handshake_ms_hist[1], coalesce(m.handshake_ms_hist[2], 0) + EXCLUDED.handshake_ms_hist[2],
				coalesce(m.handshake_ms_hist[3], 0) + EXCLUDED.handshake_ms_hist[3], coalesce(m.handshake_ms_hist[4], 0) + EXCLUDED.handshake_ms_hist[4],
				coalesce(m.handshake_ms_hist[5], 0) + EXCLUDED.handshake_ms_hist[5], coalesce(m.handshake_ms_hist[6], 0) + EXCLUDED.handshake_ms_hist[6],
				coalesce(m.handshake_ms_hist[7], 0) + EXCLUDED.handshake_ms_hist[7], coalesce(m.handshake_ms_hist[8], 0) + EXCLUDED.handshake_ms_hist[8],
				coalesce(m.handshake_ms_hist[9], 0) + EXCLUDED.handshake_ms_hist[9], coalesce(m.handshake_ms_hist[10], 0) + EXCLUDED.handshake_ms_hist[10],
				coalesce(m.handshake_ms_hist[11], 0) + EXCLUDED.handshake_ms_hist[11], coalesce(m.handshake_ms_hist[12], 0) + EXCLUDED.handshake_ms_hist[12],
				coalesce(m.handshake_ms_hist[13], 0) + EXCLUDED.handshake_ms_hist[13], coalesce(m.handshake_ms_hist[14], 0) + EXCLUDED.handshake_ms_hist[14],
				coalesce(m.handshake_ms_hist[15], 0) + EXCLUDED.handshake_ms_hist[15], coalesce(m.handshake_ms_hist[16], 0) + EXCLUDED.handshake_ms_hist[16],
				coalesce(m.handshake_ms_hist[17], 0) + EXCLUDED.handshake_ms_hist[17], coalesce(m.handshake_ms_hist[18], 0) + EXCLUDED.handshake_ms_hist[18],
				coalesce(m.handshake_ms_hist[19], 0) + EXCLUDED.handshake_ms_hist[19], coalesce(m.handshake_ms_hist[20], 0) + EXCLUDED.handshake_ms_hist[20]]::bigint[],
			handshake_ms_sum = m.handshake_ms_sum + EXCLUDED.handshake_ms_sum,
			handshake_ms_count = m.handshake_ms_count + EXCLUDED.handshake_ms_count,
			mtls_attempts = m.mtls_attempts + EXCLUDED.mtls_attempts,
			mtls_failures = m.mtls_failures + EXCLUDED.mtls_failures,
			ocsp_stapled_count = m.ocsp_stapled_count + EXCLUDED.ocsp_stapled_count,
			cipher_fallback_count = m.cipher_fallback_count + EXCLUDED.cipher_fallback_count,
			sni_mismatch_count = m.sni_mismatch_count + EXCLUDED.sni_mismatch_count,
			expiring_soon_count = m.expiring_soon_count + EXCLUDED.expiring_soon_count,
			min_days_to_expiry = least(m.min_days_to_expiry, EXCLUDED.min_days_to_expiry),
			min_chain_not_after = least(m.min_chain_not_after, EXCLUDED.min_chain_not_after),
			ocsp_no_responder_count = m.ocsp_no_responder_count + EXCLUDED.ocsp_no_responder_count
		RETURNING 1),
	-- the hours below rollup_1h's mark_before that got minutes (016)
	hm AS (
		INSERT INTO rollup_1h_dirty (hour)
		SELECT h FROM tw_rollup_1h_below(ARRAY(SELECT DISTINCT date_trunc('hour', bucket, 'UTC')
						       FROM a)) AS h
		RETURNING 1)
	SELECT coalesce(sum(attempts), 0) INTO n
	FROM a, (SELECT count(*) FROM up) u, (SELECT count(*) FROM hm) d;
	UPDATE rollup_1m_state SET ready_batch = upto, updated_at = now();
	RETURN n;
END
$$;

-- The minutes of [lo, hi) as every reader must see them: rollup_1m's rows
-- and the tail's (a minute may have one of each: readers sum). SQL and
-- STABLE, so inlined: the caller's conditions reach the scan of rollup_1m;
-- the tail is small (one builder interval) and summed whole.
CREATE FUNCTION tw_rollup_1m_live(lo timestamptz, hi timestamptz) RETURNS SETOF rollup_1m
LANGUAGE sql STABLE AS $$
	SELECT * FROM rollup_1m WHERE bucket >= lo AND bucket < hi
	UNION ALL
	SELECT * FROM tw_rollup_1m_of(NULL, NULL, lo, hi)
$$;

-- The tail's rows of [lo, hi) per hour (bucket the UTC hour; not summed
-- per hour: readers sum), for the readers of hours.
CREATE FUNCTION tw_rollup_1m_tail_hours(lo timestamptz, hi timestamptz) RETURNS SETOF rollup_1h
LANGUAGE sql STABLE AS $$
	SELECT date_trunc('hour', t.bucket, 'UTC'), t.target, t.port, t.sni, t.region, t.profile,
	       t.service, t.attempts, t.successes, t.failures, t.outcomes, t.handshakes,
	       t.handshake_ms_hist, t.handshake_ms_sum, t.handshake_ms_count, t.mtls_attempts,
	       t.mtls_failures, t.ocsp_stapled_count, t.cipher_fallback_count, t.sni_mismatch_count,
	       t.expiring_soon_count, t.min_days_to_expiry, t.min_chain_not_after,
	       t.ocsp_no_responder_count
	FROM tw_rollup_1m_of(NULL, NULL, lo, hi) t
$$;

-- 018's hours, plus the tail's. Its callers (collector/store_series.c,
-- store_targets.c through the view, the Grafana dashboard) sum per hour.
-- collector/sli.c reads 018's built and unbuilt hours and the tail as legs
-- of its own.
CREATE OR REPLACE FUNCTION tw_rollup_1h_live(lo timestamptz, hi timestamptz) RETURNS SETOF rollup_1h
LANGUAGE sql STABLE AS $$
	SELECT * FROM tw_rollup_1h_built() WHERE bucket >= lo AND bucket < hi
	UNION ALL
	SELECT * FROM tw_rollup_1h_unbuilt(lo, hi)
	UNION ALL
	SELECT * FROM tw_rollup_1m_tail_hours(lo, hi)
$$;

-- 017's maintenance, split in two, each the caller's own transaction
-- (collector/db_pool.c, db_schema.c: tw_maintain_minute_partitions first).
-- Creating or dropping a partition takes its parent's AccessExclusiveLock
-- until commit, and a reader locks rollup_1m and results in either order
-- (the tail is inlined from results into statements over the rollups, and
-- users write their own): one transaction that held one parent while it
-- waited for the other deadlocked with such readers (test_leader and
-- test_rollup_1m, a fresh database: 30 days of rollup_1m partitions
-- created while the first evaluation and /metrics refresh ran).
--
-- tw_maintain_minute_partitions: rollup_1m's partitions and retention (017).
CREATE FUNCTION tw_maintain_minute_partitions(ahead_days integer)
RETURNS TABLE (action text, partition_name text, detail text)
LANGUAGE plpgsql AS $$
DECLARE
	today date := (now() AT TIME ZONE 'UTC')::date;
	minute_days integer := coalesce((SELECT days FROM retention_policy WHERE name = 'rollup_1m'), 30);
	unbuilt timestamptz := least((SELECT ready_before FROM rollup_1h_state),
				     (SELECT min(hour) FROM rollup_1h_dirty));
	horizon timestamptz;
BEGIN
	IF ahead_days < 0 THEN
		RAISE EXCEPTION 'tw_maintain_minute_partitions: bad argument (%)', ahead_days;
	END IF;
	IF NOT pg_try_advisory_xact_lock(1953985907, 21) THEN
		RETURN QUERY SELECT 'busy'::text, NULL::text, 'another session is maintaining partitions'::text;
		RETURN;
	END IF;
	PERFORM set_config('lock_timeout', '10s', true);
	IF unbuilt IS NULL OR (unbuilt AT TIME ZONE 'UTC')::date >= today - minute_days THEN
		RETURN QUERY SELECT * FROM tw_day_partitions('rollup_1m', 'bucket', today - minute_days,
							      today + ahead_days, 'WITH (fillfactor = 70)');
		horizon := (today - minute_days)::timestamp AT TIME ZONE 'UTC';
		UPDATE rollup_1h_state SET minutes_from = horizon
		WHERE minutes_from IS NULL OR minutes_from < horizon;
	END IF;
END
$$;

-- tw_maintain_partitions: the rest of 017's, plus: results' partitions are
-- left alone (neither dropped nor created) while a row older than their
-- retention is still in the tail; the builder adds it within an evaluation
-- interval, and the next run applies the retention.
CREATE OR REPLACE FUNCTION tw_maintain_partitions(retention_days integer, ahead_days integer)
RETURNS TABLE (action text, partition_name text, detail text)
LANGUAGE plpgsql AS $$
DECLARE
	today date := (now() AT TIME ZONE 'UTC')::date;
	tail_oldest timestamptz;
BEGIN
	IF retention_days < 1 OR ahead_days < 0 THEN
		RAISE EXCEPTION 'tw_maintain_partitions: bad arguments (%, %)', retention_days, ahead_days;
	END IF;
	IF NOT pg_try_advisory_xact_lock(1953985907, 1) THEN   -- 'twms', 1
		RETURN QUERY SELECT 'busy'::text, NULL::text, 'another session is maintaining partitions'::text;
		RETURN;
	END IF;
	PERFORM set_config('lock_timeout', '10s', true);
	SELECT min(started_at) INTO tail_oldest FROM results
	WHERE ingest_batch > (SELECT ready_batch FROM rollup_1m_state);
	IF tail_oldest IS NOT NULL AND (tail_oldest AT TIME ZONE 'UTC')::date < today - retention_days THEN
		RETURN QUERY SELECT 'deferred'::text, 'results'::text,
			format('a row of %s is not in rollup_1m yet; retention waits for the builder',
			       tail_oldest)::text;
	ELSE
		RETURN QUERY SELECT * FROM tw_day_partitions('results', 'started_at', today - retention_days,
							      today + ahead_days, '');
	END IF;
	RETURN QUERY SELECT * FROM tw_apply_retention(now());
	RETURN QUERY SELECT * FROM tw_prune_probe_spools(
		(today - retention_days)::timestamp AT TIME ZONE 'UTC');
END
$$;
