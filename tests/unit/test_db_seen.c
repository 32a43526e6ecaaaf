/*
 * test_db_seen.c - the table of sightings and targets rows already committed
 * (collector/db_seen.c) and the hash table under it (collector/db_tab.c):
 * which writes it lets a transaction leave out, that only committed writes
 * count, and that it stays bounded.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "db_seen.h"

TestSuite(db_seen);

static const char key[] = "fpA\0t.example\0\x01\xbb\0\0eu-west";
#define KLEN sizeof key

/* What one committed transaction wrote: key spanning [first, last]. */
static void commit_one(struct db_tab *seen, const void *k, size_t klen, int64_t first, int64_t last,
		       uint64_t hash)
{
	struct strbuf pend = { 0 };
	db_seen_pend(&pend, k, klen, first, last, hash);
	db_seen_commit(seen, &pend);
	strbuf_free(&pend);
}

Test(db_seen, nothing_is_covered_before_a_commit)
{
	struct db_tab seen = { 0 };
	cr_assert_not(db_seen_covers(&seen, key, KLEN, 1000, 1000, 0));
	struct strbuf pend = { 0 };
	db_seen_pend(&pend, key, KLEN, 1000, 2000, 0);
	/* pending only: the transaction has not committed */
	cr_assert_not(db_seen_covers(&seen, key, KLEN, 1000, 1000, 0));
	db_seen_commit(&seen, &pend);
	cr_assert(db_seen_covers(&seen, key, KLEN, 1000, 2000, 0));
	strbuf_free(&pend);
	db_tab_clear(&seen);
}

Test(db_seen, last_seen_may_lag_by_less_than_the_lag_and_first_seen_never)
{
	struct db_tab seen = { 0 };
	int64_t t = 1767225600000; /* 2026-01-01 */
	commit_one(&seen, key, KLEN, t, t, 0);
	cr_assert(db_seen_covers(&seen, key, KLEN, t, t + DB_SEEN_LAG_MS - 1, 0));
	cr_assert_not(db_seen_covers(&seen, key, KLEN, t, t + DB_SEEN_LAG_MS, 0),
		      "a minute later is written");
	cr_assert_not(db_seen_covers(&seen, key, KLEN, t - 1, t, 0),
		      "an earlier first_seen is written");
	cr_assert(db_seen_covers(&seen, key, KLEN, t + 5, t + 10, 0));
	/* the committed span grows with each commit */
	commit_one(&seen, key, KLEN, t - 5000, t + 70000, 0);
	cr_assert(db_seen_covers(&seen, key, KLEN, t - 5000, t + 70000 + DB_SEEN_LAG_MS - 1, 0));
	cr_assert_not(db_seen_covers(&seen, key, KLEN, t - 5001, t, 0));
	/* another key is its own row */
	char other[KLEN];
	memcpy(other, key, KLEN);
	other[KLEN - 2] = 'X';
	cr_assert_not(db_seen_covers(&seen, other, KLEN, t, t, 0));
	db_tab_clear(&seen);
}

Test(db_seen, a_changed_hash_is_written_unless_older_than_the_stored_row)
{
	struct db_tab seen = { 0 };
	int64_t t = 1767225600000;
	commit_one(&seen, key, KLEN, t, t + 1000, 42);
	cr_assert(db_seen_covers(&seen, key, KLEN, t + 2000, t + 2000, 42));
	cr_assert_not(db_seen_covers(&seen, key, KLEN, t + 2000, t + 2000, 43),
		      "new labels or service are written at once");
	cr_assert(db_seen_covers(&seen, key, KLEN, t + 500, t + 500, 43),
		  "an older row does not change the stored labels (the upsert's rule)");
	/* an older write does not replace the newest hash */
	commit_one(&seen, key, KLEN, t + 100, t + 200, 7);
	cr_assert(db_seen_covers(&seen, key, KLEN, t + 2000, t + 2000, 42));
	db_tab_clear(&seen);
}

Test(db_seen, the_table_is_emptied_when_full)
{
	struct db_tab seen = { 0 };
	struct strbuf pend = { 0 };
	char k[32];
	for (int i = 0; i < DB_SEEN_MAX; i++) {
		int n = snprintf(k, sizeof k, "key-%d", i);
		db_seen_pend(&pend, k, (size_t)n, 1000, 1000, 0);
	}
	db_seen_commit(&seen, &pend);
	cr_assert_eq(seen.n, DB_SEEN_MAX);
	cr_assert(db_seen_covers(&seen, "key-0", 5, 1000, 1000, 0));
	commit_one(&seen, "one more", 8, 1000, 1000, 0);
	cr_assert_eq(seen.n, 1, "full: emptied, then the new entry");
	cr_assert_not(db_seen_covers(&seen, "key-0", 5, 1000, 1000, 0));
	cr_assert(db_seen_covers(&seen, "one more", 8, 1000, 1000, 0));
	strbuf_free(&pend);
	db_tab_clear(&seen);
}

Test(db_seen, the_hash_table_finds_what_it_holds_across_growth)
{
	struct db_tab t = { .esize = sizeof(struct db_tab_ent) };
	char k[32];
	for (int i = 0; i < 5000; i++) {
		bool created;
		int n = snprintf(k, sizeof k, "k%d", i);
		cr_assert_not_null(db_tab_get(&t, k, (size_t)n, &created));
		cr_assert(created);
		cr_assert_not_null(db_tab_get(&t, k, (size_t)n, &created));
		cr_assert_not(created, "the same key twice is one entry");
	}
	cr_assert_eq(t.n, 5000);
	size_t i = 0;
	for (struct db_tab_ent *e = t.first; e; e = e->next, i++) {
		int n = snprintf(k, sizeof k, "k%zu", i);
		cr_assert(e->klen == (size_t)n && memcmp(e->key, k, (size_t)n) == 0, "insertion order");
		cr_assert_eq(db_tab_find(&t, k, (size_t)n), e);
	}
	cr_assert_null(db_tab_find(&t, "k5000", 5));
	cr_assert_null(db_tab_find(&t, "k1", 1), "a prefix is another key");
	db_tab_clear(&t);
	cr_assert_eq(t.n, 0);
	cr_assert_null(db_tab_find(&t, "k1", 2));
}
