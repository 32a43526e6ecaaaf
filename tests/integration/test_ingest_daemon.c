/*
 * test_ingest_daemon.c - the collector's probe server as a daemon, each
 * test with a `tlswatch-collector run` of its own (tests/integration/
 * test_ingest_daemon.sh provides PostgreSQL and the PKI): SIGTERM drains -
 * the batch in flight is committed and acked before the close - and a
 * database that is not there yet pauses reading until it is.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ingest_env.h"

#include <openssl/err.h>
#include <openssl/ssl.h>

TestSuite(ingest_daemon, .timeout = 90);

static int free_port(void)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sa = { .sin_family = AF_INET };
	inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
	cr_assert_eq(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
	socklen_t sl = sizeof sa;
	getsockname(fd, (struct sockaddr *)&sa, &sl);
	close(fd);
	return ntohs(sa.sin_port);
}

/* A collector of its own (port, http port or 0, conninfo), logging to
 * $TW_WORK/logs/NAME.log; returns its pid once the probe port accepts. */
static pid_t start_collector_nofile(const char *name, int port, int http_port,
				    const char *conninfo, rlim_t nofile, char *yaml, size_t yamlcap,
				    char *logf, size_t logcap);

/* More keys of the limits: section (", max_connections: 20"); each test runs
 * in a process of its own. */
static const char *extra_limits = "";

static pid_t start_collector(const char *name, int port, int http_port, const char *conninfo,
			     char *yaml, size_t yamlcap, char *logf, size_t logcap)
{
	return start_collector_nofile(name, port, http_port, conninfo, 0, yaml, yamlcap, logf,
				      logcap);
}

/* The same with a hard and soft open-file limit of nofile (0: inherited). */
static pid_t start_collector_nofile(const char *name, int port, int http_port,
				    const char *conninfo, rlim_t nofile, char *yaml, size_t yamlcap,
				    char *logf, size_t logcap)
{
	char text[2048], http[64] = "";
	const char *work = env("TW_WORK"), *pipe = env("TW_PIPE");
	snprintf(yaml, yamlcap, "%s/%s.yaml", work, name);
	snprintf(logf, logcap, "%s/logs/%s.log", work, name);
	if (http_port)
		snprintf(http, sizeof http, "http: {listen: 127.0.0.1:%d}\n", http_port);
	snprintf(text, sizeof text,
		 "listen: 127.0.0.1:%d\n"
		 "tls: {ca_file: %s/pipe-ca.pem, cert_file: %s/collector.pem, key_file: %s/collector.key}\n"
		 "%s"
		 "database: {conninfo: \"%s\", connections: 1}\n"
		 "limits: {shutdown_timeout: 5s%s}\n"
		 "log: {level: debug}\n", port, pipe, pipe, pipe, http, conninfo, extra_limits);
	FILE *f = fopen(yaml, "w");
	cr_assert_not_null(f);
	fputs(text, f);
	fclose(f);

	pid_t pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		int fd = open(logf, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		dup2(fd, 2);
		dup2(fd, 1);
		struct rlimit rl = { nofile, nofile };
		if (nofile && setrlimit(RLIMIT_NOFILE, &rl) != 0)
			_exit(126);
		execl(env("TW_COLLECTOR_BIN"), "tlswatch-collector", "run", "-c", yaml, (char *)NULL);
		_exit(127);
	}
	/* wait for the port: a bare TCP connect and close is not a refusal */
	bool up = false;
	for (int i = 0; i < 200 && !up; i++) {
		int fd = socket(AF_INET, SOCK_STREAM, 0);
		struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
		inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
		up = connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0;
		close(fd);
		if (!up)
			sleep_ms(50);
	}
	if (!up)
		kill(pid, SIGKILL);
	cr_assert(up, "collector %s did not listen (see %s)", name, logf);
	return pid;
}

/* SIGTERM; true when it exits 0 within 10 s. */
static bool stop_collector(pid_t pid)
{
	int st = -1;
	kill(pid, SIGTERM);
	for (int i = 0; i < 200 && waitpid(pid, &st, WNOHANG) == 0; i++)
		sleep_ms(50);
	if (st == -1 || !WIFEXITED(st)) {
		kill(pid, SIGKILL);
		waitpid(pid, &st, 0);
		return false;
	}
	return WEXITSTATUS(st) == 0;
}

/* SIGTERM while a probe streams: the batch it sent is committed and acked,
 * then the connection closes and the collector exits 0. */
