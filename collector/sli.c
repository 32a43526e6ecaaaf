/*
 * sli.c - the SLIs over rollups (see sli.h and docs/SLI.md).
 */
#include "sli.h"
#include "twtime.h"

#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>

#define HOUR_MS 3600000LL
#define DAY_MS (24 * HOUR_MS)

double sli_percentile(const uint64_t *hist, double q)
{
	uint64_t total = 0;
	for (int i = 0; i < SLI_LATENCY_BUCKETS; i++)
		total += hist[i];
	if (total == 0 || !(q > 0 && q < 1))
		return NAN;
	double rank = q * (double)total, cum = 0;
	for (int i = 0; i < SLI_LATENCY_BUCKETS; i++) {
		double c = (double)hist[i];
		if (c > 0 && cum + c >= rank) {
			if (i == SLI_LATENCY_BUCKETS - 1)
				return sli_latency_bounds[i];      /* open bucket: its lower bound */
			double lo = sli_latency_bounds[i], hi = sli_latency_bounds[i + 1];
			return lo + (hi - lo) * (rank - cum) / c;
		}
		cum += c;
	}
	return sli_latency_bounds[SLI_LATENCY_BUCKETS - 1];
}

/* ---- SQL text ---- */

void sli_sql_literal(struct strbuf *b, PGconn *c, const char *s)
{
	if (!s) {
		strbuf_printf(b, "NULL");
		return;
	}
	char *e = PQescapeLiteral(c, s, strlen(s));
	if (!e) {
		b->oom = true;
		return;
	}
	strbuf_printf(b, "%s", e);
	PQfreemem(e);
}

void sli_sql_time(struct strbuf *b, int64_t ms)
{
	char t[48];
	strbuf_printf(b, "'%s'::timestamptz", twtime_rfc3339_ms(ms, t, sizeof t));
}

/* ---- windows ---- */

static int64_t floor_hour(int64_t ms)
{
	int64_t h = ms / HOUR_MS;
	if (ms % HOUR_MS < 0)
		h--;
	return h * HOUR_MS;
}

static int64_t ceil_hour(int64_t ms)
{
	int64_t f = floor_hour(ms);
	return f == ms ? ms : f + HOUR_MS;
}

void sli_window(int64_t now_ms, int64_t len_ms, int64_t minute_retention_ms,
		struct sli_window *w)
{
	w->to_ms = now_ms;
	w->from_ms = now_ms - len_ms;
	if (minute_retention_ms > 0 && len_ms > minute_retention_ms)
		w->from_ms = floor_hour(w->from_ms);
}

static int64_t floor_day(int64_t ms)
{
	int64_t d = ms / DAY_MS;
	if (ms % DAY_MS < 0)
		d--;
	return d * DAY_MS;
}

static int64_t ceil_day(int64_t ms)
{
	int64_t f = floor_day(ms);
	return f == ms ? ms : f + DAY_MS;
}

/* The parts of window w: minutes [from, ch) and [ft, to), hours [ch, cd)
 * and [fd, ft), days [cd, fd). No whole hour: ch = ft = to (all minutes);
 * no whole day: cd = fd = ft (all hours). */
struct sli_parts {
	int64_t ch, cd, fd, ft;
};

static void parts(const struct sli_window *w, struct sli_parts *p)
{
	p->ch = ceil_hour(w->from_ms);
	p->ft = floor_hour(w->to_ms);
	if (p->ch >= p->ft)
		p->ch = p->ft = w->to_ms;
	p->cd = ceil_day(p->ch);
	p->fd = floor_day(p->ft);
	if (p->cd >= p->fd)
		p->cd = p->fd = p->ft;
}

static void range(struct strbuf *b, const char *pre, int64_t lo, int64_t hi)
{
	strbuf_printf(b, "%s(bucket >= ", pre);
	sli_sql_time(b, lo);
	strbuf_printf(b, " AND bucket < ");
	sli_sql_time(b, hi);
	strbuf_printf(b, ")");
}

