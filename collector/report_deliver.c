/*
 * report_deliver.c - delivering a scheduled report (report_sched.h):
 *   webhook  POST {type: "report.ready", timestamp, data: {schedule,
 *            scheduled_at, late, files, summary}} signed as the notifier
 *            signs (Standard Webhooks: webhook-id "report-<run id>-webhook",
 *            webhook-timestamp, webhook-signature = notify_sink_webhook_sign)
 *   email    libcurl SMTP: a MIME message whose text part is the summary
 *            and whose attachment is the run's PDF, read from the file the
 *            run wrote
 * Each is a report_deliveries row, attempted when due; a failure is retried
 * with the notifier's backoff (notify_sink_backoff_ms: 30 s doubling to 1 h,
 * 20% jitter) until max_attempts, then marked failed. Counted on /metrics.
 *
 * Blocking (the evaluator thread), every transfer bounded by a timeout.
 */
#define _GNU_SOURCE
#include "report_sched.h"
#include "log.h"
#include "notify_sinks.h"
#include "strbuf.h"
#include "twtime.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <curl/curl.h>
#include <jansson.h>
#include <openssl/rand.h>

#define TIMEOUT_MS 30000L
#define RETRY_INITIAL_MS 30000u
#define RETRY_MAX_MS 3600000u

int report_deliver_queue(PGconn *c, const struct col_report_schedule *s, int64_t run_id,
			 int64_t now_ms, char *err, size_t errlen)
{
	char id[24], now[48];
	snprintf(id, sizeof id, "%" PRId64, run_id);
	twtime_rfc3339_ms(now_ms, now, sizeof now);
	const char *kinds[2] = { s->webhook_url ? "webhook" : NULL, s->smtp_url ? "email" : NULL };
	for (int i = 0; i < 2; i++) {
		if (!kinds[i])
			continue;
		const char *p[3] = { id, kinds[i], now };
		PGresult *r = PQexecParams(c, "INSERT INTO report_deliveries (run_id, kind, "
					      "next_attempt_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
					   3, NULL, p, NULL, NULL, 0);
		if (PQresultStatus(r) != PGRES_COMMAND_OK) {
			snprintf(err, errlen, "queueing a report delivery: %s", PQresultErrorMessage(r));
			PQclear(r);
			return -1;
		}
		PQclear(r);
	}
	return 0;
}

/* ---- webhook ---- */

static size_t discard_body(char *p, size_t size, size_t n, void *arg)
{
	(void)p;
	(void)arg;
	return size * n;
}

static int send_webhook(const struct col_report_schedule *s, const char *run_id,
			const char *scheduled_at, bool late, const char *files_json,
			const char *summary, char *err, size_t errlen)
{
	json_error_t je;
	json_t *sum = json_loads(summary ? summary : "null", JSON_DECODE_ANY, &je);
	json_t *files = json_loads(files_json, 0, &je);
	int64_t ts = twtime_wall_ms() / 1000;   /* receivers check it against their clock */
	json_t *body = json_pack("{s:s, s:I, s:{s:s, s:s, s:b, s:o, s:o}}", "type", "report.ready",
				 "timestamp", (json_int_t)ts, "data", "schedule", s->name,
				 "scheduled_at", scheduled_at, "late", late, "files",
				 files ? files : json_array(), "summary", sum ? sum : json_null());
	/* "o" stole sum and files, also when json_pack failed: nothing to free */
	char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
	json_decref(body);
	char msg_id[64], sig[128], h1[96], h2[64], h3[160];
	struct curl_slist *hdrs = NULL;
	CURL *e = NULL;
	int rc = -1;
	if (!text) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	snprintf(msg_id, sizeof msg_id, "report-%s-webhook", run_id);
	if (notify_sink_webhook_sign(s->webhook_key, s->webhook_keylen, msg_id, ts, text, strlen(text),
				     sig, sizeof sig) < 0) {
		snprintf(err, errlen, "cannot compute the webhook signature");
		goto out;
	}
	snprintf(h1, sizeof h1, "webhook-id: %s", msg_id);
	snprintf(h2, sizeof h2, "webhook-timestamp: %" PRId64, ts);
	snprintf(h3, sizeof h3, "webhook-signature: %s", sig);
	struct curl_slist *t;
	if (!(t = curl_slist_append(hdrs, "Content-Type: application/json")) || !(hdrs = t) ||
	    !(t = curl_slist_append(hdrs, h1)) || !(hdrs = t) ||
	    !(t = curl_slist_append(hdrs, h2)) || !(hdrs = t) ||
	    !(t = curl_slist_append(hdrs, h3)) || !(hdrs = t) || !(e = curl_easy_init())) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	char ebuf[CURL_ERROR_SIZE] = "";
	if (curl_easy_setopt(e, CURLOPT_URL, s->webhook_url) != CURLE_OK ||
	    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https") != CURLE_OK ||
	    curl_easy_setopt(e, CURLOPT_POSTFIELDS, text) != CURLE_OK ||
	    curl_easy_setopt(e, CURLOPT_HTTPHEADER, hdrs) != CURLE_OK ||
	    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, TIMEOUT_MS) != CURLE_OK ||
	    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L) != CURLE_OK ||
	    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, ebuf) != CURLE_OK ||
	    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, discard_body) != CURLE_OK) {
		snprintf(err, errlen, "libcurl refused an option");
		goto out;
	}
	CURLcode cc = curl_easy_perform(e);
	long status = 0;
	curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
	if (cc != CURLE_OK) {
		snprintf(err, errlen, "webhook: %s", ebuf[0] ? ebuf : curl_easy_strerror(cc));
		goto out;
	}
	if (status < 200 || status > 299) {
		snprintf(err, errlen, "webhook: HTTP %ld", status);
		goto out;
	}
	rc = 0;
