/*
 * test_pipeline.c - the whole pipeline for real (issue 3): tlswatch-probe
 * run -> mTLS stream -> tlswatch-collector run -> PostgreSQL, end to end and
 * under faults, with exact accounting:
 *
 *   results produced (the probe's --stats-file, or its spool's sequence)
 *     = rows stored (+ records the probe dropped because its spool was full)
 *   no duplicate (probe_id, seq); rollup attempts = raw rows per key.
 *
 * Servers come from tests/integration/test_pipeline.sh; this file writes the
 * configuration files and starts, kills and restarts the daemons itself.
 * Each test uses its own database and its own work directory.
 */
#include <criterion/criterion.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "probe_run.h"
#include "proc.h"

struct pipe_env {
	char dir[512];          /* this test's work dir */
	char db[64];
	char conninfo[1024];
	char collector_yaml[600], probe_yaml[600], stats[600], spool[600];
	char coll_log[600], probe_log[600];
	pid_t coll, probe;
	PGconn *pg;
};

static const char *penv(const char *k)
{
	const char *v = getenv(k);
	cr_assert(v && *v, "%s is not set (run through tests/integration/test_pipeline.sh)", k);
	return v;
}

static int env_port(const char *k)
{
	return (int)strtol(penv(k), NULL, 10);
}

static void pe_init(struct pipe_env *e, const char *name)
{
	memset(e, 0, sizeof *e);
	snprintf(e->dir, sizeof e->dir, "%s/%s", penv("TW_WORK"), name);
	cr_assert(mkdir(e->dir, 0700) == 0, "mkdir %s", e->dir);
	snprintf(e->db, sizeof e->db, "pipe_%s", name);
	PGconn *admin = tw_pg(NULL);
	cr_assert(admin, "cannot connect to the test PostgreSQL");
	cr_assert(tw_pg_exec(admin, tw_fmt("CREATE DATABASE %s", e->db)) == 0);
	PQfinish(admin);
	snprintf(e->conninfo, sizeof e->conninfo, "%s dbname=%s", penv("TW_PG_CONNINFO"), e->db);
	snprintf(e->collector_yaml, sizeof e->collector_yaml, "%s/collector.yaml", e->dir);
	snprintf(e->probe_yaml, sizeof e->probe_yaml, "%s/probe.yaml", e->dir);
	snprintf(e->stats, sizeof e->stats, "%s/stats.json", e->dir);
	snprintf(e->spool, sizeof e->spool, "%s/spool", e->dir);
	snprintf(e->coll_log, sizeof e->coll_log, "%s/collector.log", e->dir);
	snprintf(e->probe_log, sizeof e->probe_log, "%s/probe.log", e->dir);
	e->coll = e->probe = -1;
}

static void pe_dump_logs(const struct pipe_env *e)
{
	char *c = tw_read_file(e->coll_log), *p = tw_read_file(e->probe_log);
	size_t cl = c ? strlen(c) : 0, pl = p ? strlen(p) : 0;
	fprintf(stderr, "---- collector log (tail)\n%s\n---- probe log (tail)\n%s\n",
		c ? c + (cl > 6000 ? cl - 6000 : 0) : "(none)",
		p ? p + (pl > 6000 ? pl - 6000 : 0) : "(none)");
	free(c);
	free(p);
}

static void pe_fini(struct pipe_env *e)
{
	if (e->probe > 0)
		tw_stop(e->probe, SIGKILL, 2000);
	if (e->coll > 0)
		tw_stop(e->coll, SIGKILL, 2000);
	/* under SANITIZE=1 the daemons' reports land in their logs */
	const char *logs[] = { e->coll_log, e->probe_log };
	for (int i = 0; i < 2; i++) {
		cr_expect_eq(tw_file_count(logs[i], "Sanitizer"), 0, "sanitizer report in %s", logs[i]);
		cr_expect_eq(tw_file_count(logs[i], "runtime error:"), 0, "UBSan report in %s", logs[i]);
	}
	if (e->pg)
		PQfinish(e->pg);
}

/* cert: the collector's certificate name in TW_PIPE ("collector", or
 * "other-collector" issued by another CA) */
