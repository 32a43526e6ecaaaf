/*
 * test_api.c - the JSON API (/api/v1) of a real `tlswatch-collector run`
 * on a real PostgreSQL (tests/integration/test_api.sh). Results are seeded
 * through the collector's probe port, so what the API reads is what ingest
 * wrote: results, rollups, targets, certificates. Every test uses its own
 * target names (Criterion runs tests in parallel).
 */
#include "api_env.h"

#include <ctype.h>

#include "proc.h"

TestSuite(api, .timeout = 120);

/* ---- seeds ---- */

#define OK(h, prof, ms, cnt) \
	{ .host = h, .sni = h, .profile = prof, .service = "shop", .outcome = "ok", \
	  .label_k = "team", .label_v = "pay", .tls_version = "TLSv1.3", \
	  .cipher = "TLS_AES_128_GCM_SHA256", .handshake_ms = ms, .fingerprint = NULL, .n = cnt }
#define FAIL(h, prof, out, cnt) \
	{ .host = h, .sni = h, .profile = prof, .service = "shop", .outcome = out, \
	  .label_k = "team", .label_v = "pay", .alert = "tlsv1 alert protocol version", \
	  .handshake_ms = -1, .n = cnt }

/* eu-west: modern ok, legacy locked out (protocol_version); us-east: all
 * ok; ap-south: nothing connects. */
static void seed_grid(const char *h)
{
	struct seed a[] = { OK(h, "modern", 40, 4), FAIL(h, "legacy", "protocol_version", 4) };
	struct seed b[] = { OK(h, "modern", 40, 4), OK(h, "legacy", 40, 4) };
	struct seed c[] = { FAIL(h, "modern", "connect_refused", 4),
			    FAIL(h, "legacy", "connect_refused", 4) };
	seed_as("probe-a", a, 2);
	seed_as("probe-b", b, 2);
	seed_as("probe-c", c, 2);
}

static json_t *find_row(json_t *grid, const char *id)
{
	size_t i;
	json_t *row;
	json_array_foreach(json_object_get(grid, "rows"), i, row)
		if (!strcmp(json_string_value(json_object_get(row, "id")), id))
			return row;
	return NULL;
}

static json_t *find_by(json_t *arr, const char *key, const char *val)
{
	size_t i;
	json_t *x;
	json_array_foreach(arr, i, x)
		if (json_is_string(json_object_get(x, key)) &&
		    !strcmp(json_string_value(json_object_get(x, key)), val))
			return x;
	return NULL;
}

static long long ival(json_t *o, const char *k)
{
	json_t *v = json_object_get(o, k);
	cr_assert(json_is_integer(v), "%s is not an integer", k);
	return (long long)json_integer_value(v);
}

