/*
 * rules_probe.c - the alert rules about probes (see rules_probe.h for the
 * list, severities and dedup keys). Every rule is one SQL query over the
 * probes table returning its observations already shaped (the column
 * contract and the time parameter $1 are in rules_int.h).
 */
#include "rules_probe.h"
#include "rules_int.h"

#include <stdio.h>

#include "alerts.h"

/* -------------------------------------------------------- probe silent */

/*
 * probe_silent (ticket), per probe: last_seen (collector clock: the last
 * batch, hello or heartbeat) is strictly older than intervals x the probe's
 * interval:
 *     last_seen < now - intervals * interval
 * The interval is the smallest results.interval_ms among the probe's last
 * 1000 results by seq (an index range scan on the results key; probes has
 * no interval column), or RULES_DEFAULT_INTERVAL_MS when it has none.
 * A retired probe keeps alerting until its probes row is deleted.
 *
 * $2 intervals, $3 default interval ms.
 */
static const char sql_probe_silent[] =
	"SELECT 'probe_silent', 'probe_silent:' || p.probe_id || ':' || p.region, 'ticket', p.probe_id,"
	" NULL, p.region, NULL,"
	" jsonb_build_object('probe', p.probe_id, 'region', p.region)::text,"
	" 'probe ' || p.probe_id || ' (' || p.region || ') silent for ' ||"
	"  tw_rule_dur(extract(epoch FROM " RULES_NOW " - p.last_seen)::float8 * 1000) ||"
	"  ' (last seen ' || tw_rule_iso(p.last_seen) || '), more than ' || $2::bigint ||"
	"  ' x its ' || tw_rule_dur(iv.ms) || ' probing interval',"
	" jsonb_build_object('last_seen', tw_rule_iso(p.last_seen),"
	"  'silent_ms', round(extract(epoch FROM " RULES_NOW " - p.last_seen) * 1000),"
	"  'interval_ms', iv.ms, 'interval_known', iv.known, 'intervals', $2::bigint,"
	"  'threshold_ms', $2::bigint * iv.ms, 'version', p.version)::text,"
	" extract(epoch FROM " RULES_NOW " - p.last_seen)::float8"
	" FROM probes p"
	" LEFT JOIN LATERAL (SELECT min(r.interval_ms) AS ms FROM results r"
	"   WHERE r.probe_id = p.probe_id AND r.seq > p.last_seq - 1000 AND r.seq <= p.last_seq"
	"   AND r.interval_ms > 0) x ON true"
	" CROSS JOIN LATERAL (SELECT coalesce(x.ms, $3::bigint)::float8 AS ms,"
	"   x.ms IS NOT NULL AS known) iv"
	" WHERE p.last_seen < " RULES_NOW " - $2::bigint * " RULES_MS("iv.ms")
	" ORDER BY p.probe_id";

/* ---------------------------------------------------------- clock skew */

/*
 * clock_skew (ticket), per probe: |clock_offset_ms| > max_ms, strictly,
 * clock_offset_ms being the probe's clock minus the collector's at its
 * last hello/heartbeat. Such a probe's own validity checks (cert_expired,
 * cert_not_yet_valid, days_to_expiry, OCSP freshness) and its started_at
 * times are suspect; the summary says so.
 *
 * $1 max_ms (the only rule without the evaluation time: it reads the
 * probes' latest offsets).
 */
static const char sql_clock_skew[] =
	"SELECT 'clock_skew', 'clock_skew:' || probe_id || ':' || region, 'ticket', probe_id,"
	" NULL, region, NULL,"
	" jsonb_build_object('probe', probe_id, 'region', region)::text,"
	" 'probe ' || probe_id || ' (' || region || ') clock is ' || tw_rule_dur(abs(clock_offset_ms)) ||"
	"  CASE WHEN clock_offset_ms > 0 THEN ' ahead of' ELSE ' behind' END ||"
	"  ' the collector''s (max ' || tw_rule_dur($1::float8) || '): its certificate expiry'"
	"  || ' and validity results are suspect',"
	" jsonb_build_object('clock_offset_ms', clock_offset_ms, 'max_ms', $1::float8,"
	"  'last_seen', tw_rule_iso(last_seen), 'version', version)::text,"
	" clock_offset_ms"
	" FROM probes WHERE abs(clock_offset_ms) > $1::float8 ORDER BY probe_id";

/* ------------------------------------------------------ probe dropping */

/*
 * probe_dropping (ticket), per probe: the probe's spool dropped results
 * recently. A probe drops results only when its spool is full (spool.max_bytes:
 * the collector or the uplink was away too long); they never reach the
 * collector, so they are lost for good. probes.dropped_at is the collector
 * time of the last heartbeat that showed new drops (sql/006_probe_spool.sql);
 * the condition is
 *     now - window < dropped_at <= now
 * so the alert resolves (after resolve_after clean evaluations) once no new
 * drops were seen for a whole window. The summary gives dropped_total (the
 * probe process's counter: it restarts at 0 with the process), the spool's
 * depth at the last heartbeat and when the last drops were seen.
 *
 * $2 window ms.
 */
