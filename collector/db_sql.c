/*
 * db_sql.c - the SQL of the ingest path and the COPY text form of a Result.
 *
 * `cols` below names the results columns in the order db_copy_bin_result()
 * (db_copy_bin.c) and db_copy_result_epoch() write them: the new rows are
 * COPY'd straight into results, in the binary format. The text form of a
 * Result is kept as the reference the binary one is checked against
 * (tests/integration/test_copy_bin.c stores both and compares every column;
 * tests/unit/test_db_copy.c pins the text form). rollup_1m is not written
 * here: each row carries its transaction's number (results.ingest_batch,
 * drawn by db_sql_lock()), and the builder adds the rows to rollup_1m off
 * this path (sql/020_rollup_1m_builder.sql). The certificates, sightings,
 * probes and watermarks are one upsert statement; the targets upsert is a
 * statement of its own; db_sql_lock() and db_sql_exist() are the watermark
 * lock and the replay check (db_ingest.c).
 *
 * COPY text format (PostgreSQL docs, "COPY ... Text Format"): columns
 * separated by a tab, rows by a newline, NULL as \N; backslash, tab, newline
 * and carriage return inside a value are written \\ \t \n \r. Arrays are
 * array literals ({"a","b"}, every element double-quoted, " and \ escaped
 * with a backslash) and JSON values are JSON text, both then COPY-escaped.
 * Strings that are not valid UTF-8 (protobuf-c does not check) get U+FFFD
 * for every bad byte: PostgreSQL would reject the whole batch otherwise.
 */
#include "db_int.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* --------------------------------------------------------- the columns */

/* The results columns of the COPY, in the order db_copy_bin_result() and
 * db_copy_result_epoch() write them (DB_COPY_BIN_NFIELDS of them). */
static const char *const cols[] = {
	"probe_id", "seq", "spool_epoch", "region", "probe_version", "started_at", "received_at",
	"target", "port", "sni", "address", "profile", "starttls", "service", "labels",
	"interval_ms", "mtls", "outcome", "findings", "outcome_depth", "alert", "verify_errors",
	"tls_version", "cipher", "cipher_iana", "grp", "alpn", "resumed", "resume_ms",
	"ocsp_stapled", "ocsp_status", "ocsp_source", "ocsp_responder_ms", "sni_match",
	"cert_not_before", "cert_not_after", "days_to_expiry", "chain_not_after_min",
	"chain_not_after_min_depth", "chain_len", "leaf_subject", "leaf_sans", "leaf_issuer",
	"leaf_key", "leaf_sig_alg", "fingerprint_sha256", "client_cert_not_after", "dns_ms",
	"connect_ms", "handshake_ms", "total_ms", "ocsp_error", "ocsp_responder_named",
	"crl_status", "crl_detail", "resume_detail", "aia_detail",
};
#define NCOLS (sizeof cols / sizeof cols[0])

static char *copy_sql, *ingest_sql;