Test(api, grid_cells_say_which_profiles_fail_and_why)
{
	seed_grid("grid1.api.test");
	struct resp r = get("/api/v1/grid?window=1h&service=shop&label=team:pay");
	expect(&r, 200, "grid");
	cr_assert_str_eq(json_string_value(json_object_get(r.json, "window")), "1h");
	json_t *regions = json_object_get(r.json, "regions");
	cr_assert(json_array_size(regions) >= 3);
	for (size_t k = 1; k < json_array_size(regions); k++)
		cr_assert(strcmp(json_string_value(json_array_get(regions, k - 1)),
				 json_string_value(json_array_get(regions, k))) < 0, "regions sorted");
	json_t *row = find_row(r.json, "grid1.api.test:443");
	cr_assert_not_null(row, "no grid row for grid1: %.400s", r.body);
	cr_assert_str_eq(json_string_value(json_object_get(row, "service")), "shop");
	cr_assert_str_eq(json_string_value(json_object_get(json_object_get(row, "labels"), "team")),
			 "pay");
	json_t *cells = json_object_get(row, "cells");
	cr_assert_eq(json_array_size(cells), 3, "%.400s", r.body);

	json_t *eu = find_by(cells, "region", "eu-west");
	cr_assert_eq(ival(eu, "attempts"), 8);
	cr_assert_eq(ival(eu, "successes"), 4);
	cr_assert_float_eq(json_real_value(json_object_get(eu, "success_ratio")), 0.5, 1e-9);
	cr_assert_str_eq(json_string_value(json_object_get(eu, "status")), "degraded");
	json_t *fp = json_object_get(eu, "failing_profiles");
	cr_assert_eq(json_array_size(fp), 1);
	cr_assert_str_eq(json_string_value(json_object_get(json_array_get(fp, 0), "text")),
			 "legacy: protocol_version 4/4");
	/* 40 ms sits in the 30..50 ms bucket: the p95 is interpolated inside it */
	double p95 = json_real_value(json_object_get(eu, "p95_ms"));
	cr_assert(p95 >= 30 && p95 <= 50, "p95 %f", p95);

	json_t *us = find_by(cells, "region", "us-east");
	cr_assert_str_eq(json_string_value(json_object_get(us, "status")), "ok");
	cr_assert_eq(ival(us, "successes"), 8);
	cr_assert_eq(json_array_size(json_object_get(us, "failing_profiles")), 0);

	json_t *ap = find_by(cells, "region", "ap-south");
	cr_assert_str_eq(json_string_value(json_object_get(ap, "status")), "failing");
	cr_assert(json_is_null(json_object_get(ap, "p95_ms")), "no handshake: p95 null");
	fp = json_object_get(ap, "failing_profiles");
	cr_assert_eq(json_array_size(fp), 2);
	cr_assert_str_eq(json_string_value(json_object_get(json_array_get(fp, 0), "top_outcome")),
			 "connect_refused");
	/* cells follow the column order */
	size_t i;
	json_t *cell;
	json_array_foreach(cells, i, cell) {
		if (i > 0)
			cr_assert(strcmp(json_string_value(json_object_get(cell, "region")),
					 json_string_value(json_object_get(json_array_get(cells, i - 1),
									   "region"))) > 0);
	}
	resp_free(&r);

	/* filters: another label value or service leaves the row out */
	r = get("/api/v1/grid?window=1h&label=team:other");
	expect(&r, 200, "grid label filter");
	cr_assert_null(find_row(r.json, "grid1.api.test:443"));
	resp_free(&r);
	r = get("/api/v1/grid?window=5m&service=none-such");
	expect(&r, 200, "grid service filter");
	cr_assert_eq(json_array_size(json_object_get(r.json, "rows")), 0);
	resp_free(&r);
}

