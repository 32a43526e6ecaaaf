/*
 * api_env.h - what the API's integration tests share (test_api*.c,
 * test_status.c under tests/integration/test_api.sh): HTTP requests with
 * libcurl, seeding results through the collector's real probe port (so
 * results, rollups, targets and certificates are what ingest writes), and
 * validating recorded responses against collector/openapi.json.
 */
#ifndef TW_TEST_API_ENV_H
#define TW_TEST_API_ENV_H

#include <criterion/criterion.h>
#include <curl/curl.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/time.h>
#include <unistd.h>

#include "ingest_env.h"
#include "twtime.h"

/* ---- HTTP ---- */

struct resp {
	long status;
	char *body;       /* NUL-terminated */
	size_t len;
	char *headers;    /* every header line, lower-cased names as sent */
	json_t *json;     /* the body parsed, NULL when it is not JSON */
	CURLcode curl;    /* != CURLE_OK: no HTTP answer */
};

static inline size_t api_env_sink(char *p, size_t sz, size_t n, void *arg)
{
	struct resp *r = arg;
	size_t add = sz * n;
	char *b = realloc(r->body, r->len + add + 1);
	cr_assert_not_null(b);
	memcpy(b + r->len, p, add);
	r->len += add;
	b[r->len] = '\0';
	r->body = b;
	return add;
}

static inline size_t api_env_hsink(char *p, size_t sz, size_t n, void *arg)
{
	char **h = arg;
	size_t old = *h ? strlen(*h) : 0, add = sz * n;
	char *b = realloc(*h, old + add + 1);
	cr_assert_not_null(b);
	memcpy(b + old, p, add);
	b[old + add] = '\0';
	*h = b;
	return add;
}

struct req_opts {
	const char *method;       /* NULL: GET */
	const char *token;        /* Authorization: Bearer TOKEN */
	const char *body;         /* request body */
	size_t body_len;          /* 0: strlen(body) */
	bool https;               /* collector B (TW_HTTPS_PORT) */
	long tls_max;             /* CURL_SSLVERSION_... to force a TLS version; 0: any */
};

/* A request to collector A (or B with https) for path ("/api/v1/..."). */
static inline struct resp req_opt(const char *path, const struct req_opts *o)
{
	struct resp r = { 0 };
	char url[16384];
	snprintf(url, sizeof url, "%s://127.0.0.1:%d%s", o->https ? "https" : "http",
		 env_port(o->https ? "TW_HTTPS_PORT" : "TW_HTTP_PORT"), path);
	CURL *c = curl_easy_init();
	cr_assert_not_null(c);
	struct curl_slist *hdr = NULL;
	char auth[4200];
	if (o->token) {
		snprintf(auth, sizeof auth, "Authorization: Bearer %s", o->token);
		hdr = curl_slist_append(hdr, auth);
	}
	if (o->body)
		hdr = curl_slist_append(hdr, "Content-Type: application/json");
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdr);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, api_env_sink);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &r);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, api_env_hsink);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, &r.headers);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 20L);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	if (o->method)
		curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, o->method);
	if (o->body) {
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, o->body);
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)(o->body_len ? o->body_len
									: strlen(o->body)));
	}
	if (o->https) {
		char ca[1024];
		snprintf(ca, sizeof ca, "%s/pipe-ca.pem", env("TW_PIPE"));
		curl_easy_setopt(c, CURLOPT_CAINFO, ca);
		if (o->tls_max) {
			curl_easy_setopt(c, CURLOPT_SSLVERSION, o->tls_max);
			/* so that it is the server, not our own OpenSSL, that refuses */
			curl_easy_setopt(c, CURLOPT_SSL_CIPHER_LIST, "DEFAULT:@SECLEVEL=0");
		}
	}
	r.curl = curl_easy_perform(c);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r.status);
	curl_slist_free_all(hdr);
	curl_easy_cleanup(c);
	if (!r.body)
		r.body = strdup("");
	json_error_t e;
	r.json = json_loads(r.body, JSON_DECODE_ANY, &e);
	return r;
}

static inline struct resp get(const char *path)
{
	struct req_opts o = { 0 };
	return req_opt(path, &o);
}

static inline void resp_free(struct resp *r)
{
	free(r->body);
	free(r->headers);
	json_decref(r->json);
	memset(r, 0, sizeof *r);
}

