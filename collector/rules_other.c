/*
 * rules_other.c - the alert rules about targets and their certificates (see
 * rules_other.h for the list, severities and dedup keys; the rules about
 * probes are rules_probe.c). Every rule is one SQL query returning its
 * observations already shaped (the column contract and the time parameter
 * $1 are in rules_int.h). Measurements after now are ignored.
 *
 * "Currently served" (certificate rules): the latest result that carries a
 * certificate per (target, port, sni, region, profile) within the last
 * RULES_CURRENT_MS. A rotated certificate stops counting at the first
 * result that shows the new one; a region that stopped probing stops
 * counting after RULES_CURRENT_MS.
 */
#include "rules_other.h"
#include "rules_int.h"

#include <stdio.h>
#include <string.h>

#include "alerts.h"
#include "rules_addr.h"
#include "rules_certs.h"
#include "rules_quorum.h"

/* ------------------------------------------------------------ cert expiry */

/*
 * cert_expiry_<tier>: for every tier (each ticket_days as a ticket, page_hours
 * as a page) and every target, the condition holds when a currently served
 * certificate - the leaf (cert_not_after) or any certificate of the chain
 * (chain_not_after_min, which the probe computes over the verified chain
 * including the leaf and the anchor) - has
 *     notAfter <= now + tier
 * in any region or profile. Already expired certificates count too. The
 * tiers are cumulative. The lead time is computed from the certificate's
 * absolute notAfter and the evaluation time, not from the probe's
 * days_to_expiry, so a probe's clock skew does not move it.
 *
 * Labels: the target's own labels, plus `target` (host:port) and
 * `expiry_tier` (the tier's label, e.g. "7d") where the target has no label
 * of that name: rule-made labels never clobber the user's (probe.yaml
 * targets commonly carry a `tier`). The same holds for every rule here.
 *
 * One alert per (tier, target): summary and details name the earliest
 * expiring certificate (leaf, or chain at depth d) and the regions where a
 * certificate within the tier is served; details.served lists every
 * (region, profile) observation within the tier.
 *
 * The latest result per key is found by its time (m: max(started_at) per
 * key, one hash over the key columns) and then read again by key and time
 * (a tie between two results of one key at the same instant keeps either,
 * as DISTINCT ON did): sorting the hour's results by five text columns and
 * formatting a subject per result cost 3/4 of this statement (bench/alerting.sh).
 *
 * $2 current window ms, $3 rule names, $4 severities, $5 tier ms, $6 tier labels.
 */
