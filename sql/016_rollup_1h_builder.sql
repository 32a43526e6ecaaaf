-- 016_rollup_1h_builder.sql - rollup_1h built off the ingest path, from
-- rollup_1m, as rollup_1d is built from rollup_1h (issue 11; BENCHMARKS.md
-- "rollup_1h off the ingest path").
--
-- Before: every ingest transaction upserted rollup_1h next to rollup_1m (one
-- updated hourly row per series-minute, plus 013's transition-table trigger
-- materialising each one). Now the ingest statement writes rollup_1m only,
-- and rollup_1h holds the hours the builder (collector/rollup_hourly.c, run
-- by the alert leader before the rollup_1d aggregator) has built:
--
--   rollup_1h_state.ready_before   rollup_1h holds every hour before it (but
--                                  the dirty ones), each computed from that
--                                  hour's rollup_1m rows
--   rollup_1h_state.mark_before    ingest records (rollup_1h_dirty) the hours
--                                  before it that it writes minutes into
--
-- Exactness, the protocol of 013 with hours:
--   claim (tw_rollup_1h_claim, autocommit): once the hour at mark_before has
--         ended (plus a grace), moves mark_before to the last closed hour,
--         under the transaction-level advisory lock (1953985907, 16) taken
--         EXCLUSIVE. Ingest takes that lock SHARED in its first statement
--         (collector/db_sql.c db_sql_lock) and reads mark_before afterwards
--         (tw_rollup_1h_below, inside the ingest statement, with a snapshot
--         newer than the lock), so the claim commits only after every ingest
--         that read the old mark_before has committed, and every later one
--         marks the hours it touches. The ingest statement passes the distinct
--         hours of its batch (a few per transaction), not a row trigger.
--   step  (tw_rollup_1h_step, REPEATABLE READ): the oldest dirty hour below
--         ready_before, else the claimed hour at ready_before, is recomputed
--         from rollup_1m as of the step's snapshot; the dirty rows that
--         snapshot sees are deleted (a later change leaves its own row).
-- Readers (tw_rollup_1h_live(lo, hi) and the view rollup_1h_live) read an hour from
-- rollup_1h only when it is below ready_before and has no dirty row, in the
-- same snapshot; every other hour is summed from its rollup_1m minutes. So
-- every reader is exact at every instant: an hour not built yet costs the
-- reader its minutes (about 60 rows per series instead of 1), never a lag.
--
-- rollup_1d (013) is claimed only for days whose 24 hours are below
-- ready_before; a rebuilt hour fires 013's mark trigger in the builder, off
-- the ingest path. That trigger reads rollup_1d_state.mark_before in the
-- step's REPEATABLE READ snapshot, so no day may be claimed while an hour
-- is rebuilt: the leader does both under the builder's session lock
-- (collector/rollup_daily.c, rollup_hourly.h). Readers also treat a day
-- with a dirty hour as not served by rollup_1d (the hour's rebuild, which
-- marks the day, has not run yet: collector/sli.c).
--
-- Retention: rollup_1m keeps the day partitions of hours not built yet
-- (tw_maintain_partitions below).
--
-- Start: the rows of rollup_1h written by the ingest so far are exact, so
-- the watermarks start at the current UTC hour: nothing to rebuild; the
-- current hour's rollup_1h row (partial, written before this migration) is
-- replaced by its build.

CREATE TABLE rollup_1h_state (
	one          boolean PRIMARY KEY DEFAULT true CHECK (one),
	mark_before  timestamptz NOT NULL,   -- ingest records changes to hours before it
	ready_before timestamptz NOT NULL,   -- rollup_1h holds the hours before it (but the dirty ones)
	updated_at   timestamptz NOT NULL DEFAULT now(),
	CHECK (ready_before <= mark_before)
);
INSERT INTO rollup_1h_state (one, mark_before, ready_before)
VALUES (true, date_trunc('hour', now(), 'UTC'), date_trunc('hour', now(), 'UTC'));

