/*
 * test_collector_cli.c - the one-shot subcommands of tlswatch-collector
 * (collector/cmd_migrate.c, cmd_evaluate.c, cmd_maintenance.c) run as real
 * processes against a real PostgreSQL: their --help, their output and exit
 * status, and how migrate behaves next to sessions holding advisory locks.
 */
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <criterion/criterion.h>
#include <jansson.h>
#include <libpq-fe.h>

#include "db_schema.h"
#include "evaluator.h"
#include "proc.h"

TestSuite(collector_cli, .timeout = 120);

static const char *penv(const char *k)
{
	const char *v = getenv(k);
	cr_assert(v && *v, "%s is not set (run through tests/integration/test_collector_cli.sh)", k);
	return v;
}

struct cli {
	char dir[512], yaml[600], conninfo[1024];
};

/* A fresh database `name` and a collector.yaml pointing at it; extra_conn
 * is appended to the conninfo (e.g. libpq options). */
static void cli_setup(struct cli *t, const char *name, const char *extra_conn)
{
	snprintf(t->dir, sizeof t->dir, "%s/%s", penv("TW_WORK"), name);
	cr_assert(mkdir(t->dir, 0700) == 0);
	PGconn *admin = tw_pg(NULL);
	cr_assert(admin);
	cr_assert(tw_pg_exec(admin, tw_fmt("CREATE DATABASE %s", name)) == 0);
	PQfinish(admin);
	snprintf(t->conninfo, sizeof t->conninfo, "%s dbname=%s", penv("TW_PG_CONNINFO"), name);
	snprintf(t->yaml, sizeof t->yaml, "%s/collector.yaml", t->dir);
	cr_assert(tw_write_file(t->yaml, tw_fmt(
		"listen: 127.0.0.1:1\n"
		"tls:\n"
		"  ca_file: ca.pem\n"
		"  cert_file: c.pem\n"
		"  key_file: c.key\n"
		"database:\n"
		"  conninfo: \"%s%s\"\n"
		"alerting:\n"
		"  collector_id: cli-test\n", t->conninfo, extra_conn ? extra_conn : "")) == 0);
}

struct run {
	int status;          /* exit code, or -1 when it had to be killed */
	char *out;           /* stdout + stderr (malloc'd) */
};

/* Runs tlswatch-collector with args (NULL-terminated, at most 16) and waits
 * at most timeout_ms; a process still running then is killed (status -1). */
static struct run cli_run(struct cli *t, int timeout_ms, const char *const *args)
{
	static int seq;
	char *argv[20];
	int n = 0;
	argv[n++] = (char *)tw_fmt("%s/tlswatch-collector", penv("TW_BUILD"));
	for (; args[n - 1] && n < 18; n++)
		argv[n] = (char *)args[n - 1];
	argv[n] = NULL;
	char logp[700];
	snprintf(logp, sizeof logp, "%s/run%d.log", t->dir, seq++);
	pid_t pid = tw_spawn(argv, logp);
	cr_assert(pid > 0);
	struct run r = { .status = -1 };
	int st = tw_wait_exit(pid, timeout_ms);
	if (st == -1)
		tw_stop(pid, SIGKILL, 5000);
	else if (WIFEXITED(st))
		r.status = WEXITSTATUS(st);
	r.out = tw_read_file(logp);
	cr_assert(r.out);
	/* under SANITIZE=1 the command's own reports land in its log, not ours */
	cr_assert(!strstr(r.out, "Sanitizer") && !strstr(r.out, "runtime error:"),
		  "sanitizer report from %s:\n%s", args[0], r.out);
	return r;
}

#define ARGS(...) ((const char *const[]){ __VA_ARGS__, NULL })

