/*
 * test_alerts.c - the alert lifecycle module (collector/alerts.h) on its
 * own, against a real PostgreSQL (tests/integration/test_alerts.sh): what it
 * builds at run time (the rules list of every evaluation) has no size limit,
 * and what an observation carries reaches the alert row and the outbox
 * payload intact, however long.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>
#include <jansson.h>
#include <libpq-fe.h>

#include "alerts.h"
#include "db.h"
#include "proc.h"
#include "sql_migrations.h"

TestSuite(alerts, .timeout = 120);

#define T0 1795521600000LL           /* 2026-11-24T12:00:00Z */

static PGconn *new_db(const char *name)
{
	PGconn *c = tw_pg(NULL);
	cr_assert(c, "run through tests/integration/test_alerts.sh");
	cr_assert_eq(tw_pg_exec(c, tw_fmt("CREATE DATABASE %s", name)), 0);
	PQfinish(c);
	char err[512] = "";
	const char *ci = tw_fmt("%s dbname=%s", getenv("TW_PG_CONNINFO"), name);
	cr_assert_eq(db_migrate(ci, err, sizeof err), (int)sql_migrations_count, "%s", err);
	c = tw_pg(name);
	cr_assert(c);
	return c;
}

/* 60 rules with 205-character names (a 12 KiB rules list), each observed
 * with 4 KiB of labels and evaluated twice: every alert fires once, keeps its
 * labels byte for byte in the row and in the webhook payload, and the second
 * evaluation (which locks the open alerts of all 60 rules by name) finds
 * every one of them. */
Test(alerts, long_rule_names_and_labels_have_no_size_limit)
{
	PGconn *c = new_db("alerts_long");
	enum { NRULES = 60 };
	char rules[NRULES][256], keys[NRULES][300];
	json_t *labels = json_object();
	char big[4097];
	memset(big, 'x', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	cr_assert_eq(json_object_set_new(labels, "long", json_string(big)), 0);
	cr_assert_eq(json_object_set_new(labels, "quote\"and\\backslash", json_string("v")), 0);
	for (int i = 0; i < NRULES; i++) {
		/* quotes and backslashes in names exercise the array escaping */
		snprintf(rules[i], sizeof rules[i], "rule_%02d_\"q\"_\\b_%0190d", i, 0);
		snprintf(keys[i], sizeof keys[i], "%s|subject|all", rules[i]);
	}
	for (int pass = 0; pass < 2; pass++) {
		char err[512] = "";
		struct alerts_run *run = alerts_begin(c, T0 + pass * 60000LL, NULL, err, sizeof err);
		cr_assert(run, "%s", err);
		for (int i = 0; i < NRULES; i++) {
			struct alert_obs o = {
				.rule = rules[i], .dedup_key = keys[i], .severity = "ticket",
				.subject = "subject", .labels = labels, .summary = "long",
				.value = i, .for_evals = 1, .resolve_after = 1,
			};
			cr_assert_eq(alerts_observe(run, &o, err, sizeof err), 0, "%s", err);
		}
		int changes = -1;
		cr_assert_eq(alerts_commit(run, &changes, err, sizeof err), 0, "%s", err);
		/* first pass: new + fired per alert; second: still firing, no change */
		cr_assert_eq(changes, pass == 0 ? 2 * NRULES : 0, "pass %d: %d changes", pass, changes);
	}
	cr_assert_eq(tw_pg_ll(c, "SELECT count(*) FROM alerts WHERE state = 'firing'"), NRULES);
	cr_assert_eq(tw_pg_ll(c, "SELECT count(*) FROM alerts WHERE length(rule) = 205"), NRULES);
	cr_assert_eq(tw_pg_ll(c, "SELECT count(*) FROM alerts WHERE length(labels->>'long') = 4096 "
				 "AND labels->>'quote\"and\\backslash' = 'v'"), NRULES);
	cr_assert_eq(tw_pg_ll(c, "SELECT count(*) FROM notification_outbox o JOIN alerts a "
				 "ON a.id = o.alert_id WHERE o.payload->'labels' = a.labels "
				 "AND o.payload->>'rule' = a.rule"), NRULES);
	json_decref(labels);
	PQfinish(c);
}
