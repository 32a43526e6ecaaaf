/*
 * notify_sinks.c - request bodies per sink, the Standard Webhooks signer and
 * the delivery policy of notify_sinks.h.
 *
 * The outbox payload is read leniently (a field of the wrong type is treated
 * as absent): the evaluator owns its shape, and a half-understood alert is
 * still worth sending. Timestamps are passed through when they are strings
 * (RFC 3339 from the evaluator) and formatted when they are numbers (unix ms).
 */
#define _GNU_SOURCE  /* asprintf */
#include "notify_sinks.h"
#include "twtime.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <jansson.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/sha.h>

#define PD_SUMMARY_MAX 1024
#define PD_DEDUP_MAX   255

/* ------------------------------------------------------------ helpers */

static const char *jstr(const json_t *o, const char *key)
{
	const json_t *v = json_object_get(o, key);
	return json_is_string(v) ? json_string_value(v) : NULL;
}

static const char *nz(const char *s, const char *dflt)
{
	return s && *s ? s : dflt;
}

/* A payload timestamp as RFC 3339 text into buf: strings as they are,
 * numbers as unix ms. NULL when absent. */
static const char *jtime(const json_t *o, const char *key, char *buf, size_t cap)
{
	const json_t *v = json_object_get(o, key);
	if (json_is_string(v) && *json_string_value(v))
		return json_string_value(v);
	if (json_is_number(v)) {
		twtime_rfc3339_ms((int64_t)json_number_value(v), buf, cap);
		return buf[0] ? buf : NULL;
	}
	return NULL;
}

/* A label value as text: strings as they are, numbers and booleans
 * printed; NULL for null, objects and arrays. */
static const char *label_text(const json_t *v, char *buf, size_t cap)
{
	if (json_is_string(v))
		return json_string_value(v);
	if (json_is_integer(v)) {
		snprintf(buf, cap, "%lld", (long long)json_integer_value(v));
		return buf;
	}
	if (json_is_real(v)) {
		snprintf(buf, cap, "%.17g", json_real_value(v));
		return buf;
	}
	if (json_is_boolean(v))
		return json_is_true(v) ? "true" : "false";
	return NULL;
}

/* Prometheus label name: [a-zA-Z_][a-zA-Z0-9_]*; other characters become '_'. */
static void label_name(const char *in, char *out, size_t cap)
{
	size_t i = 0;
	for (; in[i] && i + 1 < cap; i++) {
		unsigned char c = (unsigned char)in[i];
		bool ok = c == '_' || (c < 0x80 && isalpha(c)) || (i > 0 && c < 0x80 && isdigit(c));
		out[i] = ok ? (char)c : '_';
	}
	if (i == 0 && cap > 1)
		out[i++] = '_';
	out[i] = '\0';
}

/* Cuts s to at most max bytes on a UTF-8 character boundary (in place). */
static void utf8_cut(char *s, size_t max)
{
	size_t n = strlen(s);
	if (n <= max)
		return;
	n = max;
	while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
		n--;
	s[n] = '\0';
}

static int set_str(json_t *o, const char *k, const char *v)
{
	return v ? json_object_set_new(o, k, json_string(v)) : 0;
}

static int add_header(struct sink_msg *m, const char *name, const char *value)
{
	if (m->nheaders >= SINK_MAX_HEADERS)
		return -1;
	char *h = NULL;
	if (asprintf(&h, "%s: %s", name, value) < 0)
		return -1;
	m->headers[m->nheaders++] = h;
	return 0;
}

/* ------------------------------------------------------------ base64 / HMAC */

static size_t b64_encode(const unsigned char *in, size_t n, char *out, size_t cap)
{
	if (cap < 4 * ((n + 2) / 3) + 1)
		return 0;
	return (size_t)EVP_EncodeBlock((unsigned char *)out, in, (int)n);
}