static void write_collector_yaml_cert(struct pipe_env *e, const char *cert)
{
	const char *pipe = penv("TW_PIPE");
	const char *y = tw_fmt(
		"listen: 127.0.0.1:%s\n"
		"tls:\n"
		"  ca_file: %s/pipe-ca.pem\n"
		"  cert_file: %s/%s.pem\n"
		"  key_file: %s/%s.key\n"
		"http:\n"
		"  listen: 127.0.0.1:%s\n"
		"database:\n"
		"  conninfo: \"%s\"\n"
		"  connections: 2\n"
		"log:\n"
		"  level: info\n",
		penv("TW_PORT_COLLECTOR"), pipe, pipe, cert, pipe, cert, penv("TW_PORT_HTTP"),
		e->conninfo);
	cr_assert(tw_write_file(e->collector_yaml, y) == 0);
}

static void write_collector_yaml(struct pipe_env *e)
{
	write_collector_yaml_cert(e, "collector");
}

/* targets: a YAML fragment (list items) appended after "targets:" */
static void write_probe_yaml(struct pipe_env *e, const char *probe, const char *interval,
			     const char *spool_max, const char *targets)
{
	const char *pipe = penv("TW_PIPE");
	const char *y = tw_fmt(
		"probe:\n"
		"  id: %s\n"
		"  region: %s\n"
		"collector:\n"
		"  address: localhost:%s\n"
		"  ca_file: %s/pipe-ca.pem\n"
		"  cert_file: %s/%s.pem\n"
		"  key_file: %s/%s.key\n"
		"  batch_max_delay: 100ms\n"
		"  heartbeat: 1s\n"
		"spool:\n"
		"  path: %s\n"
		"  max_bytes: %s\n"
		"concurrency: 64\n"
		"defaults:\n"
		"  interval: %s\n"
		"  timeout: 3s\n"
		"  ca_file: %s\n"
		"  profiles: [modern, tls13]\n"
		"targets:\n%s",
		probe, !strcmp(probe, "probe-b") ? "us-east" : "eu-west",
		penv("TW_PORT_COLLECTOR"), pipe, pipe, probe, pipe, probe, e->spool, spool_max,
		interval, tw_pki("root.pem"), targets);
	cr_assert(tw_write_file(e->probe_yaml, y) == 0);
}

static const char *standard_targets(void)
{
	return tw_fmt(
		"  - host: localhost\n    port: %s\n    service: shop\n    labels: {team: web}\n"
		"  - host: localhost\n    port: %s\n    service: shop\n"
		"  - host: localhost\n    port: %s\n    service: api\n"
		"  - host: localhost\n    port: %s\n    service: api\n"
		"  - host: localhost\n    port: %s\n    service: down\n",
		penv("TW_PORT_GOOD"), penv("TW_PORT_EXPIRED"), penv("TW_PORT_INCOMPLETE"),
		penv("TW_PORT_OTHER"), penv("TW_PORT_REFUSED"));
}

static void migrate(struct pipe_env *e)
{
	struct probe_run r;
	char *argv[] = { (char *)tw_fmt("%s/tlswatch-collector", penv("TW_BUILD")), "migrate",
			 "-c", e->collector_yaml, NULL };
	cr_assert(probe_run_argv(&r, argv, 60) == 0);
	cr_assert(r.exit_code == 0, "migrate failed:\n%s", probe_describe(&r));
	probe_run_free(&r);
	e->pg = PQconnectdb(e->conninfo);
	cr_assert(PQstatus(e->pg) == CONNECTION_OK, "%s", PQerrorMessage(e->pg));
}

static void start_collector(struct pipe_env *e)
{
	char *argv[] = { (char *)tw_fmt("%s/tlswatch-collector", penv("TW_BUILD")), "run",
			 "-c", e->collector_yaml, NULL };
	e->coll = tw_spawn(argv, e->coll_log);
	cr_assert(e->coll > 0);
	if (!tw_wait_port(env_port("TW_PORT_COLLECTOR"), 15000)) {
		pe_dump_logs(e);
		cr_assert_fail("collector did not listen");
	}
}

