/*
 * test_db_copy_bin.c - the binary COPY tuple of a Result
 * (collector/db_copy_bin.c), byte by byte: the file header and trailer, one
 * field per column of db_sql_copy(), network byte order, NULL as length -1,
 * timestamps in microseconds since 2000-01-01, jsonb with its version byte,
 * text[] with the OID of text, U+FFFD for bytes that are not UTF-8, and the
 * Results it must refuse (the same as the text encoder, plus an arrival time
 * timestamptz cannot hold). What PostgreSQL stores from it is
 * tests/integration/test_copy_bin.c.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "db_copy_bin.h"
#include "db_int.h"

TestSuite(db_copy_bin);

static uint32_t rd32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static uint64_t rd64(const unsigned char *p)
{
	return (uint64_t)rd32(p) << 32 | rd32(p + 4);
}

/* One tuple split into its fields: len[i] = -1 for NULL. */
struct tuple {
	int32_t len[DB_COPY_BIN_NFIELDS];
	const unsigned char *val[DB_COPY_BIN_NFIELDS];
};

static void split(const struct strbuf *b, struct tuple *t)
{
	const unsigned char *p = (const unsigned char *)b->p, *end = p + b->len;
	cr_assert_geq(b->len, 2);
	cr_assert_eq((p[0] << 8 | p[1]), DB_COPY_BIN_NFIELDS);
	p += 2;
	for (int i = 0; i < DB_COPY_BIN_NFIELDS; i++) {
		cr_assert_leq(p + 4, end, "field %d: past the end", i);
		t->len[i] = (int32_t)rd32(p);
		p += 4;
		t->val[i] = p;
		if (t->len[i] >= 0)
			p += t->len[i];
		cr_assert_leq(p, end, "field %d: past the end", i);
	}
	cr_assert_eq(p, end, "%td bytes after the last field", end - p);
}

/* Index of column `name` in db_sql_copy(). */
static int col(const char *name)
{
	const char *s = strchr(db_sql_copy(), '(');
	cr_assert(s);
	int i = 0;
	for (s++; *s && *s != ')'; i++) {
		while (*s == ' ')
			s++;
		size_t k = strcspn(s, ",)");
		if (k == strlen(name) && strncmp(s, name, k) == 0)
			return i;
		s += k + (s[k] == ',');
	}
	cr_assert_fail("no column %s", name);
	return -1;
}

static Tlswatch__Result minimal(void)
{
	Tlswatch__Result r;
	tlswatch__result__init(&r);
	r.has_seq = 1;
	r.seq = 42;
	r.target = "t.example";
	r.port = 443;
	r.profile = "modern";
	r.outcome = "ok";
	return r;
}

Test(db_copy_bin, header_trailer_and_the_statement)
{
	cr_assert_eq(memcmp(db_copy_bin_header, "PGCOPY\n\377\r\n\0\0\0\0\0\0\0\0\0", 19), 0);
	cr_assert_eq((unsigned char)db_copy_bin_trailer[0], 0xff);
	cr_assert_eq((unsigned char)db_copy_bin_trailer[1], 0xff);
	const char *sql = db_sql_copy();
	cr_assert(strstr(sql, "FROM STDIN (FORMAT binary)"), "%s", sql);
	size_t ncols = 1;
	for (const char *s = strchr(sql, '('); s && *s != ')'; s++)
		ncols += *s == ',';
	cr_assert_eq(ncols, DB_COPY_BIN_NFIELDS, "one field per column");
	cr_assert_eq(col("aia_detail"), DB_COPY_BIN_NFIELDS - 1);
}

Test(db_copy_bin, fixed_width_values_in_network_order)
{
	Tlswatch__Result r = minimal();
	r.has_started_unix_ms = 1;
	r.started_unix_ms = 946684800001LL; /* 2000-01-01 00:00:00.001 */
	r.has_interval_ms = 1;
	r.interval_ms = 60000;
	r.has_mtls = 1;
	r.mtls = 1;
	r.has_outcome_depth = 1;
	r.outcome_depth = -2;
	r.has_handshake_ms = 1;
	r.handshake_ms = 1.5;
	r.has_dns_ms = 1;
	r.dns_ms = NAN;
	r.has_cert_not_after = 1;
	r.cert_not_after = 0; /* 1970-01-01 */
	struct strbuf b = { 0 };
	cr_assert_eq(db_copy_bin_result(&b, &r, "p", "", "eu", NULL, 1000), 0);
	struct tuple t;
	split(&b, &t);

	int i = col("seq");
	cr_assert_eq(t.len[i], 8);
	cr_assert_eq(rd64(t.val[i]), 42);
	i = col("started_at");
	cr_assert_eq(t.len[i], 8);
	cr_assert_eq((int64_t)rd64(t.val[i]), 1000, "1 ms after 2000-01-01 is 1000 us");
	i = col("received_at");
	cr_assert_eq((int64_t)rd64(t.val[i]), (1000 - 946684800000LL) * 1000);
	i = col("cert_not_after");
	cr_assert_eq((int64_t)rd64(t.val[i]), -946684800000000LL);
	i = col("port");
	cr_assert_eq(t.len[i], 4);
	cr_assert_eq(rd32(t.val[i]), 443);
	i = col("outcome_depth");
	cr_assert_eq(t.len[i], 4);
	cr_assert_eq((int32_t)rd32(t.val[i]), -2);
	i = col("interval_ms");
	cr_assert_eq(t.len[i], 8, "interval_ms is a bigint");
	cr_assert_eq(rd64(t.val[i]), 60000);
	i = col("mtls");
	cr_assert_eq(t.len[i], 1);
	cr_assert_eq(t.val[i][0], 1);
	i = col("handshake_ms");
	cr_assert_eq(t.len[i], 8);
	cr_assert_eq(rd64(t.val[i]), 0x3FF8000000000000ULL, "1.5 as IEEE 754");
	cr_assert_eq(t.len[col("dns_ms")], -1, "NaN is stored as NULL");
	cr_assert_eq(t.len[col("sni")], -1);
	cr_assert_eq(t.len[col("probe_version")], -1);
	cr_assert_eq(t.len[col("spool_epoch")], 0, "an empty string is not NULL");
	strbuf_free(&b);
}

