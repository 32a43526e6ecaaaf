/*
 * db_tab.h - an open-addressing hash table of entries keyed by a byte
 * string, for the ingest path's per-transaction tables (db_plan.c) and the
 * pool's table of rows already written (db_seen.c).
 *
 * An entry is a struct whose first member is a struct db_tab_ent; the table
 * allocates it (esize bytes, zeroed, plus the key) and chains the entries in
 * insertion order for the output.
 */
#ifndef TW_DB_TAB_H
#define TW_DB_TAB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct db_tab_ent {
	struct db_tab_ent *next; /* insertion order */
	uint64_t h;
	size_t klen;
	char *key;
};

struct db_tab {
	struct db_tab_ent **v;
	size_t cap, n;
	struct db_tab_ent *first, *last;
	size_t esize; /* the entry struct's size: set before the first get */
	bool oom;
};

/* The entry of key (created zeroed when new, *created true); NULL when out
 * of memory (t->oom then stays true). */
void *db_tab_get(struct db_tab *t, const void *key, size_t klen, bool *created)
	__attribute__((warn_unused_result));
/* The entry of key, or NULL. */
void *db_tab_find(const struct db_tab *t, const void *key, size_t klen);
/* Frees every entry; the table is empty again (esize kept). */
void db_tab_clear(struct db_tab *t);
/* FNV-1a of n bytes, continuing from h (the first call: DB_TAB_HASH0). */
#define DB_TAB_HASH0 1469598103934665603ULL
uint64_t db_tab_hash(uint64_t h, const void *p, size_t n);

#endif