/* A session holding a session-level advisory lock (class, key). */
static PGconn *hold_lock(const char *conninfo, int cls, int key)
{
	PGconn *c = PQconnectdb(conninfo);
	cr_assert(PQstatus(c) == CONNECTION_OK, "%s", PQerrorMessage(c));
	cr_assert(tw_pg_exec(c, tw_fmt("SELECT pg_advisory_lock(%d, %d)", cls, key)) == 0);
	return c;
}

/* The defect: migrate took the advisory lock the evaluator leader holds for
 * its whole session, so it hung for as long as any collector was the leader. */
Test(collector_cli, migrate_finishes_while_a_collector_holds_the_evaluator_lock)
{
	struct cli t;
	cli_setup(&t, "cli_leader", NULL);
	PGconn *leader = hold_lock(t.conninfo, EVALUATOR_LOCK_CLASS, EVALUATOR_LOCK_KEY);
	struct run r = cli_run(&t, 30000, ARGS("migrate", "-c", t.yaml));
	cr_assert_eq(r.status, 0, "migrate did not finish while the evaluator lock was held "
		     "(status %d):\n%s", r.status, r.out);
	cr_assert(strstr(r.out, "migrations applied"), "%s", r.out);
	/* and a second run, still next to the leader, applies nothing */
	free(r.out);
	r = cli_run(&t, 30000, ARGS("migrate", "-c", t.yaml));
	cr_assert_eq(r.status, 0, "%s", r.out);
	cr_assert(strstr(r.out, "migrate: 0 migrations applied"), "%s", r.out);
	free(r.out);
	PQfinish(leader);
}

/* Two migrations do wait for each other (their own key), but boundedly: a
 * held migration lock ends in exit 1 and a message that says what to do. */
Test(collector_cli, migrate_waits_for_another_migrate_boundedly)
{
	struct cli t;
	cli_setup(&t, "cli_migrating", " options='-c lock_timeout=1s'");
	PGconn *other = hold_lock(t.conninfo, DB_SCHEMA_LOCK_CLASS, DB_SCHEMA_MIGRATE_LOCK_KEY);
	double t0 = tw_now_ms();
	struct run r = cli_run(&t, 30000, ARGS("migrate", "-c", t.yaml));
	cr_assert_eq(r.status, 1, "status %d:\n%s", r.status, r.out);
	cr_assert_lt(tw_now_ms() - t0, 20000);
	cr_assert(strstr(r.out, "another `tlswatch-collector migrate` holds the migration lock"),
		  "%s", r.out);
	free(r.out);
	PQfinish(other);            /* released: the next one goes through */
	r = cli_run(&t, 30000, ARGS("migrate", "-c", t.yaml));
	cr_assert_eq(r.status, 0, "%s", r.out);
	free(r.out);
}

Test(collector_cli, every_subcommand_has_help)
{
	struct cli t;
	cli_setup(&t, "cli_help", NULL);
	const char *cmds[] = { "run", "migrate", "evaluate", "maintenance", "version" };
	for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++) {
		struct run r = cli_run(&t, 10000, ARGS(cmds[i], "--help"));
		cr_assert_eq(r.status, 0, "%s --help: %d\n%s", cmds[i], r.status, r.out);
		cr_assert(strstr(r.out, tw_fmt("usage: tlswatch-collector %s", cmds[i])),
			  "%s --help:\n%s", cmds[i], r.out);
		free(r.out);
	}
	struct run r = cli_run(&t, 10000, ARGS("evaluate", "-c", t.yaml, "--now", "yesterday"));
	cr_assert_eq(r.status, 2, "%s", r.out);
	cr_assert(strstr(r.out, "--now: expected an RFC 3339 time"), "%s", r.out);
	free(r.out);
	r = cli_run(&t, 10000, ARGS("frobnicate"));
	cr_assert_eq(r.status, 2, "%s", r.out);
	free(r.out);
}

