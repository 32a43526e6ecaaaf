/*
 * test_copy_bin.c - `COPY results` in the binary format (collector/
 * db_copy_bin.c) stores exactly what the text format stored (the reference
 * encoder db_copy_result_epoch in collector/db_sql.c), against a real
 * PostgreSQL (test_copy_bin.sh):
 *
 *   - Results with every column at its edges (NULLs, empty strings, bytes
 *     that are not UTF-8, 4-byte UTF-8, COPY text metacharacters, integers
 *     at their type's limits, timestamps clamped at both ends and before
 *     1970, -0, a subnormal, +-DBL_MAX, NaN and +-inf, arrays of 0, 1 and
 *     many elements, labels with a null value and a repeated key) go through
 *     the real ingest path (db_ingest_epoch: the pool's binary COPY) into
 *     results, and through the text encoder and a text COPY into a copy of
 *     the table; every column of every row must be equal, as a value and as
 *     its text. Then some stored values are checked against what the
 *     protobuf said, so both paths being wrong the same way fails too.
 *   - a batch of 3,000 rows (the COPY goes out in several 64 KiB chunks)
 *     compared the same way.
 */
#include <float.h>
#include <math.h>

#include "db_env.h"
#include "db_copy_bin.h"
#include "db_int.h"

TestSuite(copy_bin, .timeout = 240);

#define NASTY "tab\there \"q\" 'single' back\\slash\nnl\r\ncrlf {brace,comma} \\N NULL é 中文 🔒"
#define BAD "bad \xff\xfe \xc0\x80 overlong \xed\xa0\x80 surrogate \xf4\x90\x80\x80 big \x80 lone \xf5 end \xe2\x82"

static char *sdup(const char *s) { return s ? strdup(s) : NULL; }

static Tlswatch__Result *blank(uint64_t seq, const char *outcome)
{
	Tlswatch__Result *r = calloc(1, sizeof *r);
	cr_assert(r);
	tlswatch__result__init(r);
	r->has_seq = 1;
	r->seq = seq;
	r->target = sdup("edge.example");
	r->port = 443;
	r->profile = sdup("modern");
	r->outcome = sdup(outcome);
	return r;
}

static void labels(Tlswatch__Result *r, size_t n, const char *const *kv)
{
	r->labels = calloc(n, sizeof *r->labels);
	for (size_t i = 0; i < n; i++) {
		r->labels[i] = calloc(1, sizeof **r->labels);
		tlswatch__label__init(r->labels[i]);
		r->labels[i]->key = sdup(kv[2 * i]);
		r->labels[i]->value = sdup(kv[2 * i + 1]);
	}
	r->n_labels = n;
}

static void verify_error(Tlswatch__Result *r, int32_t depth, int32_t code, const char *reason)
{
	r->verify_errors = realloc(r->verify_errors, (r->n_verify_errors + 1) * sizeof *r->verify_errors);
	Tlswatch__VerifyError *v = r->verify_errors[r->n_verify_errors++] = calloc(1, sizeof *v);
	tlswatch__verify_error__init(v);
	v->depth = depth;
	v->code = code;
	v->reason = sdup(reason);
}

/* Every optional string of r set to s. */
static void all_strings(Tlswatch__Result *r, const char *s)
{
	char **f[] = { &r->sni, &r->address, &r->starttls, &r->service, &r->alert, &r->tls_version,
		       &r->cipher, &r->cipher_iana, &r->group, &r->alpn, &r->ocsp_status,
		       &r->ocsp_source, &r->leaf_subject, &r->leaf_issuer, &r->leaf_key,
		       &r->leaf_sig_alg, &r->fingerprint_sha256, &r->ocsp_error, &r->crl_status,
		       &r->crl_detail, &r->resume_detail, &r->aia_detail };
	for (size_t i = 0; i < sizeof f / sizeof f[0]; i++) {
		free(*f[i]);
		*f[i] = sdup(s);
	}
}

