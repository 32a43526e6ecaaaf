/*
 * test_demo.c - `make demo` as a user meets it: tests/integration/test_demo.sh
 * starts deploy/demo/demo.sh bounded by DEMO_SECONDS, and these tests read
 * the running demo from the outside while its events happen - the
 * collector's JSON API (/api/v1, docs/api.md) and /metrics, and the pager's
 * log - and then wait for it to stop.
 *
 * Criterion runs the tests at once (the fixture passes --jobs 8): each waits
 * for what it checks, bounded by the demo's length.
 */
#include <criterion/criterion.h>
#include <curl/curl.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "strbuf.h"
#include "twtime.h"

static int demo_seconds(void)
{
	const char *s = getenv("TW_DEMO_SECONDS");
	return s ? (int)strtol(s, NULL, 10) : 85;
}

TestSuite(demo, .timeout = 240);

/* ---- the demo's state.env (KEY=VALUE lines, value maybe in quotes) ---- */

static char *state(const char *key)
{
	const char *path = getenv("TW_DEMO_STATE");
	cr_assert_not_null(path, "TW_DEMO_STATE not set (run through test_demo.sh)");
	FILE *f = fopen(path, "r");
	cr_assert_not_null(f, "%s", path);
	char line[1024], *val = NULL;
	size_t kl = strlen(key);
	while (!val && fgets(line, sizeof line, f)) {
		line[strcspn(line, "\n")] = '\0';
		if (strncmp(line, key, kl) != 0 || line[kl] != '=')
			continue;
		char *v = line + kl + 1;
		size_t n = strlen(v);
		if (n >= 2 && v[0] == '"' && v[n - 1] == '"') {
			v[n - 1] = '\0';
			v++;
		}
		val = strdup(v);
	}
	fclose(f);
	cr_assert_not_null(val, "%s has no %s", path, key);
	return val;
}

/* ---- HTTP ---- */

static size_t http_sink(char *p, size_t sz, size_t n, void *arg)
{
	strbuf_put(arg, p, sz * n);
	return sz * n;
}

/* GET DEMO_HTTP+path: the status (0: no answer); *body malloc'd or NULL. */
static long http_get(const char *path, char **body)
{
	char *base = state("DEMO_HTTP");
	char url[512];
	struct strbuf b = { 0 };
	long status = 0;
	snprintf(url, sizeof url, "%s%s", base, path);
	free(base);
	CURL *h = curl_easy_init();
	cr_assert_not_null(h);
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, http_sink);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &b);
	curl_easy_setopt(h, CURLOPT_TIMEOUT, 10L);
	if (curl_easy_perform(h) == CURLE_OK)
		curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_cleanup(h);
	strbuf_putc(&b, '\0');
	cr_assert(!b.oom);
	*body = strbuf_take(&b);
	return status;
}

/* GET DEMO_HTTP+path as JSON: NULL unless 200 with a JSON body. */
static json_t *api_json(const char *path)
{
	char *body = NULL;
	long st = http_get(path, &body);
	json_t *j = st == 200 ? json_loads(body, 0, NULL) : NULL;
	free(body);
	return j;
}

/* ---- /metrics ---- */

/* The value of label KEY in a sample line, into out; false when absent. */
static bool label(const char *line, const char *key, char *out, size_t cap)
{
	char pat[64];
	snprintf(pat, sizeof pat, "%s=\"", key);
	for (const char *p = strstr(line, pat); p; p = strstr(p + 1, pat)) {
		if (p != line && p[-1] != '{' && p[-1] != ',')
			continue;
		p += strlen(pat);
		size_t n = strcspn(p, "\"");
		if (n >= cap)
			return false;
		memcpy(out, p, n);
		out[n] = '\0';
		return true;
	}
	return false;
}

static const char *const regions[] = { "us-east", "eu-west", "ap-south" };
#define NREGIONS 3