Test(collector_cli, maintenance_windows_and_evaluate)
{
	struct cli t;
	cli_setup(&t, "cli_maint", NULL);
	struct run r = cli_run(&t, 30000, ARGS("migrate", "-c", t.yaml));
	cr_assert_eq(r.status, 0, "%s", r.out);
	free(r.out);

	r = cli_run(&t, 10000, ARGS("maintenance", "create", "-c", t.yaml, "--service", "shop",
				    "--label", "team=web", "--duration", "2h", "--reason", "upgrade"));
	cr_assert_eq(r.status, 0, "%s", r.out);
	long long id = strtoll(r.out, NULL, 10);
	cr_assert_gt(id, 0, "%s", r.out);
	free(r.out);

	r = cli_run(&t, 10000, ARGS("maintenance", "list", "-c", t.yaml, "--json"));
	cr_assert_eq(r.status, 0, "%s", r.out);
	cr_assert(strstr(r.out, tw_fmt("\"id\":%lld,", id)), "%s", r.out);
	cr_assert(strstr(r.out, "\"service\":\"shop\""), "%s", r.out);
	cr_assert(strstr(r.out, "\"labels\":{\"team\":\"web\"}"), "%s", r.out);
	cr_assert(strstr(r.out, "\"active\":true"), "%s", r.out);
	free(r.out);

	/* one evaluation (no SLOs, no data: the other rules run, nothing fires) */
	r = cli_run(&t, 30000, ARGS("evaluate", "-c", t.yaml, "--json", "--now",
				    "2026-03-02T10:00:00Z"));
	cr_assert_eq(r.status, 0, "%s", r.out);
	cr_assert(strstr(r.out, "\"eval_at\":\"2026-03-02T10:00:00.000Z\""), "%s", r.out);
	cr_assert(strstr(r.out, "\"alert_changes\":[]"), "%s", r.out);
	free(r.out);
	/* recorded as this collector's run */
	PGconn *c = PQconnectdb(t.conninfo);
	cr_assert(PQstatus(c) == CONNECTION_OK);
	cr_assert_eq(tw_pg_ll(c, "SELECT count(*) FROM evaluation_runs WHERE collector_id = 'cli-test'"),
		     1);

	/* a label key of any length is kept whole (it was cut at 255 bytes) */
	char longkey[301];
	memset(longkey, 'k', 300);
	longkey[300] = '\0';
	r = cli_run(&t, 10000, ARGS("maintenance", "create", "-c", t.yaml, "--label",
				    tw_fmt("%s=v", longkey), "--duration", "1h", "--reason", "long"));
	cr_assert_eq(r.status, 0, "%s", r.out);
	long long id2 = strtoll(r.out, NULL, 10);
	free(r.out);
	cr_assert_eq(tw_pg_ll(c, tw_fmt("SELECT count(*) FROM maintenance_windows WHERE id = %lld "
					"AND labels = jsonb_build_object('%s', 'v')", id2, longkey)), 1);

	r = cli_run(&t, 10000, ARGS("maintenance", "delete", "-c", t.yaml, tw_fmt("%lld", id)));
	cr_assert_eq(r.status, 0, "%s", r.out);
	cr_assert(strstr(r.out, tw_fmt("deleted %lld", id)), "%s", r.out);
	free(r.out);
	r = cli_run(&t, 10000, ARGS("maintenance", "delete", "-c", t.yaml, tw_fmt("%lld", id)));
	cr_assert_eq(r.status, 1, "%s", r.out);
	cr_assert(strstr(r.out, "no window"), "%s", r.out);
	free(r.out);
	cr_assert_eq(tw_pg_ll(c, "SELECT count(*) FROM maintenance_windows"), 1, "only the second");
	PQfinish(c);
}

/* The defects: `evaluate` left out an SLO split by region that had no data,
 * printed a burn rate of 0 for windows without any event, and printed the
 * objective 99.9 as 99.900000000000006 (JSON). Every configured SLO is
 * listed, a window without data has no burn rate (null, "-"), objectives
 * print as written. */
