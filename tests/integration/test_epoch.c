/*
 * test_epoch.c - nothing lost to a new spool, one live stream per probe
 * identity (issue 12, defect 1), against a real collector and PostgreSQL
 * (test_epoch.sh):
 *
 *   - the collector acks per (probe, spool epoch): a new epoch is acked
 *     nothing of an old one's high-water mark, a known epoch gets its own,
 *     and replays dedupe exactly within an epoch while equal seqs of two
 *     epochs are two rows;
 *   - the real probe daemon restarted with a wiped spool behind an old
 *     high-water mark: every result of both runs is stored, none deleted
 *     unsent;
 *   - a second live connection of one identity is refused loudly (Error
 *     frame probe_conflict, an error line naming the probe and both peers,
 *     the counter on /metrics), the first keeps streaming, no row of the
 *     second; a connection silent past two heartbeats is replaced, so a
 *     dead one never locks the probe out.
 */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <ftw.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "ingest_env.h"
#include "proc.h"

/* the suite's timeout, not per test: a per-test one leaks in Criterion
 * under SANITIZE=1 */
TestSuite(epoch, .timeout = 180);

#define E1 "0123456789abcdef0123456789abcdef"
#define E2 "fedcba9876543210fedcba9876543210"

static void hello_epoch(struct tw_probe *c, const char *probe, const char *region,
			const char *epoch, unsigned heartbeat_ms)
{
	Tlswatch__Hello h = TLSWATCH__HELLO__INIT;
	Tlswatch__Envelope e = TLSWATCH__ENVELOPE__INIT;
	h.probe_id = (char *)probe;
	h.region = (char *)region;
	h.version = "test-probe 1.0";
	h.spool_epoch = (char *)epoch;
	h.has_heartbeat_ms = heartbeat_ms > 0;
	h.heartbeat_ms = heartbeat_ms;
	e.msg_case = TLSWATCH__ENVELOPE__MSG_HELLO;
	e.hello = &h;
	cr_assert_eq(tw_probe_send(c, &e), 0);
}

static struct tw_probe *streaming(const char *probe, const char *region, const char *epoch,
				  unsigned heartbeat_ms)
{
	struct tw_probe *c = tc_connect(probe);
	cr_assert(c->handshake_ok, "TLS handshake as %s failed", probe);
	hello_epoch(c, probe, region, epoch, heartbeat_ms);
	return c;
}

static bool log_has(const char *a, const char *b, const char *c)
{
	FILE *f = fopen(env("TW_COLLECTOR_LOG"), "r");
	if (!f)
		return false;
	char line[4096];
	bool found = false;
	while (!found && fgets(line, sizeof line, f))
		found = strstr(line, a) && (!b || strstr(line, b)) && (!c || strstr(line, c));
	fclose(f);
	return found;
}

static void expect_log(const char *a, const char *b, const char *c)
{
	for (int i = 0; i < 100 && !log_has(a, b, c); i++)
		sleep_ms(50);
	cr_expect(log_has(a, b, c), "the collector log has no line with \"%s\" \"%s\" \"%s\"", a,
		  b ? b : "", c ? c : "");
}

static double refused(const char *reason)
{
	return metric_port(env_port("TW_HTTP_PORT"),
			   tw_fmt("tlswatch_collector_connections_refused_total{reason=\"%s\"}",
				  reason));
}

static long long qll(PGconn *db, const char *sql)
{
	return q_int(db, sql, NULL);
}

/* No duplicate (probe, epoch, seq), and the rollups count exactly the raw
 * rows. One statement each, so one snapshot: the other tests of this binary
 * insert meanwhile. */
static void check_exact(PGconn *db)
{
	cr_expect_eq(qll(db, "SELECT count(*) - count(DISTINCT (probe_id, spool_epoch, seq)) "
			     "FROM results"), 0, "duplicate (probe, epoch, seq) rows");
	cr_expect_eq(qll(db, "SELECT (SELECT coalesce(sum(attempts), 0) FROM tw_rollup_1m_live('-infinity', 'infinity')) - "
			     "(SELECT count(*) FROM results)"), 0, "rollup_1m != raw rows");
	cr_expect_eq(qll(db, "SELECT (SELECT coalesce(sum(attempts), 0) FROM rollup_1h_live) - "
			     "(SELECT count(*) FROM results)"), 0, "rollup_1h != raw rows");
}

