-- 013_rollup_1d.sql - a daily rollup, so that windows of 7, 30 and 90 days
-- read days instead of hours (issues 9, 11, 13).
--
-- rollup_1d has rollup_1h's columns (LIKE: same order, so the readers in
-- collector/sli.c can UNION ALL "SELECT *" of both); a column added to
-- rollup_1h later must be added here and merged in tw_rollup_1d_step.
-- One row per UTC day (bucket = 00:00 UTC) x target x port x sni x region x
-- profile, computed from that day's 24 rollup_1h rows with the merge rules of
-- the ingest's upsert (collector/db_sql.c put_rollup):
--   counters, successes, failures, histogram buckets   summed
--   outcomes                                           summed per outcome
--   min_days_to_expiry, min_chain_not_after            least
--   service                                            the latest hour's non-NULL service
--
-- Exactness. The ingest statement is not touched: a statement-level trigger
-- on rollup_1h (INSERT and UPDATE, the two halves of its upsert) records a
-- day in rollup_1d_dirty when it changes a day the aggregator has claimed
-- (bucket < rollup_1d_state.mark_before). The aggregator (run by the alert
-- leader: collector/rollup_daily.c) works in two transactions per day:
--   claim  (tw_rollup_1d_claim, READ COMMITTED): once the day at
--          mark_before has ended (plus a grace), moves mark_before past it,
--          under the transaction-level advisory lock (1953985907, 13) taken
--          EXCLUSIVE. The trigger takes that lock SHARED before it reads
--          mark_before, so the claim commits only after every ingest
--          transaction that read the old mark_before has committed, and
--          every later one records the day when it touches it. The lock is
--          held for one UPDATE: ingest waits at most for the ingest
--          transactions already running, never for an aggregation.
--   step   (tw_rollup_1d_step, in a REPEATABLE READ transaction): the
--          oldest dirty day, else the claimed day at ready_before, is
--          recomputed from rollup_1h as of the step's snapshot; the dirty
--          rows that snapshot sees are deleted (a change committed after it
--          left its own row, which the snapshot does not see, so the day is
--          done again) and ready_before advances.
-- A collector killed between or inside them leaves a consistent state: a
-- step is one transaction, and a claimed day not yet ready is read from
-- rollup_1h. Ingest must run READ COMMITTED (it does: db_ingest.c), so the
-- trigger reads the current mark_before.
--
-- Readers (collector/sli.c sli_rows_sql) serve a whole UTC day from
-- rollup_1d only when it is below ready_before and has no dirty row, in the
-- same statement snapshot; every other day's hours come from rollup_1h.

CREATE TABLE rollup_1d (LIKE rollup_1h INCLUDING ALL);

CREATE TABLE rollup_1d_state (
	one          boolean PRIMARY KEY DEFAULT true CHECK (one),
	mark_before  timestamptz,     -- the trigger records changes to days before it
	ready_before timestamptz,     -- rollup_1d holds the days before it (but the dirty ones)
	updated_at   timestamptz,
	CHECK (ready_before <= mark_before)
);
INSERT INTO rollup_1d_state (one) VALUES (true);