Test(ingest_daemon, sigterm_drains_acks_and_exits_zero)
{
	char yaml[256], logf[256];
	int port = free_port();
	pid_t pid = start_collector("collector-drain", port, 0, env("TW_PG_CONNINFO"), yaml,
				    sizeof yaml, logf, sizeof logf);
	PGconn *db = pg();
	struct tw_probe *c = tc_connect_port("probe-j", 0, port);
	cr_assert(c->handshake_ok);
	send_hello(c, "probe-j", "eu-west");
	send_batch(c, 1, 5, NULL, NULL);
	cr_expect_eq(tc_read_ack(c), 5);
	/* Hold the probe's row: the next ingest transaction (which updates
	 * probes.last_seq) blocks, so SIGTERM finds its job in flight. */
	PGconn *lock = pg();
	PGresult *r = PQexec(lock, "BEGIN; SELECT 1 FROM probes WHERE probe_id = 'probe-j' FOR UPDATE");
	cr_assert_eq(PQresultStatus(r), PGRES_TUPLES_OK, "%s", PQerrorMessage(lock));
	cr_assert_eq(PQntuples(r), 1);
	PQclear(r);
	send_batch(c, 6, 40, NULL, NULL);
	sleep_ms(300);
	kill(pid, SIGTERM);
	cr_expect(tw_probe_quiet_for(c, 500), "closed or acked while the batch could not commit");
	r = PQexec(lock, "COMMIT");
	PQclear(r);
	PQfinish(lock);
	cr_expect_eq(tc_read_ack(c), 40);
	cr_expect(tw_probe_closed_by_peer(c), "still open after the drain");
	int st = -1;
	for (int i = 0; i < 200 && waitpid(pid, &st, WNOHANG) == 0; i++)
		sleep_ms(50);
	if (st == -1 || !WIFEXITED(st)) {
		kill(pid, SIGKILL);
		waitpid(pid, &st, 0);
	}
	cr_expect(WIFEXITED(st) && WEXITSTATUS(st) == 0, "collector status %d (see %s)", st, logf);
	cr_expect_eq(rows_of(db, "probe-j"), 40);
	FILE *lf = fopen(logf, "r");
	cr_assert_not_null(lf);
	char line[4096];
	bool drained = false, done = false, draining_first = false, draining = false;
	while (fgets(line, sizeof line, lf)) {
		if (strstr(line, "probe=probe-j state streaming -> draining"))
			draining = true;
		if (strstr(line, "committed 35 rows") && draining)
			draining_first = true;
		drained |= strstr(line, "probe=probe-j") && strstr(line, "closed (shutdown): drained") &&
			   strstr(line, "(seq=40)");
		done |= strstr(line, "shutdown complete") != NULL;
	}
	fclose(lf);
	cr_expect(drained, "no drain line for probe-j in %s", logf);
	cr_expect(draining_first, "the batch was not in flight during the drain (%s)", logf);
	cr_expect(done, "no \"shutdown complete\" in %s", logf);
	tw_probe_free(c);
	PQfinish(db);
}

/* PostgreSQL not there (the database does not exist yet): reads pause, no
 * Ack, /readyz 503; once the database is created and migrated the pool
 * connects by itself, reads resume and the held batch is acked. */