static void start_probe(struct pipe_env *e)
{
	char *argv[] = { (char *)tw_probe_bin(), "run", "-c", e->probe_yaml,
			 "--stats-file", e->stats, "--log-level", "info", NULL };
	e->probe = tw_spawn(argv, e->probe_log);
	cr_assert(e->probe > 0);
}

/* SIGTERM, expect exit 0 within the drain deadline. */
static void stop_clean(struct pipe_env *e, pid_t *pid, const char *what)
{
	int st = tw_stop(*pid, SIGTERM, 30000);
	*pid = -1;
	if (!(WIFEXITED(st) && WEXITSTATUS(st) == 0)) {
		pe_dump_logs(e);
		cr_assert_fail("%s did not exit 0 on SIGTERM (status %d)", what, st);
	}
}

static long long q(struct pipe_env *e, const char *sql)
{
	return tw_pg_ll(e->pg, sql);
}

/* Waits until the query returns at least want (polling), returns the last value. */
static long long wait_rows(struct pipe_env *e, const char *sql, long long want, int timeout_ms)
{
	double end = tw_now_ms() + timeout_ms;
	long long v = -1;
	while (tw_now_ms() < end) {
		v = q(e, sql);
		if (v >= want)
			break;
		tw_sleep_ms(200);
	}
	return v;
}

/* A number from the probe's stats file (a dotted path: "spool.dropped"). */
static long long stat_ll(struct pipe_env *e, const char *path)
{
	json_error_t je;
	json_t *root = json_load_file(e->stats, 0, &je);
	cr_assert(root, "stats file %s: %s", e->stats, je.text);
	char key[128];
	snprintf(key, sizeof key, "%s", path);
	json_t *o = root;
	for (char *s = key, *dot; o && s; s = dot) {
		dot = strchr(s, '.');
		if (dot)
			*dot++ = '\0';
		o = json_object_get(o, s);
	}
	cr_assert(o && json_is_integer(o), "stats file has no integer %s", path);
	long long v = json_integer_value(o);
	json_decref(root);
	return v;
}

/* The invariants that hold after every fault once the probe drained:
 * no duplicates, rollups equal raw counts per key, probes.last_seq right. */
static void check_accounting(struct pipe_env *e, const char *probe)
{
	long long rows = q(e, tw_fmt("SELECT count(*) FROM results WHERE probe_id = '%s'", probe));
	long long distinct = q(e, tw_fmt("SELECT count(DISTINCT seq) FROM results WHERE probe_id = '%s'",
					 probe));
	cr_expect_eq(rows, distinct, "duplicate sequence numbers: %lld rows, %lld distinct", rows,
		     distinct);
	long long bad = q(e,
		"SELECT count(*) FROM (SELECT target, port, region, profile, date_trunc('minute', started_at) b,"
		"  count(*) n FROM results GROUP BY 1,2,3,4,5) r"
		" FULL JOIN (SELECT target, port, region, profile, bucket b, sum(attempts) n"
		"  FROM tw_rollup_1m_live('-infinity', 'infinity') GROUP BY 1,2,3,4,5) u USING (target, port, region, profile, b)"
		" WHERE r.n IS DISTINCT FROM u.n");
	cr_expect_eq(bad, 0, "%lld rollup_1m keys disagree with the raw rows", bad);
	long long tot_1h = q(e, "SELECT coalesce(sum(attempts), 0) FROM rollup_1h_live");
	long long tot_raw = q(e, "SELECT count(*) FROM results");
	cr_expect_eq(tot_1h, tot_raw, "rollup_1h attempts %lld != %lld raw rows", tot_1h, tot_raw);
	long long last = q(e, tw_fmt("SELECT last_seq FROM probes WHERE probe_id = '%s'", probe));
	long long maxseq = q(e, tw_fmt("SELECT max(seq) FROM results WHERE probe_id = '%s'", probe));
	cr_expect_eq(last, maxseq, "probes.last_seq %lld != max(seq) %lld", last, maxseq);
}

