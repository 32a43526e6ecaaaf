/*
 * rollup_daily.c - runs the rollup_1d aggregator's steps (see rollup_daily.h
 * and sql/013_rollup_1d.sql, which holds the logic and its locking).
 */
#include "rollup_daily.h"
#include "twtime.h"

#include <stdio.h>
#include <string.h>

static void pg_err(char *err, size_t errlen, const char *what, PGresult *r)
{
	snprintf(err, errlen, "%s: %s", what, PQresultErrorMessage(r));
	size_t l = strlen(err);
	if (l && err[l - 1] == '\n')
		err[l - 1] = '\0';
}

int rollup_daily_run(PGconn *c, int64_t now_ms, unsigned max_steps, unsigned *days, char *err,
		     size_t errlen)
{
	char now[48], grace[32];
	unsigned done = 0;
	int rc = -1;
	twtime_rfc3339_ms(now_ms, now, sizeof now);
	snprintf(grace, sizeof grace, "%lld milliseconds", (long long)ROLLUP_DAILY_GRACE_MS);
	const char *p[2] = { now, grace };

	for (unsigned i = 0; i < max_steps; i++) {
		PGresult *r = PQexecParams(c, "SELECT tw_rollup_1d_step($1::timestamptz, $2::interval)",
					   2, NULL, p, NULL, NULL, 0);
		if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1) {
			pg_err(err, errlen, "rollup_1d step", r);
			PQclear(r);
			goto out;
		}
		int more = !PQgetisnull(r, 0, 0);
		PQclear(r);
		if (!more)
			break;
		done++;
	}
	PGresult *r = PQexecParams(c, "SELECT count(*) FROM tw_maintain_rollup_1d($1::timestamptz)",
				   1, NULL, p, NULL, NULL, 0);
	if (PQresultStatus(r) != PGRES_TUPLES_OK) {
		pg_err(err, errlen, "rollup_1d retention", r);
		PQclear(r);
		goto out;
	}
	PQclear(r);
	rc = 0;
out:
	if (days)
		*days = done;
	return rc;
}
