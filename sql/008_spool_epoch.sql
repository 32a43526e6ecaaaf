-- 008_spool_epoch.sql - a probe's results are numbered per spool, and a
-- spool has an identity: its epoch (issue 12, probe/spool.h).
--
-- Until now the collector acked what it had committed for a probe id. A
-- probe restarting with an empty spool (a redeploy without its volume)
-- numbers from 1 again; the collector acked the old spool's last_seq and
-- the new spool deleted everything up to it unsent. The probe now sends its
-- spool's epoch (32 hex digits, random, made with the spool) in Hello, and
-- the collector keys both the acked watermark and the rows on it:
--
--   results.spool_epoch  the epoch of the spool that numbered the row; ''
--                        for rows from before epochs and for spools older
--                        than epochs (their numbers continue the old ones)
--   results key          (probe_id, spool_epoch, seq, started_at): a
--                        replay of one spool still dedupes exactly (same
--                        epoch, seq and started_at); a new spool's seq 1 is
--                        another row, never taken for a duplicate
--   probe_spools         the highest committed seq per (probe, epoch): the
--                        Ack after Hello. A new epoch has no row: nothing of
--                        it counts as acked. Seeded from probes.last_seq for
--                        the epoch ''.
--
-- probes.last_seq stays the highest seq of any epoch (as before).
ALTER TABLE results ADD COLUMN spool_epoch text NOT NULL DEFAULT '';
ALTER TABLE results DROP CONSTRAINT results_pkey;
ALTER TABLE results ADD PRIMARY KEY (probe_id, spool_epoch, seq, started_at);

CREATE TABLE probe_spools (
	probe_id    text NOT NULL,
	spool_epoch text NOT NULL,
	last_seq    bigint NOT NULL,
	first_seen  timestamptz NOT NULL,
	last_seen   timestamptz NOT NULL,
	PRIMARY KEY (probe_id, spool_epoch)
);

INSERT INTO probe_spools (probe_id, spool_epoch, last_seq, first_seen, last_seen)
SELECT probe_id, '', last_seq, first_seen, last_seen FROM probes WHERE last_seq IS NOT NULL;
