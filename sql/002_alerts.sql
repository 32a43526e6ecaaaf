-- 002_alerts.sql - alerts, their lifecycle events, maintenance windows and
-- the durable notification outbox (DESIGN 6, issue 4).
--
-- Lifecycle: pending -> firing -> resolved (pending -> resolved when the
-- condition clears before it fired). One row per occurrence: a dedup_key has
-- at most one row that is not resolved; a new occurrence after resolution is
-- a new row with the same dedup_key.
--
-- Notifications: the evaluator inserts one notification_outbox row per
-- notifiable state change (firing: action 'trigger'; resolved after firing:
-- 'resolve') IN THE SAME TRANSACTION as the alert change. The notifier routes
-- each outbox row to its sinks (notification_deliveries, one per sink, with a
-- unique idempotency key) and delivers them; every HTTP attempt is recorded.
-- A state change that happens inside a maintenance window is recorded
-- (alert_events.suppressed) but gets no outbox row; alerts.notified_state
-- remembers what receivers were last told, so an alert still firing when the
-- window ends is notified then.

CREATE TABLE alerts (
	id             bigserial PRIMARY KEY,
	dedup_key      text NOT NULL,         -- rule + subject + region group, stable
	rule           text NOT NULL,         -- e.g. slo_burn_fast, cert_expiry_24h
	severity       text NOT NULL CHECK (severity IN ('page', 'ticket')),
	state          text NOT NULL CHECK (state IN ('pending', 'firing', 'resolved')),
	subject        text NOT NULL,         -- SLO name, target host:port, probe id...
	service        text,                  -- grouping
	region_group   text NOT NULL DEFAULT 'all',
	labels         jsonb NOT NULL DEFAULT '{}',
	summary        text NOT NULL,
	details        jsonb NOT NULL DEFAULT '{}',  -- burn rates, counts, thresholds
	value          double precision,
	created_at     timestamptz NOT NULL,  -- evaluation time (injected in tests)
	pending_since  timestamptz NOT NULL,
	firing_since   timestamptz,
	resolved_at    timestamptz,
	last_eval_at   timestamptz NOT NULL,
	active_evals   integer NOT NULL DEFAULT 0,  -- consecutive evaluations with the condition true
	clean_evals    integer NOT NULL DEFAULT 0,  -- consecutive evaluations with it false
	notified_state text CHECK (notified_state IN ('firing', 'resolved'))
);
CREATE UNIQUE INDEX alerts_open_key ON alerts (dedup_key) WHERE state <> 'resolved';
CREATE INDEX alerts_state_idx ON alerts (state, rule);

CREATE TABLE alert_events (
	id          bigserial PRIMARY KEY,
	alert_id    bigint NOT NULL REFERENCES alerts ON DELETE CASCADE,
	at          timestamptz NOT NULL,
	from_state  text,
	to_state    text NOT NULL,
	suppressed  boolean NOT NULL DEFAULT false,  -- inside a maintenance window
	details     jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX alert_events_alert_idx ON alert_events (alert_id, at);

-- A window matches an alert when every non-NULL selector field matches
-- (labels: every key/value of the window's labels is in the alert's).
CREATE TABLE maintenance_windows (
	id         bigserial PRIMARY KEY,
	starts_at  timestamptz NOT NULL,
	ends_at    timestamptz NOT NULL CHECK (ends_at > starts_at),
	service    text,
	target     text,          -- "host:port" as in alerts.subject of target rules
	region     text,
	labels     jsonb NOT NULL DEFAULT '{}',
	reason     text NOT NULL,
	created_by text,
	created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX maintenance_windows_time_idx ON maintenance_windows (ends_at);

-- One row per notifiable state change. payload is the sink-neutral alert:
-- {rule, severity, state, summary, subject, service, region_group, labels,
--  annotations, details, starts_at, ends_at, generator_url, dedup_key}.
CREATE TABLE notification_outbox (
	id         bigserial PRIMARY KEY,
	alert_id   bigint NOT NULL REFERENCES alerts ON DELETE CASCADE,
	event_id   bigint NOT NULL REFERENCES alert_events ON DELETE CASCADE,
	action     text NOT NULL CHECK (action IN ('trigger', 'resolve')),
	severity   text NOT NULL,
	dedup_key  text NOT NULL,
	payload    jsonb NOT NULL,
	created_at timestamptz NOT NULL DEFAULT now(),
	routed_at  timestamptz            -- NULL until the notifier made its deliveries
);
CREATE INDEX notification_outbox_unrouted ON notification_outbox (id) WHERE routed_at IS NULL;

-- One row per (outbox row, sink). idempotency_key doubles as the Standard
-- Webhooks webhook-id and is what receivers dedupe on.
CREATE TABLE notification_deliveries (
	id              bigserial PRIMARY KEY,
	outbox_id       bigint NOT NULL REFERENCES notification_outbox ON DELETE CASCADE,
	sink            text NOT NULL,
	idempotency_key text NOT NULL UNIQUE,
	state           text NOT NULL DEFAULT 'pending'
	                CHECK (state IN ('pending', 'delivered', 'failed')),
	attempts        integer NOT NULL DEFAULT 0,
	next_attempt_at timestamptz NOT NULL DEFAULT now(),
	locked_until    timestamptz,      -- a collector is delivering it (lease)
	last_status     integer,
	last_error      text,
	created_at      timestamptz NOT NULL DEFAULT now(),
	delivered_at    timestamptz,
	UNIQUE (outbox_id, sink)
);
CREATE INDEX notification_deliveries_due ON notification_deliveries (next_attempt_at)
	WHERE state = 'pending';

CREATE TABLE notification_attempts (
	id             bigserial PRIMARY KEY,
	delivery_id    bigint NOT NULL REFERENCES notification_deliveries ON DELETE CASCADE,
	at             timestamptz NOT NULL DEFAULT now(),
	http_status    integer,          -- NULL: no HTTP answer (connect error, timeout)
	error          text,
	duration_ms    double precision,
	retry_after_ms bigint            -- from Retry-After, when given
);
CREATE INDEX notification_attempts_delivery_idx ON notification_attempts (delivery_id);

-- Which collector evaluated when (the advisory-lock leader), for operators.
CREATE TABLE evaluation_runs (
	id           bigserial PRIMARY KEY,
	collector_id text NOT NULL,
	eval_at      timestamptz NOT NULL,   -- the evaluation's "now" (injected in tests)
	started_at   timestamptz NOT NULL DEFAULT clock_timestamp(),
	duration_ms  double precision,
	series       integer,
	changes      integer
);