static const char sql_cert_expiry[] =
	"WITH m AS ("
	" SELECT target, port, coalesce(sni, '') AS s, region, profile, max(started_at) AS t"
	" FROM results"
	" WHERE started_at > " RULES_NOW " - " RULES_MS("$2") " AND started_at <= " RULES_NOW
	"  AND (cert_not_after IS NOT NULL OR chain_not_after_min IS NOT NULL)"
	" GROUP BY 1, 2, 3, 4, 5),\n"
	"cur AS ("
	" SELECT tw_rule_subject(target, port, sni) AS subject, tw_rule_hostport(target, port) AS hp,"
	"  sni, region, profile, service, labels, started_at, fingerprint_sha256 AS fp,"
	"  cert_not_after, chain_not_after_min, chain_not_after_min_depth"
	" FROM (SELECT DISTINCT ON (x.target, x.port, coalesce(x.sni, ''), x.region, x.profile) x.*"
	"  FROM m JOIN results x ON x.target = m.target AND x.port = m.port"
	"   AND coalesce(x.sni, '') = m.s AND x.region = m.region AND x.profile = m.profile"
	"   AND x.started_at = m.t"
	"  WHERE x.started_at > " RULES_NOW " - " RULES_MS("$2") " AND x.started_at <= " RULES_NOW
	"   AND (x.cert_not_after IS NOT NULL OR x.chain_not_after_min IS NOT NULL)"
	"  ORDER BY x.target, x.port, coalesce(x.sni, ''), x.region, x.profile) y),\n"
	"obs AS ("
	" SELECT cur.*,"
	"  CASE WHEN chain_not_after_min IS NOT NULL AND coalesce(chain_not_after_min_depth, 0) > 0"
	"        AND (cert_not_after IS NULL OR chain_not_after_min < cert_not_after)"
	"       THEN 'chain' ELSE 'leaf' END AS which,"
	"  CASE WHEN chain_not_after_min IS NOT NULL AND coalesce(chain_not_after_min_depth, 0) > 0"
	"        AND (cert_not_after IS NULL OR chain_not_after_min < cert_not_after)"
	"       THEN chain_not_after_min_depth ELSE 0 END AS depth,"
	"  least(cert_not_after, chain_not_after_min) AS na"
	" FROM cur),\n"
	"tier AS (SELECT * FROM unnest($3::text[], $4::text[], $5::float8[], $6::text[])"
	"         AS t(rule, severity, lead_ms, label)),\n"
	"hit AS (SELECT t.rule, t.severity, t.lead_ms, t.label, o.* FROM tier t"
	"        JOIN obs o ON o.na <= " RULES_NOW " + " RULES_MS("t.lead_ms") "),\n"
	"first AS (SELECT DISTINCT ON (rule, subject) * FROM hit"
	"          ORDER BY rule, subject, na, region, profile),\n"
	"agg AS (SELECT rule, subject, max(service) AS service,"
	"  string_agg(DISTINCT region, ', ' ORDER BY region) AS regions,"
	"  min(cert_not_after) AS leaf_na, min(chain_not_after_min) AS chain_na,"
	"  (array_agg(labels ORDER BY started_at DESC))[1] AS labels,"
	"  jsonb_agg(jsonb_build_object('region', region, 'profile', profile,"
	"    'certificate', which, 'depth', depth, 'not_after', tw_rule_iso(na),"
	"    'fingerprint', fp, 'seen_at', tw_rule_iso(started_at)) ORDER BY region, profile) AS served"
	" FROM hit GROUP BY rule, subject),\n"
	"lead AS (SELECT f.*, extract(epoch FROM f.na - " RULES_NOW ")::float8 AS lead_s FROM first f)\n"
	"SELECT l.rule, l.rule || ':' || l.subject || ':all', l.severity, l.subject, a.service, 'all',"
	" l.hp,"
	" (jsonb_build_object('target', l.hp, 'expiry_tier', l.label) || coalesce(a.labels, '{}'))::text,"
	" l.subject || ' ' ||"
	"  CASE l.which WHEN 'leaf' THEN 'leaf certificate'"
	"   ELSE 'chain certificate (depth ' || l.depth || ')' END || ' ' ||"
	"  CASE WHEN l.lead_s < 0 THEN 'expired ' ELSE 'expires in ' END ||"
	"  CASE WHEN abs(l.lead_s) >= 172800 THEN to_char(abs(l.lead_s) / 86400, 'FM999999990.0') || ' days'"
	"   ELSE to_char(abs(l.lead_s) / 3600, 'FM999999990.0') || ' hours' END ||"
	"  CASE WHEN l.lead_s < 0 THEN ' ago' ELSE '' END ||"
	"  ' (' || tw_rule_iso(l.na) || '), served in ' || a.regions,"
	" jsonb_build_object('certificate', l.which, 'depth', l.depth, 'not_after', tw_rule_iso(l.na),"
	"  'expires_in_hours', round((l.lead_s / 3600)::numeric, 3), 'threshold', l.label,"
	"  'threshold_hours', l.lead_ms / 3600000, 'fingerprint', l.fp, 'regions', a.regions,"
	"  'leaf_not_after', tw_rule_iso(a.leaf_na), 'chain_not_after', tw_rule_iso(a.chain_na),"
	"  'served', a.served)::text,"
	" l.lead_s / 86400, a.regions AS regions, 'certificate:' || l.subject AS inhibit"
	" FROM lead l JOIN agg a USING (rule, subject)"
	" ORDER BY 1, 2";

/* ----------------------------------------------------------- mTLS mass */

/*
 * mtls_mass_failure (page), pooled globally: over the rollup_1m buckets
 * starting in [now - window, now), a target (host:port[/sni]) fails in a
 * region when it had mTLS attempts there (mtls_attempts > 0) and
 *     mtls_failures / mtls_attempts >= min_failure_ratio
 * (pooled over its profiles). The rule holds when at least min_targets
 * distinct targets fail in at least one region. Region-wide problems (one
 * region's client certificate expired) and global ones page once; details
 * give the failing (target, region) pairs and the counts per region.
 *
 * $2 window ms, $3 min_failure_ratio, $4 min_targets.
 */
