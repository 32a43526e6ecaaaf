/*
 * bench_grid - the API grid's 7-day window (GET /api/v1/grid?window=7d,
 * collector/store_grid.c) as the data it reads grows with series, before
 * and after rollup_1d (sql/013) is built.
 *
 *   bench_grid CONNINFO [SERIES [DAYS]]
 *
 * The database bench_grid is dropped, created, migrated and filled with
 * generate_series(): SERIES series (SERIES/20 targets x 4 regions x 5
 * profiles) x DAYS days (8) of rollup_1h rows ending at the current hour
 * (60 attempts an hour; every 9th target fails 2 of them). The grid's own
 * statement (store_grid_sql, exactly what the API runs) is executed 3 times
 * reading rollup_1h only (the first is the cold one: the API's answer cache
 * misses), then rollup_daily_run() builds rollup_1d as the alert leader
 * does and the statement runs 3 times again; the answers must be identical
 * (the outcome objects compared summed, as the API sums them).
 * Prints key=value lines; exit 0, 1 on a database error or different
 * answers, 2 on usage.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <libpq-fe.h>

#include "db.h"
#include "evaluator.h"
#include "rollup_daily.h"
#include "store_grid.h"
#include "strbuf.h"
#include "twtime.h"

#define HOUR_MS 3600000LL

static int exec(PGconn *c, const char *sql)
{
	PGresult *r = PQexec(c, sql);
	int ok = PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK;
	if (!ok)
		fprintf(stderr, "bench_grid: %.200s: %s", sql, PQresultErrorMessage(r));
	PQclear(r);
	return ok ? 0 : -1;
}

/* The outcomes column: a JSON array of the rows' {"outcome": n} objects,
 * which store_grid.c sums; appended here summed, keys sorted. */
