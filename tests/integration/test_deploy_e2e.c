/*
 * test_deploy_e2e.c - the certificates deploy/pki.sh issues are the
 * identities the real collector stores: two probes with pki.sh client
 * certificates stream to a collector with a pki.sh server certificate, and
 * every row carries the certificate's CN as probe_id and OU as region. A
 * probe whose configuration claims another region is refused, and renewing
 * one probe's certificate keeps the stream going.
 *
 * Run through tests/integration/test_deploy_e2e.sh (PostgreSQL, ports).
 */
#include <criterion/criterion.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "probe_run.h"
#include "proc.h"

static const char *penv(const char *k)
{
	const char *v = getenv(k);
	cr_assert(v && *v, "%s is not set (run through tests/integration/test_deploy_e2e.sh)", k);
	return v;
}

struct e2e {
	char dir[512], pki[600], conninfo[1024], coll_yaml[600], coll_log[600];
	pid_t coll;
	pid_t probe[2];
	PGconn *pg;
};

static struct e2e E;

static void fini(void)
{
	for (int i = 0; i < 2; i++)
		if (E.probe[i] > 0)
			tw_stop(E.probe[i], SIGKILL, 2000);
	if (E.coll > 0)
		tw_stop(E.coll, SIGKILL, 2000);
	if (E.pg)
		PQfinish(E.pg);
}

TestSuite(deploy_e2e, .fini = fini);

static void dump_logs(void)
{
	const char *logs[] = { E.coll_log, tw_fmt("%s/probe-0.log", E.dir),
			       tw_fmt("%s/probe-1.log", E.dir) };
	for (int i = 0; i < 3; i++) {
		char *t = tw_read_file(logs[i]);
		size_t n = t ? strlen(t) : 0;
		fprintf(stderr, "---- %s (tail)\n%s\n", logs[i], t ? t + (n > 4000 ? n - 4000 : 0) : "(none)");
		free(t);
	}
}

static void pki(const char *args)
{
	const char *cmd = tw_fmt("sh %s/deploy/pki.sh --dir %s %s >/dev/null", penv("TW_SRC"), E.pki, args);
	cr_assert_eq(system(cmd), 0, "%s failed", cmd);
}

static void setup_db_and_collector(const char *name)
{
	memset(&E, 0, sizeof E);
	E.coll = E.probe[0] = E.probe[1] = -1;
	snprintf(E.dir, sizeof E.dir, "%s/%s", penv("TW_WORK"), name);
	cr_assert_eq(mkdir(E.dir, 0700), 0);
	snprintf(E.pki, sizeof E.pki, "%s/pki", E.dir);
	pki("init");
	pki("collector c1 --san DNS:localhost --san IP:127.0.0.1");
	pki("probe probe-a eu-west");
	pki("probe probe-b us-east");

	PGconn *admin = tw_pg(NULL);
	cr_assert(admin);
	cr_assert_eq(tw_pg_exec(admin, tw_fmt("CREATE DATABASE deploy_%s", name)), 0);
	PQfinish(admin);
	snprintf(E.conninfo, sizeof E.conninfo, "%s dbname=deploy_%s", penv("TW_PG_CONNINFO"), name);

	/* the file names of deploy/collector.example.yaml, from pki.sh's directory */
	const char *c = tw_fmt("%s/collectors/c1", E.pki);
	snprintf(E.coll_yaml, sizeof E.coll_yaml, "%s/collector.yaml", E.dir);
	snprintf(E.coll_log, sizeof E.coll_log, "%s/collector.log", E.dir);
	cr_assert_eq(tw_write_file(E.coll_yaml, tw_fmt(
		"listen: 127.0.0.1:%s\n"
		"tls:\n"
		"  ca_file: %s/probes-ca.pem\n"
		"  cert_file: %s/collector.pem\n"
		"  key_file: %s/collector.key\n"
		"database:\n"
		"  conninfo: \"%s\"\n"
		"  connections: 2\n"
		"log:\n"
		"  level: info\n",
		penv("TW_PORT_COLLECTOR"), c, c, c, E.conninfo)), 0);
	struct probe_run r;
	char *mig[] = { (char *)tw_fmt("%s/tlswatch-collector", penv("TW_BUILD")), "migrate", "-c",
			E.coll_yaml, NULL };
	cr_assert_eq(probe_run_argv(&r, mig, 60), 0);
	cr_assert_eq(r.exit_code, 0, "migrate:\n%s", probe_describe(&r));
	probe_run_free(&r);
	E.pg = PQconnectdb(E.conninfo);
	cr_assert_eq(PQstatus(E.pg), CONNECTION_OK);

	char *run[] = { (char *)tw_fmt("%s/tlswatch-collector", penv("TW_BUILD")), "run", "-c",
			E.coll_yaml, NULL };
	E.coll = tw_spawn(run, E.coll_log);
	cr_assert_gt(E.coll, 0);
	if (!tw_wait_port((int)strtol(penv("TW_PORT_COLLECTOR"), NULL, 10), 15000)) {
		dump_logs();
		cr_assert_fail("the collector did not listen");
	}
}