/* The edge Results, seqs 0..n-2 and INT64_MAX. */
static size_t edges(Tlswatch__Result **v, int64_t base)
{
	size_t n = 0;
	/* 1: everything set, at the limits */
	Tlswatch__Result *r = v[n++] = blank(0, "ok");
	all_strings(r, NASTY);
	free(r->target); r->target = sdup(NASTY);
	r->port = 65535;
	r->has_started_unix_ms = 1; r->started_unix_ms = INT64_MIN;
	r->has_interval_ms = 1; r->interval_ms = UINT32_MAX;
	r->has_mtls = 1; r->mtls = 1;
	r->has_outcome_depth = 1; r->outcome_depth = INT32_MIN;
	r->has_resumed = 1; r->resumed = 1;
	r->has_resume_ms = 1; r->resume_ms = -0.0;
	r->has_ocsp_stapled = 1; r->ocsp_stapled = 1;
	r->has_ocsp_responder_ms = 1; r->ocsp_responder_ms = 4.9406564584124654e-324;
	r->has_sni_match = 1; r->sni_match = 1;
	r->has_cert_not_before = 1; r->cert_not_before = INT64_MIN;
	r->has_cert_not_after = 1; r->cert_not_after = INT64_MAX;
	r->has_days_to_expiry = 1; r->days_to_expiry = -DBL_MAX;
	r->has_chain_not_after_min = 1; r->chain_not_after_min = -1;
	r->has_chain_not_after_min_depth = 1; r->chain_not_after_min_depth = INT32_MAX;
	r->has_chain_len = 1; r->chain_len = UINT32_MAX;
	r->has_client_cert_not_after = 1; r->client_cert_not_after = 0;
	r->has_dns_ms = 1; r->dns_ms = DBL_MAX;
	r->has_connect_ms = 1; r->connect_ms = 0.1 + 0.2;
	r->has_handshake_ms = 1; r->handshake_ms = 1e-300;
	r->has_total_ms = 1; r->total_ms = 123456789.123456789;
	r->has_ocsp_responder_named = 1; r->ocsp_responder_named = 1;
	const char *kv[] = { "team", "sre", "", NULL, "ctl\x01\x1f\"\\", NASTY, "team", "last wins",
			     "ünï", BAD };
	labels(r, 5, kv);
	verify_error(r, INT32_MIN, INT32_MAX, NASTY);
	verify_error(r, 0, -1, NULL);
	verify_error(r, 7, 0, BAD);
	r->findings = strv(&r->n_findings, 10, "cipher_fallback", "", NASTY, "NULL", "{}", "a,b",
			   "\"", "\\", "🔒", BAD);
	r->leaf_sans = strv(&r->n_leaf_sans, 6, "a.example", "", "NULL", "*.ü.example", NASTY, BAD);

	/* 2: nothing optional (a DNS failure), seq INT64_MAX */
	r = v[n++] = blank(INT64_MAX, "dns_error");
	r->port = 0;

	/* 3: every string empty, arrays of one empty element or none */
	r = v[n++] = blank(2, "ok");
	all_strings(r, "");
	free(r->target); r->target = sdup("");
	free(r->profile); r->profile = sdup("");
	r->has_started_unix_ms = 1; r->started_unix_ms = -1;
	r->findings = strv(&r->n_findings, 1, "");
	const char *kv3[] = { "", "" };
	labels(r, 1, kv3);
	verify_error(r, 0, 0, "");

	/* 4: bytes that are not UTF-8 everywhere, non-finite numbers */
	r = v[n++] = blank(3, BAD);
	all_strings(r, BAD);
	free(r->target); r->target = sdup(BAD);
	free(r->profile); r->profile = sdup(BAD);
	r->has_started_unix_ms = 1; r->started_unix_ms = INT64_MAX;
	r->has_resume_ms = 1; r->resume_ms = NAN;
	r->has_ocsp_responder_ms = 1; r->ocsp_responder_ms = INFINITY;
	r->has_days_to_expiry = 1; r->days_to_expiry = -INFINITY;
	r->has_dns_ms = 1; r->dns_ms = -NAN;
	r->has_connect_ms = 1; r->connect_ms = -DBL_MAX;
	r->has_handshake_ms = 1; r->handshake_ms = INFINITY;
	r->has_total_ms = 1; r->total_ms = NAN;
	r->has_cert_not_before = 1; r->cert_not_before = -200000000001LL;
	r->has_cert_not_after = 1; r->cert_not_after = 9000000000001LL;
	r->findings = strv(&r->n_findings, 1, BAD);
	r->leaf_sans = strv(&r->n_leaf_sans, 1, BAD);
	const char *kv4[] = { BAD, BAD };
	labels(r, 1, kv4);

	/* 5: present but zero / false, a certificate with a fingerprint only */
	r = v[n++] = blank(4, "cert_expired");
	r->has_started_unix_ms = 1; r->started_unix_ms = base;
	r->has_interval_ms = 1; r->has_mtls = 1; r->has_outcome_depth = 1; r->has_resumed = 1;
	r->has_resume_ms = 1; r->has_ocsp_stapled = 1; r->has_ocsp_responder_ms = 1;
	r->has_sni_match = 1; r->has_cert_not_before = 1; r->has_cert_not_after = 1;
	r->has_days_to_expiry = 1; r->has_chain_not_after_min = 1;
	r->has_chain_not_after_min_depth = 1; r->has_chain_len = 1;
	r->has_client_cert_not_after = 1; r->has_dns_ms = 1; r->has_connect_ms = 1;
	r->has_handshake_ms = 1; r->has_total_ms = 1; r->has_ocsp_responder_named = 1;
	r->fingerprint_sha256 = sdup("FP:ONLY");

	/* 6: a certificate without SANs (subject only), no started_unix_ms */
	r = v[n++] = blank(5, "ok");
	r->leaf_subject = sdup("CN=nosans");
	r->sni = sdup("sni.example");
	return n;
}