/* The value of header name (case-insensitive) in r, or NULL (static buffer). */
static inline const char *resp_header(const struct resp *r, const char *name)
{
	static char val[512];
	size_t n = strlen(name);
	for (const char *p = r->headers; p && *p;) {
		const char *eol = strstr(p, "\r\n");
		if (!eol)
			break;
		if (strncasecmp(p, name, n) == 0 && p[n] == ':') {
			const char *v = p + n + 1;
			while (*v == ' ')
				v++;
			snprintf(val, sizeof val, "%.*s", (int)(eol - v), v);
			return val;
		}
		p = eol + 2;
	}
	return NULL;
}

/* Asserts a JSON answer with status and the API's headers. */
static inline void expect(const struct resp *r, long status, const char *what)
{
	cr_assert_eq(r->curl, CURLE_OK, "%s: %s", what, curl_easy_strerror(r->curl));
	cr_assert_eq(r->status, status, "%s: status %ld, want %ld: %.300s", what, r->status, status,
		     r->body);
	cr_assert_not_null(r->json, "%s: not JSON: %.300s", what, r->body);
	const char *ct = resp_header(r, "Content-Type");
	cr_assert(ct && strcmp(ct, "application/json") == 0, "%s: Content-Type %s", what,
		  ct ? ct : "(none)");
	const char *cc = resp_header(r, "Cache-Control");
	cr_assert(cc && strcmp(cc, "no-store") == 0, "%s: Cache-Control %s", what,
		  cc ? cc : "(none)");
}

/* An error answer: status, error.message and (when param) error.parameter. */
static inline void expect_error(const struct resp *r, long status, const char *param,
				const char *what)
{
	expect(r, status, what);
	json_t *e = json_object_get(r->json, "error");
	cr_assert(json_is_string(json_object_get(e, "message")), "%s: no error.message: %s", what,
		  r->body);
	if (param)
		cr_assert_str_eq(json_string_value(json_object_get(e, "parameter")), param,
				 "%s: %s", what, r->body);
}

/* ---- seeding through the probe port ---- */

struct seed {
	const char *host;
	int port;
	const char *sni;          /* NULL: none */
	const char *profile, *service, *outcome;
	const char *label_k, *label_v;  /* one label; NULL: none */
	const char *alert;        /* raw reason */
	const char *tls_version, *cipher;
	double handshake_ms;      /* < 0: none */
	const char *fingerprint;  /* NULL: no certificate */
	int n;                    /* how many results (one per second back from seconds_ago) */
	int seconds_ago;
};

/* Sends the seeds' results as probe `probe` (probe-a eu-west, probe-b
 * us-east, probe-c ap-south) and waits until they are acked (committed).
 * Tests seed one at a time (a lock file): a second connection of the same
 * probe would replace the first. Seqs come from the wall clock in us, so
 * they grow across tests and runs. */