static const char sql_mtls_mass[] =
	"WITH t AS ("
	" SELECT tw_rule_subject(target, port, nullif(sni, '')) AS subject, region,"
	"  max(service) AS service, sum(mtls_attempts) AS attempts, sum(mtls_failures) AS failures"
	" FROM tw_rollup_1m_live(" RULES_NOW " - " RULES_MS("$2") ", " RULES_NOW ")"
	" WHERE bucket >= " RULES_NOW " - " RULES_MS("$2") " AND bucket < " RULES_NOW
	"  AND mtls_attempts > 0"
	" GROUP BY 1, 2),\n"
	"f AS (SELECT *, failures::float8 / attempts AS ratio FROM t"
	"      WHERE failures::float8 / attempts >= $3::float8),\n"
	"agg AS (SELECT count(DISTINCT subject) AS failing,"
	"  (SELECT count(DISTINCT subject) FROM t) AS total,"
	"  count(DISTINCT service) AS nsvc, max(service) AS svc,"
	"  string_agg(DISTINCT region, ', ' ORDER BY region) AS regions,"
	"  sum(attempts) AS attempts, sum(failures) AS failures FROM f),\n"
	"per_region AS (SELECT jsonb_object_agg(region, n) AS j FROM"
	"  (SELECT region, count(*) AS n FROM f GROUP BY region) x),\n"
	"lst AS (SELECT jsonb_agg(jsonb_build_object('target', subject, 'region', region,"
	"  'attempts', attempts, 'failures', failures, 'ratio', round(ratio::numeric, 4))"
	"  ORDER BY ratio DESC, subject, region) AS j FROM (SELECT * FROM f"
	"  ORDER BY ratio DESC, subject, region LIMIT 50) y)\n"
	"SELECT 'mtls_mass_failure', 'mtls_mass_failure:mtls:all', 'page', 'mtls',"
	" CASE WHEN a.nsvc = 1 THEN a.svc END, 'all', NULL, '{}',"
	" 'mTLS failing on ' || a.failing || ' of ' || a.total ||"
	"  ' targets probed with a client certificate (failure ratio >= ' ||"
	"  trim_scale(round($3::numeric, 4)) || ' over ' || tw_rule_dur($2::float8) || ') in ' || a.regions,"
	" jsonb_build_object('failing_targets', a.failing, 'mtls_targets', a.total,"
	"  'min_targets', $4::bigint, 'min_failure_ratio', $3::float8, 'window_ms', $2::bigint,"
	"  'mtls_attempts', a.attempts, 'mtls_failures', a.failures,"
	"  'failing_per_region', r.j, 'failing', l.j)::text,"
	" a.failing, a.regions AS regions"
	" FROM agg a, per_region r, lst l WHERE a.failing >= $4::bigint";

/* -------------------------------------------------------- SNI mismatch */

/*
 * sni_mismatch (ticket), per target (host:port[/sni], pooled over regions
 * and profiles): over the rollup_1m buckets starting in [now - window,
 * now),  sum(sni_mismatch_count) >= min_events  (min_events 0 counts as 1).
 * sni_mismatch_count counts results whose leaf does not match the name
 * sent (the SNI, or the host without SNI).
 * The rows are summed per rollup key (k) before the subject is formatted:
 * one hash of the key columns instead of formatting and sorting a text per
 * rollup row (every series-minute of the window).
 *
 * $2 window ms, $3 min_events.
 */
static const char sql_sni_mismatch[] =
	"WITH k AS ("
	" SELECT target, port, sni, region, max(service) AS service,"
	"  sum(sni_mismatch_count) AS mism, sum(attempts) AS attempts"
	" FROM tw_rollup_1m_live(" RULES_NOW " - " RULES_MS("$2") ", " RULES_NOW ")"
	" WHERE bucket >= " RULES_NOW " - " RULES_MS("$2") " AND bucket < " RULES_NOW
	" GROUP BY 1, 2, 3, 4),\n"
	"r AS ("
	" SELECT tw_rule_subject(target, port, nullif(sni, '')) AS subject,"
	"  tw_rule_hostport(target, port) AS hp, nullif(sni, '') AS sni, region, max(service) AS service,"
	"  sum(mism) AS mism, sum(attempts) AS attempts"
	" FROM k GROUP BY 1, 2, 3, 4),\n"
	"t AS (SELECT subject, min(hp) AS hp, max(sni) AS sni, max(service) AS service,"
	"  sum(mism) AS mism, sum(attempts) AS attempts,"
	"  string_agg(region, ', ' ORDER BY region) FILTER (WHERE mism > 0) AS regions,"
	"  jsonb_object_agg(region, mism) AS per_region"
	" FROM r GROUP BY subject)\n"
	"SELECT 'sni_mismatch', 'sni_mismatch:' || subject || ':all', 'ticket', subject, service, 'all', hp,"
	" jsonb_strip_nulls(jsonb_build_object('target', hp, 'sni', sni))::text,"
	" subject || ' certificate does not match the name sent: ' || mism || ' of ' || attempts ||"
	"  ' handshakes in the last ' || tw_rule_dur($2::float8) || ' (' || regions || ')',"
	" jsonb_build_object('mismatches', mism, 'attempts', attempts, 'min_events', $3::bigint,"
	"  'window_ms', $2::bigint, 'per_region', per_region)::text,"
	" mism, regions"
	" FROM t WHERE mism >= greatest($3::bigint, 1) ORDER BY subject";

/* --------------------------------------------------- fingerprint drift */