/* The COPY text statement of the reference encoder, into `table`. */
static char *text_copy_sql(const char *table)
{
	const char *s = strchr(db_sql_copy(), '(');
	const char *e = s ? strchr(s, ')') : NULL;
	cr_assert(s && e, "db_sql_copy(): %s", db_sql_copy());
	char *sql = NULL;
	cr_assert(asprintf(&sql, "COPY %s %.*s FROM STDIN", table, (int)(e - s + 1), s) > 0);
	return sql;
}

/* The same Results through the text encoder into results_text. */
static void copy_text(PGconn *c, Tlswatch__Result **v, size_t n, const char *probe,
		      const char *epoch, const char *region, const char *version, int64_t recv)
{
	struct strbuf b = { 0 };
	for (size_t i = 0; i < n; i++)
		cr_assert_eq(db_copy_result_epoch(&b, v[i], probe, epoch, region, version, recv), 0);
	cr_assert_not(b.oom);
	char *sql = text_copy_sql("results_text");
	PGresult *r = PQexec(c, sql);
	cr_assert_eq(PQresultStatus(r), PGRES_COPY_IN, "%s: %s", sql, PQerrorMessage(c));
	PQclear(r);
	cr_assert_eq(PQputCopyData(c, b.p, (int)b.len), 1);
	cr_assert_eq(PQputCopyEnd(c, NULL), 1);
	r = PQgetResult(c);
	cr_assert_eq(PQresultStatus(r), PGRES_COMMAND_OK, "text COPY: %s", PQresultErrorMessage(r));
	PQclear(r);
	while ((r = PQgetResult(c)))
		PQclear(r);
	free(sql);
	strbuf_free(&b);
}

/* The same Results through the real ingest path (binary COPY). */
static void ingest_bin(struct event_base *base, struct db_pool *p, Tlswatch__Result **v, size_t n,
		       const char *probe, const char *epoch, const char *region,
		       const char *version, int64_t recv)
{
	struct cbrec rec = { 0 };
	cr_assert(db_ingest_epoch(p, probe, epoch, region, version, v, n, recv, on_ingest, &rec),
		  "db_ingest_epoch refused: %s", strerror(errno));
	cr_assert(run_until(base, cb_done, &rec, 60), "ingest callback did not fire in 60 s");
	cr_assert(rec.ok, "binary ingest failed: %s", rec.err);
	cr_assert_eq(rec.inserted, n);
}

/* Every column of every row of results equals results_text's, as a value
 * and as text (so -0 vs 0 or a jsonb key order would show). */
