/*
 * test_grafana.c - the Grafana dashboards of deploy/grafana/ against real
 * servers (Grafana is not a Debian package here, so the test runs what
 * Grafana would run):
 *
 *  - every SQL query of tlswatch-postgres.json (panels and template
 *    variables), with Grafana's macros expanded to the concrete SQL that
 *    tests/integration/test_grafana_extract.py documents, runs on a
 *    PostgreSQL seeded with dash_env.h's data set: no error, rows returned,
 *    the columns the panel's overrides and transformations name are there,
 *    and the values the seeded outcomes imply (75 % with one profile locked
 *    out, a region at 0 %, the flapping profile, the expiring certificate
 *    and its owner, the firing alert);
 *  - every PromQL expression of tlswatch-prometheus.json passes
 *    `promtool check rules` (each wrapped as a recording rule) and reads only
 *    series the collector exports or deploy/prometheus records;
 *  - the extractor refuses a macro it does not know and a series nobody
 *    provides, so the two checks above can fail.
 *
 * Fixture: tests/integration/test_grafana.sh (PostgreSQL).
 */
#define _GNU_SOURCE /* asprintf (db_env.h) */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "db_env.h"
#include "dash_env.h"

TestSuite(grafana, .timeout = 180);

static char *run_capture(const char *cmd, int *status)
{
	FILE *f = popen(cmd, "r");
	cr_assert_not_null(f, "popen %s", cmd);
	struct strbuf_local {
		char *p;
		size_t len, cap;
	} b = { malloc(4096), 0, 4096 };
	cr_assert_not_null(b.p);
	size_t n;
	while ((n = fread(b.p + b.len, 1, b.cap - b.len - 1, f)) > 0) {
		b.len += n;
		if (b.cap - b.len < 1024) {
			b.p = realloc(b.p, b.cap *= 2);
			cr_assert_not_null(b.p);
		}
	}
	b.p[b.len] = '\0';
	int rc = pclose(f);
	*status = WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
	return b.p;
}

/* The extracted queries of the PostgreSQL dashboard with the variables
 * service and region set to these values. */
static json_t *pg_queries_for(const char *services, const char *regions)
{
	char cmd[2048];
	snprintf(cmd, sizeof cmd,
		 "%s %s/tests/integration/test_grafana_extract.py sql "
		 "%s/deploy/grafana/tlswatch-postgres.json service=%s region=%s",
		 env("TW_PYTHON"), env("TW_ROOT"), env("TW_ROOT"), services, regions);
	int st;
	char *out = run_capture(cmd, &st);
	cr_assert_eq(st, 0, "extractor failed (%d)", st);
	json_error_t je;
	json_t *q = json_loads(out, 0, &je);
	cr_assert_not_null(q, "extractor output is not JSON: %s", je.text);
	cr_assert(json_is_array(q) && json_array_size(q) >= 10, "too few queries: %zu",
		  json_array_size(q));
	free(out);
	return q;
}

/* ... with every seeded value selected ("All"). */
static json_t *pg_queries(void)
{
	return pg_queries_for("shop,api,web", "eu-west,us-east,ap-south");
}

static PGresult *run_query(PGconn *c, json_t *q)
{
	const char *where = json_string_value(json_object_get(q, "where"));
	const char *sql = json_string_value(json_object_get(q, "sql"));
	PGresult *r = PQexec(c, sql);
	cr_assert_eq(PQresultStatus(r), PGRES_TUPLES_OK, "%s: %s\n%s", where,
		     PQresultErrorMessage(r), sql);
	cr_expect_gt(PQntuples(r), 0, "%s returned no rows", where);
	json_t *col;
	size_t i;
	json_array_foreach(json_object_get(q, "columns"), i, col) {
		cr_expect_geq(PQfnumber(r, json_string_value(col)), 0,
			      "%s: no column %s, which the panel refers to", where,
			      json_string_value(col));
	}
	return r;
}

