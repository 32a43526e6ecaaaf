/*
 * bench_api - latency of the API's SLI reads (issue 13: "with 10M raw rows
 * the p95 of the SLI endpoint is at most 1.5x the 1M-row case"), called by
 * bench/api.sh on a database it seeded.
 *
 *   bench_api http HOST PORT N PATH [TOKEN]
 *       N sequential GET PATH requests (one connection each, as a dashboard
 *       refresh without keep-alive) against the collector's HTTP listener.
 *   bench_api sql CONNINFO N WINDOW_S GROUP
 *       N runs of the statement GET /api/v1/slis runs (sli_query_sql: the
 *       same SQL and parameters), window WINDOW_S seconds ending now, GROUP
 *       one of none, target, service, region, profile. This measures the
 *       store side alone (no HTTP, no JSON), in a session set up as the
 *       API's connections are (collector/store.c: UTC, work_mem 64MB, no JIT).
 *   bench_api rows CONNINFO WINDOW_S
 *       How many rollup rows that statement reads for a window of WINDOW_S
 *       seconds ending now (sli_rows_sql, with the window condition when
 *       the source is not exact): prints rows=N. What a p95 ratio compares.
 *
 * Prints one line of key=value: n, ok, p50_ms, p95_ms, max_ms, bytes (http:
 * of the last answer; sql: rows). Exit 0 when every request succeeded (HTTP
 * 200 / PGRES_TUPLES_OK), 1 otherwise, 2 on usage. With BENCH_API_EXPLAIN=1
 * the sql mode first prints the plan of the statement (EXPLAIN ANALYZE,
 * BUFFERS) on stderr.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "sli.h"
#include "strbuf.h"
#include "twtime.h"

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

/* Nearest-rank percentile of sorted v[n]. */
static double pct(const double *v, size_t n, double q)
{
	size_t k = (size_t)(q * (double)n + 0.999999);
	if (k < 1)
		k = 1;
	if (k > n)
		k = n;
	return v[k - 1];
}

static void report(double *lat, size_t n, size_t ok, size_t bytes)
{
	qsort(lat, n, sizeof *lat, cmp_double);
	printf("n=%zu ok=%zu p50_ms=%.2f p95_ms=%.2f max_ms=%.2f bytes=%zu\n", n, ok,
	       pct(lat, n, 0.50), pct(lat, n, 0.95), lat[n - 1], bytes);
}

/* One GET with Connection: close; the whole answer into out. HTTP status or -1. */
static int http_get(const struct addrinfo *ai, const char *host, const char *port,
		    const char *path, const char *token, struct strbuf *out)
{
	int fd = socket(ai->ai_family, ai->ai_socktype, ai->ai_protocol), status = -1;
	if (fd < 0)
		return -1;
	char req[2048];
	int len;
	if (token)
		len = snprintf(req, sizeof req,
			       "GET %s HTTP/1.1\r\nHost: %s:%s\r\nAuthorization: Bearer %s\r\n"
			       "Connection: close\r\n\r\n", path, host, port, token);
	else
		len = snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: %s:%s\r\nConnection: close\r\n\r\n",
			       path, host, port);
	if (len < 0 || (size_t)len >= sizeof req || connect(fd, ai->ai_addr, ai->ai_addrlen) != 0)
		goto out;
	for (int off = 0; off < len;) {
		ssize_t w = write(fd, req + off, (size_t)(len - off));
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			goto out;
		off += (int)w;
	}
	out->len = 0;
	for (;;) {
		char buf[65536];
		ssize_t r = read(fd, buf, sizeof buf);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			goto out;
		if (r == 0)
			break;
		strbuf_put(out, buf, (size_t)r);
	}
	if (out->oom || out->len < 12 || strncmp(out->p, "HTTP/1.", 7) != 0)
		goto out;
	status = (int)strtol(out->p + 9, NULL, 10);
out:
	close(fd);
	return status;
}

static int run_http(int argc, char **argv)
{
	if (argc < 6)
		return 2;
	const char *host = argv[2], *port = argv[3], *path = argv[5];
	const char *token = argc > 6 ? argv[6] : NULL;
	long n = strtol(argv[4], NULL, 10);
	if (n < 1)
		return 2;
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *ai = NULL;
	if (getaddrinfo(host, port, &hints, &ai) != 0 || !ai) {
		fprintf(stderr, "bench_api: cannot resolve %s:%s\n", host, port);
		return 1;
	}
	double *lat = calloc((size_t)n, sizeof *lat);
	struct strbuf body = { 0 };
	size_t ok = 0;
	int first_bad = 0;
	if (!lat) {
		freeaddrinfo(ai);
		return 1;
	}
	for (long i = 0; i < n; i++) {
		double t0 = twtime_mono_ms();
		int st = http_get(ai, host, port, path, token, &body);
		lat[i] = twtime_mono_ms() - t0;
		if (st == 200)
			ok++;
		else if (!first_bad) {
			first_bad = st ? st : -1;
			fprintf(stderr, "bench_api: GET %s: status %d: %.300s\n", path, st,
				body.p ? body.p : "");
		}
	}
	report(lat, (size_t)n, ok, body.len);
	free(lat);
	free(body.p);
	freeaddrinfo(ai);
	return ok == (size_t)n ? 0 : 1;
}

