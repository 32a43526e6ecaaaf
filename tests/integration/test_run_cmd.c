/* test_run_cmd.c - `tlswatch-probe run` on the real binary: --help,
 * --check-config (the shipped example is valid, errors at file:line:column),
 * usage and startup errors with their exit codes, and one daemon lifecycle
 * without a collector: results spooled and counted in --stats-file, a bad
 * SIGHUP keeps the old configuration, a good one reloads, SIGUSR1, SIGTERM
 * exits 0, and a restart continues the sequence.
 *
 * Needs only the openssl CLI (for the uplink's certificate files). Targets
 * are loopback ports nobody listens on (connect_refused); the collector
 * address is one too, so the uplink just retries. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static const char *build_dir(void)
{
	const char *b = getenv("TW_BUILD");
	return b && *b ? b : "build";
}

/* Runs the probe with a shell command tail; returns the exit status and
 * the combined output in out. */
static int run_probe(const char *args, char *out, size_t cap)
{
	char cmd[2048];
	snprintf(cmd, sizeof cmd, "%s/tlswatch-probe %s 2>&1", build_dir(), args);
	FILE *p = popen(cmd, "r");
	cr_assert(p != NULL, "popen %s", cmd);
	size_t n = fread(out, 1, cap - 1, p);
	out[n] = '\0';
	int st = pclose(p);
	cr_assert(WIFEXITED(st), "%s did not exit normally", cmd);
	return WEXITSTATUS(st);
}

static void write_text(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	cr_assert(f, "fopen %s: %s", path, strerror(errno));
	cr_assert(fputs(text, f) >= 0);
	cr_assert(fclose(f) == 0);
}

static char *read_text(const char *path)
{
	FILE *f = fopen(path, "r");
	if (!f)
		return NULL;
	size_t cap = 1 << 20, n;
	char *b = malloc(cap);
	cr_assert(b);
	n = fread(b, 1, cap - 1, f);
	b[n] = '\0';
	fclose(f);
	return b;
}

static void sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
	nanosleep(&ts, NULL);
}

/* A loopback TCP port nobody listens on (bound, then closed). */
static int dead_port(void)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof a;
	cr_assert(fd >= 0);
	cr_assert(bind(fd, (struct sockaddr *)&a, sizeof a) == 0);
	cr_assert(getsockname(fd, (struct sockaddr *)&a, &len) == 0);
	close(fd);
	return ntohs(a.sin_port);
}

/* ---- help, check-config, usage ---- */

Test(run_cmd, help_documents_signals_files_and_exit_codes)
{
	char out[8192];
	int rc = run_probe("run --help", out, sizeof out);
	cr_assert_eq(rc, 0, "exit %d: %s", rc, out);
	const char *want[] = { "-c, --config FILE", "--check-config", "--stats-file", "--log-level",
			       "SIGHUP", "SIGTERM", "SIGUSR1", "spool", "Exit status", "1 runtime error" };
	for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
		cr_assert(strstr(out, want[i]), "--help lacks \"%s\":\n%s", want[i], out);
	cr_assert_null(strstr(out, "not implemented"));
}

/* A temp dir holding the files a config names: a.pem and a.key (0600).
 * Their content is not looked at by --check-config, only that they open. */
static void files_dir(char *dir, size_t cap)
{
	char p[256];
	snprintf(dir, cap, "/tmp/tw-runcmd-f-XXXXXX");
	cr_assert(mkdtemp(dir), "mkdtemp: %s", strerror(errno));
	const char *names[] = { "ca.pem", "probe.pem", "probe.key", "client.pem", "client.key",
				"partner-ca.pem" };
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
		snprintf(p, sizeof p, "%s/%s", dir, names[i]);
		write_text(p, "-----BEGIN PLACEHOLDER-----\n");
		cr_assert(chmod(p, strstr(names[i], ".key") ? 0600 : 0644) == 0);
	}
}

static void files_dir_rm(const char *dir)
{
	char cmd[256];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	cr_assert(system(cmd) == 0);
}

