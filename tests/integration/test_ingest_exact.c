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

/* One result of target "t0.example" started at ms, with the label team. */
static Tlswatch__Result *one(uint64_t seq, int64_t ms, const char *team, Tlswatch__Label *lab,
			     Tlswatch__Label **labs)
{
	Tlswatch__Result *r = gen(seq * 7 + 1, ms, 1); /* seq*7+1: an SNI is set; one target */
	r->seq = seq;
	r->started_unix_ms = ms;
	r->port = 443;
	free(r->service);
	r->service = strdup("web");
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