out:
	curl_easy_cleanup(e);
	curl_slist_free_all(hdrs);
	free(text);
	return rc;
}

/* ---- email ---- */

/* The summary as plain text: one line per SLO, then the counts. */
static void summary_text(struct strbuf *b, const char *summary, const char *name)
{
	json_error_t je;
	json_t *j = json_loads(summary ? summary : "{}", 0, &je), *v;
	size_t i;
	strbuf_printf(b, "tlswatch report \"%s\", period %s to %s.\r\n\r\n", name,
		      json_string_value(json_object_get(json_object_get(j, "period"), "from")) ?: "?",
		      json_string_value(json_object_get(json_object_get(j, "period"), "to")) ?: "?");
	json_array_foreach(json_object_get(j, "slos"), i, v) {
		json_t *a = json_object_get(v, "attainment");
		if (json_is_number(a))
			strbuf_printf(b, "  %s: %.3f%% (objective %g%%), %s\r\n",
				      json_string_value(json_object_get(v, "name")) ?: "?",
				      json_number_value(a) * 100,
				      json_number_value(json_object_get(v, "objective_pct")),
				      json_string_value(json_object_get(v, "status")) ?: "?");
		else
			strbuf_printf(b, "  %s: no data\r\n",
				      json_string_value(json_object_get(v, "name")) ?: "?");
	}
	strbuf_printf(b, "\r\nIncidents (pages): %" JSON_INTEGER_FORMAT "\r\n"
			 "Certificates expiring within 30 days: %zu\r\n\r\nThe PDF report is attached.\r\n",
		      json_integer_value(json_object_get(json_object_get(j, "incidents"), "count")),
		      json_array_size(json_object_get(j, "certificates_expiring")));
	json_decref(j);
}

