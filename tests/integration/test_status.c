/*
 * test_status.c - `tlswatch-collector status` (collector/cmd_status.c)
 * against the servers of tests/integration/test_api.sh: the grid and the
 * firing alerts it prints, and its exit codes (0 healthy, 1 something
 * failing, 2 usage, configuration or database error).
 */
#include "api_env.h"

#include <sys/wait.h>

TestSuite(status, .timeout = 120);

/* Runs the collector binary with args (a shell word list); *out gets stdout. */
static int run_status(const char *args, char **out)
{
	char cmd[4096];
	snprintf(cmd, sizeof cmd, "%s status %s 2>&1", env("TW_COLLECTOR"), args);
	FILE *p = popen(cmd, "r");
	cr_assert_not_null(p);
	size_t cap = 65536, len = 0;
	char *buf = malloc(cap);
	size_t n;
	while ((n = fread(buf + len, 1, cap - len - 1, p)) > 0) {
		len += n;
		if (len + 1 >= cap)
			buf = realloc(buf, cap *= 2);
	}
	buf[len] = '\0';
	int st = pclose(p);
	*out = buf;
	cr_assert(WIFEXITED(st), "status did not exit: %s", buf);
	return WEXITSTATUS(st);
}

static void seed_service(const char *host, const char *service, bool lockout)
{
	struct seed ok = { .host = host, .sni = host, .profile = "modern", .service = service,
			   .outcome = "ok", .tls_version = "TLSv1.3", .handshake_ms = 45, .n = 3 };
	struct seed legacy = ok;
	legacy.profile = "legacy";
	if (lockout) {
		legacy.outcome = "protocol_version";
		legacy.tls_version = NULL;
		legacy.handshake_ms = -1;
	}
	struct seed s[] = { ok, legacy };
	seed_as("probe-a", s, 2);
	seed_as("probe-b", s, 1);
}

Test(status, healthy_service_exits_0)
{
	seed_service("ok.status.test", "stat-ok", false);
	char args[1024], *out;
	snprintf(args, sizeof args, "-c %s --service stat-ok", env("TW_CONFIG"));
	int rc = run_status(args, &out);
	cr_assert_eq(rc, 0, "exit %d:\n%s", rc, out);
	cr_assert(strstr(out, "ok.status.test:443"), "%s", out);
	cr_assert(strstr(out, "eu-west") && strstr(out, "us-east"), "%s", out);
	cr_assert(strstr(out, "100.0% "), "%s", out);
	cr_assert(strstr(out, "no alerts firing"), "%s", out);
	free(out);
}

Test(status, locked_out_profile_exits_1_and_says_why)
{
	seed_service("bad.status.test", "stat-bad", true);
	char args[1024], *out;
	snprintf(args, sizeof args, "-c %s --service stat-bad --window 5m", env("TW_CONFIG"));
	int rc = run_status(args, &out);
	cr_assert_eq(rc, 1, "exit %d:\n%s", rc, out);
	cr_assert(strstr(out, "50.0% ") && strstr(out, "DEGRADED"), "%s", out);
	cr_assert(strstr(out, "legacy: protocol_version 3/3"), "%s", out);
	fprintf(stderr, "status --service stat-bad --window 5m:\n%s", out);  /* for the log */
	free(out);

	/* --json: the grid of the API and the alerts */
	snprintf(args, sizeof args, "-c %s --service stat-bad --json", env("TW_CONFIG"));
	rc = run_status(args, &out);
	cr_assert_eq(rc, 1, "exit %d:\n%s", rc, out);
	json_error_t e;
	json_t *j = json_loads(out, 0, &e);
	cr_assert_not_null(j, "not JSON: %s\n%s", e.text, out);
	json_t *rows = json_object_get(json_object_get(j, "grid"), "rows");
	cr_assert_eq(json_array_size(rows), 1);
	cr_assert(json_is_array(json_object_get(j, "alerts")));
	json_decref(j);
	free(out);
}

Test(status, firing_alert_exits_1)
{
	seed_service("alert.status.test", "stat-alert", false);
	PGconn *db = pg();
	PGresult *r = PQexec(db,
		"INSERT INTO alerts (dedup_key, rule, severity, state, subject, service, summary, "
		"created_at, pending_since, firing_since, last_eval_at) VALUES ('status-test', "
		"'cert_expiry_7d', 'ticket', 'firing', 'alert.status.test:443', 'stat-alert', "
		"'certificate expires in 6 days', now(), now(), now(), now())");
	cr_assert_eq(PQresultStatus(r), PGRES_COMMAND_OK, "%s", PQerrorMessage(db));
	PQclear(r);
	PQfinish(db);
	char args[1024], *out;
	snprintf(args, sizeof args, "-c %s --service stat-alert", env("TW_CONFIG"));
	int rc = run_status(args, &out);
	cr_assert_eq(rc, 1, "exit %d:\n%s", rc, out);
	cr_assert(strstr(out, "firing alerts (1)"), "%s", out);
	cr_assert(strstr(out, "cert_expiry_7d") && strstr(out, "certificate expires in 6 days"),
		  "%s", out);
	free(out);
}

Test(status, usage_and_database_errors_exit_2)
{
	char args[2048], *out;
	snprintf(args, sizeof args, "-c %s --window 2h", env("TW_CONFIG"));
	cr_assert_eq(run_status(args, &out), 2);
	cr_assert(strstr(out, "--window"), "%s", out);
	free(out);
	cr_assert_eq(run_status("", &out), 2);
	free(out);
	cr_assert_eq(run_status("--help", &out), 0);
	cr_assert(strstr(out, "usage: tlswatch-collector status"), "%s", out);
	free(out);

	/* a database that does not answer: an error within the store's wait */
	char path[1024];
	snprintf(path, sizeof path, "%s/nodb.yaml", env("TW_WORK"));
	FILE *f = fopen(path, "w");
	cr_assert_not_null(f);
	fprintf(f, "listen: 127.0.0.1:1\ntls:\n  ca_file: x\n  cert_file: x\n  key_file: x\n"
		   "database:\n  conninfo: \"host=127.0.0.1 port=1 connect_timeout=1\"\n");
	fclose(f);
	snprintf(args, sizeof args, "-c %s", path);
	double t0 = twtime_mono_ms();
	int rc = run_status(args, &out);
	cr_assert_eq(rc, 2, "exit %d: %s", rc, out);
	cr_assert(strstr(out, "database"), "%s", out);
	cr_assert(twtime_mono_ms() - t0 < 20000);
	free(out);
}
