/*
 * fuzz_api_params.c - libFuzzer target for the HTTP API's parameter parsing
 * (collector/api_params.c): the query string a client sends, parsed as the
 * router does (evhttp_parse_query_str), then read by every parser the
 * endpoints use: durations, times, integers, limit, enums, booleans, labels,
 * keyset cursors of 1..API_MAX_CURSOR_FIELDS fields, and the {target} path
 * argument (api_split_target).
 *
 * Built by `make fuzz`; run by `make fuzz-smoke` with the seed corpus in
 * tests/fuzz/corpus/fuzz_api_params/.
 *
 * Contract checked: each parser returns 0 with a value in its range, or -1
 * with the parameter named and a message set; a decoded cursor has exactly
 * the fields asked for; a cursor made by api_cursor_encode decodes to the
 * same fields. Never a crash, a leak or an out-of-bounds read.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>

#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "api_params.h"
#include "api_req.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define DAY_MS 86400000LL

static void check_fail(const struct api_req *r, int rc)
{
	if (rc < 0 && (!r->bad_param[0] || !r->bad_msg[0]))
		abort();  /* a refusal must name the parameter and say why */
}

static void reset(struct api_req *r)
{
	r->bad_param[0] = '\0';
	r->bad_msg[0] = '\0';
}

static void cursors(struct api_req *r)
{
	for (size_t want = 1; want <= API_MAX_CURSOR_FIELDS; want++) {
		char **f = NULL;
		reset(r);
		int rc = api_param_cursor(r, want, &f);
		check_fail(r, rc);
		if (rc < 0 && f)
			abort();  /* a refused cursor leaves nothing to free */
		if (rc < 0 || !f)
			continue;
		for (size_t i = 0; i < want; i++)
			if (!f[i])
				abort();  /* a decoded cursor has every field */
		/* what decodes must encode back to a cursor with the same fields */
		char *again = api_cursor_encode((const char *const *)f, want);
		if (!again)
			abort();
		struct api_req r2;
		memset(&r2, 0, sizeof r2);
		TAILQ_INIT(&r2.query);
		if (evhttp_add_header(&r2.query, "cursor", again) != 0)
			abort();
		char **g = NULL;
		if (api_param_cursor(&r2, want, &g) != 0 || !g)
			abort();
		for (size_t i = 0; i < want; i++)
			if (strcmp(f[i], g[i]) != 0)
				abort();
		api_cursor_free(g, want);
		evhttp_clear_headers(&r2.query);
		free(again);
		api_cursor_free(f, want);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > API_MAX_URL)
		return 0;
	char *q = malloc(size + 1);
	if (!q)
		return 0;
	memcpy(q, data, size);
	q[size] = '\0';

	struct api_req r;
	memset(&r, 0, sizeof r);
	TAILQ_INIT(&r.query);
	if (evhttp_parse_query_str(q, &r.query) != 0)
		goto out;

	int64_t ms;
	long long ll;
	int i;
	bool b;
	const char *s;
	char *labels = NULL;
	static const char *const windows[] = { "5m", "1h", "24h", "7d", NULL };

	reset(&r);
	i = api_param_duration(&r, "window", DAY_MS, 5 * 60000LL, 90 * DAY_MS, &ms);
	check_fail(&r, i);
	if (i == 0 && (ms < 5 * 60000LL || ms > 90 * DAY_MS))
		abort();
	reset(&r);
	check_fail(&r, api_param_time(&r, "since", 0, &ms));
	reset(&r);
	i = api_param_uint(&r, "port", 443, 1, 65535, &ll);
	check_fail(&r, i);
	if (i == 0 && (ll < 1 || ll > 65535))
		abort();
	reset(&r);
	int limit;
	i = api_param_limit(&r, &limit);
	check_fail(&r, i);
	if (i == 0 && (limit < 1 || limit > API_MAX_LIMIT))
		abort();
	reset(&r);
	i = api_param_enum(&r, "state", windows, 0, &limit);
	check_fail(&r, i);
	reset(&r);
	check_fail(&r, api_param_bool(&r, "verbose", false, &b));
	reset(&r);
	check_fail(&r, api_param_str(&r, "service", &s));
	reset(&r);
	i = api_param_labels(&r, &labels);
	check_fail(&r, i);
	free(labels);
	cursors(&r);

	/* the whole input as a {target} path argument */
	char *host = NULL;
	int port = 0;
	if (api_split_target(q, &host, &port) == 0 && (port < 0 || port > 65535 || !host))
		abort();
	free(host);
out:
	evhttp_clear_headers(&r.query);
	free(q);
	return 0;
}