static int run_sql(int argc, char **argv)
{
	static const char *const groups[] = { "none", "target", "service", "region", "profile" };
	static const enum sli_group gval[] = { SLI_GROUP_NONE, SLI_GROUP_TARGET, SLI_GROUP_SERVICE,
					       SLI_GROUP_REGION, SLI_GROUP_PROFILE };
	if (argc < 6)
		return 2;
	long n = strtol(argv[3], NULL, 10), win_s = strtol(argv[4], NULL, 10);
	int g = -1;
	for (int i = 0; i < 5; i++)
		if (strcmp(argv[5], groups[i]) == 0)
			g = i;
	if (n < 1 || win_s < 1 || g < 0)
		return 2;
	PGconn *c = PQconnectdb(argv[2]);
	if (PQstatus(c) != CONNECTION_OK) {
		fprintf(stderr, "bench_api: %s", PQerrorMessage(c));
		PQfinish(c);
		return 1;
	}
	double *lat = calloc((size_t)n, sizeof *lat);
	size_t ok = 0, rows = 0;
	int rc = 1;
	if (!lat)
		goto out;
	/* as collector/store.c SETUP_SQL: the statement as the API runs it */
	PGresult *setup = PQexec(c, "SET TimeZone = 'UTC'; SET work_mem = '64MB'; SET jit = off");
	if (PQresultStatus(setup) != PGRES_COMMAND_OK) {
		fprintf(stderr, "bench_api: session setup: %s", PQresultErrorMessage(setup));
		PQclear(setup);
		goto out;
	}
	PQclear(setup);
	const char *ex = getenv("BENCH_API_EXPLAIN");
	if (ex && strcmp(ex, "1") == 0) {
		struct sli_window w;
		struct strbuf b = { 0 };
		struct sli_params p = { 0 };
		sli_window(twtime_wall_ms(), win_s * 1000LL, 0, &w);
		strbuf_puts(&b, "EXPLAIN (ANALYZE, BUFFERS) ");
		sli_query_sql(&b, &p, NULL, &w, gval[g]);
		PGresult *r = (b.oom || p.oom) ? NULL
			: PQexecParams(c, b.p, p.n, NULL, (const char *const *)p.v, NULL, NULL, 0);
		for (int i = 0; r && i < PQntuples(r); i++)
			fprintf(stderr, "%s\n", PQgetvalue(r, i, 0));
		PQclear(r);
		sli_params_free(&p);
		free(b.p);
	}
	for (long i = 0; i < n; i++) {
		struct sli_window w;
		struct strbuf b = { 0 };
		struct sli_params p = { 0 };
		sli_window(twtime_wall_ms(), win_s * 1000LL, 0, &w);
		double t0 = twtime_mono_ms();
		sli_query_sql(&b, &p, NULL, &w, gval[g]);
		if (b.oom || p.oom) {
			fprintf(stderr, "bench_api: out of memory\n");
			free(b.p);
			sli_params_free(&p);
			goto out;
		}
		PGresult *r = PQexecParams(c, b.p, p.n, NULL, (const char *const *)p.v, NULL, NULL, 0);
		struct sli_values *v = NULL;
		size_t nv = 0;
		char err[256];
		if (PQresultStatus(r) == PGRES_TUPLES_OK &&
		    sli_values_decode(r, &v, &nv, err, sizeof err) == 0) {
			ok++;
			rows = nv;
		} else if (ok == (size_t)i) {
			fprintf(stderr, "bench_api: %s", PQresultErrorMessage(r));
		}
		lat[i] = twtime_mono_ms() - t0;
		sli_values_free(v, nv);
		PQclear(r);
		sli_params_free(&p);
		free(b.p);
	}
	report(lat, (size_t)n, ok, rows);
	rc = ok == (size_t)n ? 0 : 1;
out:
	free(lat);
	PQfinish(c);
	return rc;
}

static int run_rows(int argc, char **argv)
{
	if (argc < 4)
		return 2;
	long win_s = strtol(argv[3], NULL, 10);
	if (win_s < 1)
		return 2;
	PGconn *c = PQconnectdb(argv[2]);
	struct strbuf b = { 0 };
	PGresult *r = NULL;
	int rc = 1;
	if (PQstatus(c) != CONNECTION_OK) {
		fprintf(stderr, "bench_api: %s", PQerrorMessage(c));
		goto out;
	}
	struct sli_window w;
	sli_window(twtime_wall_ms(), win_s * 1000LL, 0, &w);
	strbuf_puts(&b, "SELECT count(*) FROM ");
	sli_rows_sql(&b, &w, 1);
	strbuf_puts(&b, " r WHERE ");
	if (sli_rows_exact(&w))
		strbuf_puts(&b, "true");
	else
		sli_window_cond(&b, &w);
	if (b.oom) {
		fprintf(stderr, "bench_api: out of memory\n");
		goto out;
	}
	r = PQexec(c, b.p);
	if (PQresultStatus(r) != PGRES_TUPLES_OK) {
		fprintf(stderr, "bench_api: %s", PQresultErrorMessage(r));
		goto out;
	}
	printf("rows=%s\n", PQgetvalue(r, 0, 0));
	rc = 0;
out:
	PQclear(r);
	free(b.p);
	PQfinish(c);
	return rc;
}

int main(int argc, char **argv)
{
	int rc = 2;
	if (argc >= 2 && strcmp(argv[1], "http") == 0)
		rc = run_http(argc, argv);
	else if (argc >= 2 && strcmp(argv[1], "sql") == 0)
		rc = run_sql(argc, argv);
	else if (argc >= 2 && strcmp(argv[1], "rows") == 0)
		rc = run_rows(argc, argv);
	if (rc == 2)
		fprintf(stderr, "usage: bench_api http HOST PORT N PATH [TOKEN]\n"
				"       bench_api sql CONNINFO N WINDOW_S none|target|service|region|profile\n"
				"       bench_api rows CONNINFO WINDOW_S\n");
	return rc;
}