Test(api, target_detail_flags_certificate_drift)
{
	const char *h = "drift.api.test";
	struct seed same = { .host = h, .sni = h, .profile = "modern", .service = "shop",
			     .outcome = "ok", .tls_version = "TLSv1.3",
			     .cipher = "TLS_AES_256_GCM_SHA384", .handshake_ms = 12,
			     .fingerprint = "aa11", .n = 2 };
	struct seed other = same;
	other.fingerprint = "bb22";
	struct seed fail = { .host = h, .sni = h, .profile = "legacy", .service = "shop",
			     .outcome = "protocol_version", .alert = "tlsv1 alert protocol version",
			     .handshake_ms = -1, .n = 3 };
	struct seed a[] = { same, fail };
	seed_as("probe-a", a, 2);
	seed_as("probe-b", &same, 1);
	seed_as("probe-c", &other, 1);

	struct resp r = get("/api/v1/targets/drift.api.test%3A443");
	expect(&r, 200, "target detail");
	cr_assert_str_eq(json_string_value(json_object_get(r.json, "id")), "drift.api.test:443");
	cr_assert_str_eq(json_string_value(json_object_get(r.json, "sni")), h);
	cr_assert(json_is_true(json_object_get(r.json, "drift")), "%s", r.body);
	json_t *certs = json_object_get(r.json, "certificates");
	cr_assert_eq(json_array_size(certs), 3);
	json_t *ap = find_by(certs, "region", "ap-south"), *eu = find_by(certs, "region", "eu-west");
	cr_assert_str_eq(json_string_value(json_object_get(ap, "fingerprint_sha256")), "bb22");
	cr_assert(json_is_true(json_object_get(ap, "drift")), "ap-south sees another certificate");
	cr_assert(json_is_false(json_object_get(eu, "drift")));
	cr_assert_str_eq(json_string_value(json_object_get(eu, "subject")), "CN=api.test");
	cr_assert(json_is_string(json_object_get(eu, "not_after")));
	cr_assert(json_is_string(json_object_get(eu, "chain_not_after_min")));

	json_t *neg = json_object_get(r.json, "negotiated");
	cr_assert_eq(json_array_size(neg), 4, "eu-west x 2 profiles, us-east, ap-south: %s", r.body);
	json_t *n0 = json_array_get(neg, 0);
	cr_assert_str_eq(json_string_value(json_object_get(n0, "region")), "ap-south");
	cr_assert_str_eq(json_string_value(json_object_get(n0, "cipher")), "TLS_AES_256_GCM_SHA384");

	json_t *fails = json_object_get(r.json, "recent_failures");
	cr_assert_eq(json_array_size(fails), 3);
	json_t *f0 = json_array_get(fails, 0);
	cr_assert_str_eq(json_string_value(json_object_get(f0, "outcome")), "protocol_version");
	cr_assert_str_eq(json_string_value(json_object_get(f0, "reason")),
			 "tlsv1 alert protocol version");
	cr_assert_str_eq(json_string_value(json_object_get(f0, "region")), "eu-west");
	resp_free(&r);

	r = get("/api/v1/targets/drift.api.test%3A443?failures=1");
	expect(&r, 200, "failures=1");
	cr_assert_eq(json_array_size(json_object_get(r.json, "recent_failures")), 1);
	resp_free(&r);

	r = get("/api/v1/targets/nope.api.test%3A443");
	expect_error(&r, 404, NULL, "unknown target");
	cr_assert_str_eq(json_string_value(json_object_get(json_object_get(r.json, "error"),
							   "message")),
			 "no target \"nope.api.test:443\"");
	resp_free(&r);
	r = get("/api/v1/targets/drift.api.test");
	expect_error(&r, 400, "target", "target without a port");
	resp_free(&r);
}

Test(api, series_per_region_and_profile)
{
	const char *h = "series.api.test";
	struct seed a[] = { OK(h, "modern", 20, 6), FAIL(h, "legacy", "protocol_version", 6) };
	a[0].seconds_ago = 120;
	a[1].seconds_ago = 120;
	seed_as("probe-a", a, 2);
	struct resp r = get("/api/v1/targets/series.api.test%3A443/series?window=1h&step=5m");
	expect(&r, 200, "series");
	cr_assert_str_eq(json_string_value(json_object_get(r.json, "step")), "5m");
	json_t *byr = json_object_get(r.json, "by_region"), *byp = json_object_get(r.json, "by_profile");
	cr_assert_eq(json_array_size(byr), 1);
	cr_assert_eq(json_array_size(byp), 2);
	json_t *pts = json_object_get(json_array_get(byr, 0), "points");
	cr_assert(json_array_size(pts) == 12 || json_array_size(pts) == 13, "%zu points",
		  json_array_size(pts));
	long long att = 0, ok = 0;
	size_t i;
	json_t *p;
	json_array_foreach(pts, i, p) {
		att += ival(p, "attempts");
		ok += ival(p, "successes");
		if (ival(p, "attempts") == 0)
			cr_assert(json_is_null(json_object_get(p, "success_ratio")));
	}
	cr_assert_eq(att, 12);
	cr_assert_eq(ok, 6);
	json_t *legacy = find_by(byp, "key", "legacy");
	cr_assert_not_null(legacy);
	att = 0;
	json_array_foreach(json_object_get(legacy, "points"), i, p) {
		att += ival(p, "attempts");
		cr_assert_eq(ival(p, "successes"), 0);
	}
	cr_assert_eq(att, 6);
	resp_free(&r);

	/* hourly steps read rollup_1h_live: the current hour, not built yet,
	 * from its minutes (sql/016_rollup_1h_builder.sql) */
	r = get("/api/v1/targets/series.api.test%3A443/series?window=6h&step=1h");
	expect(&r, 200, "series");
	att = 0;
	json_array_foreach(json_object_get(json_array_get(json_object_get(r.json, "by_region"), 0),
					   "points"), i, p)
		att += ival(p, "attempts");
	cr_assert_eq(att, 12);
	resp_free(&r);

	r = get("/api/v1/targets/series.api.test%3A443/series?window=90d&step=1m");
	expect_error(&r, 400, "step", "too many points");
	resp_free(&r);
	r = get("/api/v1/targets/series.api.test%3A443/series?step=90m");
	expect_error(&r, 400, "step", "90m is not whole hours");
	resp_free(&r);
}

