/*
 * test_db_copy.c - the COPY text encoder of the ingest path
 * (db_copy_result in collector/db_sql.c): one row per Result, columns in
 * the order of db_sql_copy() (COPY results, timestamps as timestamptz text), PostgreSQL's text format escaping, NULLs,
 * U+FFFD for invalid UTF-8, and the Results it must refuse.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db_int.h"

TestSuite(db_copy);

/* Column names of db_sql_copy(), in order. */
static size_t columns(char names[][64], size_t max)
{
	const char *s = strchr(db_sql_copy(), '(');
	cr_assert(s);
	size_t n = 0;
	for (s++; *s && *s != ')' && n < max; n++) {
		while (*s == ' ')
			s++;
		size_t k = strcspn(s, ",)");
		cr_assert_lt(k, 64);
		memcpy(names[n], s, k);
		names[n][k] = '\0';
		s += k;
		if (*s == ',')
			s++;
	}
	return n;
}

/* One encoded row split on tabs; field(name) finds a column's text. */
struct row {
	char names[80][64];
	size_t ncols;
	char *fields[80];
	size_t nfields;
	char *buf;
};

static void encode(struct row *w, const Tlswatch__Result *r)
{
	struct strbuf b = { 0 };
	cr_assert_eq(db_copy_result(&b, r, "probe-1", "eu-west", "1.2.3", 1700000000123LL), 0);
	cr_assert_not(b.oom);
	cr_assert_gt(b.len, 0);
	cr_assert_eq(b.p[b.len - 1], '\n', "a row ends with a newline");
	cr_assert_null(memchr(b.p, '\n', b.len - 1), "no raw newline inside a row");
	w->ncols = columns(w->names, 80);
	w->buf = strbuf_take(&b);
	cr_assert(w->buf);
	w->buf[strlen(w->buf) - 1] = '\0';
	w->nfields = 0;
	char *p = w->buf;
	for (;;) {
		w->fields[w->nfields++] = p;
		char *t = strchr(p, '\t');
		if (!t)
			break;
		*t = '\0';
		p = t + 1;
	}
	cr_assert_eq(w->nfields, w->ncols, "%zu fields for %zu columns", w->nfields, w->ncols);
}

static const char *field(const struct row *w, const char *name)
{
	for (size_t i = 0; i < w->ncols; i++)
		if (strcmp(w->names[i], name) == 0)
			return w->fields[i];
	cr_assert_fail("no column %s", name);
	return NULL;
}

static Tlswatch__Result base_result(void)
{
	Tlswatch__Result r = TLSWATCH__RESULT__INIT;
	r.has_seq = 1;
	r.seq = 42;
	r.target = "example.com";
	r.port = 443;
	r.profile = "modern";
	r.outcome = "ok";
	return r;
}

Test(db_copy, escapes_tab_newline_cr_and_backslash)
{
	Tlswatch__Result r = base_result();
	r.target = "a\tb\nc\\d\re";
	struct row w;
	encode(&w, &r);
	cr_assert_str_eq(field(&w, "target"), "a\\tb\\nc\\\\d\\re");
	cr_assert_str_eq(field(&w, "probe_id"), "probe-1", "the certificate's identity wins");
	cr_assert_str_eq(field(&w, "region"), "eu-west");
	cr_assert_str_eq(field(&w, "probe_version"), "1.2.3");
	cr_assert_str_eq(field(&w, "seq"), "42");
	cr_assert_str_eq(field(&w, "port"), "443");
	free(w.buf);
}

Test(db_copy, absent_values_are_null_never_sentinels)
{
	Tlswatch__Result r = base_result();
	r.has_handshake_ms = 1;
	r.handshake_ms = NAN;   /* would poison every sum */
	r.has_total_ms = 1;
	r.total_ms = 12.5;
	r.has_mtls = 1;
	r.mtls = 0;
	struct row w;
	encode(&w, &r);
	cr_assert_str_eq(field(&w, "sni"), "\\N");
	cr_assert_str_eq(field(&w, "tls_version"), "\\N");
	cr_assert_str_eq(field(&w, "dns_ms"), "\\N");
	cr_assert_str_eq(field(&w, "handshake_ms"), "\\N");
	cr_assert_str_eq(field(&w, "total_ms"), "12.5");
	cr_assert_str_eq(field(&w, "mtls"), "f");
	cr_assert_str_eq(field(&w, "resumed"), "\\N");
	cr_assert_str_eq(field(&w, "cert_not_after"), "\\N");
	/* leaf_sans: NULL without a certificate, {} with one that has none */
	cr_assert_str_eq(field(&w, "leaf_sans"), "\\N");
	cr_assert_str_eq(field(&w, "findings"), "{}");
	cr_assert_str_eq(field(&w, "labels"), "{}");
	cr_assert_str_eq(field(&w, "verify_errors"), "[]");
	/* without the probe's start time the row is keyed by its arrival */
	cr_assert_str_eq(field(&w, "started_at"), "2023-11-14 22:13:20.123+00",
			 "PostgreSQL's text of to_timestamp(1700000000123 / 1000.0)");
	free(w.buf);
	r.fingerprint_sha256 = "ab";
	encode(&w, &r);
	cr_assert_str_eq(field(&w, "leaf_sans"), "{}");
	free(w.buf);
}

