/*
 * rules_addr.c - addr_cert_mismatch (see rules_addr.h for the condition,
 * key and what the ticket says). One query, shaped as rules_int.h asks.
 */
#include "rules_addr.h"
#include "rules_int.h"

#include <stdio.h>

/*
 * r      results of the window with a certificate and an address
 * ch     each with the fingerprint the same address served before it
 * since  per (subject, profile, region, address): the start of the run of
 *        its current fingerprint (the last result where it changed; the
 *        window's first result when it never did)
 * cur    the latest result per (subject, profile, region, address)
 * div    (subject, profile, region) whose addresses serve >= 2
 *        fingerprints; onset = the newest `since` among them
 * hit    the addresses of the divergences that have lasted $3
 * pick   per subject, the divergence the summary names (first by profile,
 *        then region)
 *
 * $1 now ms, $2 current window ms, $3 hold ms (alerts.drift.fingerprint_for).
 */
static const char sql_addr[] =
	"WITH r AS ("
	" SELECT tw_rule_subject(target, port, sni) AS subject, tw_rule_hostport(target, port) AS hp,"
	"  region, profile, address AS addr, started_at AS t, fingerprint_sha256 AS fp, service,"
	"  labels"
	" FROM results"
	" WHERE started_at > " RULES_NOW " - " RULES_MS("$2") " AND started_at <= " RULES_NOW
	"  AND fingerprint_sha256 IS NOT NULL AND address IS NOT NULL),\n"
	"ch AS (SELECT subject, profile, region, addr, t, fp,"
	"  lag(fp) OVER (PARTITION BY subject, profile, region, addr ORDER BY t) AS prev FROM r),\n"
	"since AS (SELECT subject, profile, region, addr, max(t) AS since FROM ch"
	"  WHERE prev IS DISTINCT FROM fp GROUP BY 1, 2, 3, 4),\n"
	"cur AS (SELECT DISTINCT ON (subject, profile, region, addr) * FROM r"
	"  ORDER BY subject, profile, region, addr, t DESC),\n"
	"cs AS (SELECT cur.*, s.since FROM cur JOIN since s USING (subject, profile, region, addr)),\n"
	"div AS (SELECT subject, profile, region, max(since) AS onset FROM cs GROUP BY 1, 2, 3"
	"  HAVING count(DISTINCT fp) > 1 AND count(DISTINCT addr) > 1),\n"
	"hit AS (SELECT cs.*, d.onset FROM cs JOIN div d USING (subject, profile, region)"
	"  WHERE d.onset <= " RULES_NOW " - " RULES_MS("$3") "),\n"
	"pick AS (SELECT DISTINCT ON (subject) subject, profile, region, onset FROM hit"
	"  ORDER BY subject, profile, region),\n"
	"txt AS (SELECT h.subject, string_agg(h.addr || ' ' || left(h.fp, 16), ', ' ORDER BY h.addr)"
	"  AS txt FROM hit h JOIN pick p USING (subject, profile, region) GROUP BY h.subject),\n"
	"agg AS (SELECT subject, min(hp) AS hp, max(service) AS service,"
	"  (array_agg(labels ORDER BY t DESC))[1] AS labels,"
	"  string_agg(DISTINCT region, ', ' ORDER BY region) AS regions,"
	"  count(DISTINCT fp) AS nfp, count(DISTINCT addr) AS naddr,"
	"  jsonb_agg(jsonb_build_object('region', region, 'profile', profile, 'address', addr,"
	"   'fingerprint', fp, 'since', tw_rule_iso(since), 'seen_at', tw_rule_iso(t))"
	"   ORDER BY region, profile, addr) AS served"
	" FROM hit GROUP BY subject)\n"
	"SELECT 'addr_cert_mismatch', 'addr_cert_mismatch:' || a.subject || ':all', 'ticket',"
	" a.subject, a.service, 'all', a.hp,"
	" (jsonb_build_object('target', a.hp) || coalesce(a.labels, '{}'))::text,"
	" a.subject || ' serves different certificates at different addresses (region ' ||"
	"  p.region || ', profile ' || p.profile || ', for ' ||"
	"  tw_rule_dur(extract(epoch FROM " RULES_NOW " - p.onset)::float8 * 1000) || '): ' || x.txt,"
	" jsonb_build_object('addresses', a.served, 'fingerprints', a.nfp, 'address_count', a.naddr,"
	"  'diverging_since', tw_rule_iso(p.onset), 'fingerprint_for_ms', $3::bigint,"
	"  'regions', a.regions)::text,"
	" a.nfp::float8, a.regions AS regions, 'certificate:' || a.subject AS inhibit"
	" FROM agg a JOIN pick p USING (subject) JOIN txt x USING (subject)"
	" ORDER BY a.subject";

int rules_addr_eval(PGconn *c, int64_t now_ms, const struct slo_config *cfg,
		    struct alerts_run *run, char *err, size_t errlen)
{
	const typeof(cfg->alerts.drift) *m = &cfg->alerts.drift;
	if (m->c.enabled) {
		char now[32], cur[32], hold[32];
		rules_fmt_i64(now, sizeof now, now_ms);
		rules_fmt_i64(cur, sizeof cur, RULES_ADDR_WINDOW_MS);
		rules_fmt_i64(hold, sizeof hold, m->fingerprint_for_ms);
		const char *p[] = { now, cur, hold };
		if (rules_sql_observe(c, run, "addr_cert_mismatch", sql_addr, 3, p,
				      rules_resolve_after(cfg, &m->c), NULL, err, errlen))
			return -1;
	}
	return alerts_rule_evaluated(run, "addr_cert_mismatch", err, errlen);
}
