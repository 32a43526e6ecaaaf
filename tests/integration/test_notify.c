/*
 * test_notify.c - the notifier (collector/notify.h) against a real
 * PostgreSQL (tests/integration/test_notify.sh), real HTTP receivers
 * (tests/harness/webhook_receiver.py, started here with a scripted sequence
 * of answers; it records every request and verifies Standard Webhooks
 * signatures) and a real Alertmanager (/usr/bin/prometheus-alertmanager).
 *
 * Each test makes its own database, inserts alerts, alert_events and
 * notification_outbox rows by SQL as the evaluator would, runs notifiers on
 * event loops here, and checks the rows and what the receivers saw (their
 * own timestamps for the timing checks). Children are started with
 * PR_SET_PDEATHSIG and stopped by the suite's fini, so a failed test leaves
 * nothing running. The outbox across notifiers and failures (two notifiers,
 * lease expiry, a database outage): test_notify_outbox.c. Helpers:
 * notify_env.h.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <curl/curl.h>
#include <event2/event.h>
#include <jansson.h>
#include <libpq-fe.h>

#include "db.h"
#include "log.h"
#include "notify.h"
#include "notify_config.h"
#include "notify_env.h"
#include "proc.h"
#include "sql_migrations.h"
#include "twtime.h"

TestSuite(notify, .timeout = 180, .fini = stop_all);

/* ------------------------------------------------------------ retries */

Test(notify, server_errors_retried_then_delivered_once_with_one_id)
{
	char *ci = new_db("notify_retry");
	PGconn *c = pg(ci);
	struct recv r;
	recv_start(&r, "TW_PORT_R1", "retry", "500,500,202", NULL, NULL);
	struct event_base *b = event_base_new();
	struct notifier *n = start(b, ci, config("retry",
		hook_yaml(r.port, "{initial: 200ms, max: 5s, jitter: 0}")));
	long long oid = fire(c, "slo_burn_fast/checkout/eu", "slo_burn_fast", "page", NULL);

	settle(b, c, 1, 20);
	run_for(b, 0.5); /* nothing more may happen */
	cr_assert_eq(q_int(c, "SELECT count(*) FROM notification_deliveries"), 1);
	cr_assert_eq(q_int(c, "SELECT count(*) FROM notification_deliveries WHERE state = 'delivered' "
			   "AND attempts = 3 AND last_status = 202 AND delivered_at IS NOT NULL "
			   "AND locked_until IS NULL AND idempotency_key = 'tw-%lld-hook'", oid), 1);
	cr_assert_eq(q_int(c, "SELECT count(*) FROM notification_attempts"), 3);
	cr_assert_eq(q_int(c, "SELECT count(*) FROM notification_attempts WHERE http_status = 500 "
			   "AND error LIKE 'HTTP 500%%'"), 2);
	cr_assert_eq(q_int(c, "SELECT count(*) FROM notification_attempts WHERE http_status = 202 "
			   "AND error IS NULL AND duration_ms >= 0"), 1);
	cr_assert_eq(q_int(c, "SELECT count(*) FROM notification_outbox WHERE routed_at IS NOT NULL"), 1);

	json_t *reqs = recv_requests(&r);
	cr_assert_eq(json_array_size(reqs), 3u);
	const char *id0 = req_header(json_array_get(reqs, 0), "webhook-id");
	cr_assert_str_eq(id0, tw_fmt("tw-%lld-hook", oid));
	for (size_t i = 0; i < 3; i++) {
		json_t *q = json_array_get(reqs, i);
		cr_assert_str_eq(req_header(q, "webhook-id"), id0, "request %zu", i);
		cr_assert(json_is_true(json_object_get(q, "sig")), "request %zu: bad signature", i);
		cr_assert_str_eq(json_string_value(json_object_get(q, "path")), "/hooks/tlswatch");
	}
	/* exponential backoff, measured by the receiver: >= 200 ms, then >= 400 ms */
	double g1 = req_t(json_array_get(reqs, 1)) - req_t(json_array_get(reqs, 0));
	double g2 = req_t(json_array_get(reqs, 2)) - req_t(json_array_get(reqs, 1));
	cr_assert(g1 >= 0.19 && g1 < 3, "first retry after %.3f s", g1);
	cr_assert(g2 >= 0.39 && g2 < 3, "second retry after %.3f s", g2);
	/* the body is the outbox payload, as a Standard Webhooks event */
	json_t *body = json_loads(json_string_value(json_object_get(json_array_get(reqs, 0), "body")),
				  0, NULL);
	cr_assert_str_eq(json_string_value(json_object_get(body, "type")), "alert.trigger");
	cr_assert_str_eq(json_string_value(json_object_get(json_object_get(body, "data"), "rule")),
			 "slo_burn_fast");
	json_decref(body);
	json_decref(reqs);

	struct notifier_stats st;
	notify_get_stats(n, &st);
	cr_assert_eq(st.delivered, 1u);
	cr_assert_eq(st.retries, 2u);
	cr_assert_eq(st.failed, 0u);
	cr_assert_eq(st.attempts, 3u);
	cr_assert_eq(st.routed, 1u);
	cr_assert(st.db_up);
	notify_free(n);
	event_base_free(b);
	recv_stop(&r);
	PQfinish(c);
	free(ci);
}

