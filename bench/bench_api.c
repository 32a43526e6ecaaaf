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
 *   bench_api http2 HOST PORT1 PORT2 N BLOCK PATH [TOKEN]
 *   bench_api sql2 CONNINFO1 CONNINFO2 N BLOCK WINDOW_S GROUP
 *       The same on two collectors / databases at once, alternating blocks
 *       of BLOCK requests (1, 2, 1, 2 ...) so both sizes meet the same
 *       load; one line per side, prefixed "1 " / "2 ".
 *   bench_api rows CONNINFO WINDOW_S
 *       How many rollup rows that statement reads for a window of WINDOW_S
 *       seconds ending now (sli_rows_sql, with the window condition when
 *       the source is not exact): prints rows=N. What a p95 ratio compares.
 *
 *   bench_api rollup1d CONNINFO
 *       Builds rollup_1d as the alert leader does (rollup_daily_run: every
 *       UTC day that ended before now minus the grace); prints days=N ms=T.
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

#include "rollup_daily.h"
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

/* One side of a measurement: a collector's HTTP listener or a database the
 * statement runs on. run_sides() alternates blocks of requests between two
 * sides, so both meet the same load (this machine's moves by 2x within
 * minutes; blocks of minutes would compare two loads, not two sizes). */
struct side {
	const char *name;
	/* http */
	struct addrinfo *ai;
	const char *host, *port, *path, *token;
	struct strbuf body;
	/* sql */
	PGconn *c;
	long win_s;
	enum sli_group group;
	/* results */
	double *lat;
	size_t n, ok, bytes;
	int first_bad;
};

static void side_free(struct side *s)
{
	if (s->ai)
		freeaddrinfo(s->ai);
	free(s->body.p);
	PQfinish(s->c);
	free(s->lat);
}

/* One request of side s, its latency appended to s->lat. */
static void one_http(struct side *s)
{
	double t0 = twtime_mono_ms();
	int st = http_get(s->ai, s->host, s->port, s->path, s->token, &s->body);
	s->lat[s->n++] = twtime_mono_ms() - t0;
	if (st == 200) {
		s->ok++;
		s->bytes = s->body.len;
	} else if (!s->first_bad) {
		s->first_bad = st ? st : -1;
		fprintf(stderr, "bench_api: %s: GET %s: status %d: %.300s\n", s->name, s->path, st,
			s->body.p ? s->body.p : "");
	}
}

static int one_sql(struct side *s)
{
	struct sli_window w;
	struct strbuf b = { 0 };
	struct sli_params p = { 0 };
	sli_window(twtime_wall_ms(), s->win_s * 1000LL, 0, &w);
	double t0 = twtime_mono_ms();
	sli_query_sql(&b, &p, NULL, &w, s->group);
	if (b.oom || p.oom) {
		fprintf(stderr, "bench_api: out of memory\n");
		free(b.p);
		sli_params_free(&p);
		return -1;
	}
	PGresult *r = PQexecParams(s->c, b.p, p.n, NULL, (const char *const *)p.v, NULL, NULL, 0);
	struct sli_values *v = NULL;
	size_t nv = 0;
	char err[256];
	if (PQresultStatus(r) == PGRES_TUPLES_OK && sli_values_decode(r, &v, &nv, err, sizeof err) == 0) {
		s->ok++;
		s->bytes = nv;
	} else if (!s->first_bad) {
		s->first_bad = 1;
		fprintf(stderr, "bench_api: %s: %s", s->name, PQresultErrorMessage(r));
	}
	s->lat[s->n++] = twtime_mono_ms() - t0;
	sli_values_free(v, nv);
	PQclear(r);
	sli_params_free(&p);
	free(b.p);
	return 0;
}

/* n requests per side, alternating blocks of `block` (side 0, side 1, side 0
 * ...); one line per side (prefixed with its name when there are two). */
static int run_sides(struct side *sd, int nsd, long n, long block, int sql)
{
	for (int i = 0; i < nsd; i++)
		if (!(sd[i].lat = calloc((size_t)n, sizeof *sd[i].lat)))
			return 1;
	for (long done = 0; done < n; done += block)
		for (int i = 0; i < nsd; i++)
			for (long k = done; k < n && k < done + block; k++) {
				if (!sql)
					one_http(&sd[i]);
				else if (one_sql(&sd[i]) < 0)
					return 1;
			}
	int rc = 0;
	for (int i = 0; i < nsd; i++) {
		if (nsd > 1)
			printf("%s ", sd[i].name);
		report(sd[i].lat, sd[i].n, sd[i].ok, sd[i].bytes);
		if (sd[i].ok != sd[i].n)
			rc = 1;
	}
	return rc;
}

/* http HOST PORT N PATH [TOKEN]; http2 HOST PORT1 PORT2 N BLOCK PATH [TOKEN] */
static int run_http(int argc, char **argv, int two)
{
	struct side sd[2] = { { .name = "1" }, { .name = "2" } };
	int nsd = two ? 2 : 1, a = 2, rc = 1;
	if (argc < (two ? 8 : 6))
		return 2;
	const char *host = argv[a++];
	for (int i = 0; i < nsd; i++)
		sd[i].port = argv[a++];
	long n = strtol(argv[a++], NULL, 10), block = two ? strtol(argv[a++], NULL, 10) : n;
	const char *path = argv[a++], *token = argc > a ? argv[a] : NULL;
	if (n < 1 || block < 1)
		return 2;
	for (int i = 0; i < nsd; i++) {
		struct addrinfo hints = { .ai_socktype = SOCK_STREAM };
		sd[i].host = host;
		sd[i].path = path;
		sd[i].token = token;
		if (getaddrinfo(host, sd[i].port, &hints, &sd[i].ai) != 0 || !sd[i].ai) {
			fprintf(stderr, "bench_api: cannot resolve %s:%s\n", host, sd[i].port);
			goto out;
		}
	}
	rc = run_sides(sd, nsd, n, block, 0);
out:
	for (int i = 0; i < nsd; i++)
		side_free(&sd[i]);
	return rc;
}