static const char sql_probe_dropping[] =
	"SELECT 'probe_dropping', 'probe_dropping:' || probe_id || ':' || region, 'ticket', probe_id,"
	" NULL, region, NULL,"
	" jsonb_build_object('probe', probe_id, 'region', region)::text,"
	" 'probe ' || probe_id || ' (' || region || ') is dropping results: ' ||"
	"  coalesce(dropped_total::text, 'an unknown number of') || ' dropped since the probe started,"
	" new drops last seen ' || tw_rule_iso(dropped_at) || ' (' ||"
	"  tw_rule_dur(extract(epoch FROM " RULES_NOW " - dropped_at)::float8 * 1000) || ' ago); spool "
	"holds ' || coalesce(spool_records::text, '?') || ' unacked results (' ||"
	"  coalesce(pg_size_pretty(spool_bytes), '?') || '); dropped results are lost for good',"
	" jsonb_build_object('dropped_total', dropped_total, 'dropped_at', tw_rule_iso(dropped_at),"
	"  'spool_records', spool_records, 'spool_bytes', spool_bytes,"
	"  'overdue_total', overdue_total, 'counters_at', tw_rule_iso(counters_at),"
	"  'window_ms', $2::bigint, 'last_seen', tw_rule_iso(last_seen), 'version', version)::text,"
	" coalesce(dropped_total, 0)"
	" FROM probes"
	" WHERE dropped_at > " RULES_NOW " - " RULES_MS("$2") " AND dropped_at <= " RULES_NOW
	" ORDER BY probe_id";

/* ---------------------------------------------------------------- rules */

static int rule_probe_silent(PGconn *c, const char *now, const struct slo_config *cfg,
			     struct alerts_run *run, char *err, size_t errlen)
{
	const typeof(cfg->alerts.probe_silent) *m = &cfg->alerts.probe_silent;
	if (m->c.enabled) {
		char iv[32], def[32];
		snprintf(iv, sizeof iv, "%u", m->intervals ? m->intervals : 1);
		rules_fmt_i64(def, sizeof def, RULES_DEFAULT_INTERVAL_MS);
		const char *p[] = { now, iv, def };
		if (rules_sql_observe(c, run, "probe_silent", sql_probe_silent, 3, p,
				      rules_resolve_after(cfg, &m->c), NULL, err, errlen))
			return -1;
	}
	return alerts_rule_evaluated(run, "probe_silent", err, errlen);
}

static int rule_clock_skew(PGconn *c, const char *now, const struct slo_config *cfg,
			   struct alerts_run *run, char *err, size_t errlen)
{
	const typeof(cfg->alerts.clock_skew) *m = &cfg->alerts.clock_skew;
	if (m->c.enabled) {
		char mx[40];
		snprintf(mx, sizeof mx, "%.17g", m->max_ms);
		const char *p[] = { mx };
		if (rules_sql_observe(c, run, "clock_skew", sql_clock_skew, 1, p,
				      rules_resolve_after(cfg, &m->c), NULL, err, errlen))
			return -1;
	}
	return alerts_rule_evaluated(run, "clock_skew", err, errlen);
}

static int rule_probe_dropping(PGconn *c, const char *now, const struct slo_config *cfg,
			       struct alerts_run *run, char *err, size_t errlen)
{
	const typeof(cfg->alerts.probe_dropping) *m = &cfg->alerts.probe_dropping;
	if (m->c.enabled) {
		char w[32];
		rules_fmt_i64(w, sizeof w, m->window_ms);
		const char *p[] = { now, w };
		if (rules_sql_observe(c, run, "probe_dropping", sql_probe_dropping, 2, p,
				      rules_resolve_after(cfg, &m->c), NULL, err, errlen))
			return -1;
	}
	return alerts_rule_evaluated(run, "probe_dropping", err, errlen);
}

int rules_probe_eval(PGconn *c, int64_t now_ms, const struct slo_config *cfg,
		     struct alerts_run *run, char *err, size_t errlen)
{
	char now[32];
	if (!c || !cfg || !run) {
		snprintf(err, errlen, "rules_probe_eval: missing connection, config or run");
		return -1;
	}
	rules_fmt_i64(now, sizeof now, now_ms);
	if (rule_probe_silent(c, now, cfg, run, err, errlen) ||
	    rule_clock_skew(c, now, cfg, run, err, errlen) ||
	    rule_probe_dropping(c, now, cfg, run, err, errlen))
		return -1;
	return 0;
}