/*
 * cert_fingerprint_drift (ticket), per target: for one profile, the regions
 * currently serving the target (a result with a fingerprint within the last
 * RULES_CURRENT_MS) serve at least two different leaf fingerprints, and
 * have done so continuously for at least fingerprint_for:
 *     now - since >= fingerprint_for
 * "since" comes from the results of those regions over the last
 * fingerprint_for + RULES_CURRENT_MS: each region's fingerprint is carried
 * forward from each of its results; since is the first result after the
 * last moment at which the regions agreed (a region counts once it has a
 * result in that span). Profiles are compared separately: a server that
 * picks an RSA or an ECDSA certificate by client profile is not drift. When
 * several profiles diverge, the one diverging longest is reported.
 * (certificate_sightings only keeps first/last seen per region, which cannot
 * tell a continuous divergence from two rotations, hence results.)
 *
 * What is served now (cur) comes from the latest result per key, found as
 * in cert_expiry (m, then last), and is grouped by subject only then; the
 * history over fingerprint_for (r) is read only for the targets whose
 * regions diverge now (usually none), not for every result of the span.
 * A target's subject determines its (target, port), so r holds the same
 * rows for those subjects as before.
 *
 * $2 fingerprint_for ms, $3 current window ms.
 */
static const char sql_fp_drift[] =
	"WITH m AS ("
	" SELECT target, port, coalesce(sni, '') AS s, region, profile, max(started_at) AS t"
	" FROM results"
	" WHERE started_at > " RULES_NOW " - " RULES_MS("$3") " AND started_at <= " RULES_NOW
	"  AND fingerprint_sha256 IS NOT NULL"
	" GROUP BY 1, 2, 3, 4, 5),\n"
	"last AS (SELECT DISTINCT ON (x.target, x.port, coalesce(x.sni, ''), x.region, x.profile)"
	"  x.target, x.port, x.sni, x.region, x.profile, x.started_at AS t, x.fingerprint_sha256 AS fp,"
	"  x.service, x.labels"
	" FROM m JOIN results x ON x.target = m.target AND x.port = m.port"
	"  AND coalesce(x.sni, '') = m.s AND x.region = m.region AND x.profile = m.profile"
	"  AND x.started_at = m.t"
	" WHERE x.started_at > " RULES_NOW " - " RULES_MS("$3") " AND x.started_at <= " RULES_NOW
	"  AND x.fingerprint_sha256 IS NOT NULL"
	" ORDER BY x.target, x.port, coalesce(x.sni, ''), x.region, x.profile),\n"
	"cur AS (SELECT DISTINCT ON (subject, profile, region) subject, profile, region, fp, t, hp,"
	"  service, labels, target, port"
	" FROM (SELECT tw_rule_subject(target, port, sni) AS subject,"
	"  tw_rule_hostport(target, port) AS hp, * FROM last) y"
	"  ORDER BY subject, profile, region, t DESC),\n"
	"div AS (SELECT subject, profile FROM cur GROUP BY 1, 2 HAVING count(DISTINCT fp) > 1),\n"
	"r AS ("
	" SELECT tw_rule_subject(target, port, sni) AS subject, region, profile, started_at AS t,"
	"  fingerprint_sha256 AS fp"
	" FROM results"
	" WHERE started_at > " RULES_NOW " - " RULES_MS("$2") " - " RULES_MS("$3")
	"  AND started_at <= " RULES_NOW
	"  AND fingerprint_sha256 IS NOT NULL"
	"  AND (target, port) IN (SELECT cur.target, cur.port FROM cur JOIN div USING (subject, profile))),\n"
	"ev AS (SELECT subject, profile, region, t, fp FROM ("
	"  SELECT r.subject, r.profile, r.region, r.t, r.fp,"
	"   lag(r.fp) OVER (PARTITION BY r.subject, r.profile, r.region ORDER BY r.t) AS prev"
	"  FROM r JOIN (SELECT cur.subject, cur.profile, cur.region FROM cur JOIN div USING (subject, profile)) k"
	"   USING (subject, profile, region)) x"
	" WHERE prev IS DISTINCT FROM fp),\n"
	"st AS (SELECT e.subject, e.profile, e.t,"
	"  (SELECT count(DISTINCT s.fp) FROM (SELECT DISTINCT ON (e2.region) e2.fp FROM ev e2"
	"    WHERE e2.subject = e.subject AND e2.profile = e.profile AND e2.t <= e.t"
	"    ORDER BY e2.region, e2.t DESC) s) AS nfp"
	" FROM ev e),\n"
	"onset AS (SELECT subject, profile, min(t) AS since FROM ("
	"  SELECT st.*, max(t) FILTER (WHERE nfp <= 1) OVER (PARTITION BY subject, profile) AS last_ok"
	"  FROM st) y"
	" WHERE nfp > 1 AND (last_ok IS NULL OR t > last_ok) GROUP BY 1, 2),\n"
	"pick AS (SELECT DISTINCT ON (subject) subject, profile, since FROM onset"
	"  WHERE since <= " RULES_NOW " - " RULES_MS("$2") " ORDER BY subject, since, profile),\n"
	"c AS (SELECT p.subject, p.profile, p.since, min(cur.hp) AS hp, max(cur.service) AS service,"
	"  (array_agg(cur.labels ORDER BY cur.t DESC))[1] AS labels,"
	"  jsonb_object_agg(cur.region, cur.fp) AS regions,"
	"  string_agg(cur.region || ' ' || left(cur.fp, 16), ', ' ORDER BY cur.region) AS txt,"
	"  string_agg(cur.region, ', ' ORDER BY cur.region) AS rgn"
	"  FROM pick p JOIN cur USING (subject, profile) GROUP BY 1, 2, 3)\n"
	"SELECT 'cert_fingerprint_drift', 'cert_fingerprint_drift:' || subject || ':all', 'ticket',"
	" subject, service, 'all', hp,"
	" (jsonb_build_object('target', hp) || coalesce(labels, '{}'))::text,"
	" subject || ' serves different certificates in different regions for ' ||"
	"  tw_rule_dur(extract(epoch FROM " RULES_NOW " - since)::float8 * 1000) ||"
	"  ' (profile ' || profile || '): ' || txt,"
	" jsonb_build_object('profile', profile, 'diverging_since', tw_rule_iso(since),"
	"  'diverging_ms', round(extract(epoch FROM " RULES_NOW " - since) * 1000),"
	"  'fingerprint_for_ms', $2::bigint, 'regions', regions)::text,"
	" extract(epoch FROM " RULES_NOW " - since)::float8, rgn AS regions,"
	" 'certificate:' || subject AS inhibit"
	" FROM c ORDER BY subject";