static void expect_same(PGconn *c, long long rows)
{
	cr_assert_eq(q_int(c, "SELECT count(*) FROM results"), rows);
	cr_assert_eq(q_int(c, "SELECT count(*) FROM results_text"), rows);
	const char *s = strchr(db_sql_copy(), '(');
	cr_assert(s);
	size_t ncols = 0;
	for (s++; *s && *s != ')'; ncols++) {
		while (*s == ' ')
			s++;
		size_t k = strcspn(s, ",)");
		char col[64];
		cr_assert_lt(k, sizeof col);
		memcpy(col, s, k);
		col[k] = '\0';
		s += k + (s[k] == ',');
		long long bad = q_int(c, "SELECT count(*) FROM results b FULL JOIN results_text t "
				      "ON b.probe_id = t.probe_id AND b.spool_epoch = t.spool_epoch "
				      "AND b.seq = t.seq WHERE b.probe_id IS NULL OR t.probe_id IS NULL "
				      "OR b.%s IS DISTINCT FROM t.%s OR b.%s::text IS DISTINCT FROM t.%s::text",
				      col, col, col, col);
		if (bad) {
			char *ex = q_str(c, "SELECT format('seq %%s: binary %%s, text %%s', "
					 "coalesce(b.seq, t.seq), b.%s, t.%s) FROM results b FULL JOIN "
					 "results_text t ON b.probe_id = t.probe_id AND b.spool_epoch = "
					 "t.spool_epoch AND b.seq = t.seq WHERE b.probe_id IS NULL OR "
					 "t.probe_id IS NULL OR b.%s::text IS DISTINCT FROM t.%s::text LIMIT 1",
					 col, col, col, col);
			cr_assert_fail("column %s: %lld rows differ (%s)", col, bad, ex ? ex : "NULL");
		}
	}
	cr_assert_eq(ncols, DB_COPY_BIN_NFIELDS);
}

static void expect(PGconn *c, const char *where, const char *expr, const char *want)
{
	char *got = q_str(c, "SELECT (%s)::text FROM results WHERE %s", expr, where);
	if (!want)
		cr_assert_null(got, "%s: %s: want NULL, got \"%s\"", where, expr, got);
	else
		cr_assert(got && strcmp(got, want) == 0, "%s: %s: want \"%s\", got \"%s\"", where,
			  expr, want, got ? got : "NULL");
	free(got);
}