/* The query whose "where" starts with prefix (exactly one). */
static json_t *query_named(json_t *qs, const char *prefix)
{
	json_t *q, *found = NULL;
	size_t i;
	json_array_foreach(qs, i, q) {
		if (strncmp(json_string_value(json_object_get(q, "where")), prefix, strlen(prefix)) == 0) {
			cr_assert_null(found, "two queries named %s", prefix);
			found = q;
		}
	}
	cr_assert_not_null(found, "no query named %s", prefix);
	return found;
}

/* Row of r where column kcol is key (and column k2col k2, when given). */
static int row_where(PGresult *r, const char *kcol, const char *key, const char *k2col,
		     const char *k2)
{
	int kc = PQfnumber(r, kcol), k2c = k2col ? PQfnumber(r, k2col) : -1;
	cr_assert_geq(kc, 0);
	for (int i = 0; i < PQntuples(r); i++)
		if (strcmp(PQgetvalue(r, i, kc), key) == 0 &&
		    (!k2col || strcmp(PQgetvalue(r, i, k2c), k2) == 0))
			return i;
	cr_assert_fail("no row %s=%s %s=%s", kcol, key, k2col ? k2col : "", k2 ? k2 : "");
	return -1;
}

static const char *val(PGresult *r, int row, const char *col)
{
	int c = PQfnumber(r, col);
	cr_assert_geq(c, 0, "no column %s", col);
	return PQgetvalue(r, row, c);
}

Test(grafana, every_sql_query_runs_on_seeded_data)
{
	char *ci = new_migrated_db("grafana_sql");
	dash_seed(ci);
	PGconn *c = pg(ci);
	json_t *qs = pg_queries();
	json_t *q;
	size_t i;
	json_array_foreach(qs, i, q)
		PQclear(run_query(c, q));
	json_decref(qs);
	PQfinish(c);
	free(ci);
}

