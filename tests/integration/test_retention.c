/*
 * test_retention.c - every table that grows has a retention
 * (sql/005_retention.sql, collector/db_schema.c): rows seeded around the
 * real now in every table, the configured policy stored as `migrate` stores
 * it, the partition maintenance run as every collector runs it hourly, and
 * then exactly what must be gone is gone and what must stay stays.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>
#include <libpq-fe.h>

#include "db.h"
#include "db_schema.h"
#include "proc.h"
#include "sql_migrations.h"

TestSuite(retention, .timeout = 120);

static char *new_db(const char *name, PGconn **out)
{
	PGconn *c = tw_pg(NULL);
	cr_assert(c, "run through tests/integration/test_retention.sh");
	cr_assert_eq(tw_pg_exec(c, tw_fmt("CREATE DATABASE %s", name)), 0);
	PQfinish(c);
	char err[512] = "";
	char *ci = NULL;
	cr_assert(asprintf(&ci, "%s dbname=%s", getenv("TW_PG_CONNINFO"), name) > 0);
	cr_assert_eq(db_migrate(ci, err, sizeof err), (int)sql_migrations_count, "%s", err);
	*out = tw_pg(name);
	cr_assert(*out);
	cr_assert_eq(tw_pg_exec(*out, "SET TimeZone = 'UTC'"), 0);
	return ci;
}

static void sql(PGconn *c, const char *s)
{
	cr_assert_eq(tw_pg_exec(c, s), 0, "%s", s);
}

/* The first value of s as text (static ring of tw_fmt buffers). */
static const char *str(PGconn *c, const char *s)
{
	PGresult *r = PQexec(c, s);
	cr_assert(PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1, "%s: %s", s,
		  PQresultErrorMessage(r));
	const char *v = tw_fmt("%s", PQgetvalue(r, 0, 0));
	PQclear(r);
	return v;
}

/* Comma-separated ids (or any text column) of a table, ordered. */
#define expect_list(c, expr, table, want) \
	cr_assert_str_eq(str((c), "SELECT coalesce(string_agg(" expr ", ',' ORDER BY " expr "), '') " \
			 "FROM " table), (want), table)

static long long n(PGconn *c, const char *s)
{
	long long v = tw_pg_ll(c, s);
	cr_assert_geq(v, 0, "%s", s);
	return v;
}

/* One results row, seq, started `at` (an SQL timestamptz expression). */
static void result_at(PGconn *c, int seq, const char *at)
{
	sql(c, tw_fmt("INSERT INTO results (probe_id, seq, region, started_at, received_at, target, "
		      "port, profile, outcome) VALUES ('p1', %d, 'eu', %s, now(), 'a.example', 443, "
		      "'modern', 'ok')", seq, at));
}

/* One rollup row (table rollup_1m or rollup_1h) at bucket `at`. */
static void rollup_at(PGconn *c, const char *table, const char *target, const char *at)
{
	sql(c, tw_fmt("INSERT INTO %s (bucket, target, port, sni, region, profile, service, "
		      "attempts, successes, failures, outcomes, handshakes, handshake_ms_hist, "
		      "handshake_ms_sum, handshake_ms_count, mtls_attempts, mtls_failures, "
		      "ocsp_stapled_count, cipher_fallback_count, sni_mismatch_count, "
		      "expiring_soon_count) VALUES (date_trunc('minute', %s), '%s', 443, '', 'eu', "
		      "'modern', NULL, 1, 1, 0, '{}', 1, '{}', 0, 0, 0, 0, 0, 0, 0, 0)",
		      table, at, target));
}

/* The day partition of `table` for today + k exists. */
static bool day_partition(PGconn *c, const char *table, int k)
{
	return n(c, tw_fmt("SELECT count(*) FROM pg_inherits i JOIN pg_class p ON p.oid = i.inhrelid "
			   "WHERE i.inhparent = '%s'::regclass AND p.relname = '%s_p' || "
			   "to_char((now() AT TIME ZONE 'UTC')::date + %d, 'YYYYMMDD')",
			   table, table, k)) == 1;
}

