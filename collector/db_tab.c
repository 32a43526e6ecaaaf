/*
 * db_tab.c - the byte-string keyed hash table of db_tab.h: FNV-1a, linear
 * probing, at most half full.
 */
#include "db_tab.h"

#include <stdlib.h>
#include <string.h>

uint64_t db_tab_hash(uint64_t h, const void *p, size_t n)
{
	const unsigned char *s = p;
	for (size_t i = 0; i < n; i++) {
		h ^= s[i];
		h *= 1099511628211ULL;
	}
	return h;
}

static uint64_t fnv(const void *k, size_t n)
{
	return db_tab_hash(DB_TAB_HASH0, k, n);
}

static bool grow(struct db_tab *t)
{
	size_t cap = t->cap ? t->cap * 2 : 256;
	struct db_tab_ent **v = calloc(cap, sizeof *v);
	if (!v)
		return false;
	for (struct db_tab_ent *e = t->first; e; e = e->next) {
		size_t i = e->h & (cap - 1);
		while (v[i])
			i = (i + 1) & (cap - 1);
		v[i] = e;
	}
	free(t->v);
	t->v = v;
	t->cap = cap;
	return true;
}

/* The slot of key (hash h) in t->v: where its entry is, or the empty slot
 * where it would go. t->cap must be non-zero. */
static size_t slot(const struct db_tab *t, uint64_t h, const void *key, size_t klen)
{
	size_t i = h & (t->cap - 1);
	for (; t->v[i]; i = (i + 1) & (t->cap - 1)) {
		const struct db_tab_ent *e = t->v[i];
		if (e->h == h && e->klen == klen && memcmp(e->key, key, klen) == 0)
			break;
	}
	return i;
}

void *db_tab_find(const struct db_tab *t, const void *key, size_t klen)
{
	return t->cap ? t->v[slot(t, fnv(key, klen), key, klen)] : NULL;
}

void *db_tab_get(struct db_tab *t, const void *key, size_t klen, bool *created)
{
	*created = false;
	if ((t->n + 1) * 2 > t->cap && !grow(t)) {
		t->oom = true;
		return NULL;
	}
	uint64_t h = fnv(key, klen);
	size_t i = slot(t, h, key, klen);
	if (t->v[i])
		return t->v[i];
	struct db_tab_ent *e = calloc(1, t->esize + klen);
	if (!e) {
		t->oom = true;
		return NULL;
	}
	e->h = h;
	e->klen = klen;
	e->key = (char *)e + t->esize;
	memcpy(e->key, key, klen);
	t->v[i] = e;
	t->n++;
	if (t->last)
		t->last->next = e;
	else
		t->first = e;
	t->last = e;
	*created = true;
	return e;
}

void db_tab_clear(struct db_tab *t)
{
	struct db_tab_ent *e = t->first;
	while (e) {
		struct db_tab_ent *next = e->next;
		free(e);
		e = next;
	}
	free(t->v);
	size_t esize = t->esize;
	memset(t, 0, sizeof *t);
	t->esize = esize;
}
