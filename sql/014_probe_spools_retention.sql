-- 014_probe_spools_retention.sql - a retention for probe_spools (issue 12,
-- follow-up).
--
-- probe_spools (008) has one row per spool a probe ever had; a probe
-- redeployed without its volume leaves one behind each time. The maintenance
-- deletes the epochs whose last activity is older than the results retention
-- (their rows are gone with the partitions, nothing of them can be replayed
-- that would not be dropped anyway) unless the epoch is the probe's current
-- one (its newest last_seen): a probe that has been silent longer than the
-- retention still gets its Ack when it returns.
CREATE FUNCTION tw_prune_probe_spools(cut timestamptz)
RETURNS TABLE (action text, partition_name text, detail text)
LANGUAGE plpgsql AS $$
DECLARE
	n bigint;
BEGIN
	DELETE FROM probe_spools s WHERE s.last_seen < cut
	  AND EXISTS (SELECT 1 FROM probe_spools c WHERE c.probe_id = s.probe_id
		      AND (c.last_seen, c.spool_epoch) > (s.last_seen, s.spool_epoch));
	GET DIAGNOSTICS n = ROW_COUNT;
	RETURN QUERY SELECT 'dropped'::text, 'probe_spools'::text,
		format('%s spool epochs inactive since before %s', n, cut) WHERE n > 0;
EXCEPTION WHEN OTHERS THEN
	RETURN QUERY SELECT 'error'::text, 'probe_spools'::text, SQLERRM;
END
$$;

-- 005's maintenance, plus the spool epochs by the results retention.
CREATE OR REPLACE FUNCTION tw_maintain_partitions(retention_days integer, ahead_days integer)
RETURNS TABLE (action text, partition_name text, detail text)
LANGUAGE plpgsql AS $$
DECLARE
	today date := (now() AT TIME ZONE 'UTC')::date;
	minute_days integer := coalesce((SELECT days FROM retention_policy WHERE name = 'rollup_1m'), 30);
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
	RETURN QUERY SELECT * FROM tw_day_partitions('rollup_1m', 'bucket', today - minute_days,
						      today + ahead_days, 'WITH (fillfactor = 70)');
	RETURN QUERY SELECT * FROM tw_apply_retention(now());
	RETURN QUERY SELECT * FROM tw_prune_probe_spools(
		(today - retention_days)::timestamp AT TIME ZONE 'UTC');
END
$$;
