/*
 * sched.c - see sched.h for the model (phases, clocks, overdue rules).
 *
 * Three structures over one set of entries:
 *   heap   binary min-heap of every live entry by next_due (heap_idx kept
 *          in the entry so it can be sifted in place);
 *   queue  FIFO of QUEUED entries (intrusive list), filled in heap order,
 *          so runs start oldest slot first;
 *   index  open-addressing hash table (linear probing) by key, for
 *          sched_add's duplicate check and reload matching.
 * Removed entries still RUNNING hang on the `orphans` list until sched_done.
 */
#include "sched.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Histogram: values 0..15 exact, then 8 sub-buckets per power of two. */
#define HIST_LINEAR   16
#define HIST_SUB_BITS 3
#define HIST_SUB      (1 << HIST_SUB_BITS)
#define HIST_MAX_EXP  62
#define HIST_BUCKETS  (HIST_LINEAR + (HIST_MAX_EXP - 4 + 1) * HIST_SUB)

struct sched_list {
	struct sched_entry *head, *tail;
};

struct sched {
	unsigned concurrency;
	int64_t wall_off;               /* wall ms - mono ms, fixed at sched_new */

	struct sched_entry **heap;
	size_t nheap, capheap;

	struct sched_entry **index;     /* capindex slots, power of two, NULL = empty */
	size_t capindex;

	struct sched_list queue;        /* QUEUED, oldest slot first */
	struct sched_list orphans;      /* removed while RUNNING */
	size_t nqueued, running;

	uint64_t started, overdue;
	uint64_t hist[HIST_BUCKETS];
	int64_t late_max;
};

/* ---- hashing ---- */

uint64_t sched_fnv1a64(const void *data, size_t len)
{
	const unsigned char *p = data;
	uint64_t h = 0xcbf29ce484222325ull;             /* FNV-1a 64 offset basis */
	for (size_t i = 0; i < len; i++) {
		h ^= p[i];
		h *= 0x100000001b3ull;                  /* FNV-1a 64 prime */
	}
	return h;
}

/* MurmurHash3's 64-bit finaliser: every input bit affects every output bit. */
static uint64_t fmix64(uint64_t k)
{
	k ^= k >> 33;
	k *= 0xff51afd7ed558ccdull;
	k ^= k >> 33;
	k *= 0xc4ceb9fe1a85ec53ull;
	k ^= k >> 33;
	return k;
}

/* Key bytes: host NUL port(decimal) NUL ('-' | '=' sni) NUL profile NUL.
 * The '-'/'=' marker keeps "no SNI" apart from an empty one. This encoding
 * is part of the phase contract: changing it moves every entry's phase.
 * Returns a malloc'd buffer or NULL. */
static char *key_encode(const struct sched_key *k, size_t *len)
{
	char port[16];
	int pl = snprintf(port, sizeof port, "%u", k->port);
	size_t hl = strlen(k->host), sl = k->sni ? strlen(k->sni) : 0, ql = strlen(k->profile);
	size_t n = hl + 1 + (size_t)pl + 1 + 1 + sl + 1 + ql + 1;
	char *b = malloc(n), *o = b;
	if (!b)
		return NULL;
	memcpy(o, k->host, hl + 1);
	o += hl + 1;
	memcpy(o, port, (size_t)pl + 1);
	o += pl + 1;
	*o++ = k->sni ? '=' : '-';
	if (sl)
		memcpy(o, k->sni, sl);
	o += sl;
	*o++ = '\0';
	memcpy(o, k->profile, ql + 1);
	*len = n;
	return b;
}

uint64_t sched_key_hash(const struct sched_key *k)
{
	size_t len;
	char *b = key_encode(k, &len);
	if (!b)
		return 0;
	uint64_t h = fmix64(sched_fnv1a64(b, len));
	free(b);
	return h;
}

/* ---- time ---- */

