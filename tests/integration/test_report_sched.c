/*
 * test_report_sched.c - scheduled reports (collector/report_sched.c,
 * report_deliver.c, cron.c, col_config_reports.c) with injected time over
 * seeded data (test_report_env.h): a schedule fires at its time and exactly
 * once across two collectors (racing threads with sessions of their own)
 * and a restart; a time missed while no collector ran runs once, late; the
 * webhook arrives signed, the email reaches an SMTP sink on loopback with
 * the PDF intact; a failed delivery is retried with backoff and counted on
 * /metrics.
 */
#define _GNU_SOURCE
#include "test_report_env.h"
#include "cmd.h"
#include "col_config.h"
#include "col_config_reports.h"
#include "report_sched.h"

#include <cairo.h>
#include <fontconfig/fontconfig.h>
#include <jansson.h>
#include <pthread.h>

TestSuite(report_sched, .timeout = 240);

static const char HOOK_SECRET[] = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

struct sched {
	struct rep t;
	struct col_config *cfg;
	struct slo_config *slo;
	struct report_sched_opts o;
};

static void sched_setup(struct sched *s, const char *name, const char *extra)
{
	char yaml[2048];
	snprintf(yaml, sizeof yaml,
		 "reports:\n"
		 "  - name: weekly\n"
		 "    schedule: \"0 8 * * MON Europe/Berlin\"\n"
		 "    period: 7d\n"
		 "    formats: %s\n"
		 "    out_dir: %s/%s\n"
		 "%s", extra ? "pdf,json" : "json,md", env("TW_WORK"), name, extra ? extra : "");
	rep_setup(&s->t, name, true, yaml);
	char err[1024];
	s->cfg = col_config_load(s->t.yaml, err, sizeof err);
	cr_assert(s->cfg, "%s", err);
	s->slo = slo_config_load(s->cfg->slo_file, err, sizeof err);
	cr_assert(s->slo, "%s", err);
	s->o = (struct report_sched_opts){
		.reports = s->cfg->reports, .slo = s->slo, .collector_id = "c1",
		.retention_days = 30, .late_after_ms = 90000, .lease_ms = 30 * 60000,
	};
}

static void sched_teardown(struct sched *s)
{
	PQfinish(s->t.c);
	slo_config_free(s->slo);
	col_config_free(s->cfg);
	/* the rendering's font caches (as cmd_report.c does at exit): under
	 * SANITIZE=1 the leak checker then sees only our own allocations */
	cairo_debug_reset_static_data();
	FcFini();
}

static PGconn *session(struct sched *s)
{
	PGconn *c = PQconnectdb(s->t.conninfo);
	cr_assert(PQstatus(c) == CONNECTION_OK, "%s", PQerrorMessage(c));
	char err[256];
	cr_assert_eq(evaluator_prepare_conn(c, err, sizeof err), 0, "%s", err);
	return c;
}

static struct report_sched_result tick(struct sched *s, PGconn *c, const char *at)
{
	int64_t now;
	cr_assert_eq(cmd_parse_time(at, &now), 0, "%s", at);
	struct report_sched_result r;
	char err[1024];
	cr_assert_eq(report_sched_tick(c, &s->o, now, &r, err, sizeof err), 0, "tick at %s: %s", at,
		     err);
	return r;
}

Test(report_sched, fires_at_its_time_once_across_collectors_and_a_restart)
{
	struct sched s;
	sched_setup(&s, "rs_once", NULL);
	PGconn *c1 = session(&s), *c2 = session(&s);
	/* Monday 2026-03-02 08:00 in Berlin is 07:00Z (CET) */
	cr_assert_eq(tick(&s, c1, "2026-03-02T06:00:00Z").runs, 0);
	cr_assert_eq(tick(&s, c1, "2026-03-02T06:59:59Z").runs, 0);
	struct report_sched_result r = tick(&s, c1, "2026-03-02T07:00:30Z");
	cr_assert_eq(r.runs, 1);
	cr_assert_eq(r.late, 0);
	cr_assert_eq(r.failed, 0);
	/* the other collector, then a restarted one, at the same time: nothing */
	s.o.collector_id = "c2";
	cr_assert_eq(tick(&s, c2, "2026-03-02T07:00:45Z").runs, 0);
	PQfinish(c1);
	c1 = session(&s);
	cr_assert_eq(tick(&s, c1, "2026-03-02T07:05:00Z").runs, 0);
	cr_assert_eq(q_int(s.t.c, "SELECT count(*) FROM report_runs"), 1);
	cr_assert_eq(q_int(s.t.c, "SELECT count(*) FROM report_runs WHERE state = 'done' AND NOT late "
				  "AND collector_id = 'c1' AND scheduled_at = '2026-03-02T07:00Z'"), 1);
	/* the report covers the 7 days before the scheduled time */
	json_error_t je;
	json_t *j = json_load_file(tw_fmt("%s/rs_once/tlswatch-report-7d-2026-03-02.json",
					  env("TW_WORK")), 0, &je);
	cr_assert(j, "%s", je.text);
	cr_assert_str_eq(json_string_value(json_object_get(json_object_get(j, "period"), "to")),
			 "2026-03-02T07:00:00.000Z");
	json_decref(j);
	PQfinish(c1);
	PQfinish(c2);
	sched_teardown(&s);
}