Test(notify, retry_after_is_honoured)
{
	char *ci = new_db("notify_ra");
	PGconn *c = pg(ci);
	struct recv r;
	/* seconds form first, then an HTTP-date 3 s ahead (second resolution) */
	recv_start(&r, "TW_PORT_R2", "ra", "429:2,503:date:3,200", NULL, NULL);
	struct event_base *b = event_base_new();
	struct notifier *n = start(b, ci, config("ra",
		hook_yaml(r.port, "{initial: 100ms, max: 1s, jitter: 0}")));
	fire(c, "k-ra", "cert_expiry_24h", "page", NULL);
	settle(b, c, 1, 30);

	json_t *reqs = recv_requests(&r);
	cr_assert_eq(json_array_size(reqs), 3u);
	double g1 = req_t(json_array_get(reqs, 1)) - req_t(json_array_get(reqs, 0));
	double g2 = req_t(json_array_get(reqs, 2)) - req_t(json_array_get(reqs, 1));
	/* backoff alone would be 100 ms and 200 ms */
	cr_assert(g1 >= 1.99, "second attempt %.3f s after a 429 with Retry-After: 2", g1);
	cr_assert(g1 < 4, "second attempt only after %.3f s", g1);
	cr_assert(g2 >= 1.9, "third attempt %.3f s after a Retry-After date 3 s ahead", g2);
	json_decref(reqs);
	cr_assert_eq(q_int(c, "SELECT count(*) FROM notification_attempts WHERE http_status = 429 "
			   "AND retry_after_ms = 2000"), 1);
	cr_assert_eq(q_int(c, "SELECT count(*) FROM notification_attempts WHERE http_status = 503 "
			   "AND retry_after_ms BETWEEN 1000 AND 3000"), 1);
	cr_assert_eq(q_int(c, "SELECT count(*) FROM notification_deliveries WHERE state = 'delivered' "
			   "AND attempts = 3"), 1);
	notify_free(n);
	event_base_free(b);
	recv_stop(&r);
	PQfinish(c);
	free(ci);
}

