/*
 * db_plan.c - one ingest transaction's plan, computed in the collector
 * (issue 11; db_int.h, db_ingest.c, BENCHMARKS.md).
 *
 * At db_ingest() time each Result is COPY-encoded (db_copy_bin.c) and the fields
 * the derived tables need are recorded (struct db_row, strings sanitised as
 * results stores them). Once the transaction holds its probes' watermark
 * rows (db_sql_lock(): probe_spools.last_seq per probe and spool epoch,
 * locked), db_plan_build() keeps, per job, the rows whose seq is above the
 * watermark and above every seq kept before it (a probe numbers its spool's
 * results in ascending order and sends them in that order, so everything
 * else is a replay) and from exactly those rows builds:
 *
 *   c->rows   their COPY lines, for COPY results (no staging, no ON CONFLICT:
 *             the results key stays as the backstop)
 *   c->roll   one ingest_roll row per (minute, target, port, sni, region,
 *             profile): the rollup_1m increments, with
 *             the definitions of sql/001_init.sql computed here
 *             (tw_is_success: outcome 'ok'; tw_is_mtls_failure:
 *             client_cert_required/_rejected; tw_latency_bucket over
 *             tw_latency_bounds(), DB_LATENCY_BUCKETS of them)
 *   c->misc   jsonb of the small tables: the first row of each certificate,
 *             each sighting's first/last started_at, each probe's and each
 *             spool epoch's received_at span and highest new seq, and the
 *             distinct UTC hours of the new rows ("h": rollup_1h is built off
 *             the ingest path, the statement marks those of them already
 *             built dirty, sql/016_rollup_1h_builder.sql)
 *   c->tmisc  jsonb of each target's newest row (the targets statement)
 *
 * Ownership: the rows and their arena belong to the job (db_job_free), and
 * so do the COPY tuples: c->rows holds runs into the jobs' copy buffers
 * (struct db_run), not a copy of the bytes. The other buffers belong to the
 * slot, until db_plan_free() at the end of the task. The hash tables live
 * only inside db_plan_build().
 */
#include "db_int.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* tw_latency_bounds() of sql/001_init.sql: DB_LATENCY_BOUNDS, the text
 * the connect check compares with the schema's (db_pool.c: a schema with
 * other bounds is not ready), parsed once. */
static double bounds[DB_LATENCY_BUCKETS];

static void bounds_init(void)
{
	static bool done;
	const char *s = DB_LATENCY_BOUNDS;
	if (done)
		return;
	for (int k = 0; k < DB_LATENCY_BUCKETS; k++) {
		char *end;
		bounds[k] = strtod(s, &end);
		s = end + (*end == ',');
	}
	done = true;
}

/* ------------------------------------------------------------ text */

/* An array literal element: double-quoted, " and \ escaped. */
static void arr_str(struct strbuf *b, const char *s)
{
	strbuf_putc(b, '"');
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			strbuf_putc(b, '\\');
		strbuf_putc(b, *s);
	}
	strbuf_putc(b, '"');
}

/* A string of the arena (offset 0: NULL) as a JSON value */
static void arena_json(struct strbuf *b, const struct db_job *j, size_t off)
{
	db_json_str(b, off ? j->arena.p + off : NULL);
}

/* ------------------------------------------------------------ hash table */

/* An open-addressing table of entries keyed by a byte string; entries are
 * also chained in insertion order for the output. */
struct ent {
	struct ent *next;  /* insertion order */
	uint64_t h;
	size_t klen;
	char *key;
};

struct tab {
	struct ent **v;
	size_t cap, n;
	struct ent *first, *last;
	size_t esize;
	bool oom;
};

static uint64_t fnv(const char *k, size_t n)
{
	uint64_t h = 1469598103934665603ULL;
	for (size_t i = 0; i < n; i++) {
		h ^= (unsigned char)k[i];
		h *= 1099511628211ULL;
	}
	return h;
}