static int64_t floor_div(int64_t a, int64_t b)
{
	int64_t q = a / b;
	return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

/* The first slot of e at or after now (monotonic ms). */
static int64_t first_slot(const struct sched *s, const struct sched_entry *e, int64_t now)
{
	int64_t iv = e->interval_ms, wall = now + s->wall_off;
	int64_t k = floor_div(wall - (int64_t)e->phase_ms + iv - 1, iv);
	return (int64_t)e->phase_ms + k * iv - s->wall_off;
}

static void set_interval(const struct sched *s, struct sched_entry *e, unsigned interval_ms,
			 int64_t now)
{
	e->interval_ms = interval_ms;
	e->phase_ms = (unsigned)(e->hash % interval_ms);
	e->next_due = first_slot(s, e, now);
}

/* ---- histogram ---- */

static size_t hist_bucket(int64_t v)
{
	if (v < HIST_LINEAR)
		return v < 0 ? 0 : (size_t)v;
	int e = 63 - __builtin_clzll((unsigned long long)v);     /* >= 4 */
	size_t sub = (size_t)((unsigned long long)v >> (e - HIST_SUB_BITS)) & (HIST_SUB - 1);
	return HIST_LINEAR + (size_t)(e - 4) * HIST_SUB + sub;
}

/* Largest value that falls in bucket b. */
static double hist_upper(size_t b)
{
	if (b < HIST_LINEAR)
		return (double)b;
	size_t e = (b - HIST_LINEAR) / HIST_SUB + 4, sub = (b - HIST_LINEAR) % HIST_SUB;
	double lo = (double)(1ull << e) + (double)sub * (double)(1ull << (e - HIST_SUB_BITS));
	return lo + (double)(1ull << (e - HIST_SUB_BITS)) - 1;
}

double sched_lateness_ms(const struct sched *s, double q)
{
	if (s->started == 0)
		return 0;
	if (q < 0)
		q = 0;
	if (q > 1)
		q = 1;
	/* the smallest bucket whose cumulative count reaches ceil(q * n) */
	uint64_t want = (uint64_t)((double)s->started * q + 0.999999999);
	if (want == 0)
		want = 1;
	uint64_t acc = 0;
	for (size_t b = 0; b < HIST_BUCKETS; b++) {
		acc += s->hist[b];
		if (acc >= want) {
			double u = hist_upper(b);
			return u < (double)s->late_max ? u : (double)s->late_max;
		}
	}
	return (double)s->late_max;
}

/* ---- heap ---- */

static bool before(const struct sched_entry *a, const struct sched_entry *b)
{
	return a->next_due < b->next_due;
}

static void heap_set(struct sched *s, size_t i, struct sched_entry *e)
{
	s->heap[i] = e;
	e->heap_idx = i;
}

static void sift_up(struct sched *s, size_t i)
{
	struct sched_entry *e = s->heap[i];
	while (i > 0) {
		size_t p = (i - 1) / 2;
		if (!before(e, s->heap[p]))
			break;
		heap_set(s, i, s->heap[p]);
		i = p;
	}
	heap_set(s, i, e);
}

static void sift_down(struct sched *s, size_t i)
{
	struct sched_entry *e = s->heap[i];
	for (;;) {
		size_t c = 2 * i + 1;
		if (c >= s->nheap)
			break;
		if (c + 1 < s->nheap && before(s->heap[c + 1], s->heap[c]))
			c++;
		if (!before(s->heap[c], e))
			break;
		heap_set(s, i, s->heap[c]);
		i = c;
	}
	heap_set(s, i, e);
}

static int heap_reserve(struct sched *s, size_t n)
{
	if (n <= s->capheap)
		return 0;
	size_t cap = s->capheap ? s->capheap : 64;
	while (cap < n)
		cap *= 2;
	struct sched_entry **h = realloc(s->heap, cap * sizeof *h);
	if (!h)
		return -1;
	s->heap = h;
	s->capheap = cap;
	return 0;
}

/* ---- lists ---- */

static void list_push(struct sched_list *l, struct sched_entry *e)
{
	e->qnext = NULL;
	e->qprev = l->tail;
	if (l->tail)
		l->tail->qnext = e;
	else
		l->head = e;
	l->tail = e;
}

static void list_unlink(struct sched_list *l, struct sched_entry *e)
{
	if (e->qprev)
		e->qprev->qnext = e->qnext;
	else
		l->head = e->qnext;
	if (e->qnext)
		e->qnext->qprev = e->qprev;
	else
		l->tail = e->qprev;
	e->qnext = e->qprev = NULL;
}

/* ---- index ---- */

static size_t index_cap_for(size_t n)
{
	size_t cap = 64;
	while (cap < 2 * n)
		cap *= 2;
	return cap;
}

static bool key_eq(const struct sched_entry *e, uint64_t h, const char *key, size_t len)
{
	return e->hash == h && e->keylen == len && memcmp(e->key, key, len) == 0;
}

/* The slot holding this key, or the empty slot where it would go. */
static size_t index_slot(struct sched_entry **tab, size_t cap, uint64_t h, const char *key,
			 size_t len)
{
	size_t i = (size_t)h & (cap - 1);
	while (tab[i] && !key_eq(tab[i], h, key, len))
		i = (i + 1) & (cap - 1);
	return i;
}

static int index_grow(struct sched *s, size_t n)
{
	if (s->capindex >= 2 * n)
		return 0;
	size_t cap = index_cap_for(n);
	struct sched_entry **tab = calloc(cap, sizeof *tab);
	if (!tab)
		return -1;
	for (size_t i = 0; i < s->capindex; i++) {
		struct sched_entry *e = s->index[i];
		if (e)
			tab[index_slot(tab, cap, e->hash, e->key, e->keylen)] = e;
	}
	free(s->index);
	s->index = tab;
	s->capindex = cap;
	return 0;
}

/* ---- entries ---- */

static void entry_free(struct sched_entry *e)
{
	if (e) {
		free(e->key);
		free(e);
	}
}

/* A new IDLE entry, not linked anywhere. */
static struct sched_entry *entry_new(const struct sched_key *k, void *udata)
{
	struct sched_entry *e = calloc(1, sizeof *e);
	if (!e)
		return NULL;
	e->key = key_encode(k, &e->keylen);
	if (!e->key) {
		free(e);
		return NULL;
	}
	e->hash = fmix64(sched_fnv1a64(e->key, e->keylen));
	e->udata = udata;
	e->state = SCHED_ENTRY_IDLE;
	return e;
}

struct sched *sched_new(unsigned concurrency, int64_t wall_minus_mono_ms)
{
	struct sched *s = calloc(1, sizeof *s);
	if (!s)
		return NULL;
	s->concurrency = concurrency ? concurrency : 1;
	s->wall_off = wall_minus_mono_ms;
	return s;
}

void sched_free(struct sched *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->nheap; i++)
		entry_free(s->heap[i]);
	for (struct sched_entry *e = s->orphans.head, *n; e; e = n) {
		n = e->qnext;
		entry_free(e);
	}
	free(s->heap);
	free(s->index);
	free(s);
}