Test(grafana, sql_panels_show_what_the_seeded_outcomes_imply)
{
	char *ci = new_migrated_db("grafana_values");
	dash_seed(ci);
	PGconn *c = pg(ci);
	json_t *qs = pg_queries();

	/* the template variables offer exactly the seeded services and regions */
	PGresult *r = run_query(c, query_named(qs, "variable service"));
	cr_expect_eq(PQntuples(r), 3);
	cr_expect_str_eq(PQgetvalue(r, 0, 0), "api");
	cr_expect_str_eq(PQgetvalue(r, 2, 0), "web");
	PQclear(r);
	r = run_query(c, query_named(qs, "variable region"));
	cr_expect_eq(PQntuples(r), 3);
	PQclear(r);

	/* overall success: what dash_outcome says, over every seeded result */
	long ok = 0, all = 0;
	for (size_t t = 0; t < DASH_NTARGETS; t++)
		for (int rg = 0; rg < 3; rg++)
			for (int p = 0; p < 4; p++)
				for (int s = 0; s < DASH_STEPS; s++) {
					all++;
					ok += strcmp(dash_outcome(dash_targets[t].host, rg, p, s), "ok") == 0;
				}
	r = run_query(c, query_named(qs, "panel 1 "));
	cr_expect_float_eq(strtod(PQgetvalue(r, 0, 0), NULL), 100.0 * ok / all, 0.006);
	PQclear(r);

	/* the grid: locked out vs flapping vs down in one region */
	r = run_query(c, query_named(qs, "panel 6 "));
	int row = row_where(r, "target", "legacy.example:443", "region", "eu-west");
	cr_expect_str_eq(val(r, row, "success_pct"), "75.0");
	cr_expect_str_eq(val(r, row, "profiles_locked_out"), "1");
	cr_expect_str_eq(val(r, row, "profiles_flapping"), "0");
	cr_expect_str_eq(val(r, row, "failing_profiles"), "legacy: protocol_version");
	row = row_where(r, "target", "regional.example:443", "region", "ap-south");
	cr_expect_str_eq(val(r, row, "success_pct"), "0.0");
	cr_expect_str_eq(val(r, row, "profiles_locked_out"), "4");
	row = row_where(r, "target", "regional.example:443", "region", "us-east");
	cr_expect_str_eq(val(r, row, "success_pct"), "100.0");
	cr_expect_str_eq(val(r, row, "failing_profiles"), "");
	row = row_where(r, "target", "flappy.example:443", "region", "eu-west");
	cr_expect_str_eq(val(r, row, "profiles_flapping"), "1");
	cr_expect_str_eq(val(r, row, "profiles_locked_out"), "0");
	cr_expect_str_eq(val(r, row, "failing_profiles"), "modern: handshake_timeout");
	/* a name with markup is data like any other */
	row = row_where(r, "target", DASH_HTML_TARGET ":443", "region", "us-east");
	cr_expect_str_eq(val(r, row, "service"), "web");
	PQclear(r);

	/* certificates expiring within 30 days: only the expiring one, with its owner */
	r = run_query(c, query_named(qs, "panel 9 "));
	cr_expect_eq(PQntuples(r), 1);
	cr_expect_str_eq(val(r, 0, "fingerprint_sha256"), DASH_FP_EXPIRING);
	cr_expect_str_eq(val(r, 0, "days_left"), "5");
	cr_expect_str_eq(val(r, 0, "owner"), "payments");
	cr_expect_str_eq(val(r, 0, "regions"), "ap-south, eu-west");
	PQclear(r);

	/* the firing alert */
	r = run_query(c, query_named(qs, "panel 10 "));
	cr_expect_eq(PQntuples(r), 1);
	cr_expect_str_eq(val(r, 0, "rule"), "cert_expiry_7d");
	cr_expect_str_eq(val(r, 0, "severity"), "page");
	PQclear(r);

	/* p95 per region as the upper bound of its latency bucket: us-east's
	 * handshakes are 30..45 ms (bucket [30, 50)) in every minute;
	 * ap-south's 40..55 ms, so a minute that holds its 55 ms profile says 75 */
	r = run_query(c, query_named(qs, "panel 8 "));
	double ap_max = 0;
	int us_rows = 0;
	for (int i = 0; i < PQntuples(r); i++) {
		double v = strtod(val(r, i, "p95_ms"), NULL);
		if (strcmp(val(r, i, "metric"), "us-east") == 0) {
			us_rows++;
			cr_expect_float_eq(v, 50, 1e-9, "us-east p95 %g", v);
		}
		if (strcmp(val(r, i, "metric"), "ap-south") == 0 && v > ap_max)
			ap_max = v;
	}
	cr_expect_geq(us_rows, DASH_STEPS);
	cr_expect_float_eq(ap_max, 75, 1e-9);
	PQclear(r);

	json_decref(qs);
	PQfinish(c);
	free(ci);
}

/* The variables narrow what the panels show: service=shop, region=us-east. */
Test(grafana, sql_panels_honour_the_service_and_region_variables)
{
	char *ci = new_migrated_db("grafana_vars");
	dash_seed(ci);
	PGconn *c = pg(ci);
	json_t *qs = pg_queries_for("shop", "us-east");
	PGresult *r = run_query(c, query_named(qs, "panel 6 "));
	cr_expect_eq(PQntuples(r), 2, "shop has two targets, one region: %d rows", PQntuples(r));
	for (int i = 0; i < PQntuples(r); i++) {
		cr_expect_str_eq(val(r, i, "service"), "shop");
		cr_expect_str_eq(val(r, i, "region"), "us-east");
	}
	PQclear(r);
	/* shop's overall success: legacy.example's legacy profile fails, 7 of 8 ok */
	r = run_query(c, query_named(qs, "panel 1 "));
	cr_expect_str_eq(PQgetvalue(r, 0, 0), "87.50");
	PQclear(r);
	r = run_query(c, query_named(qs, "panel 7 "));
	for (int i = 0; i < PQntuples(r); i++)
		cr_expect_str_eq(val(r, i, "metric"), "us-east");
	PQclear(r);
	/* the expiring certificate is seen in eu-west and ap-south only */
	json_decref(qs);
	qs = pg_queries_for("api", "us-east");
	json_t *q = query_named(qs, "panel 9 ");
	r = PQexec(c, json_string_value(json_object_get(q, "sql")));
	cr_assert_eq(PQresultStatus(r), PGRES_TUPLES_OK, "%s", PQresultErrorMessage(r));
	cr_expect_eq(PQntuples(r), 0);
	PQclear(r);
	json_decref(qs);
	PQfinish(c);
	free(ci);
}