int notify_sink_webhook_sign(const unsigned char *key, size_t keylen, const char *msg_id, int64_t ts,
		      const char *body, size_t body_len, char *out, size_t cap)
{
	unsigned char mac[EVP_MAX_MD_SIZE];
	size_t maclen = 0;
	char tsbuf[32];
	int rc = -1;
	EVP_MAC *m = NULL;
	EVP_MAC_CTX *ctx = NULL;

	int tl = snprintf(tsbuf, sizeof tsbuf, "%lld", (long long)ts);
	OSSL_PARAM params[] = {
		OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)"SHA256", 0),
		OSSL_PARAM_construct_end(),
	};
	if (!(m = EVP_MAC_fetch(NULL, "HMAC", NULL)) || !(ctx = EVP_MAC_CTX_new(m)) ||
	    !EVP_MAC_init(ctx, key, keylen, params) ||
	    !EVP_MAC_update(ctx, (const unsigned char *)msg_id, strlen(msg_id)) ||
	    !EVP_MAC_update(ctx, (const unsigned char *)".", 1) ||
	    !EVP_MAC_update(ctx, (const unsigned char *)tsbuf, (size_t)tl) ||
	    !EVP_MAC_update(ctx, (const unsigned char *)".", 1) ||
	    !EVP_MAC_update(ctx, (const unsigned char *)body, body_len) ||
	    !EVP_MAC_final(ctx, mac, &maclen, sizeof mac))
		goto out;
	if (cap < 4)
		goto out;
	memcpy(out, "v1,", 3);
	if (b64_encode(mac, maclen, out + 3, cap - 3) == 0)
		goto out;
	rc = 0;
out:
	EVP_MAC_CTX_free(ctx);
	EVP_MAC_free(m);
	OPENSSL_cleanse(mac, sizeof mac);
	return rc;
}

/* ------------------------------------------------------------ policy */

enum sink_verdict notify_sink_classify(long st)
{
	if (st >= 200 && st < 300)
		return SINK_DELIVERED;
	if (st == 0 || st == 429 || (st >= 500 && st < 600))
		return SINK_RETRY;
	return SINK_FAILED;
}

int notify_sink_retry_after_ms(const char *v, int64_t now_ms, int64_t *ms)
{
	if (!v)
		return -1;
	while (*v == ' ' || *v == '\t')
		v++;
	size_t n = strlen(v);
	while (n && (v[n - 1] == ' ' || v[n - 1] == '\t' || v[n - 1] == '\r' || v[n - 1] == '\n'))
		n--;
	if (n == 0 || n > 64)
		return -1;
	char buf[65];
	memcpy(buf, v, n);
	buf[n] = '\0';
	if (isdigit((unsigned char)buf[0])) {
		char *end;
		errno = 0;
		unsigned long long s = strtoull(buf, &end, 10);
		if (errno || *end)
			return -1;
		if (s > 10ull * 365 * 86400)
			s = 10ull * 365 * 86400;
		*ms = (int64_t)s * 1000;
		return 0;
	}
	time_t t = curl_getdate(buf, NULL);
	if (t == (time_t)-1)
		return -1;
	int64_t d = (int64_t)t * 1000 - now_ms;
	*ms = d > 0 ? d : 0;
	return 0;
}

int64_t notify_sink_backoff_ms(unsigned attempts, unsigned initial_ms, unsigned max_ms, double jitter,
			double u)
{
	double d = initial_ms;
	for (unsigned i = 1; i < attempts && d < max_ms; i++)
		d *= 2;
	if (d > max_ms)
		d = max_ms;
	if (jitter < 0)
		jitter = 0;
	if (jitter > 1)
		jitter = 1;
	if (u < 0 || u >= 1)
		u = 0;
	d *= 1.0 - jitter * u;
	return (int64_t)d;
}

/* ------------------------------------------------------------ bodies */

struct alert_view {
	const json_t *p;
	bool resolve;
	const char *rule, *severity, *summary, *subject, *service, *region, *dedup_key,
		*generator_url, *state;
	const char *starts_at, *ends_at;
	char starts_buf[40], ends_buf[40];
	const json_t *labels, *annotations, *details;
};

