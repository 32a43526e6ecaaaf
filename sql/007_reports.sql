-- 007_reports.sql - scheduled reports (issue 9, DESIGN 6 "Reports";
-- collector/report_sched.c, docs/reports.md).
--
-- The alert leader (the collector holding the evaluator lock) runs the
-- schedules of collector.yaml. Exactly once per scheduled time, across
-- collectors and restarts: a run is claimed by inserting its row; the
-- unique (schedule, scheduled_at) makes a second claim insert nothing.
--
-- report_schedules: when a leader first saw each schedule (or its cron
-- expression last changed): scheduled times before `since` were never due,
-- so a new schedule does not run its past. A time after max(since, the
-- last run) that has passed while no leader ran is missed: the newest such
-- time runs once when a leader is back, marked late (missed counts the
-- older ones it stands for).
CREATE TABLE report_schedules (
	name  text PRIMARY KEY,
	cron  text NOT NULL,               -- the expression `since` belongs to
	since timestamptz NOT NULL
);

-- One row per scheduled time that ran (or runs).
--   running  claimed by collector_id at started_at; a leader that dies
--            mid-run leaves it: after the lease (report_sched.c) the next
--            leader takes it over and runs it again (attempts + 1)
--   done     files written, deliveries queued
--   failed   the report could not be built or written (error)
CREATE TABLE report_runs (
	id           bigserial PRIMARY KEY,
	schedule     text NOT NULL,
	scheduled_at timestamptz NOT NULL,
	state        text NOT NULL CHECK (state IN ('running', 'done', 'failed')),
	late         boolean NOT NULL DEFAULT false,  -- started well after scheduled_at
	missed       integer NOT NULL DEFAULT 0,      -- older missed times this run stands for
	attempts     integer NOT NULL DEFAULT 1,
	collector_id text NOT NULL,
	started_at   timestamptz NOT NULL,
	finished_at  timestamptz,
	period_from  timestamptz,
	period_to    timestamptz,
	files        text[] NOT NULL DEFAULT '{}',
	summary      jsonb,                           -- what the webhook carries
	error        text,
	UNIQUE (schedule, scheduled_at)
);
CREATE INDEX report_runs_running ON report_runs (started_at) WHERE state = 'running';

-- Delivery of a done run: one row per way (webhook, email), retried with
-- backoff like notifications until delivered or out of attempts.
CREATE TABLE report_deliveries (
	id              bigserial PRIMARY KEY,
	run_id          bigint NOT NULL REFERENCES report_runs ON DELETE CASCADE,
	kind            text NOT NULL CHECK (kind IN ('webhook', 'email')),
	state           text NOT NULL DEFAULT 'pending'
	                CHECK (state IN ('pending', 'delivered', 'failed')),
	attempts        integer NOT NULL DEFAULT 0,
	next_attempt_at timestamptz NOT NULL,
	last_error      text,
	delivered_at    timestamptz,
	UNIQUE (run_id, kind)
);
CREATE INDEX report_deliveries_due ON report_deliveries (next_attempt_at) WHERE state = 'pending';