static const char targets_sql[] =
		    /* targets: service and labels as last configured, for SLO
		     * selectors. Every probe sees the same targets, so this upsert
		     * made concurrent batches queue on the same rows (64% of the
		     * ingest statement's time, BENCHMARKS.md). db_plan.c sends each
		     * target's newest row of the batch, and leaves out a target
		     * whose last_seen would move by less than a minute past what this
		     * collector committed (db_seen.h); a row is rewritten only when
		     * the upsert would change it (a newer last_seen, an older
		     * first_seen, new service or labels): the NOT EXISTS reads
		     * without a lock. It used to also skip a last_seen move of up to
		     * a minute (sql/011_ingest.sql), which with db_seen's would have
		     * let last_seen trail by two. Its own
		     * statement, the last before COMMIT: every probe's transactions
		     * upsert the same target rows, and a row lock taken here is held
		     * until COMMIT, so it must not be taken before the longer
		     * upserts (auto_explain: 30% of the ingest statement's time was
		     * waiting here, BENCHMARKS.md). */
		    "WITH tn AS (SELECT target, port, sni, service, labels, started_at "
		    "FROM jsonb_to_recordset($1::jsonb -> 't') AS x(target text, port integer, sni text, "
		    "service text, labels jsonb, started_at timestamptz))\n"
		    "INSERT INTO targets AS tg (target, port, sni, service, labels, first_seen, last_seen) "
		    "SELECT target, port, sni, service, labels, started_at, started_at FROM tn "
		    "WHERE NOT EXISTS (SELECT 1 FROM targets o WHERE o.target = tn.target "
		    "AND o.port = tn.port AND o.sni = tn.sni AND o.first_seen <= tn.started_at "
		    "AND tn.started_at <= o.last_seen "
		    "AND (tn.started_at < o.last_seen OR (coalesce(tn.service, o.service) IS NOT DISTINCT "
		    "FROM o.service AND tn.labels = o.labels))) "
		    "ORDER BY target, port, sni "
		    "ON CONFLICT (target, port, sni) DO UPDATE SET "
		    "service = CASE WHEN EXCLUDED.last_seen >= tg.last_seen "
		    "THEN coalesce(EXCLUDED.service, tg.service) ELSE tg.service END, "
		    "labels = CASE WHEN EXCLUDED.last_seen >= tg.last_seen THEN EXCLUDED.labels ELSE tg.labels END, "
		    "first_seen = least(tg.first_seen, EXCLUDED.first_seen), "
		    "last_seen = greatest(tg.last_seen, EXCLUDED.last_seen)";

const char *db_sql_targets(void)
{
	return targets_sql;
}

static char *build_copy(void)
{
	struct strbuf b = { 0 };
	strbuf_puts(&b, "COPY results (");
	for (size_t i = 0; i < NCOLS; i++)
		strbuf_printf(&b, "%s%s", i ? ", " : "", cols[i]);
	strbuf_puts(&b, ") FROM STDIN (FORMAT binary)"); /* db_copy_bin.c */
	return strbuf_take(&b); /* NULL when out of memory */
}

static char *build_ingest(void)
{
	struct strbuf b = { 0 };

	strbuf_puts(&b, "WITH ");
	strbuf_puts(&b,
		    "c AS (INSERT INTO certificates (fingerprint_sha256, subject, sans, issuer, "
		    "not_before, not_after, key, sig_alg, first_seen) "
		    "SELECT fp, subject, ARRAY(SELECT jsonb_array_elements_text(sans)), issuer, nb, na, "
		    "key, sig, first FROM jsonb_to_recordset($1::jsonb -> 'c') AS x(fp text, "
		    "subject text, sans jsonb, issuer text, nb timestamptz, na timestamptz, key text, "
		    "sig text, first timestamptz) ORDER BY fp "
		    "ON CONFLICT (fingerprint_sha256) DO NOTHING),\n"
		    "s AS (INSERT INTO certificate_sightings (fingerprint_sha256, target, port, region, "
		    "first_seen, last_seen) "
		    "SELECT fp, target, port, region, first, last FROM jsonb_to_recordset($1::jsonb -> 's') "
		    "AS x(fp text, target text, port integer, region text, first timestamptz, "
		    "last timestamptz) ORDER BY 1, 2, 3, 4 "
		    "ON CONFLICT (fingerprint_sha256, target, port, region) DO UPDATE SET "
		    "first_seen = least(certificate_sightings.first_seen, EXCLUDED.first_seen), "
		    "last_seen = greatest(certificate_sightings.last_seen, EXCLUDED.last_seen)),\n"
		    "p AS (INSERT INTO probes (probe_id, region, version, first_seen, last_seen, last_seq) "
		    "SELECT id, max(region), max(version), min(first), max(last), max(seq) "
		    "FROM jsonb_to_recordset($1::jsonb -> 'p') AS x(id text, region text, version text, "
		    "first timestamptz, last timestamptz, seq bigint) GROUP BY id ORDER BY id "
		    "ON CONFLICT (probe_id) DO UPDATE SET region = EXCLUDED.region, "
		    "version = coalesce(EXCLUDED.version, probes.version), "
		    "last_seen = greatest(probes.last_seen, EXCLUDED.last_seen), "
		    "last_seq = greatest(probes.last_seq, EXCLUDED.last_seq))\n"
		    /* the watermark (the Ack after Hello): rows of
		     * probe_spools locked by db_sql_lock() in this transaction */
		    "UPDATE probe_spools ps SET last_seq = greatest(ps.last_seq, x.seq), "
		    "last_seen = greatest(ps.last_seen, x.last) "
		    "FROM jsonb_to_recordset($1::jsonb -> 'e') AS x(id text, epoch text, seq bigint, "
		    "last timestamptz) WHERE ps.probe_id = x.id AND ps.spool_epoch = x.epoch");
	return strbuf_take(&b); /* NULL when out of memory */
}