/* text with every "/etc/tlswatch" replaced by dir, written to a temp file */
static void write_with_dir(char *path, const char *text, const char *dir)
{
	int fd = mkstemp(path);
	cr_assert(fd >= 0);
	FILE *f = fdopen(fd, "w");
	cr_assert(f);
	for (const char *p = text; *p;) {
		const char *hit = strstr(p, "/etc/tlswatch");
		size_t n = hit ? (size_t)(hit - p) : strlen(p);
		cr_assert(fwrite(p, 1, n, f) == n);
		p += n;
		if (hit) {
			cr_assert(fputs(dir, f) >= 0);
			p += strlen("/etc/tlswatch");
		}
	}
	cr_assert(fclose(f) == 0);
}

Test(run_cmd, example_config_is_valid)
{
	char out[4096], dir[64], path[] = "/tmp/tw-runcmd-XXXXXX", args[256];
	char *example = read_text("deploy/probe.example.yaml");
	cr_assert(example, "deploy/probe.example.yaml: %s", strerror(errno));

	/* as shipped it names /etc/tlswatch files that do not exist here */
	int rc = run_probe("run -c deploy/probe.example.yaml --check-config", out, sizeof out);
	cr_assert_eq(rc, 2, "exit %d: %s", rc, out);
	cr_assert(strstr(out, "deploy/probe.example.yaml:68:12: collector.ca_file: cannot read "
			      "/etc/tlswatch/ca.pem: No such file"), "%s", out);

	files_dir(dir, sizeof dir);
	write_with_dir(path, example, dir);
	free(example);
	snprintf(args, sizeof args, "run -c %s --check-config", path);
	rc = run_probe(args, out, sizeof out);
	unlink(path);
	files_dir_rm(dir);
	cr_assert_eq(rc, 0, "exit %d: %s", rc, out);
	cr_assert(strstr(out, "valid") && strstr(out, "targets"), "%s", out);
	cr_assert(strstr(out, "6 schedule entries"), "%s", out);
}

/* Each file the config names, made unusable in turn: --check-config
 * fails at the value's line and column, naming the file. */
Test(run_cmd, check_config_opens_every_file)
{
	char dir[64], out[4096], args[256], want[512], victim[256];
	const char *yaml =
		"probe: {id: p1, region: r1}\n"
		"collector:\n"
		"  address: \"c.example:7443\"\n"
		"  ca_file: /etc/tlswatch/ca.pem\n"                       /* 4:12 */
		"  cert_file: /etc/tlswatch/probe.pem\n"                  /* 5:14 */
		"  key_file: /etc/tlswatch/probe.key\n"                   /* 6:13 */
		"spool: {path: /tmp/spool}\n"
		"defaults: {ca_file: /etc/tlswatch/partner-ca.pem}\n"     /* 8:21 */
		"targets:\n"
		"  - host: a.example\n"
		"  - host: b.example\n"
		"    client_cert: /etc/tlswatch/client.pem\n"             /* 12:18 */
		"    client_key: /etc/tlswatch/client.key\n"              /* 13:17 */
		"    ca_file: /etc/tlswatch/ca.pem\n";                    /* 14:14 */
	const struct { const char *file; const char *where; int mode; const char *why; } cases[] = {
		{ "ca.pem", ":4:12: collector.ca_file: cannot read ", -1, "No such file" },
		{ "probe.pem", ":5:14: collector.cert_file: cannot read ", -1, "No such file" },
		{ "probe.key", ":6:13: collector.key_file: cannot read ", -1, "No such file" },
		{ "probe.key", ":6:13: collector.key_file: private key ", 0644, "(mode 0644)" },
		{ "partner-ca.pem", ":8:21: defaults.ca_file: cannot read ", -1, "No such file" },
		{ "client.pem", ":12:18: targets[1].client_cert: cannot read ", -1, "No such file" },
		{ "client.key", ":13:17: targets[1].client_key: private key ", 0604, "(mode 0604)" },
		{ "client.key", ":13:17: targets[1].client_key: cannot read ", 0000 | 01000, "" },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char path[] = "/tmp/tw-runcmd-XXXXXX";
		files_dir(dir, sizeof dir);
		write_with_dir(path, yaml, dir);
		snprintf(victim, sizeof victim, "%s/%s", dir, cases[i].file);
		if (cases[i].mode < 0) {
			cr_assert(unlink(victim) == 0);
		} else if (cases[i].mode & 01000) {
			/* a directory where a file should be */
			cr_assert(unlink(victim) == 0 && mkdir(victim, 0700) == 0);
		} else {
			cr_assert(chmod(victim, (mode_t)cases[i].mode) == 0);
		}
		snprintf(args, sizeof args, "run -c %s --check-config", path);
		int rc = run_probe(args, out, sizeof out);
		snprintf(want, sizeof want, "%s%s%s", path, cases[i].where, victim);
		unlink(path);
		files_dir_rm(dir);
		cr_assert_eq(rc, 2, "case %zu: exit %d: %s", i, rc, out);
		cr_assert(strstr(out, want), "case %zu: want \"%s\" in: %s", i, want, out);
		cr_assert(strstr(out, cases[i].why), "case %zu: want \"%s\" in: %s", i, cases[i].why, out);
	}
}

