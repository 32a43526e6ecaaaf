/*
 * test_rollup_1m.c - rollup_1m built off the ingest path
 * (sql/020_rollup_1m_builder.sql, collector/rollup_minutely.c): the ingest
 * writes results only, each row numbered by its transaction; a claim never
 * passes an ingest transaction still open; readers (tw_rollup_1m_live,
 * rollup_1h_live, sli_query) count every row exactly once before, during and
 * after the builder's steps, with ingest running alongside; the step marks
 * the built hours it adds minutes to dirty; rows written without a number
 * (older collectors) are never counted twice; the tail read as rows (sql/021,
 * the /metrics refresh) is the tail read as minutes; results' retention
 * waits for rows still in the tail; a claim behind a long ingest
 * transaction gives up and the next run claims. Against a real PostgreSQL
 * started by test_rollup_1m.sh.
 */
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <event2/event.h>
#include <libpq-fe.h>

#include "db.h"
#include "db_env.h"
#include "rollup_minutely.h"
#include "sli.h"
#include "twtime.h"

TestSuite(rollup_1m, .timeout = 300);

#define E1 "0123456789abcdef0123456789abcdef"
#define HOUR 3600000LL
/* every reader's count in one statement (one snapshot) */
#define LIVE_MINUS_RAW                                                              \
	"SELECT (SELECT coalesce(sum(attempts), 0) FROM "                           \
	"tw_rollup_1m_live('-infinity', 'infinity')) - (SELECT count(*) FROM results)"
#define HOURS_MINUS_RAW                                                             \
	"SELECT (SELECT coalesce(sum(attempts), 0) FROM rollup_1h_live) - "        \
	"(SELECT count(*) FROM results)"
#define TAIL "SELECT count(*) FROM results WHERE ingest_batch > (SELECT ready_batch FROM rollup_1m_state)"
/* The tail as rows (sql/021, the /metrics refresh) against the tail as
 * minutes (tw_rollup_1m_of, every other reader): (series, minute, outcome)
 * groups whose counts differ, 0 when the two definitions agree. */
#define TAIL_ROWS_MISMATCHES                                                        \
	"SELECT count(*) FROM (SELECT target, port, coalesce(sni, '') AS sni, region, "  \
	"profile, date_trunc('minute', started_at, 'UTC') AS bucket, outcome, count(*) AS n " \
	"FROM tw_rollup_1m_tail_rows('-infinity', 'infinity') GROUP BY 1, 2, 3, 4, 5, 6, 7) a " \
	"FULL JOIN (SELECT m.target, m.port, m.sni, m.region, m.profile, m.bucket, "    \
	"o.key AS outcome, o.value::bigint AS n FROM tw_rollup_1m_of(NULL, NULL, "       \
	"'-infinity', 'infinity') m, jsonb_each_text(m.outcomes) o) b "                 \
	"USING (target, port, sni, region, profile, bucket, outcome) "                  \
	"WHERE a.n IS DISTINCT FROM b.n"
#define TAIL_ROWS "SELECT count(*) FROM tw_rollup_1m_tail_rows('-infinity', 'infinity')"

static void put(struct event_base *b, struct db_pool *p, uint64_t first, size_t n, int64_t base)
{
	Tlswatch__Result **v = gen_batch(first, n, base, 5);
	struct cbrec rec = { 0 };
	cr_assert(db_ingest_epoch(p, "probe-m", E1, "eu-west", "1.2.3", v, n, twtime_wall_ms(),
				  on_ingest, &rec));
	cr_assert(run_until(b, cb_done, &rec, 60), "ingest callback did not fire in 60 s");
	free_batch(v, n);
	cr_assert(rec.ok, "%s", rec.err);
}

/* One result row written as an ingest transaction writes it (its number
 * through the column's default, when the transaction drew one), by hand on
 * k, which may be inside a transaction. */