/* Probe slot i runs as pki.sh's probe ID, its config claiming REGION. */
static void start_probe(int i, const char *id, const char *region)
{
	const char *p = tw_fmt("%s/probes/%s", E.pki, id);
	const char *yaml = tw_fmt("%s/probe-%d.yaml", E.dir, i);
	cr_assert_eq(tw_write_file(yaml, tw_fmt(
		"probe:\n"
		"  id: %s\n"
		"  region: %s\n"
		"collector:\n"
		"  address: localhost:%s\n"
		"  ca_file: %s/ca.pem\n"
		"  cert_file: %s/probe.pem\n"
		"  key_file: %s/probe.key\n"
		"  batch_max_delay: 100ms\n"
		"  heartbeat: 1s\n"
		"spool:\n"
		"  path: %s/spool-%d\n"
		"defaults:\n"
		"  interval: 1s\n"
		"  timeout: 2s\n"
		"targets:\n"
		"  - host: 127.0.0.1\n"
		"    port: %s\n",
		id, region, penv("TW_PORT_COLLECTOR"), p, p, p, E.dir, i, penv("TW_PORT_REFUSED"))), 0);
	char *argv[] = { (char *)tw_probe_bin(), "run", "-c", (char *)yaml, "--log-level", "info", NULL };
	E.probe[i] = tw_spawn(argv, tw_fmt("%s/probe-%d.log", E.dir, i));
	cr_assert_gt(E.probe[i], 0);
}

static long long wait_at_least(const char *sql, long long want, int timeout_ms)
{
	double end = tw_now_ms() + timeout_ms;
	long long v = -1;
	while (tw_now_ms() < end) {
		v = tw_pg_ll(E.pg, sql);
		if (v >= want)
			break;
		tw_sleep_ms(200);
	}
	return v;
}

#define ROWS_OF(id, region) \
	"SELECT count(*) FROM results WHERE probe_id = '" id "' AND region = '" region "'"

Test(deploy_e2e, rows_carry_the_cn_and_ou_pki_sh_issued)
{
	setup_db_and_collector("identity");
	start_probe(0, "probe-a", "eu-west");
	start_probe(1, "probe-b", "us-east");
	long long a = wait_at_least(ROWS_OF("probe-a", "eu-west"), 3, 30000);
	long long b = wait_at_least(ROWS_OF("probe-b", "us-east"), 3, 30000);
	if (a < 3 || b < 3)
		dump_logs();
	cr_assert_geq(a, 3, "probe-a/eu-west rows: %lld", a);
	cr_assert_geq(b, 3, "probe-b/us-east rows: %lld", b);
	cr_expect_eq(tw_pg_ll(E.pg, "SELECT count(*) FROM results WHERE (probe_id, region) NOT IN "
				    "(('probe-a', 'eu-west'), ('probe-b', 'us-east'))"), 0);
	cr_expect_eq(tw_pg_ll(E.pg, "SELECT count(*) FROM probes WHERE (probe_id, region) IN "
				    "(('probe-a', 'eu-west'), ('probe-b', 'us-east'))"), 2);

	/* renew probe-a's certificate (new key): after a restart it streams on
	 * under the same identity; probe-b was never stopped */
	tw_stop(E.probe[0], SIGTERM, 30000);
	E.probe[0] = -1;
	pki("--renew probe probe-a eu-west");
	long long before = tw_pg_ll(E.pg, ROWS_OF("probe-a", "eu-west"));
	long long b_before = tw_pg_ll(E.pg, ROWS_OF("probe-b", "us-east"));
	start_probe(0, "probe-a", "eu-west");
	long long after = wait_at_least(ROWS_OF("probe-a", "eu-west"), before + 2, 30000);
	if (after < before + 2)
		dump_logs();
	cr_expect_geq(after, before + 2, "no rows after the renewal (%lld -> %lld)", before, after);
	cr_expect_gt(tw_pg_ll(E.pg, ROWS_OF("probe-b", "us-east")), b_before);
}

