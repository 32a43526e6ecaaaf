/*
 * db_seen.c - the rows already written (db_seen.h).
 */
#include "db_seen.h"

#include <string.h>

struct seen {
	struct db_tab_ent e;
	int64_t first, last;
	uint64_t hash;
};

/* A pending record: its fixed part, then the key's bytes. */
struct rec {
	size_t klen;
	int64_t first, last;
	uint64_t hash;
};

bool db_seen_covers(const struct db_tab *seen, const void *key, size_t klen, int64_t first,
		    int64_t last, uint64_t hash)
{
	const struct seen *s = db_tab_find(seen, key, klen);
	if (!s || first < s->first)
		return false;
	if (last < s->last)
		return true; /* older than what is stored: the upsert keeps the stored row */
	return hash == s->hash && last - s->last < DB_SEEN_LAG_MS;
}

void db_seen_pend(struct strbuf *pending, const void *key, size_t klen, int64_t first,
		  int64_t last, uint64_t hash)
{
	struct rec r = { klen, first, last, hash };
	strbuf_put(pending, &r, sizeof r);
	strbuf_put(pending, key, klen);
}

void db_seen_commit(struct db_tab *seen, const struct strbuf *pending)
{
	seen->esize = sizeof(struct seen);
	if (pending->oom)
		return;
	for (size_t off = 0; off + sizeof(struct rec) <= pending->len;) {
		struct rec r;
		memcpy(&r, pending->p + off, sizeof r); /* records are not aligned */
		const char *key = pending->p + off + sizeof r;
		off += sizeof r + r.klen;
		if (seen->n >= DB_SEEN_MAX)
			db_tab_clear(seen);
		bool created;
		struct seen *s = db_tab_get(seen, key, r.klen, &created);
		if (!s) {
			db_tab_clear(seen);
			return;
		}
		if (created) {
			s->first = r.first;
			s->last = r.last;
			s->hash = r.hash;
			continue;
		}
		if (r.first < s->first)
			s->first = r.first;
		if (r.last >= s->last) {
			s->last = r.last;
			s->hash = r.hash;
		}
	}
}