Test(notify, client_errors_fail_without_retry)
{
	char *ci = new_db("notify_400");
	PGconn *c = pg(ci);
	struct recv r;
	recv_start(&r, "TW_PORT_R3", "bad", "400,200", NULL, NULL);
	struct event_base *b = event_base_new();
	struct notifier *n = start(b, ci, config("bad",
		hook_yaml(r.port, "{initial: 100ms, max: 200ms, jitter: 0}")));
	fire(c, "k-400", "sni_mismatch", "ticket", NULL);
	settle(b, c, 1, 20);
	run_for(b, 1.0); /* several backoff periods: still nothing */
	cr_assert_eq(q_int(c, "SELECT count(*) FROM notification_deliveries WHERE state = 'failed' "
			   "AND attempts = 1 AND last_status = 400 AND last_error LIKE 'HTTP 400%%'"), 1);
	cr_assert_eq(q_int(c, "SELECT count(*) FROM notification_attempts"), 1);
	json_t *reqs = recv_requests(&r);
	cr_assert_eq(json_array_size(reqs), 1u);
	json_decref(reqs);
	struct notifier_stats st;
	notify_get_stats(n, &st);
	cr_assert_eq(st.failed, 1u);
	cr_assert_eq(st.retries, 0u);
	notify_free(n);
	event_base_free(b);
	recv_stop(&r);
	PQfinish(c);
	free(ci);
}

Test(notify, receiver_down_retried_with_backoff_until_it_returns)
{
	char *ci = new_db("notify_down");
	PGconn *c = pg(ci);
	struct event_base *b = event_base_new();
	int p = port("TW_PORT_R4");
	struct notifier *n = start(b, ci, config("down",
		hook_yaml(p, "{initial: 100ms, max: 400ms, jitter: 0}")));
	fire(c, "k-down", "probe_silent", "ticket", NULL);
	run_for(b, 1.6);
	/* connection refused: attempts at ~0, 0.1, 0.3, 0.7, 1.1, 1.5 s */
	long long tries = q_int(c, "SELECT count(*) FROM notification_attempts WHERE "
				"http_status IS NULL AND error IS NOT NULL");
	cr_assert(tries >= 3 && tries <= 7, "%lld attempts while down", tries);
	cr_assert_eq(q_int(c, "SELECT count(*) FROM notification_deliveries WHERE state = 'pending'"), 1);
	/* the gaps grow (database clock): the last gap is the cap, the first the initial */
	cr_assert_eq(q_int(c, "WITH g AS (SELECT at - lag(at) OVER (ORDER BY at) AS d FROM "
			   "notification_attempts) SELECT count(*) FROM g WHERE d < interval '90 ms'"), 0);
	cr_assert_eq(q_int(c, "WITH g AS (SELECT at - lag(at) OVER (ORDER BY at) AS d FROM "
			   "notification_attempts) SELECT count(*) FROM g WHERE d > interval '390 ms'") >= 1,
		     1);
	struct recv r;
	recv_start(&r, "TW_PORT_R4", "down", "200", NULL, NULL);
	settle(b, c, 1, 10);
	cr_assert_eq(q_int(c, "SELECT count(*) FROM notification_deliveries WHERE state = 'delivered' "
			   "AND attempts = %lld + 1", q_int(c, "SELECT count(*) FROM notification_attempts "
							    "WHERE http_status IS NULL")), 1);
	json_t *reqs = recv_requests(&r);
	cr_assert_eq(json_array_size(reqs), 1u);
	json_decref(reqs);
	notify_free(n);
	event_base_free(b);
	recv_stop(&r);
	PQfinish(c);
	free(ci);
}