/* What each endpoint's latest result must say, per client profile. */
static const struct expect {
	const char *endpoint, *profile, *outcome, *finding;
} expected[] = {
	{ "www", "modern", "ok", NULL },
	{ "www", "legacy", "ok", NULL },
	{ "shop", "modern", "ok", NULL },
	{ "shop", "legacy", "ok", NULL },
	{ "expiring", "modern", "ok", "expiring_soon" },
	{ "expiring", "legacy", "ok", "expiring_soon" },
	{ "expired", "modern", "cert_expired", NULL },
	{ "expired", "legacy", "cert_expired", NULL },
	{ "nochain", "modern", "chain_incomplete", NULL },
	{ "nochain", "legacy", "chain_incomplete", NULL },
	{ "wrongname", "modern", "hostname_mismatch", "sni_mismatch" },
	{ "wrongname", "legacy", "hostname_mismatch", "sni_mismatch" },
	{ "tls10", "modern", "protocol_version", NULL },
	{ "tls10", "legacy", "ok", "legacy_protocol" },
	{ "tls13", "modern", "ok", NULL },
	{ "tls13", "legacy", "protocol_version", NULL },
	{ "mtls", "modern", "client_cert_required", NULL },
	{ "mtls", "legacy", "client_cert_required", NULL },
	{ "revoked", "modern", "revoked", NULL },
	{ "revoked", "legacy", "revoked", NULL },
	{ "slow", "modern", "ok", NULL },
	{ "slow", "legacy", "ok", NULL },
};
#define NEXPECTED (sizeof expected / sizeof expected[0])

/* Does /metrics have FAMILY{target=E.demo.test:443,region,profile,KEY=VALUE}? */
static bool has_series(const char *metrics, const char *family, const char *endpoint,
		       const char *region, const char *profile, const char *key, const char *value)
{
	char want_target[128], prefix[96], v[128];
	snprintf(want_target, sizeof want_target, "%s.demo.test:443", endpoint);
	snprintf(prefix, sizeof prefix, "\n%s{", family);
	for (const char *p = strstr(metrics, prefix); p; p = strstr(p + 1, prefix)) {
		char line[1024];
		size_t n = strcspn(p + 1, "\n");
		if (n >= sizeof line)
			continue;
		memcpy(line, p + 1, n);
		line[n] = '\0';
		if (label(line, "target", v, sizeof v) && strcmp(v, want_target) == 0 &&
		    label(line, "region", v, sizeof v) && strcmp(v, region) == 0 &&
		    label(line, "profile", v, sizeof v) && strcmp(v, profile) == 0 &&
		    label(line, key, v, sizeof v) && strcmp(v, value) == 0)
			return true;
	}
	return false;
}

/* The latest outcome of ENDPOINT.demo.test:443 from REGION with PROFILE in
 * a /api/v1/targets answer ("" when there is none). */
static const char *api_outcome(json_t *targets, const char *endpoint, const char *region,
			       const char *profile)
{
	char id[128];
	size_t i, k;
	json_t *t, *l;
	snprintf(id, sizeof id, "%s.demo.test:443", endpoint);
	json_array_foreach(json_object_get(targets, "items"), i, t) {
		if (strcmp(json_string_value(json_object_get(t, "id")) ?: "", id) != 0)
			continue;
		json_array_foreach(json_object_get(t, "last"), k, l) {
			const char *r = json_string_value(json_object_get(l, "region"));
			const char *p = json_string_value(json_object_get(l, "profile"));
			const char *o = json_string_value(json_object_get(l, "outcome"));
			if (r && p && o && strcmp(r, region) == 0 && strcmp(p, profile) == 0)
				return o;
		}
	}
	return "";
}

/* The series that do not (yet) say what they should, listed in miss:
 * outcomes from the API, findings from /metrics. */
