-- 003_slo.sql - what the SLO evaluator needs beyond 001/002 (issue 4):
-- the targets table (labels for SLO selectors; rollups carry service but
-- not labels), alerts.target for maintenance matching, and the one
-- definition of "this alert is inside a maintenance window".

-- One row per probed endpoint (rollup key without region/profile): its
-- latest service and labels. Maintained by the evaluator from recent
-- results (collector/evaluator.c, evaluator_sync_targets) and, when the
-- ingest statement does it, from every inserted row.
CREATE TABLE targets (
	target     text NOT NULL,
	port       integer NOT NULL,
	sni        text NOT NULL,                  -- '' when no SNI (as in rollups)
	service    text,
	labels     jsonb NOT NULL DEFAULT '{}',
	first_seen timestamptz NOT NULL,
	last_seen  timestamptz NOT NULL,
	PRIMARY KEY (target, port, sni)
);
CREATE INDEX targets_labels_idx ON targets USING gin (labels);
CREATE INDEX targets_last_seen_idx ON targets (last_seen);

-- "host:port" of target rules (and of SLOs that select one target), what a
-- maintenance window's target matches besides subject.
-- for_evals / resolve_after: the rule's settings when the alert was last
-- observed (alerts.h), kept so an alert that is no longer observed still
-- resolves after its own number of clean evaluations.
ALTER TABLE alerts ADD COLUMN target text,
	ADD COLUMN for_evals integer NOT NULL DEFAULT 1,
	ADD COLUMN resolve_after integer NOT NULL DEFAULT 3;

-- What every evaluation locks and reads (collector/alerts.c): open alerts and
-- resolved ones whose resolve notification waits for a maintenance window's end.
CREATE INDEX alerts_evaluated_idx ON alerts (rule) WHERE state <> 'resolved' OR notified_state = 'firing';

-- A maintenance window matches an alert when every non-NULL selector field
-- matches: service = alert service; target = alert target or subject;
-- region = alert region_group; every label of the window is in the alert's.
CREATE FUNCTION tw_in_maintenance(a_service text, a_target text, a_subject text,
				  a_region_group text, a_labels jsonb, at timestamptz)
RETURNS boolean LANGUAGE sql STABLE PARALLEL SAFE
RETURN EXISTS (
	SELECT 1 FROM maintenance_windows m
	WHERE m.starts_at <= at AND m.ends_at > at
	  AND (m.service IS NULL OR m.service = a_service)
	  AND (m.target IS NULL OR m.target = a_target OR m.target = a_subject)
	  AND (m.region IS NULL OR m.region = a_region_group)
	  AND coalesce(a_labels, '{}'::jsonb) @> m.labels);

-- Upserts targets from results started in [since, until): the evaluator's
-- way of keeping labels current without touching the ingest statement. It
-- scans the recent results, so the evaluator calls it only when no target was
-- seen for 5 minutes (sync_targets in collector/evaluator.c): once the ingest
-- statement upserts targets itself, this never runs. Returns the rows upserted.
CREATE FUNCTION tw_sync_targets(since timestamptz, until timestamptz) RETURNS bigint
LANGUAGE sql AS $$
	WITH src AS (
		SELECT DISTINCT ON (target, port, coalesce(sni, ''))
		       target, port, coalesce(sni, '') AS sni, service, labels, started_at
		FROM results
		WHERE started_at >= since AND started_at < until
		ORDER BY target, port, coalesce(sni, ''), started_at DESC),
	up AS (
		INSERT INTO targets AS t (target, port, sni, service, labels, first_seen, last_seen)
		SELECT target, port, sni, service, labels, started_at, started_at FROM src
		ORDER BY target, port, sni
		ON CONFLICT (target, port, sni) DO UPDATE SET
			service = CASE WHEN EXCLUDED.last_seen >= t.last_seen
				       THEN coalesce(EXCLUDED.service, t.service) ELSE t.service END,
			labels = CASE WHEN EXCLUDED.last_seen >= t.last_seen
				      THEN EXCLUDED.labels ELSE t.labels END,
			first_seen = least(t.first_seen, EXCLUDED.first_seen),
			last_seen = greatest(t.last_seen, EXCLUDED.last_seen)
		RETURNING 1)
	SELECT count(*) FROM up
$$;
