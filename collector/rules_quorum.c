/*
 * rules_quorum.c - the region quorum rule (see rules_quorum.h). One SQL
 * query over rollup_1m returning its observations already shaped (the
 * column contract and the time parameter $1 are in rules_int.h).
 */
#include "rules_quorum.h"
#include "rules_int.h"

#include <stdio.h>

/*
 * r    attempts and failures per (target, region) in the window, pooled over
 *      profiles; oc the failure outcomes of the same rows
 * f    the failing regions (min_samples, failure_ratio)
 * g    per target: failing regions and how many regions probed it
 * top  the most frequent failure outcome over the failing regions
 *
 * $2 for ms, $3 failure_ratio, $4 min_samples, $5 min_regions,
 * $6 min_region_share.
 */
static const char sql_quorum[] =
	"WITH w AS (SELECT target, port, sni, region, service, attempts, failures, outcomes"
	" FROM tw_rollup_1m_live(" RULES_NOW " - " RULES_MS("$2") ", " RULES_NOW ")"
	" WHERE bucket >= " RULES_NOW " - " RULES_MS("$2") " AND bucket < " RULES_NOW "),\n"
	"r AS (SELECT target, port, sni, region, max(service) AS service,"
	"  sum(attempts) AS attempts, sum(failures) AS failures"
	" FROM w GROUP BY 1, 2, 3, 4),\n"
	"f AS (SELECT *, failures::float8 / attempts AS ratio FROM r"
	" WHERE attempts >= $4::bigint AND attempts > 0"
	"  AND failures::float8 / attempts >= $3::float8),\n"
	"g AS (SELECT r.target, r.port, r.sni, max(r.service) AS service,"
	"  count(*) AS probing, count(f.region) AS failing,"
	"  string_agg(f.region, ', ' ORDER BY f.region) AS regions,"
	"  string_agg(f.region || ' ' || round((100 * f.ratio)::numeric) || '%', ', '"
	"   ORDER BY f.region) AS txt,"
	"  jsonb_object_agg(f.region, jsonb_build_object('attempts', f.attempts,"
	"   'failures', f.failures, 'ratio', round(f.ratio::numeric, 4)))"
	"   FILTER (WHERE f.region IS NOT NULL) AS per_region"
	" FROM r LEFT JOIN f USING (target, port, sni, region)"
	" WHERE r.attempts > 0 GROUP BY 1, 2, 3),\n"
	"hit AS (SELECT * FROM g WHERE failing >= $5::bigint"
	"  AND failing::float8 >= $6::float8 * probing),\n"
	"oc AS (SELECT w.target, w.port, w.sni, o.key AS outcome, sum(o.value::bigint) AS n"
	" FROM w JOIN f USING (target, port, sni, region)"
	" CROSS JOIN LATERAL jsonb_each_text(w.outcomes) o"
	" WHERE o.key <> 'ok' GROUP BY 1, 2, 3, 4),\n"
	"top AS (SELECT DISTINCT ON (target, port, sni) target, port, sni, outcome"
	" FROM oc ORDER BY target, port, sni, n DESC, outcome),\n"
	"ocs AS (SELECT target, port, sni, jsonb_object_agg(outcome, n) AS j FROM oc"
	" GROUP BY 1, 2, 3)\n"
	"SELECT 'region_quorum', 'region_quorum:' || tw_rule_subject(h.target, h.port, nullif(h.sni, ''))"
	"  || ':all', 'page', tw_rule_subject(h.target, h.port, nullif(h.sni, '')), h.service, 'all',"
	" tw_rule_hostport(h.target, h.port),"
	" (jsonb_build_object('target', tw_rule_hostport(h.target, h.port))"
	"  || coalesce(tg.labels, '{}'))::text,"
	" tw_rule_subject(h.target, h.port, nullif(h.sni, '')) || ' fails from ' || h.failing ||"
	"  ' of ' || h.probing || ' regions over the last ' || tw_rule_dur($2::float8) || ' (' ||"
	"  h.txt || ' of handshakes)' || coalesce(': mostly ' || t.outcome, ''),"
	" jsonb_build_object('failing_regions', h.failing, 'probing_regions', h.probing,"
	"  'min_regions', $5::bigint, 'min_region_share', $6::float8,"
	"  'failure_ratio', $3::float8, 'min_samples', $4::bigint, 'window_ms', $2::bigint,"
	"  'top_outcome', t.outcome, 'outcomes', coalesce(ocs.j, '{}'),"
	"  'per_region', h.per_region)::text,"
	" h.failing, h.regions AS regions,"
	" CASE WHEN oc_l.layer IN ('trust', 'validity', 'policy', 'name', 'revocation')"
	"  THEN 'certificate:' || tw_rule_subject(h.target, h.port, nullif(h.sni, '')) END AS inhibit"
	" FROM hit h"
	" LEFT JOIN top t USING (target, port, sni)"
	" LEFT JOIN ocs USING (target, port, sni)"
	" LEFT JOIN outcomes oc_l ON oc_l.name = t.outcome"
	" LEFT JOIN targets tg ON tg.target = h.target AND tg.port = h.port AND tg.sni = h.sni"
	" ORDER BY 2";

int rules_quorum_eval(PGconn *c, int64_t now_ms, const struct slo_config *cfg,
		      struct alerts_run *run, char *err, size_t errlen)
{
	const typeof(cfg->alerts.region_quorum) *m = &cfg->alerts.region_quorum;
	if (m->c.enabled) {
		char now[32], w[32], ratio[40], ms[32], mr[16], share[40];
		rules_fmt_i64(now, sizeof now, now_ms);
		rules_fmt_i64(w, sizeof w, m->for_ms);
		snprintf(ratio, sizeof ratio, "%.17g", m->failure_ratio);
		snprintf(ms, sizeof ms, "%" PRIu64, m->min_samples);
		snprintf(mr, sizeof mr, "%u", m->min_regions ? m->min_regions : 1);
		snprintf(share, sizeof share, "%.17g", m->min_region_share);
		const char *p[] = { now, w, ratio, ms, mr, share };
		if (rules_sql_observe(c, run, "region_quorum", sql_quorum, 6, p,
				      rules_resolve_after(cfg, &m->c), NULL, err, errlen))
			return -1;
	}
	return alerts_rule_evaluated(run, "region_quorum", err, errlen);
}
