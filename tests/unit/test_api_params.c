/*
 * test_api_params.c - the API's parameter parsing and cursors
 * (collector/api_params.c) and its bearer tokens (collector/api_auth.c),
 * without a server: a request's query is parsed as the router does it.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <sys/stat.h>
#include <unistd.h>

#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "api_auth.h"
#include "api_params.h"
#include "api_req.h"

TestSuite(api_params);

static struct api_req *req(const char *query)
{
	struct api_req *r = calloc(1, sizeof *r);
	cr_assert_not_null(r);
	TAILQ_INIT(&r->query);
	cr_assert_eq(evhttp_parse_query_str(query, &r->query), 0, "query %s", query);
	return r;
}

static void req_free(struct api_req *r)
{
	evhttp_clear_headers(&r->query);
	free(r);
}

#define MIN 60000LL
#define DAY 86400000LL

Test(api_params, durations_name_the_parameter)
{
	struct api_req *r = req("window=2h&step=1y");
	int64_t ms;
	cr_assert_eq(api_param_duration(r, "window", DAY, 5 * MIN, 90 * DAY, &ms), 0);
	cr_assert_eq(ms, 2 * 3600000LL);
	cr_assert_eq(api_param_duration(r, "absent", DAY, 5 * MIN, 90 * DAY, &ms), 0);
	cr_assert_eq(ms, DAY);
	cr_assert_eq(api_param_duration(r, "step", DAY, MIN, 90 * DAY, &ms), -1);
	cr_assert_str_eq(r->bad_param, "step");
	cr_assert(strstr(r->bad_msg, "expected a duration like 1h"), "%s", r->bad_msg);
	req_free(r);

	r = req("window=1m");
	cr_assert_eq(api_param_duration(r, "window", DAY, 5 * MIN, 90 * DAY, &ms), -1,
		     "under the minimum");
	cr_assert(strstr(r->bad_msg, "5m..13w") || strstr(r->bad_msg, "5m.."), "%s", r->bad_msg);
	req_free(r);
}

Test(api_params, times_are_rfc3339_or_unix_ms)
{
	struct api_req *r = req("since=2025-12-05T00:00:00Z&until=1764892800123&bad=yesterday");
	int64_t t;
	cr_assert_eq(api_param_time(r, "since", 0, &t), 0);
	cr_assert_eq(t, 1764892800000LL);
	cr_assert_eq(api_param_time(r, "until", 0, &t), 0);
	cr_assert_eq(t, 1764892800123LL);
	cr_assert_eq(api_param_time(r, "bad", 0, &t), -1);
	cr_assert_str_eq(r->bad_param, "bad");
	req_free(r);
}

Test(api_params, limits_enums_repeats)
{
	struct api_req *r = req("limit=0");
	int n;
	cr_assert_eq(api_param_limit(r, &n), -1);
	cr_assert_str_eq(r->bad_param, "limit");
	req_free(r);
	r = req("limit=1000");
	cr_assert_eq(api_param_limit(r, &n), 0);
	cr_assert_eq(n, 1000);
	req_free(r);
	r = req("");
	cr_assert_eq(api_param_limit(r, &n), 0);
	cr_assert_eq(n, API_DEFAULT_LIMIT);
	req_free(r);
	r = req("limit=12abc");
	cr_assert_eq(api_param_limit(r, &n), -1);
	req_free(r);

	static const char *const W[] = { "5m", "1h", NULL };
	r = req("window=1h&state=x&state=y");
	int w;
	cr_assert_eq(api_param_enum(r, "window", W, 0, &w), 0);
	cr_assert_eq(w, 1);
	const char *s;
	cr_assert_eq(api_param_str(r, "state", &s), -1, "given twice");
	cr_assert_str_eq(r->bad_param, "state");
	req_free(r);
	r = req("window=2h");
	cr_assert_eq(api_param_enum(r, "window", W, 0, &w), -1);
	cr_assert(strstr(r->bad_msg, "5m, 1h"), "%s", r->bad_msg);
	req_free(r);
}

Test(api_params, labels)
{
	struct api_req *r = req("label=team:pay&label=tier:gold&label=url:http://x");
	char *j;
	cr_assert_eq(api_param_labels(r, &j), 0);
	cr_assert_str_eq(j, "{\"team\":\"pay\",\"tier\":\"gold\",\"url\":\"http://x\"}");
	free(j);
	req_free(r);
	r = req("label=nocolon");
	cr_assert_eq(api_param_labels(r, &j), -1);
	cr_assert_str_eq(r->bad_param, "label");
	req_free(r);
	r = req("label=team:a&label=team:b");
	cr_assert_eq(api_param_labels(r, &j), -1, "one key, two values");
	req_free(r);
	r = req("");
	cr_assert_eq(api_param_labels(r, &j), 0);
	cr_assert_null(j);
	req_free(r);
}

Test(api_params, cursors_round_trip_and_refuse_forgeries)
{
	const char *f[3] = { "host with spaces:&=/", "443", "" };
	char *c = api_cursor_encode(f, 3);
	cr_assert_not_null(c);
	cr_assert_eq(strspn(c, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"),
		     strlen(c), "URL-safe: %s", c);
	char q[512];
	snprintf(q, sizeof q, "cursor=%s", c);
	struct api_req *r = req(q);
	char **out;
	cr_assert_eq(api_param_cursor(r, 3, &out), 0);
	for (int i = 0; i < 3; i++)
		cr_assert_str_eq(out[i], f[i]);
	api_cursor_free(out, 3);
	/* a cursor of another shape (2 fields) is refused */
	cr_assert_eq(api_param_cursor(r, 2, &out), -1);
	req_free(r);
	free(c);
	static const char *const bad[] = { "cursor=", "cursor=%25%25", "cursor=bm9wZQ",
					   "cursor=A", "cursor=dj==" };
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		r = req(bad[i]);
		cr_assert_eq(api_param_cursor(r, 3, &out), -1, "%s", bad[i]);
		cr_assert_str_eq(r->bad_param, "cursor");
		req_free(r);
	}
}

