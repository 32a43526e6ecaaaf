/*
 * api_params.c - parsing and validating the API's query parameters (see
 * api_params.h).
 */
#include "api_params.h"
#include "api_json.h"
#include "cmd.h"
#include "hostport.h"
#include "slo_config.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

int api_param_fail(struct api_req *r, const char *name, const char *fmt, ...)
{
	if (r->bad_msg[0])
		return -1;
	snprintf(r->bad_param, sizeof r->bad_param, "%s", name ? name : "");
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(r->bad_msg, sizeof r->bad_msg, fmt, ap);
	va_end(ap);
	return -1;
}

int api_param_str(struct api_req *r, const char *name, const char **out)
{
	*out = NULL;
	for (struct evkeyval *kv = r->query.tqh_first; kv; kv = kv->next.tqe_next) {
		if (strcmp(kv->key, name) != 0)
			continue;
		if (*out)
			return api_param_fail(r, name, "given more than once");
		*out = kv->value;
	}
	return 0;
}

int api_param_duration(struct api_req *r, const char *name, int64_t dflt, int64_t min_ms,
		       int64_t max_ms, int64_t *out)
{
	const char *v;
	if (api_param_str(r, name, &v) < 0)
		return -1;
	if (!v) {
		*out = dflt;
		return 0;
	}
	int64_t ms;
	char lo[24], hi[24];
	if (slo_parse_duration_ms(v, &ms) < 0 || ms < min_ms || ms > max_ms)
		return api_param_fail(r, name, "expected a duration like 1h (%s..%s), got \"%.64s\"",
				      slo_format_duration(min_ms, lo, sizeof lo),
				      slo_format_duration(max_ms, hi, sizeof hi), v);
	*out = ms;
	return 0;
}

int api_param_time(struct api_req *r, const char *name, int64_t dflt, int64_t *out)
{
	const char *v;
	if (api_param_str(r, name, &v) < 0)
		return -1;
	if (!v) {
		*out = dflt;
		return 0;
	}
	bool digits = *v != '\0';
	for (const char *p = v; *p; p++)
		if (!isdigit((unsigned char)*p))
			digits = false;
	if (digits && strlen(v) <= 15) {
		*out = strtoll(v, NULL, 10);
		return 0;
	}
	if (strcmp(v, "now") != 0 && cmd_parse_time(v, out) == 0)
		return 0;
	return api_param_fail(r, name, "expected an RFC 3339 time like 2026-12-05T00:00:00Z or "
			      "Unix milliseconds, got \"%.64s\"", v);
}

int api_param_uint(struct api_req *r, const char *name, long long dflt, long long min,
		   long long max, long long *out)
{
	const char *v;
	if (api_param_str(r, name, &v) < 0)
		return -1;
	if (!v) {
		*out = dflt;
		return 0;
	}
	char *end;
	errno = 0;
	long long x = strtoll(v, &end, 10);
	if (!isdigit((unsigned char)*v) || *end || errno || x < min || x > max)
		return api_param_fail(r, name, "expected an integer from %lld to %lld, got \"%.64s\"",
				      min, max, v);
	*out = x;
	return 0;
}

int api_param_limit(struct api_req *r, int *out)
{
	long long x;
	if (api_param_uint(r, "limit", API_DEFAULT_LIMIT, 1, API_MAX_LIMIT, &x) < 0)
		return -1;
	*out = (int)x;
	return 0;
}

int api_param_enum(struct api_req *r, const char *name, const char *const *values, int dflt,
		   int *out)
{
	const char *v;
	if (api_param_str(r, name, &v) < 0)
		return -1;
	if (!v) {
		*out = dflt;
		return 0;
	}
	char list[256] = "";
	size_t n = 0;
	for (int i = 0; values[i]; i++) {
		if (strcmp(v, values[i]) == 0) {
			*out = i;
			return 0;
		}
		n += (size_t)snprintf(list + n, n < sizeof list ? sizeof list - n : 0, "%s%s",
				      i ? ", " : "", values[i]);
		if (n >= sizeof list)
			n = sizeof list - 1;
	}
	return api_param_fail(r, name, "expected one of %s, got \"%.64s\"", list, v);
}

int api_param_bool(struct api_req *r, const char *name, bool dflt, bool *out)
{
	static const char *const B[] = { "false", "true", NULL };
	int i;
	if (api_param_enum(r, name, B, dflt ? 1 : 0, &i) < 0)
		return -1;
	*out = i == 1;
	return 0;
}

int api_param_labels(struct api_req *r, char **out)
{
	*out = NULL;
	json_t *o = NULL;
	for (struct evkeyval *kv = r->query.tqh_first; kv; kv = kv->next.tqe_next) {
		if (strcmp(kv->key, "label") != 0)
			continue;
		const char *colon = strchr(kv->value, ':');
		if (!colon || colon == kv->value) {
			json_decref(o);
			return api_param_fail(r, "label", "expected key:value, got \"%.64s\"", kv->value);
		}
		if (!o && !(o = json_object())) {
			return api_param_fail(r, "label", "out of memory");
		}
		char key[256];
		size_t kl = (size_t)(colon - kv->value);
		if (kl >= sizeof key) {
			json_decref(o);
			return api_param_fail(r, "label", "label key longer than 255 bytes");
		}
		memcpy(key, kv->value, kl);
		key[kl] = '\0';
		json_t *prev = json_object_get(o, key);
		if (prev && strcmp(json_string_value(prev), colon + 1) != 0) {
			json_decref(o);
			return api_param_fail(r, "label", "label \"%.64s\" given with two values", key);
		}
		json_object_set_new(o, key, json_string(colon + 1));
	}
	if (!o)
		return 0;
	*out = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(o);
	return *out ? 0 : api_param_fail(r, "label", "label values must be UTF-8");
}