Test(ingest_daemon, database_missing_pauses_then_resumes)
{
	char yaml[256], logf[256], conninfo[512], cmd[1024];
	int port = free_port(), hport = free_port();
	snprintf(conninfo, sizeof conninfo, "%s dbname=tw_backpressure", env("TW_PG_CONNINFO"));
	pid_t pid = start_collector("collector-bp", port, hport, conninfo, yaml, sizeof yaml,
				    logf, sizeof logf);
	char *body;
	cr_expect_eq(http_get_port(hport, "GET", "/readyz", &body), 503);
	cr_expect(strstr(body, "database not ready") != NULL, "readyz: %s", body);
	free(body);

	struct tw_probe *c = tc_connect_port("probe-k", 0, port);
	cr_assert(c->handshake_ok);
	send_hello(c, "probe-k", "us-east");
	send_batch(c, 1, 3, NULL, NULL);
	cr_expect(tw_probe_quiet_for(c, 1500), "acked or closed without a database");
	cr_expect_eq(metric_port(hport, "tlswatch_collector_reading_paused"), 1);
	cr_expect_eq(metric_port(hport, "tlswatch_collector_pending_rows"), 3);

	PGconn *db = pg();
	PGresult *r = PQexec(db, "CREATE DATABASE tw_backpressure");
	cr_assert_eq(PQresultStatus(r), PGRES_COMMAND_OK, "%s", PQerrorMessage(db));
	PQclear(r);
	PQfinish(db);
	snprintf(cmd, sizeof cmd, "%s migrate -c %s >>%s 2>&1", env("TW_COLLECTOR_BIN"), yaml, logf);
	cr_assert_eq(system(cmd), 0, "migrate failed (see %s)", logf);

	tw_probe_set_timeout(c, 40000);  /* the pool reconnects with backoff (<= 10 s) */
	cr_expect_eq(tc_read_ack(c), 3);
	tw_probe_set_timeout(c, 5000);
	cr_expect_eq(metric_port(hport, "tlswatch_collector_reading_paused"), 0);
	cr_expect_eq(metric_port(hport, "tlswatch_collector_pending_rows"), 0);
	cr_expect_eq(http_get_port(hport, "GET", "/readyz", &body), 200);
	free(body);
	send_batch(c, 4, 5, NULL, NULL);
	cr_expect_eq(tc_read_ack(c), 5);

	PGconn *bp = PQconnectdb(conninfo);
	cr_assert_eq(PQstatus(bp), CONNECTION_OK, "%s", PQerrorMessage(bp));
	cr_expect_eq(rows_of(bp, "probe-k"), 5);
	PQfinish(bp);
	tw_probe_free(c);
	cr_expect(stop_collector(pid), "collector-bp did not exit 0 on SIGTERM (see %s)", logf);
}

/* A TLS 1.2 handshake with the probe certificate NAME offering only CIPHER;
 * true when the collector completes it. */
static bool handshake_with_cipher(int port, const char *name, const char *cipher)
{
	char cert[512], key[512], ca[512];
	const char *pki = env("TW_PIPE");
	snprintf(cert, sizeof cert, "%s/%s.pem", pki, name);
	snprintf(key, sizeof key, "%s/%s.key", pki, name);
	snprintf(ca, sizeof ca, "%s/pipe-ca.pem", pki);
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	cr_assert_not_null(ctx);
	cr_assert_eq(SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION), 1);
	cr_assert_eq(SSL_CTX_set_max_proto_version(ctx, TLS1_2_VERSION), 1);
	cr_assert_eq(SSL_CTX_set_cipher_list(ctx, cipher), 1, "client cannot offer %s", cipher);
	cr_assert_eq(SSL_CTX_use_certificate_chain_file(ctx, cert), 1);
	cr_assert_eq(SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM), 1);
	cr_assert_eq(SSL_CTX_load_verify_locations(ctx, ca, NULL), 1);
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	SSL *ssl = SSL_new(ctx);
	cr_assert_not_null(ssl);
	int fd = tcp_connect(port, 5000);
	SSL_set_fd(ssl, fd);
	bool ok = SSL_connect(ssl) == 1;
	ERR_clear_error();
	SSL_free(ssl);
	SSL_CTX_free(ctx);
	close(fd);
	return ok;
}

/* The ingest listener offers only AEAD suites with forward secrecy in TLS
 * 1.2: a client that offers nothing but a CBC suite is refused, one with
 * ECDHE+AES-GCM or ChaCha20 gets in. The PKI's keys are ECDSA, so the CBC
 * suite the client forces is ECDHE-ECDSA-AES128-SHA (ECDHE-RSA-AES128-SHA
 * could never match an ECDSA certificate and would prove nothing). */
Test(ingest_daemon, tls12_cbc_suites_refused)
{
	char yaml[256], logf[256];
	int port = free_port();
	pid_t pid = start_collector("collector-ciphers", port, 0, env("TW_PG_CONNINFO"), yaml,
				    sizeof yaml, logf, sizeof logf);
	cr_expect(!handshake_with_cipher(port, "probe-j", "ECDHE-ECDSA-AES128-SHA"),
		  "a TLS 1.2 CBC suite was accepted");
	cr_expect(!handshake_with_cipher(port, "probe-j", "ECDHE-ECDSA-AES256-SHA384"),
		  "a TLS 1.2 CBC suite was accepted");
	cr_expect(!handshake_with_cipher(port, "probe-j", "ECDHE-RSA-AES128-SHA"),
		  "ECDHE-RSA-AES128-SHA was accepted");
	cr_expect(handshake_with_cipher(port, "probe-j", "ECDHE-ECDSA-AES128-GCM-SHA256"),
		  "ECDHE-ECDSA-AES128-GCM-SHA256 refused");
	cr_expect(handshake_with_cipher(port, "probe-j", "ECDHE-ECDSA-CHACHA20-POLY1305"),
		  "ECDHE-ECDSA-CHACHA20-POLY1305 refused");
	cr_expect(stop_collector(pid), "collector-ciphers did not exit 0 (see %s)", logf);
}