Test(db_copy_bin, text_jsonb_and_arrays)
{
	Tlswatch__Result r = minimal();
	char *findings[] = { "a", "", "bc" };
	r.findings = findings;
	r.n_findings = 3;
	Tlswatch__Label l;
	tlswatch__label__init(&l);
	l.key = "k\"";
	l.value = NULL;
	Tlswatch__Label *lv[] = { &l };
	r.labels = lv;
	r.n_labels = 1;
	r.alert = "x\xffy";
	struct strbuf b = { 0 };
	cr_assert_eq(db_copy_bin_result(&b, &r, "p", "", "eu", "1", 0), 0);
	struct tuple t;
	split(&b, &t);

	int i = col("alert");
	cr_assert_eq(t.len[i], 5);
	cr_assert_eq(memcmp(t.val[i], "x\xef\xbf\xbdy", 5), 0, "the bad byte became U+FFFD");
	i = col("labels");
	cr_assert_eq(t.len[i], 13);
	cr_assert_eq(memcmp(t.val[i], "\1{\"k\\\"\":null}", 13), 0);
	i = col("verify_errors");
	cr_assert_eq(t.len[i], 3);
	cr_assert_eq(memcmp(t.val[i], "\1[]", 3), 0);
	i = col("findings");
	const unsigned char *a = t.val[i];
	cr_assert_eq(rd32(a), 1, "ndim");
	cr_assert_eq(rd32(a + 4), 0, "no NULL elements");
	cr_assert_eq(rd32(a + 8), 25, "element type text");
	cr_assert_eq(rd32(a + 12), 3, "three elements");
	cr_assert_eq(rd32(a + 16), 1, "lower bound 1");
	cr_assert_eq(rd32(a + 20), 1);
	cr_assert_eq(a[24], 'a');
	cr_assert_eq(rd32(a + 25), 0);
	cr_assert_eq(rd32(a + 29), 2);
	cr_assert_eq(memcmp(a + 33, "bc", 2), 0);
	cr_assert_eq(t.len[i], 35);
	/* leaf_sans: NULL without a certificate; {} with one */
	cr_assert_eq(t.len[col("leaf_sans")], -1);
	strbuf_reset(&b);
	r.fingerprint_sha256 = "FP";
	cr_assert_eq(db_copy_bin_result(&b, &r, "p", "", "eu", "1", 0), 0);
	split(&b, &t);
	i = col("leaf_sans");
	cr_assert_eq(t.len[i], 12, "an empty array: ndim 0, flags, element type");
	cr_assert_eq(rd32(t.val[i]), 0);
	cr_assert_eq(rd32(t.val[i] + 8), 25);
	strbuf_free(&b);
}

Test(db_copy_bin, refuses_what_cannot_be_stored)
{
	struct strbuf b = { 0 };
	Tlswatch__Result r = minimal();
	r.has_seq = 0;
	cr_assert_eq(db_copy_bin_result(&b, &r, "p", "", "eu", NULL, 1), -1, "no seq");
	r = minimal();
	r.seq = (uint64_t)INT64_MAX + 1;
	cr_assert_eq(db_copy_bin_result(&b, &r, "p", "", "eu", NULL, 1), -1, "seq beyond bigint");
	r = minimal();
	r.target = NULL;
	cr_assert_eq(db_copy_bin_result(&b, &r, "p", "", "eu", NULL, 1), -1, "no target");
	r = minimal();
	r.outcome = NULL;
	cr_assert_eq(db_copy_bin_result(&b, &r, "p", "", "eu", NULL, 1), -1, "no outcome");
	r = minimal();
	r.port = 65536;
	cr_assert_eq(db_copy_bin_result(&b, &r, "p", "", "eu", NULL, 1), -1, "port out of range");
	r = minimal();
	cr_assert_eq(db_copy_bin_result(&b, &r, NULL, "", "eu", NULL, 1), -1, "no probe id");
	cr_assert_eq(db_copy_bin_result(&b, &r, "p", NULL, "eu", NULL, 1), -1, "no epoch");
	cr_assert_eq(db_copy_bin_result(&b, &r, "p", "", NULL, NULL, 1), -1, "no region");
	cr_assert_eq(db_copy_bin_result(&b, NULL, "p", "", "eu", NULL, 1), -1);
	cr_assert_eq(db_copy_bin_result(&b, &r, "p", "", "eu", NULL, INT64_MAX), -1,
		     "an arrival after 294276 AD");
	cr_assert_eq(db_copy_bin_result(&b, &r, "p", "", "eu", NULL, INT64_MIN), -1,
		     "an arrival before 4714 BC");
	cr_assert_eq(b.len, 0, "a refused Result writes nothing");
	/* the extremes of started_unix_ms are clamped, not refused */
	r.has_started_unix_ms = 1;
	r.started_unix_ms = INT64_MIN;
	cr_assert_eq(db_copy_bin_result(&b, &r, "p", "", "eu", NULL, 1), 0);
	struct tuple t;
	split(&b, &t);
	cr_assert_eq((int64_t)rd64(t.val[col("started_at")]),
		     (-200000000000000LL - 946684800000LL) * 1000);
	strbuf_free(&b);
}
