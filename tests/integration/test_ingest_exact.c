/*
 * test_ingest_exact.c - what the ingest statement keeps exact and what it
 * keeps within a stated bound (sql/011_ingest.sql, collector/db_sql.c,
 * collector/db_ingest.c), against a real PostgreSQL started by
 * test_ingest_exact.sh. Helpers: db_env.h (one database per test).
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>
#include <event2/event.h>
#include <libpq-fe.h>

#include "db.h"
#include "db_env.h"

TestSuite(ingest_exact, .timeout = 240);

/* One result of target "t0.example" started at ms, with the label team and
 * the certificate fpA. */
static Tlswatch__Result *one(uint64_t seq, int64_t ms, const char *team, Tlswatch__Label *lab,
			     Tlswatch__Label **labs)
{
	Tlswatch__Result *r = gen(seq * 7 + 1, ms, 1); /* seq*7+1: an SNI is set; one target */
	r->seq = seq;
	r->started_unix_ms = ms;
	r->port = 443;
	free(r->service);
	r->service = strdup("web");
	free(r->fingerprint_sha256);
	r->fingerprint_sha256 = strdup("fpA");
	lab->key = "team";
	lab->value = (char *)team;
	labs[0] = lab;
	r->n_labels = 1;
	r->labels = labs;
	return r;
}

static void put_one(struct event_base *b, struct db_pool *p, uint64_t seq, int64_t ms,
		    const char *team)
{
	Tlswatch__Label lab = TLSWATCH__LABEL__INIT, *labs[1];
	Tlswatch__Result *r = one(seq, ms, team, &lab, labs);
	struct cbrec rec = ingest_sync(b, p, "probe-t", "eu-west", &r, 1);
	r->n_labels = 0;
	r->labels = NULL;
	tlswatch__result__free_unpacked(r, NULL);
	cr_assert(rec.ok, "%s", rec.err);
	cr_assert_eq(rec.inserted, 1);
}

/* seconds since t0 of a targets column */
static long long col_s(PGconn *c, const char *col, int64_t t0)
{
	return q_int(c, "SELECT (extract(epoch FROM %s) * 1000)::bigint - %lld FROM targets", col,
		     (long long)t0) / 1000;
}

/* targets: service and labels are always those of the newest result;
 * first_seen exact; last_seen at most one minute behind the newest result
 * (a batch skips rewriting the row when only last_seen would move, by less
 * than a minute). */
Test(ingest_exact, targets_labels_exact_last_seen_within_a_minute)
{
	char *ci = new_migrated_db("tw_ix_targets");
	PGconn *c = pg(ci);
	struct event_base *b = event_base_new();
	struct db_opts o = { .connections = 1 };
	struct db_pool *p = pool_up(b, ci, &o);
	int64_t t0 = base_ms_now() + 10 * 60000;

	put_one(b, p, 1, t0, "web");
	cr_assert_eq(q_int(c, "SELECT count(*) FROM targets"), 1);
	cr_expect_eq(col_s(c, "last_seen", t0), 0);

	put_one(b, p, 2, t0 + 20000, "web"); /* only last_seen, by 20 s: kept */
	cr_expect_eq(col_s(c, "last_seen", t0), 0, "row rewritten for a 20 s move");

	put_one(b, p, 3, t0 + 30000, "pay"); /* new labels: written at once */
	char *team = q_str(c, "SELECT labels->>'team' FROM targets");
	cr_expect_str_eq(team, "pay");
	free(team);
	cr_expect_eq(col_s(c, "last_seen", t0), 30);

	put_one(b, p, 4, t0 + 100000, "pay"); /* last_seen 70 s behind: written */
	cr_expect_eq(col_s(c, "last_seen", t0), 100);

	put_one(b, p, 5, t0 - 50000, "old"); /* older result: first_seen only */
	team = q_str(c, "SELECT labels->>'team' FROM targets");
	cr_expect_str_eq(team, "pay", "an older result's labels replaced the newest");
	free(team);
	cr_expect_eq(col_s(c, "first_seen", t0), -50);
	cr_expect_eq(col_s(c, "last_seen", t0), 100);

	/* the bound, for every target: newest result - last_seen < 1 minute */
	cr_expect_eq(q_int(c, "SELECT count(*) FROM targets t WHERE (SELECT max(started_at) "
			      "FROM results r WHERE r.target = t.target AND r.port = t.port "
			      "AND coalesce(r.sni, '') = t.sni) - t.last_seen >= interval '1 minute' "
			      "OR t.first_seen <> (SELECT min(started_at) FROM results)"), 0);
	expect_rollups_exact(c);
	db_pool_free(p);
	event_base_free(b);
	PQfinish(c);
	free(ci);
}