Test(notify, receiver_verifies_our_signature_and_rejects_a_wrong_key)
{
	char *ci = new_db("notify_sig");
	PGconn *c = pg(ci);
	struct recv r;
	recv_start(&r, "TW_PORT_R5", "sig", "200", "--reject-bad-sig", NULL);
	struct event_base *b = event_base_new();
	struct notifier *n = start(b, ci, config("sig", tw_fmt(
		"sinks:\n"
		"  - name: good\n"
		"    type: webhook\n"
		"    url: http://127.0.0.1:%d/good\n"
		"    secret: " SECRET "\n"
		"  - name: wrong-key\n"
		"    type: webhook\n"
		"    url: http://127.0.0.1:%d/wrong\n"
		"    secret: whsec_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\n"
		"delivery: {poll_interval: 50ms}\n", r.port, r.port)));
	long long oid = fire(c, "k-sig", "slo_burn_slow", "page", NULL);
	settle(b, c, 2, 20);
	cr_assert_eq(q_int(c, "SELECT count(*) FROM notification_deliveries WHERE sink = 'good' "
			   "AND state = 'delivered'"), 1);
	/* 401 from the receiver: not retried */
	cr_assert_eq(q_int(c, "SELECT count(*) FROM notification_deliveries WHERE sink = 'wrong-key' "
			   "AND state = 'failed' AND last_status = 401 AND attempts = 1"), 1);
	json_t *reqs = recv_requests(&r);
	cr_assert_eq(json_array_size(reqs), 2u);
	for (size_t i = 0; i < 2; i++) {
		json_t *q = json_array_get(reqs, i);
		bool good = strcmp(json_string_value(json_object_get(q, "path")), "/good") == 0;
		cr_assert_eq(json_is_true(json_object_get(q, "sig")), good);
		cr_assert_str_eq(req_header(q, "webhook-id"),
				 tw_fmt("tw-%lld-%s", oid, good ? "good" : "wrong-key"));
	}
	json_decref(reqs);
	notify_free(n);
	event_base_free(b);
	recv_stop(&r);
	PQfinish(c);
	free(ci);
}

/* ------------------------------------------------------------ secrets, sink payloads */