Test(db_copy, invalid_utf8_becomes_replacement_characters)
{
	Tlswatch__Result r = base_result();
	r.leaf_subject = "ok\xff" "x\xc3";             /* a stray byte, a truncated sequence */
	r.leaf_issuer = "\xc0\xaf|\xed\xa0\x80|\xf4\x90\x80\x80"; /* overlong, surrogate, > U+10FFFF */
	r.sni = "h\xc3\xa9llo \xe2\x82\xac \xf0\x9f\x94\x92"; /* valid: kept as they are */
	struct row w;
	encode(&w, &r);
	cr_assert_str_eq(field(&w, "leaf_subject"), "ok\xef\xbf\xbdx\xef\xbf\xbd");
	cr_assert_str_eq(field(&w, "leaf_issuer"),
			 "\xef\xbf\xbd\xef\xbf\xbd|\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd|"
			 "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd");
	cr_assert_str_eq(field(&w, "sni"), "h\xc3\xa9llo \xe2\x82\xac \xf0\x9f\x94\x92");
	free(w.buf);
}

Test(db_copy, arrays_and_json_are_escaped_twice)
{
	Tlswatch__Result r = base_result();
	char *findings[] = { "weak_key", "say \"hi\"", "back\\slash" };
	r.findings = findings;
	r.n_findings = 3;
	Tlswatch__Label l1 = TLSWATCH__LABEL__INIT, l2 = TLSWATCH__LABEL__INIT;
	l1.key = "tier";
	l1.value = "gold\n\"1\"";
	l2.key = "empty";
	l2.value = NULL;
	Tlswatch__Label *labels[] = { &l1, &l2 };
	r.labels = labels;
	r.n_labels = 2;
	Tlswatch__VerifyError v = TLSWATCH__VERIFY_ERROR__INIT;
	v.depth = 1;
	v.code = 10;
	v.reason = "certificate has\texpired";
	Tlswatch__VerifyError *ve[] = { &v };
	r.verify_errors = ve;
	r.n_verify_errors = 1;
	struct row w;
	encode(&w, &r);
	/* array literal: elements quoted, " and \ backslashed; then COPY doubles the backslashes */
	cr_assert_str_eq(field(&w, "findings"),
			 "{\"weak_key\",\"say \\\\\"hi\\\\\"\",\"back\\\\\\\\slash\"}");
	/* JSON: control characters as \u00XX, then COPY escaping */
	cr_assert_str_eq(field(&w, "labels"),
			 "{\"tier\":\"gold\\\\u000a\\\\\"1\\\\\"\",\"empty\":null}");
	cr_assert_str_eq(field(&w, "verify_errors"),
			 "[{\"depth\":1,\"code\":10,\"reason\":\"certificate has\\\\u0009expired\"}]");
	free(w.buf);
}

Test(db_copy, refuses_results_it_cannot_store)
{
	struct strbuf b = { 0 };
	Tlswatch__Result r = base_result();
	r.has_seq = 0;
	cr_assert_eq(db_copy_result(&b, &r, "p", "eu", NULL, 1), -1, "a Result without seq");
	r = base_result();
	r.seq = (uint64_t)INT64_MAX + 1;
	cr_assert_eq(db_copy_result(&b, &r, "p", "eu", NULL, 1), -1, "seq beyond bigint");
	r = base_result();
	r.target = NULL;
	cr_assert_eq(db_copy_result(&b, &r, "p", "eu", NULL, 1), -1, "no target");
	r = base_result();
	r.outcome = NULL;
	cr_assert_eq(db_copy_result(&b, &r, "p", "eu", NULL, 1), -1, "no outcome");
	r = base_result();
	r.port = 70000;
	cr_assert_eq(db_copy_result(&b, &r, "p", "eu", NULL, 1), -1, "port out of range");
	r = base_result();
	cr_assert_eq(db_copy_result(&b, &r, NULL, "eu", NULL, 1), -1, "no probe id");
	cr_assert_eq(db_copy_result(&b, NULL, "p", "eu", NULL, 1), -1);
	cr_assert_eq(b.len, 0, "a refused Result writes nothing");
	/* and a good one still encodes after the refusals */
	cr_assert_eq(db_copy_result(&b, &r, "p", "eu", NULL, 1), 0);
	cr_assert_gt(b.len, 0);
	strbuf_free(&b);
}