static int send_email(const struct col_report_schedule *s, const char *scheduled_at,
		      const char *pdf, const char *summary, char *err, size_t errlen)
{
	CURL *e = curl_easy_init();
	curl_mime *mime = NULL;
	struct curl_slist *rcpt = NULL, *hdrs = NULL, *t;
	struct strbuf body = { 0 }, h = { 0 };
	int rc = -1;
	char ebuf[CURL_ERROR_SIZE] = "", date[64], from[300];
	if (!e) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < s->nmail_to; i++) {
		if (!(t = curl_slist_append(rcpt, s->mail_to[i]))) {
			snprintf(err, errlen, "out of memory");
			goto out;
		}
		rcpt = t;
	}
	time_t now = time(NULL);
	struct tm tm;
	gmtime_r(&now, &tm);
	strftime(date, sizeof date, "Date: %a, %d %b %Y %H:%M:%S +0000", &tm);
	strbuf_printf(&h, "To: ");
	for (size_t i = 0; i < s->nmail_to; i++)
		strbuf_printf(&h, "%s%s", i ? ", " : "", s->mail_to[i]);
	snprintf(from, sizeof from, "From: tlswatch <%s>", s->mail_from);
	char subject[300];
	snprintf(subject, sizeof subject, "Subject: TLS report %s (%s, scheduled %s)", s->name,
		 s->period, scheduled_at);
	summary_text(&body, summary, s->name);
	if (h.oom || body.oom || !(t = curl_slist_append(hdrs, date)) || !(hdrs = t) ||
	    !(t = curl_slist_append(hdrs, from)) || !(hdrs = t) ||
	    !(t = curl_slist_append(hdrs, h.p)) || !(hdrs = t) ||
	    !(t = curl_slist_append(hdrs, subject)) || !(hdrs = t) || !(mime = curl_mime_init(e))) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	curl_mimepart *part = curl_mime_addpart(mime);
	if (!part || curl_mime_data(part, body.p, body.len) != CURLE_OK ||
	    curl_mime_type(part, "text/plain; charset=utf-8") != CURLE_OK) {
		snprintf(err, errlen, "cannot build the message");
		goto out;
	}
	if (!(part = curl_mime_addpart(mime)) || curl_mime_filedata(part, pdf) != CURLE_OK ||
	    curl_mime_type(part, "application/pdf") != CURLE_OK ||
	    curl_mime_encoder(part, "base64") != CURLE_OK) {
		snprintf(err, errlen, "cannot attach %s", pdf);
		goto out;
	}
	if (curl_easy_setopt(e, CURLOPT_URL, s->smtp_url) != CURLE_OK ||
	    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "smtp,smtps") != CURLE_OK ||
	    curl_easy_setopt(e, CURLOPT_MAIL_FROM, s->mail_from) != CURLE_OK ||
	    curl_easy_setopt(e, CURLOPT_MAIL_RCPT, rcpt) != CURLE_OK ||
	    curl_easy_setopt(e, CURLOPT_HTTPHEADER, hdrs) != CURLE_OK ||
	    curl_easy_setopt(e, CURLOPT_MIMEPOST, mime) != CURLE_OK ||
	    /* smtp:// upgrades with STARTTLS when the server offers it */
	    curl_easy_setopt(e, CURLOPT_USE_SSL, (long)CURLUSESSL_TRY) != CURLE_OK ||
	    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, TIMEOUT_MS) != CURLE_OK ||
	    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L) != CURLE_OK ||
	    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, ebuf) != CURLE_OK ||
	    (s->smtp_user && (curl_easy_setopt(e, CURLOPT_USERNAME, s->smtp_user) != CURLE_OK ||
			      curl_easy_setopt(e, CURLOPT_PASSWORD, s->smtp_password) != CURLE_OK))) {
		snprintf(err, errlen, "libcurl refused an option");
		goto out;
	}
	CURLcode cc = curl_easy_perform(e);
	if (cc != CURLE_OK) {
		snprintf(err, errlen, "email: %s", ebuf[0] ? ebuf : curl_easy_strerror(cc));
		goto out;
	}
	rc = 0;
out:
	curl_mime_free(mime);
	curl_easy_cleanup(e);
	curl_slist_free_all(rcpt);
	curl_slist_free_all(hdrs);
	strbuf_free(&body);
	strbuf_free(&h);
	return rc;
}

/* ---- the due deliveries ---- */

static const struct col_report_schedule *schedule_named(const struct report_sched_opts *o,
							const char *name)
{
	for (size_t i = 0; o->reports && i < o->reports->n; i++)
		if (!strcmp(o->reports->s[i].name, name))
			return &o->reports->s[i];
	return NULL;
}

/* The .pdf among the run's files (a JSON array of paths), or NULL. */
static char *pdf_of(const char *files_json)
{
	json_error_t je;
	json_t *a = json_loads(files_json, 0, &je), *v;
	size_t i;
	char *out = NULL;
	json_array_foreach(a, i, v) {
		const char *p = json_string_value(v);
		size_t n = p ? strlen(p) : 0;
		if (n > 4 && !strcmp(p + n - 4, ".pdf") && !out)
			out = strdup(p);
	}
	json_decref(a);
	return out;
}

