/*
 * api_http_env.h - helpers of the API tests against a live collector
 * (test_api_read_http.c, test_api_maint.c; fixture test_api_read_http.sh):
 * one HTTP/1.1 request per connection, the answer's status, Location and
 * parsed JSON body, every JSON answer recorded (with its path template) in
 * TW_API_CASES for the schema check the fixture runs afterwards, and the
 * database. Included by test files only; every helper is static inline.
 */
#ifndef TW_API_HTTP_ENV_H
#define TW_API_HTTP_ENV_H

#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <libpq-fe.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static inline const char *env(const char *name)
{
	const char *v = getenv(name);
	cr_assert(v && *v, "%s is not set (run through tests/integration/test_api_read_http.sh)", name);
	return v;
}

struct answer {
	int status;
	char location[256];
	json_t *body;             /* NULL: no JSON body */
};

/* Appends one case for api_schema_check.py (one write: lines do not interleave). */
static inline void record(const char *method, const char *tmpl, const struct answer *a)
{
	if (!a->body || !tmpl)
		return;
	json_t *c = json_pack("{s:s, s:s, s:i, s:O}", "method", method, "path", tmpl, "status",
			      a->status, "body", a->body);
	char *line = json_dumps(c, JSON_COMPACT);
	json_decref(c);
	cr_assert_not_null(line);
	int fd = open(env("TW_API_CASES"), O_WRONLY | O_APPEND);
	cr_assert_geq(fd, 0);
	size_t n = strlen(line);
	line[n] = '\n';
	cr_assert_eq(write(fd, line, n + 1), (ssize_t)(n + 1));
	close(fd);
	free(line);
}

/* method path (with query) [token] [body]; tmpl: the OpenAPI path to record
 * it under (NULL: not recorded). */
static inline struct answer call(const char *method, const char *tmpl, const char *token,
				 const char *body, const char *fmt, ...)
{
	char path[4096];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(path, sizeof path, fmt, ap);
	va_end(ap);
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	cr_assert_geq(fd, 0);
	struct sockaddr_in sa = { .sin_family = AF_INET,
				  .sin_port = htons((uint16_t)strtol(env("TW_HTTP_PORT"), NULL, 10)) };
	inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
	cr_assert_eq(connect(fd, (struct sockaddr *)&sa, sizeof sa), 0, "connect: %s", strerror(errno));
	struct timeval tv = { 20, 0 };
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	char *req = NULL;
	int n = asprintf(&req, "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n%s%s%s"
			       "%s%zu\r\n\r\n%s",
			 method, path, token ? "Authorization: Bearer " : "", token ? token : "",
			 token ? "\r\n" : "", "Content-Type: application/json\r\nContent-Length: ",
			 body ? strlen(body) : 0, body ? body : "");
	cr_assert_gt(n, 0);
	cr_assert_eq(write(fd, req, (size_t)n), n);
	free(req);
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
	struct answer a = { 0 };
	cr_assert_eq(sscanf(buf, "HTTP/1.%*d %d", &a.status), 1, "%s %s: bad answer: %.80s", method,
		     path, buf);
	char *hdr_end = strstr(buf, "\r\n\r\n");
	cr_assert_not_null(hdr_end);
	*hdr_end = '\0';
	char *loc = strcasestr(buf, "\r\nLocation: ");
	if (loc)
		sscanf(loc + 12, "%255[^\r\n]", a.location);
	const char *b = hdr_end + 4;
	if (*b) {
		json_error_t je;
		a.body = json_loads(b, 0, &je);
		cr_assert_not_null(a.body, "%s %s: body is not JSON (%s): %.200s", method, path, je.text, b);
	}
	free(buf);
	record(method[0] == 'G' ? "get" : method[0] == 'P' ? "post" : "delete", tmpl, &a);
	return a;
}

#define GET(tmpl, ...) call("GET", tmpl, NULL, NULL, __VA_ARGS__)

/* The answer is a 400 (or code) naming param. */
static inline void bad(struct answer a, int code, const char *param)
{
	cr_assert_eq(a.status, code, "expected %d for %s, got %d", code, param ? param : "-", a.status);
	json_t *e = json_object_get(a.body, "error");
	cr_assert(json_is_string(json_object_get(e, "message")));
	if (param)
		cr_assert_str_eq(json_string_value(json_object_get(e, "parameter")), param,
				 "message: %s", json_string_value(json_object_get(e, "message")));
	json_decref(a.body);
}

static inline PGconn *db(void)
{
	PGconn *c = PQconnectdb(env("TW_PG_CONNINFO"));
	cr_assert_eq(PQstatus(c), CONNECTION_OK, "%s", PQerrorMessage(c));
	return c;
}

static inline void sql(PGconn *c, const char *fmt, ...)
{
	char *s = NULL;
	va_list ap;
	va_start(ap, fmt);
	cr_assert_gt(vasprintf(&s, fmt, ap), 0);
	va_end(ap);
	PGresult *r = PQexec(c, s);
	cr_assert(PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK,
		  "%s: %s", s, PQresultErrorMessage(r));
	PQclear(r);
	free(s);
}

static inline json_t *items(const struct answer *a)
{
	json_t *i = json_object_get(a->body, "items");
	cr_assert(json_is_array(i), "no items");
	return i;
}

static inline double jnum(json_t *o, const char *k)
{
	json_t *v = json_object_get(o, k);
	cr_assert(json_is_number(v), "%s is not a number", k);
	return json_number_value(v);
}

static inline const char *jstr(json_t *o, const char *k)
{
	json_t *v = json_object_get(o, k);
	cr_assert(json_is_string(v), "%s is not a string", k);
	return json_string_value(v);
}

static inline bool jnull(json_t *o, const char *k)
{
	json_t *v = json_object_get(o, k);
	return v && json_is_null(v);
}

#endif