Test(db_copy, timestamps_are_clamped_to_what_postgres_accepts)
{
	Tlswatch__Result r = base_result();
	r.has_started_unix_ms = 1;
	r.started_unix_ms = INT64_MAX;
	r.has_cert_not_after = 1;
	r.cert_not_after = INT64_MIN;
	struct row w;
	encode(&w, &r);
	/* what to_timestamp(9000000000000000 / 1000.0) and
	 * to_timestamp(-200000000000) print (PostgreSQL 15, TimeZone UTC) */
	cr_assert_str_eq(field(&w, "started_at"), "287168-08-24 16:00:00+00");
	cr_assert_str_eq(field(&w, "cert_not_after"), "4369-04-02 04:26:40+00 BC");
	free(w.buf);
}

/* Days since 1970-01-01 -> y/m/d, as db_sql.c computes them (H. Hinnant's
 * civil_from_days), for the printf reference below. */
static void ref_civil(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
	z += 719468;
	int64_t era = (z >= 0 ? z : z - 146096) / 146097;
	unsigned doe = (unsigned)(z - era * 146097);
	unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	unsigned mp = (5 * doy + 2) / 153;
	*d = doy - (153 * mp + 2) / 5 + 1;
	*m = mp < 10 ? mp + 3 : mp - 9;
	*y = (int64_t)yoe + era * 400 + (*m <= 2);
}

/* The printf form db_put_ts_ms() had before it wrote the digits by hand. */
static void ref_ts(char *out, size_t n, int64_t ms)
{
	int64_t s = ms >= 0 ? ms / 1000 : -((-ms + 999) / 1000);
	int frac = (int)(ms - s * 1000);
	int64_t day = s >= 0 ? s / 86400 : -((-s + 86399) / 86400);
	int sod = (int)(s - day * 86400);
	int64_t y;
	unsigned mo, d;
	ref_civil(day, &y, &mo, &d);
	bool bc = y <= 0;
	int k = snprintf(out, n, "%04lld-%02u-%02u %02d:%02d:%02d", (long long)(bc ? 1 - y : y), mo, d,
			 sod / 3600, sod / 60 % 60, sod % 60);
	if (frac)
		k += snprintf(out + k, n - (size_t)k, ".%03d", frac);
	snprintf(out + k, n - (size_t)k, "%s", bc ? "+00 BC" : "+00");
}

Test(db_copy, timestamp_text_is_the_printf_form)
{
	int64_t fixed[] = { 0, 1, -1, 999, -999, 1000, -1000, 1700000000123LL, 946684800000LL,
			    -62135596800000LL, -62135596800001LL, -62167219200000LL, 253402300799999LL,
			    253402300800000LL, -200000000000000LL, 9000000000000000LL, 86399999,
			    -86400001, 951782400000LL /* 2000-02-29 */ };
	char want[64];
	struct strbuf b = { 0 };
	for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++) {
		strbuf_reset(&b);
		db_put_ts_ms(&b, fixed[i]);
		ref_ts(want, sizeof want, fixed[i]);
		cr_assert_str_eq(b.p, want, "%lld ms", (long long)fixed[i]);
	}
	/* and a spread over the whole clamped range */
	uint64_t x = 88172645463325252ULL;
	for (int i = 0; i < 200000; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		int64_t ms = (int64_t)(x % 9200000000000001ULL) - 200000000000000LL;
		if (i % 2)
			ms = ms % 4102444800000LL; /* 1840 .. 2100, the usual range */
		strbuf_reset(&b);
		db_put_ts_ms(&b, ms);
		ref_ts(want, sizeof want, ms);
		cr_assert_str_eq(b.p, want, "%lld ms", (long long)ms);
	}
	strbuf_free(&b);
}

Test(db_copy, json_strings_of_the_jsonb_parameters)
{
	struct strbuf b = { 0 };
	db_json_str(&b, "plain a.example");
	db_json_str(&b, "q\"b\\s\x01\x1f\n\t\x7f é 🔒");
	db_json_str(&b, "");
	db_json_str(&b, NULL);
	cr_assert_not(b.oom);
	cr_assert_str_eq(b.p, "\"plain a.example\"\"q\\\"b\\\\s\\u0001\\u001f\\u000a\\u0009\x7f é 🔒\"\"\"null");
	strbuf_free(&b);
}