-- Days below mark_before whose rollup_1h rows changed since their
-- aggregation: one row per change (no ON CONFLICT: a step deletes only the
-- rows its snapshot sees, so a change after it must leave a row of its own).
CREATE TABLE rollup_1d_dirty (
	id        bigserial PRIMARY KEY,
	day       timestamptz NOT NULL,
	marked_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX rollup_1d_dirty_day_idx ON rollup_1d_dirty (day);

INSERT INTO retention_policy (name, days) VALUES ('rollup_1d', 400) ON CONFLICT (name) DO NOTHING;

CREATE FUNCTION tw_rollup_1d_mark() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
	wm timestamptz;
BEGIN
	PERFORM pg_advisory_xact_lock_shared(1953985907, 13);
	SELECT mark_before INTO wm FROM rollup_1d_state;
	IF wm IS NOT NULL THEN
		INSERT INTO rollup_1d_dirty (day)
		SELECT DISTINCT date_trunc('day', bucket, 'UTC') FROM changed WHERE bucket < wm;
	END IF;
	RETURN NULL;
END
$$;

CREATE TRIGGER rollup_1h_mark_ins AFTER INSERT ON rollup_1h
	REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION tw_rollup_1d_mark();
CREATE TRIGGER rollup_1h_mark_upd AFTER UPDATE ON rollup_1h
	REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION tw_rollup_1d_mark();

-- The claim (see the top): when no claimed day waits and the day at
-- mark_before ended at least `grace` before now_ts, moves mark_before past
-- it. The first claim starts at the oldest day of rollup_1h (or the current
-- one). Returns the day claimed, or NULL.
CREATE FUNCTION tw_rollup_1d_claim(now_ts timestamptz, grace interval) RETURNS timestamptz
LANGUAGE plpgsql AS $$
DECLARE
	st rollup_1d_state;
BEGIN
	SELECT * INTO st FROM rollup_1d_state;
	IF st.mark_before IS NOT NULL AND (st.ready_before < st.mark_before OR
	    st.mark_before + interval '24 hours' > now_ts - grace) THEN
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
	-- '24 hours', not '1 day': timestamptz + '1 day' follows the session's DST
	IF st.ready_before < st.mark_before OR st.mark_before + interval '24 hours' > now_ts - grace THEN
		RETURN NULL;
	END IF;
	UPDATE rollup_1d_state SET mark_before = st.mark_before + interval '24 hours', updated_at = now();
	RETURN st.mark_before;
END
$$;

-- One step (see the top; the caller runs it in a REPEATABLE READ
-- transaction): recomputes the oldest dirty day, else the claimed day at
-- ready_before. Returns the day done, or NULL when there is nothing to do.
CREATE FUNCTION tw_rollup_1d_step() RETURNS timestamptz
LANGUAGE plpgsql AS $$
DECLARE
	st rollup_1d_state;
	d timestamptz;
BEGIN
	IF current_setting('transaction_isolation') <> 'repeatable read' THEN
		RAISE EXCEPTION 'tw_rollup_1d_step must run in a REPEATABLE READ transaction';
	END IF;
	SELECT * INTO st FROM rollup_1d_state;
	SELECT min(day) INTO d FROM rollup_1d_dirty;
	IF d IS NULL THEN
		IF st.ready_before IS NULL OR st.ready_before >= st.mark_before THEN
			RETURN NULL;
		END IF;
		d := st.ready_before;
	END IF;
	DELETE FROM rollup_1d WHERE bucket = d;
	INSERT INTO rollup_1d (bucket, target, port, sni, region, profile, service, attempts,
			       successes, failures, outcomes, handshakes, handshake_ms_hist,
			       handshake_ms_sum, handshake_ms_count, mtls_attempts, mtls_failures,
			       ocsp_stapled_count, cipher_fallback_count, sni_mismatch_count,
			       expiring_soon_count, min_days_to_expiry, min_chain_not_after,
			       ocsp_no_responder_count)
	WITH h AS (SELECT * FROM rollup_1h WHERE bucket >= d AND bucket < d + interval '24 hours'),
	o AS (SELECT target, port, sni, region, profile, jsonb_object_agg(k, n) AS outcomes
	      FROM (SELECT target, port, sni, region, profile, e.key AS k, sum(e.value::bigint) AS n
		    FROM h, jsonb_each_text(h.outcomes) e GROUP BY 1, 2, 3, 4, 5, 6) x
	      GROUP BY 1, 2, 3, 4, 5),
	s AS (SELECT target, port, sni, region, profile,
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
	      FROM h GROUP BY 1, 2, 3, 4, 5)
	SELECT d, s.target, s.port, s.sni, s.region, s.profile, s.service, s.attempts, s.successes,
	       s.failures, coalesce(o.outcomes, '{}'::jsonb), s.handshakes, s.handshake_ms_hist,
	       s.handshake_ms_sum, s.handshake_ms_count, s.mtls_attempts, s.mtls_failures,
	       s.ocsp_stapled_count, s.cipher_fallback_count, s.sni_mismatch_count,
	       s.expiring_soon_count, s.min_days_to_expiry, s.min_chain_not_after,
	       s.ocsp_no_responder_count
	FROM s LEFT JOIN o USING (target, port, sni, region, profile)
	ORDER BY 2, 3, 4, 5, 6;
	DELETE FROM rollup_1d_dirty WHERE day = d;      -- the rows this snapshot sees
	IF d = st.ready_before THEN
		UPDATE rollup_1d_state SET ready_before = d + interval '24 hours', updated_at = now();
	END IF;
	RETURN d;
END
$$;

-- Retention of rollup_1d (retention_policy 'rollup_1d', default 400 days),
-- as of ref_time; run by the aggregator (collector/rollup_daily.c). Reports
-- one 'dropped' row when rows went.
CREATE FUNCTION tw_maintain_rollup_1d(ref_time timestamptz)
RETURNS TABLE (action text, partition_name text, detail text)
LANGUAGE plpgsql AS $$
DECLARE
	k integer;
	n bigint;
BEGIN
	SELECT days INTO k FROM retention_policy WHERE name = 'rollup_1d';
	IF k IS NULL THEN
		RETURN;
	END IF;
	DELETE FROM rollup_1d WHERE bucket < ref_time - make_interval(days => k);
	GET DIAGNOSTICS n = ROW_COUNT;
	RETURN QUERY SELECT 'dropped'::text, 'rollup_1d'::text,
		format('%s rows older than %s days', n, k) WHERE n > 0;
END
$$;