/* A new (probe, epoch) gets its row with last_seq -1 (below every seq); the
 * transaction that inserts it also sets last_seq to its highest new seq, so
 * -1 is never committed (db_plan.c sends an epoch only with new rows, and
 * only such epochs are locked). The DO UPDATE (a no-op write) takes the row
 * lock and returns the newest committed last_seq: a transaction of the same
 * probe on another connection or collector waits here until it commits.
 * It first draws the transaction's number (tw_ingest_batch(), which the
 * COPY stores in results.ingest_batch) under the rollup_1m claim's advisory
 * lock (1953985907, 20) taken SHARED for the transaction
 * (sql/020_rollup_1m_builder.sql): the builder claims only numbers whose
 * transactions have ended. Taking it before any row lock means an ingest
 * never waits for a claim while holding rows another ingest (itself holding
 * the lock) waits for. */
int db_sql_lock(struct strbuf *b, size_t n)
{
	strbuf_reset(b);
	strbuf_puts(b, "WITH l AS MATERIALIZED (SELECT tw_ingest_batch()) "
		       "INSERT INTO probe_spools AS s (probe_id, spool_epoch, last_seq, first_seen, "
		       "last_seen) SELECT id, ep, -1, min(at), min(at) FROM l, (VALUES ");
	for (size_t i = 0; i < n; i++)
		strbuf_printf(b, "%s($%zu, $%zu, $%zu::timestamptz)", i ? ", " : "", 3 * i + 1,
			      3 * i + 2, 3 * i + 3);
	strbuf_puts(b, ") AS v(id, ep, at) GROUP BY 1, 2 ORDER BY 1, 2 "
		       "ON CONFLICT (probe_id, spool_epoch) DO UPDATE SET last_seq = s.last_seq "
		       "RETURNING probe_id, spool_epoch, last_seq");
	return b->oom ? -1 : 0;
}

/* Only for jobs with rows at or below their watermark (a replay after a
 * reconnect, or a spool that numbers again below it): the key of each row
 * stored in that seq range, to drop exactly the rows already there. */
int db_sql_exist(struct strbuf *b, size_t n)
{
	strbuf_reset(b);
	for (size_t i = 0; i < n; i++)
		strbuf_printf(b, "%sSELECT probe_id, spool_epoch, seq, "
			      "(extract(epoch FROM started_at) * 1000)::bigint FROM results "
			      "WHERE probe_id = $%zu AND spool_epoch = $%zu AND seq BETWEEN $%zu::bigint "
			      "AND $%zu::bigint", i ? " UNION ALL " : "", 4 * i + 1, 4 * i + 2,
			      4 * i + 3, 4 * i + 4);
	return b->oom ? -1 : 0;
}

const char *db_sql_copy(void)
{
	if (!copy_sql)
		copy_sql = build_copy();
	return copy_sql;
}

const char *db_sql_ingest(void)
{
	if (!ingest_sql)
		ingest_sql = build_ingest();
	return ingest_sql;
}

/* Built once per process and kept (like a static string); freed at exit so
 * leak checkers stay quiet. */
__attribute__((destructor)) static void free_sql(void)
{
	free(copy_sql);
	free(ingest_sql);
	copy_sql = ingest_sql = NULL;
}

/* -------------------------------------------------------- COPY encoding */

enum enc { ENC_PLAIN, ENC_ARRAY_ELEM, ENC_JSON };

static void put_copy_char(struct strbuf *b, unsigned char c)
{
	switch (c) {
	case '\\': strbuf_put(b, "\\\\", 2); break;
	case '\t': strbuf_put(b, "\\t", 2); break;
	case '\n': strbuf_put(b, "\\n", 2); break;
	case '\r': strbuf_put(b, "\\r", 2); break;
	default: strbuf_put(b, &c, 1);
	}
}

