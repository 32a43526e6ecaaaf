/*
 * test_rollup_1h.c - rollup_1h built off the ingest path
 * (sql/016_rollup_1h_builder.sql, collector/rollup_hourly.c, the readers in
 * collector/sli.c and the view rollup_1h_live): after ingest and the
 * builder, every rollup_1h row equals the raw rows per series-hour, counter
 * by counter, outcome by outcome, bucket by bucket (db_env.h); a late row
 * into a built hour marks it dirty and readers stay exact before its
 * rebuild and after; a collector SIGKILLed between ingest and build (and a
 * builder SIGKILLed) loses nothing; rollup_1d is not claimed over hours not
 * built. Against a real PostgreSQL started by test_rollup_1h.sh.
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
#include "rollup_daily.h"
#include "rollup_hourly.h"
#include "sli.h"

TestSuite(rollup_1h, .timeout = 300);

#define E1 "0123456789abcdef0123456789abcdef"
#define HOUR 3600000LL
/* both parts of the partition maintenance, as the collector runs them
 * (sql/020_rollup_1m_builder.sql; one transaction here, nothing else runs) */
#define MAINTAIN "(SELECT * FROM tw_maintain_minute_partitions(1) UNION ALL " \
	"SELECT * FROM tw_maintain_partitions(30, 1)) mp"
#define DAY_SUM "SELECT coalesce(sum(attempts), 0) FROM rollup_1d WHERE bucket = to_timestamp(%lld / 1000.0)"

static void put(struct event_base *b, struct db_pool *p, uint64_t first, size_t n, int64_t base)
{
	Tlswatch__Result **v = gen_batch(first, n, base, 5);
	struct cbrec rec = { 0 };
	cr_assert(db_ingest_epoch(p, "probe-h", E1, "eu-west", "1.2.3", v, n, twtime_wall_ms(),
				  on_ingest, &rec));
	cr_assert(run_until(b, cb_done, &rec, 60), "ingest callback did not fire in 60 s");
	free_batch(v, n);
	cr_assert(rec.ok, "%s", rec.err);
}

/* The builder's watermarks moved back to `at`, as for a collector that has
 * been running since then (the migration starts them at the current hour). */
static void state_at(PGconn *c, int64_t at)
{
	exec_ok(c, "UPDATE rollup_1h_state SET mark_before = to_timestamp(%lld / 1000.0), "
		   "ready_before = to_timestamp(%lld / 1000.0)", (long long)at, (long long)at);
}

static unsigned build(PGconn *c, int64_t now_ms)
{
	char err[512] = "";
	unsigned hours = 0;
	cr_assert_eq(rollup_hourly_run(c, now_ms, 1000, &hours, err, sizeof err), 0, "%s", err);
	return hours;
}

/* rollup_1h itself (the table, not the view) equals the raw rows. */
static void expect_table_exact(PGconn *c)
{
	cr_assert_eq(q_int(c, "SELECT coalesce(sum(attempts), 0) FROM rollup_1h"),
		     q_int(c, "SELECT count(*) FROM results"), "rollup_1h attempts != rows");
	cr_assert_eq(rollup_mismatches(c, "rollup_1h", "hour"), 0, "rollup_1h differs from results");
}

/* sli_query's attempts over [from, to) against the raw count. */
static void expect_sli_exact(PGconn *c, int64_t from, int64_t to)
{
	struct sli_window w = { from, to };
	struct sli_values *v;
	size_t n;
	char err[512] = "";
	cr_assert_eq(sli_query(c, NULL, &w, SLI_GROUP_NONE, &v, &n, err, sizeof err), 0, "%s", err);
	long long raw = q_int(c, "SELECT count(*) FROM results WHERE started_at >= to_timestamp(%lld / "
				 "1000.0) AND started_at < to_timestamp(%lld / 1000.0)",
			      (long long)from, (long long)to);
	cr_assert_gt(raw, 0);
	cr_assert_eq(n, 1);
	cr_assert_eq((long long)v[0].attempts, raw, "sli_query attempts %llu, raw rows %lld",
		     (unsigned long long)v[0].attempts, raw);
	sli_values_free(v, n);
}