/* seqs of a probe are 1..N with no hole (one run, clean). */
static void check_contiguous(struct pipe_env *e, const char *probe, long long produced)
{
	long long rows = q(e, tw_fmt("SELECT count(*) FROM results WHERE probe_id = '%s'", probe));
	long long mn = q(e, tw_fmt("SELECT min(seq) FROM results WHERE probe_id = '%s'", probe));
	long long mx = q(e, tw_fmt("SELECT max(seq) FROM results WHERE probe_id = '%s'", probe));
	cr_expect_eq(rows, produced, "%lld results produced, %lld rows stored", produced, rows);
	cr_expect_eq(mn, 1, "first seq %lld", mn);
	cr_expect_eq(mx, produced, "last seq %lld, produced %lld", mx, produced);
}

static unsigned long long spool_max_seq(const char *dir);

/* The seq ranges the probe logged as dropped ("dropped N records (seq
 * A..B)", spool.c), stored in table dropped_log (a, b) next to results;
 * returns the records they hold. */
static long long log_dropped_ranges(struct pipe_env *e, const char *log_path)
{
	char *log = tw_read_file(log_path);
	long long total = 0;
	cr_assert(log, "cannot read %s", log_path);
	cr_assert_eq(tw_pg_exec(e->pg, "CREATE TABLE dropped_log (a bigint, b bigint)"), 0);
	for (const char *p = strstr(log, "dropped "); p; p = strstr(p + 1, "dropped ")) {
		unsigned long long n, a, b;
		if (sscanf(p, "dropped %llu records (seq %llu..%llu)", &n, &a, &b) != 3)
			continue;
		total += (long long)n;
		cr_assert_eq(tw_pg_exec(e->pg, tw_fmt("INSERT INTO dropped_log VALUES (%llu, %llu)",
						       a, b)), 0);
	}
	free(log);
	return total;
}


/* The usual setup: probe-a (eu-west), the 5 standard targets x 2 profiles
 * every second, a migrated database, the collector and the probe running. */
static void start_standard(struct pipe_env *e)
{
	write_collector_yaml(e);
	write_probe_yaml(e, "probe-a", "1s", "8MiB", standard_targets());
	migrate(e);
	start_collector(e);
	start_probe(e);
}

static const char *const Q_ROWS = "SELECT count(*) FROM results";

Test(pipeline, end_to_end_rows_match_the_probe)
{
	struct pipe_env e;
	pe_init(&e, "e2e");
	start_standard(&e);
	/* 5 targets x 2 profiles, at least 3 rounds */
	long long n = wait_rows(&e, Q_ROWS, 30, 30000);
	if (n < 30)
		pe_dump_logs(&e);
	cr_assert_geq(n, 30, "only %lld rows after 30 s", n);
	stop_clean(&e, &e.probe, "probe");
	long long produced = stat_ll(&e, "produced");
	cr_assert_gt(produced, 0);
	n = wait_rows(&e, Q_ROWS, produced, 10000);
	check_contiguous(&e, "probe-a", produced);
	check_accounting(&e, "probe-a");

	/* identity and region come from the certificate (CN=probe-a, OU=eu-west) */
	cr_expect_eq(q(&e, "SELECT count(*) FROM results WHERE region <> 'eu-west' OR probe_id <> 'probe-a'"), 0);
	/* outcomes per target, same for both profiles */
	struct { const char *port_env, *outcome; } want[] = {
		{ "TW_PORT_GOOD", "ok" }, { "TW_PORT_EXPIRED", "cert_expired" },
		{ "TW_PORT_INCOMPLETE", "chain_incomplete" }, { "TW_PORT_OTHER", "hostname_mismatch" },
		{ "TW_PORT_REFUSED", "connect_refused" },
	};
	for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
		const char *port = penv(want[i].port_env);
		long long all = q(&e, tw_fmt("SELECT count(*) FROM results WHERE port = %s", port));
		long long good = q(&e, tw_fmt("SELECT count(*) FROM results WHERE port = %s AND outcome = '%s'",
					      port, want[i].outcome));
		cr_expect_gt(all, 0, "no rows for %s", want[i].port_env);
		cr_expect_eq(good, all, "%s: %lld of %lld rows are %s", want[i].port_env, good, all,
			     want[i].outcome);
		long long profiles = q(&e, tw_fmt("SELECT count(DISTINCT profile) FROM results WHERE port = %s",
						  port));
		cr_expect_eq(profiles, 2, "%s: %lld profiles", want[i].port_env, profiles);
	}
	const char *gp = penv("TW_PORT_GOOD");
	/* timings: every phase measured on a completed handshake */
	cr_expect_eq(q(&e, tw_fmt("SELECT count(*) FROM results WHERE port = %s AND NOT (dns_ms >= 0 AND "
				  "connect_ms > 0 AND handshake_ms > 0 AND total_ms >= handshake_ms)", gp)), 0);
	cr_expect_eq(q(&e, tw_fmt("SELECT count(*) FROM results WHERE port = %s AND profile = 'tls13' "
				  "AND tls_version <> 'TLSv1.3'", gp)), 0);
	/* certificate fields, against the openssl CLI */
	char fp[128], end[64];
	cr_assert(tw_cert_fingerprint(tw_pki("good.pem"), fp, sizeof fp) == 0);
	cr_assert(tw_cert_date(tw_pki("good.pem"), "enddate", end, sizeof end) == 0);
	long long end_epoch = tw_rfc3339_epoch(end);
	cr_expect_eq(q(&e, tw_fmt("SELECT count(*) FROM results WHERE port = %s AND "
				  "(fingerprint_sha256 IS DISTINCT FROM '%s' OR "
				  "extract(epoch FROM cert_not_after)::bigint <> %lld)", gp, fp, end_epoch)), 0,
		     "good rows with a wrong fingerprint or notAfter (want %s, %s)", fp, end);
	cr_expect_eq(q(&e, tw_fmt("SELECT count(*) FROM certificates WHERE fingerprint_sha256 = '%s'", fp)), 1);
	cr_expect_eq(q(&e, tw_fmt("SELECT count(*) FROM results WHERE port = %s AND service = 'shop' "
				  "AND labels->>'team' = 'web'", gp)),
		     q(&e, tw_fmt("SELECT count(*) FROM results WHERE port = %s", gp)));
	cr_expect_eq(q(&e, "SELECT count(*) FROM probes WHERE probe_id = 'probe-a' AND region = 'eu-west'"), 1);
	stop_clean(&e, &e.coll, "collector");
	pe_fini(&e);
}