-- Hours below mark_before whose minutes changed since their build: one row
-- per change (no ON CONFLICT, as rollup_1d_dirty).
CREATE TABLE rollup_1h_dirty (
	id        bigserial PRIMARY KEY,
	hour      timestamptz NOT NULL,
	marked_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX rollup_1h_dirty_hour_idx ON rollup_1h_dirty (hour);
-- Statistics now: a table never analyzed is planned as ~10 pages of rows,
-- which made the readers' plans over rollup_1h_live look 1000x costlier
-- than they are and pay seconds of JIT compilation for milliseconds of work.
ANALYZE rollup_1h_state;
ANALYZE rollup_1h_dirty;

-- The hours of `hours` below mark_before (the ingest statement inserts them
-- into rollup_1h_dirty). VOLATILE: its SELECT takes a snapshot of its own,
-- after the shared lock (already held since db_sql_lock; taken again here so
-- that no caller can read mark_before without it).
CREATE FUNCTION tw_rollup_1h_below(hours timestamptz[]) RETURNS SETOF timestamptz
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
	wm timestamptz;
BEGIN
	IF cardinality(hours) IS NULL OR cardinality(hours) = 0 THEN
		RETURN;
	END IF;
	PERFORM pg_advisory_xact_lock_shared(1953985907, 16);
	SELECT mark_before INTO wm FROM rollup_1h_state;
	RETURN QUERY SELECT DISTINCT h FROM unnest(hours) AS h WHERE h < wm;
END
$$;

-- rollup_1h's rows computed from rollup_1m's minutes in [lo, hi), with the
-- merge rules of the ingest's upsert (as 013's tw_rollup_1d_step does for
-- days): counters, histogram buckets and outcomes summed, minima least,
-- service the latest minute's non-NULL one. SQL and STABLE: inlined into
-- its callers, so their conditions reach the scan of rollup_1m. A column
-- added to rollup_1m / rollup_1h later must be added here (and in 013's
-- tw_rollup_1d_step), and the view rollup_1h_live recreated.
CREATE FUNCTION tw_rollup_1h_agg(lo timestamptz, hi timestamptz) RETURNS SETOF rollup_1h
LANGUAGE sql STABLE AS $$
	SELECT s.bucket, s.target, s.port, s.sni, s.region, s.profile, s.service, s.attempts,
	       s.successes, s.failures, coalesce(o.outcomes, '{}'::jsonb), s.handshakes,
	       s.handshake_ms_hist, s.handshake_ms_sum, s.handshake_ms_count, s.mtls_attempts,
	       s.mtls_failures, s.ocsp_stapled_count, s.cipher_fallback_count, s.sni_mismatch_count,
	       s.expiring_soon_count, s.min_days_to_expiry, s.min_chain_not_after,
	       s.ocsp_no_responder_count
	FROM (SELECT date_trunc('hour', bucket, 'UTC') AS bucket, target, port, sni, region, profile,
		     (array_agg(service ORDER BY bucket DESC) FILTER (WHERE service IS NOT NULL))[1] AS service,
		     sum(attempts)::bigint AS attempts, sum(successes)::bigint AS successes,
		     sum(failures)::bigint AS failures, sum(handshakes)::bigint AS handshakes,
		     ARRAY[sum(coalesce(handshake_ms_hist[1], 0)), sum(coalesce(handshake_ms_hist[2], 0)),
			   sum(coalesce(handshake_ms_hist[3], 0)), sum(coalesce(handshake_ms_hist[4], 0)),
			   sum(coalesce(handshake_ms_hist[5], 0)), sum(coalesce(handshake_ms_hist[6], 0)),
			   sum(coalesce(handshake_ms_hist[7], 0)), sum(coalesce(handshake_ms_hist[8], 0)),
			   sum(coalesce(handshake_ms_hist[9], 0)), sum(coalesce(handshake_ms_hist[10], 0)),
			   sum(coalesce(handshake_ms_hist[11], 0)), sum(coalesce(handshake_ms_hist[12], 0)),
			   sum(coalesce(handshake_ms_hist[13], 0)), sum(coalesce(handshake_ms_hist[14], 0)),
			   sum(coalesce(handshake_ms_hist[15], 0)), sum(coalesce(handshake_ms_hist[16], 0)),
			   sum(coalesce(handshake_ms_hist[17], 0)), sum(coalesce(handshake_ms_hist[18], 0)),
			   sum(coalesce(handshake_ms_hist[19], 0)), sum(coalesce(handshake_ms_hist[20], 0))
			  ]::bigint[] AS handshake_ms_hist,
		     sum(handshake_ms_sum)::double precision AS handshake_ms_sum,
		     sum(handshake_ms_count)::bigint AS handshake_ms_count,
		     sum(mtls_attempts)::bigint AS mtls_attempts, sum(mtls_failures)::bigint AS mtls_failures,
		     sum(ocsp_stapled_count)::bigint AS ocsp_stapled_count,
		     sum(cipher_fallback_count)::bigint AS cipher_fallback_count,
		     sum(sni_mismatch_count)::bigint AS sni_mismatch_count,
		     sum(expiring_soon_count)::bigint AS expiring_soon_count,
		     min(min_days_to_expiry) AS min_days_to_expiry,
		     min(min_chain_not_after) AS min_chain_not_after,
		     sum(ocsp_no_responder_count)::bigint AS ocsp_no_responder_count
	      FROM rollup_1m WHERE bucket >= lo AND bucket < hi GROUP BY 1, 2, 3, 4, 5, 6) s
	LEFT JOIN (SELECT bucket, target, port, sni, region, profile, jsonb_object_agg(k, n) AS outcomes
		   FROM (SELECT date_trunc('hour', m.bucket, 'UTC') AS bucket, target, port, sni, region,
				profile, e.key AS k, sum(e.value::bigint) AS n
			 FROM rollup_1m m, jsonb_each_text(m.outcomes) e
			 WHERE m.bucket >= lo AND m.bucket < hi GROUP BY 1, 2, 3, 4, 5, 6, 7) x
		   GROUP BY 1, 2, 3, 4, 5, 6) o
	USING (bucket, target, port, sni, region, profile)
