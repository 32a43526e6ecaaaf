/*
 * db_plan.c - one ingest transaction's plan, computed in the collector
 * (issue 11; db_int.h, db_ingest.c, BENCHMARKS.md). rollup_1m is not
 * written here: the builder adds the new rows to it from results, off this
 * path (sql/020_rollup_1m_builder.sql).
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
 *   c->misc   jsonb of the small tables: the first row of each certificate,
 *             each sighting's first/last started_at, each probe's and each
 *             spool epoch's received_at span and highest new seq
 *   c->tmisc  jsonb of each target's newest row (the targets statement)
 *
 * Sightings and targets whose upsert would only move last_seen by less than
 * a minute past what this collector committed are left out (db_seen.h:
 * about one sighting per result was rewritten, most of the ingest
 * statement's time, BENCHMARKS.md); what is written is pended in
 * c->pend_sights / c->pend_targets for db_seen_commit() after COMMIT.
 *
 * Ownership: the rows and their arena belong to the job (db_job_free), and
 * so do the COPY tuples: c->rows holds runs into the jobs' copy buffers
 * (struct db_run), not a copy of the bytes. The other buffers belong to the
 * slot, until db_plan_free() at the end of the task. The hash tables
 * (db_tab.h) live only inside db_plan_build(); the pool's table of rows
 * already written lives as long as the pool.
 */
#include "db_int.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------ text */

/* A string of the arena (offset 0: NULL) as a JSON value */
static void arena_json(struct strbuf *b, const struct db_job *j, size_t off)
{
	db_json_str(b, off ? j->arena.p + off : NULL);
}

/* ------------------------------------------------------------ entries */

struct cert {
	struct db_tab_ent e;
	const struct db_job *j;
	const struct db_row *w;  /* the earliest row */
	bool sent;               /* a sighting of it is written */
};

struct sight {
	struct db_tab_ent e;
	const struct db_job *j;
	const struct db_row *w;
	int64_t first, last;
	bool sent;
};

struct tgt {
	struct db_tab_ent e;
	const struct db_job *j;
	const struct db_row *w;  /* the newest row */
};

/* The entry of key k (db_tab_get), NULL when k or the table ran out of
 * memory. */
static void *get(struct db_tab *t, const struct strbuf *k, bool *created)
{
	if (k->oom) {
		t->oom = true;
		return NULL;
	}
	return db_tab_get(t, k->p, k->len, created);
}

static const char *S(const struct db_job *j, size_t off)
{
	return off ? j->arena.p + off : NULL;
}

static void key_str(struct strbuf *k, const char *s)
{
	strbuf_puts(k, s ? s : "");
	strbuf_put(k, "", 1);
}

/* ------------------------------------------------------------ output */

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
	strbuf_free(&c->misc);
	strbuf_free(&c->tmisc);
	strbuf_free(&c->pend_sights);
	strbuf_free(&c->pend_targets);
	strbuf_free(&c->lock_sql);
	free(c->lock_vals);
	c->lock_vals = NULL;
}