/* ----------------------------------------------------- TLS param drift */

/*
 * tls_params_1h upkeep (see sql/004_rules_other.sql): summarise the
 * complete UTC hours in [max(done_until, hour(now - baseline - 1h)),
 * hour(now - 1h)) once. Two steps so that the results scan gets literal
 * bounds (partition pruning).
 */
static const char sql_tls_span[] =
	"SELECT greatest(coalesce((SELECT done_until FROM rules_other_state"
	"  WHERE name = 'tls_params_1h'), '-infinity'),"
	"  date_trunc('hour', " RULES_NOW " - " RULES_MS("$2") " - interval '1 hour', 'UTC'))::text,"
	" date_trunc('hour', " RULES_NOW " - interval '1 hour', 'UTC')::text,"
	" greatest(coalesce((SELECT done_until FROM rules_other_state"
	"  WHERE name = 'tls_params_1h'), '-infinity'),"
	"  date_trunc('hour', " RULES_NOW " - " RULES_MS("$2") " - interval '1 hour', 'UTC'))"
	" < date_trunc('hour', " RULES_NOW " - interval '1 hour', 'UTC')";

static const char sql_tls_summarise[] =
	"WITH ins AS (INSERT INTO tls_params_1h (bucket, target, port, sni, region, profile,"
	"  tls_version, cipher, handshakes)"
	" SELECT date_trunc('hour', started_at, 'UTC'), target, port, coalesce(sni, ''), region,"
	"  profile, tls_version, coalesce(cipher, ''), count(*)"
	" FROM results WHERE started_at >= $1::timestamptz AND started_at < $2::timestamptz"
	"  AND tls_version IS NOT NULL"
	" GROUP BY 1, 2, 3, 4, 5, 6, 7, 8"
	" ON CONFLICT (bucket, target, port, sni, region, profile, tls_version, cipher)"
	" DO UPDATE SET handshakes = tls_params_1h.handshakes + EXCLUDED.handshakes)\n"
	"INSERT INTO rules_other_state (name, done_until) VALUES ('tls_params_1h', $2::timestamptz)"
	" ON CONFLICT (name) DO UPDATE"
	" SET done_until = greatest(rules_other_state.done_until, EXCLUDED.done_until)";

static const char sql_tls_prune[] =
	"DELETE FROM tls_params_1h WHERE bucket < " RULES_NOW " - " RULES_MS("$2") " - interval '1 day'";