$$;

-- The hourly rows of [lo, hi) as every reader must see them: built hours
-- from rollup_1h, the others (not built yet, or dirty) summed from their
-- minutes. SQL and STABLE, so inlined: lo and hi bound every scan of
-- rollup_1m (a condition on the hour, date_trunc of the minute, cannot),
-- which is why collector/sli.c calls it with its window's hours.
CREATE FUNCTION tw_rollup_1h_live(lo timestamptz, hi timestamptz) RETURNS SETOF rollup_1h
LANGUAGE sql STABLE AS $$
	SELECT h.* FROM rollup_1h h
	WHERE h.bucket >= lo AND h.bucket < hi AND h.bucket < (SELECT ready_before FROM rollup_1h_state)
	  AND NOT EXISTS (SELECT 1 FROM rollup_1h_dirty d WHERE d.hour = h.bucket)
	UNION ALL
	SELECT a.* FROM rollup_1h_state st, LATERAL tw_rollup_1h_agg(greatest(lo, st.ready_before), hi) a
	UNION ALL
	SELECT a.* FROM (SELECT DISTINCT hour FROM rollup_1h_dirty
			 WHERE hour >= lo AND hour < hi
			   AND hour < (SELECT ready_before FROM rollup_1h_state)) d,
		LATERAL tw_rollup_1h_agg(d.hour, d.hour + interval '1 hour') a
$$;

-- The same over all hours, for readers whose range reaches the current hour
-- anyway (store_series.c, store_targets.c, metrics.c, the Grafana dashboard).
CREATE VIEW rollup_1h_live AS SELECT * FROM tw_rollup_1h_live('-infinity', 'infinity');

-- The claim (see the top): when no claimed hour waits and the hour at
-- mark_before ended at least `grace` before now_ts, moves mark_before to the
-- start of the last such hour's successor. Returns the new mark_before, or
-- NULL.
CREATE FUNCTION tw_rollup_1h_claim(now_ts timestamptz, grace interval) RETURNS timestamptz
LANGUAGE plpgsql AS $$
DECLARE
	st rollup_1h_state;
	upto timestamptz := date_trunc('hour', now_ts - grace, 'UTC');
BEGIN
	SELECT * INTO st FROM rollup_1h_state;
	IF st.ready_before < st.mark_before OR st.mark_before >= upto THEN
		RETURN NULL;    -- without the lock: nothing to claim
	END IF;
	PERFORM pg_advisory_xact_lock(1953985907, 16);
	SELECT * INTO st FROM rollup_1h_state FOR UPDATE;
	IF st.ready_before < st.mark_before OR st.mark_before >= upto THEN
		RETURN NULL;
	END IF;
	UPDATE rollup_1h_state SET mark_before = upto, updated_at = now();
	RETURN upto;
END
$$;

-- One step (see the top; the caller runs it in a REPEATABLE READ
-- transaction): rebuilds the oldest dirty hour below ready_before, else the
-- claimed hour at ready_before. Returns the hour done, or NULL.
CREATE FUNCTION tw_rollup_1h_step() RETURNS timestamptz
LANGUAGE plpgsql AS $$
DECLARE
	st rollup_1h_state;
	h timestamptz;