Test(run_cmd, unknown_profile_names_its_position)
{
	char path[] = "/tmp/tw-runcmd-XXXXXX", out[4096], args[256];
	int fd = mkstemp(path);
	cr_assert(fd >= 0);
	const char *yaml =
		"probe: {id: p1, region: r1}\n"
		"collector: {address: \"c.example:7443\", ca_file: /x, cert_file: /y, key_file: /z}\n"
		"spool: {path: /tmp/spool}\n"
		"targets:\n"
		"  - host: a.example\n"
		"    profiles: [modern, \"Netscape 4\"]\n";
	cr_assert(write(fd, yaml, strlen(yaml)) == (ssize_t)strlen(yaml));
	close(fd);
	snprintf(args, sizeof args, "run -c %s --check-config", path);
	int rc = run_probe(args, out, sizeof out);
	/* the daemon validates the same way before starting anything */
	char out2[4096];
	snprintf(args, sizeof args, "run -c %s", path);
	int rc2 = run_probe(args, out2, sizeof out2);
	unlink(path);
	cr_assert_eq(rc, 2, "exit %d: %s", rc, out);
	char want[300];
	snprintf(want, sizeof want, "%s:6:", path);
	cr_assert(strstr(out, want) && strstr(out, "unknown profile \"Netscape 4\""), "%s", out);
	cr_assert_eq(rc2, 2, "exit %d: %s", rc2, out2);
	cr_assert(strstr(out2, want) && strstr(out2, "unknown profile \"Netscape 4\""), "%s", out2);
}

Test(run_cmd, bad_file_exits_2_with_position)
{
	char out[4096], args[256];
	int rc = run_probe("run -c /nonexistent/probe.yaml", out, sizeof out);
	cr_assert_eq(rc, 2, "exit %d: %s", rc, out);
	cr_assert(strstr(out, "/nonexistent/probe.yaml: cannot read: No such file"), "%s", out);

	char path[] = "/tmp/tw-runcmd-XXXXXX";
	int fd = mkstemp(path);
	cr_assert(fd >= 0);
	const char *yaml =
		"probe: {id: p1, region: r1}\n"
		"collector: {address: \"c.example:7443\", ca_file: /x, cert_file: /y, key_file: /z}\n"
		"spool: {path: /tmp/spool}\n"
		"concurrency: many\n"
		"targets: [{host: a.example}]\n";
	cr_assert(write(fd, yaml, strlen(yaml)) == (ssize_t)strlen(yaml));
	close(fd);
	char want[300];
	snprintf(want, sizeof want, "%s:4:14: concurrency: expected an integer", path);
	char out2[4096];
	snprintf(args, sizeof args, "run -c %s --check-config", path);
	rc = run_probe(args, out, sizeof out);
	snprintf(args, sizeof args, "run -c %s", path);
	int rc2 = run_probe(args, out2, sizeof out2);
	unlink(path);
	cr_assert_eq(rc, 2, "exit %d: %s", rc, out);
	cr_assert(strstr(out, want), "want \"%s\" in: %s", want, out);
	cr_assert_eq(rc2, 2, "exit %d: %s", rc2, out2);
	cr_assert(strstr(out2, want), "want \"%s\" in: %s", want, out2);
}

