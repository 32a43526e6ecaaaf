-- 004_rules_other.sql - state of the non-SLO alert rules (collector/rules_other.c,
-- issue 4 "Other alerts").
--
-- tls_params_1h: how many completed handshakes negotiated each (tls_version,
-- cipher) per hour, target, SNI, region and profile. It is the weekly
-- baseline of the tls_negotiation_drift rule: scanning a week of raw results
-- at every evaluation would cost O(results), this costs O(series x hours).
-- It is NOT maintained by the ingest statement: the evaluator (one leader at
-- a time, in its evaluation transaction) summarises every complete UTC hour
-- that ended at least an hour before its evaluation time, exactly once,
-- from the results stored at that moment, and records how far it got in
-- rules_other_state ('tls_params_1h'). Results of an hour that arrive after
-- the hour was summarised (a probe replaying an old spool) are not added:
-- the baseline is a statistic, a late row does not change it materially.
-- Rows older than the baseline window + 1 day are deleted by the same
-- evaluator.
--
--   sni         '' when no SNI was sent (as in rollup_1m)
--   cipher      '' when unknown (tls_version known but no cipher reported)
--   handshakes  results with this tls_version/cipher (tls_version NOT NULL)
CREATE TABLE tls_params_1h (
	bucket      timestamptz NOT NULL,   -- UTC hour
	target      text NOT NULL,
	port        integer NOT NULL,
	sni         text NOT NULL,
	region      text NOT NULL,
	profile     text NOT NULL,
	tls_version text NOT NULL,
	cipher      text NOT NULL,
	handshakes  bigint NOT NULL,
	PRIMARY KEY (bucket, target, port, sni, region, profile, tls_version, cipher)
);
CREATE INDEX tls_params_1h_target_idx ON tls_params_1h (target, port, bucket);

-- Progress markers of the rules' own summaries: done_until is the exclusive
-- end of what has been summarised (a UTC hour boundary).
CREATE TABLE rules_other_state (
	name       text PRIMARY KEY,
	done_until timestamptz NOT NULL
);

-- Formatting helpers shared by the rules' queries (one definition each).

-- "host:port", "[v6]:port": the alerts' target (maintenance windows match it).
CREATE FUNCTION tw_rule_hostport(host text, port integer) RETURNS text
	LANGUAGE sql IMMUTABLE PARALLEL SAFE
	RETURN CASE WHEN strpos(host, ':') > 0 THEN '[' || host || ']' ELSE host END || ':' || port;

-- The subject of a target rule: "host:port", plus "/sni" when an SNI other
-- than the host was sent (no SNI and SNI = host are the same subject).
CREATE FUNCTION tw_rule_subject(host text, port integer, sni text) RETURNS text
	LANGUAGE sql IMMUTABLE PARALLEL SAFE
	RETURN tw_rule_hostport(host, port)
	       || CASE WHEN coalesce(sni, '') IN ('', host) THEN '' ELSE '/' || sni END;

-- RFC 3339 UTC, seconds: 2026-11-29T10:00:00Z.
CREATE FUNCTION tw_rule_iso(t timestamptz) RETURNS text
	LANGUAGE sql IMMUTABLE PARALLEL SAFE
	RETURN to_char(t AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"');

-- A duration for humans: 750ms, 12.5s, 4m30s, 2h5m, 3d4h (two units at most).
CREATE FUNCTION tw_rule_dur(ms double precision) RETURNS text
	LANGUAGE sql IMMUTABLE PARALLEL SAFE
	RETURN CASE WHEN ms < 0 THEN '-' ELSE '' END || (
		SELECT CASE
			WHEN a < 1000 THEN round(a) || 'ms'
			WHEN a < 60000 THEN trim_scale(round(a / 1000, 1)) || 's'
			WHEN a < 3600000 THEN concat(floor(a / 60000), 'm',
				nullif(floor(mod(a, 60000) / 1000), 0) || 's')
			WHEN a < 86400000 THEN concat(floor(a / 3600000), 'h',
				nullif(floor(mod(a, 3600000) / 60000), 0) || 'm')
			ELSE concat(floor(a / 86400000), 'd',
				nullif(floor(mod(a, 86400000) / 3600000), 0) || 'h')
		END
		FROM (SELECT abs(ms)::numeric AS a) AS x);
