/*
 * test_sli.c - the parts of collector/sli.c and sli_latency.c that need no
 * database: window arithmetic, the SQL text a window and a selector turn
 * into, target splitting, the latency histogram's percentiles and bounds.
 * (sli_query against real rollup rows: tests/integration/test_sli_query.c.)
 *
 * The SQL is compared as text. Each expected string is written out by hand
 * from the rule in sli.h: a window [from, to) reads whole UTC hours from
 * rollup_1h and the partial hours at both edges from rollup_1m.
 *
 * Escaping needs a PGconn (PQescapeLiteral reads its encoding); one that
 * never connects is enough (offline_conn).
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <libpq-fe.h>

#include "sli.h"
#include "sli_latency.h"
#include "slo_config.h"

#define MIN_MS 60000LL
#define HOUR_MS (60 * MIN_MS)
#define T0 1772409600000LL          /* 2026-03-02T00:00:00Z */
#define EPS 1e-9
#define TS(s) "'" s "'::timestamptz"

TestSuite(sli);

static PGconn *offline_conn(void)
{
	/* a socket directory that does not exist: the connection fails at
	 * once, the object stays usable for escaping */
	PGconn *c = PQconnectStart("host=/nonexistent-tlswatch-test port=1 dbname=x");
	cr_assert_not_null(c);
	return c;
}

static void window_cond_is(int64_t from, int64_t to, const char *want)
{
	struct sli_window w = { from, to };
	struct strbuf b = { 0 };
	sli_window_cond(&b, &w);
	cr_assert_not(b.oom);
	cr_assert_str_eq(b.p, want);
	free(b.p);
}

/* ---- histogram ---- */

Test(sli, percentile_interpolates_within_bucket)
{
	uint64_t h[SLI_LATENCY_BUCKETS] = { 0 };
	/* 50 in [10,20) (bucket 5), 45 in [50,75) (bucket 8), 5 in [200,300) (bucket 12) */
	h[4] = 50;
	h[7] = 45;
	h[11] = 5;
	/* p95: rank 95 = the last of bucket 8: 50 + 25 x (95 - 50) / 45 = 75 */
	cr_assert_float_eq(sli_percentile(h, 0.95), 75.0, EPS);
	/* p99: rank 99, 4th of 5 in bucket 12: 200 + 100 x 4 / 5 = 280 */
	cr_assert_float_eq(sli_percentile(h, 0.99), 280.0, EPS);
	/* p50: rank 50 = the last of bucket 5: 20 */
	cr_assert_float_eq(sli_percentile(h, 0.50), 20.0, EPS);
	/* rank 0.5 x 100 inside the first non-empty bucket: 10 + 10 x 25 / 50 */
	cr_assert_float_eq(sli_percentile(h, 0.25), 15.0, EPS);
}

Test(sli, percentile_open_bucket_empty_and_bad_q)
{
	uint64_t g[SLI_LATENCY_BUCKETS] = { 0 };
	g[19] = 3;
	/* the open last bucket gives its lower bound, not a made-up upper one */
	cr_assert_float_eq(sli_percentile(g, 0.99), 10000.0, EPS);
	/* no handshakes timed: no value (NAN), never 0 ms */
	uint64_t z[SLI_LATENCY_BUCKETS] = { 0 };
	cr_assert(isnan(sli_percentile(z, 0.5)));
	/* q outside (0, 1) has no meaning */
	cr_assert(isnan(sli_percentile(g, 0.0)));
	cr_assert(isnan(sli_percentile(g, 1.0)));
	cr_assert(isnan(sli_percentile(g, NAN)));
}

