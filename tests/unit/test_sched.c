/*
 * test_sched.c - the scheduler (probe/sched.c) with invented time: phases
 * deterministic, pinned and spread; wall-clock alignment; one run per slot;
 * the concurrency limit; overdue accounting (in flight and queued); lateness;
 * 100,000 entries in due order; reload keeping the state of survivors.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sched.h"

TestSuite(sched);

#define WALL0 1700000000000LL       /* a wall clock in ms (Nov 2023) */

static struct sched_key key_of(char *buf, size_t cap, int i, const char *profile)
{
	snprintf(buf, cap, "h%d.example", i);
	struct sched_key k = { buf, 443, buf, profile };
	return k;
}

/* A start callback that records and optionally finishes at once. */
struct rec {
	struct sched *s;
	bool finish;
	size_t n, cap;
	struct sched_entry **started;
	int64_t *due;
	size_t max_running;
};

static void rec_cb(struct sched_entry *e, void *arg)
{
	struct rec *r = arg;
	struct sched_stats st;
	sched_get_stats(r->s, &st);
	if (st.running > r->max_running)
		r->max_running = st.running;
	if (r->n < r->cap) {
		if (r->started)
			r->started[r->n] = e;
		if (r->due)
			r->due[r->n] = e->run_due;
	}
	r->n++;
	if (r->finish)
		sched_done(r->s, e);
}

/* ---- hashing and phases ---- */

Test(sched, hash_is_pinned)
{
	/* FNV-1a 64 test vectors */
	cr_assert_eq(sched_fnv1a64("", 0), 0xcbf29ce484222325ull);
	cr_assert_eq(sched_fnv1a64("a", 1), 0xaf63dc4c8601ec8cull);
	cr_assert_eq(sched_fnv1a64("foobar", 6), 0x85944171f73967e8ull);
	/* The key encoding and finaliser are a contract: phases must not move
	 * between versions, or every probe's schedule shifts on upgrade. */
	struct sched_key k = { "www.example.com", 443, "www.example.com", "modern" };
	uint64_t h = sched_key_hash(&k);
	cr_assert_eq(h, sched_key_hash(&k));
	cr_assert_eq(h, 0x7ef4f8a46c1c430aULL, "hash changed: 0x%016llx",
		     (unsigned long long)h);
	/* every part of the key matters; no SNI differs from an empty SNI */
	struct sched_key k2 = k;
	k2.port = 444;
	cr_assert_neq(sched_key_hash(&k2), h);
	k2 = k;
	k2.profile = "tls13";
	cr_assert_neq(sched_key_hash(&k2), h);
	k2 = k;
	k2.sni = NULL;
	uint64_t h_nosni = sched_key_hash(&k2);
	cr_assert_neq(h_nosni, h);
	k2.sni = "";
	cr_assert_neq(sched_key_hash(&k2), h_nosni);
}

Test(sched, phases_deterministic_and_spread)
{
	char buf[64];
	struct sched *a = sched_new(10, WALL0 - 5000), *b = sched_new(10, WALL0 - 77);
	cr_assert(a && b);
	size_t bucket[10] = { 0 };
	for (int i = 0; i < 1000; i++) {
		struct sched_key k = key_of(buf, sizeof buf, i, "modern");
		struct sched_entry *ea = sched_add(a, &k, 60000, NULL, 5000);
		/* another "restart": a different monotonic clock, same wall time */
		struct sched_entry *eb = sched_add(b, &k, 60000, NULL, 77);
		cr_assert(ea && eb);
		cr_assert_eq(ea->phase_ms, eb->phase_ms);
		cr_assert_lt(ea->phase_ms, 60000);
		/* the first slot is at or after now and aligned to the wall clock */
		int64_t wall_a = ea->next_due + (WALL0 - 5000), wall_b = eb->next_due + (WALL0 - 77);
		cr_assert_eq(wall_a, wall_b, "same wall-clock slot after a restart");
		cr_assert_eq(wall_a % 60000, ea->phase_ms);
		cr_assert_geq(ea->next_due, 5000);
		cr_assert_lt(ea->next_due, 5000 + 60000);
		bucket[ea->phase_ms / 6000]++;
	}
	for (int i = 0; i < 10; i++)
		cr_assert_lt(bucket[i], 200, "bucket %d holds %zu of 1000 (mean 100)", i, bucket[i]);
	sched_free(a);
	sched_free(b);
}