static void view_of(const json_t *p, const char *action, struct alert_view *a)
{
	memset(a, 0, sizeof *a);
	a->p = p;
	a->resolve = strcmp(action, "resolve") == 0;
	a->rule = nz(jstr(p, "rule"), "tlswatch");
	a->severity = nz(jstr(p, "severity"), "ticket");
	a->summary = nz(jstr(p, "summary"), a->rule);
	a->subject = jstr(p, "subject");
	a->service = jstr(p, "service");
	a->region = jstr(p, "region_group");
	a->dedup_key = nz(jstr(p, "dedup_key"), a->rule);
	a->generator_url = jstr(p, "generator_url");
	a->state = jstr(p, "state");
	a->starts_at = jtime(p, "starts_at", a->starts_buf, sizeof a->starts_buf);
	a->ends_at = jtime(p, "ends_at", a->ends_buf, sizeof a->ends_buf);
	a->labels = json_is_object(json_object_get(p, "labels")) ? json_object_get(p, "labels") : NULL;
	a->annotations = json_is_object(json_object_get(p, "annotations"))
				 ? json_object_get(p, "annotations") : NULL;
	a->details = json_object_get(p, "details");
}

static json_t *pagerduty_body(const struct notify_sink_cfg *s, const struct alert_view *a)
{
	json_t *o = json_object();
	char dk[80];
	const char *dedup = a->dedup_key;
	if (strlen(dedup) > PD_DEDUP_MAX) {
		/* PagerDuty caps dedup_key at 255 characters: a long key becomes its hash */
		unsigned char md[SHA256_DIGEST_LENGTH];
		SHA256((const unsigned char *)dedup, strlen(dedup), md);
		memcpy(dk, "sha256:", 7);
		for (int i = 0; i < SHA256_DIGEST_LENGTH; i++)
			snprintf(dk + 7 + 2 * i, 3, "%02x", md[i]);
		dedup = dk;
	}
	set_str(o, "routing_key", s->routing_key ? s->routing_key : "");
	set_str(o, "event_action", a->resolve ? "resolve" : "trigger");
	set_str(o, "dedup_key", dedup);
	if (a->resolve)
		return o;
	char *summary = strdup(a->summary);
	if (!summary) {
		json_decref(o);
		return NULL;
	}
	utf8_cut(summary, PD_SUMMARY_MAX);
	json_t *pl = json_object();
	set_str(pl, "summary", summary);
	free(summary);
	set_str(pl, "source", nz(a->subject, "tlswatch"));
	set_str(pl, "severity", strcmp(a->severity, "page") == 0 ? "critical"
				: strcmp(a->severity, "ticket") == 0 ? "warning" : "info");
	set_str(pl, "timestamp", a->starts_at);
	set_str(pl, "component", nz(a->service, a->subject));
	set_str(pl, "group", a->region);
	set_str(pl, "class", a->rule);
	json_t *cd = json_object();
	if (a->details)
		json_object_set(cd, "details", (json_t *)a->details);
	if (a->labels)
		json_object_set(cd, "labels", (json_t *)a->labels);
	if (a->annotations)
		json_object_set(cd, "annotations", (json_t *)a->annotations);
	set_str(cd, "subject", a->subject);
	set_str(cd, "dedup_key", a->dedup_key);
	set_str(cd, "tlswatch_severity", a->severity);
	json_object_set_new(pl, "custom_details", cd);
	json_object_set_new(o, "payload", pl);
	set_str(o, "client", "tlswatch");
	if (a->generator_url && *a->generator_url)
		set_str(o, "client_url", a->generator_url);
	return o;
}