static int misclassified(json_t *targets, const char *metrics, struct strbuf *miss)
{
	int bad = 0;
	for (size_t i = 0; i < NEXPECTED; i++)
		for (int r = 0; r < NREGIONS; r++) {
			const struct expect *e = &expected[i];
			const char *got = api_outcome(targets, e->endpoint, regions[r], e->profile);
			bool ok = strcmp(got, e->outcome) == 0 &&
				  (!e->finding ||
				   has_series(metrics, "tlswatch_result_findings", e->endpoint,
					      regions[r], e->profile, "finding", e->finding));
			if (!ok) {
				bad++;
				strbuf_printf(miss, " %s/%s/%s(got %s, want %s%s%s)", e->endpoint,
					      regions[r], e->profile, *got ? got : "nothing", e->outcome,
					      e->finding ? "+" : "", e->finding ? e->finding : "");
			}
		}
	return bad;
}

/* Every defective endpoint is classified as expected from every region.
 * ap-south loses 1% of its connections: a lost one is the latest result for
 * a couple of seconds, so the test waits until one snapshot agrees. */
Test(demo, classified_as_expected_from_every_region)
{
	double end = twtime_mono_ms() + 60000;
	struct strbuf miss = { 0 };
	int bad = -1;
	while (twtime_mono_ms() < end) {
		char *m = NULL;
		long st = http_get("/metrics", &m);
		json_t *targets = api_json("/api/v1/targets?limit=100");
		strbuf_reset(&miss);
		bad = st == 200 && targets ? misclassified(targets, m, &miss) : -1;
		free(m);
		json_decref(targets);
		if (bad == 0)
			break;
		usleep(500 * 1000);
	}
	cr_assert_eq(bad, 0, "after 60 s, %d series of %zu are not as expected:%s", bad,
		     NEXPECTED * NREGIONS, miss.p ? miss.p : " (no /api/v1/targets or /metrics)");
	strbuf_free(&miss);
}

/* ---- latency ---- */

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

/* nearest-rank p95 */
static double p95(double *v, int n)
{
	qsort(v, (size_t)n, sizeof *v, cmp_double);
	int k = (int)ceil(0.95 * n) - 1;
	return v[k < 0 ? 0 : k];
}

#define SAMPLES 20

/* The handshake latency of www.demo.test (TLS 1.3 with modern: one round
 * trip) follows each region's configured one-way delay (5, 40, 150 ms):
 * p95 of the latest-result series sampled from /metrics, one sample per
 * new result. */
Test(demo, latency_follows_the_regions)
{
	double lat[NREGIONS][SAMPLES], last_ts[NREGIONS] = { 0 };
	int n[NREGIONS] = { 0 };
	double end = twtime_mono_ms() + 70000;
	while (twtime_mono_ms() < end && (n[0] < SAMPLES || n[1] < SAMPLES || n[2] < SAMPLES)) {
		char *m = NULL;
		if (http_get("/metrics", &m) == 200) {
			for (int r = 0; r < NREGIONS; r++) {
				double ts = 0, hs = -1;
				for (char *p = m; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
					char v[128], line[1024];
					size_t len = strcspn(p, "\n");
					if (len >= sizeof line)
						continue;
					memcpy(line, p, len);
					line[len] = '\0';
					bool ts_line = strncmp(line, "tlswatch_result_timestamp_seconds{", 34) == 0;
					bool hs_line = strncmp(line, "tlswatch_handshake_duration_seconds{", 36) == 0;
					if (!(ts_line || hs_line) || !label(line, "target", v, sizeof v) ||
					    strcmp(v, "www.demo.test:443") != 0 ||
					    !label(line, "region", v, sizeof v) || strcmp(v, regions[r]) != 0 ||
					    !label(line, "profile", v, sizeof v) || strcmp(v, "modern") != 0)
						continue;
					const char *val = strrchr(line, ' ');
					if (!val)
						continue;
					if (ts_line)
						ts = strtod(val + 1, NULL);
					else
						hs = strtod(val + 1, NULL) * 1000;
				}
				if (ts > last_ts[r] && hs >= 0 && n[r] < SAMPLES) {
					last_ts[r] = ts;
					lat[r][n[r]++] = hs;
				}
			}
		}
		free(m);
		usleep(500 * 1000);
	}
	for (int r = 0; r < NREGIONS; r++)
		cr_assert_eq(n[r], SAMPLES, "%s: %d handshake samples of www in 70 s, want %d",
			     regions[r], n[r], SAMPLES);
	double us = p95(lat[0], SAMPLES), eu = p95(lat[1], SAMPLES), ap = p95(lat[2], SAMPLES);
	cr_log_info("www handshake p95: us-east %.1f ms, eu-west %.1f ms, ap-south %.1f ms", us, eu, ap);
	/* one round trip is at least twice the one-way delay */
	cr_expect_geq(us, 10.0, "us-east p95 %.1f ms < 2 x 5 ms", us);
	cr_expect_geq(eu, 80.0, "eu-west p95 %.1f ms < 2 x 40 ms", eu);
	cr_expect_geq(ap, 300.0, "ap-south p95 %.1f ms < 2 x 150 ms", ap);
	/* and the regions are apart by most of the difference in their delays */
	cr_expect_gt(eu, us + 50, "eu-west p95 %.1f ms not above us-east %.1f ms + 50", eu, us);
	cr_expect_gt(ap, eu + 150, "ap-south p95 %.1f ms not above eu-west %.1f ms + 150", ap, eu);
}

