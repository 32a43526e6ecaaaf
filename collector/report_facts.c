/*
 * report_facts.c - the facts of a report that are not rollup sums:
 * incidents (alerts that paged, sql/002_alerts.sql), certificates still
 * served in the period's last day that expire within 30 days of its end (certificates + certificate_sightings,
 * owners from targets' labels), the top failure causes (rollups' outcome
 * counts, through sli.c's window) and the notable events of each service
 * (certificate changes, fingerprint and negotiation drift alerts).
 *
 * Every query takes its values as parameters ($1 period start, $2 end,
 * $3 service filter or NULL), except the causes query, which is built by
 * sli.c's helpers (escaped literals).
 */
#include "report_int.h"
#include "sli.h"
#include "twtime.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>

#define MAX_CAUSES 10
#define MAX_INCIDENTS 20
#define MAX_CERTS 50
#define MAX_EVENTS 50       /* per service */

static char *dup_col(PGresult *res, int row, int col)
{
	return strdup(PQgetisnull(res, row, col) ? "" : PQgetvalue(res, row, col));
}

static int64_t i64(PGresult *res, int row, int col)
{
	return PQgetisnull(res, row, col) ? 0 : strtoll(PQgetvalue(res, row, col), NULL, 10);
}

/* Runs sql with the period and the service filter as $1..$3. */
static PGresult *query(PGconn *c, const struct report *r, const char *sql, const char *what,
		       char *err, size_t errlen)
{
	char from[48], to[48];
	twtime_rfc3339_ms(r->from_ms, from, sizeof from);
	twtime_rfc3339_ms(r->to_ms, to, sizeof to);
	const char *params[3] = { from, to, r->service_filter };
	PGresult *res = PQexecParams(c, sql, 3, NULL, params, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		snprintf(err, errlen, "%s: %s", what, PQresultErrorMessage(res));
		PQclear(res);
		return NULL;
	}
	return res;
}

static int oom(char *err, size_t errlen)
{
	snprintf(err, errlen, "out of memory");
	return -1;
}

/* ---- incidents ---- */

/* A page that fired before the period's end and was not resolved before
 * its start; its duration is clipped to the period. */
#define INCIDENTS_FROM \
	"FROM (SELECT rule, subject, service, summary, " \
	"  greatest(firing_since, $1::timestamptz) AS s, " \
	"  least(coalesce(resolved_at, $2::timestamptz), $2::timestamptz) AS e, " \
	"  resolved_at IS NULL OR resolved_at >= $2::timestamptz AS open " \
	"  FROM alerts WHERE severity = 'page' AND firing_since IS NOT NULL " \
	"  AND firing_since < $2::timestamptz " \
	"  AND coalesce(resolved_at, 'infinity') > $1::timestamptz " \
	"  AND ($3::text IS NULL OR service = $3::text)) a "

static int read_incidents(PGconn *c, struct report *r, char *err, size_t errlen)
{
	PGresult *res = query(c, r,
			      "SELECT count(*), coalesce(sum(extract(epoch FROM e - s) * 1000), 0)::bigint, "
			      "coalesce(max(extract(epoch FROM e - s) * 1000), 0)::bigint, "
			      "coalesce(json_agg(DISTINCT service) FILTER (WHERE service IS NOT NULL), "
			      "'[]')::text " INCIDENTS_FROM,
			      "incidents query", err, errlen);
	if (!res)
		return -1;
	r->incident_count = (uint64_t)i64(res, 0, 0);
	r->incident_total_ms = i64(res, 0, 1);
	r->incident_longest_ms = i64(res, 0, 2);
	json_error_t je;
	json_t *svcs = json_loads(PQgetvalue(res, 0, 3), 0, &je);
	PQclear(res);
	if (!svcs)
		return oom(err, errlen);
	size_t n = json_array_size(svcs);
	if (n && !(r->incident_services = calloc(n, sizeof *r->incident_services))) {
		json_decref(svcs);
		return oom(err, errlen);
	}
	for (size_t i = 0; i < n; i++) {
		const char *s = json_string_value(json_array_get(svcs, i));
		if (!(r->incident_services[r->nincident_services] = strdup(s ? s : ""))) {
			json_decref(svcs);
			return oom(err, errlen);
		}
		r->nincident_services++;
	}
	json_decref(svcs);

	res = query(c, r,
		    "SELECT rule, subject, coalesce(service, ''), summary, "
		    "(extract(epoch FROM s) * 1000)::bigint, (extract(epoch FROM e) * 1000)::bigint, "
		    "open " INCIDENTS_FROM "ORDER BY e - s DESC, s LIMIT " REPORT_STR(MAX_INCIDENTS),
		    "incidents query", err, errlen);
	if (!res)
		return -1;
	int rows = PQntuples(res);
	if (rows && !(r->incidents = calloc((size_t)rows, sizeof *r->incidents))) {
		PQclear(res);
		return oom(err, errlen);
	}
	for (int i = 0; i < rows; i++) {
		struct report_incident *x = &r->incidents[r->nincidents++];
		x->rule = dup_col(res, i, 0);
		x->subject = dup_col(res, i, 1);
		x->service = dup_col(res, i, 2);
		x->summary = dup_col(res, i, 3);
		x->start_ms = i64(res, i, 4);
		x->end_ms = i64(res, i, 5);
		x->open = !strcmp(PQgetvalue(res, i, 6), "t");
		if (!x->rule || !x->subject || !x->service || !x->summary) {
			PQclear(res);
			return oom(err, errlen);
		}
	}
	PQclear(res);
	return 0;
}