Test(sli, latency_bound_index_and_text)
{
	/* "< 100 ms" = buckets 1..9: [0,1) [1,2) ... [75,100) */
	cr_assert_eq(sli_latency_bound_index(100), 9);
	cr_assert_eq(sli_latency_bound_index(1), 1);
	cr_assert_eq(sli_latency_bound_index(10000), 19);
	cr_assert_eq(sli_latency_bound_index(99), -1);
	/* 0 is the histogram's floor: "< 0 ms" is no threshold */
	cr_assert_eq(sli_latency_bound_index(0), -1);
	cr_assert_eq(sli_latency_bound_index(20000), -1);

	char buf[256];
	sli_latency_bounds_string(buf, sizeof buf);
	cr_assert_str_eq(buf, "1, 2, 5, 10, 20, 30, 50, 75, 100, 150, 200, 300, 500, 750, 1000, "
			      "1500, 2500, 5000, 10000");
	char small[8];
	sli_latency_bounds_string(small, sizeof small);
	cr_assert_eq(strlen(small), sizeof small - 1);
	cr_assert_eq(strncmp(small, buf, sizeof small - 1), 0);
}

/* ---- windows ---- */

Test(sli, window_ends_now)
{
	struct sli_window w;
	sli_window(T0 + 30 * MIN_MS, 6 * HOUR_MS, 0, &w);
	cr_assert_eq(w.to_ms, T0 + 30 * MIN_MS);
	cr_assert_eq(w.from_ms, T0 + 30 * MIN_MS - 6 * HOUR_MS);
}

/* Beyond rollup_1m's retention the start is rounded DOWN to its hour (the
 * window grows rather than silently losing its leading minutes); a window
 * exactly as long as the retention is not rounded. */
Test(sli, window_beyond_minute_retention_starts_on_the_hour)
{
	struct sli_window w;
	sli_window(T0 + 30 * MIN_MS, 72 * HOUR_MS, 24 * HOUR_MS, &w);
	cr_assert_eq(w.from_ms, T0 - 72 * HOUR_MS);
	cr_assert_eq(w.to_ms, T0 + 30 * MIN_MS);
	sli_window(T0 + 30 * MIN_MS, 24 * HOUR_MS, 24 * HOUR_MS, &w);
	cr_assert_eq(w.from_ms, T0 + 30 * MIN_MS - 24 * HOUR_MS);
	/* before the epoch "down" is still down: -90 min starts at -2 h */
	sli_window(30 * MIN_MS, 2 * HOUR_MS, HOUR_MS, &w);
	cr_assert_eq(w.from_ms, -2 * HOUR_MS);
}

Test(sli, window_inside_one_hour_reads_minutes_only)
{
	window_cond_is(T0 + 5 * MIN_MS, T0 + 17 * MIN_MS,
		       "((g = 't' AND bucket >= " TS("2026-03-02T00:05:00.000Z")
		       " AND bucket < " TS("2026-03-02T00:17:00.000Z") ")"
		       " OR (g = '1m' AND bucket >= " TS("2026-03-02T00:05:00.000Z")
		       " AND bucket < " TS("2026-03-02T00:17:00.000Z") "))");
	/* across an hour boundary but holding no whole hour: still minutes only */
	window_cond_is(T0 - 10 * MIN_MS, T0 + 10 * MIN_MS,
		       "((g = 't' AND bucket >= " TS("2026-03-01T23:50:00.000Z")
		       " AND bucket < " TS("2026-03-02T00:10:00.000Z") ")"
		       " OR (g = '1m' AND bucket >= " TS("2026-03-01T23:50:00.000Z")
		       " AND bucket < " TS("2026-03-02T00:10:00.000Z") "))");
}

Test(sli, window_mixes_edge_minutes_and_whole_hours)
{
	/* [22:50, 02:10): minutes 22:50-23:00 and 02:00-02:10, hours 23:00-02:00 */
	window_cond_is(T0 - 70 * MIN_MS, T0 + 130 * MIN_MS,
		       "((g = 't' AND bucket >= " TS("2026-03-01T22:50:00.000Z")
		       " AND bucket < " TS("2026-03-02T02:10:00.000Z") ")"
		       " OR (g = '1m' AND bucket >= " TS("2026-03-01T22:50:00.000Z")
		       " AND bucket < " TS("2026-03-02T02:10:00.000Z")
		       " AND (bucket < " TS("2026-03-01T23:00:00.000Z")
		       " OR bucket >= " TS("2026-03-02T02:00:00.000Z") "))"
		       " OR (g = '1h' AND bucket >= " TS("2026-03-01T23:00:00.000Z")
		       " AND bucket < " TS("2026-03-02T02:00:00.000Z") "))");
}