Test(rollup_1h, built_late_rows_dirty_and_readers_exact)
{
	struct event_base *b = event_base_new();
	char *ci = new_migrated_db("r1h_build");
	struct db_opts o = { .connections = 2 };
	struct db_pool *p = pool_up(b, ci, &o);
	PGconn *c = pg(ci);
	int64_t base = base_ms_now(); /* the previous hour: rows in it and the current one */
	state_at(c, base - 3 * HOUR);

	put(b, p, 1, 3000, base);          /* hour base */
	put(b, p, 3001, 3000, base);       /* hours base and base + 1 h */
	cr_assert_eq(q_int(c, "SELECT count(*) FROM rollup_1h"), 0, "the ingest wrote rollup_1h");
	cr_assert_eq(q_int(c, "SELECT count(*) FROM rollup_1h_dirty"), 0, "unclaimed hours marked dirty");
	expect_rollups_exact(c);           /* through rollup_1h_live: from the minutes */
	expect_sli_exact(c, base, base + 2 * HOUR);

	/* the builder, as of 10 minutes after the current hour: every hour up
	 * to it built (three empty ones, then the two with rows) */
	cr_assert_eq(build(c, base + 2 * HOUR + 10 * 60000), 5);
	cr_assert_eq(q_int(c, "SELECT (extract(epoch FROM ready_before) * 1000)::bigint "
			      "FROM rollup_1h_state"), base + 2 * HOUR);
	cr_assert_gt(q_int(c, "SELECT count(*) FROM rollup_1h WHERE bucket = to_timestamp(%lld / 1000.0)",
			   (long long)base), 0);
	expect_table_exact(c);
	expect_rollups_exact(c);
	expect_sli_exact(c, base, base + 2 * HOUR);
	cr_assert_eq(build(c, base + 2 * HOUR + 10 * 60000), 0, "nothing left to build");

	/* late rows into the built hour `base` (new seqs): marked dirty, the
	 * table is stale until the rebuild, every reader exact all along */
	put(b, p, 7201, 400, base);
	/* the rows are in rollup_1m's tail: no hour is dirty until the
	 * rollup_1m builder adds them (sql/020), readers count them anyway */
	cr_assert_eq(q_int(c, "SELECT count(*) FROM rollup_1h_dirty"), 0);
	cr_assert_eq(q_int(c, "SELECT coalesce(sum(attempts), 0) FROM rollup_1h_live"),
		     q_int(c, "SELECT count(*) FROM results"));
	cr_assert_gt(rollup_mismatches(c, "rollup_1h", "hour"), 0, "the late rows changed nothing");
	expect_rollups_exact(c); /* and adds them to rollup_1m: the hour is dirty */
	cr_assert_eq(q_int(c, "SELECT count(DISTINCT hour) FROM rollup_1h_dirty"), 1);
	cr_assert_eq(q_int(c, "SELECT count(*) FROM rollup_1h_dirty WHERE hour <> "
			      "to_timestamp(%lld / 1000.0)", (long long)base), 0);
	expect_sli_exact(c, base, base + HOUR);
	expect_sli_exact(c, base - HOUR, base + 2 * HOUR);
	cr_assert_eq(build(c, base + 2 * HOUR + 10 * 60000), 1, "the dirty hour, once");
	cr_assert_eq(q_int(c, "SELECT count(*) FROM rollup_1h_dirty"), 0);
	expect_table_exact(c);
	expect_rollups_exact(c);
	expect_sli_exact(c, base, base + HOUR);

	PQfinish(c);
	db_pool_free(p);
	event_base_free(b);
	free(ci);
}