size_t db_utf8_len(const unsigned char *s)
{
	unsigned char c = s[0];
	if (c < 0x80)
		return 1;
	size_t n;
	unsigned cp;
	if (c >= 0xC2 && c <= 0xDF) { n = 2; cp = c & 0x1F; }
	else if (c >= 0xE0 && c <= 0xEF) { n = 3; cp = c & 0x0F; }
	else if (c >= 0xF0 && c <= 0xF4) { n = 4; cp = c & 0x07; }
	else return 0;
	for (size_t i = 1; i < n; i++) {
		if ((s[i] & 0xC0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3F);
	}
	if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10FFFF)) ||
	    (cp >= 0xD800 && cp <= 0xDFFF))
		return 0;
	return n;
}

static void put_text(struct strbuf *b, const char *str, enum enc e)
{
	const unsigned char *s = (const unsigned char *)str;
	while (*s) {
		size_t n = db_utf8_len(s);
		if (n == 0) {
			strbuf_put(b, "\xEF\xBF\xBD", 3); /* U+FFFD */
			s++;
			continue;
		}
		if (n > 1) {
			strbuf_put(b, s, n);
			s += n;
			continue;
		}
		unsigned char c = *s++;
		if ((e == ENC_ARRAY_ELEM || e == ENC_JSON) && (c == '"' || c == '\\')) {
			put_copy_char(b, '\\');
			put_copy_char(b, c);
		} else if (e == ENC_JSON && c < 0x20) {
			char u[8];
			snprintf(u, sizeof u, "\\u%04x", c);
			for (char *q = u; *q; q++)
				put_copy_char(b, (unsigned char)*q);
		} else {
			put_copy_char(b, c);
		}
	}
}

static void put_null(struct strbuf *b) { strbuf_put(b, "\\N", 2); }
static void sep(struct strbuf *b) { strbuf_put(b, "\t", 1); }

static void put_str(struct strbuf *b, const char *s)
{
	sep(b);
	if (s)
		put_text(b, s, ENC_PLAIN);
	else
		put_null(b);
}

static void put_i64(struct strbuf *b, bool has, int64_t v)
{
	sep(b);
	if (has)
		strbuf_printf(b, "%lld", (long long)v);
	else
		put_null(b);
}

static void put_bool(struct strbuf *b, bool has, bool v)
{
	sep(b);
	if (has)
		strbuf_put(b, v ? "t" : "f", 1);
	else
		put_null(b);
}

/* Non-finite doubles are stored as NULL: NaN would poison every sum. */
static void put_dbl(struct strbuf *b, bool has, double v)
{
	sep(b);
	if (has && isfinite(v))
		strbuf_printf(b, "%.17g", v);
	else
		put_null(b);
}

/* Days since 1970-01-01 -> proleptic Gregorian y/m/d (H. Hinnant's
 * civil_from_days), for any day of int64 range used here. */
static void civil(int64_t z, int64_t *y, unsigned *m, unsigned *d)
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

/* "YYYY-MM-DD HH:MM:SS[.mmm]+00[ BC]" of unix ms: PostgreSQL's own text of
 * the timestamptz (year 0 is 1 BC), exact to the millisecond. */
void db_put_ts_ms(struct strbuf *b, int64_t ms)
{
	int64_t s = ms >= 0 ? ms / 1000 : -((-ms + 999) / 1000);
	int frac = (int)(ms - s * 1000);
	int64_t day = s >= 0 ? s / 86400 : -((-s + 86399) / 86400);
	int sod = (int)(s - day * 86400);
	int64_t y;
	unsigned mo, d;
	civil(day, &y, &mo, &d);
	bool bc = y <= 0;
	/* by hand, not printf: the jsonb parameters carry one
	 * or more per row and printf was most of their cost (perf,
	 * BENCHMARKS.md "Binary COPY of results") */
	char t[48], *e = t + sizeof t, *p = e - (bc ? 6 : 3);
	memcpy(p, bc ? "+00 BC" : "+00", (size_t)(e - p));
	if (frac) {
		*--p = (char)('0' + frac % 10);
		*--p = (char)('0' + frac / 10 % 10);
		*--p = (char)('0' + frac / 100);
		*--p = '.';
	}
	int two[] = { sod % 60, sod / 60 % 60, sod / 3600, (int)d, (int)mo };
	const char sepv[] = ":: --";
	for (int i = 0; i < 5; i++) {
		*--p = (char)('0' + two[i] % 10);
		*--p = (char)('0' + two[i] / 10);
		*--p = sepv[i];
	}
	uint64_t yr = (uint64_t)(bc ? 1 - y : y);
	int digits = 0;
	do {
		*--p = (char)('0' + yr % 10);
		yr /= 10;
		digits++;
	} while (yr);
	while (digits++ < 4)
		*--p = '0';
	strbuf_put(b, p, (size_t)(e - p));
}

