/*
 * db_copy_bin.c - a Result as one binary COPY tuple (db_copy_bin.h).
 *
 * Why binary: in the text format PostgreSQL parses every timestamp, integer,
 * float and array of `COPY results` from text (its input functions were most
 * of the COPY's CPU, BENCHMARKS.md "Binary COPY of results"); the binary
 * receive functions copy fixed-width values and raw bytes instead.
 *
 * Layout (docs "COPY ... Binary Format"): per tuple an int16 field count,
 * then per field an int32 byte length (-1 = NULL) and the value, all
 * integers in network byte order:
 *   int4 / int8     4 / 8 bytes, two's complement
 *   float8          8 bytes, IEEE 754
 *   bool            1 byte, 0 or 1
 *   timestamptz     int8 microseconds since 2000-01-01 00:00 UTC
 *   text            the bytes (client_encoding is UTF8, pgconn.c)
 *   jsonb           a version byte 1, then JSON text (jsonb_recv parses it
 *                   as jsonb_in would: same duplicate keys, same order)
 *   text[]          int4 ndim, int4 flags (0: no NULLs), int4 element type
 *                   OID, per dimension int4 length and lower bound 1, then
 *                   each element as a field; '{}' is ndim 0 with no dims
 *
 * The element OID of text[] is the fixed built-in OID of text, 25: the
 * built-in types' OIDs are assigned in PostgreSQL's source
 * (src/include/catalog/pg_type.dat), the same in every cluster and release,
 * and only user-created types get OIDs at run time (from 16384 up). So no
 * per-connection lookup is needed; array_recv rejects a wrong one loudly
 * ("wrong element type"), never stores something else.
 *
 * The values are the text encoder's (db_sql.c): started_at and the
 * certificate times clamped the same way, durations NULL unless finite,
 * U+FFFD for each byte that is not part of valid UTF-8 (db_put_clean),
 * leaf_sans NULL only without a certificate.
 */
#include "db_copy_bin.h"
#include "db_int.h"

#include <math.h>
#include <string.h>

#define OID_TEXT 25u
/* 2000-01-01 00:00 UTC in unix ms: the binary timestamptz epoch */
#define PG_EPOCH_MS 946684800000LL
/* The range timestamptz holds (MIN_TIMESTAMP, END_TIMESTAMP of PostgreSQL's
 * datatype/timestamp.h: 4714-11-24 BC to 294277-01-01), in unix ms. */
#define TS_MIN_MS (-211813488000000LL + PG_EPOCH_MS)
#define TS_END_MS (9223371331200000LL + PG_EPOCH_MS)

const char db_copy_bin_header[19] = {
	'P', 'G', 'C', 'O', 'P', 'Y', '\n', '\377', '\r', '\n', '\0', /* signature */
	0, 0, 0, 0, /* flags: no OIDs */
	0, 0, 0, 0, /* header extension: none */
};
const char db_copy_bin_trailer[2] = { '\377', '\377' };

/* n bytes at the end of b for the caller to fill (then NUL-terminated
 * again by the next put or by end()); NULL when out of memory. */
static unsigned char *room(struct strbuf *b, size_t n)
{
	if (!strbuf_reserve(b, n))
		return NULL;
	unsigned char *w = (unsigned char *)b->p + b->len;
	b->len += n;
	b->p[b->len] = '\0';
	return w;
}

static void be16(unsigned char *w, uint16_t v)
{
	w[0] = (unsigned char)(v >> 8);
	w[1] = (unsigned char)v;
}

static void be32(unsigned char *w, uint32_t v)
{
	w[0] = (unsigned char)(v >> 24);
	w[1] = (unsigned char)(v >> 16);
	w[2] = (unsigned char)(v >> 8);
	w[3] = (unsigned char)v;
}

static void be64(unsigned char *w, uint64_t v)
{
	be32(w, (uint32_t)(v >> 32));
	be32(w + 4, (uint32_t)v);
}

static void f_null(struct strbuf *b)
{
	unsigned char *w = room(b, 4);
	if (w)
		be32(w, UINT32_MAX); /* length -1 */
}

static void f_i32(struct strbuf *b, int32_t v)
{
	unsigned char *w = room(b, 8);
	if (w) {
		be32(w, 4);
		be32(w + 4, (uint32_t)v);
	}
}

static void f_i64(struct strbuf *b, int64_t v)
{
	unsigned char *w = room(b, 12);
	if (w) {
		be32(w, 8);
		be64(w + 4, (uint64_t)v);
	}
}

static void f_opt_i32(struct strbuf *b, bool has, int32_t v)
{
	if (has)
		f_i32(b, v);
	else
		f_null(b);
}

static void f_bool(struct strbuf *b, bool has, bool v)
{
	if (!has) {
		f_null(b);
		return;
	}
	unsigned char *w = room(b, 5);
	if (w) {
		be32(w, 1);
		w[4] = v ? 1 : 0;
	}
}