Test(retention, results_default_rows_move_into_their_new_partition_and_old_ones_go)
{
	PGconn *c;
	char *ci = new_db("ret_results", &c);
	/* nothing maintained yet: every row sits in the default partitions */
	result_at(c, 1, "now()");
	result_at(c, 2, "now() + interval '1 day'");          /* tomorrow */
	result_at(c, 3, "now() - interval '20 days'");        /* beyond 7 days */
	result_at(c, 4, "now() + interval '30 days'");        /* beyond ahead: stays in default */
	rollup_at(c, "rollup_1m", "today", "now()");
	rollup_at(c, "rollup_1m", "tomorrow", "now() + interval '1 day'");
	rollup_at(c, "rollup_1m", "two_days", "now() - interval '2 days'");
	rollup_at(c, "rollup_1m", "five_days", "now() - interval '5 days'");
	cr_assert_eq(n(c, "SELECT count(*) FROM results_default"), 4);
	cr_assert_eq(n(c, "SELECT count(*) FROM rollup_1m_default"), 4);

	char err[512] = "";
	struct db_schema_retention r = { .rollup_1m = 3 };
	cr_assert_eq(db_schema_store_retention(ci, &r, err, sizeof err), 0, "%s", err);
	int made = db_maintain_partitions(ci, 7, 2, err, sizeof err);
	/* results: 10 days created (today-7 .. today+2); rollup_1m: 6; one
	 * prune of each default partition */
	cr_assert_eq(made, 10 + 6 + 2, "maintain: %d (%s)", made, err);

	/* tomorrow's partition exists and holds the row that was in the default */
	cr_assert(day_partition(c, "results", 1), "no partition for tomorrow");
	cr_assert_eq(n(c, "SELECT seq FROM results WHERE tableoid = (SELECT oid FROM pg_class WHERE "
			  "relname = 'results_p' || to_char((now() AT TIME ZONE 'UTC')::date + 1, "
			  "'YYYYMMDD'))"), 2);
	cr_assert_eq(n(c, "SELECT count(*) FROM results WHERE seq = 1 AND "
			  "tableoid <> 'results_default'::regclass"), 1);
	/* the attached partition has the key: a replay of the moved row dedupes */
	sql(c, "INSERT INTO results SELECT * FROM results WHERE seq = 2 "
	       "ON CONFLICT (probe_id, spool_epoch, seq, started_at) DO NOTHING");
	cr_assert_eq(n(c, "SELECT count(*) FROM results WHERE seq = 2"), 1);
	/* the default keeps only the row beyond the partitions; the 20-day-old one is gone */
	cr_assert_eq(n(c, "SELECT count(*) FROM results_default"), 1);
	cr_assert_eq(n(c, "SELECT seq FROM results_default"), 4);
	cr_assert_eq(n(c, "SELECT count(*) FROM results"), 3);
	/* rollup_1m: 3 days back, partitions; the 5-day-old row is gone */
	for (int k = -3; k <= 2; k++)
		cr_assert(day_partition(c, "rollup_1m", k), "no rollup_1m partition for today%+d", k);
	cr_assert(!day_partition(c, "rollup_1m", -4));
	cr_assert_eq(n(c, "SELECT count(*) FROM rollup_1m_default"), 0);
	cr_assert_eq(n(c, "SELECT count(*) FROM rollup_1m WHERE target IN ('today', 'tomorrow', "
			  "'two_days')"), 3);
	cr_assert_eq(n(c, "SELECT count(*) FROM rollup_1m WHERE target = 'five_days'"), 0);

	/* a shorter retention drops whole partitions (not rows), rows with them */
	r.rollup_1m = 1;
	cr_assert_eq(db_schema_store_retention(ci, &r, err, sizeof err), 0, "%s", err);
	rollup_at(c, "rollup_1m", "today2", "now()");
	made = db_maintain_partitions(ci, 1, 2, err, sizeof err);
	/* results: today-7 .. today-2 (6); rollup_1m: today-3, today-2 (2) */
	cr_assert_eq(made, 6 + 2, "maintain: %d (%s)", made, err);
	cr_assert(!day_partition(c, "rollup_1m", -2));
	cr_assert(day_partition(c, "rollup_1m", -1));
	cr_assert_eq(n(c, "SELECT count(*) FROM rollup_1m WHERE target = 'two_days'"), 0);
	cr_assert_eq(n(c, "SELECT count(*) FROM rollup_1m WHERE target IN ('today', 'today2')"), 2);
	cr_assert(!day_partition(c, "results", -2));
	cr_assert_eq(n(c, "SELECT count(*) FROM results"), 3);
	/* idempotent */
	cr_assert_eq(db_maintain_partitions(ci, 1, 2, err, sizeof err), 0, "%s", err);
	PQfinish(c);
	free(ci);
}

