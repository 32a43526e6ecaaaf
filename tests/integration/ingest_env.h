/*
 * ingest_env.h - helpers of the integration tests that play probes against
 * the collector (test_ingest.c, test_ingest_daemon.c): the fixture's
 * environment, the probe client of tests/harness/tlsprobe.h with Criterion
 * assertions, HTTP and /metrics, and PostgreSQL queries. Included by test
 * files only; every helper is static inline so each file takes what it uses.
 */
#ifndef TW_INGEST_ENV_H
#define TW_INGEST_ENV_H

#include <criterion/criterion.h>
#include <arpa/inet.h>
#include <errno.h>
#include <libpq-fe.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "tlsprobe.h"
#include "tlswatch.pb-c.h"

/* ---- environment ---- */

static inline const char *env(const char *name)
{
	const char *v = getenv(name);
	cr_assert(v && *v, "%s is not set: run the test through its tests/integration/*.sh fixture", name);
	return v;
}

static inline int env_port(const char *name)
{
	return (int)strtol(env(name), NULL, 10);
}

static inline void sleep_ms(unsigned ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
	nanosleep(&ts, NULL);
}

/* ---- the probe client (tests/harness/tlsprobe.h), asserting ---- */

static inline int tcp_connect(int port, unsigned timeout_ms)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	cr_assert_geq(fd, 0);
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
	cr_assert_eq(connect(fd, (struct sockaddr *)&sa, sizeof sa), 0, "connect: %s",
		     strerror(errno));
	struct timeval tv = { timeout_ms / 1000, (long)(timeout_ms % 1000) * 1000 };
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
	return fd;
}

/* Connects with the certificate NAME.pem/.key from the pipeline PKI (NULL:
 * none). The handshake may fail (refused clients): see handshake_ok. */
static inline struct tw_probe *tc_connect_port(const char *name, int maxver, int port)
{
	struct tw_probe *c = tw_probe_connect(env("TW_PIPE"), name, maxver, port);
	cr_assert_not_null(c, "cannot set up a client as %s to port %d", name ? name : "-", port);
	return c;
}

static inline struct tw_probe *tc_connect_v(const char *name, int maxver)
{
	return tc_connect_port(name, maxver, env_port("TW_COL_PORT"));
}

static inline struct tw_probe *tc_connect(const char *name)
{
	return tc_connect_v(name, 0);
}

/* Next envelope: 1 ok (*out owned by the caller), 0 closed, -1 timeout. */
static inline int tc_read_env(struct tw_probe *c, Tlswatch__Envelope **out)
{
	int r = tw_probe_read_env(c, out);
	cr_assert_neq(r, -2, "the collector sent something that is not a frame");
	return r;
}

/* Waits for an Ack; returns its seq. */
static inline uint64_t tc_read_ack(struct tw_probe *c)
{
	Tlswatch__Envelope *e = NULL;
	int r = tc_read_env(c, &e);
	cr_assert_eq(r, 1, "no Ack from the collector (%s)", r == 0 ? "closed" : "timeout");
	cr_assert_eq(e->msg_case, TLSWATCH__ENVELOPE__MSG_ACK, "expected an Ack, got case %d",
		     e->msg_case);
	uint64_t seq = e->ack->seq;
	cr_expect(e->ack->has_collector_unix_ms);
	tlswatch__envelope__free_unpacked(e, NULL);
	return seq;
}

/* ---- messages ---- */

static inline void send_hello(struct tw_probe *c, const char *probe_id, const char *region)
{
	cr_assert_eq(tw_probe_send_hello(c, probe_id, region), 0);
}

static inline void send_heartbeat(struct tw_probe *c)
{
	cr_assert_eq(tw_probe_send_heartbeat(c), 0);
}

/* A fixed start time per seq, so a replay is byte-identical. */
static inline int64_t started_base(void)
{
	static int64_t base;
	if (!base)
		base = ((int64_t)time(NULL) - 3600) * 1000;
	return base;
}

/* Sends results seq first..last; claim_probe/claim_region go into every
 * Result (NULL: left out, as the real probe may do). */
static inline void send_batch(struct tw_probe *c, uint64_t first, uint64_t last, const char *claim_probe,
		       const char *claim_region)
{
	cr_assert_eq(tw_probe_send_batch(c, first, last, claim_probe, claim_region, started_base()),
		     0);
}

/* ---- HTTP ---- */

/* GET path from the collector's HTTP port; returns the status, *body malloc()ed. */
static inline int http_get_port(int port, const char *method, const char *path, char **body)
{
	int fd = tcp_connect(port, 5000);
	char req[256];
	int n = snprintf(req, sizeof req, "%s %s HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n", method, path);
	cr_assert_eq(write(fd, req, (size_t)n), n);
	size_t cap = 65536, len = 0;
	char *buf = malloc(cap);
	for (;;) {
		if (len + 1 >= cap)
			buf = realloc(buf, cap *= 2);
		ssize_t r = read(fd, buf + len, cap - len - 1);
		if (r <= 0)
			break;
		len += (size_t)r;
	}
	close(fd);
	buf[len] = '\0';
	int status = 0;
	cr_assert_eq(sscanf(buf, "HTTP/1.%*d %d", &status), 1, "bad HTTP response: %.80s", buf);
	char *b = strstr(buf, "\r\n\r\n");
	*body = strdup(b ? b + 4 : "");
	free(buf);
	return status;
}

/* The value of one exact series ("name" or "name{labels}") in /metrics. */
static inline double metric_port(int port, const char *series)
{
	char *body;
	cr_assert_eq(http_get_port(port, "GET", "/metrics", &body), 200);
	size_t sl = strlen(series);
	double v = -1;
	bool found = false;
	char *save = NULL;
	for (char *line = strtok_r(body, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		if (strncmp(line, series, sl) == 0 && line[sl] == ' ') {
			v = strtod(line + sl + 1, NULL);
			found = true;
			break;
		}
	}
	free(body);
	cr_assert(found, "no series %s in /metrics", series);
	return v;
}

/* ---- database ---- */

static inline PGconn *pg(void)
{
	PGconn *db = PQconnectdb(env("TW_PG_CONNINFO"));
	cr_assert_eq(PQstatus(db), CONNECTION_OK, "%s", PQerrorMessage(db));
	return db;
}

static inline long long q_int(PGconn *db, const char *sql, const char *p1)
{
	const char *params[1] = { p1 };
	PGresult *r = PQexecParams(db, sql, p1 ? 1 : 0, NULL, params, NULL, NULL, 0);
	cr_assert_eq(PQresultStatus(r), PGRES_TUPLES_OK, "%s: %s", sql, PQerrorMessage(db));
	cr_assert_eq(PQntuples(r), 1);
	long long v = PQgetisnull(r, 0, 0) ? -1 : strtoll(PQgetvalue(r, 0, 0), NULL, 10);
	PQclear(r);
	return v;
}

static inline long long rows_of(PGconn *db, const char *probe)
{
	return q_int(db, "SELECT count(*) FROM results WHERE probe_id = $1", probe);
}

#endif