/* ---- certificates ---- */

static int read_certs(PGconn *c, struct report *r, char *err, size_t errlen)
{
	PGresult *res = query(c, r,
		"SELECT c.fingerprint_sha256, coalesce(c.subject, ''), coalesce(c.issuer, ''), "
		"(extract(epoch FROM c.not_after) * 1000)::bigint, "
		"extract(epoch FROM c.not_after - $2::timestamptz) / 86400.0, "
		"string_agg(DISTINCT tw_rule_hostport(s.target, s.port) || ' (' || s.region || ')', "
		"'; '), "
		"coalesce(string_agg(DISTINCT coalesce(t.labels->>'owner', t.labels->>'team'), ', '), "
		"''), coalesce(string_agg(DISTINCT t.service, ', '), '') "
		"FROM certificates c JOIN certificate_sightings s USING (fingerprint_sha256) "
		"LEFT JOIN targets t ON t.target = s.target AND t.port = s.port "
		"WHERE c.not_after < $2::timestamptz + interval '30 days' "
		"AND s.last_seen >= greatest($1::timestamptz, $2::timestamptz - interval '1 day') "
		"AND s.first_seen < $2::timestamptz "
		"AND ($3::text IS NULL OR t.service = $3::text) "
		"GROUP BY c.fingerprint_sha256, c.subject, c.issuer, c.not_after "
		"ORDER BY c.not_after, c.fingerprint_sha256 LIMIT " REPORT_STR(MAX_CERTS),
		"certificates query", err, errlen);
	if (!res)
		return -1;
	int rows = PQntuples(res);
	if (rows && !(r->certs = calloc((size_t)rows, sizeof *r->certs))) {
		PQclear(res);
		return oom(err, errlen);
	}
	for (int i = 0; i < rows; i++) {
		struct report_cert *x = &r->certs[r->ncerts++];
		x->fingerprint = dup_col(res, i, 0);
		x->subject = dup_col(res, i, 1);
		x->issuer = dup_col(res, i, 2);
		x->not_after_ms = i64(res, i, 3);
		x->days_left = strtod(PQgetvalue(res, i, 4), NULL);
		x->served_at = dup_col(res, i, 5);
		x->owners = dup_col(res, i, 6);
		x->services = dup_col(res, i, 7);
		if (!x->fingerprint || !x->subject || !x->issuer || !x->served_at || !x->owners ||
		    !x->services) {
			PQclear(res);
			return oom(err, errlen);
		}
	}
	PQclear(res);
	return 0;
}

/* ---- failure causes ---- */

static int read_causes(PGconn *c, struct report *r, char *err, size_t errlen)
{
	struct sli_window w = { r->from_ms, r->to_ms };
	struct slo_selector sel = { .service = r->service_filter };
	struct strbuf b = { 0 };
	int rc = -1;
	PGresult *res = NULL;
	strbuf_printf(&b, "SELECT o.key, sum(o.value::bigint) FROM ");
	sli_rows_sql(&b, &w, 1);
	strbuf_printf(&b, " r LEFT JOIN targets t ON t.target = r.target AND t.port = r.port "
			  "AND t.sni = r.sni CROSS JOIN LATERAL jsonb_each_text(r.outcomes) o "
			  "WHERE r.failures > 0 AND o.key <> 'ok' AND ");
	sli_window_cond(&b, &w);
	strbuf_printf(&b, " AND ");
	sli_selector_cond(&b, c, &sel);
	strbuf_printf(&b, " GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT %d", MAX_CAUSES);
	if (b.oom) {
		oom(err, errlen);
		goto out;
	}
	res = PQexec(c, b.p);
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		snprintf(err, errlen, "failure causes query: %s", PQresultErrorMessage(res));
		goto out;
	}
	int rows = PQntuples(res);
	if (rows && !(r->causes = calloc((size_t)rows, sizeof *r->causes))) {
		oom(err, errlen);
		goto out;
	}
	for (int i = 0; i < rows; i++) {
		struct report_cause *x = &r->causes[r->ncauses++];
		if (!(x->outcome = dup_col(res, i, 0))) {
			oom(err, errlen);
			goto out;
		}
		x->count = (uint64_t)i64(res, i, 1);
		x->share = r->failures ? (double)x->count / (double)r->failures : NAN;
	}
	rc = 0;
