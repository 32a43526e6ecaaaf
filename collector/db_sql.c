/*
 * db_sql.c - the SQL of the ingest path and the COPY text form of a Result.
 *
 * One table below (`cols`) names every staging column, its type, and the
 * results column (and expression) it becomes: the staging DDL, the COPY
 * column list, the INSERT .. SELECT and db_copy_result() all follow it, so
 * they cannot drift apart.
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

struct col {
	const char *stg;  /* staging column */
	const char *type; /* its type */
	const char *res;  /* results column, NULL = same name */
	const char *expr; /* SELECT expression, NULL = the staging column */
};

static const struct col cols[] = {
	{ "probe_id", "text", NULL, NULL },
	{ "seq", "bigint", NULL, NULL },
	{ "spool_epoch", "text", NULL, NULL },
	{ "region", "text", NULL, NULL },
	{ "probe_version", "text", NULL, NULL },
	{ "started_ms", "bigint", "started_at", "to_timestamp(started_ms / 1000.0)" },
	{ "received_ms", "bigint", "received_at", "to_timestamp(received_ms / 1000.0)" },
	{ "target", "text", NULL, NULL },
	{ "port", "integer", NULL, NULL },
	{ "sni", "text", NULL, NULL },
	{ "address", "text", NULL, NULL },
	{ "profile", "text", NULL, NULL },
	{ "starttls", "text", NULL, NULL },
	{ "service", "text", NULL, NULL },
	{ "labels", "jsonb", NULL, NULL },
	{ "interval_ms", "bigint", NULL, NULL },
	{ "mtls", "boolean", NULL, NULL },
	{ "outcome", "text", NULL, NULL },
	{ "findings", "text[]", NULL, NULL },
	{ "outcome_depth", "integer", NULL, NULL },
	{ "alert", "text", NULL, NULL },
	{ "verify_errors", "jsonb", NULL, NULL },
	{ "tls_version", "text", NULL, NULL },
	{ "cipher", "text", NULL, NULL },
	{ "cipher_iana", "text", NULL, NULL },
	{ "grp", "text", NULL, NULL },
	{ "alpn", "text", NULL, NULL },
	{ "resumed", "boolean", NULL, NULL },
	{ "resume_ms", "double precision", NULL, NULL },
	{ "ocsp_stapled", "boolean", NULL, NULL },
	{ "ocsp_status", "text", NULL, NULL },
	{ "ocsp_source", "text", NULL, NULL },
	{ "ocsp_responder_ms", "double precision", NULL, NULL },
	{ "sni_match", "boolean", NULL, NULL },
	{ "cert_not_before_s", "bigint", "cert_not_before", "to_timestamp(cert_not_before_s)" },
	{ "cert_not_after_s", "bigint", "cert_not_after", "to_timestamp(cert_not_after_s)" },
	{ "days_to_expiry", "double precision", NULL, NULL },
	{ "chain_not_after_min_s", "bigint", "chain_not_after_min", "to_timestamp(chain_not_after_min_s)" },
	{ "chain_not_after_min_depth", "integer", NULL, NULL },
	{ "chain_len", "integer", NULL, NULL },
	{ "leaf_subject", "text", NULL, NULL },
	{ "leaf_sans", "text[]", NULL, NULL },
	{ "leaf_issuer", "text", NULL, NULL },
	{ "leaf_key", "text", NULL, NULL },
	{ "leaf_sig_alg", "text", NULL, NULL },
	{ "fingerprint_sha256", "text", NULL, NULL },
	{ "client_cert_not_after_s", "bigint", "client_cert_not_after",
	  "to_timestamp(client_cert_not_after_s)" },
	{ "dns_ms", "double precision", NULL, NULL },
	{ "connect_ms", "double precision", NULL, NULL },
	{ "handshake_ms", "double precision", NULL, NULL },
	{ "total_ms", "double precision", NULL, NULL },
	{ "ocsp_error", "text", NULL, NULL },
	{ "ocsp_responder_named", "boolean", NULL, NULL },
	{ "crl_status", "text", NULL, NULL },
	{ "crl_detail", "text", NULL, NULL },
	{ "resume_detail", "text", NULL, NULL },
};
#define NCOLS (sizeof cols / sizeof cols[0])

static char *staging_ddl, *copy_sql, *ingest_sql;

static char *build_staging(void)
{
	struct strbuf b = { 0 };
	strbuf_puts(&b, "CREATE TEMP TABLE IF NOT EXISTS staging (");
	for (size_t i = 0; i < NCOLS; i++)
		strbuf_printf(&b, "%s%s %s", i ? ", " : "", cols[i].stg, cols[i].type);
	strbuf_puts(&b, ") ON COMMIT DELETE ROWS");
	return strbuf_take(&b); /* NULL when out of memory */
}