static void put_by_hand(PGconn *k, const char *probe, int seq, const char *target, int64_t ms)
{
	exec_ok(k, "INSERT INTO results (probe_id, seq, region, started_at, received_at, target, "
		   "port, profile, outcome) VALUES ('%s', %d, 'eu-west', to_timestamp(%lld / 1000.0), "
		   "now(), '%s', 443, 'modern', 'ok')", probe, seq, (long long)ms, target);
}

static long long run_builder(PGconn *c)
{
	char err[512] = "";
	long long rows = -1;
	cr_assert_eq(rollup_minutely_run(c, 100000, &rows, err, sizeof err), 0, "%s", err);
	return rows;
}

/* The ingest writes no rollup row; readers count the tail; the builder adds
 * it in steps of ROLLUP_MINUTELY_CHUNK transactions, row for row. */
Test(rollup_1m, ingest_writes_results_only_and_the_builder_adds_them)
{
	struct event_base *b = event_base_new();
	char *ci = new_migrated_db("r1m_build");
	struct db_opts o = { .connections = 2 };
	struct db_pool *p = pool_up(b, ci, &o);
	PGconn *c = pg(ci);
	int64_t base = base_ms_now();
	for (uint64_t s = 1; s <= 60 * 40; s += 40)   /* 60 transactions: two steps */
		put(b, p, s, 40, base);
	cr_assert_eq(q_int(c, "SELECT count(*) FROM results"), 2400);
	cr_assert_eq(q_int(c, "SELECT count(*) FROM rollup_1m"), 0, "the ingest wrote rollup_1m");
	cr_assert_eq(q_int(c, "SELECT count(*) FROM results WHERE ingest_batch IS NULL"), 0,
		     "a row without its transaction's number");
	cr_assert_eq(q_int(c, "SELECT count(DISTINCT ingest_batch) FROM results"), 60);
	cr_assert_eq(q_int(c, TAIL), 2400);
	cr_assert_eq(q_int(c, TAIL_ROWS), 2400);
	cr_assert_eq(q_int(c, TAIL_ROWS_MISMATCHES), 0, "the tail's rows and minutes disagree");
	cr_assert_eq(q_int(c, LIVE_MINUS_RAW), 0);
	cr_assert_eq(q_int(c, HOURS_MINUS_RAW), 0);

	cr_assert_eq(run_builder(c), 2400);
	cr_assert_eq(q_int(c, TAIL), 0);
	cr_assert_eq(q_int(c, TAIL_ROWS), 0, "rows already in rollup_1m are in the tail");
	cr_assert_eq(q_int(c, "SELECT mark_batch - ready_batch FROM rollup_1m_state"), 0);
	cr_assert_eq(rollup_mismatches(c, "rollup_1m", "minute"), 0, "rollup_1m differs from results");
	cr_assert_eq(q_int(c, LIVE_MINUS_RAW), 0);
	cr_assert_eq(run_builder(c), 0, "nothing new: nothing added");

	/* more rows into the same minutes: merged into the built rows */
	put(b, p, 2401, 500, base);
	cr_assert_eq(q_int(c, LIVE_MINUS_RAW), 0);
	cr_assert_eq(q_int(c, TAIL_ROWS), 500);
	cr_assert_eq(q_int(c, TAIL_ROWS_MISMATCHES), 0);
	cr_assert_eq(run_builder(c), 500);
	cr_assert_eq(rollup_mismatches(c, "rollup_1m", "minute"), 0, "merge differs from results");
	/* and a replay adds nothing (no new row, no tail) */
	put(b, p, 2401, 500, base);
	cr_assert_eq(q_int(c, TAIL), 0);
	cr_assert_eq(run_builder(c), 0);
	cr_assert_eq(rollup_mismatches(c, "rollup_1m", "minute"), 0);

	PQfinish(c);
	db_pool_free(p);
	event_base_free(b);
	free(ci);
}

/* A claim waits for an ingest transaction that drew its number before it:
 * the rows of an open transaction are never skipped by the watermark. */