Test(notify, secrets_never_appear_in_the_log)
{
	char *ci = new_db("notify_secrets");
	PGconn *c = pg(ci);
	struct recv r;
	/* every sink first gets a 500 (retry logs), then 200 */
	recv_start(&r, "TW_PORT_R1", "secrets", "500,500,500,200", NULL, NULL);
	setenv("TW_TEST_PD_KEY", "PDROUTINGKEYSECRET0123", 1);
	const char *y = tw_fmt(
		"sinks:\n"
		"  - name: pd\n"
		"    type: pagerduty\n"
		"    url: http://127.0.0.1:%d/v2/enqueue\n"
		"    routing_key_env: TW_TEST_PD_KEY\n"
		"  - name: slack\n"
		"    type: slack\n"
		"    url: http://127.0.0.1:%d/services/T000/B000/SLACKSECRETPATH\n"
		"  - name: hook\n"
		"    type: webhook\n"
		"    url: http://127.0.0.1:%d/hook\n"
		"    secret: " SECRET "\n"
		"    headers: {Authorization: Bearer HEADERSECRETTOKEN}\n"
		"retry: {initial: 100ms, jitter: 0}\n"
		"delivery: {poll_interval: 50ms}\n", r.port, r.port, r.port);

	/* everything the notifier logs, at debug level, into a file */
	const char *logpath = work("secrets.log");
	fflush(stderr);
	int saved = dup(2);
	int fd = open(logpath, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	cr_assert_geq(fd, 0);
	dup2(fd, 2);
	close(fd);
	log_init("test_notify", TWLOG_DEBUG, false);

	struct event_base *b = event_base_new();
	struct notifier *n = start(b, ci, config("secrets", y));
	long long oid = fire(c, "k-secrets", "mtls_mass_failure", "page", NULL);
	settle(b, c, 3, 20);
	/* a config error about a secret does not show it either */
	char err[512];
	setenv("TW_TEST_BAD_SECRET", "whsec_NOTBASE64SECRET!!!", 1);
	const char *bad = work("bad.yaml");
	tw_write_file(bad, "sinks:\n  - name: h\n    type: webhook\n    url: http://127.0.0.1:1/\n"
		      "    secret_env: TW_TEST_BAD_SECRET\n");
	cr_assert_null(notify_new(b, ci, bad, err, sizeof err));
	log_error("config error: %s", err);
	notify_free(n);
	event_base_free(b);

	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	log_init("test_notify", TWLOG_WARN, false);

	char *log = tw_read_file(logpath);
	cr_assert_not_null(log);
	static const char *const secrets[] = { "PDROUTINGKEYSECRET0123", "SLACKSECRETPATH",
		"/services/T000", "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "HEADERSECRETTOKEN",
		"NOTBASE64SECRET", "Bearer" };
	for (size_t i = 0; i < sizeof secrets / sizeof *secrets; i++)
		cr_assert_null(strstr(log, secrets[i]), "the log shows \"%s\":\n%s", secrets[i], log);
	/* it does say what happened, by sink name and host */
	const char *host = tw_fmt("host 127.0.0.1:%d", r.port);
	cr_assert(strstr(log, host) && strstr(log, "sink slack") && strstr(log, "sink pd") &&
		  strstr(log, "sink hook") && strstr(log, "HTTP 500") && strstr(log, "delivered"),
		  "%s", log);
	free(log);

	/* and the secrets did go where they belong */
	json_t *reqs = recv_requests(&r);
	cr_assert_eq(json_array_size(reqs), 6u); /* 3 x 500 then 3 x 200, in some order */
	bool pd = false, slack = false, hook = false;
	for (size_t i = 0; i < json_array_size(reqs); i++) {
		json_t *q = json_array_get(reqs, i);
		const char *path = json_string_value(json_object_get(q, "path"));
		json_t *body = json_loads(json_string_value(json_object_get(q, "body")), 0, NULL);
		cr_assert_not_null(body);
		if (strcmp(path, "/v2/enqueue") == 0) {
			pd = true;
			cr_assert_str_eq(json_string_value(json_object_get(body, "routing_key")),
					 "PDROUTINGKEYSECRET0123");
			cr_assert_str_eq(json_string_value(json_object_get(body, "event_action")), "trigger");
			cr_assert_str_eq(json_string_value(json_object_get(body, "dedup_key")), "k-secrets");
			json_t *pl = json_object_get(body, "payload");
			cr_assert_str_eq(json_string_value(json_object_get(pl, "severity")), "critical");
			cr_assert_str_eq(json_string_value(json_object_get(pl, "source")),
					 "checkout-availability");
			cr_assert_not_null(json_object_get(json_object_get(pl, "custom_details"), "details"));
		} else if (strstr(path, "SLACKSECRETPATH")) {
			slack = true;
			cr_assert(strstr(json_string_value(json_object_get(body, "text")), "[FIRING]"));
		} else {
			hook = true;
			cr_assert_str_eq(req_header(q, "authorization"), "Bearer HEADERSECRETTOKEN");
			cr_assert_str_eq(req_header(q, "webhook-id"), tw_fmt("tw-%lld-hook", oid));
			cr_assert(json_is_true(json_object_get(q, "sig")));
		}
		json_decref(body);
	}
	cr_assert(pd && slack && hook);
	json_decref(reqs);
	recv_stop(&r);
	PQfinish(c);
	free(ci);
}

Test(notify, unrouted_alerts_are_marked_and_sent_nowhere)
{
	char *ci = new_db("notify_route");
	PGconn *c = pg(ci);
	struct recv r;
	recv_start(&r, "TW_PORT_R2", "route", "200", NULL, NULL);
	struct event_base *b = event_base_new();
	struct notifier *n = start(b, ci, config("route", tw_fmt(
		"sinks:\n"
		"  - name: pages\n"
		"    type: webhook\n"
		"    url: http://127.0.0.1:%d/pages\n"
		"    secret: " SECRET "\n"
		"  - name: sre\n"
		"    type: webhook\n"
		"    url: http://127.0.0.1:%d/sre\n"
		"    secret: " SECRET "\n"
		"routes:\n"
		"  - match: {severity: page}\n"
		"    sinks: pages\n"
		"    continue: true\n"
		"  - match: {labels: {team: sre}, region: eu}\n"
		"    sinks: [sre, pages]\n"
		"  - match: {rule: never}\n"
		"    sinks: sre\n"
		"delivery: {poll_interval: 50ms}\n", r.port, r.port)));
	long long page = fire(c, "k-page", "slo_burn_fast", "page", NULL);
	/* a ticket for team sre in eu: sre + pages; one with another team: nowhere */
	long long ticket = fire(c, "k-ticket", "cert_expiry_30d", "ticket", NULL);
	long long other_aid;
	long long other = fire(c, "k-other", "cert_expiry_30d", "ticket", &other_aid);
	exec_ok(c, "%s", tw_fmt("UPDATE notification_outbox SET payload = jsonb_set(payload, '{labels}', "
			  "'{\"team\": \"web\"}') WHERE id = %lld", other));
	settle(b, c, 4, 20);
	run_for(b, 0.3);
	cr_assert_eq(q_int(c, "SELECT count(*) FROM notification_outbox WHERE routed_at IS NULL"), 0);
	cr_assert_eq(q_int(c, "SELECT count(*) FROM notification_deliveries WHERE outbox_id = %lld", page), 2);
	cr_assert_eq(q_int(c, "SELECT count(*) FROM notification_deliveries WHERE outbox_id = %lld", ticket), 2);
	cr_assert_eq(q_int(c, "SELECT count(*) FROM notification_deliveries WHERE outbox_id = %lld", other), 0);
	json_t *reqs = recv_requests(&r);
	cr_assert_eq(json_array_size(reqs), 4u);
	json_decref(reqs);
	notify_free(n);
	event_base_free(b);
	recv_stop(&r);
	PQfinish(c);
	free(ci);
}

/* ------------------------------------------------------------ real Alertmanager */

struct mem {
	char *p;
	size_t n;
};

static size_t mem_cb(char *d, size_t s, size_t k, void *arg)
{
	struct mem *m = arg;
	char *np = realloc(m->p, m->n + s * k + 1);
	cr_assert_not_null(np);
	memcpy(np + m->n, d, s * k);
	m->p = np;
	m->n += s * k;
	m->p[m->n] = '\0';
	return s * k;
}

/* GET url; returns the body (malloc'd) and *status. */
static char *http_get(const char *url, long *status)
{
	struct mem m = { NULL, 0 };
	CURL *e = curl_easy_init();
	cr_assert_not_null(e);
	curl_easy_setopt(e, CURLOPT_URL, url);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, mem_cb);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, &m);
	curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, 5000L);
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	*status = 0;
	if (curl_easy_perform(e) == CURLE_OK)
		curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, status);
	curl_easy_cleanup(e);
	return m.p ? m.p : strdup("");
}

