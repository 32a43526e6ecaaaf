/*
 * test_alerts_regions.c - an alert names the regions that see the problem
 * (issue 10: "regions: all" for a problem seen only in ap-south), end to
 * end: results in the database, one evaluation exactly as the leader runs
 * it (evaluator_run_once), the notifier delivering to a real HTTP receiver
 * (tests/harness/webhook_receiver.py) as a signed webhook, a Slack message
 * and an Alertmanager alert, and the resolve naming the same region. Run
 * through tests/integration/test_alerts_regions.sh.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>
#include <event2/event.h>
#include <jansson.h>
#include <libpq-fe.h>

#include "evaluator.h"
#include "notify_env.h"
#include "slo_config.h"

TestSuite(alerts_regions, .timeout = 120, .fini = stop_all);

/* 2026-11-24T12:00:00Z */
#define T0_S 1795521600LL

/* A handshake of x.example at T0 + at_s from region with leaf fp, valid
 * until T0 + na_days. */
static void served(PGconn *c, long long seq, const char *region, double at_s, const char *fp,
		   double na_days)
{
	exec_ok(c, "INSERT INTO results (probe_id, seq, region, started_at, received_at, target, "
		   "port, profile, outcome, tls_version, fingerprint_sha256, cert_not_after) VALUES "
		   "('p-%s', %lld, '%s', to_timestamp(%.3f), to_timestamp(%.3f), 'x.example', 443, "
		   "'modern', 'ok', 'TLSv1.3', '%s', to_timestamp(%.3f))", region, seq, region,
		T0_S + at_s, T0_S + at_s, fp, T0_S + na_days * 86400.0);
}

static void evaluate(PGconn *c, const struct slo_config *cfg, double at_s)
{
	struct evaluator_run_opts o = { .collector_id = "regions-test",
					.generator_url = "https://tw.example" };
	struct evaluator_result res;
	char err[1024] = "";
	cr_assert_eq(evaluator_run_once(c, cfg, (int64_t)((T0_S + at_s) * 1000), &o, &res, err,
					sizeof err), 0, "%s", err);
}

/* The requests of one path, in order. */
static json_t *bodies(json_t *reqs, const char *path)
{
	json_t *out = json_array(), *req;
	size_t i;
	json_array_foreach(reqs, i, req) {
		if (strcmp(json_string_value(json_object_get(req, "path")), path))
			continue;
		json_t *b = json_loads(json_string_value(json_object_get(req, "body")), 0, NULL);
		cr_assert(b, "%s", json_string_value(json_object_get(req, "body")));
		json_array_append_new(out, b);
	}
	return out;
}

Test(alerts_regions, a_problem_seen_in_one_region_names_that_region)
{
	char *ci = new_db("alerts_regions");
	PGconn *c = pg(ci);
	struct slo_config *cfg = slo_config_new_default();
	cr_assert(cfg);
	/* ap-south still serves the certificate that expires in 5 days; eu-west
	 * and us-east already serve its successor */
	served(c, 1, "ap-south", -60, "old", 5);
	served(c, 2, "eu-west", -60, "new", 300);
	served(c, 3, "us-east", -60, "new", 300);
	evaluate(c, cfg, 0);
	cr_assert_eq(q_int(c, "SELECT count(*) FROM alerts WHERE state = 'firing' AND "
			      "regions = '{ap-south}'"), 2, "the 30d and 7d tickets");

	struct recv r;
	recv_start(&r, "TW_PORT_R1", "regions", "200", NULL, NULL);
	struct event_base *b = event_base_new();
	struct notifier *n = start(b, ci, config("regions", tw_fmt(
		"sinks:\n"
		"  - name: hook\n"
		"    type: webhook\n"
		"    url: http://127.0.0.1:%d/hook\n"
		"    secret: " SECRET "\n"
		"  - name: slack\n"
		"    type: slack\n"
		"    url: http://127.0.0.1:%d/slack\n"
		"  - name: am\n"
		"    type: alertmanager\n"
		"    url: http://127.0.0.1:%d/am\n"
		"retry: {initial: 100ms, jitter: 0}\n"
		"delivery: {poll_interval: 50ms}\n", r.port, r.port, r.port)));
	settle(b, c, 6, 20);

	json_t *reqs = recv_requests(&r);
	json_t *hooks = bodies(reqs, "/hook"), *slack = bodies(reqs, "/slack"), *am = bodies(reqs, "/am/api/v2/alerts");
	cr_assert_eq(json_array_size(hooks), 2);
	json_t *h;
	size_t i;
	json_array_foreach(hooks, i, h) {
		json_t *d = json_object_get(h, "data");
		cr_assert_str_eq(json_string_value(json_object_get(d, "region_group")), "ap-south");
		json_t *regs = json_object_get(d, "regions");
		cr_assert_eq(json_array_size(regs), 1);
		cr_assert_str_eq(json_string_value(json_array_get(regs, 0)), "ap-south");
		cr_assert_str_eq(json_string_value(json_object_get(json_object_get(d, "labels"),
								   "regions")), "ap-south");
		cr_assert_str_eq(json_string_value(json_object_get(json_object_get(d, "annotations"),
								   "regions")), "ap-south");
		cr_assert(strstr(json_string_value(json_object_get(d, "summary")), "served in ap-south"));
		cr_assert_str_eq(json_string_value(json_object_get(d, "action")), "trigger");
	}
	json_array_foreach(slack, i, h) {
		char *s = json_dumps(h, 0);
		cr_assert(strstr(s, "region: ap-south") && !strstr(s, "region: all"), "%s", s);
		free(s);
	}
	json_array_foreach(am, i, h) {
		json_t *labels = json_object_get(json_array_get(h, 0), "labels");
		cr_assert_str_eq(json_string_value(json_object_get(labels, "region")), "ap-south");
	}
	cr_assert_eq(json_array_size(slack) + json_array_size(am), 4);
	json_decref(hooks);
	json_decref(slack);
	json_decref(am);
	json_decref(reqs);

	/* ap-south rotates too: the tickets resolve after 3 clean evaluations,
	 * and the resolve names the region the trigger named */
	served(c, 4, "ap-south", 90, "new", 300);
	for (int k = 1; k <= 3; k++)
		evaluate(c, cfg, 120 + 60 * k);
	cr_assert_eq(q_int(c, "SELECT count(*) FROM alerts WHERE state = 'resolved'"), 2);
	settle(b, c, 12, 20);
	reqs = recv_requests(&r);
	hooks = bodies(reqs, "/hook");
	cr_assert_eq(json_array_size(hooks), 4);
	for (i = 2; i < 4; i++) {
		json_t *d = json_object_get(json_array_get(hooks, i), "data");
		cr_assert_str_eq(json_string_value(json_object_get(d, "action")), "resolve");
		cr_assert_str_eq(json_string_value(json_object_get(d, "region_group")), "ap-south");
	}
	json_decref(hooks);
	json_decref(reqs);
	notify_free(n);
	event_base_free(b);
	recv_stop(&r);
	slo_config_free(cfg);
	PQfinish(c);
	free(ci);
}