Test(rollup_1m, claim_waits_for_open_ingest_transactions)
{
	char *ci = new_migrated_db("r1m_claim");
	PGconn *ing = pg(ci), *bld = pg(ci), *c = pg(ci);
	int64_t base = base_ms_now();
	/* an ingest transaction by hand, as db_ingest.c runs it: the number
	 * first (db_sql_lock), then a row through the column's default */
	exec_ok(ing, "BEGIN");
	long long n1 = q_int(ing, "SELECT tw_ingest_batch()");
	put_by_hand(ing, "probe-x", 1, "open.example", base);
	cr_assert_eq(q_int(ing, "SELECT ingest_batch FROM results WHERE probe_id = 'probe-x'"), n1);

	/* the claim, asynchronously: it must still wait 500 ms later */
	cr_assert(PQsendQuery(bld, "SELECT tw_rollup_1m_claim()"));
	usleep(500000);
	cr_assert(PQconsumeInput(bld));
	cr_assert(PQisBusy(bld), "the claim passed an open ingest transaction");
	cr_assert_eq(q_int(c, "SELECT mark_batch FROM rollup_1m_state"), 0);
	/* readers meanwhile see nothing uncommitted, and nothing twice */
	cr_assert_eq(q_int(c, LIVE_MINUS_RAW), 0);

	exec_ok(ing, "COMMIT");
	PGresult *r = PQgetResult(bld);
	cr_assert_eq(PQresultStatus(r), PGRES_TUPLES_OK, "%s", PQresultErrorMessage(r));
	cr_assert_geq(atoll(PQgetvalue(r, 0, 0)), n1, "claimed below the committed number");
	PQclear(r);
	while ((r = PQgetResult(bld)))
		PQclear(r);
	cr_assert_eq(run_builder(bld), 1, "the open transaction's row, once committed");
	cr_assert_eq(q_int(c, "SELECT sum(attempts) FROM rollup_1m WHERE target = 'open.example'"), 1);
	cr_assert_eq(q_int(c, LIVE_MINUS_RAW), 0);

	/* a rolled back transaction leaves a gap in the numbers, nothing else */
	exec_ok(ing, "BEGIN");
	cr_assert_gt(q_int(ing, "SELECT tw_ingest_batch()"), n1);
	put_by_hand(ing, "probe-x", 2, "open.example", base);
	exec_ok(ing, "ROLLBACK");
	cr_assert_eq(run_builder(bld), 0);
	cr_assert_eq(q_int(c, "SELECT mark_batch - ready_batch FROM rollup_1m_state"), 0);

	/* a row written without a number (a collector older than sql/020,
	 * which upserts rollup_1m itself) is never in the tail */
	put_by_hand(ing, "probe-old", 1, "old.example", base);
	cr_assert_eq(q_int(c, "SELECT count(*) FROM results WHERE ingest_batch IS NULL"), 1);
	cr_assert_eq(q_int(c, TAIL), 0);
	cr_assert_eq(q_int(c, TAIL_ROWS), 0, "a row without a number is in the tail's rows");
	cr_assert_eq(run_builder(bld), 0);
	cr_assert_eq(q_int(c, "SELECT count(*) FROM rollup_1m WHERE target = 'old.example'"), 0);
	PQfinish(ing);
	PQfinish(bld);
	PQfinish(c);
	free(ci);
}

/* A claim behind an ingest transaction that stays open gives up after its
 * lock_timeout (5 s): that run of the builder fails with the reason, moves
 * nothing, and the ingest transactions that queued behind the claim go on;
 * the next run claims and adds everything once the transaction ended. */