/* Alertmanager's alert with our dedup_key label, or NULL (new reference). */
static json_t *am_alert(int p, const char *dedup_key)
{
	long st;
	char *body = http_get(tw_fmt("http://127.0.0.1:%d/api/v2/alerts", p), &st);
	cr_assert_eq(st, 200, "GET /api/v2/alerts: %ld %s", st, body);
	json_t *arr = json_loads(body, 0, NULL);
	free(body);
	cr_assert(json_is_array(arr));
	json_t *found = NULL;
	for (size_t i = 0; i < json_array_size(arr); i++) {
		json_t *a = json_array_get(arr, i);
		const char *k = json_string_value(json_object_get(json_object_get(a, "labels"),
								   "dedup_key"));
		if (k && strcmp(k, dedup_key) == 0)
			found = json_incref(a);
	}
	json_decref(arr);
	return found;
}

struct am_wait {
	int port;
	const char *key;
	bool want_active;
};

static bool am_state(void *arg)
{
	struct am_wait *w = arg;
	json_t *a = am_alert(w->port, w->key);
	bool ok;
	if (w->want_active)
		ok = a && strcmp(json_string_value(json_object_get(json_object_get(a, "status"),
								     "state")) ?: "", "active") == 0;
	else
		ok = a == NULL;
	json_decref(a);
	return ok;
}

