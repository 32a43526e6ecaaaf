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
-- on rollup_1h (INSERT and UPDATE, the two halves of its upsert) marks a
-- day dirty in rollup_1d_dirty when it changes a day the aggregator has
-- already done (bucket < rollup_1d_state.done_before). The aggregator
-- (tw_rollup_1d_step, run by the alert leader: collector/rollup_daily.c)
-- recomputes the oldest dirty day, or else the day at done_before once that
-- day has ended (plus a grace), and advances done_before. Each step is one
-- transaction, so a collector killed mid-step leaves nothing half done.
--
-- The race between the two: the trigger takes the transaction-level
-- advisory lock (1953985907, 13) SHARED before it reads done_before; a step
-- takes it EXCLUSIVE first. A step therefore starts only when every ingest
-- transaction that has already looked at done_before has committed (so the
-- step's statements see its rows), and an ingest transaction that looks
-- after the step sees the new done_before and marks the day.
--
-- Readers (collector/sli.c sli_rows_sql) serve a whole UTC day from
-- rollup_1d only when it is below done_before and not dirty, in the same
-- statement snapshot; every other day's hours come from rollup_1h.

CREATE TABLE rollup_1d (LIKE rollup_1h INCLUDING ALL);

CREATE TABLE rollup_1d_state (
	one         boolean PRIMARY KEY DEFAULT true CHECK (one),
	done_before timestamptz,          -- days before it are aggregated (NULL: none yet)
	updated_at  timestamptz
);
INSERT INTO rollup_1d_state (one) VALUES (true);

-- Days below done_before whose rollup_1h rows changed since their aggregation.
CREATE TABLE rollup_1d_dirty (
	day       timestamptz PRIMARY KEY,
	marked_at timestamptz NOT NULL DEFAULT now()
);

INSERT INTO retention_policy (name, days) VALUES ('rollup_1d', 400) ON CONFLICT (name) DO NOTHING;

CREATE FUNCTION tw_rollup_1d_mark() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
	wm timestamptz;
BEGIN
	PERFORM pg_advisory_xact_lock_shared(1953985907, 13);
	SELECT done_before INTO wm FROM rollup_1d_state;
	IF wm IS NOT NULL THEN
		INSERT INTO rollup_1d_dirty (day)
		SELECT DISTINCT date_trunc('day', bucket, 'UTC') FROM changed WHERE bucket < wm
		ORDER BY 1
		ON CONFLICT (day) DO NOTHING;
	END IF;
	RETURN NULL;
END
$$;

CREATE TRIGGER rollup_1h_mark_ins AFTER INSERT ON rollup_1h
	REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION tw_rollup_1d_mark();
CREATE TRIGGER rollup_1h_mark_upd AFTER UPDATE ON rollup_1h
	REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION tw_rollup_1d_mark();

-- One aggregation step as of now_ts: the oldest dirty day, else the day at
-- done_before when it ended at least `grace` ago. Returns the day done, or
-- NULL when there is nothing to do.
CREATE FUNCTION tw_rollup_1d_step(now_ts timestamptz, grace interval) RETURNS timestamptz
LANGUAGE plpgsql AS $$
DECLARE
	wm timestamptz;
	d timestamptz;
BEGIN
	PERFORM pg_advisory_xact_lock(1953985907, 13);
	SELECT done_before INTO wm FROM rollup_1d_state FOR UPDATE;
	SELECT day INTO d FROM rollup_1d_dirty ORDER BY day LIMIT 1;
	IF d IS NULL THEN
		IF wm IS NULL THEN
			wm := coalesce(date_trunc('day', (SELECT min(bucket) FROM rollup_1h), 'UTC'),
				       date_trunc('day', now_ts - grace, 'UTC'));
			UPDATE rollup_1d_state SET done_before = wm, updated_at = now();
		END IF;
		-- '24 hours', not '1 day': timestamptz + '1 day' follows the session's DST
		IF wm + interval '24 hours' > now_ts - grace THEN
			RETURN NULL;
		END IF;
		d := wm;
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
	DELETE FROM rollup_1d_dirty WHERE day = d;
	IF d >= wm THEN
		UPDATE rollup_1d_state SET done_before = d + interval '24 hours', updated_at = now();
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