/* Unix seconds, clamped to what to_timestamp() accepts, as a timestamptz. */
static void put_unix_s(struct strbuf *b, bool has, int64_t v)
{
	const int64_t lo = -200000000000LL, hi = 9000000000000LL;
	sep(b);
	if (has)
		db_put_ts_ms(b, (v < lo ? lo : v > hi ? hi : v) * 1000);
	else
		put_null(b);
}

static void put_ts_ms(struct strbuf *b, int64_t ms)
{
	sep(b);
	db_put_ts_ms(b, ms);
}

void db_put_clean(struct strbuf *b, const char *str)
{
	const unsigned char *s = (const unsigned char *)str;
	while (*s) {
		size_t ascii = 0;
		while (s[ascii] && s[ascii] < 0x80)
			ascii++;
		if (ascii) {
			strbuf_put(b, s, ascii);
			s += ascii;
			continue;
		}
		size_t n = db_utf8_len(s);
		if (n == 0) {
			strbuf_put(b, "\xEF\xBF\xBD", 3);
			s++;
		} else {
			strbuf_put(b, s, n);
			s += n;
		}
	}
}

void db_put_copy_text(struct strbuf *b, const char *s)
{
	put_text(b, s, ENC_PLAIN);
}

int64_t db_started_ms(const Tlswatch__Result *r, int64_t received_unix_ms)
{
	const int64_t ms_lo = -200000000000000LL, ms_hi = 9000000000000000LL;
	/* Without started_unix_ms the row is keyed by its arrival time */
	int64_t started = r->has_started_unix_ms ? r->started_unix_ms : received_unix_ms;
	return started < ms_lo ? ms_lo : started > ms_hi ? ms_hi : started;
}

static void put_array(struct strbuf *b, char *const *v, size_t n, bool null_if_empty)
{
	sep(b);
	if (n == 0 && null_if_empty) {
		put_null(b);
		return;
	}
	strbuf_put(b, "{", 1);
	for (size_t i = 0; i < n; i++) {
		strbuf_put(b, i ? ",\"" : "\"", i ? 2 : 1);
		put_text(b, v[i] ? v[i] : "", ENC_ARRAY_ELEM);
		strbuf_put(b, "\"", 1);
	}
	strbuf_put(b, "}", 1);
}

static void put_json_str(struct strbuf *b, const char *s)
{
	if (!s) {
		strbuf_puts(b, "null");
		return;
	}
	strbuf_put(b, "\"", 1);
	put_text(b, s, ENC_JSON);
	strbuf_put(b, "\"", 1);
}

int db_copy_result(struct strbuf *b, const Tlswatch__Result *r, const char *probe_id,
		   const char *region, const char *version, int64_t received_unix_ms)
{
	return db_copy_result_epoch(b, r, probe_id, "", region, version, received_unix_ms);
}

