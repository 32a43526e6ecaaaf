/*
 * test_db_schema.c - collector/db_schema.c against a real PostgreSQL
 * started by tests/integration/test_db_schema.sh: migrations (applied once,
 * recorded, serialised between collectors, errors without the password)
 * and the results partitions (created ahead, dropped beyond the retention,
 * the default partition emptied). Retention of the other tables:
 * test_retention.c. Helpers: db_env.h.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>
#include <event2/event.h>
#include <libpq-fe.h>

#include "db.h"
#include "db_env.h"
#include "sql_migrations.h"
#include "twtime.h"

TestSuite(db, .timeout = 240);

/* ------------------------------------------------------------ migrate */

struct mig_arg {
	const char *ci;
	int n;
	char err[256];
};

static void *mig_thread(void *arg)
{
	struct mig_arg *m = arg;
	m->n = db_migrate(m->ci, m->err, sizeof m->err);
	return NULL;
}

Test(db, migrate_applies_all_once_and_records_them)
{
	char *ci = new_db("tw_migrate");
	char err[512] = "";
	cr_assert_gt(sql_migrations_count, 0);
	int n = db_migrate(ci, err, sizeof err);
	cr_assert_eq(n, (int)sql_migrations_count, "first run: %d (%s)", n, err);
	n = db_migrate(ci, err, sizeof err);
	cr_assert_eq(n, 0, "second run applied %d (%s)", n, err);

	PGconn *c = pg(ci);
	cr_assert_eq(q_int(c, "SELECT count(*) FROM schema_migrations"), (long long)sql_migrations_count);
	for (size_t i = 0; i < sql_migrations_count; i++) {
		char *name = q_str(c, "SELECT name FROM schema_migrations WHERE version = %d "
				      "AND applied_at <= now()", sql_migrations[i].version);
		cr_assert(name && strcmp(name, sql_migrations[i].name) == 0, "version %d: name %s",
			  sql_migrations[i].version, name ? name : "(missing)");
		free(name);
	}
	/* the schema the collector needs is there */
	cr_assert_eq(q_int(c, "SELECT count(*) FROM pg_partitioned_table WHERE partrelid = 'results'::regclass"), 1);
	cr_assert_eq(q_int(c, "SELECT count(*) FROM latency_buckets"), 20);
	cr_assert_eq(q_int(c, "SELECT count(*) FROM outcomes WHERE success"), 1);
	PQfinish(c);
	free(ci);

	/* two collectors migrating at once: serialised, applied exactly once */
	ci = new_db("tw_migrate2");
	struct mig_arg a = { ci, -2, "" }, b = { ci, -2, "" };
	pthread_t ta, tb;
	pthread_create(&ta, NULL, mig_thread, &a);
	pthread_create(&tb, NULL, mig_thread, &b);
	pthread_join(ta, NULL);
	pthread_join(tb, NULL);
	cr_assert(a.n >= 0 && b.n >= 0, "concurrent migrate failed: %s / %s", a.err, b.err);
	cr_assert_eq(a.n + b.n, (int)sql_migrations_count, "applied %d + %d", a.n, b.n);
	c = pg(ci);
	cr_assert_eq(q_int(c, "SELECT count(*) FROM schema_migrations"), (long long)sql_migrations_count);
	PQfinish(c);
	free(ci);
}

Test(db, migrate_reports_a_bad_conninfo)
{
	char err[512] = "";
	char *ci = NULL;
	cr_assert(asprintf(&ci, "%s dbname=tw_does_not_exist password=s3cret-pw", env("TW_PG_CONNINFO")) > 0);
	cr_assert_eq(db_migrate(ci, err, sizeof err), -1);
	cr_assert(strstr(err, "tw_does_not_exist"), "err: %s", err);
	cr_assert_null(strstr(err, "s3cret-pw"), "the password leaked into the error");
	free(ci);
}

/* -------------------------------------------------------- partitions */