Test(grafana, promql_passes_promtool_and_reads_known_series)
{
	char rules[512], cmd[2048];
	snprintf(rules, sizeof rules, "%s/grafana-rules.yml", env("TW_WORK"));
	snprintf(cmd, sizeof cmd,
		 "%s %s/tests/integration/test_grafana_extract.py promql "
		 "%s/deploy/grafana/tlswatch-prometheus.json %s %s 2>&1",
		 env("TW_PYTHON"), env("TW_ROOT"), env("TW_ROOT"), rules, env("TW_ROOT"));
	int st;
	char *out = run_capture(cmd, &st);
	cr_assert_eq(st, 0, "extractor: %s", out);
	cr_expect_geq(strtol(out, NULL, 10), 10, "too few expressions: %s", out);
	free(out);
	snprintf(cmd, sizeof cmd, "promtool check rules %s 2>&1", rules);
	out = run_capture(cmd, &st);
	cr_expect_eq(st, 0, "promtool check rules: %s", out);
	cr_expect_not_null(strstr(out, "SUCCESS"), "%s", out);
	free(out);
}

/* The checks can fail: a macro the extractor does not expand, a series
 * nothing exports, and a PromQL syntax error each stop the run. */
Test(grafana, extractor_refuses_unknown_macros_and_series)
{
	char bad[512], cmd[4096];
	int st;
	const struct {
		const char *mode, *src, *from, *to, *expect;
	} cases[] = {
		{ "sql", "tlswatch-postgres.json", "$__timeFilter(r.bucket)",
		  "$__unixEpochFilter(r.bucket)", "unknown macro" },
		{ "promql", "tlswatch-prometheus.json", "probe_success{", "probe_sucess{",
		  "reads probe_sucess" },
		/* unbalanced: the name check passes, promtool does not */
		{ "promql", "tlswatch-prometheus.json", "max without (instance) (probe_success{",
		  "max without (instance (probe_success{", "" },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		snprintf(bad, sizeof bad, "%s/bad-%zu.json", env("TW_WORK"), i);
		/* the real dashboard with one substitution (sed: | as separator) */
		snprintf(cmd, sizeof cmd, "sed 's|%s|%s|' %s/deploy/grafana/%s >%s", cases[i].from,
			 cases[i].to, env("TW_ROOT"), cases[i].src, bad);
		cr_assert_eq(system(cmd), 0);
		if (strcmp(cases[i].mode, "sql") == 0)
			snprintf(cmd, sizeof cmd,
				 "%s %s/tests/integration/test_grafana_extract.py sql %s "
				 "service=a region=b 2>&1 >/dev/null",
				 env("TW_PYTHON"), env("TW_ROOT"), bad);
		else
			snprintf(cmd, sizeof cmd,
				 "%s %s/tests/integration/test_grafana_extract.py promql %s %s.yml %s "
				 "2>&1 && promtool check rules %s.yml 2>&1",
				 env("TW_PYTHON"), env("TW_ROOT"), bad, bad, env("TW_ROOT"), bad);
		char *out = run_capture(cmd, &st);
		cr_expect_neq(st, 0, "case %zu passed: %s", i, out);
		cr_expect_not_null(strstr(out, cases[i].expect), "case %zu: %s", i, out);
		free(out);
	}
}