static char *build_copy(void)
{
	struct strbuf b = { 0 };
	strbuf_puts(&b, "COPY staging (");
	for (size_t i = 0; i < NCOLS; i++)
		strbuf_printf(&b, "%s%s", i ? ", " : "", cols[i].stg);
	strbuf_puts(&b, ") FROM STDIN");
	return strbuf_take(&b); /* NULL when out of memory */
}

/* Counters of a rollup row besides the key, service, outcomes, histogram
 * and minima: summed when rows are grouped, added on conflict. */
static const char *const counters[] = {
	"attempts", "handshakes", "handshake_ms_sum", "handshake_ms_count", "mtls_attempts",
	"mtls_failures", "ocsp_stapled_count", "cipher_fallback_count", "sni_mismatch_count",
	"expiring_soon_count", "ocsp_no_responder_count",
};
#define NCOUNTERS (sizeof counters / sizeof counters[0])
#define KEY "bucket, target, port, sni, region, profile"

/* g2 (hourly) from g1 (per minute), both per key and outcome. */
static void put_hourly(struct strbuf *b)
{
	strbuf_puts(b, "g2 AS (SELECT date_trunc('hour', bucket) AS bucket, target, port, sni, "
		       "region, profile, outcome, max(service) AS service");
	for (size_t i = 0; i < NCOUNTERS; i++)
		strbuf_printf(b, ", sum(%s)::%s AS %s", counters[i],
			      strcmp(counters[i], "handshake_ms_sum") ? "bigint" : "double precision",
			      counters[i]);
	for (int k = 1; k <= DB_LATENCY_BUCKETS; k++)
		strbuf_printf(b, ", sum(h%d)::bigint AS h%d", k, k);
	strbuf_puts(b, ", min(min_days_to_expiry) AS min_days_to_expiry, "
		       "min(min_chain_not_after) AS min_chain_not_after "
		       "FROM g1 GROUP BY 1, 2, 3, 4, 5, 6, 7),\n");
}

/* rN: one rollup table upserted from a per-outcome grouping. */
static void put_rollup(struct strbuf *b, const char *cte, const char *table, const char *src)
{
	strbuf_printf(b, "%s AS (INSERT INTO %s (" KEY ", service, successes, failures, outcomes, "
			 "handshake_ms_hist, min_days_to_expiry, min_chain_not_after",
		      cte, table);
	for (size_t i = 0; i < NCOUNTERS; i++)
		strbuf_printf(b, ", %s", counters[i]);
	strbuf_puts(b, ") SELECT " KEY ", max(service), "
		       "coalesce(sum(attempts) FILTER (WHERE tw_is_success(outcome)), 0)::bigint, "
		       "coalesce(sum(attempts) FILTER (WHERE NOT tw_is_success(outcome)), 0)::bigint, "
		       "jsonb_object_agg(outcome, attempts), ARRAY[");
	for (int k = 1; k <= DB_LATENCY_BUCKETS; k++)
		strbuf_printf(b, "%ssum(h%d)", k > 1 ? ", " : "", k);
	strbuf_puts(b, "]::bigint[], min(min_days_to_expiry), min(min_chain_not_after)");
	for (size_t i = 0; i < NCOUNTERS; i++)
		strbuf_printf(b, ", sum(%s)::%s", counters[i],
			      strcmp(counters[i], "handshake_ms_sum") ? "bigint" : "double precision");
	/* ORDER BY: every transaction locks rollup rows in the same order. */
	strbuf_printf(b, " FROM %s GROUP BY 1, 2, 3, 4, 5, 6 ORDER BY 1, 2, 3, 4, 5, 6 "
			 "ON CONFLICT (" KEY ") DO UPDATE SET "
			 "service = coalesce(EXCLUDED.service, %s.service), "
			 "successes = %s.successes + EXCLUDED.successes, "
			 "failures = %s.failures + EXCLUDED.failures, "
			 "outcomes = tw_jsonb_count_add(%s.outcomes, EXCLUDED.outcomes), "
			 "handshake_ms_hist = tw_int8_array_add(%s.handshake_ms_hist, EXCLUDED.handshake_ms_hist), "
			 "min_days_to_expiry = least(%s.min_days_to_expiry, EXCLUDED.min_days_to_expiry), "
			 "min_chain_not_after = least(%s.min_chain_not_after, EXCLUDED.min_chain_not_after)",
		      src, table, table, table, table, table, table, table);
	for (size_t i = 0; i < NCOUNTERS; i++)
		strbuf_printf(b, ", %s = %s.%s + EXCLUDED.%s", counters[i], table, counters[i],
			      counters[i]);
	strbuf_puts(b, "),\n");
}

