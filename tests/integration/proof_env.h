/*
 * proof_env.h - what the proof suite's integration tests share (issue 12):
 * test_soak.c and test_failover.c run the real daemons - one
 * tlswatch-collector, several tlswatch-probe - against loopback TLS
 * targets and a private PostgreSQL, kill them, and account for every
 * result. The helpers follow test_pipeline.c's (same configuration, same
 * accounting SQL), generalised to several probes and to a conninfo the
 * test chooses (a multi-host one for failover).
 *
 * Ownership: a struct proof_env owns its PGconn and the daemons it started
 * (pids; pf_fini SIGKILLs what is still running). Strings from tw_fmt are
 * a ring of static buffers (proc.h): used at once, never kept.
 */
#ifndef TW_TEST_PROOF_ENV_H
#define TW_TEST_PROOF_ENV_H

#include <criterion/criterion.h>
#include <jansson.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "probe_run.h"
#include "proc.h"

#define PF_MAX_PROBES 3
#define PF_MAX_RUNS   128

/* One process lifetime of a probe: the sequence numbers it handed out. */
struct pf_run {
	unsigned long long first, last;   /* last < first: it produced nothing */
	unsigned long long reserved;      /* `reserved` in its state when it died */
	bool killed;
};

struct pf_probe {
	char id[32];
	char yaml[600], stats[600], spool[600], log[600];
	pid_t pid;
	struct pf_run runs[PF_MAX_RUNS];
	int nruns;                        /* runs[nruns - 1] is the live one */
};

struct proof_env {
	char dir[512];
	char db[64];
	char conninfo[1024];
	char collector_yaml[600], coll_log[600];
	pid_t coll;
	PGconn *pg;
	struct pf_probe probes[PF_MAX_PROBES];
	int nprobes;
};

static const char *penv(const char *k)
{
	const char *v = getenv(k);
	cr_assert(v && *v, "%s is not set (run the test through its fixture script)", k);
	return v;
}

static int env_port(const char *k)
{
	return (int)strtol(penv(k), NULL, 10);
}

/* Work dir and file names; the database is created by the caller (the
 * conninfo differs: one host, or several). */
static void pf_init(struct proof_env *e, const char *name, int nprobes)
{
	static const char *const ids[] = { "probe-a", "probe-b", "probe-c" };

	memset(e, 0, sizeof *e);
	cr_assert(nprobes >= 1 && nprobes <= PF_MAX_PROBES);
	snprintf(e->dir, sizeof e->dir, "%s/%s", penv("TW_WORK"), name);
	cr_assert(mkdir(e->dir, 0700) == 0, "mkdir %s", e->dir);
	snprintf(e->db, sizeof e->db, "proof_%s", name);
	snprintf(e->collector_yaml, sizeof e->collector_yaml, "%s/collector.yaml", e->dir);
	snprintf(e->coll_log, sizeof e->coll_log, "%s/collector.log", e->dir);
	e->coll = -1;
	e->nprobes = nprobes;
	for (int i = 0; i < nprobes; i++) {
		struct pf_probe *p = &e->probes[i];
		snprintf(p->id, sizeof p->id, "%s", ids[i]);
		snprintf(p->yaml, sizeof p->yaml, "%s/%s.yaml", e->dir, p->id);
		snprintf(p->stats, sizeof p->stats, "%s/%s.stats.json", e->dir, p->id);
		snprintf(p->spool, sizeof p->spool, "%s/%s.spool", e->dir, p->id);
		snprintf(p->log, sizeof p->log, "%s/%s.log", e->dir, p->id);
		p->pid = -1;
	}
}

static void pf_tail(const char *what, const char *path)
{
	char *t = tw_read_file(path);
	size_t l = t ? strlen(t) : 0;
	fprintf(stderr, "---- %s (tail)\n%s\n", what, t ? t + (l > 5000 ? l - 5000 : 0) : "(none)");
	free(t);
}

static void pf_dump_logs(const struct proof_env *e)
{
	pf_tail("collector log", e->coll_log);
	for (int i = 0; i < e->nprobes; i++)
		pf_tail(e->probes[i].id, e->probes[i].log);
}

