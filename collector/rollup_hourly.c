/*
 * rollup_hourly.c - drives the rollup_1h builder (see rollup_hourly.h and
 * sql/016_rollup_1h_builder.sql, which holds the logic and why it is exact):
 * per hour a claim (autocommit) and a step (its own REPEATABLE READ
 * transaction).
 */
#include "rollup_hourly.h"
#include "rollup_minutely.h"
#include "twtime.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

/* Session-level advisory lock: one builder at a time, held by
 * rollup_daily_run() across its days too (the claim's lock, key 16, is the
 * one every ingest transaction shares). */
#define BUILD_LOCK "1953985907, 17"

static int pg_err(char *err, size_t errlen, const char *what, PGresult *r)
{
	snprintf(err, errlen, "%s: %s", what, PQresultErrorMessage(r));
	size_t l = strlen(err);
	if (l && err[l - 1] == '\n')
		err[l - 1] = '\0';
	PQclear(r);
	return -1;
}

/* One claim and one step: 1 when an hour was (re)built, 0 when there was
 * nothing to do, -1 with err. */
static int one_hour(PGconn *c, const char *const p[2], char *err, size_t errlen)
{
	PGresult *r = PQexecParams(c, "SELECT tw_rollup_1h_claim($1::timestamptz, $2::interval)", 2,
				   NULL, p, NULL, NULL, 0);
	if (PQresultStatus(r) != PGRES_TUPLES_OK)
		return pg_err(err, errlen, "rollup_1h claim", r);
	PQclear(r);
	r = PQexec(c, "BEGIN ISOLATION LEVEL REPEATABLE READ");
	if (PQresultStatus(r) != PGRES_COMMAND_OK)
		return pg_err(err, errlen, "rollup_1h begin", r);
	PQclear(r);
	r = PQexec(c, "SELECT tw_rollup_1h_step()");
	if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1) {
		pg_err(err, errlen, "rollup_1h step", r);
		PQclear(PQexec(c, "ROLLBACK"));
		return -1;
	}
	int done = !PQgetisnull(r, 0, 0);
	PQclear(r);
	r = PQexec(c, "COMMIT");
	if (PQresultStatus(r) != PGRES_COMMAND_OK)
		return pg_err(err, errlen, "rollup_1h commit", r);
	PQclear(r);
	return done;
}

int rollup_hourly_lock(PGconn *c, char *err, size_t errlen)
{
	PGresult *r = PQexec(c, "SELECT pg_try_advisory_lock(" BUILD_LOCK ")");
	if (PQresultStatus(r) != PGRES_TUPLES_OK)
		return pg_err(err, errlen, "rollup_1h lock", r);
	bool held = strcmp(PQgetvalue(r, 0, 0), "t") == 0;
	PQclear(r);
	return held ? 1 : 0;
}

void rollup_hourly_unlock(PGconn *c)
{
	PQclear(PQexec(c, "SELECT pg_advisory_unlock(" BUILD_LOCK ")"));
}

int rollup_hourly_steps(PGconn *c, int64_t now_ms, unsigned max_steps, unsigned *hours, char *err,
			size_t errlen)
{
	char now[48], grace[32];
	unsigned done = 0;
	int rc = 0;
	twtime_rfc3339_ms(now_ms, now, sizeof now);
	snprintf(grace, sizeof grace, "%lld milliseconds", (long long)ROLLUP_HOURLY_GRACE_MS);
	const char *const p[2] = { now, grace };
	/* the minutes first: an hour built from rollup_1m while its last rows
	 * are still in the tail is made dirty when they are added */
	if (rollup_minutely_run(c, ROLLUP_MINUTELY_MAX_STEPS, NULL, err, errlen) < 0) {
		if (hours)
			*hours = 0;
		return -1;
	}
	for (unsigned i = 0; i < max_steps; i++) {
		int h = one_hour(c, p, err, errlen);
		if (h < 0) {
			rc = -1;
			break;
		}
		if (!h)
			break;
		done++;
	}
	if (hours)
		*hours = done;
	return rc;
}

int rollup_hourly_run(PGconn *c, int64_t now_ms, unsigned max_steps, unsigned *hours, char *err,
		      size_t errlen)
{
	if (hours)
		*hours = 0;
	int held = rollup_hourly_lock(c, err, errlen);
	if (held <= 0)
		return held;    /* -1, or 0: another session builds */
	int rc = rollup_hourly_steps(c, now_ms, max_steps, hours, err, errlen);
	rollup_hourly_unlock(c);
	return rc;
}