Test(rollup_1m, claim_gives_up_behind_a_long_ingest_transaction)
{
	char *ci = new_migrated_db("r1m_claim_timeout");
	PGconn *ing = pg(ci), *ing2 = pg(ci), *bld = pg(ci), *c = pg(ci);
	int64_t base = base_ms_now();
	exec_ok(ing, "BEGIN");
	long long n1 = q_int(ing, "SELECT tw_ingest_batch()");
	put_by_hand(ing, "probe-long", 1, "long.example", base);

	/* another ingest transaction starts while the claim waits: it queues
	 * behind the claim's request, and must go on once the claim gave up */
	char err[512] = "";
	long long rows = -1;
	cr_assert(PQsendQuery(ing2, "BEGIN; SELECT pg_sleep(1); SELECT tw_ingest_batch()"));
	int64_t t0 = twtime_wall_ms();
	int rc = rollup_minutely_run(bld, 100000, &rows, err, sizeof err);
	int64_t waited = twtime_wall_ms() - t0;
	cr_assert_eq(rc, -1, "the claim passed an open ingest transaction");
	cr_assert(strstr(err, "lock timeout"), "the reason: %s", err);
	cr_assert_geq(waited, 4500, "gave up after %lld ms, before its lock_timeout", (long long)waited);
	cr_assert_eq(q_int(c, "SELECT mark_batch FROM rollup_1m_state"), 0, "a failed claim moved the mark");
	cr_assert_eq(q_int(c, LIVE_MINUS_RAW), 0);

	/* the queued ingest transaction got its number after the claim gave up */
	PGresult *r;
	long long n2 = -1;
	while ((r = PQgetResult(ing2))) {
		cr_assert(PQresultStatus(r) == PGRES_TUPLES_OK || PQresultStatus(r) == PGRES_COMMAND_OK,
			  "%s", PQresultErrorMessage(r));
		if (PQresultStatus(r) == PGRES_TUPLES_OK && PQnfields(r) == 1 &&
		    strcmp(PQfname(r, 0), "tw_ingest_batch") == 0)
			n2 = atoll(PQgetvalue(r, 0, 0));
		PQclear(r);
	}
	cr_assert_gt(n2, n1, "the ingest transaction behind the claim did not go on");
	put_by_hand(ing2, "probe-next", 1, "long.example", base);
	exec_ok(ing2, "COMMIT");
	exec_ok(ing, "COMMIT");

	cr_assert_eq(run_builder(bld), 2, "the next run adds both transactions' rows");
	cr_assert_eq(q_int(c, "SELECT sum(attempts) FROM rollup_1m WHERE target = 'long.example'"), 2);
	cr_assert_eq(q_int(c, LIVE_MINUS_RAW), 0);
	PQfinish(ing);
	PQfinish(ing2);
	PQfinish(bld);
	PQfinish(c);
	free(ci);
}

/* An ingesting child and a builder in this process: after every builder run
 * the readers' counts equal the raw count in one snapshot, and at the end
 * every row is in rollup_1m exactly once. */
Test(rollup_1m, exact_at_every_instant_while_ingest_runs)
{
	char *ci = new_migrated_db("r1m_race");
	PGconn *c = pg(ci), *bld = pg(ci);
	int64_t base = base_ms_now();
	const uint64_t total = 12000;
	pid_t pid = fork();
	cr_assert_neq(pid, -1);
	if (pid == 0) {
		struct event_base *b = event_base_new();
		struct db_opts o = { .connections = 3 };
		char err[256] = "";
		o.conninfo = ci;
		struct db_pool *p = db_pool_new(b, &o, err, sizeof err);
		if (!p || !run_until(b, (bool (*)(void *))db_is_ready, p, 20))
			_exit(3);
		for (uint64_t s = 1; s <= total; s += 200) {
			Tlswatch__Result **v = gen_batch(s, 200, base, 7);
			struct cbrec rec = { 0 };
			if (!db_ingest_epoch(p, "probe-r", E1, "eu-west", "1.2.3", v, 200,
					     twtime_wall_ms(), on_ingest, &rec) ||
			    !run_until(b, cb_done, &rec, 60) || !rec.ok)
				_exit(4);
			free_batch(v, 200);
		}
		_exit(0);
	}
	int runs = 0, st;
	long long added = 0;
	for (;;) {
		added += run_builder(bld);
		runs++;
		cr_assert_eq(q_int(c, LIVE_MINUS_RAW), 0, "minutes off after builder run %d", runs);
		cr_assert_eq(q_int(c, HOURS_MINUS_RAW), 0, "hours off after builder run %d", runs);
		if (waitpid(pid, &st, WNOHANG) == pid)
			break;
	}
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "ingest child status %d", st);
	added += run_builder(bld);
	cr_assert_gt(runs, 2, "the builder never ran alongside the ingest");
	cr_assert_eq(q_int(c, "SELECT count(*) FROM results"), (long long)total);
	cr_assert_eq(added, (long long)total, "the builder added %lld rows", added);
	cr_assert_eq(rollup_mismatches(c, "rollup_1m", "minute"), 0, "rollup_1m differs from results");
	PQfinish(c);
	PQfinish(bld);
	free(ci);
}