struct racer {
	struct sched *s;
	PGconn *c;
	const char *id;
	int64_t now;
	pthread_barrier_t *go;
	struct report_sched_result r;
	int rc;
	char err[1024];
};

static void *race(void *arg)
{
	struct racer *x = arg;
	struct report_sched_opts o = x->s->o;
	o.collector_id = x->id;
	pthread_barrier_wait(x->go);
	x->rc = report_sched_tick(x->c, &o, x->now, &x->r, x->err, sizeof x->err);
	return NULL;
}

Test(report_sched, two_collectors_racing_for_one_time_run_it_once)
{
	struct sched s;
	sched_setup(&s, "rs_race", NULL);
	PGconn *c = session(&s);
	cr_assert_eq(tick(&s, c, "2026-03-02T06:00:00Z").runs, 0);
	PQfinish(c);
	pthread_barrier_t go;
	pthread_barrier_init(&go, NULL, 2);
	struct racer x[2];
	pthread_t th[2];
	for (int i = 0; i < 2; i++) {
		x[i] = (struct racer){ .s = &s, .c = session(&s), .id = i ? "c2" : "c1", .go = &go };
		cr_assert_eq(cmd_parse_time("2026-03-02T07:00:10Z", &x[i].now), 0);
		cr_assert_eq(pthread_create(&th[i], NULL, race, &x[i]), 0);
	}
	for (int i = 0; i < 2; i++) {
		pthread_join(th[i], NULL);
		cr_assert_eq(x[i].rc, 0, "%s", x[i].err);
		PQfinish(x[i].c);
	}
	pthread_barrier_destroy(&go);
	cr_assert_eq(x[0].r.runs + x[1].r.runs, 1, "runs: %d + %d", x[0].r.runs, x[1].r.runs);
	cr_assert_eq(q_int(s.t.c, "SELECT count(*) FROM report_runs"), 1);
	sched_teardown(&s);
}

Test(report_sched, a_missed_time_runs_once_late_when_a_leader_is_back)
{
	struct sched s;
	sched_setup(&s, "rs_late", NULL);
	PGconn *c = session(&s);
	cr_assert_eq(tick(&s, c, "2026-03-02T06:00:00Z").runs, 0);
	/* every collector down for three weeks: 03-02, 03-09, 03-16 and 03-23 07:00Z passed */
	struct report_sched_result r = tick(&s, c, "2026-03-23T09:00:00Z");
	cr_assert_eq(r.runs, 1);
	cr_assert_eq(r.late, 1);
	cr_assert_eq(r.missed, 3);
	cr_assert_eq(q_int(s.t.c, "SELECT count(*) FROM report_runs WHERE late AND missed = 3 "
				  "AND scheduled_at = '2026-03-23T07:00Z'"), 1);
	cr_assert_eq(tick(&s, c, "2026-03-23T09:01:00Z").runs, 0);
	/* the next Monday is summer time: 08:00 CEST = 06:00Z, on time */
	cr_assert_eq(tick(&s, c, "2026-03-30T05:59:00Z").runs, 0);
	r = tick(&s, c, "2026-03-30T06:00:20Z");
	cr_assert_eq(r.runs, 1);
	cr_assert_eq(r.late, 0);
	cr_assert_eq(q_int(s.t.c, "SELECT count(*) FROM report_runs WHERE NOT late "
				  "AND scheduled_at = '2026-03-30T06:00Z'"), 1);
	PQfinish(c);
	sched_teardown(&s);
}