void sli_window_cond(struct strbuf *b, const struct sli_window *w)
{
	struct sli_parts p;
	parts(w, &p);
	/* the tail (rows not in rollup_1m yet): every minute of the window */
	strbuf_printf(b, "((g = 't' AND bucket >= ");
	sli_sql_time(b, w->from_ms);
	strbuf_printf(b, " AND bucket < ");
	sli_sql_time(b, w->to_ms);
	strbuf_printf(b, ") OR (g = '1m' AND bucket >= ");
	sli_sql_time(b, w->from_ms);
	strbuf_printf(b, " AND bucket < ");
	sli_sql_time(b, w->to_ms);
	if (p.ch < p.ft) {
		/* minutes only outside the whole hours [ch, ft) */
		strbuf_printf(b, " AND (bucket < ");
		sli_sql_time(b, p.ch);
		strbuf_printf(b, " OR bucket >= ");
		sli_sql_time(b, p.ft);
		strbuf_printf(b, ")) OR (g = '1h' AND bucket >= ");
		sli_sql_time(b, p.ch);
		strbuf_printf(b, " AND bucket < ");
		sli_sql_time(b, p.ft);
		if (p.cd < p.fd) {
			/* an hour of a day rollup_1d serves (d1) counts only outside
			 * the whole days [cd, fd), which come from rollup_1d */
			strbuf_printf(b, " AND (NOT d1 OR bucket < ");
			sli_sql_time(b, p.cd);
			strbuf_printf(b, " OR bucket >= ");
			sli_sql_time(b, p.fd);
			strbuf_printf(b, ")) OR (g = '1d' AND bucket >= ");
			sli_sql_time(b, p.cd);
			strbuf_printf(b, " AND bucket < ");
			sli_sql_time(b, p.fd);
		}
	}
	strbuf_printf(b, "))");
}

/* The days rollup_1d serves (sql/013_rollup_1d.sql): below ready_before and
 * not dirty, read in the statement's snapshot together with the rows. A day
 * with a dirty hour of rollup_1h (sql/016_rollup_1h_builder.sql) is dirty
 * too: that hour's rebuild, which marks the day in rollup_1d_dirty, has not
 * run yet. Hours come from 018's tw_rollup_1h_built() and
 * tw_rollup_1h_unbuilt(lo, hi): built hours from rollup_1h, the others summed
 * from rollup_1m, every scan bounded by the windows' whole hours [lo, hi).
 * The rows not in rollup_1m yet come from results (tail_leg). */
#define SQL_DONE "coalesce((SELECT ready_before FROM rollup_1d_state), '-infinity'::timestamptz)"
#define SQL_DIRTY_DAY_SET                                                               \
	"SELECT day FROM rollup_1d_dirty UNION SELECT date_trunc('day', hour, 'UTC') " \
	"FROM rollup_1h_dirty"
#define SQL_DIRTY_DAYS "ARRAY(" SQL_DIRTY_DAY_SET ")"
#define SQL_DIRTY_HOURS                                                                 \
	"ARRAY(SELECT h FROM (" SQL_DIRTY_DAY_SET ") dd, generate_series(dd.day, dd.day + " \
	"interval '23 hours', interval '1 hour') h)"

/* The tail (sql/020_rollup_1m_builder.sql): the results rows not added to
 * rollup_1m yet, per minute, over the span of all windows; g 't', counted in
 * every window its minute is in (sli_window_cond), whatever the window reads
 * its other rows from. */
static void tail_leg(struct strbuf *b, const struct sli_window *w, size_t nw, bool days)
{
	int64_t lo = INT64_MAX, hi = INT64_MIN;
	for (size_t i = 0; i < nw; i++) {
		if (w[i].from_ms < lo)
			lo = w[i].from_ms;
		if (w[i].to_ms > hi)
			hi = w[i].to_ms;
	}
	if (lo >= hi)
		return;
	strbuf_printf(b, " UNION ALL SELECT 't'::text AS g, %s* FROM tw_rollup_1m_of(NULL, NULL, ",
		      days ? "false AS d1, " : "");
	sli_sql_time(b, lo);
	strbuf_printf(b, ", ");
	sli_sql_time(b, hi);
	strbuf_printf(b, ")");
}

