/*
 * rollup_daily.c - drives the rollup_1d aggregator (see rollup_daily.h and
 * sql/013_rollup_1d.sql, which holds the logic and why it is exact): per
 * day a claim (autocommit) and a step (its own REPEATABLE READ transaction).
 * The hours come first (rollup_hourly.c): a day is claimed only once its
 * hours are built.
 */
#include "rollup_daily.h"
#include "rollup_hourly.h"
#include "twtime.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

/* Session-level advisory lock: one aggregator at a time (the claim's lock,
 * key 13, is the one the ingest trigger shares). */
#define AGG_LOCK "1953985907, 14"

static int pg_err(char *err, size_t errlen, const char *what, PGresult *r)
{
	snprintf(err, errlen, "%s: %s", what, PQresultErrorMessage(r));
	size_t l = strlen(err);
	if (l && err[l - 1] == '\n')
		err[l - 1] = '\0';
	PQclear(r);
	return -1;
}

static int exec_cmd(PGconn *c, const char *sql, char *err, size_t errlen)
{
	PGresult *r = PQexec(c, sql);
	if (PQresultStatus(r) != PGRES_COMMAND_OK)
		return pg_err(err, errlen, sql, r);
	PQclear(r);
	return 0;
}

/* One claim and one step: 1 when a day was (re)computed, 0 when there was
 * nothing to do, -1 with err. */
static int one_day(PGconn *c, const char *const p[2], char *err, size_t errlen)
{
	PGresult *r = PQexecParams(c, "SELECT tw_rollup_1d_claim($1::timestamptz, $2::interval)", 2,
				   NULL, p, NULL, NULL, 0);
	if (PQresultStatus(r) != PGRES_TUPLES_OK)
		return pg_err(err, errlen, "rollup_1d claim", r);
	PQclear(r);
	if (exec_cmd(c, "BEGIN ISOLATION LEVEL REPEATABLE READ", err, errlen) < 0)
		return -1;
	r = PQexec(c, "SELECT tw_rollup_1d_step()");
	if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1) {
		pg_err(err, errlen, "rollup_1d step", r);
		PQclear(PQexec(c, "ROLLBACK"));
		return -1;
	}
	int done = !PQgetisnull(r, 0, 0);
	PQclear(r);
	if (exec_cmd(c, "COMMIT", err, errlen) < 0)
		return -1;
	return done;
}

int rollup_daily_run(PGconn *c, int64_t now_ms, unsigned max_steps, unsigned *days, char *err,
		     size_t errlen)
{
	char now[48], grace[32];
	unsigned done = 0;
	int rc = -1;
	twtime_rfc3339_ms(now_ms, now, sizeof now);
	snprintf(grace, sizeof grace, "%lld milliseconds", (long long)ROLLUP_DAILY_GRACE_MS);
	const char *const p[2] = { now, grace };

	/* The hours first, as many as the days this call may do, so that a
	 * backfill of max_steps days is not held back by its hours; the
	 * builder's lock is held until the days are done (rollup_hourly.h). */
	int built = rollup_hourly_lock(c, err, errlen);
	if (built <= 0) {
		rc = built;     /* 0: another session builds and aggregates */
		goto out;
	}
	if (rollup_hourly_steps(c, now_ms, 24 * (max_steps ? max_steps : 1), NULL, err, errlen) < 0)
		goto hours;
	PGresult *r = PQexec(c, "SELECT pg_try_advisory_lock(" AGG_LOCK ")");
	if (PQresultStatus(r) != PGRES_TUPLES_OK) {
		pg_err(err, errlen, "rollup_1d lock", r);
		goto hours;
	}
	bool held = strcmp(PQgetvalue(r, 0, 0), "t") == 0;
	PQclear(r);
	if (!held) {
		rc = 0;         /* another session aggregates */
		goto hours;
	}
	for (unsigned i = 0; i < max_steps; i++) {
		int d = one_day(c, p, err, errlen);
		if (d < 0)
			goto unlock;
		if (!d)
			break;
		done++;
	}
	r = PQexecParams(c, "SELECT count(*) FROM tw_maintain_rollup_1d($1::timestamptz)", 1, NULL, p,
			 NULL, NULL, 0);
	if (PQresultStatus(r) != PGRES_TUPLES_OK) {
		pg_err(err, errlen, "rollup_1d retention", r);
		goto unlock;
	}
	PQclear(r);
	rc = 0;
unlock:
	PQclear(PQexec(c, "SELECT pg_advisory_unlock(" AGG_LOCK ")"));
hours:
	rollup_hourly_unlock(c);
out:
	if (days)
		*days = done;
	return rc;
}