/* Non-finite doubles are stored as NULL, as the text encoder does. */
static void f_dbl(struct strbuf *b, bool has, double v)
{
	if (!has || !isfinite(v)) {
		f_null(b);
		return;
	}
	uint64_t u;
	memcpy(&u, &v, sizeof u);
	unsigned char *w = room(b, 12);
	if (w) {
		be32(w, 8);
		be64(w + 4, u);
	}
}

/* ms within [TS_MIN_MS, TS_END_MS) (callers clamp or check). */
static void f_ts_ms(struct strbuf *b, int64_t ms)
{
	f_i64(b, (ms - PG_EPOCH_MS) * 1000);
}

/* Unix seconds, clamped as the text encoder's put_unix_s (to what
 * to_timestamp() accepts). */
static void f_unix_s(struct strbuf *b, bool has, int64_t v)
{
	const int64_t lo = -200000000000LL, hi = 9000000000000LL;
	if (has)
		f_ts_ms(b, (v < lo ? lo : v > hi ? hi : v) * 1000);
	else
		f_null(b);
}

/* A field whose length is known only once written: a 4-byte slot now, its
 * value by patch() after. */
static size_t slot(struct strbuf *b)
{
	size_t at = b->len;
	room(b, 4);
	return at;
}

static void patch(struct strbuf *b, size_t at)
{
	if (b->oom)
		return;
	size_t n = b->len - at - 4;
	if (n > INT32_MAX) { /* a field PostgreSQL cannot take (frames are far smaller) */
		b->oom = true;
		return;
	}
	be32((unsigned char *)b->p + at, (uint32_t)n);
}

static void f_text(struct strbuf *b, const char *s)
{
	if (!s) {
		f_null(b);
		return;
	}
	size_t at = slot(b);
	db_put_clean(b, s);
	patch(b, at);
}

/* A JSON string of s as the text encoder writes it (put_text, ENC_JSON):
 * U+FFFD for bad bytes, " and \ escaped, control characters as \u00XX. */
static void json_str(struct strbuf *b, const char *str)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *s = (const unsigned char *)str;
	strbuf_put(b, "\"", 1);
	while (*s) {
		size_t run = 0;
		while (s[run] >= 0x20 && s[run] < 0x80 && s[run] != '"' && s[run] != '\\')
			run++;
		if (run) {
			strbuf_put(b, s, run);
			s += run;
			continue;
		}
		if (*s >= 0x80) {
			size_t n = db_utf8_len(s);
			if (n == 0) {
				strbuf_put(b, "\xEF\xBF\xBD", 3); /* U+FFFD */
				s++;
			} else {
				strbuf_put(b, s, n);
				s += n;
			}
			continue;
		}
		if (*s == '"' || *s == '\\') {
			char e[2] = { '\\', (char)*s };
			strbuf_put(b, e, 2);
		} else {
			char e[6] = { '\\', 'u', '0', '0', hex[*s >> 4], hex[*s & 15] };
			strbuf_put(b, e, 6);
		}
		s++;
	}
	strbuf_put(b, "\"", 1);
}

static void json_str_or_null(struct strbuf *b, const char *s)
{
	if (s)
		json_str(b, s);
	else
		strbuf_put(b, "null", 4);
}

/* Decimal text of v, as %d / %lld print it. */
static void put_dec(struct strbuf *b, int64_t v)
{
	char t[24], *e = t + sizeof t, *p = e;
	uint64_t u = v < 0 ? -(uint64_t)v : (uint64_t)v;
	do {
		*--p = (char)('0' + u % 10);
		u /= 10;
	} while (u);
	if (v < 0)
		*--p = '-';
	strbuf_put(b, p, (size_t)(e - p));
}

/* labels: {"key": "value"} (a NULL value as JSON null). */
static void f_labels(struct strbuf *b, const Tlswatch__Result *r)
{
	size_t at = slot(b);
	strbuf_put(b, "\1{", 2); /* jsonb version 1 */
	for (size_t i = 0; i < r->n_labels; i++) {
		const Tlswatch__Label *l = r->labels[i];
		if (i)
			strbuf_put(b, ",", 1);
		json_str(b, l && l->key ? l->key : "");
		strbuf_put(b, ":", 1);
		json_str_or_null(b, l ? l->value : NULL);
	}
	strbuf_put(b, "}", 1);
	patch(b, at);
}

/* verify_errors: [{"depth":0,"code":10,"reason":".."}]; the separators
 * exactly as the text encoder places them. */
static void f_verify_errors(struct strbuf *b, const Tlswatch__Result *r)
{
	size_t at = slot(b);
	strbuf_put(b, "\1[", 2);
	for (size_t i = 0; i < r->n_verify_errors; i++) {
		const Tlswatch__VerifyError *v = r->verify_errors[i];
		if (!v)
			continue;
		strbuf_puts(b, i ? ",{\"depth\":" : "{\"depth\":");
		put_dec(b, (int)v->depth);
		strbuf_put(b, ",\"code\":", 8);
		put_dec(b, (int)v->code);
		strbuf_put(b, ",\"reason\":", 10);
		json_str_or_null(b, v->reason);
		strbuf_put(b, "}", 1);
	}
	strbuf_put(b, "]", 1);
	patch(b, at);
}