/* A collector's pool ingesting batches of 250 from seq 1 until killed. */
static void child_ingest(const char *ci, int64_t base, uint64_t total)
{
	struct event_base *b = event_base_new();
	struct db_opts o = { .connections = 2 };
	char err[256] = "";
	o.conninfo = ci;
	struct db_pool *p = db_pool_new(b, &o, err, sizeof err);
	if (!p || !run_until(b, (bool (*)(void *))db_is_ready, p, 20))
		_exit(3);
	for (uint64_t s = 1; s <= total; s += 250) {
		Tlswatch__Result **v = gen_batch(s, 250, base, 5);
		struct cbrec rec = { 0 };
		if (!db_ingest_epoch(p, "probe-h", E1, "eu-west", "1.2.3", v, 250, twtime_wall_ms(),
				     on_ingest, &rec) ||
		    !run_until(b, cb_done, &rec, 60) || !rec.ok)
			_exit(4);
		free_batch(v, 250);
	}
	_exit(0);
}

/* A builder in a child, looping until killed. */
static void child_build(const char *ci, int64_t now_ms)
{
	PGconn *c = PQconnectdb(ci);
	if (PQstatus(c) != CONNECTION_OK)
		_exit(3);
	char err[512];
	for (;;)
		if (rollup_hourly_run(c, now_ms, 1000, NULL, err, sizeof err) < 0)
			_exit(4);
}

static void kill_child(pid_t pid)
{
	cr_assert_eq(kill(pid, SIGKILL), 0);
	int st;
	cr_assert_eq(waitpid(pid, &st, 0), pid);
	cr_assert(WIFSIGNALED(st) || (WIFEXITED(st) && WEXITSTATUS(st) == 0),
		  "child failed: status %d", st);
}

/* A killed builder's backend finishes its statement before it sees the
 * closed socket and lets the builder's session lock (key 17) go. */
static void wait_builder_gone(PGconn *c)
{
	double end = twtime_mono_ms() + 30000;
	while (q_int(c, "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND "
			"classid = 1953985907 AND objid = 17 AND granted") > 0) {
		cr_assert_lt(twtime_mono_ms(), end, "a killed builder's lock still held after 30 s");
		usleep(10000);
	}
}

/* Collectors SIGKILLed mid-ingest and builders SIGKILLed mid-build, between
 * them readers exact; the replay from seq 1 lands in built hours. */
Test(rollup_1h, sigkill_between_ingest_and_build_loses_nothing)
{
	char *ci = new_migrated_db("r1h_kill");
	PGconn *c = pg(ci);
	int64_t base = base_ms_now();
	const int64_t later = base + 2 * HOUR + 10 * 60000;
	const uint64_t total = 5000;
	const long long kill_after[] = { 700, 2600 };
	state_at(c, base - 2 * HOUR);

	for (size_t k = 0; k < sizeof kill_after / sizeof kill_after[0]; k++) {
		pid_t pid = fork();
		cr_assert_geq(pid, 0);
		if (pid == 0)
			child_ingest(ci, base, total);
		double end = twtime_mono_ms() + 60000;
		while (q_int(c, "SELECT count(*) FROM results") < kill_after[k] && twtime_mono_ms() < end)
			usleep(2000);
		kill_child(pid);
		expect_rollups_exact(c);
		/* a builder killed while it works: each step is one transaction */
		pid = fork();
		cr_assert_geq(pid, 0);
		if (pid == 0)
			child_build(ci, later);
		usleep(20000 * (useconds_t)(k + 1));
		kill_child(pid);
		expect_rollups_exact(c);
		expect_sli_exact(c, base - HOUR, base + 2 * HOUR);
	}
	wait_builder_gone(c);
	build(c, later);
	expect_table_exact(c);

	/* the replay of everything from seq 1 (Acks lost with the kill) */
	struct event_base *b = event_base_new();
	struct db_opts o = { .connections = 2 };
	struct db_pool *p = pool_up(b, ci, &o);
	for (uint64_t s = 1; s <= total; s += 250)
		put(b, p, s, 250, base);
	cr_assert_eq(q_int(c, "SELECT count(*) FROM results"), (long long)total);
	expect_rollups_exact(c);
	expect_sli_exact(c, base - HOUR, base + 2 * HOUR);
	build(c, later);
	cr_assert_eq(q_int(c, "SELECT count(*) FROM rollup_1h_dirty"), 0);
	expect_table_exact(c);

	PQfinish(c);
	db_pool_free(p);
	event_base_free(b);
	free(ci);
}