/* ------------------------------------------------------------ cursors */

char *api_cursor_encode(const char *const *fields, size_t n)
{
	size_t len = 2;
	for (size_t i = 0; i < n; i++)
		len += 1 + strlen(fields[i]);
	char *raw = malloc(len + 1);
	char *out = malloc(4 * ((len + 2) / 3) + 1);
	if (!raw || !out) {
		free(raw);
		free(out);
		return NULL;
	}
	size_t p = 0;
	memcpy(raw, "v1", 2);
	p = 2;
	for (size_t i = 0; i < n; i++) {
		raw[p++] = '\x1f';
		size_t l = strlen(fields[i]);
		memcpy(raw + p, fields[i], l);
		p += l;
	}
	int m = EVP_EncodeBlock((unsigned char *)out, (const unsigned char *)raw, (int)p);
	free(raw);
	/* base64url without padding: safe in a query string as it is */
	while (m > 0 && out[m - 1] == '=')
		m--;
	out[m] = '\0';
	for (int i = 0; i < m; i++)
		out[i] = out[i] == '+' ? '-' : out[i] == '/' ? '_' : out[i];
	return out;
}

void api_cursor_free(char **fields, size_t n)
{
	if (!fields)
		return;
	for (size_t i = 0; i < n; i++)
		free(fields[i]);
	free(fields);
}

int api_param_cursor(struct api_req *r, size_t want, char ***out)
{
	*out = NULL;
	const char *v;
	if (api_param_str(r, "cursor", &v) < 0)
		return -1;
	if (!v)
		return 0;
	size_t len = strlen(v);
	if (len == 0 || len > 4096)
		return api_param_fail(r, "cursor", "malformed cursor (pass next_cursor as it is)");
	char *b64 = malloc(len + 4);
	unsigned char *raw = malloc(len + 4);
	char **f = calloc(want, sizeof *f);
	if (!b64 || !raw || !f)
		goto bad;
	for (size_t i = 0; i < len; i++) {
		char c = v[i];
		b64[i] = c == '-' ? '+' : c == '_' ? '/' : c;
		if (!isalnum((unsigned char)c) && c != '-' && c != '_')
			goto bad;
	}
	size_t pad = (4 - len % 4) % 4;
	if (pad == 3)
		goto bad;
	memset(b64 + len, '=', pad);
	b64[len + pad] = '\0';
	int m = EVP_DecodeBlock(raw, (unsigned char *)b64, (int)(len + pad));
	if (m < 0)
		goto bad;
	m -= (int)pad;
	raw[m] = '\0';
	if (memchr(raw, '\0', (size_t)m) || strncmp((char *)raw, "v1\x1f", 3) != 0)
		goto bad;
	char *p = (char *)raw + 3;
	for (size_t i = 0; i < want; i++) {
		char *sep = strchr(p, '\x1f');
		if ((sep != NULL) != (i + 1 < want))
			goto bad;
		if (sep)
			*sep = '\0';
		if (!(f[i] = strdup(p)))
			goto bad;
		p = sep ? sep + 1 : p + strlen(p);
	}
	free(b64);
	free(raw);
	*out = f;
	return 0;
bad:
	free(b64);
	free(raw);
	api_cursor_free(f, want);
	return api_param_fail(r, "cursor", "malformed cursor (pass next_cursor as it is)");
}

int api_split_target(const char *s, char **host, int *port)
{
	char h[256], err[128];
	unsigned p = 0;
	*host = NULL;
	if (!*s || hostport_parse(s, h, sizeof h, &p, 0, err, sizeof err) < 0)
		return -1;
	if (!(*host = strdup(h)))
		return -1;
	*port = (int)p;
	return 0;
}

void api_list_cursor(json_t *body)
{
	json_t *next = json_object_get(body, "_next");
	char *cursor = NULL;
	if (json_is_array(next)) {
		const char *f[API_MAX_CURSOR_FIELDS];
		char nums[API_MAX_CURSOR_FIELDS][24];
		size_t n = json_array_size(next);
		if (n > API_MAX_CURSOR_FIELDS)
			n = API_MAX_CURSOR_FIELDS;
		for (size_t i = 0; i < n; i++) {
			json_t *v = json_array_get(next, i);
			if (json_is_integer(v)) {
				snprintf(nums[i], sizeof nums[i], "%lld", (long long)json_integer_value(v));
				f[i] = nums[i];
			} else {
				f[i] = json_is_string(v) ? json_string_value(v) : "";
			}
		}
		cursor = api_cursor_encode(f, n);
	}
	json_object_del(body, "_next");
	json_object_set_new(body, "next_cursor", cursor ? json_string(cursor) : json_null());
	free(cursor);
}

void api_reply_list(void *arg, struct store_answer *a)
{
	if (a->status == STORE_OK)
		api_list_cursor(a->json);
	api_reply_answer(arg, a);
}
