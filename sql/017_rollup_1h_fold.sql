-- 017_rollup_1h_fold.sql - a late row into an hour whose minutes retention
-- has dropped is added to that hour, not rebuilt from minutes alone.
--
-- 016's builder recomputes a dirty hour from its rollup_1m minutes. That is
-- exact while the hour's minutes are all there. Once rollup_1m's retention
-- has dropped the day, rollup_1h is the only record of that hour's rows, and
-- a late row into it (a spool replayed after a long outage, a probe whose
-- clock is far behind) left the hour with the late row only: the rows it
-- held before were lost (tests/integration/test_rollup_1h.c,
-- late_row_after_retention_adds_to_the_hour).
--
-- rollup_1h_state.minutes_from: rollup_1m holds every minute from here on;
-- before it, retention has dropped the minutes (NULL: it never has). Set by
-- tw_maintain_partitions when it applies rollup_1m's retention.
--
-- For an hour before minutes_from the step folds instead of rebuilding: the
-- hour's built rows go back into rollup_1m as one row per series at 30
-- seconds past the hour (no real minute row is there: they are whole
-- minutes, so nothing conflicts), the hour is rebuilt from rollup_1m as
-- usual (built rows + late minutes, by the same aggregate, tw_rollup_1h_agg),
-- and the hour's rows are deleted from rollup_1m (all of them are in
-- rollup_1h now; a later late row starts over). One REPEATABLE READ step, as
-- before. Retention does not delete those rows first: while the hour is
-- dirty, 016's tw_maintain_partitions leaves rollup_1m alone.
--
-- A column added to rollup_1m / rollup_1h later must be added to the fold's
-- INSERT too (as to 016's tw_rollup_1h_agg and 013's tw_rollup_1d_step).
--
-- Readers: between the late row and the step, the dirty hour is summed from
-- its minutes, which are only the late rows: readers of an hour older than
-- rollup_1m's retention see it short until the leader's next builder run
-- (seconds to a minute); the stored hour is exact after it.

ALTER TABLE rollup_1h_state ADD COLUMN minutes_from timestamptz;

CREATE OR REPLACE FUNCTION tw_rollup_1h_step() RETURNS timestamptz
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
	IF h < st.minutes_from THEN
		-- the hour's minutes are gone: what rollup_1h holds goes back in
		INSERT INTO rollup_1m (bucket, target, port, sni, region, profile, service, attempts,
			successes, failures, outcomes, handshakes, handshake_ms_hist, handshake_ms_sum,
			handshake_ms_count, mtls_attempts, mtls_failures, ocsp_stapled_count,
			cipher_fallback_count, sni_mismatch_count, expiring_soon_count,
			min_days_to_expiry, min_chain_not_after, ocsp_no_responder_count)
		SELECT bucket + interval '30 seconds', target, port, sni, region,
			profile, service, attempts, successes, failures, outcomes, handshakes,
			handshake_ms_hist, handshake_ms_sum, handshake_ms_count, mtls_attempts,
			mtls_failures, ocsp_stapled_count, cipher_fallback_count, sni_mismatch_count,
			expiring_soon_count, min_days_to_expiry, min_chain_not_after,
			ocsp_no_responder_count
		FROM rollup_1h WHERE bucket = h;
	END IF;
	DELETE FROM rollup_1h WHERE bucket = h;
	INSERT INTO rollup_1h SELECT * FROM tw_rollup_1h_agg(h, h + interval '1 hour') ORDER BY 2, 3, 4, 5, 6;
	IF h < st.minutes_from THEN
		DELETE FROM rollup_1m WHERE bucket >= h AND bucket < h + interval '1 hour';
	END IF;
	DELETE FROM rollup_1h_dirty WHERE hour = h;     -- the rows this snapshot sees
	IF h = st.ready_before THEN
		UPDATE rollup_1h_state SET ready_before = h + interval '1 hour', updated_at = now();
	END IF;
	RETURN h;
END
$$;

-- 016's maintenance, plus: when rollup_1m's retention is applied, its
-- horizon becomes minutes_from (never moved back: a longer retention later
-- does not bring dropped minutes back).
CREATE OR REPLACE FUNCTION tw_maintain_partitions(retention_days integer, ahead_days integer)
RETURNS TABLE (action text, partition_name text, detail text)
LANGUAGE plpgsql AS $$
DECLARE
	today date := (now() AT TIME ZONE 'UTC')::date;
	minute_days integer := coalesce((SELECT days FROM retention_policy WHERE name = 'rollup_1m'), 30);
	unbuilt timestamptz := least((SELECT ready_before FROM rollup_1h_state),
				     (SELECT min(hour) FROM rollup_1h_dirty));
	horizon timestamptz;
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
		horizon := (today - minute_days)::timestamp AT TIME ZONE 'UTC';
		UPDATE rollup_1h_state SET minutes_from = horizon
		WHERE minutes_from IS NULL OR minutes_from < horizon;
	END IF;
	RETURN QUERY SELECT * FROM tw_apply_retention(now());
	RETURN QUERY SELECT * FROM tw_prune_probe_spools(
		(today - retention_days)::timestamp AT TIME ZONE 'UTC');
END
$$;