/* An alert: id, state, created/resolved `days` ago (SQL interval text). */
static void alert(PGconn *c, int id, const char *state, const char *ago)
{
	sql(c, tw_fmt("INSERT INTO alerts (id, dedup_key, rule, severity, state, subject, summary, "
		      "created_at, pending_since, firing_since, resolved_at, last_eval_at, "
		      "notified_state) VALUES (%d, 'k%d', 'r', 'ticket', '%s', 's', 's', "
		      "now() - interval '%s', now() - interval '%s', now() - interval '%s', "
		      "%s, now(), %s)", id, id, state, ago, ago, ago,
		      strcmp(state, "resolved") ? "NULL" : tw_fmt("now() - interval '%s'", ago),
		      strcmp(state, "resolved") ? "'firing'" : "'resolved'"));
}

static void event(PGconn *c, int id, int alert_id, const char *ago)
{
	sql(c, tw_fmt("INSERT INTO alert_events (id, alert_id, at, to_state) VALUES "
		      "(%d, %d, now() - interval '%s', 'firing')", id, alert_id, ago));
}

/* An outbox row for (alert, event), a delivery in `state` and one attempt,
 * all `ago`. */
static void notification(PGconn *c, int id, int alert_id, int event_id, const char *state,
			 const char *ago)
{
	sql(c, tw_fmt("INSERT INTO notification_outbox (id, alert_id, event_id, action, severity, "
		      "dedup_key, payload, created_at, routed_at) VALUES (%d, %d, %d, 'trigger', "
		      "'ticket', 'k', '{}', now() - interval '%s', now() - interval '%s')",
		      id, alert_id, event_id, ago, ago));
	sql(c, tw_fmt("INSERT INTO notification_deliveries (id, outbox_id, sink, idempotency_key, "
		      "state, created_at) VALUES (%d, %d, 'pager', 'idem%d', '%s', "
		      "now() - interval '%s')", id, id, id, state, ago));
	sql(c, tw_fmt("INSERT INTO notification_attempts (delivery_id, at, http_status) VALUES "
		      "(%d, now() - interval '%s', 500)", id, ago));
}

