/*
 * rules_certs.c - certificate change events (see rules_certs.h and
 * sql/010_alerting.sql). One statement records the changes and moves
 * certificate_current; a second prunes by retention.
 */
#include "rules_certs.h"
#include "rules_int.h"

#include <stdio.h>
#include <string.h>

/*
 * r    the results with a fingerprint in (now - lookback, now], newer than
 *      what certificate_current holds for their key
 * s    each with the fingerprint before it: the previous result of the key,
 *      or certificate_current for the first one
 * ins  a change wherever the fingerprint differs from the one before
 * up   certificate_current = the newest result per key
 *
 * $1 now ms, $2 lookback ms.
 */
static const char sql_record[] =
	"WITH r AS (SELECT x.target, x.port, coalesce(x.sni, '') AS sni, x.region, x.profile,"
	"  x.started_at AS t, x.fingerprint_sha256 AS fp, x.probe_id, x.seq,"
	"  c.fingerprint_sha256 AS cur_fp, c.seen_at AS cur_at"
	" FROM results x LEFT JOIN certificate_current c ON c.target = x.target"
	"  AND c.port = x.port AND c.sni = coalesce(x.sni, '') AND c.region = x.region"
	"  AND c.profile = x.profile"
	" WHERE x.started_at > " RULES_NOW " - " RULES_MS("$2") " AND x.started_at <= " RULES_NOW
	"  AND x.fingerprint_sha256 IS NOT NULL AND (c.seen_at IS NULL OR x.started_at > c.seen_at)),\n"
	"s AS (SELECT r.*, coalesce(lag(fp) OVER k, cur_fp) AS prev_fp,"
	"  coalesce(lag(t) OVER k, cur_at) AS prev_t,"
	"  row_number() OVER (PARTITION BY target, port, sni, region, profile"
	"   ORDER BY t DESC, probe_id DESC, seq DESC) AS newest"
	" FROM r WINDOW k AS (PARTITION BY target, port, sni, region, profile"
	"  ORDER BY t, probe_id, seq)),\n"
	"ins AS (INSERT INTO certificate_changes (target, port, sni, region, profile,"
	"  old_fingerprint, new_fingerprint, old_seen_at, changed_at, probe_id, recorded_at)"
	" SELECT target, port, sni, region, profile, prev_fp, fp, prev_t, t, probe_id, " RULES_NOW
	" FROM s WHERE prev_fp IS NOT NULL AND prev_fp <> fp ORDER BY t RETURNING 1),\n"
	"up AS (INSERT INTO certificate_current AS c (target, port, sni, region, profile,"
	"  fingerprint_sha256, seen_at)"
	" SELECT target, port, sni, region, profile, fp, t FROM s WHERE newest = 1"
	" ON CONFLICT (target, port, sni, region, profile) DO UPDATE"
	" SET fingerprint_sha256 = EXCLUDED.fingerprint_sha256, seen_at = EXCLUDED.seen_at"
	" WHERE EXCLUDED.seen_at > c.seen_at RETURNING 1)\n"
	"SELECT (SELECT count(*) FROM ins), (SELECT count(*) FROM up)";

/* Both tables by the certificate_sightings retention: the events by their
 * time, the keys nothing was seen for (a target removed from probe.yaml). */
#define CERTS_CUT RULES_NOW " - make_interval(days => coalesce((SELECT days FROM" \
	" retention_policy WHERE name = 'certificate_sightings'), 400))"
static const char sql_prune[] =
	"WITH ev AS (DELETE FROM certificate_changes WHERE changed_at < " CERTS_CUT " RETURNING 1)"
	" DELETE FROM certificate_current WHERE seen_at < " CERTS_CUT;

int rules_certs_record(PGconn *c, int64_t now_ms, char *err, size_t errlen)
{
	char now[32], back[32];
	rules_fmt_i64(now, sizeof now, now_ms);
	rules_fmt_i64(back, sizeof back, RULES_CERTS_LOOKBACK_MS);
	const char *p[] = { now, back };
	PGresult *r = rules_sql_query(c, "certificate changes", sql_record, 2, p, err, errlen);
	if (!r)
		return -1;
	PQclear(r);
	r = rules_sql_query(c, "certificate changes retention", sql_prune, 1, p, err, errlen);
	if (!r)
		return -1;
	PQclear(r);
	return 0;
}

int rules_certs_print(PGconn *c, int64_t now_ms, json_t *json_out, FILE *out, char *err,
		      size_t errlen)
{
	char now[32];
	rules_fmt_i64(now, sizeof now, now_ms);
	const char *p[] = { now };
	PGresult *r = rules_sql_query(c, "certificate changes", "SELECT tw_rule_subject(target, port, "
				      "nullif(sni, '')), region, profile, old_fingerprint, new_fingerprint, "
				      "tw_rule_iso(changed_at) FROM certificate_changes WHERE recorded_at = "
				      RULES_NOW " ORDER BY changed_at, id", 1, p, err, errlen);
	if (!r)
		return -1;
	int rc = 0;
	for (int i = 0; i < PQntuples(r); i++) {
		const char *v[6];
		for (int k = 0; k < 6; k++)
			v[k] = PQgetvalue(r, i, k);
		if (!json_out) {
			fprintf(out, "certificate change %s (%s, %s): %.16s -> %.16s at %s\n", v[0], v[1],
				v[2], v[3], v[4], v[5]);
			continue;
		}
		if (json_array_append_new(json_out, json_pack(
			"{s:s, s:s, s:s, s:s, s:s, s:s}", "target", v[0], "region", v[1], "profile", v[2],
			"old_fingerprint", v[3], "new_fingerprint", v[4], "changed_at", v[5])) < 0) {
			snprintf(err, errlen, "out of memory");
			rc = -1;
			break;
		}
	}
	PQclear(r);
	return rc;
}