/* rollup_1d claims a day only once its 24 hours are built. */
Test(rollup_1h, rollup_1d_waits_for_built_hours)
{
	struct event_base *b = event_base_new();
	char *ci = new_migrated_db("r1h_day");
	struct db_opts o = { .connections = 2 };
	struct db_pool *p = pool_up(b, ci, &o);
	PGconn *c = pg(ci);
	int64_t base = base_ms_now();
	int64_t day = base - base % (24 * HOUR);
	state_at(c, day);
	exec_ok(c, "UPDATE rollup_1d_state SET mark_before = to_timestamp(%lld / 1000.0), "
		   "ready_before = to_timestamp(%lld / 1000.0)", (long long)day, (long long)day);
	put(b, p, 1, 2000, base);

	/* a day later: the day has ended, its hours are not built */
	cr_assert_eq(q_int(c, "SELECT count(*) FROM tw_rollup_1d_claim(to_timestamp(%lld / 1000.0), "
			      "interval '15 minutes') d WHERE d IS NOT NULL",
			   (long long)(day + 25 * HOUR)), 0, "a day claimed over unbuilt hours");
	cr_assert_eq(q_int(c, "SELECT (extract(epoch FROM mark_before) * 1000)::bigint "
			      "FROM rollup_1d_state"), day);

	/* the leader's run: hours first, then the day */
	char err[512] = "";
	unsigned days = 0;
	cr_assert_eq(rollup_daily_run(c, day + 25 * HOUR, 4, &days, err, sizeof err), 0, "%s", err);
	cr_assert_eq(days, 1);
	cr_assert_geq(q_int(c, "SELECT (extract(epoch FROM ready_before) * 1000)::bigint "
			       "FROM rollup_1h_state"), day + 24 * HOUR);
	expect_table_exact(c);
	cr_assert_eq(q_int(c, "SELECT coalesce(sum(attempts), 0) FROM rollup_1d "
			      "WHERE bucket = to_timestamp(%lld / 1000.0)", (long long)day),
		     q_int(c, "SELECT count(*) FROM results WHERE started_at >= to_timestamp(%lld / 1000.0) "
			      "AND started_at < to_timestamp(%lld / 1000.0)",
			   (long long)day, (long long)(day + 24 * HOUR)));

	PQfinish(c);
	db_pool_free(p);
	event_base_free(b);
	free(ci);
}

/* Retention keeps rollup_1m's minutes of hours the builder has not built
 * (they are all a reader and the builder have), and drops them once built. */
Test(rollup_1h, retention_keeps_unbuilt_minutes)
{
	char *ci = new_migrated_db("r1h_retention");
	PGconn *c = pg(ci);
	exec_ok(c, "UPDATE retention_policy SET days = 30 WHERE name = 'rollup_1m'");
	exec_ok(c, "INSERT INTO rollup_1m (bucket, target, port, sni, region, profile, attempts, "
		   "successes, failures, outcomes, handshakes, handshake_ms_hist, handshake_ms_sum, "
		   "handshake_ms_count, mtls_attempts, mtls_failures, ocsp_stapled_count, "
		   "cipher_fallback_count, sni_mismatch_count, expiring_soon_count) "
		   "VALUES (date_trunc('hour', now(), 'UTC') - interval '35 days', 'old.example', 443, '', "
		   "'eu', 'p', 1, 1, 0, '{\"ok\": 1}', 1, '{}', 0, 0, 0, 0, 0, 0, 0, 0)");
	/* the builder is 40 days behind: the minute stays */
	exec_ok(c, "UPDATE rollup_1h_state SET mark_before = now() - interval '40 days', "
		   "ready_before = now() - interval '40 days'");
	cr_assert_eq(q_int(c, "SELECT count(*) FROM " MAINTAIN " WHERE action = 'error'"), 0);
	cr_assert_eq(q_int(c, "SELECT count(*) FROM rollup_1m WHERE target = 'old.example'"), 1,
		     "retention dropped minutes of an hour not built");
	/* built, but a late row made that hour dirty: the minute stays */
	exec_ok(c, "UPDATE rollup_1h_state SET mark_before = now(), ready_before = now()");
	exec_ok(c, "INSERT INTO rollup_1h_dirty (hour) VALUES (date_trunc('hour', now(), 'UTC') - "
		   "interval '35 days')");
	cr_assert_eq(q_int(c, "SELECT count(*) FROM " MAINTAIN " WHERE action = 'error'"), 0);
	cr_assert_eq(q_int(c, "SELECT count(*) FROM rollup_1m WHERE target = 'old.example'"), 1,
		     "retention dropped minutes of a dirty hour");
	/* rebuilt: the retention applies */
	exec_ok(c, "DELETE FROM rollup_1h_dirty");
	cr_assert_eq(q_int(c, "SELECT count(*) FROM " MAINTAIN " WHERE action = 'error'"), 0);
	cr_assert_eq(q_int(c, "SELECT count(*) FROM rollup_1m WHERE target = 'old.example'"), 0);
	PQfinish(c);
	free(ci);
}

