-- 005_retention.sql - a retention for every table that grows (issue 8).
--
-- Until now only results partitions were dropped; results_default was never
-- pruned and, once it held rows of a day, blocked creating that day's
-- partition for good; rollup_1m was pruned by DELETE; rollup_1h, the alert
-- and notification tables, evaluation_runs and certificate_sightings were
-- never pruned. Now:
--
--   table                      retention (days)        how
--   results                    argument of             day partitions dropped; rows
--                              tw_maintain_partitions  of results_default older than
--                              (retention.results)     it deleted
--   rollup_1m                  rollup_1m               day partitions dropped (the
--                                                      table is partitioned below)
--   rollup_1h                  rollup_1h               DELETE by bucket
--   alert_events, alerts       alert_events            events by time (not those an
--                                                      outbox row still points at);
--                                                      resolved alerts with no event
--                                                      and no outbox row left
--   notification_outbox,       notifications           finished outbox rows (routed,
--   _deliveries, _attempts                             no pending delivery) with their
--                                                      deliveries and attempts; older
--                                                      attempts of any delivery
--   evaluation_runs            evaluation_runs         DELETE by started_at
--   certificate_sightings,     certificate_sightings   sightings by last_seen;
--   certificates                                       certificates no longer sighted
--   tls_params_1h              (the rule's baseline)   already pruned by the evaluator
--
-- Nothing is removed by a cascade before its own retention: an alert goes
-- only once its events and outbox rows are gone.
--
-- The days of every table but results live in retention_policy, written by
-- `tlswatch-collector migrate` from collector.yaml's `retention:` section
-- (collector/db_schema.c db_schema_store_retention) and read by
-- tw_maintain_partitions(), which every collector's pool runs hourly and
-- migrate runs once. Its signature is unchanged, so a collector still running
-- the previous binary keeps working against this schema.

CREATE TABLE retention_policy (
	name       text PRIMARY KEY,
	days       integer NOT NULL CHECK (days BETWEEN 1 AND 3650),
	updated_at timestamptz NOT NULL DEFAULT now()
);
INSERT INTO retention_policy (name, days) VALUES
	('rollup_1m', 30), ('rollup_1h', 400), ('alert_events', 180), ('notifications', 30),
	('evaluation_runs', 30), ('certificate_sightings', 400);

-- What the retention deletes by (each runs hourly).
CREATE INDEX alert_events_at_idx ON alert_events (at);
CREATE INDEX notification_attempts_at_idx ON notification_attempts (at);
CREATE INDEX notification_outbox_created_idx ON notification_outbox (created_at);
CREATE INDEX notification_outbox_event_idx ON notification_outbox (event_id);
CREATE INDEX evaluation_runs_started_idx ON evaluation_runs (started_at);
CREATE INDEX certificate_sightings_last_seen_idx ON certificate_sightings (last_seen);

------------------------------------------------- rollup_1m, partitioned by day

-- Same columns, key and index as before; day partitions rollup_1m_pYYYYMMDD
-- (fillfactor 70, as the table had) and a default partition for buckets
-- outside them, exactly like results. The ingest statement's
-- INSERT .. ON CONFLICT (bucket, target, ...) works unchanged: the key
-- contains the partition column.
ALTER TABLE rollup_1m RENAME TO rollup_1m_unpartitioned;
ALTER INDEX rollup_1m_pkey RENAME TO rollup_1m_unpartitioned_pkey;
ALTER INDEX rollup_1m_target_idx RENAME TO rollup_1m_unpartitioned_target_idx;
CREATE TABLE rollup_1m (
	LIKE rollup_1m_unpartitioned INCLUDING DEFAULTS INCLUDING CONSTRAINTS,
	PRIMARY KEY (bucket, target, port, sni, region, profile)
) PARTITION BY RANGE (bucket);
CREATE INDEX rollup_1m_target_idx ON rollup_1m (target, port, bucket);
CREATE TABLE rollup_1m_default PARTITION OF rollup_1m DEFAULT WITH (fillfactor = 70);
-- into the default partition; the tw_maintain_partitions() that migrate runs
-- next moves every day it creates out of it
INSERT INTO rollup_1m SELECT * FROM rollup_1m_unpartitioned;
DROP TABLE rollup_1m_unpartitioned;

------------------------------------------------------------ day partitions

-- The day partitions PARENT_pYYYYMMDD of a table range-partitioned by UTC day
-- on column col, with default partition PARENT_default:
--   * creates the partition of every day in [oldest, newest] that has none.
--     PostgreSQL refuses CREATE .. PARTITION OF while the default partition
--     holds rows of that range, so such a day is built as a table of its
--     own, the rows are moved into it (DELETE .. RETURNING from the default,
--     one statement) and it is attached: nothing is lost, nothing is skipped;
--   * drops the day partitions before oldest;
--   * deletes the default partition's rows before oldest.
-- storage: a WITH (...) clause for new partitions, or ''. Reports one row per
-- change: 'created' / 'dropped' / 'error' (that day or table only; the rest
-- goes on).
CREATE FUNCTION tw_day_partitions(parent text, col text, oldest date, newest date,
				  storage text)
RETURNS TABLE (action text, partition_name text, detail text)
LANGUAGE plpgsql AS $$
DECLARE
	dflt text := parent || '_default';
	cols text;
	d date;
	lo timestamptz;
	hi timestamptz;
	pname text;
	r record;
	n bigint;
	busy boolean;
BEGIN
	SELECT string_agg(quote_ident(attname), ', ' ORDER BY attnum) INTO cols
	FROM pg_attribute WHERE attrelid = parent::regclass AND attnum > 0 AND NOT attisdropped;

	FOR d IN SELECT g::date FROM generate_series(oldest, newest, interval '1 day') AS g LOOP
		pname := parent || '_p' || to_char(d, 'YYYYMMDD');
		CONTINUE WHEN to_regclass(quote_ident(pname)) IS NOT NULL;
		lo := d::timestamp AT TIME ZONE 'UTC';
		hi := (d + 1)::timestamp AT TIME ZONE 'UTC';
		BEGIN
			EXECUTE format('SELECT EXISTS (SELECT 1 FROM %I WHERE %I >= %L AND %I < %L)',
				       dflt, col, lo, col, hi) INTO busy;
			IF NOT busy THEN
				EXECUTE format('CREATE TABLE %I PARTITION OF %I FOR VALUES FROM (%L) TO (%L) %s',
					       pname, parent, lo, hi, storage);
				RETURN QUERY SELECT 'created'::text, pname, format('[%s, %s)', lo, hi);
			ELSE
				EXECUTE format('CREATE TABLE %I (LIKE %I INCLUDING DEFAULTS INCLUDING CONSTRAINTS) %s',
					       pname, parent, storage);
				EXECUTE format('WITH m AS (DELETE FROM %I WHERE %I >= %L AND %I < %L RETURNING %s) '
					       'INSERT INTO %I (%s) SELECT %s FROM m',
					       dflt, col, lo, col, hi, cols, pname, cols, cols);
				GET DIAGNOSTICS n = ROW_COUNT;
				EXECUTE format('ALTER TABLE %I ATTACH PARTITION %I FOR VALUES FROM (%L) TO (%L)',
					       parent, pname, lo, hi);
				RETURN QUERY SELECT 'created'::text, pname,
					format('[%s, %s), %s rows moved in from %s', lo, hi, n, dflt);
			END IF;
		EXCEPTION WHEN others THEN
			RETURN QUERY SELECT 'error'::text, pname, SQLERRM;
		END;
	END LOOP;

	FOR r IN SELECT c.relname
		 FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
		 WHERE i.inhparent = parent::regclass AND c.relname ~ ('^' || parent || '_p[0-9]{8}$')
		 ORDER BY c.relname LOOP
		CONTINUE WHEN to_date(right(r.relname, 8), 'YYYYMMDD') >= oldest;
		BEGIN
			EXECUTE format('DROP TABLE %I', r.relname);
			RETURN QUERY SELECT 'dropped'::text, r.relname::text, 'older than the retention'::text;
		EXCEPTION WHEN others THEN
			RETURN QUERY SELECT 'error'::text, r.relname::text, SQLERRM;
		END;
	END LOOP;

	BEGIN
		EXECUTE format('DELETE FROM %I WHERE %I < %L', dflt, col,
			       oldest::timestamp AT TIME ZONE 'UTC');
		GET DIAGNOSTICS n = ROW_COUNT;
		IF n > 0 THEN
			RETURN QUERY SELECT 'dropped'::text, dflt,
				format('%s rows before %s (retention)', n, oldest);
		END IF;
	EXCEPTION WHEN others THEN
		RETURN QUERY SELECT 'error'::text, dflt, SQLERRM;
	END;
END
$$;

-------------------------------------------------------- the other tables

-- Deletes what the retention_policy says is old in the tables that are not
-- partitioned, as of ref_time (now() in tw_maintain_partitions).
-- Reports one 'dropped' row per table that lost rows (partition_name is the
-- table), or 'error'.
CREATE FUNCTION tw_apply_retention(ref_time timestamptz)
RETURNS TABLE (action text, partition_name text, detail text)
LANGUAGE plpgsql AS $$
DECLARE
	k integer;
	cut timestamptz;
	n bigint;
	what text;
BEGIN
	FOR what, k IN SELECT name, days FROM retention_policy
		       WHERE name IN ('rollup_1h', 'alert_events', 'notifications', 'evaluation_runs',
				      'certificate_sightings')
		       ORDER BY CASE name WHEN 'notifications' THEN 0 WHEN 'alert_events' THEN 1 ELSE 2 END LOOP
		cut := ref_time - make_interval(days => k);
		BEGIN
			CASE what
			WHEN 'rollup_1h' THEN
				DELETE FROM rollup_1h WHERE bucket < cut;
				GET DIAGNOSTICS n = ROW_COUNT;
				RETURN QUERY SELECT 'dropped'::text, 'rollup_1h'::text,
					format('%s rows older than %s days', n, k) WHERE n > 0;
			WHEN 'notifications' THEN
				-- finished outbox rows: routed, no delivery still pending
				DELETE FROM notification_outbox o
				WHERE o.created_at < cut AND o.routed_at IS NOT NULL
				  AND NOT EXISTS (SELECT 1 FROM notification_deliveries d
						  WHERE d.outbox_id = o.id AND d.state = 'pending');
				GET DIAGNOSTICS n = ROW_COUNT;
				RETURN QUERY SELECT 'dropped'::text, 'notification_outbox'::text,
					format('%s rows (with their deliveries and attempts) older than %s days', n, k)
					WHERE n > 0;
				DELETE FROM notification_attempts WHERE notification_attempts.at < cut;
				GET DIAGNOSTICS n = ROW_COUNT;
				RETURN QUERY SELECT 'dropped'::text, 'notification_attempts'::text,
					format('%s rows older than %s days', n, k) WHERE n > 0;
			WHEN 'alert_events' THEN
				DELETE FROM alert_events e WHERE e.at < cut
				  AND NOT EXISTS (SELECT 1 FROM notification_outbox o WHERE o.event_id = e.id);
				GET DIAGNOSTICS n = ROW_COUNT;
				RETURN QUERY SELECT 'dropped'::text, 'alert_events'::text,
					format('%s rows older than %s days', n, k) WHERE n > 0;
				DELETE FROM alerts a WHERE a.state = 'resolved' AND a.resolved_at < cut
				  AND a.notified_state IS DISTINCT FROM 'firing'
				  AND NOT EXISTS (SELECT 1 FROM alert_events e WHERE e.alert_id = a.id)
				  AND NOT EXISTS (SELECT 1 FROM notification_outbox o WHERE o.alert_id = a.id);
				GET DIAGNOSTICS n = ROW_COUNT;
				RETURN QUERY SELECT 'dropped'::text, 'alerts'::text,
					format('%s resolved alerts older than %s days', n, k) WHERE n > 0;
			WHEN 'evaluation_runs' THEN
				DELETE FROM evaluation_runs WHERE started_at < cut;
				GET DIAGNOSTICS n = ROW_COUNT;
				RETURN QUERY SELECT 'dropped'::text, 'evaluation_runs'::text,
					format('%s rows older than %s days', n, k) WHERE n > 0;
			WHEN 'certificate_sightings' THEN
				DELETE FROM certificate_sightings WHERE last_seen < cut;
				GET DIAGNOSTICS n = ROW_COUNT;
				RETURN QUERY SELECT 'dropped'::text, 'certificate_sightings'::text,
					format('%s rows not seen for %s days', n, k) WHERE n > 0;
				DELETE FROM certificates c WHERE c.first_seen < cut
				  AND NOT EXISTS (SELECT 1 FROM certificate_sightings s
						  WHERE s.fingerprint_sha256 = c.fingerprint_sha256);
				GET DIAGNOSTICS n = ROW_COUNT;
				RETURN QUERY SELECT 'dropped'::text, 'certificates'::text,
					format('%s certificates no longer sighted', n) WHERE n > 0;
			END CASE;
		EXCEPTION WHEN others THEN
			RETURN QUERY SELECT 'error'::text, what, SQLERRM;
		END;
	END LOOP;
END
$$;

-------------------------------------------------- the maintenance, replaced

-- Same signature and contract as 001's (one session at a time, 'busy'
-- otherwise; what it did as rows), now for every table:
--   results     day partitions [today - retention_days, today + ahead_days],
--               moving rows out of results_default (never 'skipped' any more)
--   rollup_1m   the same with retention_policy's rollup_1m days
--   the rest    tw_apply_retention(now())
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
END
$$;