Test(run_cmd, usage_errors_exit_2)
{
	char out[8192];
	const char *cases[][2] = {
		{ "run", "-c FILE is required" },
		{ "run -c deploy/probe.example.yaml --frobnicate", "unknown argument \"--frobnicate\"" },
		{ "run -c deploy/probe.example.yaml --log-level loud", "unknown --log-level \"loud\"" },
		{ "run -c deploy/probe.example.yaml --summary-interval 5", "bad --summary-interval" },
		{ "run -c deploy/probe.example.yaml extra", "unexpected argument \"extra\"" },
		{ "run -c", "needs a value" },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		int rc = run_probe(cases[i][0], out, sizeof out);
		cr_assert_eq(rc, 2, "%s: exit %d: %s", cases[i][0], rc, out);
		cr_assert(strstr(out, cases[i][1]), "%s: want \"%s\" in: %s", cases[i][0], cases[i][1], out);
	}
}

/* ---- the daemon ---- */

struct env {
	char dir[64];
	char cfg[128], stats[128], log[128], spool[128], cert[128], key[128];
	int coll_port, t1, t2, t3;
};

static void env_init(struct env *e)
{
	snprintf(e->dir, sizeof e->dir, "/tmp/tw-runcmd-d-XXXXXX");
	cr_assert(mkdtemp(e->dir), "mkdtemp: %s", strerror(errno));
	snprintf(e->cfg, sizeof e->cfg, "%s/probe.yaml", e->dir);
	snprintf(e->stats, sizeof e->stats, "%s/stats.json", e->dir);
	snprintf(e->log, sizeof e->log, "%s/probe.log", e->dir);
	snprintf(e->spool, sizeof e->spool, "%s/spool", e->dir);
	snprintf(e->cert, sizeof e->cert, "%s/probe.pem", e->dir);
	snprintf(e->key, sizeof e->key, "%s/probe.key", e->dir);
	char cmd[1024];
	snprintf(cmd, sizeof cmd,
		 "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes "
		 "-keyout %s -out %s -subj /CN=probe-t -days 2 >/dev/null 2>&1 && chmod 600 %s",
		 e->key, e->cert, e->key);
	cr_assert(system(cmd) == 0, "openssl could not make a certificate");
	e->coll_port = dead_port();
	e->t1 = dead_port();
	e->t2 = dead_port();
	e->t3 = dead_port();
}