void sli_rows_sql(struct strbuf *b, const struct sli_window *w, size_t nw)
{
	int64_t hlo = INT64_MAX, hhi = INT64_MIN, dlo = INT64_MAX, dhi = INT64_MIN;
	struct sli_parts p;
	for (size_t i = 0; i < nw; i++) {
		parts(&w[i], &p);
		if (p.cd < p.fd) {
			if (p.cd < dlo)
				dlo = p.cd;
			if (p.fd > dhi)
				dhi = p.fd;
		}
	}
	bool days = dlo < dhi;
	/* d1 (only when some window has a whole day; sli_window_cond names it
	 * then): the row's day is served by rollup_1d */
	strbuf_printf(b, "(SELECT '1m'::text AS g, %s* FROM rollup_1m WHERE false",
		      days ? "false AS d1, " : "");
	for (size_t i = 0; i < nw; i++) {
		parts(&w[i], &p);
		if (w[i].from_ms < p.ch)
			range(b, " OR ", w[i].from_ms, p.ch);
		if (p.ft < w[i].to_ms)
			range(b, " OR ", p.ft, w[i].to_ms);
		if (p.ch < p.ft) {
			if (p.ch < hlo)
				hlo = p.ch;
			if (p.ft > hhi)
				hhi = p.ft;
		}
	}
	tail_leg(b, w, nw, days);
	if (!days) {
		/* hours only: one range over every window's whole hours (018's
		 * two parts: tw_rollup_1h_live would add the tail once more) */
		if (hlo < hhi) {
			strbuf_printf(b, " UNION ALL SELECT '1h'::text AS g, * FROM (SELECT * FROM "
					 "tw_rollup_1h_built() UNION ALL SELECT * FROM tw_rollup_1h_unbuilt(");
			sli_sql_time(b, hlo);
			strbuf_printf(b, ", ");
			sli_sql_time(b, hhi);
			strbuf_printf(b, ")) h1 WHERE bucket >= ");
			sli_sql_time(b, hlo);
			strbuf_printf(b, " AND bucket < ");
			sli_sql_time(b, hhi);
		} else {
			strbuf_printf(b, " UNION ALL SELECT '1h'::text AS g, * FROM rollup_1h WHERE false");
		}
		strbuf_printf(b, ")");
		return;
	}
	/* hours: every window's edge hours, and inside the whole days only
	 * those of days rollup_1d does not serve; each row once (one scan) */
	/* the built hours unbounded (sql/018_rollup_1h_readers.sql): the OR of
	 * ranges below is what bounds their scan, as a BitmapOr; AND-ed with
	 * the span [hlo, hhi) PostgreSQL scanned the whole span instead */
	strbuf_printf(b, " UNION ALL SELECT '1h'::text AS g, (bucket < " SQL_DONE " AND bucket <> ALL ("
		      SQL_DIRTY_HOURS ")) AS d1, * FROM (SELECT * FROM tw_rollup_1h_built() "
		      "UNION ALL SELECT * FROM tw_rollup_1h_unbuilt(");
	sli_sql_time(b, hlo);
	strbuf_printf(b, ", ");
	sli_sql_time(b, hhi);
	strbuf_printf(b, ")) h1 WHERE false");
	for (size_t i = 0; i < nw; i++) {
		parts(&w[i], &p);
		if (p.ch < p.cd)
			range(b, " OR ", p.ch, p.cd);
		if (p.fd < p.ft)
			range(b, " OR ", p.fd, p.ft);
	}
	strbuf_printf(b, " OR (bucket >= greatest(");
	sli_sql_time(b, dlo);
	strbuf_printf(b, ", " SQL_DONE ") AND bucket < ");
	sli_sql_time(b, dhi);
	strbuf_printf(b, ") OR (bucket = ANY (" SQL_DIRTY_HOURS ") AND bucket >= ");
	sli_sql_time(b, dlo);
	strbuf_printf(b, " AND bucket < ");
	sli_sql_time(b, dhi);
	strbuf_printf(b, ") UNION ALL SELECT '1d'::text AS g, true AS d1, * FROM rollup_1d WHERE ");
	range(b, "", dlo, dhi);
	strbuf_printf(b, " AND bucket < " SQL_DONE " AND bucket <> ALL (" SQL_DIRTY_DAYS "))");
}