/* text[]: NULL elements stored as "", as the text encoder does. */
static void f_text_array(struct strbuf *b, char *const *v, size_t n, bool null_if_empty)
{
	if (n == 0 && null_if_empty) {
		f_null(b);
		return;
	}
	if (n > INT32_MAX) {
		b->oom = true;
		return;
	}
	size_t at = slot(b);
	unsigned char *w = room(b, n ? 20 : 12);
	if (!w)
		return;
	be32(w, n ? 1 : 0); /* ndim */
	be32(w + 4, 0);     /* flags: no NULL elements */
	be32(w + 8, OID_TEXT);
	if (n) {
		be32(w + 12, (uint32_t)n);
		be32(w + 16, 1); /* lower bound */
	}
	for (size_t i = 0; i < n; i++)
		f_text(b, v[i] ? v[i] : "");
	patch(b, at);
}

int db_copy_bin_result(struct strbuf *b, const Tlswatch__Result *r, const char *probe_id,
		       const char *epoch, const char *region, const char *version,
		       int64_t received_unix_ms)
{
	if (!r || !r->has_seq || r->seq > (uint64_t)INT64_MAX || !r->target || !r->profile ||
	    !r->outcome || !probe_id || !epoch || !region || r->port > 65535 ||
	    received_unix_ms < TS_MIN_MS || received_unix_ms >= TS_END_MS)
		return -1;
	unsigned char *w = room(b, 2);
	if (w)
		be16(w, DB_COPY_BIN_NFIELDS);
	f_text(b, probe_id);
	f_i64(b, (int64_t)r->seq);
	f_text(b, epoch);
	f_text(b, region);
	f_text(b, version);
	f_ts_ms(b, db_started_ms(r, received_unix_ms)); /* clamped inside the range */
	f_ts_ms(b, received_unix_ms);
	f_text(b, r->target);
	f_i32(b, (int32_t)r->port);
	f_text(b, r->sni);
	f_text(b, r->address);
	f_text(b, r->profile);
	f_text(b, r->starttls);
	f_text(b, r->service);
	f_labels(b, r);
	if (r->has_interval_ms)
		f_i64(b, r->interval_ms);
	else
		f_null(b);
	f_bool(b, r->has_mtls, r->mtls);
	f_text(b, r->outcome);
	f_text_array(b, r->findings, r->n_findings, false);
	f_opt_i32(b, r->has_outcome_depth, r->outcome_depth);
	f_text(b, r->alert);
	f_verify_errors(b, r);
	f_text(b, r->tls_version);
	f_text(b, r->cipher);
	f_text(b, r->cipher_iana);
	f_text(b, r->group);
	f_text(b, r->alpn);
	f_bool(b, r->has_resumed, r->resumed);
	f_dbl(b, r->has_resume_ms, r->resume_ms);
	f_bool(b, r->has_ocsp_stapled, r->ocsp_stapled);
	f_text(b, r->ocsp_status);
	f_text(b, r->ocsp_source);
	f_dbl(b, r->has_ocsp_responder_ms, r->ocsp_responder_ms);
	f_bool(b, r->has_sni_match, r->sni_match);
	f_unix_s(b, r->has_cert_not_before, r->cert_not_before);
	f_unix_s(b, r->has_cert_not_after, r->cert_not_after);
	f_dbl(b, r->has_days_to_expiry, r->days_to_expiry);
	f_unix_s(b, r->has_chain_not_after_min, r->chain_not_after_min);
	f_opt_i32(b, r->has_chain_not_after_min_depth, r->chain_not_after_min_depth);
	f_opt_i32(b, r->has_chain_len, r->chain_len > INT32_MAX ? INT32_MAX : (int32_t)r->chain_len);
	f_text(b, r->leaf_subject);
	/* leaf_sans: NULL without a certificate, {} for a certificate without SANs */
	f_text_array(b, r->leaf_sans, r->n_leaf_sans, !r->leaf_subject && !r->fingerprint_sha256);
	f_text(b, r->leaf_issuer);
	f_text(b, r->leaf_key);
	f_text(b, r->leaf_sig_alg);
	f_text(b, r->fingerprint_sha256);
	f_unix_s(b, r->has_client_cert_not_after, r->client_cert_not_after);
	f_dbl(b, r->has_dns_ms, r->dns_ms);
	f_dbl(b, r->has_connect_ms, r->connect_ms);
	f_dbl(b, r->has_handshake_ms, r->handshake_ms);
	f_dbl(b, r->has_total_ms, r->total_ms);
	f_text(b, r->ocsp_error);
	f_bool(b, r->has_ocsp_responder_named, r->ocsp_responder_named);
	f_text(b, r->crl_status);
	f_text(b, r->crl_detail);
	f_text(b, r->resume_detail);
	f_text(b, r->aia_detail);
	return 0;
}
