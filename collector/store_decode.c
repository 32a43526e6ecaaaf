/*
 * store_decode.c - PGresult values as jansson values (see store.h). Every
 * helper takes a column that may be SQL NULL and gives json null for it.
 */
#include "store.h"
#include "twtime.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

json_t *store_json_str(PGresult *r, int i, int c)
{
	if (PQgetisnull(r, i, c))
		return json_null();
	return json_stringn(PQgetvalue(r, i, c), (size_t)PQgetlength(r, i, c));
}

int64_t store_int(PGresult *r, int i, int c)
{
	if (PQgetisnull(r, i, c))
		return 0;
	char *end;
	errno = 0;
	long long v = strtoll(PQgetvalue(r, i, c), &end, 10);
	return errno || *end ? 0 : (int64_t)v;
}

double store_real(PGresult *r, int i, int c)
{
	if (PQgetisnull(r, i, c))
		return NAN;
	char *end;
	double v = strtod(PQgetvalue(r, i, c), &end);
	return *end ? NAN : v;
}

json_t *store_json_int(PGresult *r, int i, int c)
{
	if (PQgetisnull(r, i, c))
		return json_null();
	return json_integer(store_int(r, i, c));
}

json_t *store_json_realv(double v)
{
	if (isnan(v) || isinf(v))
		return json_null();
	return json_real(v);
}

json_t *store_json_real(PGresult *r, int i, int c)
{
	return store_json_realv(store_real(r, i, c));
}

json_t *store_json_bool(PGresult *r, int i, int c)
{
	if (PQgetisnull(r, i, c))
		return json_null();
	return json_boolean(PQgetvalue(r, i, c)[0] == 't');
}

json_t *store_json_time(int64_t ms)
{
	char buf[40];
	twtime_rfc3339_ms(ms, buf, sizeof buf);
	return json_string(buf);
}

json_t *store_json_ms(PGresult *r, int i, int c)
{
	if (PQgetisnull(r, i, c))
		return json_null();
	return store_json_time(store_int(r, i, c));
}

json_t *store_json_raw(PGresult *r, int i, int c)
{
	if (PQgetisnull(r, i, c))
		return json_null();
	json_error_t e;
	json_t *v = json_loadb(PQgetvalue(r, i, c), (size_t)PQgetlength(r, i, c),
			       JSON_DECODE_ANY, &e);
	return v ? v : json_null();
}

json_t *store_json_ratio(uint64_t num, uint64_t den)
{
	if (den == 0)
		return json_null();
	return json_real((double)num / (double)den);
}

/* text[] in PostgreSQL's array output: {a,"b c","d\"e",NULL}. */
json_t *store_json_text_array(PGresult *r, int i, int c)
{
	json_t *a = json_array();
	if (!a || PQgetisnull(r, i, c))
		return a;
	const char *p = PQgetvalue(r, i, c);
	if (*p != '{')
		return a;
	p++;
	char *buf = malloc(strlen(p) + 1);
	if (!buf) {
		json_decref(a);
		return NULL;
	}
	while (*p && *p != '}') {
		size_t n = 0;
		bool quoted = *p == '"';
		if (quoted) {
			for (p++; *p && *p != '"'; p++) {
				if (*p == '\\' && p[1])
					p++;
				buf[n++] = *p;
			}
			if (*p == '"')
				p++;
		} else {
			for (; *p && *p != ',' && *p != '}'; p++)
				buf[n++] = *p;
		}
		buf[n] = '\0';
		if (!quoted && strcmp(buf, "NULL") == 0)
			json_array_append_new(a, json_null());
		else
			json_array_append_new(a, json_stringn(buf, n));
		if (*p == ',')
			p++;
	}
	free(buf);
	return a;
}

int store_int_array(PGresult *r, int i, int c, uint64_t *out, size_t n)
{
	memset(out, 0, n * sizeof *out);
	if (PQgetisnull(r, i, c))
		return 0;
	const char *p = PQgetvalue(r, i, c);
	if (*p++ != '{')
		return -1;
	for (size_t k = 0; *p && *p != '}'; k++) {
		char *end;
		errno = 0;
		unsigned long long v = strtoull(p, &end, 10);
		if (errno || end == p)
			return -1;
		if (k < n)
			out[k] = v;
		p = end;
		if (*p == ',')
			p++;
	}
	return *p == '}' ? 0 : -1;
}

const char *store_target_id(const char *host, int port, char *buf, size_t cap)
{
	if (strchr(host, ':'))
		snprintf(buf, cap, "[%s]:%d", host, port);
	else
		snprintf(buf, cap, "%s:%d", host, port);
	return buf;
}

int store_append_rows(json_t *a, PGresult *r, int c)
{
	for (int i = 0; i < PQntuples(r); i++) {
		json_t *v = store_json_raw(r, i, c);
		if (!v || json_is_null(v) || json_array_append_new(a, v) != 0) {
			json_decref(v);
			return -1;
		}
	}
	return 0;
}

void store_hist(PGresult *r, int i, int c, uint64_t *hist)
{
	for (int k = 0; k < STORE_HIST_N; k++) {
		int64_t v = store_int(r, i, c + k);
		hist[k] = v > 0 ? (uint64_t)v : 0;
	}
}