/* Every page of /results, following next_cursor: no row twice, none
 * missing, newest first. */
Test(api, results_pagination_has_no_duplicates_or_holes)
{
	const char *h = "pages.api.test";
	struct seed a[] = { OK(h, "modern", 10, 25) };
	seed_as("probe-a", a, 1);
	char path[2048] = "/api/v1/results?target=pages.api.test:443&limit=7";
	json_t *seen = json_object();
	int pages = 0;
	char prev[64] = "";
	for (;;) {
		struct resp r = get(path);
		expect(&r, 200, "results page");
		size_t i;
		json_t *it;
		json_array_foreach(json_object_get(r.json, "items"), i, it) {
			char key[128];
			snprintf(key, sizeof key, "%s/%lld",
				 json_string_value(json_object_get(it, "probe_id")), ival(it, "seq"));
			cr_assert_null(json_object_get(seen, key), "row %s twice", key);
			json_object_set_new(seen, key, json_true());
			const char *at = json_string_value(json_object_get(it, "started_at"));
			cr_assert(!prev[0] || strcmp(at, prev) <= 0, "not newest first: %s after %s", at,
				  prev);
			snprintf(prev, sizeof prev, "%s", at);
			cr_assert_str_eq(json_string_value(json_object_get(it, "target")),
					 "pages.api.test:443");
		}
		pages++;
		json_t *nc = json_object_get(r.json, "next_cursor");
		if (json_is_null(nc)) {
			resp_free(&r);
			break;
		}
		cr_assert_eq(json_array_size(json_object_get(r.json, "items")), 7);
		snprintf(path, sizeof path,
			 "/api/v1/results?target=pages.api.test:443&limit=7&cursor=%s",
			 json_string_value(nc));
		resp_free(&r);
		cr_assert(pages < 10);
	}
	cr_assert_eq(json_object_size(seen), 25);
	cr_assert_eq(pages, 4);
	json_decref(seen);

	struct resp r = get("/api/v1/results?cursor=bm9wZQ");
	expect_error(&r, 400, "cursor", "forged cursor");
	resp_free(&r);
	/* since as Unix ms: an hour ago still holds the rows, a minute in the
	 * future none */
	char q[256];
	long long now_ms = (long long)twtime_wall_ms();
	snprintf(q, sizeof q, "/api/v1/results?target=pages.api.test&outcome=ok&region=eu-west"
		 "&profile=modern&limit=1000&since=%lld", now_ms - 3600000);
	r = get(q);
	expect(&r, 200, "filters");
	cr_assert_eq(json_array_size(json_object_get(r.json, "items")), 25);
	resp_free(&r);
	snprintf(q, sizeof q, "/api/v1/results?target=pages.api.test&since=%lld&until=%lld",
		 now_ms + 60000, now_ms + 120000);
	r = get(q);
	expect(&r, 200, "future window");
	cr_assert_eq(json_array_size(json_object_get(r.json, "items")), 0);
	resp_free(&r);
	r = get("/api/v1/results?target=pages.api.test&region=us-east");
	expect(&r, 200, "other region");
	cr_assert_eq(json_array_size(json_object_get(r.json, "items")), 0);
	resp_free(&r);
	r = get("/api/v1/results?since=2026-13-01T00:00:00Z");
	expect_error(&r, 400, "since", "bad time");
	resp_free(&r);
}