static long long partitions_in(PGconn *c, int from, int to)
{
	return q_int(c, "SELECT count(*) FROM generate_series(%d, %d) AS k WHERE to_regclass('results_p' || "
			"to_char((now() AT TIME ZONE 'UTC')::date + k, 'YYYYMMDD')) IS NOT NULL", from, to);
}

Test(db, partitions_ahead_retention_and_default)
{
	char *ci = new_migrated_db("tw_parts");
	struct event_base *b = event_base_new();
	struct db_opts o = { .retention_days = 7, .partitions_ahead_days = 2 };
	struct db_pool *p = pool_up(b, ci, &o);
	PGconn *c = pg(ci);
	/* the pool maintains partitions right after its first connection */
	double end = twtime_mono_ms() + 20000;
	while (partitions_in(c, -7, 2) < 10 && twtime_mono_ms() < end)
		run_for(b, 0.1);
	cr_assert_eq(partitions_in(c, -7, 2), 10, "partitions today-7 .. today+2");
	cr_assert_eq(partitions_in(c, 3, 10), 0);

	/* rows outside every partition go to the default partition */
	Tlswatch__Result **v = gen_batch(1, 4, base_ms_now(), 2);
	v[1]->started_unix_ms = 978307200000LL;   /* 2001-01-01 */
	v[2]->started_unix_ms = 10413792000000LL; /* 2300-01-01 */
	v[3]->started_unix_ms = twtime_wall_ms() + 5LL * 86400000; /* today + 5 */
	struct cbrec rec = ingest_sync(b, p, "probe-p", "eu-west", v, 4);
	cr_assert(rec.ok, "%s", rec.err);
	cr_assert_eq(rec.inserted, 4);
	cr_assert_eq(q_int(c, "SELECT count(*) FROM results WHERE tableoid = 'results_default'::regclass"), 3);
	cr_assert_eq(q_int(c, "SELECT count(*) FROM results WHERE tableoid <> 'results_default'::regclass AND seq = 1"), 1);

	/* an old partition beyond the retention is dropped, rows with it */
	exec_ok(c, "DO $$ DECLARE d date := (now() AT TIME ZONE 'UTC')::date - 20; BEGIN "
		   "EXECUTE format('CREATE TABLE %%I PARTITION OF results FOR VALUES FROM (%%L) TO (%%L)', "
		   "'results_p' || to_char(d, 'YYYYMMDD'), d::timestamp AT TIME ZONE 'UTC', "
		   "(d + 1)::timestamp AT TIME ZONE 'UTC'); END $$");
	cr_assert_eq(partitions_in(c, -20, -20), 1);
	/* the leader's rollup_1m builder has added the rows (results' retention
	 * waits for rows still in its tail: test_rollup_1m) */
	build_minutes(c);
	char err[512] = "";
	int n = db_maintain_partitions(ci, 7, 6, err, sizeof err);
	/* results: dropped today-20; created today+3 .. +6, today+5 with its row
	 * moved out of the default partition (sql/005); the 2001 row is past the
	 * retention. n also counts rollup_1m partitions and other tables' prunes
	 * (test_retention checks those). */
	cr_assert_geq(n, 5, "maintain: %d (%s)", n, err);
	cr_assert_eq(partitions_in(c, -20, -20), 0, "the old partition is still there");
	cr_assert_eq(partitions_in(c, 3, 6), 4);
	cr_assert_eq(q_int(c, "SELECT count(*) FROM results WHERE tableoid <> 'results_default'::regclass"), 2);
	cr_assert_eq(q_int(c, "SELECT count(*) FROM results_default"), 1, "the 2300 row stays, the 2001 row goes");
	cr_assert_eq(q_int(c, "SELECT count(*) FROM results"), 3);
	/* idempotent */
	cr_assert_eq(db_maintain_partitions(ci, 7, 6, err, sizeof err), 0, "%s", err);
	free_batch(v, 4);
	PQfinish(c);
	db_pool_free(p);
	event_base_free(b);
	free(ci);
}