static int record(PGconn *c, const char *id, bool ok, bool give_up, const char *error,
		  int64_t next_ms, int64_t now_ms, char *err, size_t errlen)
{
	char next[48], now[48];
	twtime_rfc3339_ms(next_ms, next, sizeof next);
	twtime_rfc3339_ms(now_ms, now, sizeof now);
	const char *p[5] = { id, ok ? "delivered" : give_up ? "failed" : "pending", error, next, now };
	PGresult *r = PQexecParams(c, "UPDATE report_deliveries SET state = $2, attempts = attempts + 1, "
				      "last_error = $3, next_attempt_at = $4, delivered_at = CASE WHEN "
				      "$2 = 'delivered' THEN $5::timestamptz END WHERE id = $1",
				   5, NULL, p, NULL, NULL, 0);
	int rc = PQresultStatus(r) == PGRES_COMMAND_OK ? 0 : -1;
	if (rc < 0)
		snprintf(err, errlen, "recording a report delivery: %s", PQresultErrorMessage(r));
	PQclear(r);
	return rc;
}

int report_deliver_due(PGconn *c, const struct report_sched_opts *o, int64_t now_ms,
		       struct report_sched_result *res, char *err, size_t errlen)
{
	char now[48];
	twtime_rfc3339_ms(now_ms, now, sizeof now);
	const char *p[1] = { now };
	PGresult *q = PQexecParams(c,
		"SELECT d.id, d.kind, d.attempts, r.schedule, array_to_json(r.files)::text, "
		"r.summary::text, r.id, tw_rule_iso(r.scheduled_at), r.late "
		"FROM report_deliveries d JOIN report_runs r ON r.id = d.run_id "
		"WHERE d.state = 'pending' AND d.next_attempt_at <= $1 ORDER BY d.id LIMIT 20",
		1, NULL, p, NULL, NULL, 0);
	if (PQresultStatus(q) != PGRES_TUPLES_OK) {
		snprintf(err, errlen, "report deliveries: %s", PQresultErrorMessage(q));
		PQclear(q);
		return -1;
	}
	unsigned max = o->max_attempts ? o->max_attempts : 8;
	for (int i = 0; i < PQntuples(q); i++) {
		const char *id = PQgetvalue(q, i, 0), *kind = PQgetvalue(q, i, 1);
		unsigned attempts = (unsigned)strtoul(PQgetvalue(q, i, 2), NULL, 10) + 1;
		const struct col_report_schedule *s = schedule_named(o, PQgetvalue(q, i, 3));
		const char *summary = PQgetisnull(q, i, 5) ? NULL : PQgetvalue(q, i, 5);
		char derr[1024] = "";
		int ok = -1;
		bool give_up = attempts >= max;
		if (!s || (!strcmp(kind, "webhook") ? !s->webhook_url : !s->smtp_url)) {
			snprintf(derr, sizeof derr, "the schedule or its %s is no longer configured", kind);
			give_up = true;
		} else if (!strcmp(kind, "webhook")) {
			ok = send_webhook(s, PQgetvalue(q, i, 6), PQgetvalue(q, i, 7),
					  !strcmp(PQgetvalue(q, i, 8), "t"), PQgetvalue(q, i, 4), summary,
					  derr, sizeof derr);
		} else {
			char *pdf = pdf_of(PQgetvalue(q, i, 4));
			if (!pdf)
				snprintf(derr, sizeof derr, "the run wrote no PDF to attach");
			else
				ok = send_email(s, PQgetvalue(q, i, 7), pdf, summary, derr, sizeof derr);
			free(pdf);
		}
		uint32_t rnd = 0;
		if (RAND_bytes((unsigned char *)&rnd, sizeof rnd) != 1)
			rnd = 0;
		int64_t next = now_ms + notify_sink_backoff_ms(attempts, RETRY_INITIAL_MS, RETRY_MAX_MS,
							       0.2, rnd / 4294967296.0);
		if (ok == 0) {
			res->delivered++;
			log_info("report %s: %s delivered", PQgetvalue(q, i, 3), kind);
		} else {
			res->delivery_errors++;
			res->delivery_given_up += give_up;
			log_warn("report %s: %s delivery failed (attempt %u%s): %s", PQgetvalue(q, i, 3),
				 kind, attempts, give_up ? ", giving up" : ", will retry", derr);
		}
		if (record(c, id, ok == 0, give_up, ok == 0 ? NULL : derr, next, now_ms, err, errlen) < 0) {
			PQclear(q);
			return -1;
		}
	}
	PQclear(q);
	return 0;
}