/* first_seen and last_seen of fpA's one sighting, in ms since t0 */
static char *sighting(PGconn *c, int64_t t0)
{
	return q_str(c, "SELECT ((extract(epoch FROM first_seen) * 1000)::bigint - %lld) || ' ' || "
			"((extract(epoch FROM last_seen) * 1000)::bigint - %lld) "
			"FROM certificate_sightings WHERE fingerprint_sha256 = 'fpA'",
		     (long long)t0, (long long)t0);
}

static void expect_sighting(PGconn *c, int64_t t0, const char *want, const char *what)
{
	char *got = sighting(c, t0);
	cr_expect(got && strcmp(got, want) == 0, "%s: %s, expected %s", what, got ? got : "NULL", want);
	free(got);
}

/* certificate_sightings (collector/db_seen.h): first_seen exact; last_seen
 * at most one minute behind the newest result (a transaction leaves out a
 * sighting this collector committed less than a minute before); another
 * collector writes its own; every result is stored whatever is left out. */
Test(ingest_exact, sightings_first_seen_exact_last_seen_within_a_minute)
{
	char *ci = new_migrated_db("tw_ix_sightings");
	PGconn *c = pg(ci);
	struct event_base *b = event_base_new();
	struct db_opts o = { .connections = 1 };
	struct db_pool *p = pool_up(b, ci, &o);
	int64_t t0 = base_ms_now() + 10 * 60000;

	put_one(b, p, 1, t0, "web");
	expect_sighting(c, t0, "0 0", "first");
	put_one(b, p, 2, t0 + 30000, "web");
	expect_sighting(c, t0, "0 0", "a 30 s move is not written");
	put_one(b, p, 3, t0 + 61000, "web");
	expect_sighting(c, t0, "0 61000", "61 s on: written");
	put_one(b, p, 4, t0 - 100000, "web");
	expect_sighting(c, t0, "-100000 61000", "an older result: first_seen only");

	/* another collector knows nothing of these writes: it writes */
	struct db_opts o2 = { .connections = 1 };
	struct db_pool *p2 = pool_up(b, ci, &o2);
	put_one(b, p2, 5, t0 + 63000, "web");
	expect_sighting(c, t0, "-100000 63000", "another collector");
	/* and the first, 4 s after its own last write, leaves the newer row */
	put_one(b, p, 6, t0 + 65000, "web");
	expect_sighting(c, t0, "-100000 63000", "4 s after its own write");

	cr_expect_eq(q_int(c, "SELECT count(*) FROM results"), 6, "every result is stored");
	cr_expect_eq(q_int(c, "SELECT count(*) FROM certificates WHERE fingerprint_sha256 = 'fpA'"), 1);
	cr_expect_eq(q_int(c, "SELECT count(*) FROM certificate_sightings s WHERE (SELECT max(started_at) "
			      "FROM results r WHERE r.fingerprint_sha256 = s.fingerprint_sha256 "
			      "AND r.target = s.target AND r.port = s.port) - s.last_seen >= interval '1 minute'"),
		     0);
	db_pool_free(p2);
	db_pool_free(p);
	event_base_free(b);
	PQfinish(c);
	free(ci);
}

/* ------------------------------------------------ queued batches, replays */

struct order {
	int n;
	uint64_t seqs[16];   /* max_seq of each callback, in callback order */
	size_t inserted[16];
	bool ok[16];
};

static void on_ordered(void *arg, bool ok, uint64_t max_seq, size_t inserted, const char *err)
{
	struct order *o = arg;
	if (o->n < 16) {
		o->seqs[o->n] = max_seq;
		o->inserted[o->n] = inserted;
		o->ok[o->n] = ok;
	}
	o->n++;
	if (!ok)
		fprintf(stderr, "ingest failed: %s\n", err ? err : "");
}

static uint64_t committed(const struct db_pool *p)
{
	struct db_stats st;
	db_get_stats(p, &st);
	return st.batches_committed;
}

struct two { struct order *a, *b; int na, nb; };
static bool both_done(void *arg)
{
	struct two *t = arg;
	return t->a->n >= t->na && t->b->n >= t->nb;
}

/* Batches of two probes queued together, with replays of one probe's
 * earlier batches among them, then everything again one batch at a time:
 * nothing is inserted twice, rollups equal the raw rows (rollup_1h
 * unchanged by the replays), callbacks come in submission order, and the
 * inserted counts add up per probe. */