#define OUTCOMES_COL 9
static void put_outcomes(struct strbuf *b, const char *v)
{
	json_t *a = json_loads(v, 0, NULL), *sum = json_object(), *o;
	size_t i;
	json_array_foreach(a, i, o) {
		const char *k;
		json_t *n;
		json_object_foreach(o, k, n) {
			json_t *cur = json_object_get(sum, k);
			json_object_set_new(sum, k, json_integer((cur ? json_integer_value(cur) : 0) +
								 json_integer_value(n)));
		}
	}
	char *d = sum ? json_dumps(sum, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
	strbuf_printf(b, "%s|", d ? d : "?");
	free(d);
	json_decref(sum);
	json_decref(a);
}

/* Runs the grid statement 3 times; *answer (malloc'd) the last answer as
 * text. */
static int run(PGconn *c, const char *sql, const char *label, char **answer)
{
	double ms[3];
	int rows = 0;
	*answer = NULL;
	for (int i = 0; i < 3; i++) {
		double t0 = twtime_mono_ms();
		PGresult *r = PQexecParams(c, sql, 2, NULL, (const char *const[]){ NULL, NULL }, NULL,
					   NULL, 0);
		ms[i] = twtime_mono_ms() - t0;
		if (PQresultStatus(r) != PGRES_TUPLES_OK) {
			fprintf(stderr, "bench_grid: grid: %s", PQresultErrorMessage(r));
			PQclear(r);
			return -1;
		}
		rows = PQntuples(r);
		if (i == 2) {
			struct strbuf b = { 0 };
			for (int k = 0; k < rows; k++) {
				for (int j = 0; j < PQnfields(r); j++) {
					if (j == OUTCOMES_COL)
						put_outcomes(&b, PQgetvalue(r, k, j));
					else
						strbuf_printf(&b, "%s|", PQgetvalue(r, k, j));
				}
				strbuf_putc(&b, '\n');
			}
			*answer = strbuf_take(&b);
		}
		PQclear(r);
	}
	printf("%s: rows=%d first_ms=%.0f then_ms=%.0f,%.0f\n", label, rows, ms[0], ms[1], ms[2]);
	fflush(stdout);
	return *answer ? 0 : -1;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: bench_grid CONNINFO [SERIES [DAYS]]\n");
		return 2;
	}
	long series = argc > 2 ? strtol(argv[2], NULL, 10) : 6000;
	int days = argc > 3 ? (int)strtol(argv[3], NULL, 10) : 8;
	if (series < 20 || series % 20 || days < 8) {
		fprintf(stderr, "bench_grid: SERIES must be a multiple of 20, DAYS >= 8\n");
		return 2;
	}
	char err[1024], ci[2048], sql[4096], nows[48];
	PGconn *admin = PQconnectdb(argv[1]);
	if (PQstatus(admin) != CONNECTION_OK) {
		fprintf(stderr, "bench_grid: %s", PQerrorMessage(admin));
		return 1;
	}
	exec(admin, "SET client_min_messages = warning");
	if (exec(admin, "DROP DATABASE IF EXISTS bench_grid") < 0 ||
	    exec(admin, "CREATE DATABASE bench_grid") < 0)
		return 1;
	PQfinish(admin);
	snprintf(ci, sizeof ci, "%s dbname=bench_grid", argv[1]);
	if (db_migrate(ci, err, sizeof err) < 0) {
		fprintf(stderr, "bench_grid: migrate: %s\n", err);
		return 1;
	}
	PGconn *c = PQconnectdb(ci);
	if (PQstatus(c) != CONNECTION_OK || evaluator_prepare_conn(c, err, sizeof err) < 0) {
		fprintf(stderr, "bench_grid: %s %s", PQerrorMessage(c), err);
		return 1;
	}
	exec(c, "SET statement_timeout = 0");
	int64_t now = twtime_wall_ms() / HOUR_MS * HOUR_MS + 27 * 60000LL;
	twtime_rfc3339_ms(now, nows, sizeof nows);
	double t0 = twtime_mono_ms();
	snprintf(sql, sizeof sql,
		 "INSERT INTO rollup_1h (bucket, target, port, sni, region, profile, service, attempts, "
		 "successes, failures, outcomes, handshakes, handshake_ms_hist, handshake_ms_sum, "
		 "handshake_ms_count, mtls_attempts, mtls_failures, ocsp_stapled_count, "
		 "cipher_fallback_count, sni_mismatch_count, expiring_soon_count) "
		 "SELECT h, 't' || t || '.example', 443, '', 'r' || r, 'p' || p, 's' || (t %% 20), 60, "
		 "60 - f, f, CASE WHEN f > 0 THEN jsonb_build_object('ok', 60 - f, 'connect_timeout', f) "
		 "ELSE '{\"ok\": 60}' END, 60 - f, "
		 "ARRAY[0,0,0,0,0,0,0,0, 57 - f, 2, 1,0,0,0,0,0,0,0,0,0]::bigint[], 85.0 * (60 - f), "
		 "60 - f, 0, 0, 60 - f, 0, 0, 0 "
		 "FROM generate_series(0, %ld) t, generate_series(0, 3) r, generate_series(0, 4) p, "
		 "generate_series(date_trunc('hour', '%s'::timestamptz) - interval '%d days', "
		 "date_trunc('hour', '%s'::timestamptz) - interval '1 hour', interval '1 hour') h, "
		 "LATERAL (SELECT CASE WHEN t %% 9 = 0 THEN 2 ELSE 0 END AS f) x",
		 series / 20 - 1, nows, days, nows);
	if (exec(c, sql) < 0 || exec(c, "VACUUM ANALYZE rollup_1h") < 0)
		return 1;
	PGresult *r = PQexec(c, "SELECT count(*) FROM rollup_1h");
	printf("data: series=%ld days=%d rollup_1h_rows=%s load_s=%.1f now=%s\n", series, days,
	       PQgetvalue(r, 0, 0), (twtime_mono_ms() - t0) / 1000, nows);
	PQclear(r);

	struct store_grid_q q = { 0 };
	if (store_grid_window(&q, "7d", now, 30 * 86400000LL) < 0)
		return 1;
	char *gsql = store_grid_sql(q.from_ms, q.to_ms), *a_h = NULL, *a_d = NULL;
	if (!gsql || run(c, gsql, "grid_7d_hourly", &a_h) < 0)
		return 1;
	unsigned nd = 0;
	double a0 = twtime_mono_ms();
	if (rollup_daily_run(c, now, 10000, &nd, err, sizeof err) < 0) {
		fprintf(stderr, "bench_grid: %s\n", err);
		return 1;
	}
	exec(c, "VACUUM ANALYZE rollup_1d");
	printf("rollup_1d: days=%u aggregate_s=%.1f\n", nd, (twtime_mono_ms() - a0) / 1000);
	free(gsql);    /* the same text: the days served are read by the statement */
	gsql = store_grid_sql(q.from_ms, q.to_ms);
	if (!gsql || run(c, gsql, "grid_7d_daily", &a_d) < 0)
		return 1;
	int same = strcmp(a_h, a_d) == 0;
	printf("answers: %s\n", same ? "identical" : "DIFFERENT");
	free(a_h);
	free(a_d);
	free(gsql);
	PQfinish(c);
	return same ? 0 : 1;
}