Test(pipeline, collector_sigkill_mid_stream_loses_nothing)
{
	struct pipe_env e;
	pe_init(&e, "collkill");
	start_standard(&e);
	cr_assert_geq(wait_rows(&e, Q_ROWS, 10, 20000), 10);
	tw_stop(e.coll, SIGKILL, 2000);
	e.coll = -1;
	long long before = q(&e, Q_ROWS);
	tw_sleep_ms(3000);  /* the probe keeps producing and spooling */
	cr_expect_eq(q(&e, Q_ROWS), before, "rows arrived while the collector was dead");
	start_collector(&e);
	cr_assert_gt(wait_rows(&e, Q_ROWS, before + 20, 20000), before + 19);
	stop_clean(&e, &e.probe, "probe");
	long long produced = stat_ll(&e, "produced");
	wait_rows(&e, Q_ROWS, produced, 10000);
	cr_expect_eq(stat_ll(&e, "spool.records"), 0, "records left unacked in the spool");
	check_contiguous(&e, "probe-a", produced);
	check_accounting(&e, "probe-a");
	stop_clean(&e, &e.coll, "collector");
	pe_fini(&e);
}

Test(pipeline, postgres_down_30s_loses_nothing)
{
	struct pipe_env e;
	pe_init(&e, "pgdown");
	start_standard(&e);
	cr_assert_geq(wait_rows(&e, Q_ROWS, 10, 20000), 10);
	PQfinish(e.pg);
	e.pg = NULL;
	cr_assert(system(penv("TW_PG_STOP")) == 0, "pg_ctl stop failed");
	tw_sleep_ms(30000);
	cr_assert(system(tw_fmt("%s >/dev/null", penv("TW_PG_START"))) == 0, "pg_ctl start failed");
	e.pg = PQconnectdb(e.conninfo);
	cr_assert(PQstatus(e.pg) == CONNECTION_OK, "%s", PQerrorMessage(e.pg));
	long long before = q(&e, Q_ROWS);
	cr_assert_gt(wait_rows(&e, Q_ROWS, before + 20, 30000), before + 19,
		     "the collector did not resume after PostgreSQL came back");
	/* the outage's backlog drains first (slow under SANITIZE=1): stopping in
	 * the middle of it would leave results acked by nobody in the spool -
	 * kept, not lost, but not what this test counts */
	wait_rows(&e, Q_ROWS, stat_ll(&e, "produced"), 60000);
	stop_clean(&e, &e.probe, "probe");
	long long produced = stat_ll(&e, "produced");
	long long stored = wait_rows(&e, Q_ROWS, produced, 15000);
	/* On a loaded machine the backlog may still be draining when the probe
	 * stops: what was not acked stays in the spool for the next run. Nothing
	 * is lost when the rows are 1..stored without a hole and the spool holds
	 * the rest up to the last result produced. */
	if (stored < produced) {
		cr_expect_eq((long long)spool_max_seq(e.spool), produced,
			     "%lld results produced, %lld stored, and the spool does not hold the rest",
			     produced, stored);
		cr_log_info("pgdown: %lld of %lld results still spooled at the stop", produced - stored,
			    produced);
		produced = stored;
	}
	check_contiguous(&e, "probe-a", produced);
	check_accounting(&e, "probe-a");
	stop_clean(&e, &e.coll, "collector");
	pe_fini(&e);
}