Test(report_sched, a_run_left_running_by_a_dead_leader_is_taken_over)
{
	struct sched s;
	sched_setup(&s, "rs_takeover", NULL);
	PGconn *c = session(&s);
	cr_assert_eq(tick(&s, c, "2026-03-02T06:00:00Z").runs, 0);
	/* a leader claimed 07:00 and died before finishing */
	exec_ok(s.t.c, "INSERT INTO report_runs (schedule, scheduled_at, state, collector_id, "
		       "started_at) VALUES ('weekly', '2026-03-02T07:00Z', 'running', 'dead', "
		       "'2026-03-02T07:00:05Z')");
	cr_assert_eq(tick(&s, c, "2026-03-02T07:10:00Z").runs, 0, "inside its lease");
	cr_assert_eq(tick(&s, c, "2026-03-02T07:40:00Z").runs, 1, "after the lease");
	cr_assert_eq(q_int(s.t.c, "SELECT count(*) FROM report_runs WHERE state = 'done' "
				  "AND attempts = 2 AND collector_id = 'c1'"), 1);
	PQfinish(c);
	sched_teardown(&s);
}

/* ---- delivery ---- */

static int port_of(const char *var)
{
	return (int)strtol(env(var), NULL, 10);
}

/* The webhook receiver of tests/harness, answering `script`. */
static pid_t start_webhook(const char *dir, const char *portvar, const char *script)
{
	char rx[600], logp[600], port[16];
	snprintf(rx, sizeof rx, "%s/webhook_receiver.py", env("TW_HARNESS"));
	snprintf(logp, sizeof logp, "%s/hook.jsonl", dir);
	snprintf(port, sizeof port, "%d", port_of(portvar));
	char *argv[] = { "/usr/bin/python3", rx, "--port", port, "--log", logp, "--script",
			 (char *)script, "--secret", (char *)HOOK_SECRET, NULL };
	pid_t p = tw_spawn(argv, tw_fmt("%s/hook.log", dir));
	cr_assert(p > 0);
	cr_assert(tw_wait_port(port_of(portvar), 10000), "the webhook receiver did not start");
	return p;
}

/* Debian's aiosmtpd saving every message into the maildir DIR/mail
 * (test_report_smtp.py: it exits with this test process). */
static pid_t start_smtp(const char *dir, const char *portvar)
{
	char py[700], port[16], maildir[700];
	snprintf(py, sizeof py, "%s/test_report_smtp.py", env("TW_TESTS"));
	snprintf(port, sizeof port, "%d", port_of(portvar));
	snprintf(maildir, sizeof maildir, "%s/mail", dir);
	char *argv[] = { "/usr/bin/python3", py, port, maildir, NULL };
	pid_t p = tw_spawn(argv, tw_fmt("%s/smtp.log", dir));
	cr_assert(p > 0);
	cr_assert(tw_wait_port(port_of(portvar), 10000), "the SMTP sink did not start");
	return p;
}

static const char *delivery_yaml(const char *hookport, const char *smtpport)
{
	return tw_fmt("    webhook:\n"
		      "      url: http://127.0.0.1:%d/hook\n"
		      "      secret: %s\n"
		      "    email:\n"
		      "      smtp_url: smtp://127.0.0.1:%d\n"
		      "      from: tlswatch@example.com\n"
		      "      to: [vp@example.com, cto@example.com]\n",
		      port_of(hookport), HOOK_SECRET, port_of(smtpport));
}