/*
 * tls_negotiation_drift (ticket), per target x profile: in some region, the
 * (tls_version, cipher) negotiated most often in the last hour differs from
 * the one negotiated most often over the baseline (the tls_params_1h hours
 * in [now - baseline_window, hour(now - 1h)), i.e. the week before the
 * last hour), and the baseline pair was strictly less frequent in the last
 * hour than the new one (a tie is no change). Only completed handshakes
 * count, and only keys with >= RULES_DRIFT_MIN_BASELINE handshakes in the
 * baseline and >= RULES_DRIFT_MIN_CURRENT in the last hour. Regions are
 * compared to their own baseline (one misrouted region shows) and reported
 * together: one alert per target x profile listing the regions that
 * changed.
 *
 * $2 baseline ms, $3 min baseline, $4 min current, $5 current window ms.
 */
static const char sql_tls_drift[] =
	"WITH base AS (SELECT target, port, sni, region, profile, tls_version, cipher,"
	"  sum(handshakes) AS n FROM tls_params_1h"
	" WHERE bucket >= " RULES_NOW " - " RULES_MS("$2")
	"  AND bucket < date_trunc('hour', " RULES_NOW " - interval '1 hour', 'UTC')"
	" GROUP BY 1, 2, 3, 4, 5, 6, 7),\n"
	"bmode AS (SELECT DISTINCT ON (target, port, sni, region, profile) *,"
	"  sum(n) OVER (PARTITION BY target, port, sni, region, profile) AS total FROM base"
	"  ORDER BY target, port, sni, region, profile, n DESC, tls_version DESC, cipher),\n"
	"curc AS (SELECT target, port, coalesce(sni, '') AS sni, region, profile, tls_version,"
	"  coalesce(cipher, '') AS cipher, count(*) AS n, max(service) AS service,"
	"  (array_agg(labels ORDER BY started_at DESC))[1] AS labels"
	" FROM results WHERE started_at > " RULES_NOW " - " RULES_MS("$5")
	"  AND started_at <= " RULES_NOW
	"  AND tls_version IS NOT NULL GROUP BY 1, 2, 3, 4, 5, 6, 7),\n"
	"cmode AS (SELECT DISTINCT ON (target, port, sni, region, profile) *,"
	"  sum(n) OVER (PARTITION BY target, port, sni, region, profile) AS total FROM curc"
	"  ORDER BY target, port, sni, region, profile, n DESC, tls_version DESC, cipher),\n"
	"hit AS (SELECT tw_rule_subject(b.target, b.port, b.sni) AS subject,"
	"  tw_rule_hostport(b.target, b.port) AS hp, b.profile, b.region,"
	"  b.tls_version AS b_ver, b.cipher AS b_cipher, b.n AS b_n, b.total AS b_total,"
	"  c.tls_version AS c_ver, c.cipher AS c_cipher, c.n AS c_n, c.total AS c_total,"
	"  coalesce(cb.n, 0) AS c_n_base, c.service, c.labels"
	" FROM bmode b JOIN cmode c USING (target, port, sni, region, profile)"
	" LEFT JOIN curc cb ON cb.target = b.target AND cb.port = b.port AND cb.sni = b.sni"
	"  AND cb.region = b.region AND cb.profile = b.profile"
	"  AND cb.tls_version = b.tls_version AND cb.cipher = b.cipher"
	" WHERE b.total >= $3::bigint AND c.total >= $4::bigint"
	"  AND (c.tls_version, c.cipher) <> (b.tls_version, b.cipher) AND coalesce(cb.n, 0) < c.n),\n"
	"g AS (SELECT subject, profile, min(hp) AS hp, max(service) AS service,"
	"  (array_agg(labels))[1] AS labels,"
	"  string_agg(region, ', ' ORDER BY region) AS regions,"
	"  (array_agg(c_ver || ' ' || c_cipher ORDER BY region))[1] AS now_txt,"
	"  (array_agg(b_ver || ' ' || b_cipher ORDER BY region))[1] AS base_txt,"
	"  jsonb_object_agg(region, jsonb_build_object("
	"   'baseline', jsonb_build_object('tls_version', b_ver, 'cipher', b_cipher,"
	"     'handshakes', b_n, 'of', b_total),"
	"   'current', jsonb_build_object('tls_version', c_ver, 'cipher', c_cipher,"
	"     'handshakes', c_n, 'of', c_total, 'baseline_pair_handshakes', c_n_base))) AS per_region,"
	"  count(*) AS n"
	" FROM hit GROUP BY subject, profile)\n"
	"SELECT 'tls_negotiation_drift', 'tls_negotiation_drift:' || subject || ':' || profile || ':all',"
	" 'ticket', subject, service, 'all', hp,"
	" (jsonb_build_object('target', hp, 'profile', profile) || coalesce(labels, '{}'))::text,"
	" subject || ' (profile ' || profile || ') negotiates ' || now_txt || ' in ' || regions ||"
	"  ' in the last ' || tw_rule_dur($5::float8) || '; baseline ' || base_txt,"
	" jsonb_build_object('profile', profile, 'baseline_window_ms', $2::bigint,"
	"  'current_window_ms', $5::bigint, 'min_baseline', $3::bigint, 'min_current', $4::bigint,"
	"  'regions', per_region)::text,"
	" n, regions"
	" FROM g ORDER BY subject, profile";

