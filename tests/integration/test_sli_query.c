/*
 * test_sli_query.c - collector/sli.c's sli_query() against real rollup rows
 * in a PostgreSQL started by tests/integration/test_sli_query.sh (the
 * test_burn fixture): the latency bounds agree with SQL's, a window mixes
 * whole hours from rollup_1h with edge minutes from rollup_1m exactly, and
 * "no data" is no row while a failed series is a 0 rate. The SQL text
 * itself, windows and percentiles: tests/unit/test_sli.c. Helpers:
 * burn_env.h.
 */
#define _GNU_SOURCE
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>
#include <libpq-fe.h>

#include "burn_env.h"
#include "sli.h"
#include "sli_latency.h"
#include "slo_config.h"

TestSuite(sli_query, .timeout = 300);

/* ------------------------------------------------------------ SLIs */

Test(sli_query, latency_bounds_match_sql)
{
	PGconn *c = new_db("burn_bounds");
	char *s = q_str(c, "SELECT array_to_string(tw_latency_bounds(), ',')");
	char buf[512] = "";
	size_t off = 0;
	for (int k = 0; k < SLI_LATENCY_BUCKETS; k++)
		off += (size_t)snprintf(buf + off, sizeof buf - off, "%s%g", k ? "," : "",
					sli_latency_bounds[k]);
	cr_assert_str_eq(s, buf);
	free(s);
	PQfinish(c);
}


Test(sli_query, sli_window_mixes_hours_and_minutes_exactly)
{
	PGconn *c = new_db("burn_sli");
	gen(c, "a.example", "eu", "shop", -300, 300, PAT_A, PAT_F, NULL);
	gen(c, "a.example", "us", "shop", -300, 300, PAT_A, "0", NULL);
	gen(c, "b.example", "eu", "blog", -300, 300, "5", "1", NULL);
	rebuild_1h(c);

	/* [T0 - 70m, T0 + 130m): partial hour, 2 whole hours, partial hour */
	struct sli_window w = { T0 - 70 * MIN_MS, T0 + 130 * MIN_MS };
	struct slo_selector sel = { .service = "shop" };
	struct sli_values *v;
	size_t n;
	char err[512];
	cr_assert_eq(sli_query(c, &sel, &w, SLI_GROUP_REGION, &v, &n, err, sizeof err), 0, "%s", err);
	cr_assert_eq(n, 2);
	long a = 0, f = 0;
	for (long m = -70; m < 130; m++) {
		a += pat_a(m);
		f += pat_f(m);
	}
	cr_assert_str_eq(v[0].group, "eu");
	cr_assert_eq(v[0].attempts, (uint64_t)a);
	cr_assert_eq(v[0].failures, (uint64_t)f);
	cr_assert_float_eq(v[0].success_rate, (double)(a - f) / (double)a, EPS);
	cr_assert_str_eq(v[1].group, "us");
	cr_assert_eq(v[1].attempts, (uint64_t)a);
	cr_assert_float_eq(v[1].success_rate, 1.0, EPS);
	/* every handshake in bucket 5 [10, 20): p95 = 10 + 10 x 0.95 */
	cr_assert_float_eq(v[0].p95_ms, 19.5, EPS);
	cr_assert_float_eq(v[0].p99_ms, 19.9, EPS);
	cr_assert(isnan(v[0].mtls_failure_rate));
	cr_assert_float_eq(v[0].ocsp_stapling_rate, 0.0, EPS);
	sli_values_free(v, n);

	/* grouped by target over everything: b = 5 x 200 attempts, 200 failures */
	cr_assert_eq(sli_query(c, NULL, &w, SLI_GROUP_TARGET, &v, &n, err, sizeof err), 0, "%s", err);
	cr_assert_eq(n, 2);
	cr_assert_str_eq(v[1].group, "b.example:443");
	cr_assert_eq(v[1].attempts, 1000);
	cr_assert_float_eq(v[1].success_rate, 0.8, EPS);
	sli_values_free(v, n);

	/* a window inside one hour reads minutes only: [T0+5m, T0+17m) */
	struct sli_window w2 = { T0 + 5 * MIN_MS, T0 + 17 * MIN_MS };
	struct slo_selector s2 = { .service = "shop", .region = "eu" };
	cr_assert_eq(sli_query(c, &s2, &w2, SLI_GROUP_NONE, &v, &n, err, sizeof err), 0, "%s", err);
	cr_assert_eq(n, 1);
	a = f = 0;
	for (long m = 5; m < 17; m++) {
		a += pat_a(m);
		f += pat_f(m);
	}
	cr_assert_eq(v[0].attempts, (uint64_t)a);
	cr_assert_eq(v[0].failures, (uint64_t)f);   /* minute 7 and 14: 4 */
	cr_assert_eq(f, 4);
	sli_values_free(v, n);
	PQfinish(c);
}