/* ---- selectors ---- */

void sli_split_target(const char *t, char *hbuf, size_t cap, unsigned *port)
{
	*port = 0;
	const char *colon = strrchr(t, ':');
	size_t hlen = strlen(t);
	if (t[0] == '[') {
		const char *rb = strchr(t, ']');
		if (rb) {
			hlen = (size_t)(rb - t - 1);
			t++;
			if (rb[1] == ':')
				*port = (unsigned)strtoul(rb + 2, NULL, 10);
		}
	} else if (colon && strchr(t, ':') == colon && colon[1]) {
		char *e;
		unsigned long p = strtoul(colon + 1, &e, 10);
		if (*e == '\0' && p > 0 && p < 65536) {
			*port = (unsigned)p;
			hlen = (size_t)(colon - t);
		}
	}
	if (cap == 0)
		return;
	if (hlen >= cap)
		hlen = cap - 1;
	memcpy(hbuf, t, hlen);
	hbuf[hlen] = '\0';
}

/* One definition of a selector's condition; put() appends each value, as
 * an escaped literal (sli_selector_cond) or as a $n parameter
 * (sli_selector_cond_params). */
typedef void (*put_value_fn)(struct strbuf *b, void *ctx, const char *v);

static void selector_cond(struct strbuf *b, const struct slo_selector *sel, put_value_fn put,
			  void *ctx)
{
	strbuf_printf(b, "true");
	if (!sel)
		return;
	if (sel->service) {
		strbuf_printf(b, " AND r.service = ");
		put(b, ctx, sel->service);
	}
	if (sel->region) {
		strbuf_printf(b, " AND r.region = ");
		put(b, ctx, sel->region);
	}
	if (sel->profile) {
		strbuf_printf(b, " AND r.profile = ");
		put(b, ctx, sel->profile);
	}
	if (sel->target) {
		char host[512];
		unsigned port;
		sli_split_target(sel->target, host, sizeof host, &port);
		strbuf_printf(b, " AND r.target = ");
		put(b, ctx, host);
		if (port)
			strbuf_printf(b, " AND r.port = %u", port);
	}
	if (sel->nlabels) {
		json_t *o = json_object();
		for (size_t i = 0; o && i < sel->nlabels; i++)
			json_object_set_new(o, sel->label_keys[i], json_string(sel->label_values[i]));
		char *js = o ? json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
		json_decref(o);
		if (!js) {
			b->oom = true;
			return;
		}
		strbuf_printf(b, " AND t.labels @> ");
		put(b, ctx, js);
		strbuf_printf(b, "::jsonb");
		free(js);
	}
}

static void put_literal(struct strbuf *b, void *ctx, const char *v)
{
	sli_sql_literal(b, ctx, v);
}

void sli_selector_cond(struct strbuf *b, PGconn *c, const struct slo_selector *sel)
{
	selector_cond(b, sel, put_literal, c);
}

int sli_params_add(struct sli_params *p, const char *v)
{
	if (p->n >= SLI_MAX_PARAMS) {
		p->oom = true;
		return 0;
	}
	char *d = v ? strdup(v) : NULL;
	if (v && !d) {
		p->oom = true;
		return 0;
	}
	p->v[p->n] = d;
	return ++p->n;
}

void sli_params_free(struct sli_params *p)
{
	for (int i = 0; i < p->n; i++)
		free(p->v[i]);
	p->n = 0;
}

static void put_param(struct strbuf *b, void *ctx, const char *v)
{
	int k = sli_params_add(ctx, v);
	if (k == 0)
		b->oom = true;
	else
		strbuf_printf(b, "$%d", k);
}

void sli_selector_cond_params(struct strbuf *b, struct sli_params *p,
			      const struct slo_selector *sel)
{
	selector_cond(b, sel, put_param, p);
}

/* ---- sli_query ---- */

static uint64_t u64(const PGresult *r, int row, int col)
{
	return PQgetisnull(r, row, col) ? 0 : strtoull(PQgetvalue(r, row, col), NULL, 10);
}