/* ---------------------------------------------------------------- rules */

#define MAX_TIERS (SLO_MAX_TICKET_DAYS + 1)

struct tiers {
	size_t n;
	char names[MAX_TIERS][48];
	const char *sev[MAX_TIERS];
	double ms[MAX_TIERS];
	char label[MAX_TIERS][24];
};

/* "cert_expiry_30d" ... "cert_expiry_24h" from the config. */
static void cert_tiers(const struct slo_config *cfg, struct tiers *t)
{
	const typeof(cfg->alerts.cert_expiry) *ce = &cfg->alerts.cert_expiry;
	t->n = 0;
	for (size_t i = 0; i < ce->nticket_days && i < SLO_MAX_TICKET_DAYS; i++) {
		snprintf(t->label[t->n], sizeof t->label[0], "%ud", ce->ticket_days[i]);
		t->sev[t->n] = "ticket";
		t->ms[t->n] = (double)ce->ticket_days[i] * 86400000.0;
		t->n++;
	}
	if (ce->page_hours > 0) {
		snprintf(t->label[t->n], sizeof t->label[0], "%gh", ce->page_hours);
		t->sev[t->n] = "page";
		t->ms[t->n] = ce->page_hours * 3600000.0;
		t->n++;
	}
	for (size_t i = 0; i < t->n; i++)
		snprintf(t->names[i], sizeof t->names[0], "cert_expiry_%s", t->label[i]);
}

/* A PostgreSQL array literal of simple words or numbers (no quoting needed:
 * rule names, severities, labels and %.17g numbers). */
static void array_lit(char *buf, size_t cap, size_t n, const char *const *items)
{
	size_t off = 0;
	off += (size_t)snprintf(buf + off, cap - off, "{");
	for (size_t i = 0; i < n && off < cap; i++)
		off += (size_t)snprintf(buf + off, cap - off, "%s%s", i ? "," : "", items[i]);
	if (off < cap)
		snprintf(buf + off, cap - off, "}");
}

static int rule_cert_expiry(PGconn *c, const char *now, const struct slo_config *cfg,
			    struct alerts_run *run, char *err, size_t errlen)
{
	struct tiers t;
	cert_tiers(cfg, &t);
	if (t.n == 0)
		return 0;
	if (cfg->alerts.cert_expiry.c.enabled) {
		char cur[32], a_names[MAX_TIERS * 50], a_sev[MAX_TIERS * 8], a_ms[MAX_TIERS * 32],
			a_lab[MAX_TIERS * 26], msbuf[MAX_TIERS][32];
		const char *names[MAX_TIERS], *labels[MAX_TIERS], *ms[MAX_TIERS];
		for (size_t i = 0; i < t.n; i++) {
			names[i] = t.names[i];
			labels[i] = t.label[i];
			snprintf(msbuf[i], sizeof msbuf[i], "%.17g", t.ms[i]);
			ms[i] = msbuf[i];
		}
		array_lit(a_names, sizeof a_names, t.n, names);
		array_lit(a_sev, sizeof a_sev, t.n, t.sev);
		array_lit(a_ms, sizeof a_ms, t.n, ms);
		array_lit(a_lab, sizeof a_lab, t.n, labels);
		rules_fmt_i64(cur, sizeof cur, RULES_CURRENT_MS);
		const char *p[] = { now, cur, a_names, a_sev, a_ms, a_lab };
		if (rules_sql_observe(c, run, "cert_expiry", sql_cert_expiry, 6, p,
				      rules_resolve_after(cfg, &cfg->alerts.cert_expiry.c), NULL,
				      err, errlen))
			return -1;
	}
	for (size_t i = 0; i < t.n; i++)
		if (alerts_rule_evaluated(run, t.names[i], err, errlen))
			return -1;
	return 0;
}

static int rule_mtls_mass(PGconn *c, const char *now, const struct slo_config *cfg,
			  struct alerts_run *run, char *err, size_t errlen)
{
	const typeof(cfg->alerts.mtls_mass) *m = &cfg->alerts.mtls_mass;
	if (m->c.enabled) {
		char w[32], ratio[40], mt[32];
		rules_fmt_i64(w, sizeof w, m->window_ms);
		snprintf(ratio, sizeof ratio, "%.17g", m->min_failure_ratio);
		snprintf(mt, sizeof mt, "%u", m->min_targets ? m->min_targets : 1);
		const char *p[] = { now, w, ratio, mt };
		if (rules_sql_observe(c, run, "mtls_mass_failure", sql_mtls_mass, 4, p,
				      rules_resolve_after(cfg, &m->c), NULL, err, errlen))
			return -1;
	}
	return alerts_rule_evaluated(run, "mtls_mass_failure", err, errlen);
}