static void pf_fini(struct proof_env *e)
{
	for (int i = 0; i < e->nprobes; i++)
		if (e->probes[i].pid > 0)
			tw_stop(e->probes[i].pid, SIGKILL, 2000);
	if (e->coll > 0)
		tw_stop(e->coll, SIGKILL, 2000);
	/* under SANITIZE=1 the daemons' reports land in their logs */
	cr_expect_eq(tw_file_count(e->coll_log, "Sanitizer"), 0, "sanitizer report in %s", e->coll_log);
	cr_expect_eq(tw_file_count(e->coll_log, "runtime error:"), 0, "UBSan report in %s", e->coll_log);
	for (int i = 0; i < e->nprobes; i++) {
		cr_expect_eq(tw_file_count(e->probes[i].log, "Sanitizer"), 0, "sanitizer report in %s",
			     e->probes[i].log);
		cr_expect_eq(tw_file_count(e->probes[i].log, "runtime error:"), 0, "UBSan report in %s",
			     e->probes[i].log);
	}
	if (e->pg)
		PQfinish(e->pg);
	e->pg = NULL;
}

static void pf_write_collector_yaml(struct proof_env *e)
{
	const char *pipe = penv("TW_PIPE");
	const char *y = tw_fmt(
		"listen: 127.0.0.1:%s\n"
		"tls:\n"
		"  ca_file: %s/pipe-ca.pem\n"
		"  cert_file: %s/collector.pem\n"
		"  key_file: %s/collector.key\n"
		"http:\n"
		"  listen: 127.0.0.1:%s\n"
		"database:\n"
		"  conninfo: \"%s\"\n"
		"  connections: 2\n"
		"log:\n"
		"  level: info\n",
		penv("TW_PORT_COLLECTOR"), pipe, pipe, pipe, penv("TW_PORT_HTTP"), e->conninfo);
	cr_assert(tw_write_file(e->collector_yaml, y) == 0);
}

static const char *pf_region(const char *id)
{
	return !strcmp(id, "probe-b") ? "us-east" : !strcmp(id, "probe-c") ? "ap-south" : "eu-west";
}

/* Four loopback TLS targets x two profiles every interval. */
static void pf_write_probe_yaml(struct proof_env *e, struct pf_probe *p, const char *interval)
{
	const char *pipe = penv("TW_PIPE");
	const char *targets = tw_fmt(
		"  - host: localhost\n    port: %s\n    service: shop\n    labels: {team: web}\n"
		"  - host: localhost\n    port: %s\n    service: shop\n"
		"  - host: localhost\n    port: %s\n    service: api\n"
		"  - host: localhost\n    port: %s\n    service: api\n",
		penv("TW_PORT_GOOD"), penv("TW_PORT_EXPIRED"), penv("TW_PORT_INCOMPLETE"),
		penv("TW_PORT_OTHER"));
	const char *y = tw_fmt(
		"probe:\n  id: %s\n  region: %s\n"
		"collector:\n"
		"  address: localhost:%s\n"
		"  ca_file: %s/pipe-ca.pem\n"
		"  cert_file: %s/%s.pem\n"
		"  key_file: %s/%s.key\n"
		"  batch_max_delay: 100ms\n"
		"  heartbeat: 1s\n"
		"spool:\n  path: %s\n  max_bytes: 64MiB\n"
		"concurrency: 64\n"
		"defaults:\n  interval: %s\n  timeout: 3s\n  ca_file: %s\n"
		"  profiles: [modern, tls13]\n"
		"targets:\n%s",
		p->id, pf_region(p->id), penv("TW_PORT_COLLECTOR"), pipe, pipe, p->id, pipe, p->id,
		p->spool, interval, tw_pki("root.pem"), targets);
	cr_assert(tw_write_file(p->yaml, y) == 0);
}

static void pf_migrate(struct proof_env *e)
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

static void pf_start_collector(struct proof_env *e)
{
	char *argv[] = { (char *)tw_fmt("%s/tlswatch-collector", penv("TW_BUILD")), "run",
			 "-c", e->collector_yaml, NULL };
	e->coll = tw_spawn(argv, e->coll_log);
	cr_assert(e->coll > 0);
	if (!tw_wait_port(env_port("TW_PORT_COLLECTOR"), 15000)) {
		pf_dump_logs(e);
		cr_assert_fail("collector did not listen");
	}
}

/* Starts a probe process: a new run, whose first seq the caller knows
 * (1 for a new spool, else pf_probe_killed's answer). */