/* A late row into an hour of a day rollup_1d already serves: until the
 * hour's rebuild (which marks the day for rollup_1d), readers take neither
 * the stale day nor the stale hour; after the leader's next run both are
 * exact again. */
Test(rollup_1h, late_row_into_a_day_of_rollup_1d)
{
	struct event_base *b = event_base_new();
	char *ci = new_migrated_db("r1h_late_day");
	struct db_opts o = { .connections = 2 };
	struct db_pool *p = pool_up(b, ci, &o);
	PGconn *c = pg(ci);
	int64_t now = twtime_wall_ms();
	int64_t day = now - now % (24 * HOUR) - 24 * HOUR; /* yesterday, 00:00 UTC */
	state_at(c, day);
	exec_ok(c, "UPDATE rollup_1d_state SET mark_before = to_timestamp(%lld / 1000.0), "
		   "ready_before = to_timestamp(%lld / 1000.0)", (long long)day, (long long)day);
	put(b, p, 1, 3000, day + 10 * HOUR);

	char err[512] = "";
	unsigned days = 0;
	cr_assert_eq(rollup_daily_run(c, day + 25 * HOUR, 4, &days, err, sizeof err), 0, "%s", err);
	cr_assert_eq(days, 1);
	cr_assert_eq(q_int(c, DAY_SUM, (long long)day), 3000);
	/* a window with the whole day: the day from rollup_1d */
	expect_sli_exact(c, day - HOUR, day + 25 * HOUR);

	put(b, p, 3001, 500, day + 10 * HOUR); /* late rows, hour 10 */
	/* in rollup_1m's tail (sql/020): the day still served by rollup_1d,
	 * readers add the tail */
	cr_assert_eq(q_int(c, "SELECT count(*) FROM rollup_1h_dirty"), 0);
	cr_assert_eq(q_int(c, DAY_SUM, (long long)day), 3000, "rollup_1d changed on the ingest path");
	expect_sli_exact(c, day - HOUR, day + 25 * HOUR);
	expect_sli_exact(c, day + 10 * HOUR, day + 11 * HOUR);
	expect_rollups_exact(c); /* adds them to rollup_1m: hour 10 dirty */
	cr_assert_gt(q_int(c, "SELECT count(*) FROM rollup_1h_dirty"), 0);
	cr_assert_eq(q_int(c, DAY_SUM, (long long)day), 3000);
	expect_sli_exact(c, day - HOUR, day + 25 * HOUR);
	expect_sli_exact(c, day + 10 * HOUR, day + 11 * HOUR);

	cr_assert_eq(rollup_daily_run(c, day + 25 * HOUR, 4, &days, err, sizeof err), 0, "%s", err);
	cr_assert_eq(days, 1, "the day recomputed after its hours' rebuild");
	cr_assert_eq(q_int(c, "SELECT count(*) FROM rollup_1h_dirty"), 0);
	cr_assert_eq(q_int(c, "SELECT count(*) FROM rollup_1d_dirty"), 0);
	cr_assert_eq(q_int(c, DAY_SUM, (long long)day), 3500);
	expect_table_exact(c);
	expect_sli_exact(c, day - HOUR, day + 25 * HOUR);

	PQfinish(c);
	db_pool_free(p);
	event_base_free(b);
	free(ci);
}

