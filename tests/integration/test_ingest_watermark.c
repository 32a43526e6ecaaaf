/*
 * test_ingest_watermark.c - the ingest transaction's dedupe by the spool
 * watermark (collector/db_ingest.c, db_plan.c, db_sql.c; issue 11): rows
 * above probe_spools.last_seq are COPY'd straight into results, rows at or
 * below it are dropped exactly when their key is stored, rollups and the
 * small tables come from the rows actually inserted. Each test ends with
 * rollup_1m / rollup_1h compared to the raw rows per series-minute and
 * series-hour (db_env.h). Against a real PostgreSQL started by
 * test_ingest_watermark.sh.
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

TestSuite(ingest_watermark, .timeout = 300);

#define E1 "0123456789abcdef0123456789abcdef"
#define E2 "fedcba9876543210fedcba9876543210"

static struct cbrec put(struct event_base *b, struct db_pool *p, const char *probe,
			const char *epoch, uint64_t first, size_t n, int64_t base)
{
	Tlswatch__Result **v = gen_batch(first, n, base, 5);
	struct cbrec rec = { 0 };
	struct db_job *j = db_ingest_epoch(p, probe, epoch, "eu-west", "1.2.3", v, n,
					   twtime_wall_ms(), on_ingest, &rec);
	cr_assert(j, "db_ingest_epoch refused: %s", strerror(errno));
	cr_assert(run_until(b, cb_done, &rec, 60), "ingest callback did not fire in 60 s");
	free_batch(v, n);
	cr_assert(rec.ok, "%s", rec.err);
	return rec;
}

static void expect_no_duplicates(PGconn *c)
{
	cr_assert_eq(q_int(c, "SELECT count(*) FROM (SELECT probe_id, spool_epoch, seq FROM results "
			      "GROUP BY 1, 2, 3 HAVING count(*) > 1) d"), 0, "a seq stored twice");
}

/* Replays below the watermark, a batch half replay and half new, a batch
 * that repeats a seq inside itself, and a spool epoch change. */
Test(ingest_watermark, replays_half_replays_and_epochs_stay_exact)
{
	struct event_base *b = event_base_new();
	char *ci = new_migrated_db("wm_replay");
	struct db_opts o = { .connections = 2 };
	struct db_pool *p = pool_up(b, ci, &o);
	PGconn *c = pg(ci);
	int64_t base = base_ms_now();

	cr_assert_eq(put(b, p, "probe-w", E1, 1, 400, base).inserted, 400);
	cr_assert_eq(q_int(c, "SELECT last_seq FROM probe_spools WHERE probe_id = 'probe-w' "
			      "AND spool_epoch = '" E1 "'"), 400);
	/* the whole batch again (an Ack lost with the connection) */
	cr_assert_eq(put(b, p, "probe-w", E1, 1, 400, base).inserted, 0);
	/* half replay, half new */
	cr_assert_eq(put(b, p, "probe-w", E1, 201, 400, base).inserted, 200);
	cr_assert_eq(q_int(c, "SELECT count(*) FROM results"), 600);
	cr_assert_eq(q_int(c, "SELECT last_seq FROM probe_spools WHERE probe_id = 'probe-w' "
			      "AND spool_epoch = '" E1 "'"), 600);
	expect_rollups_exact(c);

	/* a seq twice in one batch is one row (as ON CONFLICT DO NOTHING was) */
	Tlswatch__Result **v = gen_batch(601, 3, base, 5);
	Tlswatch__Result *dup = gen(601, base, 5);
	Tlswatch__Result *w4[4] = { v[0], dup, v[1], v[2] };
	struct cbrec rec = { 0 };
	cr_assert(db_ingest_epoch(p, "probe-w", E1, "eu-west", "1.2.3", w4, 4, twtime_wall_ms(),
				  on_ingest, &rec));
	cr_assert(run_until(b, cb_done, &rec, 60));
	cr_assert(rec.ok, "%s", rec.err);
	cr_assert_eq(rec.inserted, 3);
	tlswatch__result__free_unpacked(dup, NULL);
	free_batch(v, 3);

	/* a new spool numbers from 1 again: nothing of it is below a watermark */
	cr_assert_eq(put(b, p, "probe-w", E2, 1, 300, base + 60000).inserted, 300);
	cr_assert_eq(put(b, p, "probe-w", E2, 1, 300, base + 60000).inserted, 0);
	cr_assert_eq(q_int(c, "SELECT count(*) FROM probe_spools WHERE probe_id = 'probe-w'"), 2);
	cr_assert_eq(q_int(c, "SELECT last_seq FROM probe_spools WHERE probe_id = 'probe-w' "
			      "AND spool_epoch = '" E2 "'"), 300);
	cr_assert_eq(q_int(c, "SELECT count(*) FROM results"), 903);
	expect_no_duplicates(c);
	expect_rollups_exact(c);

	/* seqs below a watermark that were never stored (a spool that numbers
	 * below a mark it did not make) are stored, not taken for replays */
	exec_ok(c, "UPDATE probe_spools SET last_seq = 5000 WHERE spool_epoch = '" E2 "'");
	cr_assert_eq(put(b, p, "probe-w", E2, 290, 20, base + 60000).inserted, 9);
	cr_assert_eq(q_int(c, "SELECT last_seq FROM probe_spools WHERE spool_epoch = '" E2 "'"), 5000);
	expect_no_duplicates(c);
	expect_rollups_exact(c);

	PQfinish(c);
	db_pool_free(p);
	event_base_free(b);
	free(ci);
}