/* CPU seconds (user + system) pid has used so far. */
static double cpu_seconds(pid_t pid)
{
	char path[64], buf[1024];
	snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
	FILE *f = fopen(path, "r");
	cr_assert_not_null(f);
	size_t n = fread(buf, 1, sizeof buf - 1, f);
	fclose(f);
	buf[n] = '\0';
	const char *p = strrchr(buf, ')');
	cr_assert_not_null(p);
	unsigned long long ut = 0, st = 0;
	/* after the name: state and 10 more fields, then utime and stime */
	cr_assert_eq(sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut,
			    &st), 2);
	return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

static unsigned count_lines(const char *file, const char *needle)
{
	FILE *f = fopen(file, "r");
	cr_assert_not_null(f);
	char line[4096];
	unsigned n = 0;
	while (fgets(line, sizeof line, f))
		n += strstr(line, needle) != NULL;
	fclose(f);
	return n;
}

/*
 * Out of descriptors (a hard limit of 128, more clients than that on both
 * ports): max_connections (10000 by default) is lowered to fit the limit,
 * accept() failing with EMFILE pauses the listener instead of spinning - the
 * collector stays near idle and writes a bounded number of lines - and once
 * the clients leave, /healthz answers and a good probe gets in.
 */
Test(ingest_daemon, descriptor_limit_backs_off)
{
	char yaml[256], logf[256];
	enum { FLOOD = 150 };
	int port = free_port(), hport = free_port();
	pid_t pid = start_collector_nofile("collector-nofile", port, hport, env("TW_PG_CONNINFO"), 128,
					   yaml, sizeof yaml, logf, sizeof logf);
	cr_expect_eq(count_lines(logf, "limits.max_connections lowered from 10000 to 64"), 1,
		     "max_connections not clamped to the limit (see %s)", logf);
	static int probes[FLOOD], https[FLOOD];
	for (int i = 0; i < FLOOD; i++)
		probes[i] = tcp_connect(port, 2000);
	for (int i = 0; i < FLOOD; i++)
		https[i] = tcp_connect(hport, 2000);
	sleep_ms(300);  /* let the collector reach the limit */
	double cpu0 = cpu_seconds(pid);
	sleep_ms(3000);
	double busy = cpu_seconds(pid) - cpu0;
	cr_expect_lt(busy, 0.5, "the collector used %.2f CPU-s in 3 s at the descriptor limit", busy);
	unsigned accept_lines = count_lines(logf, "accept failed");
	cr_expect_geq(accept_lines, 1, "the descriptor limit was never reached (see %s)", logf);
	cr_expect_leq(accept_lines, 4, "%u \"accept failed\" lines (see %s)", accept_lines, logf);
	cr_expect_leq(count_lines(logf, "refused (max_connections)"), 2);
	cr_log_info("at the descriptor limit: %.2f CPU-s in 3 s, %u accept-failed lines", busy,
		    accept_lines);

	for (int i = 0; i < FLOOD; i++)
		close(https[i]);
	char *body;
	cr_expect_eq(http_get_port(hport, "GET", "/healthz", &body), 200);
	free(body);
	for (int i = 0; i < FLOOD; i++)
		close(probes[i]);
	sleep_ms(1500);  /* longer than the longest accept pause */
	/* probe-l: no other test uses it (tests run in parallel) */
	struct tw_probe *c = tc_connect_port("probe-l", 0, port);
	if (!c->handshake_ok)
		kill(pid, SIGKILL);
	cr_assert(c->handshake_ok, "a good probe did not get in after the flood (see %s)", logf);
	send_hello(c, "probe-l", "ap-south");
	send_batch(c, 1, 3, NULL, NULL);
	cr_expect_eq(tc_read_ack(c), 3);
	tw_probe_free(c);
	cr_expect(stop_collector(pid), "collector-nofile did not exit 0 (see %s)", logf);
}

/*
 * Peers that connect and never start the TLS handshake fill max_connections
 * (20 here) before the handshake timeout closes them. Only max_connections/8
 * (at least 4) unfinished handshakes are kept: each new connection closes
 * the oldest unfinished one, so a probe that connects after 40 of them still
 * gets in, and the silent ones hold at most 4 slots.
 */