static void env_fini(struct env *e)
{
	char cmd[256];
	snprintf(cmd, sizeof cmd, "rm -rf %s", e->dir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", e->dir);
}

/* extra: more target list items */
static void write_cfg(const struct env *e, const char *extra)
{
	char y[4096];
	snprintf(y, sizeof y,
		 "probe: {id: probe-t, region: test}\n"
		 "collector:\n"
		 "  address: 127.0.0.1:%d\n"
		 "  ca_file: %s\n"
		 "  cert_file: %s\n"
		 "  key_file: %s\n"
		 "spool: {path: %s, fsync_interval: 100ms}\n"
		 "concurrency: 8\n"
		 "defaults:\n"
		 "  interval: 1s\n"
		 "  timeout: 2s\n"
		 "  profiles: [modern, tls13]\n"
		 "targets:\n"
		 "  - {host: 127.0.0.1, port: %d, service: svc, labels: {team: t}}\n"
		 "  - {host: 127.0.0.1, port: %d}\n"
		 "%s",
		 e->coll_port, e->cert, e->cert, e->key, e->spool, e->t1, e->t2, extra);
	write_text(e->cfg, y);
}

/* The daemon under test; killed by kill_child() even when an assertion
 * ends the test early. */
static pid_t g_child = -1;
static struct env *g_env;

static void kill_child(void)
{
	if (g_child > 0) {
		kill(g_child, SIGKILL);
		waitpid(g_child, NULL, 0);
		g_child = -1;
	}
	if (g_env) {
		env_fini(g_env);
		g_env = NULL;
	}
}

static pid_t spawn_probe(const struct env *e)
{
	char bin[512];
	snprintf(bin, sizeof bin, "%s/tlswatch-probe", build_dir());
	pid_t pid = fork();
	cr_assert(pid >= 0);
	if (pid == 0) {
		int fd = open(e->log, O_WRONLY | O_CREAT | O_APPEND, 0644);
		int nul = open("/dev/null", O_RDONLY);
		if (fd < 0 || nul < 0)
			_exit(127);
		dup2(nul, 0);
		dup2(fd, 1);
		dup2(fd, 2);
		execl(bin, bin, "run", "-c", e->cfg, "--stats-file", e->stats, "--summary-interval",
		      "300ms", "--log-level", "info", (char *)NULL);
		_exit(127);
	}
	g_child = pid;
	return pid;
}

/* Waits for exit up to ms; returns the status or -1 (then kills it). */
static int wait_exit(pid_t pid, int ms)
{
	int st;
	for (int waited = 0; waited <= ms; waited += 20) {
		pid_t r = waitpid(pid, &st, WNOHANG);
		if (r == pid) {
			g_child = -1;
			return st;
		}
		sleep_ms(20);
	}
	kill(pid, SIGKILL);
	waitpid(pid, &st, 0);
	g_child = -1;
	return -1;
}

/* An integer from the stats file at a dotted path; -1 when absent. */
static long long stat_ll(const struct env *e, const char *path)
{
	json_error_t je;
	json_t *root = json_load_file(e->stats, 0, &je);
	if (!root)
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

static const char *stat_str(const struct env *e, const char *key, char *buf, size_t cap)
{
	json_t *root = json_load_file(e->stats, 0, NULL);
	const char *s = root ? json_string_value(json_object_get(root, key)) : NULL;
	snprintf(buf, cap, "%s", s ? s : "");
	json_decref(root);
	return buf;
}

static bool wait_log(const struct env *e, const char *needle, int ms)
{
	for (int waited = 0; waited <= ms; waited += 50) {
		char *l = read_text(e->log);
		bool found = l && strstr(l, needle);
		free(l);
		if (found)
			return true;
		sleep_ms(50);
	}
	return false;
}

static bool wait_stat(const struct env *e, const char *path, long long want, int ms)
{
	for (int waited = 0; waited <= ms; waited += 50) {
		if (stat_ll(e, path) >= want)
			return true;
		sleep_ms(50);
	}
	return false;
}

/* The probe's log for assertion messages (valid until the next call). */
static const char *logdump(const struct env *e)
{
	static char *last;
	free(last);
	last = read_text(e->log);
	return last ? last : "(no log)";
}
#define LOGDUMP(e) logdump(e)

Test(run_cmd, daemon_lifecycle, .fini = kill_child)
{
	static struct env e;
	char buf[64];
	env_init(&e);
	g_env = &e;
	write_cfg(&e, "");
	pid_t pid = spawn_probe(&e);

	cr_assert(wait_log(&e, "started: version", 10000), "no start line:\n%s", LOGDUMP(&e));
	cr_assert(wait_log(&e, "4 entries (2 targets), 2 TLS contexts, concurrency 8", 100),
		  "%s", LOGDUMP(&e));
	cr_assert(wait_stat(&e, "produced", 6, 15000), "too few results:\n%s", LOGDUMP(&e));

	/* a broken file: logged with its position, the old configuration stays */
	char *good = read_text(e.cfg), *conc = good ? strstr(good, "concurrency: 8") : NULL;
	cr_assert(conc);
	conc[13] = 'x';                         /* "concurrency: x", line 8 */
	write_text(e.cfg, good);
	free(good);
	kill(pid, SIGHUP);
	char want[256];
	snprintf(want, sizeof want, "reload failed: %s:8:14: concurrency: expected an integer", e.cfg);
	cr_assert(wait_log(&e, want, 5000), "want \"%s\":\n%s", want, LOGDUMP(&e));
	cr_assert(wait_log(&e, "; keeping the previous configuration", 100), "%s", LOGDUMP(&e));
	long long before = stat_ll(&e, "produced");
	cr_assert(wait_stat(&e, "produced", before + 4, 10000), "stopped producing after a bad reload:\n%s",
		  LOGDUMP(&e));
	cr_assert(wait_stat(&e, "reload_failures", 1, 2000));

	/* a good file with one more target: +2 entries */
	char extra[128];
	snprintf(extra, sizeof extra, "  - {host: 127.0.0.1, port: %d, profiles: [modern]}\n", e.t3);
	write_cfg(&e, extra);
	kill(pid, SIGHUP);
	cr_assert(wait_log(&e, "reloaded: 5 entries (+1 -0, 4 kept", 5000), "%s", LOGDUMP(&e));
	cr_assert(wait_stat(&e, "entries", 5, 2000));
	cr_assert(wait_stat(&e, "reloads", 1, 2000));

	kill(pid, SIGUSR1);
	cr_assert(wait_log(&e, "SIGUSR1: handshakes=", 5000), "%s", LOGDUMP(&e));

	/* stop: exit 0; the collector is down, so after the grace the records stay */
	kill(pid, SIGTERM);
	int st = wait_exit(pid, 20000);
	cr_assert(st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0, "status %d:\n%s", st, LOGDUMP(&e));
	cr_assert_str_eq(stat_str(&e, "state", buf, sizeof buf), "stopped");
	long long produced = stat_ll(&e, "produced");
	cr_assert_geq(produced, 10);
	cr_assert_eq(stat_ll(&e, "by_outcome.connect_refused"), produced, "%s", LOGDUMP(&e));
	cr_assert_eq(stat_ll(&e, "first_seq"), 1);
	cr_assert_eq(stat_ll(&e, "last_seq"), produced, "fresh spool: seq 1..produced");
	cr_assert_eq(stat_ll(&e, "spool.records"), produced, "nothing acked without a collector");
	cr_assert_eq(stat_ll(&e, "spool.dropped"), 0);
	cr_assert_eq(stat_ll(&e, "result_errors"), 0);
	cr_assert(wait_log(&e, "records remain spooled", 100), "%s", LOGDUMP(&e));

	/* restart on the same spool: the sequence continues, never reused;
	 * two SIGTERMs: the second skips the grace period. The first run's
	 * stats file goes first: its "produced" would satisfy the wait below
	 * before the new process wrote anything (a flake seen under load). */
	cr_assert_eq(unlink(e.stats), 0);
	pid = spawn_probe(&e);
	snprintf(want, sizeof want, ": %lld unacked records recovered", produced);
	cr_assert(wait_log(&e, want, 10000), "want \"%s\":\n%s", want, LOGDUMP(&e));
	cr_assert(wait_stat(&e, "produced", 1, 15000), "%s", LOGDUMP(&e));
	kill(pid, SIGTERM);
	sleep_ms(200);
	kill(pid, SIGTERM);
	st = wait_exit(pid, 4000);
	cr_assert(st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0,
		  "a second SIGTERM must stop at once (status %d):\n%s", st, LOGDUMP(&e));
	cr_assert_gt(stat_ll(&e, "first_seq"), produced, "a restart reused a sequence number");
	cr_assert_eq(stat_ll(&e, "spool.records"), stat_ll(&e, "produced") + produced);
}

Test(run_cmd, startup_errors_and_exit_codes, .fini = kill_child)
{
	static struct env e;
	char out[8192], args[512];
	env_init(&e);
	g_env = &e;

	/* a target's CA file that does not exist: a configuration error at the target */
	write_cfg(&e, "  - host: 127.0.0.1\n    port: 9\n    ca_file: /nonexistent/ca.pem\n");
	snprintf(args, sizeof args, "run -c %s", e.cfg);
	int rc = run_probe(args, out, sizeof out);
	cr_assert_eq(rc, 2, "exit %d: %s", rc, out);
	char want[256];
	snprintf(want, sizeof want, "%s:16:5: targets[2]: profile \"modern\":", e.cfg);
	cr_assert(strstr(out, want), "want \"%s\" in: %s", want, out);

	/* the spool cannot be created (its parent is a file): runtime error 1 */
	write_cfg(&e, "");
	char cfgtext[4096], *y = read_text(e.cfg);
	cr_assert(y);
	char *sp = strstr(y, e.spool);
	cr_assert(sp);
	snprintf(cfgtext, sizeof cfgtext, "%.*s%s/x%s", (int)(sp - y), y, e.cert, sp + strlen(e.spool));
	free(y);
	write_text(e.cfg, cfgtext);
	rc = run_probe(args, out, sizeof out);
	cr_assert_eq(rc, 1, "exit %d: %s", rc, out);
	cr_assert(strstr(out, "cannot open the spool"), "%s", out);
}
