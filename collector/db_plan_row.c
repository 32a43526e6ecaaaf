/*
 * db_plan_row.c - what a transaction's plan needs of one Result, recorded
 * when the job is queued (struct db_row in db_int.h; db_plan.c uses it):
 * the certificate's validity, the strings sanitised as results
 * stores them (U+FFFD for bytes that are not UTF-8) in the job's arena, the
 * certificate's SANs and the labels as JSON for the jsonb parameter.
 */
#include "db_int.h"

#include <math.h>
#include <string.h>


static size_t arena_str(struct strbuf *a, const char *s)
{
	if (!s)
		return 0;
	size_t off = a->len;
	db_put_clean(a, s);
	strbuf_put(a, "", 1);
	return off;
}

/* JSON string of already-clean UTF-8 (no COPY escaping: jsonb parameter). */
void db_json_str(struct strbuf *b, const char *s)
{
	if (!s) {
		strbuf_puts(b, "null");
		return;
	}
	static const char hex[] = "0123456789abcdef";
	strbuf_putc(b, '"');
	while (*s) {
		/* the bytes that need no escape, in one put (a byte at a time
		 * was 5% of the collector's CPU, perf) */
		size_t run = 0;
		while ((unsigned char)s[run] >= 0x20 && s[run] != '"' && s[run] != '\\')
			run++;
		if (run) {
			strbuf_put(b, s, run);
			s += run;
			continue;
		}
		unsigned char c = (unsigned char)*s++;
		if (c == '"' || c == '\\') {
			char e[2] = { '\\', (char)c };
			strbuf_put(b, e, 2);
		} else {
			char e[6] = { '\\', 'u', '0', '0', hex[c >> 4], hex[c & 15] };
			strbuf_put(b, e, 6);
		}
	}
	strbuf_putc(b, '"');
}

/* A JSON string of s as results stores it: bytes that are not UTF-8 become
 * U+FFFD (db_put_clean), then JSON escaping, in one pass into b. */
static void json_clean(struct strbuf *b, const char *s)
{
	struct strbuf c = { 0 };
	const char *p = s;
	for (; *p; p++)
		if ((unsigned char)*p >= 0x80)
			break;
	if (*p) { /* not ASCII: clean first (rare) */
		db_put_clean(&c, s);
		strbuf_put(&c, "", 1);
		if (c.oom) {
			b->oom = true;
			return;
		}
		s = c.p;
	}
	db_json_str(b, s);
	strbuf_free(&c);
}

int db_plan_add_row(struct db_job *j, const Tlswatch__Result *r, size_t line, size_t len,
		    int64_t received_ms)
{
	struct db_row *w = &j->rowv[j->rows_added++];
	memset(w, 0, sizeof *w);
	w->seq = (int64_t)r->seq;
	w->line = line;
	w->line_len = len;
	w->started_ms = db_started_ms(r, received_ms);
	w->port = (int32_t)r->port;
	w->target = arena_str(&j->arena, r->target);
	w->sni = arena_str(&j->arena, r->sni ? r->sni : "");
	w->profile = arena_str(&j->arena, r->profile);
	w->service = arena_str(&j->arena, r->service);
	const int64_t lo = -200000000000LL, hi = 9000000000000LL; /* as db_sql.c clamps */
	if (r->fingerprint_sha256) {
		w->fp = arena_str(&j->arena, r->fingerprint_sha256);
		w->subject = arena_str(&j->arena, r->leaf_subject);
		w->issuer = arena_str(&j->arena, r->leaf_issuer);
		w->key = arena_str(&j->arena, r->leaf_key);
		w->sig_alg = arena_str(&j->arena, r->leaf_sig_alg);
		if (r->has_cert_not_before) {
			w->flags |= DB_ROW_NB;
			w->nb_s = r->cert_not_before < lo ? lo : r->cert_not_before > hi ? hi : r->cert_not_before;
		}
		if (r->has_cert_not_after) {
			w->flags |= DB_ROW_NA;
			w->na_s = r->cert_not_after < lo ? lo : r->cert_not_after > hi ? hi : r->cert_not_after;
		}
		/* sans as a JSON array (never NULL for a row with a certificate) */
		struct strbuf *t = &j->arena;
		w->sans = t->len;
		strbuf_putc(t, '[');
		for (size_t i = 0; i < r->n_leaf_sans; i++) {
			if (i)
				strbuf_putc(t, ',');
			json_clean(t, r->leaf_sans[i] ? r->leaf_sans[i] : "");
		}
		strbuf_put(t, "]", 2);
	}
	/* labels: the JSON object results stores */
	struct strbuf *t = &j->arena;
	w->labels = t->len;
	strbuf_putc(t, '{');
	for (size_t i = 0; i < r->n_labels; i++) {
		const Tlswatch__Label *l = r->labels[i];
		if (i)
			strbuf_putc(t, ',');
		json_clean(t, l && l->key ? l->key : "");
		strbuf_putc(t, ':');
		if (l && l->value)
			json_clean(t, l->value);
		else
			strbuf_puts(t, "null");
	}
	strbuf_put(t, "}", 2);
	return j->arena.oom ? -1 : 0;
}