BEGIN
	IF current_setting('transaction_isolation') <> 'repeatable read' THEN
		RAISE EXCEPTION 'tw_rollup_1h_step must run in a REPEATABLE READ transaction';
	END IF;
	SELECT * INTO st FROM rollup_1h_state;
	SELECT min(hour) INTO h FROM rollup_1h_dirty WHERE hour < st.ready_before;
	IF h IS NULL THEN
		IF st.ready_before >= st.mark_before THEN
			RETURN NULL;
		END IF;
		h := st.ready_before;
	END IF;
	DELETE FROM rollup_1h WHERE bucket = h;
	INSERT INTO rollup_1h SELECT * FROM tw_rollup_1h_agg(h, h + interval '1 hour') ORDER BY 2, 3, 4, 5, 6;
	DELETE FROM rollup_1h_dirty WHERE hour = h;     -- the rows this snapshot sees
	IF h = st.ready_before THEN
		UPDATE rollup_1h_state SET ready_before = h + interval '1 hour', updated_at = now();
	END IF;
	RETURN h;
END
$$;

-- 013's claim, plus: a day is claimed only when its 24 hours are built.
CREATE OR REPLACE FUNCTION tw_rollup_1d_claim(now_ts timestamptz, grace interval) RETURNS timestamptz
LANGUAGE plpgsql AS $$
DECLARE
	st rollup_1d_state;
	built timestamptz := (SELECT ready_before FROM rollup_1h_state);
BEGIN
	SELECT * INTO st FROM rollup_1d_state;
	IF st.mark_before IS NOT NULL AND (st.ready_before < st.mark_before OR
	    st.mark_before + interval '24 hours' > now_ts - grace OR
	    st.mark_before + interval '24 hours' > built) THEN
		RETURN NULL;    -- without the lock: nothing to claim
	END IF;
	PERFORM pg_advisory_xact_lock(1953985907, 13);
	SELECT * INTO st FROM rollup_1d_state FOR UPDATE;
	IF st.mark_before IS NULL THEN
		st.mark_before := coalesce(date_trunc('day', (SELECT min(bucket) FROM rollup_1h), 'UTC'),
					   date_trunc('day', now_ts - grace, 'UTC'));
		UPDATE rollup_1d_state SET mark_before = st.mark_before, ready_before = st.mark_before,
			updated_at = now();
		st.ready_before := st.mark_before;
	END IF;
	IF st.ready_before < st.mark_before OR st.mark_before + interval '24 hours' > now_ts - grace OR
	   st.mark_before + interval '24 hours' > built THEN
		RETURN NULL;
	END IF;
	UPDATE rollup_1d_state SET mark_before = st.mark_before + interval '24 hours', updated_at = now();
	RETURN st.mark_before;
END
$$;

-- 014's maintenance; rollup_1m keeps the minutes of hours not built yet (the
-- oldest dirty hour, or ready_before): they are all a reader and the builder
-- have. When such an hour is older than rollup_1m's retention (a builder
-- behind, or a late row that old), rollup_1m's partitions are left alone
-- this time, not even created ahead (earlier runs did that ahead_days
-- ahead, and the default partition takes any row): tw_day_partitions would
-- otherwise create one partition per day back to that hour. The builder
-- rebuilds dirty hours oldest first, so the next run after it catches up
-- applies the retention.
CREATE OR REPLACE FUNCTION tw_maintain_partitions(retention_days integer, ahead_days integer)
RETURNS TABLE (action text, partition_name text, detail text)
LANGUAGE plpgsql AS $$
DECLARE
	today date := (now() AT TIME ZONE 'UTC')::date;
	minute_days integer := coalesce((SELECT days FROM retention_policy WHERE name = 'rollup_1m'), 30);
	unbuilt timestamptz := least((SELECT ready_before FROM rollup_1h_state),
				     (SELECT min(hour) FROM rollup_1h_dirty));
BEGIN
	IF retention_days < 1 OR ahead_days < 0 THEN
		RAISE EXCEPTION 'tw_maintain_partitions: bad arguments (%, %)', retention_days, ahead_days;
	END IF;
	IF NOT pg_try_advisory_xact_lock(1953985907, 1) THEN   -- 'twms', 1
		RETURN QUERY SELECT 'busy'::text, NULL::text, 'another session is maintaining partitions'::text;
		RETURN;
	END IF;
	PERFORM set_config('lock_timeout', '10s', true);
	RETURN QUERY SELECT * FROM tw_day_partitions('results', 'started_at', today - retention_days,
						      today + ahead_days, '');
	IF unbuilt IS NULL OR (unbuilt AT TIME ZONE 'UTC')::date >= today - minute_days THEN
		RETURN QUERY SELECT * FROM tw_day_partitions('rollup_1m', 'bucket', today - minute_days,
							      today + ahead_days, 'WITH (fillfactor = 70)');
	END IF;
	RETURN QUERY SELECT * FROM tw_apply_retention(now());
	RETURN QUERY SELECT * FROM tw_prune_probe_spools(
		(today - retention_days)::timestamp AT TIME ZONE 'UTC');
END
$$;