Test(epoch, acks_are_per_spool_epoch)
{
	PGconn *db = pg();
	/* an old spool (no epoch) reached seq 50 */
	struct tw_probe *c = streaming("probe-a", "eu-west", NULL, 0);
	send_batch(c, 1, 50, NULL, NULL);
	cr_assert_eq(tc_read_ack(c), 50);
	tw_probe_free(c);

	/* a new spool: nothing of it is acked, least of all the old 50
	 * (before the fix the Ack after Hello was 50, and the probe deleted
	 * its records 1..50 unsent) */
	c = streaming("probe-a", "eu-west", E1, 0);
	cr_expect(tw_probe_quiet_for(c, 700), "an Ack came for a spool epoch never seen");
	send_batch(c, 1, 10, NULL, NULL);
	cr_expect_eq(tc_read_ack(c), 10, "the new epoch is acked its own seq");
	tw_probe_free(c);
	cr_expect_eq(qll(db, "SELECT count(*) FROM results WHERE probe_id = 'probe-a'"), 60,
		     "seq 1..10 of the new spool are new rows, not duplicates of the old 1..10");

	/* each epoch gets its own high-water mark back */
	c = streaming("probe-a", "eu-west", E1, 0);
	cr_expect_eq(tc_read_ack(c), 10);
	send_batch(c, 5, 12, NULL, NULL);  /* six replays, two new */
	cr_expect_eq(tc_read_ack(c), 12);
	tw_probe_free(c);
	c = streaming("probe-a", "eu-west", "", 0);
	cr_expect_eq(tc_read_ack(c), 50, "the spool without an epoch keeps its mark");
	tw_probe_free(c);
	c = streaming("probe-a", "eu-west", E2, 0);
	cr_expect(tw_probe_quiet_for(c, 700), "an Ack came for a spool epoch never seen");
	tw_probe_free(c);

	cr_expect_eq(qll(db, "SELECT count(*) FROM results WHERE probe_id = 'probe-a'"), 62);
	cr_expect_eq(qll(db, "SELECT count(*) FROM results WHERE probe_id = 'probe-a' "
			     "AND spool_epoch = '" E1 "'"), 12);
	cr_expect_eq(qll(db, "SELECT last_seq FROM probe_spools WHERE probe_id = 'probe-a' "
			     "AND spool_epoch = '" E1 "'"), 12);
	check_exact(db);

	/* an epoch that is not 32 lowercase hex digits is a protocol error */
	c = streaming("probe-a", "eu-west", "ZZZ", 0);
	Tlswatch__Envelope *e = NULL;
	cr_assert_eq(tc_read_env(c, &e), 1, "no Error frame");
	cr_assert_eq(e->msg_case, TLSWATCH__ENVELOPE__MSG_ERROR);
	cr_expect_str_eq(e->error->code, "protocol");
	tlswatch__envelope__free_unpacked(e, NULL);
	tw_probe_free(c);
	PQfinish(db);
}