static void pf_start_probe(struct pf_probe *p, unsigned long long first)
{
	char *argv[] = { (char *)tw_probe_bin(), "run", "-c", p->yaml, "--stats-file", p->stats,
			 "--log-level", "info", NULL };
	cr_assert(p->nruns < PF_MAX_RUNS, "more than %d runs of %s", PF_MAX_RUNS, p->id);
	unlink(p->stats);
	p->runs[p->nruns].first = first;
	p->runs[p->nruns].last = first - 1;
	p->runs[p->nruns].killed = false;
	p->nruns++;
	p->pid = tw_spawn(argv, p->log);
	cr_assert(p->pid > 0);
}

/* A number from a probe's stats file (a dotted path: "spool.dropped");
 * -1 when the file or the key is missing. */
static long long pf_stat(const struct pf_probe *p, const char *path)
{
	json_error_t je;
	json_t *root = json_load_file(p->stats, 0, &je);
	if (root == NULL)
		return -1;
	char key[128];
	snprintf(key, sizeof key, "%s", path);
	json_t *o = root;
	for (char *s = key, *dot; o && s; s = dot) {
		dot = strchr(s, '.');
		if (dot)
			*dot++ = '\0';
		o = json_object_get(o, s);
	}
	long long v = o && json_is_integer(o) ? json_integer_value(o) : -1;
	json_decref(root);
	return v;
}

/* The highest seq in a spool's segment files (probe/spool.h record
 * format), read by the test itself; 0 when none. */
static unsigned long long pf_spool_max_seq(const char *dir)
{
	unsigned long long mx = 0;
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
	return mx;
}

/* One "NAME N" line of the spool's state file; 0 when absent. */
static unsigned long long pf_spool_state(const char *dir, const char *name)
{
	char *t = tw_read_file(tw_fmt("%s/state", dir));
	unsigned long long v = 0;
	size_t nl = strlen(name);
	for (char *l = t; l && *l; ) {
		if (!strncmp(l, name, nl) && l[nl] == ' ')
			v = strtoull(l + nl + 1, NULL, 10);
		char *n = strchr(l, '\n');
		l = n ? n + 1 : NULL;
	}
	free(t);
	return v;
}

/* After a SIGKILL: what the dead run produced, read from its spool (every
 * record not acked is still there; acked ones are committed), and the
 * first seq of the next run - past the newest record and the reservation
 * (probe/spool.h: a crash leaves a gap, never a duplicate). */
static inline unsigned long long pf_probe_killed(struct pf_probe *p)
{
	struct pf_run *r = &p->runs[p->nruns - 1];
	unsigned long long on_disk = pf_spool_max_seq(p->spool);
	unsigned long long acked = pf_spool_state(p->spool, "acked");
	unsigned long long last = on_disk > acked ? on_disk : acked;
	r->killed = true;
	r->reserved = pf_spool_state(p->spool, "reserved");
	if (last >= r->first)
		r->last = last;
	unsigned long long base = last > r->reserved ? last : r->reserved;
	if (r->first - 1 > base)
		base = r->first - 1;
	return base + 1;
}

/* One integer from the test's database; reconnects (PostgreSQL may have
 * been restarted or failed over); asserts after 60 s of failures. */
static long long pf_q(struct proof_env *e, const char *sql)
{
	double end = tw_now_ms() + 60000;
	for (;;) {
		if (e->pg == NULL || PQstatus(e->pg) != CONNECTION_OK) {
			if (e->pg)
				PQfinish(e->pg);
			e->pg = PQconnectdb(e->conninfo);
		}
		if (PQstatus(e->pg) == CONNECTION_OK) {
			PGresult *r = PQexec(e->pg, sql);
			if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1) {
				long long v = PQgetisnull(r, 0, 0) ? -1 : strtoll(PQgetvalue(r, 0, 0), NULL, 10);
				PQclear(r);
				return v;
			}
			fprintf(stderr, "pf_q: %s: %s", sql, PQresultErrorMessage(r));
			PQclear(r);
			PQfinish(e->pg);
			e->pg = NULL;
		}
		cr_assert(tw_now_ms() < end, "database unreachable for 60 s: %s",
			  e->pg ? PQerrorMessage(e->pg) : "");
		tw_sleep_ms(250);
	}
}

/* Polls until the query returns at least want or timeout_ms pass. */
static long long pf_wait(struct proof_env *e, const char *sql, long long want, int timeout_ms)
{
	double end = tw_now_ms() + timeout_ms;
	long long v = -1;
	while (tw_now_ms() < end) {
		v = pf_q(e, sql);
		if (v >= want)
			break;
		tw_sleep_ms(200);
	}
	return v;
}

