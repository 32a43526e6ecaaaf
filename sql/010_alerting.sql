-- 010_alerting.sql - alerts that point at the fix (issue 10, "Alerting"):
-- the regions an alert is seen in, inhibition of tickets by a page on the
-- same certificate, and certificate change events.
--
-- Regions. A target rule pools its regions under one alert (region_group
-- 'all', part of the stable dedup key), but the receivers must be told
-- which regions actually see the problem (a problem seen only in ap-south
-- used to read "regions: all"). alerts.regions is what the rule saw at its
-- last observation; notified_regions is what the trigger told receivers,
-- so that the resolve names the same regions (Alertmanager identifies an
-- alert by its labels: a resolve with other labels would resolve nothing).
-- The notification payload (collector/alerts.c PAYLOAD_SQL) carries them as
-- `regions` (an array), in region_group (joined by ", ") when the alert is
-- pooled over regions, and in labels.regions / annotations.regions.
--
-- Inhibition. A rule may give an observation an inhibit_group (the
-- certificate rules: "certificate:" || subject). While a page of a group is
-- observed, the tickets of the same group are held back: the ticket still
-- goes through its states (so it is visible, with inhibited_by naming the
-- page), its firing event is recorded with suppressed = true and
-- details.reason 'inhibited', and no outbox row is written. When the page
-- goes away and the ticket still fires, the trigger is sent then
-- (details.reason 'inhibition_ended'), like the end of a maintenance window.
ALTER TABLE alerts ADD COLUMN regions text[],
	ADD COLUMN notified_regions text[],
	ADD COLUMN inhibit_group text,
	ADD COLUMN inhibited_by text;          -- dedup_key of the page holding it back

-- Certificate change events: a new leaf fingerprint served for a
-- (target, port, sni, region, profile), one row per change, written by the
-- alert evaluator in its evaluation transaction (collector/rules_certs.c):
-- it compares, in measurement order, the results stored since its last
-- look with certificate_current, the last fingerprint seen per key. Not at
-- ingest: the ingest statement is the hot path of every batch, and a change
-- is rare; the evaluator already scans the last hour of results for the
-- certificate rules. Not from certificate_sightings either: it keeps only the
-- first and last time each (fingerprint, target, port, region) was seen -
-- no SNI, no profile, no order - so neither a rollback (A -> B -> A) nor two
-- certificates served at once can be told from a change there.
-- The key includes sni and profile because one address
-- may serve several certificates at once (one per SNI, an RSA and an ECDSA
-- one by client profile): only a change under one key is a change. The
-- first fingerprint ever seen for a key is no change (no row).
--
-- docs/SLI.md ("Certificate changes") documents the table for the API and
-- the reports. Retention (both tables): the days of certificate_sightings
-- (retention_policy), pruned by the same evaluator.
CREATE TABLE certificate_current (
	target             text NOT NULL,
	port               integer NOT NULL,
	sni                text NOT NULL,        -- '' when no SNI (as in rollups)
	region             text NOT NULL,
	profile            text NOT NULL,
	fingerprint_sha256 text NOT NULL,
	seen_at            timestamptz NOT NULL, -- started_at of the newest result
	PRIMARY KEY (target, port, sni, region, profile)
);
CREATE INDEX certificate_current_seen_idx ON certificate_current (seen_at);

CREATE TABLE certificate_changes (
	id                 bigserial PRIMARY KEY,
	target             text NOT NULL,
	port               integer NOT NULL,
	sni                text NOT NULL,        -- '' when no SNI
	region             text NOT NULL,
	profile            text NOT NULL,
	old_fingerprint    text NOT NULL,
	new_fingerprint    text NOT NULL,
	old_seen_at        timestamptz NOT NULL, -- the last result with the old one
	changed_at         timestamptz NOT NULL, -- the first result with the new one
	probe_id           text NOT NULL,        -- the probe of that result
	recorded_at        timestamptz NOT NULL  -- the evaluation that found it
);
CREATE INDEX certificate_changes_target_idx ON certificate_changes (target, port, changed_at);
CREATE INDEX certificate_changes_at_idx ON certificate_changes (changed_at);
