/*
 * rules_sql.c - runs a rule's query and turns its rows into observations
 * (see rules_int.h for the column contract). The rule files hold the SQL
 * and the parameters; this file is the only one that reads their results.
 */
#include "rules_int.h"

#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "log.h"

PGresult *rules_sql_query(PGconn *c, const char *what, const char *sql, int n,
			  const char *const *params, char *err, size_t errlen)
{
	PGresult *r = PQexecParams(c, sql, n, NULL, params, NULL, NULL, 0);
	ExecStatusType st = PQresultStatus(r);
	if (st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK)
		return r;
	snprintf(err, errlen, "rule %s: %s", what, r ? PQresultErrorMessage(r) : PQerrorMessage(c));
	err[strcspn(err, "\n")] = '\0';
	PQclear(r);
	return NULL;
}

static const char *col(const PGresult *r, int row, int c)
{
	return PQgetisnull(r, row, c) ? NULL : PQgetvalue(r, row, c);
}

/* Parses a json object column; NULL (and no error) for SQL NULL. */
static int json_col(const PGresult *r, int row, int c, const char *what, json_t **out,
		    char *err, size_t errlen)
{
	const char *s = col(r, row, c);
	json_error_t je;
	*out = NULL;
	if (!s)
		return 0;
	*out = json_loads(s, 0, &je);
	if (!*out) {
		snprintf(err, errlen, "rule %s: bad json from SQL: %s", what, je.text);
		return -1;
	}
	return 0;
}

int rules_sql_observe(PGconn *c, struct alerts_run *run, const char *what, const char *sql,
		      int n, const char *const *params, unsigned resolve_after, int *count,
		      char *err, size_t errlen)
{
	PGresult *r = rules_sql_query(c, what, sql, n, params, err, errlen);
	int rc = -1;
	if (!r)
		return -1;
	/* the optional columns, by name after the fixed ones (rules_int.h) */
	int c_regions = PQfnumber(r, RULES_COL_REGIONS), c_inhibit = PQfnumber(r, RULES_COL_INHIBIT);
	int extra = (c_regions >= RULES_C_NCOLS) + (c_inhibit >= RULES_C_NCOLS);
	if (PQnfields(r) != RULES_C_NCOLS + extra) {
		snprintf(err, errlen, "rule %s: %d columns, expected %d and optionally \"%s\" and "
			 "\"%s\"", what, PQnfields(r), RULES_C_NCOLS, RULES_COL_REGIONS,
			 RULES_COL_INHIBIT);
		goto out;
	}
	for (int i = 0; i < PQntuples(r); i++) {
		json_t *labels = NULL, *details = NULL;
		const char *value = col(r, i, RULES_C_VALUE);
		struct alert_obs o = {
			.rule = col(r, i, RULES_C_RULE),
			.dedup_key = col(r, i, RULES_C_KEY),
			.severity = col(r, i, RULES_C_SEV),
			.subject = col(r, i, RULES_C_SUBJECT),
			.service = col(r, i, RULES_C_SERVICE),
			.region_group = col(r, i, RULES_C_REGION),
			.target = col(r, i, RULES_C_TARGET),
			.summary = col(r, i, RULES_C_SUMMARY),
			.value = value ? strtod(value, NULL) : 0,
			.for_evals = 1,
			.resolve_after = resolve_after,
			.regions = c_regions >= RULES_C_NCOLS ? col(r, i, c_regions) : NULL,
			.inhibit_group = c_inhibit >= RULES_C_NCOLS ? col(r, i, c_inhibit) : NULL,
		};
		if (json_col(r, i, RULES_C_LABELS, what, &labels, err, errlen) ||
		    json_col(r, i, RULES_C_DETAILS, what, &details, err, errlen)) {
			json_decref(labels);
			goto out;
		}
		o.labels = labels;
		o.details = details;
		int orc = alerts_observe(run, &o, err, errlen);
		if (orc == 0)
			log_debug("rules: %s %s: %s", o.rule, o.dedup_key, o.summary);
		json_decref(labels);
		json_decref(details);
		if (orc)
			goto out;
		if (count)
			(*count)++;
	}
	rc = 0;
out:
	PQclear(r);
	return rc;
}