int db_copy_result_epoch(struct strbuf *b, const Tlswatch__Result *r, const char *probe_id,
			 const char *epoch, const char *region, const char *version,
			 int64_t received_unix_ms)
{
	if (!r || !r->has_seq || r->seq > (uint64_t)INT64_MAX || !r->target || !r->profile ||
	    !r->outcome || !probe_id || !epoch || !region || r->port > 65535)
		return -1;
	int64_t started = db_started_ms(r, received_unix_ms);

	put_text(b, probe_id, ENC_PLAIN);
	put_i64(b, true, (int64_t)r->seq);
	put_str(b, epoch);
	put_str(b, region);
	put_str(b, version);
	put_ts_ms(b, started);
	put_ts_ms(b, received_unix_ms);
	put_str(b, r->target);
	put_i64(b, true, r->port);
	put_str(b, r->sni);
	put_str(b, r->address);
	put_str(b, r->profile);
	put_str(b, r->starttls);
	put_str(b, r->service);

	sep(b); /* labels: {"key": "value"} */
	strbuf_put(b, "{", 1);
	for (size_t i = 0; i < r->n_labels; i++) {
		if (i)
			strbuf_put(b, ",", 1);
		put_json_str(b, r->labels[i] && r->labels[i]->key ? r->labels[i]->key : "");
		strbuf_put(b, ":", 1);
		put_json_str(b, r->labels[i] ? r->labels[i]->value : NULL);
	}
	strbuf_put(b, "}", 1);

	put_i64(b, r->has_interval_ms, r->interval_ms);
	put_bool(b, r->has_mtls, r->mtls);
	put_str(b, r->outcome);
	put_array(b, r->findings, r->n_findings, false);
	put_i64(b, r->has_outcome_depth, r->outcome_depth);
	put_str(b, r->alert);

	sep(b); /* verify_errors: [{"depth":0,"code":10,"reason":".."}] */
	strbuf_put(b, "[", 1);
	for (size_t i = 0; i < r->n_verify_errors; i++) {
		const Tlswatch__VerifyError *v = r->verify_errors[i];
		if (!v)
			continue;
		strbuf_printf(b, "%s{\"depth\":%d,\"code\":%d,\"reason\":", i ? "," : "",
			      (int)v->depth, (int)v->code);
		put_json_str(b, v->reason);
		strbuf_put(b, "}", 1);
	}
	strbuf_put(b, "]", 1);

	put_str(b, r->tls_version);
	put_str(b, r->cipher);
	put_str(b, r->cipher_iana);
	put_str(b, r->group);
	put_str(b, r->alpn);
	put_bool(b, r->has_resumed, r->resumed);
	put_dbl(b, r->has_resume_ms, r->resume_ms);
	put_bool(b, r->has_ocsp_stapled, r->ocsp_stapled);
	put_str(b, r->ocsp_status);
	put_str(b, r->ocsp_source);
	put_dbl(b, r->has_ocsp_responder_ms, r->ocsp_responder_ms);
	put_bool(b, r->has_sni_match, r->sni_match);
	put_unix_s(b, r->has_cert_not_before, r->cert_not_before);
	put_unix_s(b, r->has_cert_not_after, r->cert_not_after);
	put_dbl(b, r->has_days_to_expiry, r->days_to_expiry);
	put_unix_s(b, r->has_chain_not_after_min, r->chain_not_after_min);
	put_i64(b, r->has_chain_not_after_min_depth, r->chain_not_after_min_depth);
	put_i64(b, r->has_chain_len, r->chain_len > INT32_MAX ? INT32_MAX : r->chain_len);
	put_str(b, r->leaf_subject);
	/* leaf_sans: NULL without a certificate, {} for a certificate without SANs */
	put_array(b, r->leaf_sans, r->n_leaf_sans, !r->leaf_subject && !r->fingerprint_sha256);
	put_str(b, r->leaf_issuer);
	put_str(b, r->leaf_key);
	put_str(b, r->leaf_sig_alg);
	put_str(b, r->fingerprint_sha256);
	put_unix_s(b, r->has_client_cert_not_after, r->client_cert_not_after);
	put_dbl(b, r->has_dns_ms, r->dns_ms);
	put_dbl(b, r->has_connect_ms, r->connect_ms);
	put_dbl(b, r->has_handshake_ms, r->handshake_ms);
	put_dbl(b, r->has_total_ms, r->total_ms);
	put_str(b, r->ocsp_error);
	put_bool(b, r->has_ocsp_responder_named, r->ocsp_responder_named);
	put_str(b, r->crl_status);
	put_str(b, r->crl_detail);
	put_str(b, r->resume_detail);
	put_str(b, r->aia_detail);
	strbuf_put(b, "\n", 1);
	return 0;
}
