-- 006_probe_spool.sql - what each probe's heartbeat says of its spool and
-- scheduler, stored centrally (issue 8).
--
-- A probe drops results only when its spool is full (spool.max_bytes): the
-- one way tlswatch can lose data, and until now visible only on the probe.
-- Every heartbeat carries the spool's unacked records and bytes and the
-- lifetime counters of dropped records and overdue schedule slots; the
-- collector keeps the latest values here, exports them on /metrics and the
-- probe_dropping alert rule fires while dropped_total keeps growing.
--
--   spool_records, spool_bytes   unacked records/bytes at the last heartbeat
--   dropped_total, overdue_total the probe's counters (they restart at 0 when
--                                the probe process restarts)
--   counters_at                  collector time of that heartbeat
--   dropped_at                   collector time of the last heartbeat that
--                                showed new drops: a higher dropped_total than
--                                the previous one, or a non-zero one after a
--                                restart reset the counter; NULL: never
ALTER TABLE probes
	ADD COLUMN spool_records bigint,
	ADD COLUMN spool_bytes   bigint,
	ADD COLUMN dropped_total bigint,
	ADD COLUMN overdue_total bigint,
	ADD COLUMN counters_at   timestamptz,
	ADD COLUMN dropped_at    timestamptz;