void sched_set_concurrency(struct sched *s, unsigned concurrency)
{
	s->concurrency = concurrency ? concurrency : 1;
}

struct sched_entry *sched_find(const struct sched *s, const struct sched_key *k)
{
	if (!s->capindex)
		return NULL;
	size_t len;
	char *key = key_encode(k, &len);
	if (!key)
		return NULL;
	uint64_t h = fmix64(sched_fnv1a64(key, len));
	struct sched_entry *e = s->index[index_slot(s->index, s->capindex, h, key, len)];
	free(key);
	return e;
}

struct sched_entry *sched_add(struct sched *s, const struct sched_key *k, unsigned interval_ms,
			      void *udata, int64_t now)
{
	if (interval_ms == 0) {
		errno = EINVAL;
		return NULL;
	}
	if (heap_reserve(s, s->nheap + 1) < 0 || index_grow(s, s->nheap + 1) < 0) {
		errno = ENOMEM;
		return NULL;
	}
	struct sched_entry *e = entry_new(k, udata);
	if (!e) {
		errno = ENOMEM;
		return NULL;
	}
	size_t slot = index_slot(s->index, s->capindex, e->hash, e->key, e->keylen);
	if (s->index[slot]) {
		entry_free(e);
		errno = EEXIST;
		return NULL;
	}
	s->index[slot] = e;
	set_interval(s, e, interval_ms, now);
	heap_set(s, s->nheap++, e);
	sift_up(s, s->nheap - 1);
	return e;
}

int sched_reload(struct sched *s, const struct sched_spec *specs, size_t n, int64_t now,
		 struct sched_reload_stats *st)
{
	struct sched_reload_stats rs = { 0 };
	size_t cap = index_cap_for(n);
	struct sched_entry **tab = calloc(cap, sizeof *tab);
	struct sched_entry **heap = malloc((n ? n : 1) * sizeof *heap);
	unsigned char *fresh = calloc(n ? n : 1, 1);
	int err = ENOMEM;

	if (!tab || !heap || !fresh)
		goto fail;
	/* Phase 1, may fail: match or allocate every entry; nothing of s changes. */
	for (size_t i = 0; i < n; i++) {
		if (specs[i].interval_ms == 0) {
			err = EINVAL;
			goto fail;
		}
		size_t len;
		char *key = key_encode(&specs[i].key, &len);
		if (!key)
			goto fail;
		uint64_t h = fmix64(sched_fnv1a64(key, len));
		size_t slot = index_slot(tab, cap, h, key, len);
		if (tab[slot]) {
			free(key);
			err = EEXIST;
			goto fail;
		}
		struct sched_entry *old = s->capindex
			? s->index[index_slot(s->index, s->capindex, h, key, len)] : NULL;
		free(key);
		if (old) {
			tab[slot] = heap[i] = old;
		} else {
			struct sched_entry *e = entry_new(&specs[i].key, specs[i].udata);
			if (!e)
				goto fail;
			tab[slot] = heap[i] = e;
			fresh[i] = 1;
		}
	}