Test(copy_bin, edges_store_what_the_text_format_stored)
{
	char *ci = new_migrated_db("tw_copy_bin");
	struct event_base *base = event_base_new();
	struct db_opts o = { 0 };
	struct db_pool *p = pool_up(base, ci, &o);
	PGconn *c = pg(ci);
	exec_ok(c, "CREATE TABLE results_text (LIKE results INCLUDING DEFAULTS)");
	int64_t recv = twtime_wall_ms();

	Tlswatch__Result *v[8];
	size_t n = edges(v, base_ms_now());
	/* two batches: a version with a bad byte and an empty epoch; no
	 * version, a non-ASCII probe and region and an epoch */
	ingest_bin(base, p, v, n, "probe-é", "", "eu-west", "1.0\xff", recv);
	copy_text(c, v, n, "probe-é", "", "eu-west", "1.0\xff", recv);
	ingest_bin(base, p, v, n, "probe-2", "00ff00ff00ff00ff00ff00ff00ff00ff", "région 🔒", NULL,
		   recv + 1);
	copy_text(c, v, n, "probe-2", "00ff00ff00ff00ff00ff00ff00ff00ff", "région 🔒", NULL,
		  recv + 1);
	expect_same(c, 2 * (long long)n);

	/* and what was stored is what the protobuf said */
	const char *w0 = "probe_id = 'probe-é' AND seq = 0";
	expect(c, w0, "probe_version", "1.0\xef\xbf\xbd");
	expect(c, w0, "target", NASTY);
	expect(c, w0, "port", "65535");
	expect(c, w0, "(extract(epoch FROM started_at) * 1000)::bigint", "-200000000000000");
	char want[64];
	snprintf(want, sizeof want, "%lld", (long long)recv);
	expect(c, w0, "(extract(epoch FROM received_at) * 1000)::bigint", want);
	expect(c, w0, "interval_ms", "4294967295");
	expect(c, w0, "outcome_depth", "-2147483648");
	expect(c, w0, "chain_not_after_min_depth", "2147483647");
	expect(c, w0, "chain_len", "2147483647");
	expect(c, w0, "resume_ms", "-0");
	expect(c, w0, "ocsp_responder_ms = 4.9406564584124654e-324::float8", "true");
	expect(c, w0, "days_to_expiry = '-1.7976931348623157e+308'::float8", "true");
	expect(c, w0, "dns_ms = '1.7976931348623157e+308'::float8", "true");
	expect(c, w0, "connect_ms = 0.30000000000000004::float8", "true");
	expect(c, w0, "handshake_ms = 1e-300::float8", "true");
	expect(c, w0, "cert_not_before = to_timestamp(-200000000000)", "true");
	expect(c, w0, "cert_not_after = to_timestamp(9000000000000)", "true");
	expect(c, w0, "extract(epoch FROM chain_not_after_min)::bigint", "-1");
	expect(c, w0, "extract(epoch FROM client_cert_not_after)::bigint", "0");
	expect(c, w0, "labels ->> 'team'", "last wins");
	expect(c, w0, "labels ? '' AND labels -> '' = 'null'::jsonb", "true");
	expect(c, w0, "labels ->> E'ctl\\x01\\x1f\"\\\\'", NASTY);
	expect(c, w0, "jsonb_array_length(verify_errors)", "3");
	expect(c, w0, "verify_errors -> 0 ->> 'depth'", "-2147483648");
	expect(c, w0, "verify_errors -> 0 ->> 'code'", "2147483647");
	expect(c, w0, "verify_errors -> 1 -> 'reason'", "null");
	expect(c, w0, "array_length(findings, 1)", "10");
	expect(c, w0, "findings[2] = '' AND findings[4] = 'NULL' AND findings[9] = '🔒'", "true");
	expect(c, w0, "findings[3]", NASTY);
	expect(c, w0, "leaf_sans[5]", NASTY);
	const char *w2 = "probe_id = 'probe-é' AND seq = 2";
	expect(c, w2, "findings", "{\"\"}");
	expect(c, w2, "leaf_sans", "{}");
	expect(c, w2, "sni", "");
	expect(c, w2, "(extract(epoch FROM started_at) * 1000)::bigint", "-1");
	const char *w3 = "probe_id = 'probe-é' AND seq = 3";
	const char *clean = "bad \xef\xbf\xbd\xef\xbf\xbd \xef\xbf\xbd\xef\xbf\xbd overlong "
			    "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd surrogate \xef\xbf\xbd\xef\xbf\xbd"
			    "\xef\xbf\xbd\xef\xbf\xbd big \xef\xbf\xbd lone \xef\xbf\xbd end "
			    "\xef\xbf\xbd\xef\xbf\xbd";
	expect(c, w3, "alert", clean);
	expect(c, w3, "outcome", clean);
	expect(c, w3, "leaf_sans[1]", clean);
	expect(c, w3, "verify_errors", "[]");
	char q[1024];
	snprintf(q, sizeof q, "labels ->> '%s'", clean);
	expect(c, w3, q, clean);
	expect(c, w3, "(extract(epoch FROM started_at) * 1000)::bigint", "9000000000000000");
	const char *nulls[] = { "resume_ms", "ocsp_responder_ms", "days_to_expiry", "dns_ms",
				"handshake_ms", "total_ms" };
	for (size_t i = 0; i < sizeof nulls / sizeof nulls[0]; i++)
		expect(c, w3, nulls[i], NULL);
	expect(c, w3, "connect_ms = '-1.7976931348623157e+308'::float8", "true");
	const char *wmax = "probe_id = 'probe-2' AND seq = 9223372036854775807";
	expect(c, wmax, "probe_version", NULL);
	expect(c, wmax, "region", "région 🔒");
	expect(c, wmax, "spool_epoch", "00ff00ff00ff00ff00ff00ff00ff00ff");
	expect(c, wmax, "port", "0");
	expect(c, wmax, "labels", "{}");
	expect(c, wmax, "findings", "{}");
	expect(c, wmax, "leaf_sans", NULL);
	expect(c, wmax, "mtls", NULL);
	snprintf(want, sizeof want, "%lld", (long long)recv + 1);
	expect(c, wmax, "(extract(epoch FROM started_at) * 1000)::bigint", want);
	const char *w4 = "probe_id = 'probe-2' AND seq = 4";
	expect(c, w4, "concat_ws(',', interval_ms, mtls, outcome_depth, resumed, resume_ms, chain_len, "
		      "total_ms, ocsp_responder_named)", "0,f,0,f,0,0,0,f");
	expect(c, w4, "extract(epoch FROM cert_not_before)::bigint", "0");
	expect(c, w4, "leaf_sans", "{}");
	expect(c, "probe_id = 'probe-2' AND seq = 5", "leaf_sans", "{}");
	expect_rollups_exact(c);

	PQfinish(c);
	for (size_t i = 0; i < n; i++)
		tlswatch__result__free_unpacked(v[i], NULL);
	db_pool_free(p);
	event_base_free(base);
	free(ci);
}