Test(sli, window_on_whole_hours_reads_hours)
{
	/* the minute part is empty by construction: [T0, T0+3h) minus itself */
	window_cond_is(T0, T0 + 3 * HOUR_MS,
		       "((g = 't' AND bucket >= " TS("2026-03-02T00:00:00.000Z")
		       " AND bucket < " TS("2026-03-02T03:00:00.000Z") ")"
		       " OR (g = '1m' AND bucket >= " TS("2026-03-02T00:00:00.000Z")
		       " AND bucket < " TS("2026-03-02T03:00:00.000Z")
		       " AND (bucket < " TS("2026-03-02T00:00:00.000Z")
		       " OR bucket >= " TS("2026-03-02T03:00:00.000Z") "))"
		       " OR (g = '1h' AND bucket >= " TS("2026-03-02T00:00:00.000Z")
		       " AND bucket < " TS("2026-03-02T03:00:00.000Z") "))");
}

/* Hours are floored and ceiled, not truncated toward zero, before 1970 too. */
Test(sli, window_before_the_epoch)
{
	window_cond_is(-30 * MIN_MS, 90 * MIN_MS,
		       "((g = 't' AND bucket >= " TS("1969-12-31T23:30:00.000Z")
		       " AND bucket < " TS("1970-01-01T01:30:00.000Z") ")"
		       " OR (g = '1m' AND bucket >= " TS("1969-12-31T23:30:00.000Z")
		       " AND bucket < " TS("1970-01-01T01:30:00.000Z")
		       " AND (bucket < " TS("1970-01-01T00:00:00.000Z")
		       " OR bucket >= " TS("1970-01-01T01:00:00.000Z") "))"
		       " OR (g = '1h' AND bucket >= " TS("1970-01-01T00:00:00.000Z")
		       " AND bucket < " TS("1970-01-01T01:00:00.000Z") "))");
}

/* The row source reads only what some window needs: the edge minutes of
 * each window and one hour range covering every window's whole hours. */
Test(sli, rows_sql_unions_the_windows)
{
	struct sli_window w[2] = { { T0 + 5 * MIN_MS, T0 + 17 * MIN_MS },
				   { T0 - 70 * MIN_MS, T0 + 130 * MIN_MS } };
	struct strbuf b = { 0 };
	sli_rows_sql(&b, w, 2);
	cr_assert_not(b.oom);
	cr_assert_str_eq(b.p,
		"(SELECT '1m'::text AS g, * FROM rollup_1m WHERE false"
		" OR (bucket >= " TS("2026-03-02T00:05:00.000Z")
		" AND bucket < " TS("2026-03-02T00:17:00.000Z") ")"
		" OR (bucket >= " TS("2026-03-01T22:50:00.000Z")
		" AND bucket < " TS("2026-03-01T23:00:00.000Z") ")"
		" OR (bucket >= " TS("2026-03-02T02:00:00.000Z")
		" AND bucket < " TS("2026-03-02T02:10:00.000Z") ")"
		" UNION ALL SELECT 't'::text AS g, * FROM tw_rollup_1m_of(NULL, NULL, "
		TS("2026-03-01T22:50:00.000Z") ", "
		TS("2026-03-02T02:10:00.000Z") ")"
		" UNION ALL SELECT '1h'::text AS g, * FROM (SELECT * FROM tw_rollup_1h_built()"
		" UNION ALL SELECT * FROM tw_rollup_1h_unbuilt("
		TS("2026-03-01T23:00:00.000Z") ", " TS("2026-03-02T02:00:00.000Z") ")) h1 WHERE bucket >= "
		TS("2026-03-01T23:00:00.000Z") " AND bucket < " TS("2026-03-02T02:00:00.000Z") ")");
	free(b.p);
}