Test(report_sched, webhook_signed_and_email_with_the_pdf_intact)
{
	struct sched s;
	char dir[600];
	snprintf(dir, sizeof dir, "%s/rs_deliver", env("TW_WORK"));
	sched_setup(&s, "rs_deliver", delivery_yaml("TW_HOOK_PORT1", "TW_SMTP_PORT1"));
	pid_t hook = start_webhook(dir, "TW_HOOK_PORT1", "200");
	pid_t smtp = start_smtp(dir, "TW_SMTP_PORT1");
	PGconn *c = session(&s);
	cr_assert_eq(tick(&s, c, "2026-03-02T06:00:00Z").runs, 0);
	struct report_sched_result r = tick(&s, c, "2026-03-02T07:00:30Z");
	cr_assert_eq(r.runs, 1);
	cr_assert_eq(r.delivered, 2, "delivered %d, errors %d", r.delivered, r.delivery_errors);
	cr_assert_eq(q_int(s.t.c, "SELECT count(*) FROM report_deliveries WHERE state = 'delivered'"),
		     2);

	/* the webhook: one signed request carrying the summary */
	char *log = tw_read_file(tw_fmt("%s/hook.jsonl", dir));
	cr_assert(log);
	json_error_t je;
	json_t *req = json_loads(log, JSON_DISABLE_EOF_CHECK, &je);
	cr_assert(req, "%s: %s", je.text, log);
	cr_assert(json_is_true(json_object_get(req, "sig")), "bad signature: %s", log);
	json_t *body = json_loads(json_string_value(json_object_get(req, "body")), 0, &je);
	cr_assert(body, "%s", je.text);
	cr_assert_str_eq(json_string_value(json_object_get(body, "type")), "report.ready");
	json_t *data = json_object_get(body, "data");
	cr_assert_str_eq(json_string_value(json_object_get(data, "schedule")), "weekly");
	json_t *slo0 = json_array_get(json_object_get(json_object_get(data, "summary"), "slos"), 0);
	cr_assert_str_eq(json_string_value(json_object_get(slo0, "name")), "shop-availability");
	json_decref(body);
	json_decref(req);
	free(log);

	/* the email: to both, the PDF byte for byte */
	char py[700], out[700], mail[700];
	snprintf(py, sizeof py, "%s/test_report_mail.py", env("TW_TESTS"));
	snprintf(out, sizeof out, "%s/attached.pdf", dir);
	snprintf(mail, sizeof mail, "%s/mail", dir);
	char *argv[] = { "/usr/bin/python3", py, mail, out, NULL };
	cr_assert_eq(rep_exec(argv, tw_fmt("%s/mail.txt", dir), 30000), 0);
	char *listing = tw_read_file(tw_fmt("%s/mail.txt", dir));
	cr_assert(listing);
	cr_assert(strstr(listing, "to=vp@example.com, cto@example.com"), "%s", listing);
	/* the period before 07:00Z: 161 h of the quiet week (eu, 100/h, no failure) and the
	 * first 7 h of the seeded one (eu 2 and us 10 failures an hour): 84 of 17500 */
	cr_assert(strstr(listing, "shop-availability: 99.520% (objective 99.5%), met"), "%s",
		  listing);
	cr_assert(strstr(listing, "subject=TLS report weekly (7d, scheduled 2026-03-02T07:00:00Z)"),
		  "%s", listing);
	free(listing);
	char *sent = tw_read_file(tw_fmt("%s/tlswatch-report-7d-2026-03-02.pdf", dir));
	char *got = tw_read_file(out);
	cr_assert(sent && got);
	struct stat a, b;
	cr_assert(stat(out, &a) == 0 && stat(tw_fmt("%s/tlswatch-report-7d-2026-03-02.pdf", dir), &b)
		  == 0);
	cr_assert(a.st_size == b.st_size && a.st_size > 1000, "sizes %lld vs %lld",
		  (long long)a.st_size, (long long)b.st_size);
	FILE *fa = fopen(out, "rb"), *fb = fopen(tw_fmt("%s/tlswatch-report-7d-2026-03-02.pdf", dir),
						  "rb");
	cr_assert(fa && fb);
	for (int ca, cb; (ca = fgetc(fa)) != EOF;) {
		cb = fgetc(fb);
		cr_assert_eq(ca, cb, "the attachment differs from the PDF");
	}
	fclose(fa);
	fclose(fb);
	free(sent);
	free(got);
	tw_stop(smtp, SIGTERM, 5000);
	tw_stop(hook, SIGTERM, 5000);
	PQfinish(c);
	sched_teardown(&s);
}