Test(sched, first_slot_negative_and_exact)
{
	char buf[64];
	struct sched_key k = key_of(buf, sizeof buf, 1, "modern");
	/* mono clock far ahead of the wall clock: floor division must hold */
	struct sched *s = sched_new(1, -WALL0 * 3);
	struct sched_entry *e = sched_add(s, &k, 1000, NULL, WALL0 * 3 + 999);
	cr_assert(e);
	int64_t wall = e->next_due - WALL0 * 3;
	cr_assert_geq(wall, 999);
	cr_assert_lt(wall, 1999);
	cr_assert_eq(((wall % 1000) + 1000) % 1000, e->phase_ms);
	/* now exactly on a slot: that slot is the first one */
	sched_free(s);
	s = sched_new(1, 0);
	e = sched_add(s, &k, 1000, NULL, 0);
	int64_t slot = e->next_due;
	sched_free(s);
	s = sched_new(1, 0);
	e = sched_add(s, &k, 1000, NULL, slot);
	cr_assert_eq(e->next_due, slot);
	sched_free(s);
}

Test(sched, add_errors)
{
	char buf[64];
	struct sched *s = sched_new(1, 0);
	struct sched_key k = key_of(buf, sizeof buf, 1, "modern");
	cr_assert(sched_add(s, &k, 1000, NULL, 0));
	errno = 0;
	cr_assert_null(sched_add(s, &k, 2000, NULL, 0));
	cr_assert_eq(errno, EEXIST);
	cr_assert_null(sched_add(s, &k, 0, NULL, 0));
	cr_assert_eq(errno, EINVAL);
	cr_assert(sched_find(s, &k));
	struct sched_key k2 = key_of(buf, sizeof buf, 2, "modern");
	cr_assert_null(sched_find(s, &k2));
	sched_free(s);
}

/* ---- running ---- */

Test(sched, one_run_per_interval)
{
	char buf[64];
	struct sched *s = sched_new(100, 0);
	struct sched_key k = key_of(buf, sizeof buf, 7, "modern");
	struct sched_entry *e = sched_add(s, &k, 10000, NULL, 0);
	struct rec r = { .s = s, .finish = true };
	int64_t first = e->next_due;
	cr_assert_eq(sched_next_due(s, 0), first);
	/* step 1 ms at a time across 10 intervals */
	for (int64_t now = 0; now < first + 10 * 10000; now++)
		sched_pop_due(s, now, rec_cb, &r);
	cr_assert_eq(r.n, 10);
	cr_assert_eq(e->runs, 10);
	cr_assert_eq(e->overdue, 0);
	cr_assert_eq(e->next_due, first + 10 * 10000);
	cr_assert_eq(sched_lateness_ms(s, 0.99), 0);
	sched_free(s);
}

Test(sched, concurrency_limit)
{
	char buf[64];
	struct sched *s = sched_new(10, 0);
	for (int i = 0; i < 1000; i++) {
		struct sched_key k = key_of(buf, sizeof buf, i, "modern");
		cr_assert(sched_add(s, &k, 3600000, NULL, 0));
	}
	struct sched_entry *started[1000];
	struct rec r = { .s = s, .finish = false, .cap = 1000, .started = started };
	int64_t now = 3600000 - 1;      /* every first slot is due */
	cr_assert_eq(sched_pop_due(s, now, rec_cb, &r), 10);
	struct sched_stats st;
	sched_get_stats(s, &st);
	cr_assert_eq(st.running, 10);
	cr_assert_eq(st.queued, 990);
	cr_assert_eq(sched_pop_due(s, now, rec_cb, &r), 0, "limit reached: nothing more starts");
	/* finish one at a time: exactly one more starts each time */
	size_t done = 0;
	while (done < r.n) {
		sched_done(s, started[done++]);
		now++;
		sched_pop_due(s, now, rec_cb, &r);
		sched_get_stats(s, &st);
		cr_assert_leq(st.running, 10);
	}
	cr_assert_eq(r.n, 1000);
	cr_assert_eq(r.max_running, 10);
	sched_get_stats(s, &st);
	cr_assert_eq(st.running, 0);
	cr_assert_eq(st.queued, 0);
	cr_assert_eq(st.overdue, 0);
	sched_free(s);
}