/* An hour whose minutes retention has dropped, then a late row into it (a
 * spool replayed after a long outage, a probe's clock far behind): rollup_1h
 * is the only record of that hour's earlier rows, so the builder adds the
 * late minutes to it; rebuilt from minutes alone, the hour would keep only
 * the late row. Twice, and the builder and retention run again after each. */
Test(rollup_1h, late_row_after_retention_adds_to_the_hour)
{
	char *ci = new_migrated_db("r1h_lateold");
	PGconn *c = pg(ci);
	const char *hour = "date_trunc('hour', now(), 'UTC') - interval '35 days'";
	const char *cols = "(bucket, target, port, sni, region, profile, attempts, successes, "
			   "failures, outcomes, handshakes, handshake_ms_hist, handshake_ms_sum, "
			   "handshake_ms_count, mtls_attempts, mtls_failures, ocsp_stapled_count, "
			   "cipher_fallback_count, sni_mismatch_count, expiring_soon_count, "
			   "min_days_to_expiry)";
	exec_ok(c, "UPDATE retention_policy SET days = 30 WHERE name = 'rollup_1m'");
	/* built long ago from 7 rows; its minutes went with the retention */
	exec_ok(c, "INSERT INTO rollup_1h %s VALUES (%s, 'old.example', 443, '', 'eu', 'p', 7, 5, 2, "
		   "'{\"ok\": 5, \"cert_expired\": 2}', 7, '{1,6}', 70, 7, 0, 0, 0, 0, 0, 0, 12.5)",
		cols, hour);
	cr_assert_eq(q_int(c, "SELECT count(*) FROM " MAINTAIN " WHERE action = 'error'"), 0);
	for (int late = 1; late <= 2; late++) {
		/* a late minute, as the ingest statement writes it: the row, the mark */
		exec_ok(c, "INSERT INTO rollup_1m %s VALUES (%s + interval '%d minutes', 'old.example', "
			   "443, '', 'eu', 'p', 1, 0, 1, '{\"cert_expired\": 1}', 1, '{0,1}', 20, 1, 0, "
			   "0, 0, 0, 0, 0, 3.0)", cols, hour, 10 * late);
		exec_ok(c, "INSERT INTO rollup_1h_dirty (hour) VALUES (%s)", hour);
		cr_assert_geq(build(c, twtime_wall_ms()), 1, "the dirty hour was not rebuilt");
		build(c, twtime_wall_ms());
		cr_assert_eq(q_int(c, "SELECT count(*) FROM " MAINTAIN " "
				      "WHERE action = 'error'"), 0);
		cr_assert_eq(q_int(c, "SELECT attempts FROM rollup_1h WHERE bucket = %s", hour), 7 + late,
			     "late row %d: the hour lost the rows its dropped minutes held", late);
		cr_assert_eq(q_int(c, "SELECT failures FROM rollup_1h WHERE bucket = %s", hour), 2 + late);
		cr_assert_eq(q_int(c, "SELECT (outcomes->>'cert_expired')::int FROM rollup_1h "
				      "WHERE bucket = %s", hour), 2 + late);
		cr_assert_eq(q_int(c, "SELECT (outcomes->>'ok')::int FROM rollup_1h WHERE bucket = %s",
				   hour), 5);
		cr_assert_eq(q_int(c, "SELECT handshake_ms_hist[2] FROM rollup_1h WHERE bucket = %s",
				   hour), 6 + late);
		cr_assert_eq(q_int(c, "SELECT min_days_to_expiry::int FROM rollup_1h WHERE bucket = %s",
				   hour), 3);
		cr_assert_eq(q_int(c, "SELECT count(*) FROM rollup_1h WHERE bucket = %s", hour), 1);
		cr_assert_eq(q_int(c, "SELECT count(*) FROM rollup_1h_live WHERE bucket = %s", hour), 1);
		cr_assert_eq(q_int(c, "SELECT attempts FROM rollup_1h_live WHERE bucket = %s", hour),
			     7 + late);
	}
	PQfinish(c);
	free(ci);
}