static bool tab_grow(struct tab *t)
{
	size_t cap = t->cap ? t->cap * 2 : 256;
	struct ent **v = calloc(cap, sizeof *v);
	if (!v)
		return false;
	for (struct ent *e = t->first; e; e = e->next) {
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

/* The entry of key (created zeroed when new); NULL when out of memory. */
static void *tab_get(struct tab *t, const struct strbuf *key, bool *created)
{
	*created = false;
	if (key->oom || (t->n + 1) * 2 > t->cap) {
		if (key->oom || !tab_grow(t)) {
			t->oom = true;
			return NULL;
		}
	}
	uint64_t h = fnv(key->p, key->len);
	size_t i = h & (t->cap - 1);
	for (; t->v[i]; i = (i + 1) & (t->cap - 1)) {
		struct ent *e = t->v[i];
		if (e->h == h && e->klen == key->len && memcmp(e->key, key->p, key->len) == 0)
			return e;
	}
	struct ent *e = calloc(1, t->esize + key->len);
	if (!e) {
		t->oom = true;
		return NULL;
	}
	e->h = h;
	e->klen = key->len;
	e->key = (char *)e + t->esize;
	memcpy(e->key, key->p, key->len);
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

/* ------------------------------------------------------------ aggregates */

struct ocount {
	const char *outcome;
	int64_t n;
};

struct agg {
	struct ent e;
	int64_t bucket_ms;
	const struct db_job *j;  /* region and the first row's strings */
	const struct db_row *w;
	const char *service;     /* max(service) in byte order */
	const char **services;   /* all distinct ones, when more than one */
	size_t nservices;
	struct ocount *oc;
	size_t noc;
	int64_t attempts, successes, handshakes, hcount, mtls_att, mtls_fail, stapled, fallback,
		snimis, expiring, noresp;
	double hsum;
	int64_t hist[DB_LATENCY_BUCKETS];
	bool has_days, has_chain;
	double min_days;
	int64_t min_chain_s;
};

struct cert {
	struct ent e;
	const struct db_job *j;
	const struct db_row *w;  /* the earliest row */
};

struct sight {
	struct ent e;
	const struct db_job *j;
	const struct db_row *w;
	int64_t first, last;
};

struct tgt {
	struct ent e;
	const struct db_job *j;
	const struct db_row *w;  /* the newest row */
};

static const char *S(const struct db_job *j, size_t off)
{
	return off ? j->arena.p + off : NULL;
}

static int lat_bucket(double ms)
{
	double x = ms > 0 ? ms : 0;
	int k = 0;
	while (k < DB_LATENCY_BUCKETS && bounds[k] <= x)
		k++;
	return k; /* 1..DB_LATENCY_BUCKETS: width_bucket(greatest(ms, 0), bounds) */
}

static int agg_add(struct agg *a, const struct db_job *j, const struct db_row *w)
{
	const char *svc = S(j, w->service), *out = S(j, w->outcome);
	if (!a->w) {
		a->j = j;
		a->w = w;
	}
	if (svc) {
		if (!a->service) {
			a->service = svc;
		} else if (strcmp(svc, a->service) != 0) {
			bool seen = false;
			for (size_t i = 0; i < a->nservices; i++)
				seen |= strcmp(a->services[i], svc) == 0;
			if (!seen) {
				size_t need = a->nservices ? a->nservices + 1 : 2;
				const char **v = realloc(a->services, need * sizeof *v);
				if (!v)
					return -1;
				if (!a->nservices)
					v[a->nservices++] = a->service;
				v[a->nservices++] = svc;
				a->services = v;
				if (strcmp(svc, a->service) > 0)
					a->service = svc;
			}
		}
	}
	size_t i = 0;
	while (i < a->noc && strcmp(a->oc[i].outcome, out) != 0)
		i++;
	if (i == a->noc) {
		struct ocount *v = realloc(a->oc, (a->noc + 1) * sizeof *v);
		if (!v)
			return -1;
		a->oc = v;
		a->oc[a->noc++] = (struct ocount){ out, 0 };
	}
	a->oc[i].n++;
	a->attempts++;
	if (strcmp(out, "ok") == 0)
		a->successes++;
	if (w->flags & DB_ROW_TLS)
		a->handshakes++;
	if (w->flags & DB_ROW_HS) {
		a->hsum += w->hs_ms;
		a->hcount++;
		a->hist[lat_bucket(w->hs_ms) - 1]++;
	}
	if (w->flags & DB_ROW_MTLS) {
		a->mtls_att++;
		if (strcmp(out, "client_cert_required") == 0 || strcmp(out, "client_cert_rejected") == 0)
			a->mtls_fail++;
	}
	if ((w->flags & DB_ROW_TLS) && (w->flags & DB_ROW_STAPLED))
		a->stapled++;
	if (w->flags & DB_ROW_FALLBACK)
		a->fallback++;
	if (w->flags & DB_ROW_SNI_MISMATCH)
		a->snimis++;
	if (w->flags & DB_ROW_EXPIRING)
		a->expiring++;
	if ((w->flags & DB_ROW_TLS) && (w->flags & DB_ROW_NAMED_FALSE))
		a->noresp++;
	if ((w->flags & DB_ROW_DAYS) && (!a->has_days || w->days < a->min_days)) {
		a->has_days = true;
		a->min_days = w->days;
	}
	if ((w->flags & DB_ROW_CHAIN) && (!a->has_chain || w->chain_min_s < a->min_chain_s)) {
		a->has_chain = true;
		a->min_chain_s = w->chain_min_s;
	}
	return 0;
}

static int64_t floor_to(int64_t ms, int64_t unit)
{
	int64_t q = ms / unit;
	if (ms % unit < 0)
		q--;
	return q * unit;
}

static void key_str(struct strbuf *k, const char *s)
{
	strbuf_puts(k, s ? s : "");
	strbuf_put(k, "", 1);
}

static int add_rollup(struct tab *t, struct strbuf *k, const struct db_job *j,
		      const struct db_row *w)
{
	int64_t bucket = floor_to(w->started_ms, 60000);
	strbuf_reset(k);
	strbuf_put(k, &bucket, sizeof bucket);
	strbuf_put(k, &w->port, sizeof w->port);
	key_str(k, S(j, w->target));
	key_str(k, S(j, w->sni));
	key_str(k, S(j, j->region_off));
	key_str(k, S(j, w->profile));
	bool created;
	struct agg *a = tab_get(t, k, &created);
	if (!a)
		return -1;
	if (created)
		a->bucket_ms = bucket;
	return agg_add(a, j, w);
}

/* The distinct UTC hours of a transaction's new rows: a few (rows come in
 * time order per probe), so a linear search from the newest. */
struct hours {
	int64_t *v;
	size_t n, cap;
};

static int add_hour(struct hours *h, int64_t hour_ms)
{
	for (size_t i = h->n; i > 0; i--)
		if (h->v[i - 1] == hour_ms)
			return 0;
	if (h->n == h->cap) {
		size_t cap = h->cap ? 2 * h->cap : 8;
		int64_t *v = realloc(h->v, cap * sizeof *v);
		if (!v)
			return -1;
		h->v = v;
		h->cap = cap;
	}
	h->v[h->n++] = hour_ms;
	return 0;
}

/* ------------------------------------------------------------ output */

static void tab_free(struct tab *t, bool aggs)
{
	struct ent *e = t->first;
	while (e) {
		struct ent *next = e->next;
		if (aggs) {
			struct agg *a = (struct agg *)e;
			free(a->oc);
			free(a->services);
		}
		free(e);
		e = next;
	}
	free(t->v);
	memset(t, 0, sizeof *t);
}

/* A decimal integer without printf (a group's row has 31 of them). */
static void put_ll(struct strbuf *b, long long v)
{
	char buf[24], *e = buf + sizeof buf, *q = e;
	unsigned long long u = v < 0 ? 0ULL - (unsigned long long)v : (unsigned long long)v;
	do {
		*--q = (char)('0' + u % 10);
		u /= 10;
	} while (u);
	if (v < 0)
		*--q = '-';
	strbuf_put(b, q, (size_t)(e - q));
}

static void tab_ll(struct strbuf *b, long long v)
{
	strbuf_putc(b, '\t');
	put_ll(b, v);
}

static void tab_dbl(struct strbuf *b, bool has, double v)
{
	strbuf_putc(b, '\t');
	if (has)
		strbuf_printf(b, "%.17g", v);
	else
		strbuf_puts(b, "\\N");
}

static void put_roll(struct strbuf *b, const struct agg *a)
{
	const struct db_job *j = a->j;
	const struct db_row *w = a->w;
	db_put_ts_ms(b, a->bucket_ms);
	strbuf_putc(b, '\t');
	db_put_copy_text(b, S(j, w->target));
	strbuf_printf(b, "\t%d\t", (int)w->port);
	db_put_copy_text(b, S(j, w->sni));
	strbuf_putc(b, '\t');
	db_put_copy_text(b, S(j, j->region_off));
	strbuf_putc(b, '\t');
	db_put_copy_text(b, S(j, w->profile));
	strbuf_putc(b, '\t');
	if (a->service)
		db_put_copy_text(b, a->service);
	else
		strbuf_puts(b, "\\N");
	strbuf_putc(b, '\t');
	if (a->nservices) {
		struct strbuf t = { 0 };
		strbuf_putc(&t, '{');
		for (size_t i = 0; i < a->nservices; i++) {
			if (i)
				strbuf_putc(&t, ',');
			arr_str(&t, a->services[i]);
		}
		strbuf_putc(&t, '}');
		if (t.oom)
			b->oom = true;
		else
			db_put_copy_text(b, t.p);
		strbuf_free(&t);
	} else {
		strbuf_puts(b, "\\N");
	}
	tab_ll(b, a->successes);
	tab_ll(b, a->attempts - a->successes);
	strbuf_putc(b, '\t');
	struct strbuf t = { 0 };
	strbuf_putc(&t, '{');
	for (size_t i = 0; i < a->noc; i++) {
		if (i)
			strbuf_putc(&t, ',');
		db_json_str(&t, a->oc[i].outcome);
		strbuf_putc(&t, ':');
		put_ll(&t, a->oc[i].n);
	}
	strbuf_putc(&t, '}');
	if (t.oom)
		b->oom = true;
	else
		db_put_copy_text(b, t.p);
	strbuf_free(&t);
	strbuf_putc(b, '\t');
	strbuf_putc(b, '{');
	for (int k = 0; k < DB_LATENCY_BUCKETS; k++) {
		if (k)
			strbuf_putc(b, ',');
		put_ll(b, a->hist[k]);
	}
	strbuf_putc(b, '}');
	tab_dbl(b, a->has_days, a->min_days);
	strbuf_putc(b, '\t');
	if (a->has_chain)
		db_put_ts_ms(b, a->min_chain_s * 1000);
	else
		strbuf_puts(b, "\\N");
	/* counters, in db_sql.c's order */
	tab_ll(b, a->attempts);
	tab_ll(b, a->handshakes);
	tab_dbl(b, true, a->hsum);
	const int64_t tail[] = { a->hcount, a->mtls_att, a->mtls_fail, a->stapled,
				 a->fallback, a->snimis, a->expiring, a->noresp };
	for (size_t i = 0; i < sizeof tail / sizeof tail[0]; i++)
		tab_ll(b, tail[i]);
	strbuf_putc(b, '\n');
}

static void json_ts(struct strbuf *b, const char *name, int64_t ms)
{
	strbuf_printf(b, ",\"%s\":\"", name);
	db_put_ts_ms(b, ms);
	strbuf_putc(b, '"');
}

/* ------------------------------------------------------------ the plan */

static int cmp_pair(const void *a, const void *b)
{
	const int64_t *x = a, *y = b;
	if (x[0] != y[0])
		return x[0] < y[0] ? -1 : 1;
	return x[1] < y[1] ? -1 : x[1] > y[1];
}

/* The row's key (seq, started_at) is in results already. */
static bool stored(const struct db_job *j, const struct db_row *w)
{
	int64_t k[2] = { w->seq, w->started_ms };
	return j->nexist && bsearch(k, j->exist, j->nexist / 2, 2 * sizeof *j->exist, cmp_pair);
}

/* An earlier row of the job with the same key is kept (rows come in seq
 * order, so this runs only for a seq that repeats or goes back). */
static bool seen(const struct db_job *j, size_t i)
{
	const struct db_row *w = &j->rowv[i];
	for (size_t k = 0; k < i; k++)
		if (j->rowv[k].kept && j->rowv[k].seq == w->seq &&
		    j->rowv[k].started_ms == w->started_ms)
			return true;
	return false;
}

void db_plan_free(struct db_conn *c)
{
	strbuf_free(&c->rows);
	strbuf_free(&c->roll);
	strbuf_free(&c->misc);
	strbuf_free(&c->tmisc);
	strbuf_free(&c->lock_sql);
	free(c->lock_vals);
	c->lock_vals = NULL;
}

int db_plan_build(struct db_conn *c)
{
	struct tab roll = { .esize = sizeof(struct agg) }, certs = { .esize = sizeof(struct cert) },
		   sights = { .esize = sizeof(struct sight) }, tgts = { .esize = sizeof(struct tgt) };
	struct strbuf k = { 0 };
	int rc = -1;
	bool first_p = true, first_e = true;
	struct strbuf pj = { 0 }, ej = { 0 };
	struct hours hours = { 0 };

	bounds_init();
	strbuf_reset(&c->rows);
	strbuf_reset(&c->roll);
	strbuf_reset(&c->misc);
	strbuf_reset(&c->tmisc);
	for (struct db_job *j = c->jobs.head; j; j = j->next) {
		int64_t wm = j->has_wm ? j->wm : -1, hi = -1;
		j->inserted = 0;
		if (j->nexist > 2)
			qsort(j->exist, j->nexist / 2, 2 * sizeof *j->exist, cmp_pair);
		for (size_t i = 0; i < j->rows_added; i++) {
			struct db_row *w = &j->rowv[i];
			w->kept = false;
			if (w->seq <= wm && stored(j, w))
				continue; /* a replay of a committed row */
			if (w->seq <= hi && seen(j, i))
				continue; /* twice in the batch */
			w->kept = true;
			if (w->seq > hi)
				hi = w->seq;
			j->inserted++;
			db_ingest_run_add(&c->rows, j, w->line, w->line_len);
			if (add_rollup(&roll, &k, j, w) < 0 ||
			    add_hour(&hours, floor_to(w->started_ms, 3600000)) < 0)
				goto out;
			bool created;
			strbuf_reset(&k);
			key_str(&k, S(j, w->target));
			strbuf_put(&k, &w->port, sizeof w->port);
			key_str(&k, S(j, w->sni));
			struct tgt *t = tab_get(&tgts, &k, &created);
			if (!t)
				goto out;
			if (created || w->started_ms >= t->w->started_ms) {
				t->j = j;
				t->w = w;
			}
			if (!w->fp)
				continue;
			strbuf_reset(&k);
			key_str(&k, S(j, w->fp));
			struct cert *ce = tab_get(&certs, &k, &created);
			if (!ce)
				goto out;
			if (created || w->started_ms < ce->w->started_ms) {
				ce->j = j;
				ce->w = w;
			}
			key_str(&k, S(j, w->target));
			strbuf_put(&k, &w->port, sizeof w->port);
			key_str(&k, S(j, j->region_off));
			struct sight *si = tab_get(&sights, &k, &created);
			if (!si)
				goto out;
			if (created) {
				si->j = j;
				si->w = w;
				si->first = si->last = w->started_ms;
			}
			if (w->started_ms < si->first)
				si->first = w->started_ms;
			if (w->started_ms > si->last)
				si->last = w->started_ms;
		}
		if (!j->inserted)
			continue;
		/* p: the probe row; e: the spool watermark, to the highest new seq */
		strbuf_puts(&pj, first_p ? "{\"id\":" : ",{\"id\":");
		arena_json(&pj, j, j->probe_off);
		strbuf_puts(&pj, ",\"region\":");
		arena_json(&pj, j, j->region_off);
		strbuf_puts(&pj, ",\"version\":");
		arena_json(&pj, j, j->version_off);
		json_ts(&pj, "first", j->received_ms);
		json_ts(&pj, "last", j->received_ms);
		strbuf_printf(&pj, ",\"seq\":%lld}", (long long)hi);
		strbuf_puts(&ej, first_e ? "{\"id\":" : ",{\"id\":");
		arena_json(&ej, j, j->probe_off);
		strbuf_puts(&ej, ",\"epoch\":");
		arena_json(&ej, j, j->epoch_off);
		json_ts(&ej, "last", j->received_ms);
		strbuf_printf(&ej, ",\"seq\":%lld}", (long long)hi);
		first_p = first_e = false;
	}
	for (struct ent *e = roll.first; e; e = e->next)
		put_roll(&c->roll, (struct agg *)e);

	struct strbuf *m = &c->misc;
	strbuf_puts(m, "{\"c\":[");
	for (struct ent *e = certs.first; e; e = e->next) {
		const struct cert *ce = (const struct cert *)e;
		const struct db_job *j = ce->j;
		const struct db_row *w = ce->w;
		strbuf_puts(m, e == certs.first ? "{\"fp\":" : ",{\"fp\":");
		arena_json(m, j, w->fp);
		strbuf_puts(m, ",\"subject\":");
		arena_json(m, j, w->subject);
		strbuf_puts(m, ",\"sans\":");
		strbuf_puts(m, S(j, w->sans));
		strbuf_puts(m, ",\"issuer\":");
		arena_json(m, j, w->issuer);
		if (w->flags & DB_ROW_NB)
			json_ts(m, "nb", w->nb_s * 1000);
		if (w->flags & DB_ROW_NA)
			json_ts(m, "na", w->na_s * 1000);
		strbuf_puts(m, ",\"key\":");
		arena_json(m, j, w->key);
		strbuf_puts(m, ",\"sig\":");
		arena_json(m, j, w->sig_alg);
		json_ts(m, "first", w->started_ms);
		strbuf_putc(m, '}');
	}
	strbuf_puts(m, "],\"s\":[");
	for (struct ent *e = sights.first; e; e = e->next) {
		const struct sight *si = (const struct sight *)e;
		strbuf_puts(m, e == sights.first ? "{\"fp\":" : ",{\"fp\":");
		arena_json(m, si->j, si->w->fp);
		strbuf_puts(m, ",\"target\":");
		arena_json(m, si->j, si->w->target);
		strbuf_printf(m, ",\"port\":%d,\"region\":", (int)si->w->port);
		arena_json(m, si->j, si->j->region_off);
		json_ts(m, "first", si->first);
		json_ts(m, "last", si->last);
		strbuf_putc(m, '}');
	}
	strbuf_puts(m, "],\"p\":[");
	if (pj.len)
		strbuf_put(m, pj.p, pj.len);
	strbuf_puts(m, "],\"e\":[");
	if (ej.len)
		strbuf_put(m, ej.p, ej.len);
	strbuf_puts(m, "],\"h\":[");
	for (size_t i = 0; i < hours.n; i++) {
		strbuf_puts(m, i ? ",\"" : "\"");
		db_put_ts_ms(m, hours.v[i]);
		strbuf_putc(m, '"');
	}
	strbuf_puts(m, "]}");
	/* the targets: the parameter of their own statement */
	struct strbuf *tm = &c->tmisc;
	strbuf_puts(tm, "{\"t\":[");
	for (struct ent *e = tgts.first; e; e = e->next) {
		const struct tgt *t = (const struct tgt *)e;
		strbuf_puts(tm, e == tgts.first ? "{\"target\":" : ",{\"target\":");
		arena_json(tm, t->j, t->w->target);
		strbuf_printf(tm, ",\"port\":%d,\"sni\":", (int)t->w->port);
		arena_json(tm, t->j, t->w->sni);
		strbuf_puts(tm, ",\"service\":");
		arena_json(tm, t->j, t->w->service);
		strbuf_puts(tm, ",\"labels\":");
		strbuf_puts(tm, S(t->j, t->w->labels));
		json_ts(tm, "started_at", t->w->started_ms);
		strbuf_putc(tm, '}');
	}
	strbuf_puts(tm, "]}");
	rc = roll.oom || certs.oom || sights.oom || tgts.oom || pj.oom || ej.oom || k.oom ||
	     c->rows.oom || c->roll.oom || m->oom || tm->oom ? -1 : 0;
out:
	tab_free(&roll, true);
	tab_free(&certs, false);
	tab_free(&sights, false);
	tab_free(&tgts, false);
	strbuf_free(&k);
	strbuf_free(&pj);
	strbuf_free(&ej);
	free(hours.v);
	return rc;
}