Test(api, targets_pagination_and_filters)
{
	const char *hosts[] = { "t1.tp.api.test", "t2.tp.api.test", "t3.tp.api.test",
				"t4.tp.api.test", "t5.tp.api.test" };
	struct seed s[5];
	for (int i = 0; i < 5; i++) {
		struct seed x = { .host = hosts[i], .sni = hosts[i], .profile = "modern",
				  .service = "tp", .outcome = "ok", .label_k = "tier",
				  .label_v = i < 3 ? "gold" : "tin", .tls_version = "TLSv1.3",
				  .handshake_ms = 5, .n = 1 };
		s[i] = x;
	}
	seed_as("probe-b", s, 5);
	char path[2048] = "/api/v1/targets?service=tp&limit=2";
	int n = 0;
	for (int page = 0; page < 5; page++) {
		struct resp r = get(path);
		expect(&r, 200, "targets page");
		size_t i;
		json_t *it;
		json_array_foreach(json_object_get(r.json, "items"), i, it) {
			cr_assert_str_eq(json_string_value(json_object_get(it, "host")), hosts[n]);
			json_t *last = json_object_get(it, "last");
			cr_assert_eq(json_array_size(last), 1);
			cr_assert_str_eq(json_string_value(json_object_get(json_array_get(last, 0),
									   "region")), "us-east");
			cr_assert_str_eq(json_string_value(json_array_get(json_object_get(it, "profiles"),
									  0)), "modern");
			n++;
		}
		json_t *nc = json_object_get(r.json, "next_cursor");
		if (json_is_null(nc)) {
			resp_free(&r);
			break;
		}
		snprintf(path, sizeof path, "/api/v1/targets?service=tp&limit=2&cursor=%s",
			 json_string_value(nc));
		resp_free(&r);
	}
	cr_assert_eq(n, 5);
	struct resp r = get("/api/v1/targets?service=tp&label=tier:gold&region=us-east");
	expect(&r, 200, "label filter");
	cr_assert_eq(json_array_size(json_object_get(r.json, "items")), 3);
	resp_free(&r);
	r = get("/api/v1/targets?service=tp&region=ap-south");
	expect(&r, 200, "region filter");
	cr_assert_eq(json_array_size(json_object_get(r.json, "items")), 0);
	resp_free(&r);
}