static double ratio(uint64_t num, uint64_t den)
{
	return den ? (double)num / (double)den : NAN;
}

bool sli_rows_exact(const struct sli_window *w)
{
	struct sli_parts p;
	parts(w, &p);
	return p.cd >= p.fd;
}

/*
 * Measured on 2,000 series, 24 h window at 10M raw rows (bench/api.sh,
 * BENCHMARKS.md): grouping by the formatted "host:port" label sorted every
 * rollup row read (about 150,000) by a text computed per row; grouping by
 * the key columns (target, port) hashes them instead, and the label is
 * formatted once per group. The window condition is left out when the row
 * source is exact (sli_rows_exact): it was evaluated once per row for
 * nothing.
 */
void sli_query_sql(struct strbuf *b, struct sli_params *p, const struct slo_selector *sel,
		   const struct sli_window *w, enum sli_group group)
{
	/* the key columns of the inner aggregate (k1, k2) and the group label
	 * made of them once per group */
	static const char *const gkey[] = {
		[SLI_GROUP_NONE] = "",
		[SLI_GROUP_TARGET] = "r.target AS k1, r.port AS k2, ",
		[SLI_GROUP_SERVICE] = "r.service AS k1, ",
		[SLI_GROUP_REGION] = "r.region AS k1, ",
		[SLI_GROUP_PROFILE] = "r.profile AS k1, ",
	};
	static const char *const glabel[] = {
		[SLI_GROUP_NONE] = "NULL::text",
		[SLI_GROUP_TARGET] = "CASE WHEN strpos(k1, ':') > 0 THEN '[' || k1 || ']' "
				     "ELSE k1 END || ':' || k2",
		[SLI_GROUP_SERVICE] = "k1",
		[SLI_GROUP_REGION] = "k1",
		[SLI_GROUP_PROFILE] = "k1",
	};
	static const char *const gby[] = {
		[SLI_GROUP_NONE] = "HAVING count(*) > 0",
		[SLI_GROUP_TARGET] = "GROUP BY 1, 2",
		[SLI_GROUP_SERVICE] = "GROUP BY 1",
		[SLI_GROUP_REGION] = "GROUP BY 1",
		[SLI_GROUP_PROFILE] = "GROUP BY 1",
	};
	/* the values, named v1..vN in the inner aggregate, in the order
	 * sli_values_decode reads them */
	static const char *const vals[] = {
		"sum(attempts)", "sum(successes)", "sum(failures)", "sum(handshakes)",
		"sum(handshake_ms_count)", "sum(mtls_attempts)", "sum(mtls_failures)",
		"sum(ocsp_stapled_count)", "sum(cipher_fallback_count)", "sum(sni_mismatch_count)",
		"min(min_days_to_expiry)",
		"(extract(epoch FROM min(min_chain_not_after)) * 1000)::bigint",
	};
	const int nv = (int)(sizeof vals / sizeof vals[0]);
	strbuf_printf(b, "SELECT %s AS grp", glabel[group]);
	for (int k = 1; k <= nv + SLI_LATENCY_BUCKETS + 1; k++)
		strbuf_printf(b, ", v%d", k);
	strbuf_printf(b, " FROM (SELECT %s", gkey[group]);
	for (int k = 0; k < nv; k++)
		strbuf_printf(b, "%s%s AS v%d", k ? ", " : "", vals[k], k + 1);
	for (int k = 1; k <= SLI_LATENCY_BUCKETS; k++)
		strbuf_printf(b, ", sum(coalesce(handshake_ms_hist[%d], 0)) AS v%d", k, nv + k);
	strbuf_printf(b, ", sum(ocsp_no_responder_count) AS v%d", nv + SLI_LATENCY_BUCKETS + 1);
	strbuf_printf(b, " FROM ");
	sli_rows_sql(b, w, 1);
	strbuf_printf(b, " r LEFT JOIN targets t ON t.target = r.target AND t.port = r.port "
			 "AND t.sni = r.sni WHERE ");
	if (!sli_rows_exact(w)) {
		/* the window condition names bare columns g, bucket and d1 */
		sli_window_cond(b, w);
		strbuf_printf(b, " AND ");
	}
	sli_selector_cond_params(b, p, sel);
	strbuf_printf(b, " %s) a ORDER BY 1", gby[group]);
}