/* The highest seq in the spool's segment files (spool.h record format),
 * read by the test itself: after a SIGKILL this is the last result the
 * dead probe produced that was not yet acked. 0 when none. */
static unsigned long long spool_max_seq(const char *dir)
{
	unsigned long long mx = 0;
	char *ls = NULL;
	FILE *p = popen(tw_fmt("ls %s/*.seg 2>/dev/null", dir), "r");
	char line[1024];
	cr_assert(p);
	while (fgets(line, sizeof line, p)) {
		line[strcspn(line, "\n")] = '\0';
		FILE *f = fopen(line, "rb");
		unsigned char h[16];
		if (!f)
			continue;
		while (fread(h, 1, 16, f) == 16) {
			unsigned long len = (unsigned long)h[0] << 24 | (unsigned long)h[1] << 16 |
					    (unsigned long)h[2] << 8 | h[3];
			unsigned long long seq = 0;
			for (int i = 8; i < 16; i++)
				seq = seq << 8 | h[i];
			if (len == 0 || len > (1u << 20) || fseek(f, (long)len, SEEK_CUR) != 0)
				break;
			if (seq > mx)
				mx = seq;
		}
		fclose(f);
	}
	pclose(p);
	free(ls);
	return mx;
}

Test(pipeline, probe_sigkill_restart_sequence_continues)
{
	struct pipe_env e;
	pe_init(&e, "probekill");
	start_standard(&e);
	cr_assert_geq(wait_rows(&e, Q_ROWS, 20, 20000), 20);
	tw_stop(e.probe, SIGKILL, 2000);
	e.probe = -1;
	/* everything the dead probe produced is in the database or its spool */
	tw_sleep_ms(500);
	unsigned long long in_spool = spool_max_seq(e.spool);
	long long in_db = q(&e, "SELECT coalesce(max(seq), 0) FROM results");
	long long last1 = (long long)in_spool > in_db ? (long long)in_spool : in_db;
	cr_assert_gt(last1, 0);
	unlink(e.stats);
	start_probe(&e);
	cr_assert_gt(wait_rows(&e, tw_fmt("SELECT count(*) FROM results WHERE seq > %lld", last1), 20, 20000),
		     19, "no new results after the restart");
	stop_clean(&e, &e.probe, "probe");
	long long produced2 = stat_ll(&e, "produced");
	wait_rows(&e, Q_ROWS, last1 + produced2, 15000);
	/* run 1: 1..last1 without a hole; run 2: produced2 rows, all numbered
	 * above run 1 (a gap between them is allowed, a reuse is not) */
	cr_expect_eq(q(&e, tw_fmt("SELECT count(*) FROM results WHERE seq <= %lld", last1)), last1,
		     "results of the killed run are missing");
	cr_expect_eq(q(&e, tw_fmt("SELECT count(*) FROM results WHERE seq > %lld", last1)), produced2);
	long long gapped = q(&e, tw_fmt("SELECT min(seq) FROM results WHERE seq > %lld", last1));
	long long maxseq = q(&e, "SELECT max(seq) FROM results");
	cr_expect_eq(maxseq - gapped + 1, produced2, "run 2 has holes: seq %lld..%lld for %lld results",
		     gapped, maxseq, produced2);
	check_accounting(&e, "probe-a");
	stop_clean(&e, &e.coll, "collector");
	pe_fini(&e);
}