/* The same through the API: the p95 of the SLI endpoint (from the rollups'
 * latency histogram) per region, www with the modern profile, 5 minutes. */
Test(demo, latency_p95_per_region_from_the_api)
{
	const char *path = "/api/v1/slis?window=5m&group_by=region&target=www.demo.test:443"
			   "&profile=modern";
	double p[NREGIONS] = { -1, -1, -1 };
	long long n[NREGIONS] = { 0 };
	double end = twtime_mono_ms() + 70000;
	for (;;) {
		json_t *j = api_json(path), *it;
		size_t i;
		json_array_foreach(json_object_get(j, "items"), i, it) {
			const char *g = json_string_value(json_object_get(it, "group"));
			for (int r = 0; g && r < NREGIONS; r++)
				if (strcmp(g, regions[r]) == 0) {
					n[r] = json_integer_value(json_object_get(it, "attempts"));
					p[r] = json_is_number(json_object_get(it, "p95_ms"))
						       ? json_number_value(json_object_get(it, "p95_ms"))
						       : -1;
				}
		}
		json_decref(j);
		if ((n[0] >= SAMPLES && n[1] >= SAMPLES && n[2] >= SAMPLES) || twtime_mono_ms() > end)
			break;
		usleep(1000 * 1000);
	}
	for (int r = 0; r < NREGIONS; r++)
		cr_assert_geq(n[r], SAMPLES, "%s: %lld attempts on www/modern in 70 s", regions[r], n[r]);
	cr_log_info("API p95: us-east %.1f ms, eu-west %.1f ms, ap-south %.1f ms", p[0], p[1], p[2]);
	cr_expect_geq(p[0], 10.0, "us-east p95 %.1f ms", p[0]);
	cr_expect_geq(p[1], 80.0, "eu-west p95 %.1f ms", p[1]);
	cr_expect_geq(p[2], 300.0, "ap-south p95 %.1f ms", p[2]);
	/* Under an emulated CPU (tests/vm, TW_VM_ACCEL=tcg) the handshake's own
	 * CPU time is the tail: seen us-east 125 / eu-west 146 ms in one run,
	 * us-east 869 / eu-west 684 / ap-south 938 ms in another. The floors
	 * above still hold (the emulation only adds); the regions' order is not
	 * observable in a p95 there, and the network's order is what
	 * tests/vm/netns_topology.sh measures in the same run (TCP connect
	 * medians). With a real CPU (make test's relays, a KVM guest) the
	 * regions are apart by most of the difference in their delays. */
	const char *accel = getenv("TW_VM_ACCEL");
	if (accel && strcmp(accel, "tcg") == 0)
		return;
	cr_expect_gt(p[1], p[0] + 50, "eu-west p95 %.1f ms not above us-east %.1f ms + 50", p[1],
		     p[0]);
	cr_expect_gt(p[2], p[1] + 150, "ap-south p95 %.1f ms not above eu-west %.1f ms + 150", p[2],
		     p[1]);
}