static json_t *alertmanager_body(const struct notify_sink_cfg *s, const struct alert_view *a,
				 int64_t now_ms)
{
	json_t *al = json_object(), *labels = json_object(), *ann = json_object();
	char name[128], num[64], ends[40];
	const char *k;
	json_t *v;

	/* The alert's own labels first. Its identity labels below (what
	 * Alertmanager groups and deduplicates on) keep their names; a target
	 * label with one of those names is never dropped: it is kept as
	 * target_NAME (a target labelled region=emea-lb keeps that value next to
	 * the alert's region). */
	static const char *const identity[] = { "alertname", "severity", "service", "region",
						"subject", "dedup_key" };
	if (a->labels)
		json_object_foreach((json_t *)a->labels, k, v) {
			const char *t = label_text(v, num, sizeof num);
			if (!t || !*t)
				continue;
			label_name(k, name, sizeof name);
			const char *use = name;
			char kept[32];
			for (size_t i = 0; i < sizeof identity / sizeof identity[0]; i++)
				if (strcmp(name, identity[i]) == 0) {
					snprintf(kept, sizeof kept, "target_%s", identity[i]);
					use = kept;
					break;
				}
			json_object_set_new(labels, use, json_string(t));
		}
	set_str(labels, "alertname", a->rule);
	set_str(labels, "severity", a->severity);
	if (a->service && *a->service)
		set_str(labels, "service", a->service);
	if (a->region && *a->region)
		set_str(labels, "region", a->region);
	if (a->subject && *a->subject)
		set_str(labels, "subject", a->subject);
	set_str(labels, "dedup_key", a->dedup_key);

	if (a->annotations)
		json_object_foreach((json_t *)a->annotations, k, v) {
			const char *t = label_text(v, num, sizeof num);
			if (!t || !*t)
				continue;
			label_name(k, name, sizeof name);
			json_object_set_new(ann, name, json_string(t));
		}
	set_str(ann, "summary", a->summary);

	json_object_set_new(al, "labels", labels);
	json_object_set_new(al, "annotations", ann);
	if (a->starts_at)
		set_str(al, "startsAt", a->starts_at);
	if (a->resolve) {
		/* ends now (or when the evaluator says it resolved) */
		set_str(al, "endsAt", a->ends_at ? a->ends_at : twtime_rfc3339_ms(now_ms, ends, sizeof ends));
	} else {
		/* active until our resolve: we do not re-send (see notify.c) */
		set_str(al, "endsAt", twtime_rfc3339_ms(now_ms + s->hold_ms, ends, sizeof ends));
	}
	if (a->generator_url && *a->generator_url)
		set_str(al, "generatorURL", a->generator_url);
	json_t *arr = json_array();
	json_array_append_new(arr, al);
	return arr;
}

/* Slack mrkdwn: &, < and > are control characters. */
static char *slack_escape(const char *s)
{
	size_t n = 0;
	for (const char *p = s; *p; p++)
		n += *p == '&' ? 5 : (*p == '<' || *p == '>') ? 4 : 1;
	char *o = malloc(n + 1), *q = o;
	if (!o)
		return NULL;
	for (const char *p = s; *p; p++) {
		const char *r = *p == '&' ? "&amp;" : *p == '<' ? "&lt;" : *p == '>' ? "&gt;" : NULL;
		if (r) {
			memcpy(q, r, strlen(r));
			q += strlen(r);
		} else {
			*q++ = *p;
		}
	}
	*q = '\0';
	return o;
}

static json_t *slack_body(const struct alert_view *a)
{
	const char *tag = a->resolve ? "RESOLVED" : "FIRING";
	char *sum = slack_escape(a->summary), *rule = slack_escape(a->rule);
	char *subj = slack_escape(nz(a->subject, "-")), *svc = slack_escape(nz(a->service, "-"));
	char *reg = slack_escape(nz(a->region, "all"));
	char *text = NULL, *head = NULL, *ctx = NULL;
	json_t *o = NULL;
	if (!sum || !rule || !subj || !svc || !reg)
		goto out;
	if (asprintf(&text, "[%s] %s %s: %s", tag, a->severity, rule, sum) < 0)
		text = NULL;
	if (asprintf(&head, "%s *[%s]* `%s` (%s)\n%s", a->resolve ? ":white_check_mark:"
		     : strcmp(a->severity, "page") == 0 ? ":rotating_light:" : ":warning:", tag, rule,
		     a->severity, sum) < 0)
		head = NULL;
	if (asprintf(&ctx, "service: %s | region: %s | subject: %s", svc, reg, subj) < 0)
		ctx = NULL;
	if (!text || !head || !ctx)
		goto out;
	o = json_pack("{s:s, s:[{s:s, s:{s:s, s:s}}, {s:s, s:[{s:s, s:s}]}]}",
		      "text", text,
		      "blocks",
		      "type", "section", "text", "type", "mrkdwn", "text", head,
		      "type", "context", "elements", "type", "mrkdwn", "text", ctx);
out:
	free(sum);
	free(rule);
	free(subj);
	free(svc);
	free(reg);
	free(text);
	free(head);
	free(ctx);
	return o;
}