Test(epoch, second_live_connection_is_refused_loudly)
{
	PGconn *db = pg();
	double before = refused("probe_conflict");
	/* a heartbeat of 60 s: alive here for the idle timeout (20 s) after
	 * each frame, longer than this test needs */
	struct tw_probe *a = streaming("probe-b", "us-east", E1, 60000);
	send_batch(a, 1, 20, NULL, NULL);
	cr_assert_eq(tc_read_ack(a), 20);

	/* another process with the same certificate and its own spool */
	struct tw_probe *b = streaming("probe-b", "us-east", E2, 1000);
	Tlswatch__Envelope *e = NULL;
	cr_assert_eq(tc_read_env(b, &e), 1, "no Error frame for the second connection");
	cr_assert_eq(e->msg_case, TLSWATCH__ENVELOPE__MSG_ERROR, "got case %d", e->msg_case);
	cr_expect_str_eq(e->error->code, "probe_conflict");
	tlswatch__envelope__free_unpacked(e, NULL);

	/* the same epoch again (a copy of the spool) is refused too */
	struct tw_probe *b2 = streaming("probe-b", "us-east", E1, 1000);
	e = NULL;
	cr_assert_eq(tc_read_env(b2, &e), 1, "no Error frame for the copy");
	cr_assert_eq(e->msg_case, TLSWATCH__ENVELOPE__MSG_ERROR, "got case %d", e->msg_case);
	cr_expect_str_eq(e->error->code, "probe_conflict");
	tlswatch__envelope__free_unpacked(e, NULL);

	/* the first keeps streaming, untouched */
	send_batch(a, 21, 40, NULL, NULL);
	cr_expect_eq(tc_read_ack(a), 40);
	cr_expect(tw_probe_closed_by_peer(b), "the second connection stayed open");
	cr_expect(tw_probe_closed_by_peer(b2), "the third connection stayed open");
	cr_expect_eq(refused("probe_conflict") - before, 2);
	/* loud: level error, the probe, both peers, both epochs */
	char first[80], second[160];
	snprintf(first, sizeof first, "streaming from %s", a->peer + strlen("peer="));
	snprintf(second, sizeof second, "connection from %s (spool epoch " E2 ")",
		 b->peer + strlen("peer="));
	expect_log("level=error", "refused (probe_conflict): probe probe-b", first);
	expect_log("level=error", second, "(spool epoch " E1 ", last frame");
	cr_expect_not(log_has("closed (superseded)", a->peer, NULL),
		      "the live connection was taken over");
	cr_expect_eq(qll(db, "SELECT count(*) FROM results WHERE probe_id = 'probe-b' "
			     "AND spool_epoch = '" E1 "'"), 40);
	cr_expect_eq(qll(db, "SELECT count(*) FROM results WHERE probe_id = 'probe-b' "
			     "AND spool_epoch <> '" E1 "'"), 0, "rows of the refused connection");
	check_exact(db);
	tw_probe_free(b);
	tw_probe_free(b2);
	tw_probe_free(a);
	PQfinish(db);
}

Test(epoch, silent_connection_does_not_lock_the_probe_out)
{
	PGconn *db = pg();
	/* heartbeat 300 ms: alive for 600 ms after its last frame */
	struct tw_probe *a = streaming("probe-c", "ap-south", E1, 300);
	send_batch(a, 1, 5, NULL, NULL);
	cr_assert_eq(tc_read_ack(a), 5);
	/* a's host is gone without a FIN: the socket stays, nothing comes */
	sleep_ms(1000);
	struct tw_probe *c = streaming("probe-c", "ap-south", E1, 300);
	cr_expect_eq(tc_read_ack(c), 5, "the reconnect is let in and told what is committed");
	cr_expect(tw_probe_closed_by_peer(a), "the silent connection stayed open");
	expect_log("closed (superseded)", a->peer, "without a frame here");
	send_batch(c, 6, 8, NULL, NULL);
	cr_expect_eq(tc_read_ack(c), 8);
	cr_expect_eq(qll(db, "SELECT count(*) FROM results WHERE probe_id = 'probe-c'"), 8);
	tw_probe_free(a);
	tw_probe_free(c);
	PQfinish(db);
}

/* ---- the real probe daemon ---- */

struct run {
	char dir[512], yaml[600], spool[600], log[600], stats[600];
	pid_t pid;
};