static char *build_ingest(void)
{
	struct strbuf b = { 0 };

	/* ins: the new rows; ORDER BY (probe_id, seq) for a stable lock order. */
	strbuf_puts(&b, "WITH ins AS (INSERT INTO results (");
	for (size_t i = 0; i < NCOLS; i++)
		strbuf_printf(&b, "%s%s", i ? ", " : "", cols[i].res ? cols[i].res : cols[i].stg);
	strbuf_puts(&b, ") SELECT ");
	for (size_t i = 0; i < NCOLS; i++)
		strbuf_printf(&b, "%s%s", i ? ", " : "", cols[i].expr ? cols[i].expr : cols[i].stg);
	strbuf_puts(&b, " FROM staging ORDER BY probe_id, seq "
			"ON CONFLICT (probe_id, spool_epoch, seq, started_at) DO NOTHING "
			"RETURNING probe_id, spool_epoch, seq, region, probe_version, started_at, received_at, "
			"target, port, sni, profile, service, mtls, outcome, findings, tls_version, "
			"ocsp_stapled, sni_match, days_to_expiry, chain_not_after_min, handshake_ms, "
			"tw_latency_bucket(handshake_ms) AS lb, fingerprint_sha256, leaf_subject, "
			"leaf_sans, leaf_issuer, cert_not_before, cert_not_after, leaf_key, "
			"leaf_sig_alg, labels, ocsp_responder_named),\n");

	/* g1: per minute, key and outcome (outcome kept for the jsonb counts). */
	strbuf_puts(&b, "g1 AS (SELECT date_trunc('minute', started_at) AS bucket, target, port, "
			"coalesce(sni, '') AS sni, region, profile, outcome, max(service) AS service, "
			"count(*) AS attempts, count(tls_version) AS handshakes, "
			"coalesce(sum(handshake_ms), 0) AS handshake_ms_sum, "
			"count(handshake_ms) AS handshake_ms_count, "
			"count(*) FILTER (WHERE mtls) AS mtls_attempts, "
			"count(*) FILTER (WHERE mtls AND tw_is_mtls_failure(outcome)) AS mtls_failures, "
			"count(*) FILTER (WHERE tls_version IS NOT NULL AND ocsp_stapled) AS ocsp_stapled_count, "
			"count(*) FILTER (WHERE 'cipher_fallback' = ANY (findings)) AS cipher_fallback_count, "
			"count(*) FILTER (WHERE NOT sni_match) AS sni_mismatch_count, "
			"count(*) FILTER (WHERE 'expiring_soon' = ANY (findings)) AS expiring_soon_count, "
			"count(*) FILTER (WHERE tls_version IS NOT NULL AND NOT ocsp_responder_named) "
			"AS ocsp_no_responder_count, "
			"min(days_to_expiry) AS min_days_to_expiry, "
			"min(chain_not_after_min) AS min_chain_not_after");
	for (int k = 1; k <= DB_LATENCY_BUCKETS; k++)
		strbuf_printf(&b, ", count(*) FILTER (WHERE lb = %d) AS h%d", k, k);
	strbuf_puts(&b, " FROM ins GROUP BY 1, 2, 3, 4, 5, 6, 7),\n");
	put_hourly(&b);
	put_rollup(&b, "r1", "rollup_1m", "g1");
	put_rollup(&b, "r2", "rollup_1h", "g2");

	strbuf_puts(&b,
		    "c AS (INSERT INTO certificates (fingerprint_sha256, subject, sans, issuer, "
		    "not_before, not_after, key, sig_alg, first_seen) "
		    "SELECT DISTINCT ON (fingerprint_sha256) fingerprint_sha256, leaf_subject, leaf_sans, "
		    "leaf_issuer, cert_not_before, cert_not_after, leaf_key, leaf_sig_alg, started_at "
		    "FROM ins WHERE fingerprint_sha256 IS NOT NULL ORDER BY fingerprint_sha256, started_at "
		    "ON CONFLICT (fingerprint_sha256) DO NOTHING),\n"
		    "s AS (INSERT INTO certificate_sightings (fingerprint_sha256, target, port, region, "
		    "first_seen, last_seen) "
		    "SELECT fingerprint_sha256, target, port, region, min(started_at), max(started_at) "
		    "FROM ins WHERE fingerprint_sha256 IS NOT NULL GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4 "
		    "ON CONFLICT (fingerprint_sha256, target, port, region) DO UPDATE SET "
		    "first_seen = least(certificate_sightings.first_seen, EXCLUDED.first_seen), "
		    "last_seen = greatest(certificate_sightings.last_seen, EXCLUDED.last_seen)),\n"
		    /* targets: service and labels as last configured, for SLO
		     * selectors. Every probe sees the same targets, so this upsert
		     * made concurrent batches queue on the same rows (64% of the
		     * ingest statement's time, BENCHMARKS.md). A row is rewritten
		     * only when something a reader uses would change: first_seen,
		     * service or labels, or last_seen by more than a minute
		     * (sql/011_ingest.sql); the NOT EXISTS reads without a lock. */
		    "tn AS (SELECT DISTINCT ON (target, port, coalesce(sni, '')) target, port, "
		    "coalesce(sni, '') AS sni, service, coalesce(labels, '{}'::jsonb) AS labels, "
		    "started_at FROM ins ORDER BY target, port, coalesce(sni, ''), started_at DESC),\n"
		    "t AS (INSERT INTO targets AS tg (target, port, sni, service, labels, first_seen, last_seen) "
		    "SELECT target, port, sni, service, labels, started_at, started_at FROM tn "
		    "WHERE NOT EXISTS (SELECT 1 FROM targets o WHERE o.target = tn.target "
		    "AND o.port = tn.port AND o.sni = tn.sni AND o.first_seen <= tn.started_at "
		    "AND tn.started_at <= o.last_seen + interval '1 minute' "
		    "AND (tn.started_at < o.last_seen OR (coalesce(tn.service, o.service) IS NOT DISTINCT "
		    "FROM o.service AND tn.labels = o.labels))) "
		    "ORDER BY target, port, sni "
		    "ON CONFLICT (target, port, sni) DO UPDATE SET "
		    "service = CASE WHEN EXCLUDED.last_seen >= tg.last_seen "
		    "THEN coalesce(EXCLUDED.service, tg.service) ELSE tg.service END, "
		    "labels = CASE WHEN EXCLUDED.last_seen >= tg.last_seen THEN EXCLUDED.labels ELSE tg.labels END, "
		    "first_seen = least(tg.first_seen, EXCLUDED.first_seen), "
		    "last_seen = greatest(tg.last_seen, EXCLUDED.last_seen)),\n"
		    "p AS (INSERT INTO probes (probe_id, region, version, first_seen, last_seen, last_seq) "
		    "SELECT probe_id, max(region), max(probe_version), min(received_at), max(received_at), "
		    "max(seq) FROM ins GROUP BY probe_id ORDER BY probe_id "
		    "ON CONFLICT (probe_id) DO UPDATE SET region = EXCLUDED.region, "
		    "version = coalesce(EXCLUDED.version, probes.version), "
		    "last_seen = greatest(probes.last_seen, EXCLUDED.last_seen), "
		    "last_seq = greatest(probes.last_seq, EXCLUDED.last_seq)),\n"
		    /* the Ack after Hello: per (probe, spool epoch), sql/008 */
		    "e AS (INSERT INTO probe_spools (probe_id, spool_epoch, last_seq, first_seen, "
		    "last_seen) SELECT probe_id, spool_epoch, max(seq), min(received_at), "
		    "max(received_at) FROM ins GROUP BY 1, 2 ORDER BY 1, 2 "
		    "ON CONFLICT (probe_id, spool_epoch) DO UPDATE SET "
		    "last_seq = greatest(probe_spools.last_seq, EXCLUDED.last_seq), "
		    "last_seen = greatest(probe_spools.last_seen, EXCLUDED.last_seen))\n"
		    "SELECT probe_id, count(*) FROM ins GROUP BY probe_id;\nCOMMIT");
	return strbuf_take(&b); /* NULL when out of memory */
}

