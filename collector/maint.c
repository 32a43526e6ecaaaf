/*
 * maint.c - maintenance windows (see maint.h).
 */
#include "maint.h"
#include "twtime.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

/* RFC 3339 UTC with milliseconds, as every timestamp the CLI prints. */
#define TS(col) "to_char(" col " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')"

/* Runs sql with text params; *out gets the result (else it is cleared). */
static int q(PGconn *c, const char *sql, int n, const char *const *params, PGresult **out,
	     char *err, size_t errlen)
{
	PGresult *r = PQexecParams(c, sql, n, NULL, params, NULL, NULL, 0);
	ExecStatusType st = PQresultStatus(r);
	if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
		snprintf(err, errlen, "%s", PQresultErrorMessage(r));
		err[strcspn(err, "\n")] = '\0';
		PQclear(r);
		return -1;
	}
	*out = r;
	return 0;
}

int maint_create(PGconn *conn, const struct maint_window *w, int64_t *id, char *err,
		 size_t errlen)
{
	char s[48], e[48];
	PGresult *res;
	if (w->ends_ms <= w->starts_ms) {
		snprintf(err, errlen, "the window must end after it starts");
		return -1;
	}
	char *labels = w->labels ? json_dumps(w->labels, JSON_COMPACT | JSON_SORT_KEYS)
				 : strdup("{}");
	if (!labels) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	const char *p[8] = { twtime_rfc3339_ms(w->starts_ms, s, sizeof s),
			     twtime_rfc3339_ms(w->ends_ms, e, sizeof e), w->service, w->target,
			     w->region, labels, w->reason ? w->reason : "", w->created_by };
	int rc = q(conn, "INSERT INTO maintenance_windows (starts_at, ends_at, service, target, "
			 "region, labels, reason, created_by) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) "
			 "RETURNING id", 8, p, &res, err, errlen);
	free(labels);
	if (rc < 0)
		return -1;
	if (id)
		*id = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
	PQclear(res);
	return 0;
}

int maint_list(PGconn *conn, int64_t now_ms, bool all, bool json, FILE *out, char *err,
	       size_t errlen)
{
	char now[48];
	PGresult *res;
	const char *p[2] = { twtime_rfc3339_ms(now_ms, now, sizeof now), all ? "true" : "false" };
	if (q(conn, "SELECT id, " TS("starts_at") ", " TS("ends_at") ", service, target, region, "
		    "labels::text, reason, created_by, " TS("created_at") ", "
		    "(starts_at <= $1::timestamptz AND ends_at > $1::timestamptz) "
		    "FROM maintenance_windows WHERE $2::boolean OR ends_at > $1::timestamptz "
		    "ORDER BY starts_at, id", 2, p, &res, err, errlen) < 0)
		return -1;
	int n = PQntuples(res);
	if (!json)
		fprintf(out, "%-6s %-24s %-24s %-6s %-12s %-20s %-10s %-20s %s\n", "ID", "STARTS", "ENDS",
			"ACTIVE", "SERVICE", "TARGET", "REGION", "LABELS", "REASON");
	for (int i = 0; i < n; i++) {
#define V(k) (PQgetisnull(res, i, k) ? NULL : PQgetvalue(res, i, k))
		if (json) {
			json_t *j = json_pack("{s:I, s:s, s:s, s:s?, s:s?, s:s?, s:o, s:s, s:s?, s:s, s:b}",
					      "id", (json_int_t)strtoll(PQgetvalue(res, i, 0), NULL, 10),
					      "starts_at", PQgetvalue(res, i, 1),
					      "ends_at", PQgetvalue(res, i, 2),
					      "service", V(3), "target", V(4), "region", V(5),
					      "labels", json_loads(PQgetvalue(res, i, 6), 0, NULL),
					      "reason", PQgetvalue(res, i, 7),
					      "created_by", V(8), "created_at", PQgetvalue(res, i, 9),
					      "active", PQgetvalue(res, i, 10)[0] == 't');
			char *s = j ? json_dumps(j, JSON_COMPACT) : NULL;
			json_decref(j);
			if (!s) {
				/* a window missing from the list would look deleted */
				PQclear(res);
				snprintf(err, errlen, "out of memory");
				return -1;
			}
			fprintf(out, "%s\n", s);
			free(s);
		} else {
			const char *labels = PQgetvalue(res, i, 6);
			fprintf(out, "%-6s %-24s %-24s %-6s %-12s %-20s %-10s %-20s %s\n",
				PQgetvalue(res, i, 0), PQgetvalue(res, i, 1), PQgetvalue(res, i, 2),
				PQgetvalue(res, i, 10)[0] == 't' ? "yes" : "no", V(3) ? V(3) : "*",
				V(4) ? V(4) : "*", V(5) ? V(5) : "*", strcmp(labels, "{}") ? labels : "*",
				PQgetvalue(res, i, 7));
		}
#undef V
	}
	PQclear(res);
	return 0;
}

int maint_delete(PGconn *conn, int64_t id, char *err, size_t errlen)
{
	char s[32];
	PGresult *res;
	snprintf(s, sizeof s, "%" PRId64, id);
	const char *p[1] = { s };
	if (q(conn, "DELETE FROM maintenance_windows WHERE id = $1", 1, p, &res, err, errlen) < 0)
		return -1;
	long n = strtol(PQcmdTuples(res), NULL, 10);
	PQclear(res);
	return n > 0 ? 0 : 1;
}