Test(collector_cli, evaluate_lists_every_slo_and_prints_what_was_written)
{
	struct cli t;
	cli_setup(&t, "cli_slos", NULL);
	char slos[700];
	snprintf(slos, sizeof slos, "%s/slos.yaml", t.dir);
	cr_assert(tw_write_file(slos,
		"slos:\n"
		"  - name: with-data\n"
		"    sli: availability\n"
		"    objective: 99.9\n"
		"    selector: {service: shop}\n"
		"  - name: split-empty\n"
		"    sli: availability\n"
		"    objective: 99.95\n"
		"    split_by_region: true\n"
		"    selector: {service: nothing-here}\n"
		"  - name: latency-empty\n"
		"    sli: latency\n"
		"    threshold_ms: 500\n"
		"    objective: 99.0\n"
		"    selector: {service: nothing-here}\n") == 0);
	FILE *f = fopen(t.yaml, "a");
	cr_assert(f);
	fprintf(f, "  slo_file: %s\n", slos);
	fclose(f);
	struct run r = cli_run(&t, 30000, ARGS("migrate", "-c", t.yaml));
	cr_assert_eq(r.status, 0, "%s", r.out);
	free(r.out);
	/* shop: 100 attempts a minute over the last 5 minutes, 1 failing */
	PGconn *c = PQconnectdb(t.conninfo);
	cr_assert(PQstatus(c) == CONNECTION_OK);
	for (int m = 1; m <= 5; m++)
		cr_assert(tw_pg_exec(c, tw_fmt(
			"INSERT INTO rollup_1m (bucket, target, port, sni, region, profile, service, "
			"attempts, successes, failures, outcomes, handshakes, handshake_ms_hist, "
			"handshake_ms_sum, handshake_ms_count, mtls_attempts, mtls_failures, "
			"ocsp_stapled_count, cipher_fallback_count, sni_mismatch_count, "
			"expiring_soon_count) VALUES ('2026-03-02T10:00:00Z'::timestamptz - "
			"interval '%d minutes', 'shop.example', 443, '', 'eu-west', 'modern', 'shop', "
			"100, 99, 1, '{\"ok\": 99, \"connect_timeout\": 1}', 99, '{}', 0, 0, 0, 0, 0, 0, "
			"0, 0)", m)) == 0);
	PQfinish(c);

	r = cli_run(&t, 30000, ARGS("evaluate", "-c", t.yaml, "--json", "--dry-run", "--now",
				    "2026-03-02T10:00:00Z"));
	cr_assert_eq(r.status, 0, "%s", r.out);
	const char *names[] = { "with-data", "split-empty", "latency-empty" };
	json_t *line[3] = { NULL, NULL, NULL };
	for (char *p = r.out, *nl; p && *p; p = nl ? nl + 1 : NULL) {
		nl = strchr(p, '\n');
		if (nl)
			*nl = '\0';
		json_t *j = json_loads(p, 0, NULL);
		for (int i = 0; j && i < 3; i++)
			if (json_is_string(json_object_get(j, "slo")) &&
			    !strcmp(json_string_value(json_object_get(j, "slo")), names[i])) {
				line[i] = json_incref(j);
				cr_assert(strstr(p, i == 0 ? "\"objective\":99.9," : i == 1 ?
						 "\"objective\":99.95," : "\"objective\":99.0,"),
					  "objective not as written: %s", p);
				cr_assert(!strstr(p, "99.90000") && !strstr(p, "99.95000"), "%s", p);
			}
		json_decref(j);
	}
	for (int i = 0; i < 3; i++)
		cr_assert(line[i], "SLO %s missing from evaluate --json:\n%s", names[i], r.out);
	/* with data (the minute rollups: the 5m window): a burn rate; without
	 * (the 1h window reads hourly rollups, none here): null, never 0 */
	json_t *fast = json_array_get(json_object_get(line[0], "rules"), 0);
	cr_assert(json_is_real(json_object_get(fast, "burn_rate_short")), "%s", r.out);
	cr_assert(json_is_null(json_object_get(fast, "burn_rate_long")), "%s", r.out);
	for (int i = 1; i < 3; i++) {
		json_t *rules = json_object_get(line[i], "rules"), *w = json_object_get(line[i], "windows");
		cr_assert_gt(json_array_size(rules), 0);
		for (size_t k = 0; k < json_array_size(rules); k++) {
			cr_assert(json_is_null(json_object_get(json_array_get(rules, k), "burn_rate_long")),
				  "%s", r.out);
			cr_assert(json_is_null(json_object_get(json_array_get(rules, k), "burn_rate_short")));
		}
		for (size_t k = 0; k < json_array_size(w); k++)
			cr_assert(json_is_null(json_object_get(json_array_get(w, k), "burn_rate")), "%s",
				  r.out);
		cr_assert(json_is_null(json_object_get(line[i], "sli_value")));
	}
	for (int i = 0; i < 3; i++)
		json_decref(line[i]);
	free(r.out);

	r = cli_run(&t, 30000, ARGS("evaluate", "-c", t.yaml, "--dry-run", "--now",
				    "2026-03-02T10:00:00Z"));
	cr_assert_eq(r.status, 0, "%s", r.out);
	cr_assert(strstr(r.out, "SLO with-data (availability, objective 99.9% over 30d): 1 series\n"),
		  "%s", r.out);
	cr_assert(strstr(r.out, "SLO split-empty (availability, objective 99.95% over 30d): 0 series "
				"(no data)\n"), "%s", r.out);
	cr_assert(strstr(r.out, "SLO latency-empty (latency under threshold, objective 99.0% over "
				"30d): 0 series (no data)\n"), "%s", r.out);
	cr_assert(strstr(r.out, "burn        - over 1h          - over 5m"), "%s", r.out);
	free(r.out);

	/* a new certificate on a target: evaluate (not a dry run) records the
	 * change and prints it */
	c = PQconnectdb(t.conninfo);
	cr_assert(PQstatus(c) == CONNECTION_OK);
	const char *fps[] = { "aaaa", "bbbb", "cccc" }, *at[] = { "09:50", "09:55", "10:01" };
	for (int k = 0; k < 3; k++)
		cr_assert(tw_pg_exec(c, tw_fmt(
			"INSERT INTO results (probe_id, seq, region, started_at, received_at, target, "
			"port, profile, outcome, fingerprint_sha256) VALUES ('p1', %d, 'eu-west', "
			"'2026-03-02T%s:00Z', '2026-03-02T%s:00Z', 'shop.example', 443, 'modern', 'ok', "
			"'%s')", k + 1, at[k], at[k], fps[k])) == 0);
	PQfinish(c);
	r = cli_run(&t, 30000, ARGS("evaluate", "-c", t.yaml, "--json", "--now", "2026-03-02T10:00:00Z"));
	cr_assert_eq(r.status, 0, "%s", r.out);
	cr_assert(strstr(r.out, "\"certificate_changes\":[{\"target\":\"shop.example:443\","
				"\"region\":\"eu-west\",\"profile\":\"modern\",\"old_fingerprint\":\"aaaa\","
				"\"new_fingerprint\":\"bbbb\",\"changed_at\":\"2026-03-02T09:55:00Z\"}]"),
		  "%s", r.out);
	free(r.out);
	r = cli_run(&t, 30000, ARGS("evaluate", "-c", t.yaml, "--now", "2026-03-02T10:02:00Z"));
	cr_assert_eq(r.status, 0, "%s", r.out);
	cr_assert(strstr(r.out, "certificate change shop.example:443 (eu-west, modern): bbbb -> cccc "
				"at 2026-03-02T10:01:00Z\n"), "%s", r.out);
	cr_assert(!strstr(r.out, "aaaa"), "recorded once: %s", r.out);
	free(r.out);
}