/* Percent-encodes s for a query value (RFC 3986 unreserved kept). */
static const char *qenc(const char *s)
{
	static char out[4][1024];
	static int k;
	char *o = out[k++ % 4];
	size_t n = 0;
	for (; *s && n + 4 < sizeof out[0]; s++) {
		unsigned char c = (unsigned char)*s;
		if (isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~')
			o[n++] = (char)c;
		else
			n += (size_t)snprintf(o + n, 4, "%%%02X", c);
	}
	o[n] = '\0';
	return o;
}

/* SQL and markup in what probes report (service, labels) and in what
 * clients ask for: stored and answered verbatim, matched as values, never
 * run or interpreted. */
Test(api, hostile_names_and_parameters_are_plain_values)
{
	const char *svc = "shop'); DROP TABLE results; --";
	const char *lab = "<img src=x onerror=alert(1)>\"'";
	struct seed s[] = { { .host = "sqli.api.test", .sni = "sqli.api.test", .profile = "modern",
			      .service = svc, .outcome = "ok", .label_k = "owner", .label_v = lab,
			      .tls_version = "TLSv1.3", .handshake_ms = 5, .n = 2 } };
	seed_as("probe-b", s, 1);

	struct resp r = get(tw_fmt("/api/v1/targets?service=%s", qenc(svc)));
	expect(&r, 200, "targets by a service holding SQL");
	json_t *items = json_object_get(r.json, "items");
	cr_assert_eq(json_array_size(items), 1, "%s", r.body);
	json_t *it = json_array_get(items, 0);
	cr_assert_str_eq(json_string_value(json_object_get(it, "service")), svc);
	cr_assert_str_eq(json_string_value(json_object_get(json_object_get(it, "labels"), "owner")),
			 lab, "%s", r.body);
	resp_free(&r);

	/* the classic injections match nothing and break nothing */
	const char *inj[] = { "' OR '1'='1", "x' UNION SELECT probe_id FROM probes --", "\\", "%" };
	for (size_t i = 0; i < sizeof inj / sizeof inj[0]; i++) {
		r = get(tw_fmt("/api/v1/targets?service=%s", qenc(inj[i])));
		expect(&r, 200, inj[i]);
		cr_assert_eq(json_array_size(json_object_get(r.json, "items")), 0, "%s: %s", inj[i],
			     r.body);
		resp_free(&r);
		r = get(tw_fmt("/api/v1/grid?window=1h&service=%s", qenc(inj[i])));
		expect(&r, 200, inj[i]);
		cr_assert_eq(json_array_size(json_object_get(r.json, "rows")), 0, "%s: %s", inj[i],
			     r.body);
		resp_free(&r);
	}
	r = get(tw_fmt("/api/v1/targets?label=%s", qenc("owner:<img src=x onerror=alert(1)>\"'")));
	expect(&r, 200, "a label value with markup and quotes");
	cr_assert_eq(json_array_size(json_object_get(r.json, "items")), 1, "%s", r.body);
	resp_free(&r);
	/* the table the service name talks about is still there */
	r = get("/api/v1/results?target=sqli.api.test:443&limit=10");
	expect(&r, 200, "results after the hostile seed");
	cr_assert_eq(json_array_size(json_object_get(r.json, "items")), 2, "%s", r.body);
	resp_free(&r);
}

Test(api, errors_are_json_and_name_the_parameter)
{
	struct resp r = get("/api/v1/grid?window=2h");
	expect_error(&r, 400, "window", "grid window");
	cr_assert(strstr(r.body, "5m, 1h, 24h, 7d"), "%s", r.body);
	resp_free(&r);
	r = get("/api/v1/results?limit=0");
	expect_error(&r, 400, "limit", "limit 0");
	resp_free(&r);
	r = get("/api/v1/results?limit=1001");
	expect_error(&r, 400, "limit", "limit 1001");
	resp_free(&r);
	r = get("/api/v1/grid?servce=x");
	expect_error(&r, 400, "servce", "unknown parameter");
	resp_free(&r);
	r = get("/api/v1/grid?window=1h&window=5m");
	expect_error(&r, 400, "window", "repeated parameter");
	resp_free(&r);
	r = get("/api/v1/targets?label=nocolon");
	expect_error(&r, 400, "label", "label without a colon");
	resp_free(&r);
	r = get("/api/v1/nothing");
	expect_error(&r, 404, NULL, "unknown path");
	resp_free(&r);

	struct req_opts post = { .method = "POST", .body = "{}" };
	r = req_opt("/api/v1/grid", &post);
	expect_error(&r, 405, NULL, "POST grid");
	cr_assert_str_eq(resp_header(&r, "Allow"), "GET");
	resp_free(&r);

	/* a URL over 8 KiB */
	char *longp = malloc(9100);
	int np = snprintf(longp, 9100, "/api/v1/grid?service=");
	memset(longp + np, 'a', 9000);
	longp[np + 9000] = '\0';
	r = get(longp);
	expect_error(&r, 414, NULL, "long URL");
	resp_free(&r);
	free(longp);

	/* a body over 64 KiB: refused by the HTTP layer before routing */
	char *big = malloc(70000);
	memset(big, 'x', 69999);
	big[69999] = '\0';
	struct req_opts bigpost = { .method = "POST", .body = big };
	r = req_opt("/api/v1/grid", &bigpost);
	cr_assert_eq(r.status, 413, "big body: %ld", r.status);
	resp_free(&r);
	free(big);
}

Test(api, read_token_and_tls_listener)
{
	/* B: HTTPS, reads need a token */
	struct req_opts o = { .https = true };
	struct resp r = req_opt("/api/v1/regions", &o);
	expect_error(&r, 401, NULL, "no token");
	cr_assert(resp_header(&r, "WWW-Authenticate"));
	resp_free(&r);
	o.token = "wrong";
	r = req_opt("/api/v1/regions", &o);
	expect_error(&r, 401, NULL, "wrong token");
	cr_assert_null(strstr(r.body, env("TW_API_READ_TOKEN")));
	resp_free(&r);
	o.token = env("TW_API_READ_TOKEN");
	r = req_opt("/api/v1/regions", &o);
	expect(&r, 200, "read token over https");
	resp_free(&r);
	o.token = env("TW_API_TOKEN");
	r = req_opt("/api/v1/regions", &o);
	expect(&r, 200, "the write token reads too");
	resp_free(&r);
	/* the OpenAPI document needs no token */
	o.token = NULL;
	r = req_opt("/api/v1/openapi.json", &o);
	expect(&r, 200, "openapi without a token");
	resp_free(&r);

	/* TLS 1.1 is refused by the server */
	o.token = env("TW_API_READ_TOKEN");
	o.tls_max = CURL_SSLVERSION_TLSv1_1 | CURL_SSLVERSION_MAX_TLSv1_1;
	r = req_opt("/api/v1/regions", &o);
	cr_assert_neq(r.curl, CURLE_OK, "TLS 1.1 handshake must fail");
	cr_assert_eq(r.status, 0);
	resp_free(&r);
	o.tls_max = CURL_SSLVERSION_TLSv1_2 | CURL_SSLVERSION_MAX_TLSv1_2;
	r = req_opt("/api/v1/regions", &o);
	expect(&r, 200, "TLS 1.2");
	resp_free(&r);

	/* A: reads open */
	r = get("/api/v1/regions");
	expect(&r, 200, "open reads on A");
	resp_free(&r);
}

Test(api, openapi_document_is_served_verbatim)
{
	struct resp r = get("/api/v1/openapi.json");
	expect(&r, 200, "openapi");
	json_error_t e;
	json_t *file = json_load_file(env("TW_OPENAPI"), 0, &e);
	cr_assert_not_null(file, "%s", e.text);
	cr_assert(json_equal(file, r.json), "served document differs from collector/openapi.json");
	json_decref(file);
	resp_free(&r);
}

/* Every endpoint's live answers, errors included, against its schema. */
Test(api, every_response_validates_against_openapi)
{
	seed_grid("schema.api.test");
	struct seed d = { .host = "schema.api.test", .sni = "schema.api.test", .profile = "modern",
			  .service = "shop", .outcome = "ok", .tls_version = "TLSv1.3",
			  .cipher = "TLS_AES_128_GCM_SHA256", .handshake_ms = 8, .fingerprint = "cc33",
			  .n = 1 };
	seed_as("probe-b", &d, 1);
	struct cases cs = { 0 };
	static const struct { const char *path, *tmpl; long status; } C[] = {
		{ "/api/v1/regions", "/api/v1/regions", 200 },
		{ "/api/v1/services", "/api/v1/services", 200 },
		{ "/api/v1/targets?limit=2", "/api/v1/targets", 200 },
		{ "/api/v1/targets/schema.api.test%3A443", "/api/v1/targets/{target}", 200 },
		{ "/api/v1/targets/none.api.test%3A443", "/api/v1/targets/{target}", 404 },
		{ "/api/v1/targets/schema.api.test%3A443/series?window=1h",
		  "/api/v1/targets/{target}/series", 200 },
		{ "/api/v1/targets/schema.api.test%3A443/series?window=1y",
		  "/api/v1/targets/{target}/series", 400 },
		{ "/api/v1/grid", "/api/v1/grid", 200 },
		{ "/api/v1/grid?window=24h", "/api/v1/grid", 200 },
		{ "/api/v1/grid?window=7d", "/api/v1/grid", 200 },
		{ "/api/v1/grid?window=3h", "/api/v1/grid", 400 },
		{ "/api/v1/results?limit=3", "/api/v1/results", 200 },
		{ "/api/v1/results?until=x", "/api/v1/results", 400 },
		{ "/api/v1/openapi.json", "/api/v1/openapi.json", 200 },
	};
	for (size_t i = 0; i < sizeof C / sizeof C[0]; i++) {
		struct resp r = get(C[i].path);
		cr_assert_eq(r.status, C[i].status, "%s: %ld %.300s", C[i].path, r.status, r.body);
		record(&cs, "get", C[i].tmpl, &r);
		resp_free(&r);
	}
	struct req_opts post = { .method = "POST", .body = "{}" };
	struct resp r = req_opt("/api/v1/regions", &post);
	record(&cs, "get", "/api/v1/regions", &r);
	resp_free(&r);
	validate(&cs);
}

/* The 24h grid is reused for 30 s (docs/api.md): a second answer within
 * that time is the first one, `to` included, even after new results; the
 * 5-minute grid is computed each time. */
Test(api, long_window_grid_is_reused_briefly)
{
	const char *h = "cache.api.test";
	struct seed a[] = { OK(h, "modern", 10, 2) };
	a[0].service = "cache";
	seed_as("probe-a", a, 1);
	struct resp r1 = get("/api/v1/grid?window=24h&service=cache");
	expect(&r1, 200, "first 24h grid");
	json_t *row = find_row(r1.json, "cache.api.test:443");
	cr_assert_not_null(row, "%s", r1.body);
	cr_assert_eq(ival(json_array_get(json_object_get(row, "cells"), 0), "attempts"), 2);
	seed_as("probe-a", a, 1);
	struct resp r2 = get("/api/v1/grid?window=24h&service=cache");
	expect(&r2, 200, "second 24h grid");
	cr_assert(json_equal(r1.json, r2.json), "the answer was not reused");
	struct resp r3 = get("/api/v1/grid?window=5m&service=cache");
	expect(&r3, 200, "5m grid");
	row = find_row(r3.json, "cache.api.test:443");
	cr_assert_eq(ival(json_array_get(json_object_get(row, "cells"), 0), "attempts"), 4);
	resp_free(&r1);
	resp_free(&r2);
	resp_free(&r3);
}

/* Identical grid questions asked at once share one statement
 * (store_op_start_shared): every caller gets the same complete answer. */
Test(api, concurrent_identical_grids_all_answered)
{
	struct seed a[] = { OK("shared.api.test", "modern", 10, 3) };
	a[0].service = "shared";
	seed_as("probe-c", a, 1);
	enum { N = 8 };
	CURLM *m = curl_multi_init();
	CURL *e[N];
	struct resp r[N];
	memset(r, 0, sizeof r);
	char url[256];
	snprintf(url, sizeof url, "http://127.0.0.1:%d/api/v1/grid?window=7d&service=shared",
		 env_port("TW_HTTP_PORT"));
	for (int i = 0; i < N; i++) {
		e[i] = curl_easy_init();
		curl_easy_setopt(e[i], CURLOPT_URL, url);
		curl_easy_setopt(e[i], CURLOPT_WRITEFUNCTION, api_env_sink);
		curl_easy_setopt(e[i], CURLOPT_WRITEDATA, &r[i]);
		curl_easy_setopt(e[i], CURLOPT_TIMEOUT, 20L);
		curl_multi_add_handle(m, e[i]);
	}
	int running = N;
	while (running) {
		cr_assert_eq(curl_multi_perform(m, &running), CURLM_OK);
		if (running)
			curl_multi_poll(m, NULL, 0, 100, NULL);
	}
	json_t *first = NULL;
	for (int i = 0; i < N; i++) {
		curl_easy_getinfo(e[i], CURLINFO_RESPONSE_CODE, &r[i].status);
		cr_assert_eq(r[i].status, 200, "request %d: %ld %s", i, r[i].status,
			     r[i].body ? r[i].body : "");
		json_error_t err;
		json_t *j = json_loads(r[i].body, 0, &err);
		cr_assert_not_null(j, "request %d: %s", i, err.text);
		cr_assert_not_null(find_row(j, "shared.api.test:443"));
		if (!first)
			first = j;
		else {
			cr_assert(json_equal(first, j), "request %d got another answer", i);
			json_decref(j);
		}
		curl_multi_remove_handle(m, e[i]);
		curl_easy_cleanup(e[i]);
		free(r[i].body);
	}
	json_decref(first);
	curl_multi_cleanup(m);
}