static int rule_sni_mismatch(PGconn *c, const char *now, const struct slo_config *cfg,
			     struct alerts_run *run, char *err, size_t errlen)
{
	const typeof(cfg->alerts.sni_mismatch) *m = &cfg->alerts.sni_mismatch;
	if (m->c.enabled) {
		char w[32], me[32];
		rules_fmt_i64(w, sizeof w, m->window_ms);
		snprintf(me, sizeof me, "%" PRIu64, m->min_events);
		const char *p[] = { now, w, me };
		if (rules_sql_observe(c, run, "sni_mismatch", sql_sni_mismatch, 3, p,
				      rules_resolve_after(cfg, &m->c), NULL, err, errlen))
			return -1;
	}
	return alerts_rule_evaluated(run, "sni_mismatch", err, errlen);
}

/* Brings tls_params_1h up to hour(now - 1h) and prunes it. */
static int tls_params_upkeep(PGconn *c, const char *now, const char *baseline, char *err,
			     size_t errlen)
{
	const char *p[] = { now, baseline };
	PGresult *r = rules_sql_query(c, "tls_params span", sql_tls_span, 2, p, err, errlen);
	if (!r)
		return -1;
	int rc = 0;
	if (PQntuples(r) == 1 && strcmp(PQgetvalue(r, 0, 2), "t") == 0) {
		const char *span[] = { PQgetvalue(r, 0, 0), PQgetvalue(r, 0, 1) };
		PGresult *s = rules_sql_query(c, "tls_params summarise", sql_tls_summarise, 2, span,
					      err, errlen);
		rc = s ? 0 : -1;
		PQclear(s);
	}
	PQclear(r);
	if (rc == 0) {
		PGresult *d = rules_sql_query(c, "tls_params prune", sql_tls_prune, 2, p, err, errlen);
		rc = d ? 0 : -1;
		PQclear(d);
	}
	return rc;
}

static int rule_drift(PGconn *c, const char *now, const struct slo_config *cfg,
		      struct alerts_run *run, char *err, size_t errlen)
{
	const typeof(cfg->alerts.drift) *m = &cfg->alerts.drift;
	if (m->c.enabled) {
		char fp_for[32], cur[32], base[32], minb[16], minc[16];
		rules_fmt_i64(fp_for, sizeof fp_for, m->fingerprint_for_ms);
		rules_fmt_i64(cur, sizeof cur, RULES_CURRENT_MS);
		rules_fmt_i64(base, sizeof base, m->baseline_window_ms);
		snprintf(minb, sizeof minb, "%d", RULES_DRIFT_MIN_BASELINE);
		snprintf(minc, sizeof minc, "%d", RULES_DRIFT_MIN_CURRENT);
		const char *p1[] = { now, fp_for, cur };
		const char *p2[] = { now, base, minb, minc, cur };
		unsigned ra = rules_resolve_after(cfg, &m->c);
		if (rules_sql_observe(c, run, "cert_fingerprint_drift", sql_fp_drift, 3, p1, ra,
				      NULL, err, errlen) ||
		    tls_params_upkeep(c, now, base, err, errlen) ||
		    rules_sql_observe(c, run, "tls_negotiation_drift", sql_tls_drift, 5, p2, ra,
				      NULL, err, errlen))
			return -1;
	}
	if (alerts_rule_evaluated(run, "cert_fingerprint_drift", err, errlen))
		return -1;
	return alerts_rule_evaluated(run, "tls_negotiation_drift", err, errlen);
}

int rules_other_eval(PGconn *c, int64_t now_ms, const struct slo_config *cfg,
		     struct alerts_run *run, char *err, size_t errlen)
{
	char now[32];
	if (!c || !cfg || !run) {
		snprintf(err, errlen, "rules_other_eval: missing connection, config or run");
		return -1;
	}
	rules_fmt_i64(now, sizeof now, now_ms);
	/* certificate change events first: the certificate rules read the same hour */
	if (rules_certs_record(c, now_ms, err, errlen) ||
	    rule_cert_expiry(c, now, cfg, run, err, errlen) ||
	    rule_mtls_mass(c, now, cfg, run, err, errlen) ||
	    rule_sni_mismatch(c, now, cfg, run, err, errlen) ||
	    rule_drift(c, now, cfg, run, err, errlen) ||
	    rules_quorum_eval(c, now_ms, cfg, run, err, errlen) ||
	    rules_addr_eval(c, now_ms, cfg, run, err, errlen))
		return -1;
	return 0;
}