out:
	PQclear(res);
	free(b.p);
	return rc;
}

/* ---- notable events per service ---- */

static int read_events(PGconn *c, struct report *r, char *err, size_t errlen)
{
	PGresult *res = query(c, r,
		"SELECT * FROM ("
		"SELECT (extract(epoch FROM s.first_seen) * 1000)::bigint AS at, "
		"'certificate_change' AS kind, tw_rule_hostport(s.target, s.port) AS target, "
		"'new certificate ' || left(s.fingerprint_sha256, 16) || ' (' || "
		"coalesce(c.subject, '') || ', expires ' || coalesce(tw_rule_iso(c.not_after), '?') || "
		"') in ' || s.region AS detail, coalesce(t.service, '" "(no service)" "') AS service "
		"FROM certificate_sightings s JOIN certificates c USING (fingerprint_sha256) "
		"LEFT JOIN targets t ON t.target = s.target AND t.port = s.port "
		"WHERE s.first_seen >= $1::timestamptz AND s.first_seen < $2::timestamptz "
		"AND EXISTS (SELECT 1 FROM certificate_sightings p WHERE p.target = s.target "
		"AND p.port = s.port AND p.region = s.region AND p.first_seen < s.first_seen "
		"AND p.fingerprint_sha256 <> s.fingerprint_sha256) "
		"AND ($3::text IS NULL OR t.service = $3::text) "
		"UNION ALL "
		"SELECT (extract(epoch FROM created_at) * 1000)::bigint, rule, "
		"coalesce(target, subject), summary, coalesce(service, '" "(no service)" "') "
		"FROM alerts WHERE rule IN ('cert_fingerprint_drift', 'tls_negotiation_drift') "
		"AND created_at >= $1::timestamptz AND created_at < $2::timestamptz "
		"AND ($3::text IS NULL OR service = $3::text)) e ORDER BY service, at, target",
		"notable events query", err, errlen);
	if (!res)
		return -1;
	for (int i = 0; i < PQntuples(res); i++) {
		struct report_service *s = NULL;
		for (size_t k = 0; k < r->nservices && !s; k++)
			if (!strcmp(r->services[k].name, PQgetvalue(res, i, 4)))
				s = &r->services[k];
		/* a service without rollups in the period has no section */
		if (!s || s->nevents >= MAX_EVENTS)
			continue;
		struct report_event *nv = realloc(s->events, (s->nevents + 1) * sizeof *nv);
		if (!nv) {
			PQclear(res);
			return oom(err, errlen);
		}
		s->events = nv;
		struct report_event *x = &nv[s->nevents++];
		x->at_ms = i64(res, i, 0);
		x->kind = dup_col(res, i, 1);
		x->target = dup_col(res, i, 2);
		x->detail = dup_col(res, i, 3);
		if (!x->kind || !x->target || !x->detail) {
			PQclear(res);
			return oom(err, errlen);
		}
	}
	PQclear(res);
	return 0;
}

int report_facts_read(PGconn *c, struct report *r, char *err, size_t errlen)
{
	if (read_incidents(c, r, err, errlen) < 0 || read_certs(c, r, err, errlen) < 0 ||
	    read_causes(c, r, err, errlen) < 0 || read_events(c, r, err, errlen) < 0)
		return -1;
	return 0;
}

void report_facts_free(struct report *r)
{
	for (size_t i = 0; i < r->nincidents; i++) {
		free(r->incidents[i].rule);
		free(r->incidents[i].subject);
		free(r->incidents[i].service);
		free(r->incidents[i].summary);
	}
	free(r->incidents);
	for (size_t i = 0; i < r->nincident_services; i++)
		free(r->incident_services[i]);
	free(r->incident_services);
	for (size_t i = 0; i < r->ncerts; i++) {
		struct report_cert *x = &r->certs[i];
		free(x->fingerprint);
		free(x->subject);
		free(x->issuer);
		free(x->served_at);
		free(x->owners);
		free(x->services);
	}
	free(r->certs);
	for (size_t i = 0; i < r->ncauses; i++)
		free(r->causes[i].outcome);
	free(r->causes);
}