static void write_probe_yaml(struct run *r, const char *probe, const char *region)
{
	const char *pipe = env("TW_PIPE");
	char targets[1024] = "";
	for (int i = 1; i <= 5; i++) {
		size_t l = strlen(targets);
		snprintf(targets + l, sizeof targets - l, "  - host: 127.0.0.1\n    port: %s\n",
			 env(tw_fmt("TW_PORT_DEAD%d", i)));
	}
	const char *y = tw_fmt(
		"probe:\n  id: %s\n  region: %s\n"
		"collector:\n  address: localhost:%s\n  ca_file: %s/pipe-ca.pem\n"
		"  cert_file: %s/%s.pem\n  key_file: %s/%s.key\n"
		"  batch_max_delay: 100ms\n  heartbeat: 1s\n"
		"spool:\n  path: %s\n"
		"concurrency: 32\n"
		"defaults:\n  interval: 1s\n  timeout: 2s\n  profiles: [modern, tls13, intermediate, legacy]\n"
		"targets:\n%s",
		probe, region, env("TW_COL_PORT"), pipe, pipe, probe, pipe, probe, r->spool, targets);
	cr_assert(tw_write_file(r->yaml, y) == 0);
}

static void run_init(struct run *r, const char *name)
{
	memset(r, 0, sizeof *r);
	snprintf(r->dir, sizeof r->dir, "%s/%s", env("TW_WORK"), name);
	cr_assert(mkdir(r->dir, 0700) == 0, "mkdir %s", r->dir);
	snprintf(r->yaml, sizeof r->yaml, "%s/probe.yaml", r->dir);
	snprintf(r->spool, sizeof r->spool, "%s/spool", r->dir);
	r->pid = -1;
}

static void run_start(struct run *r, int n)
{
	snprintf(r->log, sizeof r->log, "%s/probe-%d.log", r->dir, n);
	snprintf(r->stats, sizeof r->stats, "%s/stats-%d.json", r->dir, n);
	char *argv[] = { (char *)tw_fmt("%s/tlswatch-probe", env("TW_BUILD")), "run", "-c", r->yaml,
			 "--stats-file", r->stats, "--log-level", "info", NULL };
	r->pid = tw_spawn(argv, r->log);
	cr_assert(r->pid > 0);
}

/* SIGTERM: the probe drains (everything acked) and exits 0. */
static void run_stop(struct run *r)
{
	int st = tw_stop(r->pid, SIGTERM, 30000);
	r->pid = -1;
	if (!(WIFEXITED(st) && WEXITSTATUS(st) == 0)) {
		char *l = tw_read_file(r->log);
		fprintf(stderr, "---- probe log\n%s\n", l ? l : "(none)");
		free(l);
		cr_assert_fail("the probe did not exit 0 on SIGTERM (status %d)", st);
	}
}

static long long stat_ll(const struct run *r, const char *key)
{
	json_error_t je;
	json_t *root = json_load_file(r->stats, 0, &je);
	cr_assert(root, "stats file %s: %s", r->stats, je.text);
	json_t *o = json_object_get(root, key);
	cr_assert(o && json_is_integer(o), "stats file has no integer %s", key);
	long long v = json_integer_value(o);
	json_decref(root);
	return v;
}

static long long wait_rows(PGconn *db, const char *sql, long long want, int timeout_ms)
{
	double end = tw_now_ms() + timeout_ms;
	long long v = -1;
	while (tw_now_ms() < end && (v = qll(db, sql)) < want)
		tw_sleep_ms(200);
	return v;
}

static int rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	return remove(path);
}