int db_plan_build(struct db_conn *c)
{
	struct db_tab certs = { .esize = sizeof(struct cert) }, sights = { .esize = sizeof(struct sight) },
		      tgts = { .esize = sizeof(struct tgt) };
	struct strbuf k = { 0 };
	int rc = -1;
	bool first_p = true, first_e = true;
	struct strbuf pj = { 0 }, ej = { 0 };

	strbuf_reset(&c->rows);
	strbuf_reset(&c->misc);
	strbuf_reset(&c->tmisc);
	strbuf_reset(&c->pend_sights);
	strbuf_reset(&c->pend_targets);
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
			bool created;
			strbuf_reset(&k);
			key_str(&k, S(j, w->target));
			strbuf_put(&k, &w->port, sizeof w->port);
			key_str(&k, S(j, w->sni));
			struct tgt *t = get(&tgts, &k, &created);
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
			struct cert *ce = get(&certs, &k, &created);
			if (!ce)
				goto out;
			if (created || w->started_ms < ce->w->started_ms) {
				ce->j = j;
				ce->w = w;
			}
			key_str(&k, S(j, w->target));
			strbuf_put(&k, &w->port, sizeof w->port);
			key_str(&k, S(j, j->region_off));
			struct sight *si = get(&sights, &k, &created);
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
	/* Which sightings to write: those this collector did not commit
	 * already, up to DB_SEEN_LAG_MS (db_seen.h). A certificate is written
	 * only with a sighting of it: one whose sightings are all left out
	 * was inserted (ON CONFLICT DO NOTHING: never changed after) by the
	 * transaction that committed them, and a stored sighting keeps it
	 * there (the foreign key). */
	struct db_pool *p = c->p;
	for (struct db_tab_ent *e = sights.first; e; e = e->next) {
		struct sight *si = (struct sight *)e;
		if (db_seen_covers(&p->seen_sights, e->key, e->klen, si->first, si->last, 0))
			continue;
		si->sent = true;
		db_seen_pend(&c->pend_sights, e->key, e->klen, si->first, si->last, 0);
		/* the sighting's key starts with its certificate's */
		struct cert *ce = db_tab_find(&certs, e->key, strlen(e->key) + 1);
		if (ce)
			ce->sent = true;
	}
	struct strbuf *m = &c->misc;
	bool first = true;
	strbuf_puts(m, "{\"c\":[");
	for (struct db_tab_ent *e = certs.first; e; e = e->next) {
		const struct cert *ce = (const struct cert *)e;
		const struct db_job *j = ce->j;
		const struct db_row *w = ce->w;
		if (!ce->sent)
			continue;
		strbuf_puts(m, first ? "{\"fp\":" : ",{\"fp\":");
		first = false;
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
	first = true;
	strbuf_puts(m, "],\"s\":[");
	for (struct db_tab_ent *e = sights.first; e; e = e->next) {
		const struct sight *si = (const struct sight *)e;
		if (!si->sent)
			continue;
		strbuf_puts(m, first ? "{\"fp\":" : ",{\"fp\":");
		first = false;
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
	strbuf_puts(m, "]}");
	/* the targets: the parameter of their own statement; a target whose
	 * upsert would only move last_seen by less than DB_SEEN_LAG_MS past
	 * what this collector committed is left out (new service or labels:
	 * another hash, written), and so is a statement with none left */
	struct strbuf *tm = &c->tmisc;
	c->ntargets = 0;
	strbuf_puts(tm, "{\"t\":[");
	for (struct db_tab_ent *e = tgts.first; e; e = e->next) {
		const struct tgt *t = (const struct tgt *)e;
		const char *svc = S(t->j, t->w->service), *labels = S(t->j, t->w->labels);
		uint64_t h = db_tab_hash(DB_TAB_HASH0, svc ? "s" : "n", 1);
		h = db_tab_hash(h, svc ? svc : "", svc ? strlen(svc) + 1 : 0);
		h = db_tab_hash(h, labels ? labels : "", labels ? strlen(labels) : 0);
		int64_t at = t->w->started_ms;
		if (db_seen_covers(&p->seen_targets, e->key, e->klen, at, at, h))
			continue;
		db_seen_pend(&c->pend_targets, e->key, e->klen, at, at, h);
		strbuf_puts(tm, c->ntargets++ ? ",{\"target\":" : "{\"target\":");
		arena_json(tm, t->j, t->w->target);
		strbuf_printf(tm, ",\"port\":%d,\"sni\":", (int)t->w->port);
		arena_json(tm, t->j, t->w->sni);
		strbuf_puts(tm, ",\"service\":");
		arena_json(tm, t->j, t->w->service);
		strbuf_puts(tm, ",\"labels\":");
		strbuf_puts(tm, labels);
		json_ts(tm, "started_at", at);
		strbuf_putc(tm, '}');
	}
	strbuf_puts(tm, "]}");
	rc = certs.oom || sights.oom || tgts.oom || pj.oom || ej.oom || k.oom ||
	     c->rows.oom || m->oom || tm->oom || c->pend_sights.oom || c->pend_targets.oom ? -1 : 0;
out:
	db_tab_clear(&certs);
	db_tab_clear(&sights);
	db_tab_clear(&tgts);
	strbuf_free(&k);
	strbuf_free(&pj);
	strbuf_free(&ej);
	return rc;
}