/* ---- tokens ---- */

static char *token_file(const char *text, mode_t mode)
{
	char *path = strdup("/tmp/tw-api-token-......");
	cr_assert_not_null(path);
	memset(path + strlen(path) - 6, 'X', 6);  /* mkstemp's template */
	int fd = mkstemp(path);
	cr_assert(fd >= 0);
	cr_assert_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	cr_assert_eq(chmod(path, mode), 0);
	return path;
}

static enum api_auth_result check(const struct api_auth *a, const char *header, bool write)
{
	struct evhttp_request *rq = evhttp_request_new(NULL, NULL);
	cr_assert_not_null(rq);
	if (header)
		evhttp_add_header(evhttp_request_get_input_headers(rq), "Authorization", header);
	enum api_auth_result r = api_auth_check(a, rq, write);
	evhttp_request_free(rq);
	return r;
}

Test(api_params, token_files)
{
	char err[512];
	struct api_auth a;
	char *open_file = token_file("secret\n", 0644);
	cr_assert_eq(api_auth_load(&a, open_file, NULL, err, sizeof err), -1);
	cr_assert(strstr(err, "http.token_file") && strstr(err, open_file), "%s", err);
	unlink(open_file);
	free(open_file);

	char *empty = token_file("  \n", 0600);
	cr_assert_eq(api_auth_load(&a, empty, NULL, err, sizeof err), -1);
	cr_assert(strstr(err, "empty"), "%s", err);
	unlink(empty);
	free(empty);

	char *w = token_file("  w-token \n", 0600), *r = token_file("r-token", 0400);
	cr_assert_eq(api_auth_load(&a, w, r, err, sizeof err), 0, "%s", err);
	cr_assert_str_eq(a.write_token, "w-token");
	cr_assert_str_eq(a.read_token, "r-token");
	api_auth_clear(&a);
	unlink(w);
	unlink(r);
	free(w);
	free(r);

	setenv("TLSWATCH_API_TOKEN", "env-w", 1);
	unsetenv("TLSWATCH_API_READ_TOKEN");
	cr_assert_eq(api_auth_load(&a, NULL, NULL, err, sizeof err), 0, "%s", err);
	cr_assert_str_eq(a.write_token, "env-w");
	cr_assert_null(a.read_token);
	api_auth_clear(&a);
	unsetenv("TLSWATCH_API_TOKEN");
}

Test(api_params, token_checks)
{
	struct api_auth a = { .write_token = strdup("w-token"), .read_token = NULL };
	cr_assert_eq(check(&a, NULL, false), API_AUTH_OK, "reads are open without a read token");
	cr_assert_eq(check(&a, NULL, true), API_AUTH_MISSING);
	cr_assert_eq(check(&a, "Bearer w-toke", true), API_AUTH_WRONG, "a prefix is wrong");
	cr_assert_eq(check(&a, "Bearer w-token2", true), API_AUTH_WRONG);
	cr_assert_eq(check(&a, "Basic w-token", true), API_AUTH_MISSING);
	cr_assert_eq(check(&a, "bearer w-token", true), API_AUTH_OK, "the scheme is case-blind");
	a.read_token = strdup("r-token");
	cr_assert_eq(check(&a, NULL, false), API_AUTH_MISSING);
	cr_assert_eq(check(&a, "Bearer r-token", false), API_AUTH_OK);
	cr_assert_eq(check(&a, "Bearer w-token", false), API_AUTH_OK, "the write token reads");
	cr_assert_eq(check(&a, "Bearer r-token", true), API_AUTH_WRONG, "the read token cannot write");
	api_auth_clear(&a);
	cr_assert_eq(check(&a, "Bearer anything", true), API_AUTH_DISABLED);
	cr_assert_eq(check(&a, NULL, false), API_AUTH_OK);
}