static int rm_tree(const char *dir)
{
	return nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

Test(epoch, daemon_with_a_wiped_spool_loses_nothing)
{
	PGconn *db = pg();
	struct run r;
	const char *q = "SELECT count(*) FROM results WHERE probe_id = 'probe-d'";
	run_init(&r, "wiped");
	write_probe_yaml(&r, "probe-d", "eu-west");

	/* run 1 sets a high-water mark: 20 results a second, at least 200 */
	run_start(&r, 1);
	long long n = wait_rows(db, q, 200, 40000);
	cr_assert_geq(n, 200, "only %lld rows of run 1", n);
	run_stop(&r);
	long long produced1 = stat_ll(&r, "produced");
	cr_assert_eq(wait_rows(db, q, produced1, 10000), produced1, "run 1 not all stored");

	/* the volume is gone: run 2 starts with an empty spool, seq from 1,
	 * and stops before it reaches run 1's mark */
	cr_assert_eq(rm_tree(r.spool), 0);
	run_start(&r, 2);
	/* (before the fix no row of run 2 ever came: 5 s is then its length) */
	wait_rows(db, q, produced1 + 40, 5000);
	run_stop(&r);
	long long produced2 = stat_ll(&r, "produced");
	cr_assert_gt(produced2, 0);
	cr_assert_lt(produced2, produced1, "run 2 must stay behind the old mark (%lld >= %lld)",
		     produced2, produced1);
	n = wait_rows(db, q, produced1 + produced2, 10000);
	cr_expect_eq(n, produced1 + produced2, "%lld + %lld results produced, %lld stored",
		     produced1, produced2, n);
	cr_expect_eq(qll(db, "SELECT count(DISTINCT spool_epoch) FROM results "
			     "WHERE probe_id = 'probe-d'"), 2, "one epoch per spool");
	cr_expect_eq(qll(db, "SELECT count(*) FROM results WHERE probe_id = 'probe-d' AND seq = 1"),
		     2, "seq 1 of each spool stored");
	cr_expect_eq(stat_ll(&r, "dropped") , 0, "nothing counted as dropped");
	check_exact(db);
	PQfinish(db);
}

/* Issue 12: an option libpq refuses at every connect is fatal at start, not
 * an endless retry - here from the environment, which --check-config of
 * another host would not have seen. */
Test(epoch, collector_refuses_a_permanently_invalid_conninfo)
{
	const char *log = tw_fmt("%s/bad-conninfo.log", env("TW_WORK"));
	char *argv[] = { (char *)tw_fmt("%s/tlswatch-collector", env("TW_BUILD")), "run", "-c",
			 (char *)tw_fmt("%s/collector.yaml", env("TW_WORK")), NULL };
	cr_assert_eq(setenv("PGSSLMODE", "sometimes", 1), 0);
	pid_t pid = tw_spawn(argv, log);
	unsetenv("PGSSLMODE");
	cr_assert(pid > 0);
	int st = tw_wait_exit(pid, 10000);
	if (st == -1)
		tw_stop(pid, SIGKILL, 2000);
	cr_assert_neq(st, -1, "still running (retrying?) after 10 s");
	cr_expect(WIFEXITED(st) && WEXITSTATUS(st) == 2, "exit status %d", st);
	cr_expect_eq(tw_file_count(log, "database.conninfo: option sslmode: invalid value "
				   "\"sometimes\" from the environment"), 1, "no clear message in %s", log);
}

/* The probe's own guard: an Ack past anything its spool numbered cannot be
 * about this spool (here the collector knows the epoch from elsewhere, as a
 * collector older than epochs knows the probe's old mark). Before: the Ack
 * was clamped to the spool's last seq and moved the send cursor past 5000,
 * so records were deleted unsent and nothing more was sent. */
Test(epoch, probe_ignores_an_ack_past_its_spool)
{
	PGconn *db = pg();
	struct run r;
	const char *q = "SELECT count(*) FROM results WHERE probe_id = 'probe-e'";
	run_init(&r, "foreign");
	write_probe_yaml(&r, "probe-e", "us-east");
	cr_assert_eq(mkdir(r.spool, 0700), 0);
	cr_assert_eq(tw_write_file(tw_fmt("%s/state", r.spool),
				   "acked 0\nreserved 0\nepoch " E2 "\n"), 0);
	cr_assert_eq(tw_pg_exec(db, "INSERT INTO probe_spools VALUES ('probe-e', '" E2 "', 5000, "
				"now(), now())"), 0);
	run_start(&r, 1);
	long long n = wait_rows(db, q, 60, 20000);
	tw_stop(r.pid, SIGKILL, 2000);
	r.pid = -1;
	cr_expect_geq(n, 60, "only %lld rows: the probe stopped sending", n);
	cr_expect_geq(tw_file_count(r.log, "ignored, nothing is deleted"), 1,
		      "no error line about the foreign Ack in %s", r.log);
	cr_expect_eq(qll(db, "SELECT count(*) FROM results WHERE probe_id = 'probe-e'"),
		     qll(db, "SELECT max(seq) FROM results WHERE probe_id = 'probe-e'"),
		     "holes in the sequence: records deleted unsent");
	PQfinish(db);
}