Test(ingest_daemon, unfinished_handshakes_cannot_lock_a_probe_out)
{
	char yaml[256], logf[256];
	enum { SILENT = 40 };
	int port = free_port(), hport = free_port();
	extra_limits = ", max_connections: 20, handshake_timeout: 60s";
	pid_t pid = start_collector("collector-hs", port, hport, env("TW_PG_CONNINFO"), yaml,
				    sizeof yaml, logf, sizeof logf);
	const char *limit = "tlswatch_collector_connections_refused_total{reason=\"handshake_limit\"}";
	int silent[SILENT];
	for (int i = 0; i < SILENT; i++)
		silent[i] = tcp_connect(port, 2000);
	/* start_collector's own probe of the port counts too */
	double closed = 0;
	for (int i = 0; i < 100 && (closed = metric_port(hport, limit)) < SILENT - 4; i++)
		sleep_ms(50);
	cr_expect_geq(closed, SILENT - 4, "only %.0f unfinished handshakes closed", closed);
	cr_expect_leq(metric_port(hport, "tlswatch_collector_connections"), 4);
	struct tw_probe *c = tc_connect_port("probe-m", 0, port);
	if (!c->handshake_ok)
		kill(pid, SIGKILL);
	cr_assert(c->handshake_ok, "a probe was locked out by unfinished handshakes (see %s)", logf);
	send_hello(c, "probe-m", "eu-north");
	send_batch(c, 1, 2, NULL, NULL);
	cr_expect_eq(tc_read_ack(c), 2);
	tw_probe_free(c);
	for (int i = 0; i < SILENT; i++)
		close(silent[i]);
	cr_expect(stop_collector(pid), "collector-hs did not exit 0 (see %s)", logf);
}

/* Whether the server closed fd (EOF or reset) without blocking. */
static bool closed_by_server(int fd)
{
	char ch;
	ssize_t r = recv(fd, &ch, 1, MSG_DONTWAIT);
	return r == 0 || (r < 0 && errno != EAGAIN && errno != EWOULDBLOCK);
}

/*
 * Slow HTTP clients (a request trickled a byte every 2 s, each gap well
 * inside the 10 s read timeout): at most HTTP_SRV_MAX_CLIENTS (128) are
 * kept, the oldest closed for a newcomer, so /healthz still answers, and
 * none outlives HTTP_SRV_DEADLINE_S (15 s).
 */
Test(ingest_daemon, slow_http_clients_capped_and_cut)
{
	char yaml[256], logf[256];
	enum { SLOW = 150 };
	int port = free_port(), hport = free_port();
	pid_t pid = start_collector("collector-slowhttp", port, hport, env("TW_PG_CONNINFO"), yaml,
				    sizeof yaml, logf, sizeof logf);
	static int fds[SLOW];
	for (int i = 0; i < SLOW; i++) {
		fds[i] = tcp_connect(hport, 2000);
		cr_assert_eq(write(fds[i], "G", 1), 1);
	}
	sleep_ms(1500);
	int closed = 0;
	for (int i = 0; i < SLOW; i++)
		closed += closed_by_server(fds[i]);
	cr_expect_geq(closed, SLOW - 128, "only %d of %d slow clients closed", closed, SLOW);
	cr_expect_leq(closed, SLOW - 128 + 8, "%d of %d slow clients closed", closed, SLOW);
	char *body;
	cr_expect_eq(http_get_port(hport, "GET", "/healthz", &body), 200);
	free(body);
	/* trickle on: one byte every 2 s; by 17 s every one must be closed */
	bool open_left = true;
	for (int t = 0; t < 9 && open_left; t++) {
		open_left = false;
		for (int i = 0; i < SLOW; i++) {
			if (fds[i] < 0)
				continue;
			if (closed_by_server(fds[i])) {
				close(fds[i]);
				fds[i] = -1;
				continue;
			}
			open_left = true;
			(void)!send(fds[i], "E", 1, MSG_NOSIGNAL | MSG_DONTWAIT);
		}
		if (open_left)
			sleep_ms(2000);
	}
	int left = 0;
	for (int i = 0; i < SLOW; i++)
		if (fds[i] >= 0) {
			left += !closed_by_server(fds[i]);
			close(fds[i]);
		}
	cr_expect_eq(left, 0, "%d slow clients outlived the deadline", left);
	cr_expect(stop_collector(pid), "collector-slowhttp did not exit 0 (see %s)", logf);
}
