/*
 * rollup_minutely.c - drives the rollup_1m builder (see rollup_minutely.h
 * and sql/020_rollup_1m_builder.sql, which holds the logic and why it is
 * exact): a claim, then steps until the claimed transactions are added.
 */
#include "rollup_minutely.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int pg_err(char *err, size_t errlen, const char *what, PGresult *r)
{
	snprintf(err, errlen, "%s: %s", what, PQresultErrorMessage(r));
	size_t l = strlen(err);
	if (l && err[l - 1] == '\n')
		err[l - 1] = '\0';
	PQclear(r);
	return -1;
}

int rollup_minutely_run(PGconn *c, unsigned max_steps, long long *rows, char *err,
			size_t errlen)
{
	long long added = 0;
	if (rows)
		*rows = 0;
	PGresult *r = PQexec(c, "SELECT tw_rollup_1m_claim()");
	if (PQresultStatus(r) != PGRES_TUPLES_OK)
		return pg_err(err, errlen, "rollup_1m claim", r);
	PQclear(r);
	char chunk[24];
	snprintf(chunk, sizeof chunk, "%d", ROLLUP_MINUTELY_CHUNK);
	const char *const p[1] = { chunk };
	/* steps also add what an earlier claim left (a leader killed between
	 * its claim and its steps) */
	for (unsigned i = 0; i < max_steps; i++) {
		r = PQexecParams(c, "SELECT tw_rollup_1m_step($1::bigint)", 1, NULL, p, NULL, NULL, 0);
		if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1)
			return pg_err(err, errlen, "rollup_1m step", r);
		bool done = PQgetisnull(r, 0, 0);
		if (!done)
			added += strtoll(PQgetvalue(r, 0, 0), NULL, 10);
		PQclear(r);
		if (done)
			break;
	}
	if (rows)
		*rows = added;
	return 0;
}