Test(sched, overdue_while_running_not_run_twice)
{
	char buf[64];
	struct sched *s = sched_new(10, 0);
	struct sched_key k = key_of(buf, sizeof buf, 3, "modern");
	struct sched_entry *e = sched_add(s, &k, 1000, NULL, 0);
	struct rec r = { .s = s, .finish = false };
	int64_t t0 = e->next_due;
	cr_assert_eq(sched_pop_due(s, t0, rec_cb, &r), 1);
	cr_assert_eq(e->state, SCHED_ENTRY_RUNNING);
	/* the run takes 3.5 intervals: the slots at +1s, +2s, +3s pass */
	for (int64_t now = t0; now <= t0 + 3500; now += 100)
		sched_pop_due(s, now, rec_cb, &r);
	cr_assert_eq(r.n, 1, "started again while running");
	cr_assert_eq(e->overdue, 3);
	cr_assert_eq(e->next_due, t0 + 4000);
	sched_done(s, e);
	cr_assert_eq(sched_pop_due(s, t0 + 3600, rec_cb, &r), 0, "the missed slots are not run late");
	cr_assert_eq(sched_pop_due(s, t0 + 4000, rec_cb, &r), 1);
	cr_assert_eq(r.n, 2);
	struct sched_stats st;
	sched_get_stats(s, &st);
	cr_assert_eq(st.overdue, 3);
	cr_assert_eq(st.started, 2);
	sched_free(s);
}

Test(sched, overdue_while_queued)
{
	char buf[64];
	struct sched *s = sched_new(1, 0);
	struct sched_key ka = key_of(buf, sizeof buf, 1, "modern");
	struct sched_entry *a = sched_add(s, &ka, 3600000, NULL, 0);
	struct rec r = { .s = s, .finish = false };
	int64_t t = a->next_due;
	cr_assert_eq(sched_pop_due(s, t, rec_cb, &r), 1);     /* a takes the only slot */
	struct sched_key kb = key_of(buf, sizeof buf, 2, "modern");
	struct sched_entry *b = sched_add(s, &kb, 1000, NULL, t);
	int64_t b_slot = b->next_due;
	cr_assert_eq(sched_pop_due(s, b_slot, rec_cb, &r), 0);
	cr_assert_eq(b->state, SCHED_ENTRY_QUEUED);
	cr_assert_eq(sched_next_due(s, b_slot), 1000, "full: the next event is b's next slot");
	/* a stays busy 2.5 s: b waits in the queue past two of its slots */
	cr_assert_eq(sched_pop_due(s, b_slot + 2500, rec_cb, &r), 0);
	cr_assert_eq(b->overdue, 2);
	cr_assert_eq(b->state, SCHED_ENTRY_QUEUED);
	cr_assert_eq(b->runs, 0);
	sched_done(s, a);
	cr_assert_eq(sched_next_due(s, b_slot + 2500), 0);
	cr_assert_eq(sched_pop_due(s, b_slot + 2500, rec_cb, &r), 1);
	cr_assert_eq(b->state, SCHED_ENTRY_RUNNING);
	cr_assert_eq(b->run_due, b_slot, "the queued run keeps its slot");
	cr_assert_eq(b->runs, 1);
	cr_assert_eq(sched_lateness_ms(s, 1.0), 2500);
	struct sched_stats st;
	sched_get_stats(s, &st);
	cr_assert_eq(st.overdue, 2);
	sched_free(s);
}

Test(sched, stalled_loop_runs_newest_slot_once)
{
	char buf[64];
	struct sched *s = sched_new(10, 0);
	struct sched_key k = key_of(buf, sizeof buf, 9, "modern");
	struct sched_entry *e = sched_add(s, &k, 1000, NULL, 0);
	struct rec r = { .s = s, .finish = true, .cap = 4, .due = (int64_t[4]){ 0 } };
	int64_t t0 = e->next_due;
	/* nothing called for 5.5 intervals: slots t0..t0+5000 are due */
	cr_assert_eq(sched_pop_due(s, t0 + 5500, rec_cb, &r), 1);
	cr_assert_eq(r.due[0], t0 + 5000);
	cr_assert_eq(e->overdue, 5);
	cr_assert_eq(e->next_due, t0 + 6000);
	cr_assert_eq(sched_lateness_ms(s, 0.5), 500);   /* 500 falls in [480, 511] */
	sched_free(s);
}