/* "No data" and 0 are different answers: a selector or window that matches
 * no rollup row gives no row at all (the rules then neither fire nor
 * resolve on it), while a series that failed every attempt gives a success
 * rate of 0. A ratio whose denominator is 0 inside a series is NAN, and
 * the expiry minima are "none seen", never 0 days. */
Test(sli_query, sli_no_data_is_not_zero)
{
	PGconn *c = new_db("burn_nodata");
	/* 4 attempts a minute, all failed; handshakes timed but the histogram
	 * left empty, so no percentile can be given */
	gen(c, "dead.example", "eu", "dead", 0, 30, "4", "4", "array_fill(0::bigint, ARRAY[20])");
	rebuild_1h(c);
	struct sli_window w = { T0, T0 + 30 * MIN_MS };
	struct sli_values *v;
	size_t n = 99;
	char err[512];

	struct slo_selector nosuch = { .service = "nosuch" };
	cr_assert_eq(sli_query(c, &nosuch, &w, SLI_GROUP_NONE, &v, &n, err, sizeof err), 0, "%s", err);
	cr_assert_eq(n, 0, "a selector that matches nothing gave %zu row(s)", n);
	sli_values_free(v, n);
	cr_assert_eq(sli_query(c, &nosuch, &w, SLI_GROUP_REGION, &v, &n, err, sizeof err), 0, "%s", err);
	cr_assert_eq(n, 0);
	sli_values_free(v, n);

	/* the series exists, but not in this window */
	struct slo_selector dead = { .service = "dead" };
	struct sli_window later = { T0 + 31 * MIN_MS, T0 + 90 * MIN_MS };
	cr_assert_eq(sli_query(c, &dead, &later, SLI_GROUP_NONE, &v, &n, err, sizeof err), 0, "%s", err);
	cr_assert_eq(n, 0);
	sli_values_free(v, n);

	cr_assert_eq(sli_query(c, &dead, &w, SLI_GROUP_NONE, &v, &n, err, sizeof err), 0, "%s", err);
	cr_assert_eq(n, 1);
	cr_assert_null(v[0].group);
	cr_assert_eq(v[0].attempts, 120);
	cr_assert_eq(v[0].failures, 120);
	cr_assert_float_eq(v[0].success_rate, 0.0, EPS);
	cr_assert(!isnan(v[0].success_rate));
	cr_assert_float_eq(v[0].ocsp_stapling_rate, 0.0, EPS);   /* 0 of 120 handshakes */
	cr_assert(isnan(v[0].mtls_failure_rate), "no mTLS attempts: %f", v[0].mtls_failure_rate);
	cr_assert(isnan(v[0].p95_ms), "empty histogram: p95 %f", v[0].p95_ms);
	cr_assert(isnan(v[0].min_days_to_expiry));
	cr_assert_eq(v[0].min_chain_not_after_ms, INT64_MIN);
	sli_values_free(v, n);
	PQfinish(c);
}