/* The statement's plan at this moment, on stderr (BENCH_API_EXPLAIN=1). */
static void explain(struct side *s)
{
	struct sli_window w;
	struct strbuf b = { 0 };
	struct sli_params p = { 0 };
	sli_window(twtime_wall_ms(), s->win_s * 1000LL, 0, &w);
	strbuf_puts(&b, "EXPLAIN (ANALYZE, BUFFERS) ");
	sli_query_sql(&b, &p, NULL, &w, s->group);
	PGresult *r = (b.oom || p.oom) ? NULL
		: PQexecParams(s->c, b.p, p.n, NULL, (const char *const *)p.v, NULL, NULL, 0);
	fprintf(stderr, "-- plan, %s:\n", s->name);
	for (int i = 0; r && i < PQntuples(r); i++)
		fprintf(stderr, "%s\n", PQgetvalue(r, i, 0));
	PQclear(r);
	sli_params_free(&p);
	free(b.p);
}

/* sql CONNINFO N WINDOW_S GROUP; sql2 CONNINFO1 CONNINFO2 N BLOCK WINDOW_S GROUP */
static int run_sql(int argc, char **argv, int two)
{
	static const char *const groups[] = { "none", "target", "service", "region", "profile" };
	static const enum sli_group gval[] = { SLI_GROUP_NONE, SLI_GROUP_TARGET, SLI_GROUP_SERVICE,
					       SLI_GROUP_REGION, SLI_GROUP_PROFILE };
	struct side sd[2] = { { .name = "1" }, { .name = "2" } };
	int nsd = two ? 2 : 1, a = 2, rc = 1, g = -1;
	if (argc < (two ? 8 : 6))
		return 2;
	for (int i = 0; i < nsd; i++)
		sd[i].c = PQconnectdb(argv[a++]);
	long n = strtol(argv[a++], NULL, 10), block = two ? strtol(argv[a++], NULL, 10) : n;
	long win_s = strtol(argv[a++], NULL, 10);
	for (int i = 0; i < 5; i++)
		if (strcmp(argv[a], groups[i]) == 0)
			g = i;
	if (n < 1 || block < 1 || win_s < 1 || g < 0) {
		rc = 2;
		goto out;
	}
	const char *ex = getenv("BENCH_API_EXPLAIN");
	for (int i = 0; i < nsd; i++) {
		if (PQstatus(sd[i].c) != CONNECTION_OK) {
			fprintf(stderr, "bench_api: %s", PQerrorMessage(sd[i].c));
			goto out;
		}
		/* as collector/store.c SETUP_SQL: the statement as the API runs it */
		PGresult *setup = PQexec(sd[i].c, "SET TimeZone = 'UTC'; SET work_mem = '64MB'; SET jit = off");
		int ok = PQresultStatus(setup) == PGRES_COMMAND_OK;
		if (!ok)
			fprintf(stderr, "bench_api: session setup: %s", PQresultErrorMessage(setup));
		PQclear(setup);
		if (!ok)
			goto out;
		sd[i].win_s = win_s;
		sd[i].group = gval[g];
		if (ex && strcmp(ex, "1") == 0)
			explain(&sd[i]);
	}
	rc = run_sides(sd, nsd, n, block, 1);
out:
	for (int i = 0; i < nsd; i++)
		side_free(&sd[i]);
	return rc;
}

/* rollup1d CONNINFO: rollup_1d built as the alert leader builds it
 * (rollup_daily_run, every day that ended before now - the grace). */
static int run_rollup1d(int argc, char **argv)
{
	if (argc < 3)
		return 2;
	PGconn *c = PQconnectdb(argv[2]);
	char err[512];
	unsigned days = 0;
	int rc = 1;
	if (PQstatus(c) != CONNECTION_OK) {
		fprintf(stderr, "bench_api: %s", PQerrorMessage(c));
		goto out;
	}
	double t0 = twtime_mono_ms();
	if (rollup_daily_run(c, twtime_wall_ms(), 100000, &days, err, sizeof err) < 0) {
		fprintf(stderr, "bench_api: rollup_daily_run: %s\n", err);
		goto out;
	}
	printf("days=%u ms=%.0f\n", days, twtime_mono_ms() - t0);
	rc = 0;
out:
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
	const char *m = argc >= 2 ? argv[1] : "";
	if (strcmp(m, "http") == 0 || strcmp(m, "http2") == 0)
		rc = run_http(argc, argv, m[4] == '2');
	else if (strcmp(m, "sql") == 0 || strcmp(m, "sql2") == 0)
		rc = run_sql(argc, argv, m[3] == '2');
	else if (strcmp(m, "rows") == 0)
		rc = run_rows(argc, argv);
	else if (strcmp(m, "rollup1d") == 0)
		rc = run_rollup1d(argc, argv);
	if (rc == 2)
		fprintf(stderr, "usage: bench_api http HOST PORT N PATH [TOKEN]\n"
				"       bench_api http2 HOST PORT1 PORT2 N BLOCK PATH [TOKEN]\n"
				"       bench_api sql CONNINFO N WINDOW_S none|target|service|region|profile\n"
				"       bench_api sql2 CONNINFO1 CONNINFO2 N BLOCK WINDOW_S GROUP\n"
				"       bench_api rows CONNINFO WINDOW_S\n"
				"       bench_api rollup1d CONNINFO\n");
	return rc;
}
