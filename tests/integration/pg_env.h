/*
 * pg_env.h - the PostgreSQL and event-loop helpers the integration tests
 * share (static inline, included by the *_env.h headers): a statement that
 * must succeed, one integer from a one-row query, and running a libevent
 * loop until a condition holds. Every failure is a Criterion assertion that
 * quotes the SQL and PostgreSQL's message.
 */
#ifndef TW_TEST_PG_ENV_H
#define TW_TEST_PG_ENV_H

#include <criterion/criterion.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <event2/event.h>
#include <libpq-fe.h>

#include "twtime.h"

/* SQL built with printf (malloc'd); NULL on failure (asserted by the callers). */
static inline char *pg_env_vsql(const char *fmt, va_list ap)
{
	va_list ap2;
	va_copy(ap2, ap);
	int n = vsnprintf(NULL, 0, fmt, ap2);
	va_end(ap2);
	char *sql = n < 0 ? NULL : malloc((size_t)n + 1);
	if (sql)
		vsnprintf(sql, (size_t)n + 1, fmt, ap);
	return sql;
}

/* Runs a statement (printf-style) that must succeed. */
__attribute__((format(printf, 2, 3)))
static inline void exec_ok(PGconn *c, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *sql = pg_env_vsql(fmt, ap);
	va_end(ap);
	cr_assert_not_null(sql);
	PGresult *r = PQexec(c, sql);
	ExecStatusType st = PQresultStatus(r);
	cr_assert(st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK, "%s: %s", sql,
		  PQresultErrorMessage(r));
	PQclear(r);
	free(sql);
}

/* The first value of a one-row query (printf-style) as a long long; SQL
 * NULL gives -1. */
__attribute__((format(printf, 2, 3)))
static inline long long q_int(PGconn *c, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *sql = pg_env_vsql(fmt, ap);
	va_end(ap);
	cr_assert_not_null(sql);
	PGresult *r = PQexec(c, sql);
	cr_assert(PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1, "%s: %s", sql,
		  PQresultErrorMessage(r));
	long long v = PQgetisnull(r, 0, 0) ? -1 : strtoll(PQgetvalue(r, 0, 0), NULL, 10);
	PQclear(r);
	free(sql);
	return v;
}

/* Runs the loop in 10 ms slices until cond(arg) (which may query the
 * database) or secs pass; false on the deadline. */
static inline bool run_until(struct event_base *b, bool (*cond)(void *), void *arg, double secs)
{
	double end = twtime_mono_ms() + secs * 1000;
	while (!cond(arg)) {
		if (twtime_mono_ms() > end)
			return false;
		struct timeval tv = { 0, 10000 };
		event_base_loopexit(b, &tv);
		event_base_dispatch(b);
	}
	return true;
}

/* run_until's condition for a flag the test's callbacks set. */
static inline bool flag_set(void *arg)
{
	return *(bool *)arg;
}

static inline bool pg_env_never(void *arg)
{
	(void)arg;
	return false;
}

/* Runs the loop for secs. */
static inline void run_for(struct event_base *b, double secs)
{
	run_until(b, pg_env_never, NULL, secs);
}

#endif