	/* Phase 2, cannot fail: retire what is gone, then adopt the new set.
	 * Mark survivors through heap_idx (every live entry is in the heap). */
	for (size_t i = 0; i < s->nheap; i++)
		s->heap[i]->heap_idx = SIZE_MAX;
	for (size_t i = 0; i < n; i++)
		if (!fresh[i])
			heap[i]->heap_idx = 0;
	for (size_t i = 0; i < s->nheap; i++) {
		struct sched_entry *e = s->heap[i];
		if (e->heap_idx != SIZE_MAX)
			continue;
		rs.removed++;
		if (e->state == SCHED_ENTRY_QUEUED) {
			list_unlink(&s->queue, e);
			s->nqueued--;
		}
		if (e->state == SCHED_ENTRY_RUNNING) {
			e->removed = true;
			list_push(&s->orphans, e);
			rs.removed_running++;
		} else {
			entry_free(e);
		}
	}
	for (size_t i = 0; i < n; i++) {
		struct sched_entry *e = heap[i];
		e->udata = specs[i].udata;
		if (fresh[i]) {
			set_interval(s, e, specs[i].interval_ms, now);
			rs.added++;
		} else {
			rs.kept++;
			if (e->interval_ms != specs[i].interval_ms) {
				set_interval(s, e, specs[i].interval_ms, now);
				rs.retimed++;
			}
		}
		e->heap_idx = i;
	}
	free(s->heap);
	free(s->index);
	s->heap = heap;
	s->nheap = s->capheap = n;
	if (s->capheap == 0)
		s->capheap = 1;
	s->index = tab;
	s->capindex = cap;
	for (size_t i = n / 2; i-- > 0;)
		sift_down(s, i);
	free(fresh);
	if (st)
		*st = rs;
	return 0;
fail:
	/* only the fresh entries are ours to free; tab holds the same pointers */
	for (size_t i = 0; fresh && heap && i < n; i++)
		if (fresh[i])
			entry_free(heap[i]);
	free(tab);
	free(heap);
	free(fresh);
	errno = err;
	return -1;
}

/* ---- running ---- */

/* Accounts for every slot of the heap's top entries that is due by now. */
static void account_due(struct sched *s, int64_t now)
{
	while (s->nheap > 0 && s->heap[0]->next_due <= now) {
		struct sched_entry *e = s->heap[0];
		int64_t iv = e->interval_ms;
		int64_t due = (now - e->next_due) / iv + 1;     /* slots due, >= 1 */
		int64_t newest = e->next_due + (due - 1) * iv;
		uint64_t missed = (uint64_t)due;
		if (e->state == SCHED_ENTRY_IDLE) {
			e->state = SCHED_ENTRY_QUEUED;
			e->run_due = newest;
			list_push(&s->queue, e);
			s->nqueued++;
			missed--;
		}
		e->overdue += missed;
		s->overdue += missed;
		e->next_due = newest + iv;
		sift_down(s, 0);
	}
}

size_t sched_pop_due(struct sched *s, int64_t now, sched_start_cb cb, void *arg)
{
	size_t started = 0;
	account_due(s, now);
	while (s->running < s->concurrency && s->queue.head) {
		struct sched_entry *e = s->queue.head;
		list_unlink(&s->queue, e);
		s->nqueued--;
		e->state = SCHED_ENTRY_RUNNING;
		e->runs++;
		s->running++;
		s->started++;
		int64_t late = now - e->run_due;
		s->hist[hist_bucket(late)]++;
		if (late > s->late_max)
			s->late_max = late;
		started++;
		cb(e, arg);
	}
	return started;
}

int64_t sched_next_due(const struct sched *s, int64_t now)
{
	if (s->queue.head && s->running < s->concurrency)
		return 0;
	if (s->nheap == 0)
		return -1;
	int64_t d = s->heap[0]->next_due - now;
	return d > 0 ? d : 0;
}

void sched_done(struct sched *s, struct sched_entry *e)
{
	if (e->state != SCHED_ENTRY_RUNNING)
		return;
	s->running--;
	if (e->removed) {
		list_unlink(&s->orphans, e);
		entry_free(e);
		return;
	}
	e->state = SCHED_ENTRY_IDLE;
}

void sched_get_stats(const struct sched *s, struct sched_stats *st)
{
	st->entries = s->nheap;
	st->running = s->running;
	st->queued = s->nqueued;
	st->started = s->started;
	st->overdue = s->overdue;
	st->lateness_count = s->started;
	st->lateness_max_ms = s->late_max;
}