Test(sli, rows_sql_minutes_only_reads_no_hours)
{
	struct sli_window w = { T0 + 5 * MIN_MS, T0 + 17 * MIN_MS };
	struct strbuf b = { 0 };
	sli_rows_sql(&b, &w, 1);
	cr_assert_str_eq(b.p,
		"(SELECT '1m'::text AS g, * FROM rollup_1m WHERE false"
		" OR (bucket >= " TS("2026-03-02T00:05:00.000Z")
		" AND bucket < " TS("2026-03-02T00:17:00.000Z") ")"
		" UNION ALL SELECT 't'::text AS g, * FROM tw_rollup_1m_of(NULL, NULL, "
		TS("2026-03-02T00:05:00.000Z") ", "
		TS("2026-03-02T00:17:00.000Z") ")"
		" UNION ALL SELECT '1h'::text AS g, * FROM rollup_1h WHERE false)");
	free(b.p);
}

Test(sli, rows_sql_hours_only_reads_no_minutes)
{
	struct sli_window w = { T0, T0 + 3 * HOUR_MS };
	struct strbuf b = { 0 };
	sli_rows_sql(&b, &w, 1);
	cr_assert_str_eq(b.p,
		"(SELECT '1m'::text AS g, * FROM rollup_1m WHERE false"
		" UNION ALL SELECT 't'::text AS g, * FROM tw_rollup_1m_of(NULL, NULL, "
		TS("2026-03-02T00:00:00.000Z") ", "
		TS("2026-03-02T03:00:00.000Z") ")"
		" UNION ALL SELECT '1h'::text AS g, * FROM (SELECT * FROM tw_rollup_1h_built()"
		" UNION ALL SELECT * FROM tw_rollup_1h_unbuilt("
		TS("2026-03-02T00:00:00.000Z") ", " TS("2026-03-02T03:00:00.000Z") ")) h1 WHERE bucket >= "
		TS("2026-03-02T00:00:00.000Z") " AND bucket < " TS("2026-03-02T03:00:00.000Z") ")");
	free(b.p);
}

/* ---- selectors ---- */

static void split_is(const char *t, const char *host, unsigned port)
{
	char h[64];
	unsigned p = 12345;
	sli_split_target(t, h, sizeof h, &p);
	cr_assert_str_eq(h, host, "\"%s\"", t);
	cr_assert_eq(p, port, "\"%s\": port %u", t, p);
}

Test(sli, split_target)
{
	split_is("a.example", "a.example", 0);
	split_is("a.example:8443", "a.example", 8443);
	split_is("[::1]:443", "::1", 443);
	split_is("[2001:db8::1]", "2001:db8::1", 0);
	/* a bare IPv6 literal is a host, its last group is not a port */
	split_is("2001:db8::1", "2001:db8::1", 0);
	/* host buffer too small: cut, still terminated */
	char h[4];
	unsigned p;
	sli_split_target("abcdef:1", h, sizeof h, &p);
	cr_assert_str_eq(h, "abc");
	cr_assert_eq(p, 1);
}

static char *selector_sql(PGconn *c, const struct slo_selector *sel)
{
	struct strbuf b = { 0 };
	sli_selector_cond(&b, c, sel);
	cr_assert_not(b.oom);
	return b.p;
}

Test(sli, selector_everything)
{
	PGconn *c = offline_conn();
	char *s = selector_sql(c, NULL);
	cr_assert_str_eq(s, "true");
	free(s);
	struct slo_selector none = { 0 };
	s = selector_sql(c, &none);
	cr_assert_str_eq(s, "true");
	free(s);
	PQfinish(c);
}

Test(sli, selector_fields_and_target_port)
{
	PGconn *c = offline_conn();
	struct slo_selector sel = { .service = "shop", .region = "eu-west", .profile = "modern",
				    .target = "[2001:db8::1]:8443" };
	char *s = selector_sql(c, &sel);
	cr_assert_str_eq(s, "true AND r.service = 'shop' AND r.region = 'eu-west' AND r.profile = "
			    "'modern' AND r.target = '2001:db8::1' AND r.port = 8443");
	free(s);
	/* no port given: any port of the host */
	struct slo_selector host_only = { .target = "a.example" };
	s = selector_sql(c, &host_only);
	cr_assert_str_eq(s, "true AND r.target = 'a.example'");
	free(s);
	PQfinish(c);
}