static json_t *webhook_body(const struct alert_view *a, const char *action, int64_t now_ms)
{
	char ts[40];
	json_t *data = json_deep_copy(a->p);
	if (!data)
		return NULL;
	json_object_set_new(data, "action", json_string(action));
	return json_pack("{s:s, s:s, s:o}", "type", a->resolve ? "alert.resolve" : "alert.trigger",
			 "timestamp", twtime_rfc3339_ms(now_ms, ts, sizeof ts), "data", data);
}

int notify_sink_build(const struct notify_sink_cfg *s, const char *action, const char *payload_json,
	       const char *idempotency_key, int64_t now_ms, struct sink_msg *out, char *err,
	       size_t errlen)
{
	json_error_t je;
	json_t *p = NULL, *body = NULL;
	struct alert_view a;
	int rc = -1;

	memset(out, 0, sizeof *out);
	if (strcmp(action, "trigger") != 0 && strcmp(action, "resolve") != 0) {
		snprintf(err, errlen, "unknown action \"%.32s\"", action);
		return -1;
	}
	p = json_loads(payload_json ? payload_json : "", JSON_REJECT_DUPLICATES, &je);
	if (!json_is_object(p)) {
		snprintf(err, errlen, "outbox payload is not a JSON object%s%s", p ? "" : ": ",
			 p ? "" : je.text);
		goto out;
	}
	view_of(p, action, &a);
	switch (s->type) {
	case SINK_PAGERDUTY:
		body = pagerduty_body(s, &a);
		break;
	case SINK_ALERTMANAGER:
		body = alertmanager_body(s, &a, now_ms);
		break;
	case SINK_SLACK:
		body = slack_body(&a);
		break;
	case SINK_WEBHOOK:
		body = webhook_body(&a, action, now_ms);
		break;
	}
	if (!body || !(out->body = json_dumps(body, JSON_COMPACT))) {
		snprintf(err, errlen, "out of memory building the request");
		goto out;
	}
	out->body_len = strlen(out->body);
	out->url = s->url;
	for (size_t i = 0; i < s->nheaders; i++)
		if (add_header(out, s->headers[i].name, s->headers[i].value) < 0)
			goto oom;
	if (s->type == SINK_WEBHOOK) {
		char ts[32], sig[128];
		int64_t secs = now_ms / 1000;
		snprintf(ts, sizeof ts, "%lld", (long long)secs);
		if (notify_sink_webhook_sign(s->secret, s->secret_len, idempotency_key, secs, out->body,
				      out->body_len, sig, sizeof sig) < 0) {
			snprintf(err, errlen, "cannot compute the webhook signature");
			goto out;
		}
		if (add_header(out, "webhook-id", idempotency_key) < 0 ||
		    add_header(out, "webhook-timestamp", ts) < 0 ||
		    add_header(out, "webhook-signature", sig) < 0)
			goto oom;
	} else if (s->type == SINK_PAGERDUTY || s->type == SINK_ALERTMANAGER) {
		/* not a standard for them, but harmless and useful in their logs */
		if (add_header(out, "Idempotency-Key", idempotency_key) < 0)
			goto oom;
	}
	rc = 0;
	goto out;
oom:
	snprintf(err, errlen, "out of memory building the request");
out:
	json_decref(body);
	json_decref(p);
	if (rc < 0)
		notify_sink_msg_free(out);
	return rc;
}

void notify_sink_msg_free(struct sink_msg *m)
{
	if (!m)
		return;
	if (m->body) {
		OPENSSL_cleanse(m->body, m->body_len); /* PagerDuty's carries the routing key */
		free(m->body);
	}
	for (size_t i = 0; i < m->nheaders; i++) {
		OPENSSL_cleanse(m->headers[i], strlen(m->headers[i]));
		free(m->headers[i]);
	}
	memset(m, 0, sizeof *m);
}