/* ---- alerts and the pager ---- */

/* The pager's log holds a signed, accepted delivery of TYPE for DEDUP_KEY. */
static bool paged(const char *type, const char *dedup_key)
{
	char *path = state("DEMO_PAGER_LOG");
	FILE *f = fopen(path, "r");
	free(path);
	if (!f)
		return false;
	char line[65536];
	bool found = false;
	while (!found && fgets(line, sizeof line, f)) {
		json_t *rec = json_loads(line, 0, NULL);
		if (!rec)
			continue;
		json_t *body = json_loads(json_string_value(json_object_get(rec, "body")) ?: "", 0, NULL);
		const char *t = json_string_value(json_object_get(body, "type"));
		const char *k = json_string_value(json_object_get(json_object_get(body, "data"), "dedup_key"));
		long long status = json_integer_value(json_object_get(rec, "status"));
		found = t && k && strcmp(t, type) == 0 && strcmp(k, dedup_key) == 0 &&
			json_is_true(json_object_get(rec, "sig")) && status >= 200 && status < 300;
		json_decref(body);
		json_decref(rec);
	}
	fclose(f);
	return found;
}

/* The newest alert of RULE on SUBJECT through /api/v1/alerts?state=all:
 * "STATE fired" or "STATE never-fired"; NULL when there is none. */
static char *api_alert(const char *rule, const char *subject)
{
	json_t *j = api_json("/api/v1/alerts?state=all&limit=1000"), *a;
	size_t i;
	char *out = NULL;
	long long best = -1;
	json_array_foreach(json_object_get(j, "items"), i, a) {
		const char *r = json_string_value(json_object_get(a, "rule"));
		const char *s = json_string_value(json_object_get(a, "subject"));
		long long id = json_integer_value(json_object_get(a, "id"));
		if (!r || !s || strcmp(r, rule) != 0 || strcmp(s, subject) != 0 || id < best)
			continue;
		char buf[64];
		best = id;
		free(out);
		snprintf(buf, sizeof buf, "%s %s", json_string_value(json_object_get(a, "state")) ?: "?",
			 json_is_string(json_object_get(a, "firing_since")) ? "fired" : "never-fired");
		out = strdup(buf);
	}
	json_decref(j);
	return out;
}

/* api goes down at 15 s and is back at 45 s: its SLO's page fires, both the
 * trigger and the resolve reach the pager (signed, accepted), and the alert
 * ends resolved. */
Test(demo, outage_pages_and_resolves)
{
	const char *key = "slo_burn_fast|api-availability|all";
	double end = twtime_mono_ms() + (demo_seconds() + 5) * 1000.0;
	bool trig = false, res = false;
	while (twtime_mono_ms() < end && !(trig && res)) {
		trig = trig || paged("alert.trigger", key);
		res = res || paged("alert.resolve", key);
		if (!(trig && res))
			usleep(500 * 1000);
	}
	cr_assert(trig, "no accepted alert.trigger for %s reached the pager", key);
	cr_assert(res, "no accepted alert.resolve for %s reached the pager", key);
	char *st = api_alert("slo_burn_fast", "api-availability");
	cr_assert_not_null(st, "no slo_burn_fast alert for api-availability in /api/v1/alerts");
	cr_expect_str_eq(st, "resolved fired");
	free(st);
}

/* While api is down (15 s to 45 s) every region and profile sees what a
 * real network shows for a server that stopped listening: connect_refused
 * (the relays pass a refusing backend on as a refused connection; the
 * first attempt of each region, accepted before the relay knew, may end
 * io_error). One /api/v1/targets snapshot must show all six at once. */