/* Minutes added to an hour rollup_1h has built: the step marks it dirty
 * (under 016's protocol), so the hour's readers and its rebuild count it. */
Test(rollup_1m, step_marks_built_hours_dirty)
{
	struct event_base *b = event_base_new();
	char *ci = new_migrated_db("r1m_dirty");
	struct db_opts o = { .connections = 2 };
	struct db_pool *p = pool_up(b, ci, &o);
	PGconn *c = pg(ci);
	int64_t base = base_ms_now() - 2 * HOUR; /* hours the builder may claim */
	/* rollup_1h claimed and built up to the current hour */
	exec_ok(c, "UPDATE rollup_1h_state SET mark_before = date_trunc('hour', now(), 'UTC'), "
		   "ready_before = date_trunc('hour', now(), 'UTC')");
	put(b, p, 1, 300, base);
	cr_assert_eq(q_int(c, "SELECT count(*) FROM rollup_1h_dirty"), 0, "the ingest marked hours");
	cr_assert_eq(q_int(c, HOURS_MINUS_RAW), 0, "rollup_1h_live misses the tail");
	run_builder(c);
	cr_assert_gt(q_int(c, "SELECT count(DISTINCT hour) FROM rollup_1h_dirty"), 0,
		     "minutes added to built hours, none marked dirty");
	cr_assert_eq(q_int(c, "SELECT count(*) FROM rollup_1h_dirty WHERE hour >= "
			      "date_trunc('hour', now(), 'UTC')"), 0, "an hour not built marked dirty");
	cr_assert_eq(q_int(c, HOURS_MINUS_RAW), 0);
	PQfinish(c);
	db_pool_free(p);
	event_base_free(b);
	free(ci);
}

/* results' retention leaves a partition alone while a row of it is still
 * in the tail, and applies once the builder has added it. */
Test(rollup_1m, retention_waits_for_the_tail)
{
	char *ci = new_migrated_db("r1m_retention");
	PGconn *c = pg(ci), *ing = pg(ci);
	exec_ok(c, "SELECT count(*) FROM tw_maintain_partitions(3, 1)");
	/* a late row 5 days old (into results_default), by an ingest
	 * transaction, not added yet */
	exec_ok(ing, "BEGIN");
	q_int(ing, "SELECT tw_ingest_batch()");
	exec_ok(ing, "INSERT INTO results (probe_id, seq, region, started_at, received_at, target, "
		     "port, profile, outcome) VALUES ('probe-l', 1, 'eu-west', now() - interval '5 days', "
		     "now(), 'late.example', 443, 'modern', 'ok')");
	exec_ok(ing, "COMMIT");
	cr_assert_eq(q_int(c, TAIL), 1);
	cr_assert_eq(q_int(c, "SELECT count(*) FROM tw_maintain_partitions(3, 1) "
			      "WHERE action = 'deferred'"), 1, "retention did not wait for the tail");
	cr_assert_eq(q_int(c, "SELECT count(*) FROM results WHERE target = 'late.example'"), 1,
		     "a row still in the tail was deleted");
	cr_assert_eq(run_builder(c), 1);
	cr_assert_eq(q_int(c, "SELECT sum(attempts) FROM rollup_1m WHERE target = 'late.example'"), 1);
	cr_assert_eq(q_int(c, "SELECT count(*) FROM tw_maintain_partitions(3, 1) "
			      "WHERE action = 'deferred'"), 0);
	cr_assert_eq(q_int(c, "SELECT count(*) FROM results WHERE target = 'late.example'"), 0,
		     "retention not applied once the row was added");
	PQfinish(c);
	PQfinish(ing);
	free(ci);
}