Test(pipeline, spool_full_drops_are_counted_and_logged)
{
	struct pipe_env e;
	pe_init(&e, "spoolfull");
	write_collector_yaml(&e);
	/* many entries, collector down: 1 MiB of spool fills in seconds */
	char targets[8192] = "";
	size_t off = 0;
	const char *ports[] = { "TW_PORT_GOOD", "TW_PORT_EXPIRED", "TW_PORT_INCOMPLETE", "TW_PORT_OTHER" };
	for (size_t i = 0; i < 4; i++) {
		const char *pt = penv(ports[i]);
		off += (size_t)snprintf(targets + off, sizeof targets - off,
			"  - host: localhost\n    port: %s\n%s"
			"  - host: 127.0.0.1\n    port: %s\n    sni: localhost\n%s"
			"  - host: 127.0.0.1\n    port: %s\n    no_sni: true\n%s",
			pt, "    profiles: [modern, tls13, intermediate, \"Chrome 101 (Win 10)\", "
			    "\"Firefox 100 (Win 10)\", \"Java 17.0.3 (OpenJDK)\", \"Safari 15.4 (macOS 12.3.1)\", "
			    "\"Android 12 (native)\", \"OpenSSL 3.0.3 (git)\", \"Edge 101 Win 10 21H2\"]\n",
			pt, "    profiles: [modern, tls13, intermediate, \"Chrome 101 (Win 10)\"]\n",
			pt, "    profiles: [modern, tls13, intermediate, \"Firefox 100 (Win 10)\"]\n");
	}
	write_probe_yaml(&e, "probe-a", "1s", "1MiB", targets);
	migrate(&e);
	start_probe(&e);
	/* wait until the probe reports drops (SIGUSR1 rewrites the stats file) */
	long long dropped = 0;
	for (int i = 0; i < 120 && dropped == 0; i++) {
		tw_sleep_ms(500);
		kill(e.probe, SIGUSR1);
		tw_sleep_ms(100);
		if (access(e.stats, R_OK) == 0)
			dropped = stat_ll(&e, "spool.dropped");
	}
	if (dropped == 0)
		pe_dump_logs(&e);
	cr_assert_gt(dropped, 0, "the spool never dropped anything");
	start_collector(&e);
	/* the uplink retries with backoff (up to backoff_max): wait for the first rows */
	cr_assert_gt(wait_rows(&e, Q_ROWS, 1, 45000), 0, "nothing arrived after the collector started");
	tw_sleep_ms(2000);
	stop_clean(&e, &e.probe, "probe");
	long long produced = stat_ll(&e, "produced");
	dropped = stat_ll(&e, "spool.dropped");
	cr_expect_eq(stat_ll(&e, "spool.records"), 0, "records left unacked in the spool");
	long long rows = wait_rows(&e, Q_ROWS, produced - dropped, 15000);
	cr_expect_eq(rows + dropped, produced, "rows %lld + dropped %lld != produced %lld", rows,
		     dropped, produced);
	cr_expect_gt(tw_file_count(e.probe_log, "dropped"), 0, "no log line says records were dropped");
	/* What was dropped is what the log names: the oldest records not yet
	 * sent, segment by segment. Before the collector is up that is a prefix
	 * of the seqs; while it uploads (the spool still full under load) it can
	 * be a segment after the records in flight, so a gap in the stored seqs
	 * is right exactly when a logged drop explains it. */
	long long logged = log_dropped_ranges(&e, e.probe_log);
	cr_expect_eq(logged, dropped, "the log names %lld dropped records, spool.dropped is %lld",
		     logged, dropped);
	cr_expect_eq(q(&e, "SELECT count(*) FROM results r, dropped_log d"
			   " WHERE r.seq BETWEEN d.a AND d.b"), 0,
		     "records the log says were dropped are stored");
	cr_expect_eq(q(&e, tw_fmt("SELECT count(*) FROM generate_series(1, %lld) s"
				  " WHERE NOT EXISTS (SELECT 1 FROM results r WHERE r.seq = s)"
				  " AND NOT EXISTS (SELECT 1 FROM dropped_log d"
				  " WHERE s BETWEEN d.a AND d.b)", produced)), 0,
		     "stored rows have holes no logged drop explains");
	cr_expect_eq(q(&e, "SELECT max(seq) FROM results"), produced, "the newest record was dropped");
	check_accounting(&e, "probe-a");
	stop_clean(&e, &e.coll, "collector");
	pe_fini(&e);
}