Test(ingest_exact, queued_batches_and_replays_stay_exact)
{
	char *ci = new_migrated_db("tw_ix_group");
	PGconn *c = pg(ci);
	struct event_base *b = event_base_new();
	struct db_opts o = { .connections = 1 };
	struct db_pool *p = pool_up(b, ci, &o);
	int64_t base = base_ms_now();
	/* probe A: 1-100, 101-200, 51-150 (a replay), 201-300, 1-300 (a replay);
	 * probe B: 1-80, 81-160 */
	const uint64_t a_first[] = { 1, 101, 51, 201, 1 }, a_n[] = { 100, 100, 100, 100, 300 };
	const uint64_t b_first[] = { 1, 81 }, b_n[] = { 80, 80 };
	struct order oa = { 0 }, ob = { 0 };
	Tlswatch__Result **va[5], **vb[2];
	uint64_t before = committed(p);
	for (int i = 0; i < 5; i++) {
		va[i] = gen_batch(a_first[i], a_n[i], base, 37);
		cr_assert(db_ingest(p, "probe-a", "eu-west", "1", va[i], a_n[i], twtime_wall_ms(),
				    on_ordered, &oa));
		if (i < 2) {
			vb[i] = gen_batch(b_first[i], b_n[i], base, 37);
			cr_assert(db_ingest(p, "probe-b", "us-east", "1", vb[i], b_n[i],
					    twtime_wall_ms(), on_ordered, &ob));
		}
	}
	struct two t = { &oa, &ob, 5, 2 };
	cr_assert(run_until(b, both_done, &t, 60), "callbacks did not all fire in 60 s");
	cr_assert_eq(oa.n, 5);
	cr_assert_eq(ob.n, 2);
	size_t ins_a = 0, ins_b = 0;
	for (int i = 0; i < 5; i++) {
		cr_assert(oa.ok[i]);
		cr_expect_eq(oa.seqs[i], a_first[i] + a_n[i] - 1, "callback %d out of order", i);
		ins_a += oa.inserted[i];
	}
	for (int i = 0; i < 2; i++) {
		cr_assert(ob.ok[i]);
		cr_expect_eq(ob.seqs[i], b_first[i] + b_n[i] - 1);
		ins_b += ob.inserted[i];
	}
	cr_expect_eq(ins_a, 300, "probe-a: %zu inserted reported, 300 new rows", ins_a);
	cr_expect_eq(ins_b, 160);
	cr_expect_eq(committed(p) - before, 7);
	cr_expect_eq(q_int(c, "SELECT count(*) FROM results WHERE probe_id = 'probe-a'"), 300);
	cr_expect_eq(q_int(c, "SELECT count(DISTINCT seq) FROM results WHERE probe_id = 'probe-a'"), 300);
	cr_expect_eq(q_int(c, "SELECT count(*) FROM results WHERE probe_id = 'probe-b'"), 160);
	cr_expect_eq(q_int(c, "SELECT last_seq FROM probes WHERE probe_id = 'probe-a'"), 300);
	cr_expect_eq(q_int(c, "SELECT last_seq FROM probe_spools WHERE probe_id = 'probe-b'"), 160);
	expect_rollups_exact(c);

	/* everything again, one batch per transaction: nothing changes */
	char *before_1h = q_str(c, "SELECT md5(string_agg(r::text, ',' ORDER BY bucket, target, port, "
				   "sni, region, profile)) FROM rollup_1h_live r");
	struct order oc = { 0 }, od = { 0 };
	for (int i = 0; i < 5; i++) {
		cr_assert(db_ingest(p, "probe-a", "eu-west", "1", va[i], a_n[i], twtime_wall_ms(),
				    on_ordered, &oc));
		struct two one = { &oc, &od, i + 1, 0 };
		cr_assert(run_until(b, both_done, &one, 60));
		cr_expect_eq(oc.inserted[i], 0);
	}
	char *after_1h = q_str(c, "SELECT md5(string_agg(r::text, ',' ORDER BY bucket, target, port, "
				  "sni, region, profile)) FROM rollup_1h_live r");
	cr_expect_str_eq(after_1h, before_1h, "a replay changed rollup_1h");
	free(before_1h);
	free(after_1h);
	expect_rollups_exact(c);
	for (int i = 0; i < 5; i++)
		free_batch(va[i], a_n[i]);
	for (int i = 0; i < 2; i++)
		free_batch(vb[i], b_n[i]);
	db_pool_free(p);
	event_base_free(b);
	PQfinish(c);
	free(ci);
}