/* Database invariants (test_pipeline.c's): no duplicate (probe_id,
 * spool_epoch, seq), rollup_1m equal to the raw rows per key, rollup_1h's
 * total equal to the raw count. Returns the number of violations. */
static int pf_check_db(struct proof_env *e)
{
	int bad = 0;
	long long dup = pf_q(e, "SELECT count(*) FROM (SELECT probe_id, spool_epoch, seq FROM results"
				" GROUP BY 1,2,3 HAVING count(*) > 1) d");
	long long dup_seq = pf_q(e, "SELECT count(*) FROM (SELECT probe_id, seq FROM results"
				    " GROUP BY 1,2 HAVING count(*) > 1) d");
	long long keys = pf_q(e,
		"SELECT count(*) FROM (SELECT target, port, region, profile, date_trunc('minute', started_at) b,"
		"  count(*) n FROM results GROUP BY 1,2,3,4,5) r"
		" FULL JOIN (SELECT target, port, region, profile, bucket b, sum(attempts) n"
		"  FROM tw_rollup_1m_live('-infinity', 'infinity') GROUP BY 1,2,3,4,5) u USING (target, port, region, profile, b)"
		" WHERE r.n IS DISTINCT FROM u.n");
	long long tot_1h = pf_q(e, "SELECT coalesce(sum(attempts), 0) FROM rollup_1h_live");
	long long tot_raw = pf_q(e, "SELECT count(*) FROM results");
	printf("db: %lld rows, %lld duplicate (probe, epoch, seq), %lld duplicate (probe, seq), "
	       "%lld rollup_1m keys disagreeing, rollup_1h attempts %lld\n",
	       tot_raw, dup, dup_seq, keys, tot_1h);
	cr_expect_eq(dup, 0, "%lld duplicate (probe_id, spool_epoch, seq)", dup);
	cr_expect_eq(dup_seq, 0, "%lld duplicate (probe_id, seq)", dup_seq);
	cr_expect_eq(keys, 0, "%lld rollup_1m keys disagree with the raw rows", keys);
	cr_expect_eq(tot_1h, tot_raw, "rollup_1h attempts %lld != %lld raw rows", tot_1h, tot_raw);
	bad += (dup != 0) + (dup_seq != 0) + (keys != 0) + (tot_1h != tot_raw);
	return bad;
}

/* Waits until a live probe's stored rows reach the seq it has handed out
 * (SIGUSR1 rewrites its stats file), up to timeout_ms. */
static bool pf_wait_caught_up(struct proof_env *e, struct pf_probe *p, int timeout_ms)
{
	double end = tw_now_ms() + timeout_ms;
	while (tw_now_ms() < end) {
		kill(p->pid, SIGUSR1);
		tw_sleep_ms(300);
		long long last = pf_stat(p, "spool.last_seq");
		long long recs = pf_stat(p, "spool.records");
		if (last > 0 && recs == 0 &&
		    pf_q(e, tw_fmt("SELECT coalesce(max(seq), 0) FROM results WHERE probe_id = '%s'",
				   p->id)) >= last)
			return true;
	}
	return false;
}

/* SIGTERM a probe (it drains and exits 0) and close its run from its own
 * stats: first_seq, last_seq, produced, dropped. Returns what it counted
 * as dropped. */
static long long pf_stop_probe(struct proof_env *e, struct pf_probe *p)
{
	int st = tw_stop(p->pid, SIGTERM, 30000);
	p->pid = -1;
	if (!(WIFEXITED(st) && WEXITSTATUS(st) == 0)) {
		pf_dump_logs(e);
		cr_assert_fail("%s did not exit 0 on SIGTERM (status %d)", p->id, st);
	}
	struct pf_run *r = &p->runs[p->nruns - 1];
	long long first = pf_stat(p, "first_seq"), last = pf_stat(p, "spool.last_seq");
	long long produced = pf_stat(p, "produced"), dropped = pf_stat(p, "spool.dropped");
	cr_assert(last >= 0 && produced >= 0 && dropped >= 0, "%s: no stats file", p->id);
	if (produced > 0) {
		cr_expect_eq((unsigned long long)first, r->first,
			     "%s: the last run started at seq %lld, the test expected %llu", p->id, first,
			     r->first);
		cr_expect_eq(last - first + 1, produced,
			     "%s: seq %lld..%lld but produced %lld (the probe's own counter)", p->id, first,
			     last, produced);
	}
	if ((unsigned long long)last >= r->first)
		r->last = (unsigned long long)last;
	return dropped;
}

#endif