Test(notify, real_alertmanager_lists_our_alert_and_ends_it_on_resolve)
{
	const char *bin = "/usr/bin/prometheus-alertmanager";
	cr_assert(access(bin, X_OK) == 0, "%s is missing: apt-get install prometheus-alertmanager "
		  "(scripts/deps.sh)", bin);
	int p = port("TW_PORT_AM");
	const char *cfgp = work("alertmanager.yml");
	cr_assert_eq(tw_write_file(cfgp, "route:\n  receiver: blackhole\n  group_wait: 1s\n"
				   "receivers:\n  - name: blackhole\n"), 0);
	const char *storage = work("am-data");
	mkdir(storage, 0700);
	char *argv[] = { (char *)bin, (char *)tw_fmt("--config.file=%s", cfgp),
			 (char *)tw_fmt("--storage.path=%s", storage),
			 (char *)tw_fmt("--web.listen-address=127.0.0.1:%d", p),
			 (char *)"--cluster.listen-address=", (char *)"--log.level=warn", NULL };
	pid_t am = spawn(argv, work("alertmanager.log"));
	cr_assert(tw_wait_port(p, 20000), "alertmanager did not listen on %d", p);
	long st = 0;
	double end = twtime_mono_ms() + 20000;
	while (twtime_mono_ms() < end) {
		free(http_get(tw_fmt("http://127.0.0.1:%d/-/ready", p), &st));
		if (st == 200)
			break;
		tw_sleep_ms(100);
	}
	cr_assert_eq(st, 200, "alertmanager not ready");

	char *ci = new_db("notify_am");
	PGconn *c = pg(ci);
	struct event_base *b = event_base_new();
	struct notifier *n = start(b, ci, config("am", tw_fmt(
		"sinks:\n"
		"  - name: am\n"
		"    type: alertmanager\n"
		"    url: http://127.0.0.1:%d/\n"
		"delivery: {poll_interval: 50ms}\n", p)));
	long long aid;
	fire(c, "slo_burn_fast/checkout-availability/eu", "slo_burn_fast", "page", &aid);
	settle(b, c, 1, 20);
	cr_assert_eq(q_int(c, "SELECT count(*) FROM notification_deliveries WHERE state = 'delivered' "
			   "AND last_status = 200"), 1);

	struct am_wait w = { p, "slo_burn_fast/checkout-availability/eu", true };
	cr_assert(run_until(b, am_state, &w, 10), "alert not active in Alertmanager");
	json_t *a = am_alert(p, w.key);
	json_t *l = json_object_get(a, "labels");
	cr_assert_str_eq(json_string_value(json_object_get(l, "alertname")), "slo_burn_fast");
	cr_assert_str_eq(json_string_value(json_object_get(l, "severity")), "page");
	cr_assert_str_eq(json_string_value(json_object_get(l, "service")), "checkout");
	cr_assert_str_eq(json_string_value(json_object_get(l, "region")), "eu");
	cr_assert_str_eq(json_string_value(json_object_get(l, "subject")), "checkout-availability");
	cr_assert_str_eq(json_string_value(json_object_get(l, "team")), "sre");
	cr_assert_str_eq(json_string_value(json_object_get(l, "env")), "test");
	cr_assert_str_eq(json_string_value(json_object_get(json_object_get(a, "annotations"),
							   "summary")),
			 "checkout burning error budget 16x");
	cr_assert_str_eq(json_string_value(json_object_get(a, "generatorURL")),
			 tw_fmt("http://tlswatch.example/alerts/%lld", aid));
	/* endsAt far ahead (hold, 90 days): Alertmanager will not resolve it by itself */
	const char *ends = json_string_value(json_object_get(a, "endsAt"));
	cr_assert_not_null(ends);
	cr_assert(q_int(c, "SELECT ('%s'::timestamptz > now() + interval '89 days')::int", ends) == 1,
		  "endsAt %s", ends);
	json_decref(a);

	resolve(c, aid);
	settle(b, c, 2, 20);
	w.want_active = false;
	cr_assert(run_until(b, am_state, &w, 10), "alert still listed by Alertmanager after resolve");
	/* Alertmanager's API lists only alerts whose endsAt is in the future: it ended */

	notify_free(n);
	event_base_free(b);
	stop(am);
	PQfinish(c);
	free(ci);
}