Test(copy_bin, a_batch_of_many_chunks_stores_what_the_text_format_stored)
{
	char *ci = new_migrated_db("tw_copy_bin_bulk");
	struct event_base *base = event_base_new();
	struct db_opts o = { 0 };
	struct db_pool *p = pool_up(base, ci, &o);
	PGconn *c = pg(ci);
	exec_ok(c, "CREATE TABLE results_text (LIKE results INCLUDING DEFAULTS)");
	int64_t recv = twtime_wall_ms();
	const size_t n = 3000;
	Tlswatch__Result **v = gen_batch(1, n, base_ms_now(), 40);

	struct strbuf b = { 0 };
	for (size_t i = 0; i < n; i++)
		cr_assert_eq(db_copy_bin_result(&b, v[i], "probe-bulk", "", "eu", "2.0", recv), 0);
	cr_assert_gt(b.len, 3 * 65536, "the batch spans several COPY chunks (%zu bytes)", b.len);
	strbuf_free(&b);

	ingest_bin(base, p, v, n, "probe-bulk", "", "eu", "2.0", recv);
	copy_text(c, v, n, "probe-bulk", "", "eu", "2.0", recv);
	expect_same(c, (long long)n);
	expect_rollups_exact(c);

	PQfinish(c);
	free_batch(v, n);
	db_pool_free(p);
	event_base_free(base);
	free(ci);
}

/* Rows dropped as replays between kept ones: the COPY streams the kept
 * tuples as several runs of one job's buffer (db_ingest_run_add), and every
 * kept row arrives once, intact. */
Test(copy_bin, kept_rows_between_replays_stream_as_runs)
{
	char *ci = new_migrated_db("tw_copy_bin_runs");
	struct event_base *base = event_base_new();
	struct db_opts o = { 0 };
	struct db_pool *p = pool_up(base, ci, &o);
	PGconn *c = pg(ci);
	exec_ok(c, "CREATE TABLE results_text (LIKE results INCLUDING DEFAULTS)");
	int64_t recv = twtime_wall_ms(), b0 = base_ms_now();
	Tlswatch__Result **v = gen_batch(1, 11, b0, 3);

	/* seqs 2 and 10 first (the watermark is then 10), then 1..11: 2 and 10
	 * are replays, 1, 3..9 and 11 are kept around them */
	Tlswatch__Result *first[] = { v[1], v[9] };
	ingest_bin(base, p, first, 1, "probe-r", "", "eu", "1", recv);
	ingest_bin(base, p, first + 1, 1, "probe-r", "", "eu", "1", recv);
	struct cbrec rec = { 0 };
	cr_assert(db_ingest_epoch(p, "probe-r", "", "eu", "1", v, 11, recv, on_ingest, &rec));
	cr_assert(run_until(base, cb_done, &rec, 60));
	cr_assert(rec.ok, "%s", rec.err);
	cr_assert_eq(rec.inserted, 9, "9 new rows around 2 replays");
	copy_text(c, v, 11, "probe-r", "", "eu", "1", recv);
	expect_same(c, 11);
	expect_rollups_exact(c);

	PQfinish(c);
	free_batch(v, 11);
	db_pool_free(p);
	event_base_free(base);
	free(ci);
}