int sli_values_decode(const PGresult *res, struct sli_values **out, size_t *n, char *err,
		      size_t errlen)
{
	*out = NULL;
	*n = 0;
	if (PQnfields(res) != 14 + SLI_LATENCY_BUCKETS) {
		snprintf(err, errlen, "SLI query: %d columns, expected %d", PQnfields(res),
			 14 + SLI_LATENCY_BUCKETS);
		return -1;
	}
	int rows = PQntuples(res);
	struct sli_values *v = calloc(rows ? (size_t)rows : 1, sizeof *v);
	if (!v) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	for (int i = 0; i < rows; i++) {
		struct sli_values *x = &v[i];
		if (!PQgetisnull(res, i, 0) && !(x->group = strdup(PQgetvalue(res, i, 0)))) {
			sli_values_free(v, (size_t)rows);
			snprintf(err, errlen, "out of memory");
			return -1;
		}
		x->attempts = u64(res, i, 1);
		x->successes = u64(res, i, 2);
		x->failures = u64(res, i, 3);
		x->handshakes = u64(res, i, 4);
		x->timed = u64(res, i, 5);
		x->mtls_attempts = u64(res, i, 6);
		x->mtls_failures = u64(res, i, 7);
		x->ocsp_stapled = u64(res, i, 8);
		x->cipher_fallback = u64(res, i, 9);
		x->sni_mismatch = u64(res, i, 10);
		x->min_days_to_expiry = PQgetisnull(res, i, 11) ? NAN
							   : strtod(PQgetvalue(res, i, 11), NULL);
		x->min_chain_not_after_ms = PQgetisnull(res, i, 12)
						    ? INT64_MIN
						    : strtoll(PQgetvalue(res, i, 12), NULL, 10);
		for (int k = 0; k < SLI_LATENCY_BUCKETS; k++)
			x->hist[k] = u64(res, i, 13 + k);
		x->success_rate = ratio(x->successes, x->attempts);
		x->p95_ms = sli_percentile(x->hist, 0.95);
		x->p99_ms = sli_percentile(x->hist, 0.99);
		x->mtls_failure_rate = ratio(x->mtls_failures, x->mtls_attempts);
		/* M5: only handshakes whose leaf names an OCSP responder */
		x->ocsp_no_responder = u64(res, i, 13 + SLI_LATENCY_BUCKETS);
		x->ocsp_stapling_rate = ratio(x->ocsp_stapled, x->handshakes -
					      (x->ocsp_no_responder < x->handshakes ? x->ocsp_no_responder
										: x->handshakes));
		x->cipher_fallback_rate = ratio(x->cipher_fallback, x->handshakes);
		x->sni_mismatch_rate = ratio(x->sni_mismatch, x->handshakes);
	}
	*out = v;
	*n = (size_t)rows;
	return 0;
}

int sli_query(PGconn *c, const struct slo_selector *sel, const struct sli_window *w,
	      enum sli_group group, struct sli_values **out, size_t *n, char *err,
	      size_t errlen)
{
	struct strbuf b = { 0 };
	struct sli_params p = { 0 };
	PGresult *res = NULL;
	int rc = -1;
	*out = NULL;
	*n = 0;

	sli_query_sql(&b, &p, sel, w, group);
	if (b.oom || p.oom) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	res = PQexecParams(c, b.p, p.n, NULL, (const char *const *)p.v, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		snprintf(err, errlen, "SLI query: %s", PQresultErrorMessage(res));
		goto out;
	}
	rc = sli_values_decode(res, out, n, err, errlen);
out:
	PQclear(res);
	sli_params_free(&p);
	free(b.p);
	return rc;
}

void sli_values_free(struct sli_values *v, size_t n)
{
	if (!v)
		return;
	for (size_t i = 0; i < n; i++)
		free(v[i].group);
	free(v);
}