Test(deploy_e2e, a_probe_claiming_another_region_is_refused)
{
	setup_db_and_collector("claim");
	/* probe-a's certificate says OU=eu-west; its config says us-east */
	start_probe(0, "probe-a", "us-east");
	double end = tw_now_ms() + 20000;
	while (tw_now_ms() < end && tw_file_count(E.coll_log, "does not match certificate OU") == 0)
		tw_sleep_ms(100);
	if (tw_file_count(E.coll_log, "does not match certificate OU") == 0)
		dump_logs();
	cr_assert_gt(tw_file_count(E.coll_log, "does not match certificate OU"), 0);
	cr_expect_eq(tw_pg_ll(E.pg, "SELECT count(*) FROM results"), 0);
}

/* ---- systemd Type=notify: the units say Type=notify and WatchdogSec, so each
 * daemon must send READY=1 once it serves, WATCHDOG=1 from its loop, and
 * STOPPING=1 when SIGTERM starts the drain. A datagram socket plays systemd. */

static int notify_listen(const char *path)
{
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	cr_assert_geq(fd, 0);
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	cr_assert_lt(strlen(path), sizeof a.sun_path);
	memcpy(a.sun_path, path, strlen(path) + 1);
	unlink(path);
	cr_assert_eq(bind(fd, (struct sockaddr *)&a, sizeof a), 0, "bind %s", path);
	return fd;
}

/* Reads datagrams into seen (appended) until one contains want. */
static bool notify_wait(int fd, const char *want, int timeout_ms, char *seen, size_t cap)
{
	double end = tw_now_ms() + timeout_ms;
	while (tw_now_ms() < end) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		if (poll(&p, 1, 100) <= 0)
			continue;
		char msg[4096];
		ssize_t n = recv(fd, msg, sizeof msg - 1, 0);
		if (n <= 0)
			continue;
		msg[n] = '\0';
		size_t l = strlen(seen);
		snprintf(seen + l, cap - l, "%s|", msg);
		if (strstr(msg, want))
			return true;
	}
	return false;
}

Test(deploy_e2e, daemons_tell_systemd_ready_watchdog_and_stopping)
{
	char cpath[600], ppath[600], cseen[8192] = "", pseen[8192] = "";
	snprintf(cpath, sizeof cpath, "%s/notify-c-%d", penv("TW_WORK"), (int)getpid());
	snprintf(ppath, sizeof ppath, "%s/notify-p-%d", penv("TW_WORK"), (int)getpid());
	int cfd = notify_listen(cpath), pfd = notify_listen(ppath);

	/* 400 ms watchdog: pings every 200 ms */
	setenv("WATCHDOG_USEC", "400000", 1);
	setenv("NOTIFY_SOCKET", cpath, 1);
	setup_db_and_collector("notify");
	setenv("NOTIFY_SOCKET", ppath, 1);
	start_probe(0, "probe-a", "eu-west");
	unsetenv("NOTIFY_SOCKET");
	unsetenv("WATCHDOG_USEC");

	cr_expect(notify_wait(cfd, "READY=1", 15000, cseen, sizeof cseen),
		  "collector never said READY=1: %s", cseen);
	cr_expect(notify_wait(pfd, "READY=1", 15000, pseen, sizeof pseen),
		  "probe never said READY=1: %s", pseen);
	cr_expect(notify_wait(cfd, "WATCHDOG=1", 3000, cseen, sizeof cseen),
		  "collector sent no watchdog ping: %s", cseen);
	cr_expect(notify_wait(pfd, "WATCHDOG=1", 3000, pseen, sizeof pseen),
		  "probe sent no watchdog ping: %s", pseen);

	kill(E.probe[0], SIGHUP);
	cr_expect(notify_wait(pfd, "RELOADING=1", 5000, pseen, sizeof pseen),
		  "probe did not say RELOADING=1 on SIGHUP: %s", pseen);

	kill(E.probe[0], SIGTERM);
	cr_expect(notify_wait(pfd, "STOPPING=1", 5000, pseen, sizeof pseen),
		  "probe did not say STOPPING=1 on SIGTERM: %s", pseen);
	kill(E.coll, SIGTERM);
	cr_expect(notify_wait(cfd, "STOPPING=1", 5000, cseen, sizeof cseen),
		  "collector did not say STOPPING=1 on SIGTERM: %s", cseen);
	close(cfd);
	close(pfd);
	unlink(cpath);
	unlink(ppath);
}