/* Two collectors (two pools) commit overlapping batches of one probe at the
 * same time, as during a failover while the old collector still commits:
 * the row lock serialises them, the second reads the first's watermark. */
Test(ingest_watermark, two_collectors_one_probe_no_duplicate)
{
	struct event_base *b = event_base_new();
	char *ci = new_migrated_db("wm_failover");
	struct db_opts o1 = { .connections = 2 }, o2 = { .connections = 2 };
	struct db_pool *p1 = pool_up(b, ci, &o1), *p2 = pool_up(b, ci, &o2);
	PGconn *c = pg(ci);
	int64_t base = base_ms_now();

	for (int round = 0; round < 5; round++) {
		uint64_t first = 1 + (uint64_t)round * 500;
		Tlswatch__Result **va = gen_batch(first, 500, base, 5);
		Tlswatch__Result **vb = gen_batch(first, 500, base, 5);
		struct cbrec ra = { 0 }, rb = { 0 };
		cr_assert(db_ingest_epoch(p1, "probe-f", E1, "eu-west", "1.2.3", va, 500,
					  twtime_wall_ms(), on_ingest, &ra));
		cr_assert(db_ingest_epoch(p2, "probe-f", E1, "eu-west", "1.2.3", vb, 500,
					  twtime_wall_ms(), on_ingest, &rb));
		cr_assert(run_until(b, cb_done, &ra, 60) && run_until(b, cb_done, &rb, 60));
		cr_assert(ra.ok && rb.ok, "%s / %s", ra.err, rb.err);
		cr_assert_eq(ra.inserted + rb.inserted, 500, "round %d: %zu + %zu", round,
			     ra.inserted, rb.inserted);
		free_batch(va, 500);
		free_batch(vb, 500);
	}
	cr_assert_eq(q_int(c, "SELECT count(*) FROM results"), 2500);
	expect_no_duplicates(c);
	expect_rollups_exact(c);
	PQfinish(c);
	db_pool_free(p1);
	db_pool_free(p2);
	event_base_free(b);
	free(ci);
}

/* The child: a collector's pool ingesting batches of 250 from seq 1 until
 * it is killed. */
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
		if (!db_ingest_epoch(p, "probe-k", E1, "eu-west", "1.2.3", v, 250, twtime_wall_ms(),
				     on_ingest, &rec) ||
		    !run_until(b, cb_done, &rec, 60) || !rec.ok)
			_exit(4);
		free_batch(v, 250);
	}
	_exit(0);
}

/* A collector SIGKILLed while it commits (after a varying number of rows):
 * the next one replays everything from seq 1, as a probe whose Acks were
 * lost does; each row counts once and the rollups equal the raw rows. */
Test(ingest_watermark, collector_sigkill_mid_commit_then_replay)
{
	char *ci = new_migrated_db("wm_kill");
	PGconn *c = pg(ci);
	int64_t base = base_ms_now();
	const uint64_t total = 5000;
	const long long kill_after[] = { 1, 700, 2600 };

	for (size_t k = 0; k < sizeof kill_after / sizeof kill_after[0]; k++) {
		pid_t pid = fork();
		cr_assert_geq(pid, 0);
		if (pid == 0)
			child_ingest(ci, base, total);
		/* kill as soon as the stored rows pass the mark: the child is then
		 * between two transactions or inside one */
		double end = twtime_mono_ms() + 60000;
		while (q_int(c, "SELECT count(*) FROM results") < kill_after[k] &&
		       twtime_mono_ms() < end)
			usleep(2000);
		cr_assert_eq(kill(pid, SIGKILL), 0);
		int st;
		cr_assert_eq(waitpid(pid, &st, 0), pid);
		cr_assert(WIFSIGNALED(st) || (WIFEXITED(st) && WEXITSTATUS(st) == 0),
			  "child failed: status %d", st);
		expect_no_duplicates(c);
		expect_rollups_exact(c);
	}

	/* the replay after the last kill: everything from seq 1 */
	struct event_base *b = event_base_new();
	struct db_opts o = { .connections = 2 };
	struct db_pool *p = pool_up(b, ci, &o);
	size_t inserted = 0;
	for (uint64_t s = 1; s <= total; s += 250)
		inserted += put(b, p, "probe-k", E1, s, 250, base).inserted;
	long long stored = q_int(c, "SELECT count(*) FROM results");
	cr_assert_eq(stored, (long long)total);
	cr_assert_lt(inserted, total, "the killed runs stored nothing");
	cr_assert_eq(q_int(c, "SELECT last_seq FROM probe_spools WHERE probe_id = 'probe-k'"),
		     (long long)total);
	expect_no_duplicates(c);
	expect_rollups_exact(c);
	PQfinish(c);
	db_pool_free(p);
	event_base_free(b);
	free(ci);
}