const char *db_sql_staging_ddl(void)
{
	if (!staging_ddl)
		staging_ddl = build_staging();
	return staging_ddl;
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
	free(staging_ddl);
	free(copy_sql);
	free(ingest_sql);
	staging_ddl = copy_sql = ingest_sql = NULL;
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

/* Length of the valid UTF-8 sequence at s (1..4), 0 when invalid. */
static size_t utf8_len(const unsigned char *s)
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
		size_t n = utf8_len(s);
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

/* Unix seconds, clamped to what to_timestamp() accepts. */
static void put_unix_s(struct strbuf *b, bool has, int64_t v)
{
	const int64_t lo = -200000000000LL, hi = 9000000000000LL;
	put_i64(b, has, v < lo ? lo : v > hi ? hi : v);
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
	const int64_t ms_lo = -200000000000000LL, ms_hi = 9000000000000000LL;
	/* Without started_unix_ms the row is keyed by its arrival time: such
	 * rows (no probe sends them) are not deduplicated across replays. */
	int64_t started = r->has_started_unix_ms ? r->started_unix_ms : received_unix_ms;
	started = started < ms_lo ? ms_lo : started > ms_hi ? ms_hi : started;

	put_text(b, probe_id, ENC_PLAIN);
	put_i64(b, true, (int64_t)r->seq);
	put_str(b, epoch);
	put_str(b, region);
	put_str(b, version);
	put_i64(b, true, started);
	put_i64(b, true, received_unix_ms);
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
	strbuf_put(b, "\n", 1);
	return 0;
}