Test(sched, lateness_histogram)
{
	char buf[64];
	struct sched *s = sched_new(1000, 0);
	struct rec r = { .s = s, .finish = true };
	/* 100 entries with interval 1 h; start each with lateness = its index */
	struct sched_entry *es[100];
	for (int i = 0; i < 100; i++) {
		struct sched_key k = key_of(buf, sizeof buf, i, "modern");
		es[i] = sched_add(s, &k, 3600000, NULL, 0);
	}
	/* every entry popped exactly at its due time: no lateness */
	int64_t last = 0;
	for (int i = 0; i < 100; i++)
		if (es[i]->next_due > last)
			last = es[i]->next_due;
	for (int64_t now = 0; now <= last + 100; now++)
		sched_pop_due(s, now, rec_cb, &r);
	cr_assert_eq(r.n, 100);
	cr_assert_eq(sched_lateness_ms(s, 0.5), 0);
	cr_assert_eq(sched_lateness_ms(s, 0.99), 0);
	sched_free(s);

	/* injected lateness: entry i popped i*10 ms late */
	s = sched_new(1000, 0);
	r.s = s;
	r.n = 0;
	struct sched_key k = key_of(buf, sizeof buf, 0, "modern");
	struct sched_entry *e = sched_add(s, &k, 1000000, NULL, 0);
	for (int i = 0; i < 100; i++) {
		int64_t due = e->next_due;
		sched_pop_due(s, due + i * 10, rec_cb, &r);
	}
	cr_assert_eq(r.n, 100);
	/* values 0,10,...,990: p50 = 490 -> bucket [480,511]; p99 = 980 -> [960,1023] capped at 990 */
	double p50 = sched_lateness_ms(s, 0.5), p99 = sched_lateness_ms(s, 0.99);
	cr_assert(p50 >= 490 && p50 <= 511, "p50 %.1f", p50);
	cr_assert(p99 >= 980 && p99 <= 990, "p99 %.1f", p99);
	cr_assert_eq(sched_lateness_ms(s, 1.0), 990);
	cr_assert_eq(sched_lateness_ms(s, 0.0), 0);
	struct sched_stats st;
	sched_get_stats(s, &st);
	cr_assert_eq(st.lateness_max_ms, 990);
	sched_free(s);
}

/* ---- scale ---- */

static const unsigned INTERVALS[] = { 60000, 300000, 900000, 3600000 };

Test(sched, hundred_thousand_entries_in_due_order)
{
	enum { N = 100000 };
	char buf[64];
	const int64_t off = WALL0 - 1000;
	struct sched *s = sched_new(N, off);
	struct sched_entry **es = malloc(N * sizeof *es);
	cr_assert(s && es);
	for (int i = 0; i < N; i++) {
		struct sched_key k = key_of(buf, sizeof buf, i, i % 3 ? "modern" : "tls13");
		es[i] = sched_add(s, &k, INTERVALS[i % 4], (void *)(intptr_t)i, 1000);
		cr_assert(es[i]);
	}
	/* Expected runs per entry in the window [1000, end]: its wall slots
	 * phase + k*interval in [wall(1000), wall(end)]. */
	const int64_t end = 1000 + 30 * 60000;    /* 30 minutes */
	uint64_t want_total = 0;
	for (int i = 0; i < N; i++) {
		int64_t first = es[i]->next_due;
		if (first <= end)
			want_total += (uint64_t)((end - first) / es[i]->interval_ms + 1);
	}
	/* Drive with sched_next_due: jump straight to each due time. */
	struct rec r = { .s = s, .finish = true };
	int64_t now = 1000, prev_due = INT64_MIN;
	uint64_t pops = 0;
	bool ordered = true;
	for (;;) {
		int64_t d = sched_next_due(s, now);
		cr_assert_geq(d, 0);
		if (now + d > end)
			break;
		now += d;
		size_t before = r.n;
		r.cap = 0;
		sched_pop_due(s, now, rec_cb, &r);
		/* everything started at `now` was due exactly now */
		if (r.n > before && now < prev_due)
			ordered = false;
		prev_due = now;
		pops += r.n - before;
	}
	cr_assert(ordered);
	cr_assert_eq(pops, want_total);
	struct sched_stats st;
	sched_get_stats(s, &st);
	cr_assert_eq(st.started, want_total);
	cr_assert_eq(st.overdue, 0);
	cr_assert_eq(st.entries, N);
	cr_assert_eq(sched_lateness_ms(s, 0.99), 0, "driven by sched_next_due, nothing is late");
	/* per entry: runs match its own slot count, and next_due is past end */
	for (int i = 0; i < N; i++) {
		struct sched_entry *e = es[i];
		cr_assert_gt(e->next_due, end);
		cr_assert_eq((e->next_due + off) % e->interval_ms, e->phase_ms);
	}
	free(es);
	sched_free(s);
}