Test(report_sched, a_failed_delivery_is_retried_and_counted)
{
	struct sched s;
	char dir[600];
	snprintf(dir, sizeof dir, "%s/rs_retry", env("TW_WORK"));
	/* no SMTP server on the email port: every attempt fails */
	sched_setup(&s, "rs_retry", delivery_yaml("TW_HOOK_PORT2", "TW_SMTP_PORT2"));
	pid_t hook = start_webhook(dir, "TW_HOOK_PORT2", "500,200");
	PGconn *c = session(&s);
	s.o.max_attempts = 2;
	cr_assert_eq(tick(&s, c, "2026-03-02T06:00:00Z").runs, 0);
	struct report_sched_result r = tick(&s, c, "2026-03-02T07:00:30Z");
	cr_assert_eq(r.runs, 1);
	cr_assert_eq(r.delivered, 0);
	cr_assert_eq(r.delivery_errors, 2);
	cr_assert_eq(q_int(s.t.c, "SELECT count(*) FROM report_deliveries WHERE state = 'pending' "
				  "AND attempts = 1 AND next_attempt_at > '2026-03-02T07:00:50Z'"), 2);
	/* not due yet (backoff 30 s less up to 20% jitter) */
	r = tick(&s, c, "2026-03-02T07:00:40Z");
	cr_assert_eq(r.delivered + r.delivery_errors, 0);
	r = tick(&s, c, "2026-03-02T07:02:00Z");
	cr_assert_eq(r.delivered, 1, "the webhook's second attempt gets 200");
	cr_assert_eq(r.delivery_errors, 1);
	cr_assert_eq(r.delivery_given_up, 1, "email: out of attempts");
	cr_assert_eq(q_int(s.t.c, "SELECT count(*) FROM report_deliveries WHERE kind = 'email' "
				  "AND state = 'failed' AND last_error LIKE 'email: %%'"), 1);
	/* visible on /metrics */
	struct evbuffer *b = evbuffer_new();
	report_sched_metrics_render(b);
	size_t n = evbuffer_get_length(b);
	char *text = calloc(1, n + 1);
	evbuffer_copyout(b, text, n);
	evbuffer_free(b);
	cr_assert(strstr(text, "tlswatch_report_delivery_errors_total 3\n"), "%s", text);
	cr_assert(strstr(text, "tlswatch_report_deliveries_failed_total 1\n"), "%s", text);
	cr_assert(strstr(text, "tlswatch_report_deliveries_total 1\n"), "%s", text);
	cr_assert(strstr(text, "tlswatch_report_runs_total 1\n"), "%s", text);
	free(text);
	tw_stop(hook, SIGTERM, 5000);
	PQfinish(c);
	sched_teardown(&s);
}

Test(report_sched, bad_schedules_are_config_errors_with_their_position)
{
	static const struct {
		const char *yaml, *want;
	} cases[] = {
		{ "    schedule: \"61 8 * * MON\"\n    period: 7d\n    out_dir: /tmp\n",
		  ":6:15: reports[0].schedule: minute: 61 is out of range 0-59" },
		{ "    schedule: \"0 8 * * MON Mars/Olympus\"\n    period: 7d\n    out_dir: /tmp\n",
		  "reports[0].schedule: time zone \"Mars/Olympus\": cannot read" },
		{ "    schedule: \"@weekly\"\n    period: 8d\n    out_dir: /tmp\n",
		  ":7:13: reports[0].period: expected 1d, 7d, 30d or 90d" },
		{ "    schedule: \"@weekly\"\n    period: 7d\n    out_dir: /tmp\n    formats: html,doc\n",
		  "reports[0].formats: unknown format \"doc\"" },
		{ "    schedule: \"@weekly\"\n    period: 7d\n    out_dir: /tmp\n    formats: html\n"
		  "    email: {smtp_url: \"smtp://x\", from: a@b.c, to: d@e.f}\n",
		  "the email carries the PDF: add pdf to formats" },
		{ "    schedule: \"@weekly\"\n    period: 7d\n    out_dir: /tmp\n"
		  "    webhook: {url: \"http://x\", secret: \"not base64!\"}\n",
		  "reports[0].webhook.secret: expected whsec_" },
		{ "    schedule: \"@weekly\"\n    period: 7d\n    out_dir: /tmp\n"
		  "    email: {smtp_url: \"smtp://x\", from: a@b.c, to: \"x <y@z>\"}\n",
		  "reports[0].email.to[0]: expected an address" },
		{ "    schedule: \"@weekly\"\n    period: 7d\n    out_dir: /tmp\n",
		  ":5:3: reports: schedules run on the alert leader: add an alerting: section" },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		const char *path = tw_fmt("%s/bad%zu.yaml", env("TW_WORK"), i);
		cr_assert(tw_write_file(path, tw_fmt("listen: 127.0.0.1:1\n"
						      "tls: {ca_file: a, cert_file: b, key_file: c}\n"
						      "database: {conninfo: \"host=x\"}\n"
						      "reports:\n"
						      "  - name: w\n%s", cases[i].yaml)) == 0);
		char err[1024] = "";
		struct col_config *cfg = col_config_load(path, err, sizeof err);
		cr_assert_null(cfg, "case %zu loaded", i);
		cr_assert(strstr(err, cases[i].want), "case %zu: \"%s\" does not say \"%s\"", i, err,
			  cases[i].want);
	}
}