Test(demo, outage_is_connect_refused_from_every_region)
{
	double end = twtime_mono_ms() + (demo_seconds() + 5) * 1000.0;
	struct strbuf seen = { 0 };
	bool all = false;
	while (!all && twtime_mono_ms() < end) {
		json_t *targets = api_json("/api/v1/targets?limit=100");
		int n = 0;
		strbuf_reset(&seen);
		for (int r = 0; targets && r < NREGIONS; r++)
			for (int p = 0; p < 2; p++) {
				const char *prof = p ? "legacy" : "modern";
				const char *got = api_outcome(targets, "api", regions[r], prof);
				n += strcmp(got, "connect_refused") == 0;
				strbuf_printf(&seen, " %s/%s=%s", regions[r], prof, *got ? got : "nothing");
			}
		json_decref(targets);
		all = n == 2 * NREGIONS;
		if (!all)
			usleep(500 * 1000);
	}
	cr_assert(all, "api was never connect_refused from every region at once; last seen:%s",
		  seen.p ? seen.p : " (no /api/v1/targets)");
	strbuf_free(&seen);
}

/* /api/v1/targets/ENDPOINT.demo.test%3A443 (a static buffer) */
static const char *target_path(const char *endpoint)
{
	static char buf[256];
	snprintf(buf, sizeof buf, "/api/v1/targets/%s.demo.test%%3A443", endpoint);
	return buf;
}

/* The leaf fingerprint each region sees for ENDPOINT (its
 * /api/v1/targets/{target} answer), into fp[region]; the top-level drift
 * flag, or -1 when the target is not there. */
static int api_certs(const char *endpoint, char fp[NREGIONS][72], bool drift[NREGIONS])
{
	json_t *j = api_json(target_path(endpoint)), *c;
	size_t i;
	for (int r = 0; r < NREGIONS; r++) {
		fp[r][0] = '\0';
		drift[r] = false;
	}
	if (!j)
		return -1;
	json_array_foreach(json_object_get(j, "certificates"), i, c) {
		const char *g = json_string_value(json_object_get(c, "region"));
		const char *f = json_string_value(json_object_get(c, "fingerprint_sha256"));
		for (int r = 0; g && f && r < NREGIONS; r++)
			if (strcmp(g, regions[r]) == 0) {
				snprintf(fp[r], 72, "%s", f);
				drift[r] = json_is_true(json_object_get(c, "drift"));
			}
	}
	int d = json_is_true(json_object_get(j, "drift"));
	json_decref(j);
	return d;
}

/* ap-south is routed to the legacy shop backend at 10 s: the API flags
 * ap-south's shop certificate as drift (and the drift rule, which wants a
 * minute of it, fires); www's rotation at 30 s leaves every region on the
 * new certificate, and the inventory holds both. */
Test(demo, drift_and_rotation_show)
{
	double end = twtime_mono_ms() + (demo_seconds() + 5) * 1000.0;
	char shop[NREGIONS][72], www[NREGIONS][72];
	bool shop_d[NREGIONS], www_d[NREGIONS];
	int shop_drift = -1, www_drift = -1;
	size_t www_certs = 0;
	char *alert = NULL;
	bool done = false;
	while (!done && twtime_mono_ms() < end) {
		shop_drift = api_certs("shop", shop, shop_d);
		www_drift = api_certs("www", www, www_d);
		json_t *certs = api_json("/api/v1/certificates?service=www");
		www_certs = json_array_size(json_object_get(certs, "items"));
		json_decref(certs);
		free(alert);
		alert = api_alert("cert_fingerprint_drift", "shop.demo.test:443");
		done = shop_drift == 1 && shop_d[2] && !shop_d[0] && !shop_d[1] && www_drift == 0 &&
		       www[0][0] && strcmp(www[0], www[1]) == 0 && strcmp(www[1], www[2]) == 0 &&
		       www_certs == 2 && alert && strcmp(alert, "firing fired") == 0;
		if (!done)
			usleep(1000 * 1000);
	}
	cr_expect_eq(shop_drift, 1, "shop: no drift flagged");
	cr_expect(shop_d[2] && !shop_d[0] && !shop_d[1], "shop: drift should mark ap-south only");
	cr_expect_str_neq(shop[2], shop[0], "shop: ap-south serves what us-east serves");
	cr_expect_str_eq(shop[0], shop[1], "shop: us-east and eu-west differ");
	cr_expect_eq(www_drift, 0, "www: drift flagged after the rotation");
	cr_expect(www[0][0] && strcmp(www[0], www[1]) == 0 && strcmp(www[1], www[2]) == 0,
		  "www: regions see different certificates after the rotation");
	cr_expect_eq(www_certs, 2, "www: %zu certificates in the inventory, want 2 (before and after)",
		     www_certs);
	cr_expect_str_eq(alert ?: "none", "firing fired", "cert_fingerprint_drift for shop");
	free(alert);
}