static inline void seed_as(const char *probe, const struct seed *s, size_t ns)
{
	char lock[1024];
	snprintf(lock, sizeof lock, "%s/seed.lock", env("TW_WORK"));
	int lfd = open(lock, O_CREAT | O_RDWR, 0600);
	cr_assert(lfd >= 0 && flock(lfd, LOCK_EX) == 0);
	size_t total = 0;
	for (size_t i = 0; i < ns; i++)
		total += (size_t)(s[i].n ? s[i].n : 1);
	Tlswatch__Result *rs = calloc(total, sizeof *rs);
	Tlswatch__Result **rp = calloc(total, sizeof *rp);
	Tlswatch__Label *lb = calloc(total, sizeof *lb), **lbp = calloc(total, sizeof *lbp);
	cr_assert(rs && rp && lb && lbp);
	struct timeval tv;
	gettimeofday(&tv, NULL);
	uint64_t seq0 = (uint64_t)tv.tv_sec * 1000000 + (uint64_t)tv.tv_usec;
	int64_t now_ms = (int64_t)tv.tv_sec * 1000 + tv.tv_usec / 1000;
	size_t k = 0;
	for (size_t i = 0; i < ns; i++) {
		for (int j = 0; j < (s[i].n ? s[i].n : 1); j++, k++) {
			Tlswatch__Result *r = &rs[k];
			tlswatch__result__init(r);
			r->has_seq = true;
			r->seq = seq0 + k;
			r->has_started_unix_ms = true;
			r->started_unix_ms = now_ms - (int64_t)(s[i].seconds_ago + j) * 1000;
			r->target = (char *)s[i].host;
			r->port = (uint32_t)(s[i].port ? s[i].port : 443);
			r->sni = (char *)s[i].sni;
			r->profile = (char *)s[i].profile;
			r->service = (char *)s[i].service;
			r->outcome = (char *)s[i].outcome;
			r->alert = (char *)s[i].alert;
			r->tls_version = (char *)s[i].tls_version;
			r->cipher = (char *)s[i].cipher;
			if (s[i].handshake_ms >= 0) {
				r->has_handshake_ms = true;
				r->handshake_ms = s[i].handshake_ms;
			}
			if (s[i].label_k) {
				tlswatch__label__init(&lb[k]);
				lb[k].key = (char *)s[i].label_k;
				lb[k].value = (char *)s[i].label_v;
				lbp[k] = &lb[k];
				r->n_labels = 1;
				r->labels = &lbp[k];
			}
			if (s[i].fingerprint) {
				r->fingerprint_sha256 = (char *)s[i].fingerprint;
				r->leaf_subject = "CN=api.test";
				r->leaf_issuer = "CN=Test CA";
				r->has_cert_not_before = r->has_cert_not_after = true;
				r->cert_not_before = now_ms / 1000 - 86400;
				r->cert_not_after = now_ms / 1000 + 40 * 86400;
				r->has_chain_not_after_min = true;
				r->chain_not_after_min = now_ms / 1000 + 40 * 86400;
				r->has_days_to_expiry = true;
				r->days_to_expiry = 40;
			}
			rp[k] = r;
		}
	}
	struct tw_probe *c = tc_connect(probe);
	cr_assert(c->handshake_ok, "probe %s: handshake failed", probe);
	const char *region = !strcmp(probe, "probe-a") ? "eu-west"
			     : !strcmp(probe, "probe-b") ? "us-east" : "ap-south";
	send_hello(c, probe, region);
	Tlswatch__ResultBatch b = TLSWATCH__RESULT_BATCH__INIT;
	Tlswatch__Envelope e = TLSWATCH__ENVELOPE__INIT;
	b.n_results = total;
	b.results = rp;
	e.msg_case = TLSWATCH__ENVELOPE__MSG_BATCH;
	e.batch = &b;
	cr_assert_eq(tw_probe_send(c, &e), 0);
	uint64_t want = seq0 + total - 1;
	for (int tries = 0; tries < 20; tries++) {
		if (tc_read_ack(c) >= want)
			break;
		cr_assert(tries < 19, "probe %s: results not acked", probe);
	}
	tw_probe_free(c);
	free(rs);
	free(rp);
	free(lb);
	free(lbp);
	flock(lfd, LOCK_UN);
	close(lfd);
}

/* ---- OpenAPI validation ---- */

/* Responses recorded for validation against collector/openapi.json. */
struct cases {
	json_t *list;
};

static inline void record(struct cases *cs, const char *method, const char *tmpl,
			  const struct resp *r)
{
	if (!cs->list)
		cs->list = json_array();
	cr_assert_not_null(r->json, "%s %s: not JSON: %.200s", method, tmpl, r->body);
	json_array_append_new(cs->list, json_pack("{s:s, s:s, s:I, s:O}", "method", method,
						  "path", tmpl, "status", (json_int_t)r->status,
						  "body", r->json));
}

/* Runs tests/integration/api_schema_check.py over the recorded cases; its
 * output is printed, and every case must validate. */
static inline void validate(struct cases *cs)
{
	char path[1024], cmd[4096];
	snprintf(path, sizeof path, "%s/cases-%d.jsonl", env("TW_WORK"), (int)getpid());
	FILE *f = fopen(path, "w");
	cr_assert_not_null(f);
	size_t i;
	json_t *v;
	json_array_foreach(cs->list, i, v) {
		char *line = json_dumps(v, JSON_COMPACT);
		fprintf(f, "%s\n", line);
		free(line);
	}
	fclose(f);
	snprintf(cmd, sizeof cmd, "/usr/bin/python3 %s %s %s", env("TW_SCHEMA_CHECK"),
		 env("TW_OPENAPI"), path);
	int rc = system(cmd);
	cr_assert_eq(rc, 0, "responses do not validate against openapi.json (see above)");
	json_decref(cs->list);
	cs->list = NULL;
}

#endif