/* Values from a config file are literals, never SQL: quotes doubled,
 * backslashes in an E'' literal. */
Test(sli, selector_values_are_escaped)
{
	PGconn *c = offline_conn();
	struct slo_selector sel = { .service = "o'brien", .region = "a\\b" };
	char *s = selector_sql(c, &sel);
	cr_assert_str_eq(s, "true AND r.service = 'o''brien' AND r.region =  E'a\\\\b'");
	free(s);
	PQfinish(c);
}

/* Labels become one jsonb containment test with sorted keys (a stable
 * text for the same selector), escaped like any literal. */
Test(sli, selector_labels_jsonb_containment)
{
	PGconn *c = offline_conn();
	char *keys[] = { "tier", "team" };
	char *vals[] = { "1", "o'ps" };
	struct slo_selector sel = { .label_keys = keys, .label_values = vals, .nlabels = 2 };
	char *s = selector_sql(c, &sel);
	cr_assert_str_eq(s, "true AND t.labels @> '{\"team\":\"o''ps\",\"tier\":\"1\"}'::jsonb");
	free(s);
	PQfinish(c);
}

/* ---- the SQL text buffer ---- */

Test(sli, sql_buffer_grows_and_keeps_text)
{
	struct strbuf b = { 0 };
	char chunk[301];
	memset(chunk, 'q', 300);
	chunk[300] = '\0';
	for (int i = 0; i < 20; i++)
		strbuf_printf(&b, "%d:%s;", i % 10, chunk);
	cr_assert_not(b.oom);
	cr_assert_eq(b.len, 20 * 303);
	cr_assert_eq(strlen(b.p), b.len);
	cr_assert_geq(b.cap, b.len + 1);
	for (int i = 0; i < 20; i++) {
		cr_assert_eq(b.p[i * 303], '0' + i % 10);
		cr_assert_eq(b.p[i * 303 + 302], ';');
	}
	free(b.p);
}

Test(sli, sql_literal_null_and_time)
{
	PGconn *c = offline_conn();
	struct strbuf b = { 0 };
	sli_sql_literal(&b, c, NULL);
	strbuf_printf(&b, " ");
	sli_sql_time(&b, -1);
	cr_assert_str_eq(b.p, "NULL " TS("1969-12-31T23:59:59.999Z"));
	free(b.p);
	PQfinish(c);
}

/* The parameterised selector: the same condition as sli_selector_cond with
 * every value a $n parameter (for the API on the event loop, where no
 * PGconn escapes literals); the values go to the parameter list verbatim. */
Test(sli, selector_params_number_values_in_order)
{
	char *keys[] = { "tier" };
	char *vals[] = { "o'ps" };
	struct slo_selector sel = { .service = "o'brien", .region = "eu-west", .target = "a.example:8443",
				    .label_keys = keys, .label_values = vals, .nlabels = 1 };
	struct strbuf b = { 0 };
	struct sli_params p = { 0 };
	cr_assert_eq(sli_params_add(&p, "first"), 1);
	sli_selector_cond_params(&b, &p, &sel);
	cr_assert_not(b.oom);
	cr_assert_not(p.oom);
	cr_assert_str_eq(b.p, "true AND r.service = $2 AND r.region = $3 AND r.target = $4 AND "
			      "r.port = 8443 AND t.labels @> $5::jsonb");
	cr_assert_eq(p.n, 5);
	cr_assert_str_eq(p.v[1], "o'brien");
	cr_assert_str_eq(p.v[3], "a.example");
	cr_assert_str_eq(p.v[4], "{\"tier\":\"o'ps\"}");
	sli_params_free(&p);
	free(b.p);
}

/* More values than SLI_MAX_PARAMS: oom, never a write past the array. */
Test(sli, params_overflow_is_reported)
{
	struct sli_params p = { 0 };
	for (int i = 0; i < SLI_MAX_PARAMS; i++)
		cr_assert_eq(sli_params_add(&p, "x"), i + 1);
	cr_assert_eq(sli_params_add(&p, "y"), 0);
	cr_assert(p.oom);
	sli_params_free(&p);
}