Test(sched, due_order_with_coarse_steps)
{
	/* Coarse 1 s steps: within and across pops, runs start in slot order. */
	enum { N = 100000 };
	char buf[64];
	struct sched *s = sched_new(N, 0);
	for (int i = 0; i < N; i++) {
		struct sched_key k = key_of(buf, sizeof buf, i, "modern");
		cr_assert(sched_add(s, &k, INTERVALS[i % 4], NULL, 0));
	}
	size_t cap = 400000;
	struct rec r = { .s = s, .finish = true, .cap = cap, .due = malloc(cap * sizeof(int64_t)) };
	cr_assert(r.due);
	for (int64_t now = 0; now <= 10 * 60000; now += 1000)
		sched_pop_due(s, now, rec_cb, &r);
	cr_assert_leq(r.n, cap);
	for (size_t i = 1; i < r.n; i++)
		cr_assert_leq(r.due[i - 1], r.due[i], "run %zu due %lld before run %zu due %lld", i - 1,
			      (long long)r.due[i - 1], i, (long long)r.due[i]);
	/* each 60 s entry (a quarter) ran 10 or 11 times in 10 minutes + 1 step */
	cr_assert_gt(r.n, (size_t)N / 4 * 10);
	cr_assert_leq(sched_lateness_ms(s, 1.0), 999);
	free(r.due);
	sched_free(s);
}

/* ---- reload ---- */