/* ---- the end ---- */

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "r");
	struct strbuf b = { 0 };
	char buf[4096];
	size_t n;
	if (!f)
		return NULL;
	while ((n = fread(buf, 1, sizeof buf, f)) > 0)
		strbuf_put(&b, buf, n);
	fclose(f);
	strbuf_putc(&b, '\0');
	return strbuf_take(&b);
}

/* After DEMO_SECONDS the demo writes its report (when the build has the
 * report subcommand), prints the two-line summary, stops everything: the
 * collector's port no longer answers. */
Test(demo, stops_with_a_summary_and_a_report)
{
	const char *outp = getenv("TW_DEMO_OUT");
	cr_assert_not_null(outp);
	double end = twtime_mono_ms() + (demo_seconds() + 60) * 1000.0;
	char *out = NULL;
	for (;;) {
		free(out);
		out = slurp(outp);
		if ((out && strstr(out, "demo: stopped after")) || twtime_mono_ms() > end)
			break;
		usleep(500 * 1000);
	}
	cr_assert(out && strstr(out, "demo: stopped after"), "the demo did not stop:\n%s", out ?: "");
	cr_expect(strstr(out, "dashboard   http://127.0.0.1:") != NULL, "no dashboard URL printed");
	cr_expect(strstr(out, "curl -s http://127.0.0.1:") != NULL, "no API call printed");
	cr_expect(strstr(out, "demo: ") && strstr(out, "s of probing: "), "no summary line");
	cr_expect(strstr(out, "Running for") != NULL);
	/* the network mode is said; DEMO_NET=netns (the VM run) must get it */
	const char *net = getenv("DEMO_NET");
	if (net && strcmp(net, "netns") == 0)
		cr_expect(strstr(out, "network   namespaces + netem: us-east 5 ms") != NULL,
			  "DEMO_NET=netns, but the demo does not say it uses namespaces + netem");
	else if (net && strcmp(net, "relay") == 0)
		cr_expect(strstr(out, "network   one relay per region") != NULL,
			  "DEMO_NET=relay, but the demo does not say it uses the relays");
	else
		cr_expect(strstr(out, "network   one relay per region") ||
				  strstr(out, "network   namespaces + netem: "),
			  "the network mode is not said");
	if (net && strcmp(net, "netns") == 0)
		cr_expect(strstr(out, "demo: removed its network: ") != NULL,
			  "the demo did not say it removed its namespaces");
	cr_expect(strstr(out, "make: ***") == NULL);
	/* a report, or the demo says this build has none */
	if (!strstr(out, "reports: not available in this build")) {
		char *dir = state("DEMO_REPORT_DIR");
		char cmd[1200];
		snprintf(cmd, sizeof cmd, "test -n \"$(find '%s' -type f -size +0 2>/dev/null)\"", dir);
		cr_expect_eq(system(cmd), 0, "no report file in %s", dir);
		cr_expect(strstr(out, "report: ") != NULL, "no report path printed");
		free(dir);
	}
	free(out);
	char *body = NULL;
	cr_expect_eq(http_get("/healthz", &body), 0, "the collector still answers after the demo stopped");
	free(body);
}