/* The probe authenticates the collector too: a collector whose certificate
 * comes from another CA (an impostor, or a man in the middle) gets nothing;
 * the probe says why, keeps spooling, and delivers once the real one is back. */
Test(pipeline, probe_refuses_a_collector_from_another_ca)
{
	struct pipe_env e;
	pe_init(&e, "impostor");
	write_collector_yaml_cert(&e, "other-collector");
	write_probe_yaml(&e, "probe-a", "1s", "8MiB", standard_targets());
	migrate(&e);
	start_collector(&e);
	start_probe(&e);
	tw_sleep_ms(4000);
	cr_expect_eq(q(&e, Q_ROWS), 0, "results reached a collector the probe must not trust");
	cr_expect_gt(tw_file_count(e.probe_log, "collector certificate verify failed"), 0,
		     "the probe did not say why it refused the collector");
	stop_clean(&e, &e.coll, "collector");
	/* the real collector: everything spooled meanwhile arrives */
	write_collector_yaml(&e);
	start_collector(&e);
	cr_assert_gt(wait_rows(&e, Q_ROWS, 10, 45000), 9, "nothing arrived from the spool");
	stop_clean(&e, &e.probe, "probe");
	long long produced = stat_ll(&e, "produced");
	wait_rows(&e, Q_ROWS, produced, 15000);
	check_contiguous(&e, "probe-a", produced);
	check_accounting(&e, "probe-a");
	stop_clean(&e, &e.coll, "collector");
	pe_fini(&e);
}

/* The collector refuses a probe whose configured id is not the one its
 * certificate names, and tells it why: the probe logs the collector's
 * reason (an Error frame, code hello_mismatch), not a broken pipe, and
 * nothing is stored. */
Test(pipeline, refused_probe_is_told_why)
{
	struct pipe_env e;
	pe_init(&e, "refused");
	write_collector_yaml(&e);
	write_probe_yaml(&e, "probe-a", "1s", "8MiB", standard_targets());
	char *y = tw_read_file(e.probe_yaml);
	cr_assert_not_null(y);
	char *id = strstr(y, "  id: probe-a\n");
	cr_assert_not_null(id);
	id[strlen("  id: probe-")] = 'z';  /* id probe-z, certificate CN probe-a */
	cr_assert(tw_write_file(e.probe_yaml, y) == 0);
	free(y);
	migrate(&e);
	start_collector(&e);
	start_probe(&e);
	bool told = false;
	for (int i = 0; i < 100 && !told; i++) {
		told = tw_file_count(e.probe_log, "hello_mismatch") > 0;
		if (!told)
			tw_sleep_ms(100);
	}
	if (!told)
		pe_dump_logs(&e);
	cr_expect(told, "the probe did not log the collector's reason (hello_mismatch)");
	cr_expect_gt(tw_file_count(e.probe_log, "hello probe_id probe-z does not match "
				   "certificate CN probe-a"), 0, "the probe did not log the message");
	cr_expect_gt(tw_file_count(e.coll_log, "refused (hello_mismatch): hello probe_id probe-z "
				   "does not match certificate CN probe-a"), 0);
	cr_expect_eq(tw_file_count(e.probe_log, "Broken pipe"), 0);
	cr_expect_eq(q(&e, Q_ROWS), 0, "results of a refused probe were stored");
	stop_clean(&e, &e.probe, "probe");
	stop_clean(&e, &e.coll, "collector");
	pe_fini(&e);
}