Test(sched, reload_keeps_survivors)
{
	char b1[64], b2[64], b3[64], b4[64];
	struct sched *s = sched_new(10, 0);
	struct sched_spec specs[3] = {
		{ key_of(b1, sizeof b1, 1, "modern"), 1000, (void *)1 },
		{ key_of(b2, sizeof b2, 2, "modern"), 3600000, (void *)2 },
		{ key_of(b3, sizeof b3, 3, "modern"), 7200000, (void *)3 },
	};
	struct sched_reload_stats rs;
	cr_assert_eq(sched_reload(s, specs, 3, 0, &rs), 0);
	cr_assert_eq(rs.added, 3);
	struct sched_entry *a = sched_find(s, &specs[0].key), *b = sched_find(s, &specs[1].key);
	struct sched_entry *c = sched_find(s, &specs[2].key);
	cr_assert(a && b && c);
	cr_assert_gt(b->next_due, 3000, "b must not be due during this test");
	cr_assert_gt(c->next_due, 3000);
	/* start a and let one of its slots pass: running, overdue 1 */
	struct rec r = { .s = s, .finish = false };
	sched_pop_due(s, a->next_due, rec_cb, &r);
	cr_assert_eq(a->state, SCHED_ENTRY_RUNNING);
	int64_t now = a->run_due + 1500;
	sched_pop_due(s, now, rec_cb, &r);
	cr_assert_eq(a->overdue, 1);
	int64_t a_next = a->next_due;
	uint64_t a_runs = a->runs;

	/* new config: a same, b retimed, c removed, d added */
	struct sched_spec specs2[3] = {
		{ key_of(b1, sizeof b1, 1, "modern"), 1000, (void *)11 },
		{ key_of(b2, sizeof b2, 2, "modern"), 1800000, (void *)12 },
		{ key_of(b4, sizeof b4, 4, "modern"), 1000, (void *)14 },
	};
	cr_assert_eq(sched_reload(s, specs2, 3, now, &rs), 0);
	cr_assert_eq(rs.added, 1);
	cr_assert_eq(rs.removed, 1);
	cr_assert_eq(rs.kept, 2);
	cr_assert_eq(rs.retimed, 1);
	cr_assert_eq(rs.removed_running, 0);
	cr_assert_eq(sched_find(s, &specs2[0].key), a, "same object");
	cr_assert_eq(a->state, SCHED_ENTRY_RUNNING);
	cr_assert_eq(a->next_due, a_next);
	cr_assert_eq(a->overdue, 1);
	cr_assert_eq(a->runs, a_runs);
	cr_assert_eq(a->udata, (void *)11);
	cr_assert_eq(b->interval_ms, 1800000);
	cr_assert_eq(b->phase_ms, b->hash % 1800000);
	cr_assert_geq(b->next_due, now);
	cr_assert_lt(b->next_due, now + 1800000);
	cr_assert_null(sched_find(s, &(struct sched_key){ "h3.example", 443, "h3.example", "modern" }));
	struct sched_stats st;
	sched_get_stats(s, &st);
	cr_assert_eq(st.entries, 3);
	cr_assert_eq(st.running, 1);
	cr_assert_eq(st.overdue, 1, "global counters survive a reload");
	/* still not started twice */
	sched_pop_due(s, now, rec_cb, &r);
	cr_assert_eq(a->runs, a_runs);
	sched_done(s, a);
	cr_assert_eq(a->state, SCHED_ENTRY_IDLE);

	/* a duplicate key fails and changes nothing */
	struct sched_spec dup[2] = { specs2[0], specs2[0] };
	errno = 0;
	cr_assert_eq(sched_reload(s, dup, 2, now, &rs), -1);
	cr_assert_eq(errno, EEXIST);
	sched_get_stats(s, &st);
	cr_assert_eq(st.entries, 3);
	cr_assert_eq(sched_find(s, &specs2[2].key)->udata, (void *)14);
	sched_free(s);
}

Test(sched, reload_removes_running_and_queued)
{
	char b1[64], b2[64], b3[64];
	struct sched *s = sched_new(1, 0);
	struct sched_spec specs[2] = {
		{ key_of(b1, sizeof b1, 1, "modern"), 1000, NULL },
		{ key_of(b2, sizeof b2, 2, "modern"), 1000, NULL },
	};
	cr_assert_eq(sched_reload(s, specs, 2, 0, NULL), 0);
	struct sched_entry *started[4];
	struct rec r = { .s = s, .finish = false, .cap = 4, .started = started };
	sched_pop_due(s, 1000, rec_cb, &r);     /* both due; one runs, one queued */
	cr_assert_eq(r.n, 1);
	struct sched_stats st;
	sched_get_stats(s, &st);
	cr_assert_eq(st.queued, 1);
	/* reload to a single different entry: both old ones go */
	struct sched_spec other = { key_of(b3, sizeof b3, 3, "modern"), 1000, NULL };
	struct sched_reload_stats rs;
	cr_assert_eq(sched_reload(s, &other, 1, 1000, &rs), 0);
	cr_assert_eq(rs.removed, 2);
	cr_assert_eq(rs.removed_running, 1);
	sched_get_stats(s, &st);
	cr_assert_eq(st.entries, 1);
	cr_assert_eq(st.queued, 0);
	cr_assert_eq(st.running, 1, "the removed run still holds its concurrency slot");
	cr_assert(started[0]->removed);
	/* the limit (1) is still taken: the new entry waits */
	sched_pop_due(s, 2000, rec_cb, &r);
	cr_assert_eq(r.n, 1);
	sched_done(s, started[0]);              /* frees it */
	sched_get_stats(s, &st);
	cr_assert_eq(st.running, 0);
	sched_pop_due(s, 2000, rec_cb, &r);
	cr_assert_eq(r.n, 2);
	/* reload to nothing, with the new entry running: freed by sched_free */
	cr_assert_eq(sched_reload(s, NULL, 0, 2000, &rs), 0);
	cr_assert_eq(rs.removed_running, 1);
	cr_assert_eq(sched_next_due(s, 2000), -1);
	sched_free(s);
}