Test(retention, every_other_table_is_pruned_by_its_own_days)
{
	PGconn *c;
	char *ci = new_db("ret_tables", &c);
	/* rollup_1h: 10 days */
	rollup_at(c, "rollup_1h", "old", "now() - interval '11 days'");
	rollup_at(c, "rollup_1h", "kept", "now() - interval '9 days'");

	/* alerts (alert_events: 5 days, notifications: 4 days) */
	alert(c, 1, "resolved", "10 days");     /* everything old and finished: all goes */
	event(c, 11, 1, "10 days");
	notification(c, 101, 1, 11, "delivered", "10 days");
	alert(c, 2, "firing", "10 days");       /* still open: its old events go, it stays */
	event(c, 21, 2, "10 days");
	event(c, 22, 2, "1 day");
	alert(c, 3, "resolved", "10 days");     /* a delivery still pending: all stays */
	event(c, 31, 3, "10 days");
	notification(c, 103, 3, 31, "pending", "10 days");
	alert(c, 4, "resolved", "2 days");      /* recent: stays */
	event(c, 41, 4, "2 days");
	notification(c, 104, 4, 41, "failed", "2 days");
	alert(c, 5, "resolved", "6 days");      /* events gone, its notification is younger */
	event(c, 51, 5, "6 days");
	notification(c, 105, 5, 51, "delivered", "3 days");

	/* evaluation_runs: 2 days */
	sql(c, "INSERT INTO evaluation_runs (collector_id, eval_at, started_at) VALUES "
	       "('old', now(), now() - interval '3 days'), ('kept', now(), now() - interval '1 day')");

	/* certificate_sightings: 6 days */
	sql(c, "INSERT INTO certificates (fingerprint_sha256, first_seen) VALUES "
	       "('gone', now() - interval '30 days'), ('kept', now() - interval '30 days'), "
	       "('mixed', now() - interval '30 days'), ('new', now() - interval '1 day')");
	sql(c, "INSERT INTO certificate_sightings (fingerprint_sha256, target, port, region, "
	       "first_seen, last_seen) VALUES "
	       "('gone', 'a', 443, 'eu', now() - interval '30 days', now() - interval '7 days'), "
	       "('kept', 'a', 443, 'eu', now() - interval '30 days', now() - interval '1 day'), "
	       "('mixed', 'a', 443, 'eu', now() - interval '30 days', now() - interval '8 days'), "
	       "('mixed', 'b', 443, 'eu', now() - interval '30 days', now() - interval '2 days')");

	char err[512] = "";
	struct db_schema_retention r = { .rollup_1h = 10, .alert_events = 5, .notifications = 4,
				  .evaluation_runs = 2, .certificate_sightings = 6 };
	cr_assert_eq(db_schema_store_retention(ci, &r, err, sizeof err), 0, "%s", err);
	cr_assert_eq(n(c, "SELECT days FROM retention_policy WHERE name = 'notifications'"), 4);
	cr_assert_eq(n(c, "SELECT days FROM retention_policy WHERE name = 'rollup_1m'"), 30,
		     "an unset field stores the default");
	cr_assert_geq(db_maintain_partitions(ci, 30, 3, err, sizeof err), 0, "%s", err);

	cr_assert_eq(n(c, "SELECT count(*) FROM rollup_1h WHERE target = 'old'"), 0);
	cr_assert_eq(n(c, "SELECT count(*) FROM rollup_1h WHERE target = 'kept'"), 1);

	expect_list(c, "id::text", "alerts", "2,3,4,5");
	expect_list(c, "id::text", "alert_events", "22,31,41,51");
	expect_list(c, "id::text", "notification_outbox", "103,104,105");
	expect_list(c, "outbox_id::text", "notification_deliveries", "103,104,105");
	/* the pending delivery's 10-day-old attempt is history past its retention */
	expect_list(c, "delivery_id::text", "notification_attempts", "104,105");

	cr_assert_eq(n(c, "SELECT count(*) FROM evaluation_runs WHERE collector_id = 'old'"), 0);
	cr_assert_eq(n(c, "SELECT count(*) FROM evaluation_runs WHERE collector_id = 'kept'"), 1);

	expect_list(c, "fingerprint_sha256 || '/' || target", "certificate_sightings",
		    "kept/a,mixed/b");
	expect_list(c, "fingerprint_sha256", "certificates", "kept,mixed,new");

	/* the second run finds nothing more to do */
	cr_assert_eq(db_maintain_partitions(ci, 30, 3, err, sizeof err), 0, "%s", err);
	PQfinish(c);
	free(ci);
}
