/*
 * test_notify_sinks.c - notify_sinks.c (request bodies per sink, the
 * Standard Webhooks signer, the retry policy) and notify_config.c
 * (notify.yaml: the example file, routing, errors at file:line:column,
 * secrets kept out of error messages).
 *
 * Run from the repository root (tests/run.sh does);
 * deploy/notify.example.yaml is found relative to it, or under $TW_SRC.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <jansson.h>

#include "notify_config.h"
#include "notify_sinks.h"

TestSuite(notify_sinks);

/* ------------------------------------------------------------ Standard Webhooks */

/* The specification's published test vector, as in the reference libraries'
 * tests (standard-webhooks/standard-webhooks, libraries/python/tests/
 * test_webhooks.py, test_sign_function): verified there, and here against
 * Python's hmac module while writing this test. */
Test(notify_sinks, signer_reproduces_the_standard_webhooks_test_vector)
{
	unsigned char *key = NULL;
	size_t keylen = 0;
	char sig[128];
	const char *body = "{\"test\": 2432232314}";
	cr_assert_eq(notify_config_whsec_decode("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", &key, &keylen), 0);
	cr_assert_eq(keylen, 24u);
	cr_assert_eq(notify_sink_webhook_sign(key, keylen, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330,
				       body, strlen(body), sig, sizeof sig), 0);
	cr_assert_str_eq(sig, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
	/* a different timestamp, id or body gives a different signature */
	char sig2[128];
	cr_assert_eq(notify_sink_webhook_sign(key, keylen, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265331,
				       body, strlen(body), sig2, sizeof sig2), 0);
	cr_assert_str_neq(sig, sig2);
	free(key);
}

Test(notify_sinks, whsec_decoding)
{
	unsigned char *k1 = NULL, *k2 = NULL, *k3 = NULL;
	size_t l1, l2, l3;
	/* the prefix is optional, as in the reference implementation */
	cr_assert_eq(notify_config_whsec_decode("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", &k1, &l1), 0);
	cr_assert_eq(notify_config_whsec_decode("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", &k2, &l2), 0);
	cr_assert_eq(l1, l2);
	cr_assert(memcmp(k1, k2, l1) == 0);
	/* padding: "YWJjZA==" is "abcd"; unpadded input is accepted */
	cr_assert_eq(notify_config_whsec_decode("whsec_YWJjZA==", &k3, &l3), 0);
	cr_assert_eq(l3, 4u);
	cr_assert(memcmp(k3, "abcd", 4) == 0);
	free(k3);
	cr_assert_eq(notify_config_whsec_decode("whsec_YWJjZA", &k3, &l3), 0);
	cr_assert_eq(l3, 4u);
	free(k1);
	free(k2);
	free(k3);
	unsigned char *k = NULL;
	size_t l;
	cr_assert_eq(notify_config_whsec_decode("whsec_", &k, &l), -1);
	cr_assert_eq(notify_config_whsec_decode("whsec_not base64!", &k, &l), -1);
	cr_assert_eq(notify_config_whsec_decode("whsec_YW=Jj", &k, &l), -1);
	cr_assert_null(k);
}

/* ------------------------------------------------------------ policy */

Test(notify_sinks, status_classes)
{
	long delivered[] = { 200, 201, 202, 204, 299 };
	long retry[] = { 0, 429, 500, 502, 503, 504, 599 };
	long failed[] = { 301, 302, 400, 401, 403, 404, 408, 409, 410, 413, 422, 600 };
	for (size_t i = 0; i < sizeof delivered / sizeof *delivered; i++)
		cr_assert_eq(notify_sink_classify(delivered[i]), SINK_DELIVERED, "%ld", delivered[i]);
	for (size_t i = 0; i < sizeof retry / sizeof *retry; i++)
		cr_assert_eq(notify_sink_classify(retry[i]), SINK_RETRY, "%ld", retry[i]);
	for (size_t i = 0; i < sizeof failed / sizeof *failed; i++)
		cr_assert_eq(notify_sink_classify(failed[i]), SINK_FAILED, "%ld", failed[i]);
}

Test(notify_sinks, retry_after_seconds_and_http_dates)
{
	int64_t ms = -1;
	int64_t now = 1614265330000ll; /* Thu, 25 Feb 2021 15:02:10 GMT */
	cr_assert_eq(notify_sink_retry_after_ms(" 2", now, &ms), 0);
	cr_assert_eq(ms, 2000);
	cr_assert_eq(notify_sink_retry_after_ms("0\r\n", now, &ms), 0);
	cr_assert_eq(ms, 0);
	cr_assert_eq(notify_sink_retry_after_ms("Thu, 25 Feb 2021 15:02:40 GMT\r\n", now, &ms), 0);
	cr_assert_eq(ms, 30000);
	/* obsolete forms RFC 9110 says recipients must accept */
	cr_assert_eq(notify_sink_retry_after_ms("Thursday, 25-Feb-21 15:02:40 GMT", now, &ms), 0);
	cr_assert_eq(ms, 30000);
	cr_assert_eq(notify_sink_retry_after_ms("Thu Feb 25 15:02:40 2021", now, &ms), 0);
	cr_assert_eq(ms, 30000);
	/* in the past: no wait */
	cr_assert_eq(notify_sink_retry_after_ms("Thu, 25 Feb 2021 15:00:00 GMT", now, &ms), 0);
	cr_assert_eq(ms, 0);
	cr_assert_eq(notify_sink_retry_after_ms("soon", now, &ms), -1);
	cr_assert_eq(notify_sink_retry_after_ms("-5", now, &ms), -1);
	cr_assert_eq(notify_sink_retry_after_ms("2.5", now, &ms), -1);
	cr_assert_eq(notify_sink_retry_after_ms("", now, &ms), -1);
}

Test(notify_sinks, exponential_backoff_with_cap_and_jitter)
{
	cr_assert_eq(notify_sink_backoff_ms(1, 1000, 300000, 0, 0.5), 1000);
	cr_assert_eq(notify_sink_backoff_ms(2, 1000, 300000, 0, 0.5), 2000);
	cr_assert_eq(notify_sink_backoff_ms(3, 1000, 300000, 0, 0.5), 4000);
	cr_assert_eq(notify_sink_backoff_ms(9, 1000, 300000, 0, 0.5), 256000);
	cr_assert_eq(notify_sink_backoff_ms(10, 1000, 300000, 0, 0.5), 300000);
	cr_assert_eq(notify_sink_backoff_ms(4000000000u, 1000, 300000, 0, 0.5), 300000);
	/* jitter 0.2: between 80% and 100% of the delay */
	cr_assert_eq(notify_sink_backoff_ms(3, 1000, 300000, 0.2, 0.0), 4000);
	cr_assert_eq(notify_sink_backoff_ms(3, 1000, 300000, 0.2, 0.5), 3600);
	int64_t d = notify_sink_backoff_ms(3, 1000, 300000, 0.2, 0.999999);
	cr_assert(d >= 3200 && d <= 3201, "%lld", (long long)d);
}

/* ------------------------------------------------------------ bodies */

static const char *PAYLOAD =
	"{\"rule\":\"slo_burn_fast\",\"severity\":\"page\",\"state\":\"firing\","
	"\"summary\":\"checkout <eu> burning 16x & more\",\"subject\":\"checkout-availability\","
	"\"service\":\"checkout\",\"region_group\":\"eu\","
	"\"labels\":{\"team\":\"sre\",\"tier\":1,\"bad-key\":\"x\",\"drop\":null},"
	"\"annotations\":{\"runbook\":\"https://runbooks.example/burn\"},"
	"\"details\":{\"burn_1h\":16.2,\"burn_5m\":20.5},"
	"\"starts_at\":\"2026-01-02T03:04:05.000Z\",\"ends_at\":null,"
	"\"generator_url\":\"http://tlswatch.example/alerts/7\","
	"\"dedup_key\":\"slo_burn_fast/checkout-availability/eu\"}";

static struct notify_sink_cfg sink_of(enum sink_type t)
{
	struct notify_sink_cfg s;
	memset(&s, 0, sizeof s);
	s.name = (char *)"s1";
	s.type = t;
	s.url = (char *)"http://127.0.0.1:1/x";
	s.host = (char *)"127.0.0.1:1";
	s.routing_key = (char *)"R0UTINGKEY0123456789";
	s.timeout_ms = 1000;
	s.hold_ms = 3600 * 1000;
	return s;
}

static json_t *build(const struct notify_sink_cfg *s, const char *action, const char *payload,
		     int64_t now, struct sink_msg *m)
{
	char err[256] = "";
	cr_assert_eq(notify_sink_build(s, action, payload, "tw-7-s1", now, m, err, sizeof err), 0, "%s", err);
	json_error_t je;
	json_t *j = json_loads(m->body, 0, &je);
	cr_assert_not_null(j, "body is not JSON: %s", je.text);
	cr_assert_eq(strlen(m->body), m->body_len);
	return j;
}

static const char *sget(json_t *o, const char *path)
{
	/* "a.b.c" through objects */
	char buf[256];
	snprintf(buf, sizeof buf, "%s", path);
	json_t *cur = o;
	for (char *save = NULL, *tok = strtok_r(buf, ".", &save); tok; tok = strtok_r(NULL, ".", &save))
		cur = json_object_get(cur, tok);
	return json_string_value(cur);
}

static const char *header(const struct sink_msg *m, const char *name)
{
	size_t n = strlen(name);
	for (size_t i = 0; i < m->nheaders; i++)
		if (strncasecmp(m->headers[i], name, n) == 0 && m->headers[i][n] == ':')
			return m->headers[i] + n + 2;
	return NULL;
}

Test(notify_sinks, pagerduty_trigger_and_resolve)
{
	struct notify_sink_cfg s = sink_of(SINK_PAGERDUTY);
	struct sink_msg m;
	json_t *j = build(&s, "trigger", PAYLOAD, 1767323045000ll, &m);
	cr_assert_str_eq(sget(j, "routing_key"), "R0UTINGKEY0123456789");
	cr_assert_str_eq(sget(j, "event_action"), "trigger");
	cr_assert_str_eq(sget(j, "dedup_key"), "slo_burn_fast/checkout-availability/eu");
	cr_assert_str_eq(sget(j, "payload.summary"), "checkout <eu> burning 16x & more");
	cr_assert_str_eq(sget(j, "payload.source"), "checkout-availability");
	cr_assert_str_eq(sget(j, "payload.severity"), "critical");
	cr_assert_str_eq(sget(j, "payload.component"), "checkout");
	cr_assert_str_eq(sget(j, "payload.group"), "eu");
	cr_assert_str_eq(sget(j, "payload.class"), "slo_burn_fast");
	cr_assert_str_eq(sget(j, "payload.timestamp"), "2026-01-02T03:04:05.000Z");
	cr_assert_str_eq(sget(j, "payload.custom_details.labels.team"), "sre");
	cr_assert_eq(json_real_value(json_object_get(json_object_get(json_object_get(
		json_object_get(j, "payload"), "custom_details"), "details"), "burn_1h")), 16.2);
	cr_assert_str_eq(sget(j, "client_url"), "http://tlswatch.example/alerts/7");
	cr_assert_str_eq(m.url, s.url);
	json_decref(j);
	notify_sink_msg_free(&m);

	/* ticket -> warning */
	char *tp = strdup(PAYLOAD);
	memcpy(strstr(tp, "\"page\""), "\"tick\"", 6);
	j = build(&s, "trigger", tp, 0, &m);
	cr_assert_str_eq(sget(j, "payload.severity"), "info"); /* "tick": neither page nor ticket */
	json_decref(j);
	notify_sink_msg_free(&m);
	free(tp);
	j = build(&s, "trigger", "{\"severity\":\"ticket\",\"summary\":\"s\"}", 0, &m);
	cr_assert_str_eq(sget(j, "payload.severity"), "warning");
	cr_assert_str_eq(sget(j, "payload.source"), "tlswatch");
	json_decref(j);
	notify_sink_msg_free(&m);

	j = build(&s, "resolve", PAYLOAD, 0, &m);
	cr_assert_str_eq(sget(j, "event_action"), "resolve");
	cr_assert_str_eq(sget(j, "dedup_key"), "slo_burn_fast/checkout-availability/eu");
	cr_assert_null(json_object_get(j, "payload"));
	json_decref(j);
	notify_sink_msg_free(&m);

	/* a dedup key beyond PagerDuty's 255 characters becomes its hash */
	char longp[1024];
	char key[400];
	memset(key, 'k', 300);
	key[300] = '\0';
	snprintf(longp, sizeof longp, "{\"dedup_key\":\"%s\"}", key);
	j = build(&s, "resolve", longp, 0, &m);
	cr_assert_eq(strncmp(sget(j, "dedup_key"), "sha256:", 7), 0);
	cr_assert_eq(strlen(sget(j, "dedup_key")), 7u + 64u);
	json_decref(j);
	notify_sink_msg_free(&m);
}

Test(notify_sinks, alertmanager_trigger_and_resolve)
{
	struct notify_sink_cfg s = sink_of(SINK_ALERTMANAGER);
	struct sink_msg m;
	int64_t now = 1767323045000ll; /* 2026-01-02T03:04:05Z */
	json_t *arr = build(&s, "trigger", PAYLOAD, now, &m);
	cr_assert(json_is_array(arr) && json_array_size(arr) == 1);
	json_t *a = json_array_get(arr, 0);
	cr_assert_str_eq(sget(a, "labels.alertname"), "slo_burn_fast");
	cr_assert_str_eq(sget(a, "labels.severity"), "page");
	cr_assert_str_eq(sget(a, "labels.service"), "checkout");
	cr_assert_str_eq(sget(a, "labels.region"), "eu");
	cr_assert_str_eq(sget(a, "labels.subject"), "checkout-availability");
	cr_assert_str_eq(sget(a, "labels.dedup_key"), "slo_burn_fast/checkout-availability/eu");
	cr_assert_str_eq(sget(a, "labels.team"), "sre");
	cr_assert_str_eq(sget(a, "labels.tier"), "1");          /* numbers become text */
	cr_assert_str_eq(sget(a, "labels.bad_key"), "x");       /* a valid label name */
	cr_assert_null(json_object_get(json_object_get(a, "labels"), "drop"));
	cr_assert_str_eq(sget(a, "annotations.summary"), "checkout <eu> burning 16x & more");
	cr_assert_str_eq(sget(a, "annotations.runbook"), "https://runbooks.example/burn");
	cr_assert_str_eq(sget(a, "startsAt"), "2026-01-02T03:04:05.000Z");
	cr_assert_str_eq(sget(a, "endsAt"), "2026-01-02T04:04:05.000Z"); /* now + hold (1h) */
	cr_assert_str_eq(sget(a, "generatorURL"), "http://tlswatch.example/alerts/7");
	json_decref(arr);
	notify_sink_msg_free(&m);

	/* resolve: endsAt is the resolve time, the labels (identity) the same */
	char *rp = strdup(PAYLOAD);
	char *e = strstr(rp, "\"ends_at\":null");
	cr_assert_not_null(e);
	char res[2048];
	snprintf(res, sizeof res, "%.*s\"ends_at\":\"2026-01-02T03:30:00.000Z\"%s", (int)(e - rp), rp,
		 e + strlen("\"ends_at\":null"));
	arr = build(&s, "resolve", res, now, &m);
	a = json_array_get(arr, 0);
	cr_assert_str_eq(sget(a, "endsAt"), "2026-01-02T03:30:00.000Z");
	cr_assert_str_eq(sget(a, "labels.dedup_key"), "slo_burn_fast/checkout-availability/eu");
	json_decref(arr);
	notify_sink_msg_free(&m);
	/* a target's own labels named like the alert's identity labels are kept,
	 * as target_NAME; the identity keeps its value */
	char clash[2048];
	const char *lab = strstr(PAYLOAD, "\"labels\":{");
	cr_assert_not_null(lab);
	snprintf(clash, sizeof clash, "%.*s\"labels\":{\"region\":\"emea-lb\",\"severity\":\"low\","
		 "\"alertname\":\"mine\",%s", (int)(lab - PAYLOAD), PAYLOAD, lab + strlen("\"labels\":{"));
	arr = build(&s, "trigger", clash, now, &m);
	a = json_array_get(arr, 0);
	cr_assert_str_eq(sget(a, "labels.region"), "eu");
	cr_assert_str_eq(sget(a, "labels.severity"), "page");
	cr_assert_str_eq(sget(a, "labels.alertname"), "slo_burn_fast");
	cr_assert_str_eq(sget(a, "labels.target_region"), "emea-lb");
	cr_assert_str_eq(sget(a, "labels.target_severity"), "low");
	cr_assert_str_eq(sget(a, "labels.target_alertname"), "mine");
	cr_assert_str_eq(sget(a, "labels.team"), "sre");
	json_decref(arr);
	notify_sink_msg_free(&m);
	/* no ends_at in the payload: now */
	arr = build(&s, "resolve", PAYLOAD, now, &m);
	cr_assert_str_eq(sget(json_array_get(arr, 0), "endsAt"), "2026-01-02T03:04:05.000Z");
	json_decref(arr);
	notify_sink_msg_free(&m);
	free(rp);
}

Test(notify_sinks, slack_message)
{
	struct notify_sink_cfg s = sink_of(SINK_SLACK);
	struct sink_msg m;
	json_t *j = build(&s, "trigger", PAYLOAD, 0, &m);
	const char *text = sget(j, "text");
	cr_assert_not_null(text);
	cr_assert(strstr(text, "[FIRING]") && strstr(text, "page") && strstr(text, "slo_burn_fast"),
		  "%s", text);
	/* mrkdwn control characters escaped */
	cr_assert(strstr(text, "checkout &lt;eu&gt; burning 16x &amp; more"), "%s", text);
	json_t *blocks = json_object_get(j, "blocks");
	cr_assert(json_is_array(blocks) && json_array_size(blocks) == 2);
	cr_assert_str_eq(sget(json_array_get(blocks, 0), "type"), "section");
	cr_assert(strstr(sget(json_array_get(blocks, 0), "text.text"), "[FIRING]"));
	const char *ctx = json_string_value(json_object_get(
		json_array_get(json_object_get(json_array_get(blocks, 1), "elements"), 0), "text"));
	cr_assert(strstr(ctx, "service: checkout") && strstr(ctx, "region: eu"), "%s", ctx);
	json_decref(j);
	notify_sink_msg_free(&m);
	j = build(&s, "resolve", PAYLOAD, 0, &m);
	cr_assert(strstr(sget(j, "text"), "[RESOLVED]"));
	json_decref(j);
	notify_sink_msg_free(&m);
}

Test(notify_sinks, webhook_is_signed_per_standard_webhooks)
{
	struct notify_sink_cfg s = sink_of(SINK_WEBHOOK);
	cr_assert_eq(notify_config_whsec_decode("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", &s.secret,
				       &s.secret_len), 0);
	struct notify_header h = { (char *)"X-Team", (char *)"sre" };
	s.headers = &h;
	s.nheaders = 1;
	struct sink_msg m;
	json_t *j = build(&s, "trigger", PAYLOAD, 1614265330123ll, &m);
	cr_assert_str_eq(sget(j, "type"), "alert.trigger");
	cr_assert_str_eq(sget(j, "timestamp"), "2021-02-25T15:02:10.123Z");
	cr_assert_str_eq(sget(j, "data.action"), "trigger");
	cr_assert_str_eq(sget(j, "data.rule"), "slo_burn_fast");
	cr_assert_str_eq(header(&m, "webhook-id"), "tw-7-s1");
	cr_assert_str_eq(header(&m, "webhook-timestamp"), "1614265330");
	cr_assert_str_eq(header(&m, "X-Team"), "sre");
	char sig[128];
	cr_assert_eq(notify_sink_webhook_sign(s.secret, s.secret_len, "tw-7-s1", 1614265330, m.body,
				       m.body_len, sig, sizeof sig), 0);
	cr_assert_str_eq(header(&m, "webhook-signature"), sig);
	cr_assert_eq(strncmp(sig, "v1,", 3), 0);
	json_decref(j);
	notify_sink_msg_free(&m);
	j = build(&s, "resolve", PAYLOAD, 0, &m);
	cr_assert_str_eq(sget(j, "type"), "alert.resolve");
	json_decref(j);
	notify_sink_msg_free(&m);
	free(s.secret);
}

Test(notify_sinks, bad_payloads_are_refused)
{
	struct notify_sink_cfg s = sink_of(SINK_SLACK);
	struct sink_msg m;
	char err[256];
	cr_assert_eq(notify_sink_build(&s, "trigger", "not json", "k", 0, &m, err, sizeof err), -1);
	cr_assert(strstr(err, "not a JSON object"), "%s", err);
	cr_assert_eq(notify_sink_build(&s, "trigger", "[1]", "k", 0, &m, err, sizeof err), -1);
	cr_assert_eq(notify_sink_build(&s, "explode", "{}", "k", 0, &m, err, sizeof err), -1);
	/* an empty object still makes a message */
	cr_assert_eq(notify_sink_build(&s, "trigger", "{}", "k", 0, &m, err, sizeof err), 0, "%s", err);
	notify_sink_msg_free(&m);
}

/* ------------------------------------------------------------ notify.yaml */

static char g_path[64];

static const char *write_tmp(const char *text)
{
	snprintf(g_path, sizeof g_path, "/tmp/tw_notifycfg_XXXXXX");
	int fd = mkstemp(g_path);
	cr_assert_geq(fd, 0, "mkstemp: %s", strerror(errno));
	size_t len = strlen(text);
	cr_assert_eq(write(fd, text, len), (ssize_t)len);
	close(fd);
	return g_path;
}

static struct notify_config *load_ok(const char *text)
{
	char err[1024] = "";
	const char *p = write_tmp(text);
	struct notify_config *cfg = notify_config_load(p, err, sizeof err);
	unlink(p);
	cr_assert_not_null(cfg, "unexpected error: %s", err);
	return cfg;
}

/* Expects an error starting "PATH:line:col: " and containing `phrase`;
 * returns the message (static). */
static const char *load_err(const char *text, unsigned line, unsigned col, const char *phrase)
{
	static char err[1024];
	char prefix[128];
	err[0] = '\0';
	const char *p = write_tmp(text);
	struct notify_config *cfg = notify_config_load(p, err, sizeof err);
	unlink(p);
	cr_assert_null(cfg, "loaded, expected an error with \"%s\"", phrase);
	snprintf(prefix, sizeof prefix, "%s:%u:%u: ", p, line, col);
	cr_assert(strncmp(err, prefix, strlen(prefix)) == 0, "error \"%s\" lacks prefix \"%s\"",
		  err, prefix);
	cr_assert(strstr(err, phrase) != NULL, "error \"%s\" lacks \"%s\"", err, phrase);
	return err;
}

Test(notify_sinks, example_file_loads)
{
	char path[512], err[1024] = "";
	const char *src = getenv("TW_SRC");
	snprintf(path, sizeof path, "%s/deploy/notify.example.yaml", src ? src : ".");
	setenv("TW_PAGERDUTY_ROUTING_KEY", "pd-secret-0123", 1);
	setenv("TW_SLACK_WEBHOOK_URL", "https://hooks.slack.com/services/T0/B0/SLACKSECRET", 1);
	setenv("TW_WEBHOOK_SECRET", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", 1);
	struct notify_config *c = notify_config_load(path, err, sizeof err);
	cr_assert_not_null(c, "%s", err);
	cr_assert_eq(c->nsinks, 4u);
	cr_assert_eq(c->sinks[0].type, SINK_PAGERDUTY);
	cr_assert_str_eq(c->sinks[0].url, "https://events.pagerduty.com/v2/enqueue");
	cr_assert_str_eq(c->sinks[0].host, "events.pagerduty.com");
	cr_assert_str_eq(c->sinks[0].routing_key, "pd-secret-0123");
	cr_assert_str_eq(c->sinks[1].url, "http://127.0.0.1:9093/api/v2/alerts");
	cr_assert_str_eq(c->sinks[1].host, "127.0.0.1:9093");
	cr_assert_eq(c->sinks[1].hold_ms, 90ll * 86400 * 1000);
	cr_assert_str_eq(c->sinks[2].host, "hooks.slack.com");
	cr_assert_eq(c->sinks[3].secret_len, 24u);
	cr_assert_eq(c->sinks[3].nheaders, 1u);
	cr_assert_eq(c->nroutes, 3u);
	cr_assert_eq(c->retry_initial_ms, 1000u);
	cr_assert_eq(c->retry_max_ms, 300000u);
	cr_assert_eq(c->max_age_ms, 86400ll * 1000);
	cr_assert_eq(c->lease_ms, 2u * 10000 + 30000);
	cr_assert_eq(notify_config_check(path, err, sizeof err), 0, "%s", err);

	/* routing: a page goes to pagerduty + alertmanager (continue), then slack
	 * for team=sre (continue), then the catch-all: alertmanager again (once) + hook */
	size_t out[8];
	const char *lk[] = { "team" }, *lv[] = { "sre" };
	size_t n = notify_route_match(c, "page", "slo_burn_fast", "checkout", "eu", lk, lv, 1, out, 8);
	cr_assert_eq(n, 4u);
	cr_assert_eq(out[0], 0u);
	cr_assert_eq(out[1], 1u);
	cr_assert_eq(out[2], 2u);
	cr_assert_eq(out[3], 3u);
	/* a ticket without the label: only the catch-all */
	n = notify_route_match(c, "ticket", "cert_expiry_30d", NULL, "all", NULL, NULL, 0, out, 8);
	cr_assert_eq(n, 2u);
	cr_assert_eq(out[0], 1u);
	cr_assert_eq(out[1], 3u);
	notify_config_free(c);
}

#define SINKS_OK \
	"sinks:\n"                                         /* 1 */ \
	"  - name: hook\n"                                 /* 2 */ \
	"    type: webhook\n"                              /* 3 */ \
	"    url: http://127.0.0.1:8080/in\n"              /* 4 */ \
	"    secret: whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\n" /* 5 */ \
	"  - name: am\n"                                   /* 6 */ \
	"    type: alertmanager\n"                         /* 7 */ \
	"    url: http://127.0.0.1:9093/\n"                /* 8 */

Test(notify_sinks, routes_first_match_wins)
{
	struct notify_config *c = load_ok(SINKS_OK
		"routes:\n"
		"  - match: {rule: [cert_expiry_24h, cert_expiry_7d], region: eu}\n"
		"    sinks: hook\n"
		"  - match: {service: checkout, labels: {team: sre}}\n"
		"    sinks: [am, hook]\n"
		"retry: {initial: 100ms, max: 2s, max_attempts: 5, max_age: 1h, jitter: 0}\n"
		"delivery: {poll_interval: 50ms, batch: 7, max_in_flight: 3, lease: 40s}\n");
	size_t out[4];
	const char *lk[] = { "team", "x" }, *lv[] = { "sre", "y" };
	cr_assert_eq(notify_route_match(c, "page", "cert_expiry_24h", "checkout", "eu", lk, lv, 2,
					out, 4), 1u);
	cr_assert_eq(out[0], 0u);
	cr_assert_eq(notify_route_match(c, "page", "cert_expiry_24h", "checkout", "us", lk, lv, 2,
					out, 4), 2u);
	cr_assert_eq(out[0], 1u);
	cr_assert_eq(out[1], 0u);
	cr_assert_eq(notify_route_match(c, "page", "x", "checkout", "us", lk, lv, 1, out, 4), 2u);
	cr_assert_eq(notify_route_match(c, "page", "x", "checkout", "us", NULL, NULL, 0, out, 4), 0u);
	cr_assert_eq(notify_route_match(c, "page", "x", NULL, NULL, lk, lv, 2, out, 4), 0u);
	cr_assert_str_eq(c->sinks[1].url, "http://127.0.0.1:9093/api/v2/alerts");
	cr_assert_eq(c->retry_initial_ms, 100u);
	cr_assert_eq(c->max_attempts, 5u);
	cr_assert_eq(c->jitter, 0.0);
	cr_assert_eq(c->poll_interval_ms, 50u);
	cr_assert_eq(c->batch, 7u);
	cr_assert_eq(c->max_in_flight, 3u);
	cr_assert_eq(c->lease_ms, 40000u);
	notify_config_free(c);

	/* no routes: every alert to every sink */
	c = load_ok(SINKS_OK);
	cr_assert_eq(notify_route_match(c, "ticket", NULL, NULL, NULL, NULL, NULL, 0, out, 4), 2u);
	notify_config_free(c);
}

Test(notify_sinks, errors_name_file_line_column)
{
	load_err("sinks: []\n", 1, 8, "expected 1-256 sinks");
	load_err("sink:\n  - name: x\n", 1, 1, "unknown key \"sink\"");
	load_err("sinks:\n  - name: x\n    type: sms\n    url: http://h/\n", 3, 11,
		 "expected pagerduty, alertmanager, slack or webhook, got \"sms\"");
	load_err("sinks:\n  - name: 'a b'\n    type: slack\n    url: http://h/\n", 2, 11,
		 "sinks[0].name: expected 1-64 characters");
	load_err("sinks:\n  - name: s\n    type: slack\n", 2, 5, "missing required key \"url\"");
	load_err("sinks:\n  - name: s\n    type: slack\n    url: ftp://h/x\n", 4, 10,
		 "sinks[0].url: expected an http:// or https:// URL");
	load_err("sinks:\n  - name: s\n    type: slack\n    url: http://h/\n    tmeout: 5s\n", 5, 5,
		 "unknown key \"tmeout\"");
	load_err("sinks:\n  - name: s\n    type: slack\n    url: http://h/\n    timeout: 5 s\n", 5, 14,
		 "expected a duration");
	load_err(SINKS_OK "  - name: hook\n    type: slack\n    url: http://h/\n", 9, 11,
		 "duplicate sink name \"hook\"");
	load_err(SINKS_OK "routes:\n  - sinks: [am, nope]\n", 10, 17, "routes[0].sinks[1]: no sink "
		 "named \"nope\"");
	load_err(SINKS_OK "routes:\n  - match: {severity: [page, urgent]}\n    sinks: am\n", 10, 30,
		 "expected page or ticket");
	load_err(SINKS_OK "routes:\n  - match: {sevrity: page}\n    sinks: am\n", 10, 13,
		 "unknown key \"sevrity\"");
	load_err(SINKS_OK "retry:\n  initial: 10s\n  max: 1s\n", 11, 8,
		 "must not be shorter than retry.initial");
	load_err(SINKS_OK "retry:\n  jitter: 1.5\n", 10, 11, "expected a fraction between 0 and 1");
	load_err(SINKS_OK "delivery:\n  lease: 5s\n", 10, 10, "must exceed the longest sink timeout");
	load_err(SINKS_OK "delivery:\n  batch: 0\n", 10, 10, "expected an integer 1-10000");
	load_err("sinks:\n  - name: pd\n    type: pagerduty\n", 2, 5,
		 "needs \"routing_key\" or \"routing_key_env\"");
	load_err("sinks:\n  - name: s\n    type: slack\n    url: http://h/\n    routing_key: k\n", 5, 18,
		 "routing_key is for pagerduty sinks only");
	load_err("sinks:\n  - name: s\n    type: slack\n    url: http://h/\n    hold: 1d\n", 5, 11,
		 "hold is for alertmanager sinks only");
	load_err("sinks:\n  - name: s\n    type: webhook\n    url: http://h/\n", 2, 5,
		 "needs \"secret\" or \"secret_env\"");
	load_err("sinks:\n  - name: s\n    type: slack\n    url: http://h/\n    headers: {Host: x}\n",
		 5, 15, "header Host is set by the notifier");
	load_err("sinks:\n  - name: s\n    type: slack\n    url: http://h/\n  - &a {}\n", 5, 5,
		 "missing required key \"name\"");
	load_err("sinks:\n  - name: s\n   type: slack\n", 3, 4, "YAML syntax error");
	load_err("", 1, 1, "empty file");
}

Test(notify_sinks, secrets_stay_out_of_error_messages)
{
	const char *e;
	unsetenv("TW_TEST_UNSET_VAR");
	e = load_err("sinks:\n  - name: pd\n    type: pagerduty\n    routing_key_env: TW_TEST_UNSET_VAR\n",
		     4, 22, "environment variable TW_TEST_UNSET_VAR is not set or empty");
	(void)e;
	/* a malformed secret: the message says so without showing it */
	e = load_err("sinks:\n  - name: s\n    type: webhook\n    url: http://h/\n"
		     "    secret: whsec_TOPSECRET!!value\n", 5, 13, "expected \"whsec_\"");
	cr_assert_null(strstr(e, "TOPSECRET"), "%s", e);
	/* a secret without the prefix */
	e = load_err("sinks:\n  - name: s\n    type: webhook\n    url: http://h/\n"
		     "    secret: MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\n", 5, 13, "expected \"whsec_\"");
	cr_assert_null(strstr(e, "MfKQ9r8G"), "%s", e);
	/* too short a key */
	load_err("sinks:\n  - name: s\n    type: webhook\n    url: http://h/\n"
		 "    secret: whsec_YWJjZA==\n", 5, 13, "16-256 byte key");
	/* a bad URL from the environment is not echoed (Slack's are secrets) */
	setenv("TW_TEST_SLACK_URL", "notaurl/SLACKSECRETPATH", 1);
	e = load_err("sinks:\n  - name: s\n    type: slack\n    url_env: TW_TEST_SLACK_URL\n", 4, 14,
		     "sinks[0].url_env: expected an http:// or https:// URL");
	cr_assert_null(strstr(e, "SLACKSECRETPATH"), "%s", e);
	/* both forms */
	load_err("sinks:\n  - name: s\n    type: slack\n    url: http://h/\n    url_env: X\n", 5, 14,
		 "give url or url_env, not both");
	/* from the environment */
	setenv("TW_TEST_SLACK_URL", "https://hooks.slack.com/services/T/B/SLACKSECRETPATH", 1);
	struct notify_config *c = load_ok("sinks:\n  - name: s\n    type: slack\n"
					  "    url_env: TW_TEST_SLACK_URL\n");
	cr_assert_str_eq(c->sinks[0].url, "https://hooks.slack.com/services/T/B/SLACKSECRETPATH");
	cr_assert_str_eq(c->sinks[0].host, "hooks.slack.com");
	notify_config_free(c);
	char err[256];
	cr_assert_eq(notify_config_check("/nonexistent/notify.yaml", err, sizeof err), -1);
	cr_assert(strstr(err, "/nonexistent/notify.yaml: cannot read"), "%s", err);
}
