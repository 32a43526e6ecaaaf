/*
 * test_db.c - the collector's storage pool and ingest statement
 * (collector/db.h: db_pool.c, db_ingest.c, db_sql.c) against a real
 * PostgreSQL started by tests/integration/test_db.sh (tests/harness/pg.sh).
 * Migrations and partitions: test_db_schema.c. Helpers: db_env.h.
 *
 * Environment: TW_PG_CONNINFO (database "postgres"), TW_PG_STOP/TW_PG_START
 * (shell commands, used by the outage test), TW_PG_PSQL. Every test creates
 * its own database, runs its own event_base until the callbacks it waits
 * for have fired (each wait bounded by a watchdog deadline), and checks the
 * rows with plain libpq queries. The fixture runs the tests one at a time
 * (--jobs 1): the outage test stops the shared server.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>
#include <event2/event.h>
#include <libpq-fe.h>

#include "db.h"
#include "db_env.h"
#include "sql_migrations.h"
#include "twtime.h"

TestSuite(db, .timeout = 240);

/* --------------------------------------------------------- field check */

static void expect_col(PGconn *c, uint64_t seq, const char *expr, const char *want)
{
	char *got = q_str(c, "SELECT (%s)::text FROM results WHERE probe_id = 'probe-f' AND seq = %llu",
			  expr, (unsigned long long)seq);
	if (!want)
		cr_assert_null(got, "seq %llu: %s: want NULL, got \"%s\"", (unsigned long long)seq, expr, got);
	else
		cr_assert(got && strcmp(got, want) == 0, "seq %llu: %s: want \"%s\", got \"%s\"",
			  (unsigned long long)seq, expr, want, got ? got : "NULL");
	free(got);
}

static void expect_dbl(PGconn *c, uint64_t seq, const char *col, double want)
{
	char *got = q_str(c, "SELECT %s::text FROM results WHERE probe_id = 'probe-f' AND seq = %llu",
			  col, (unsigned long long)seq);
	cr_assert(got, "seq %llu: %s is NULL", (unsigned long long)seq, col);
	cr_assert(strtod(got, NULL) == want, "seq %llu: %s: want %.17g, got %s",
		  (unsigned long long)seq, col, want, got);
	free(got);
}

Test(db, ingest_stores_every_field_exactly)
{
	char *ci = new_migrated_db("tw_fields");
	struct event_base *b = event_base_new();
	struct db_opts o = { 0 };
	struct db_pool *p = pool_up(b, ci, &o);
	int64_t base = base_ms_now();
	const char *nasty = "tab\there \"quoted\" 'single' back\\slash\nnewline\r\ncrlf {brace,comma} \\N é ü 中文 🔒";

	Tlswatch__Result *v[4];
	/* 1: everything set, nasty strings everywhere */
	Tlswatch__Result *r = v[0] = gen(1, base, 3);
	free(r->target); r->target = strdup("nasty.example");
	free(r->sni); r->sni = strdup(nasty);
	free(r->service); r->service = strdup(nasty);
	r->starttls = strdup("smtp");
	r->has_interval_ms = 1; r->interval_ms = 60000;
	r->alert = strdup(nasty);
	r->labels = calloc(2, sizeof *r->labels);
	for (int i = 0; i < 2; i++) {
		r->labels[i] = calloc(1, sizeof **r->labels);
		tlswatch__label__init(r->labels[i]);
	}
	r->labels[0]->key = strdup("team"); r->labels[0]->value = strdup("sre\t\"x\"\\");
	r->labels[1]->key = strdup("tier\n"); r->labels[1]->value = strdup("gold é");
	r->n_labels = 2;
	r->verify_errors = calloc(1, sizeof *r->verify_errors);
	r->verify_errors[0] = calloc(1, sizeof **r->verify_errors);
	tlswatch__verify_error__init(r->verify_errors[0]);
	r->verify_errors[0]->depth = 1; r->verify_errors[0]->code = 10;
	r->verify_errors[0]->reason = strdup("certificate has expired \"x\"\\");
	r->n_verify_errors = 1;
	r->has_outcome_depth = 1; r->outcome_depth = 1;
	r->cipher_iana = strdup("TLS_AES_128_GCM_SHA256");
	free(r->tls_version); r->tls_version = strdup("TLSv1.3");
	free(r->cipher); r->cipher = strdup("TLS_AES_128_GCM_SHA256");
	r->group = strdup("X25519");
	r->alpn = strdup("h2");
	r->has_resumed = 1; r->resumed = 1;
	r->has_resume_ms = 1; r->resume_ms = 0.1 + 0.2;
	r->ocsp_status = strdup("good");
	r->ocsp_source = strdup("staple");
	r->has_ocsp_responder_ms = 1; r->ocsp_responder_ms = 12.3456789012345;
	free(r->fingerprint_sha256); r->fingerprint_sha256 = strdup("AB:CD:EF");
	r->has_chain_not_after_min_depth = 1; r->chain_not_after_min_depth = 2;
	r->has_chain_len = 1; r->chain_len = 3;
	free(r->leaf_subject); r->leaf_subject = strdup(nasty);
	r->leaf_sans = strv(&r->n_leaf_sans, 3, "a.example", "*.b.example", "q\"uote\\,{x}");
	free(r->leaf_issuer); r->leaf_issuer = strdup("CN=Issuer, O=\"Org\"");
	r->leaf_key = strdup("EC-P-256");
	r->leaf_sig_alg = strdup("ecdsa-with-SHA256");
	r->has_client_cert_not_after = 1; r->client_cert_not_after = 1900000000;
	r->has_dns_ms = 1; r->dns_ms = 1.0 / 3.0;
	r->has_connect_ms = 1; r->connect_ms = 2.5;
	r->has_handshake_ms = 1; r->handshake_ms = 12.0;
	r->has_total_ms = 1; r->total_ms = 1e-9;
	for (size_t i = 0; i < r->n_findings; i++)
		free(r->findings[i]);
	free(r->findings);
	r->findings = strv(&r->n_findings, 2, "cipher_fallback", "sni_mismatch");
	/* 2: nothing optional at all (a DNS failure) */
	r = v[1] = calloc(1, sizeof *r);
	tlswatch__result__init(r);
	r->has_seq = 1; r->seq = 2;
	r->has_started_unix_ms = 1; r->started_unix_ms = base + 1234;
	r->target = strdup("nxdomain.example"); r->port = 443;
	r->profile = strdup("modern"); r->outcome = strdup("dns_error");
	/* 3: invalid UTF-8, a NaN and an infinite duration */
	r = v[2] = gen(3, base, 3);
	free(r->alert); r->alert = strdup("bad \xff\xfe utf8 \xc3\x28 end");
	r->has_handshake_ms = 1; r->handshake_ms = NAN;
	r->has_dns_ms = 1; r->dns_ms = INFINITY;
	/* 4: a certificate without SANs */
	r = v[3] = gen(4, base, 3);
	free(r->fingerprint_sha256); r->fingerprint_sha256 = strdup("NOSANS");
	free(r->leaf_subject); r->leaf_subject = strdup("CN=nosans");

	int64_t recv = twtime_wall_ms();
	struct cbrec rec = { 0 };
	cr_assert(db_ingest(p, "probe-f", "region-f", "9.9.9", v, 4, recv, on_ingest, &rec));
	cr_assert(run_until(b, cb_done, &rec, 30));
	cr_assert(rec.ok, "ingest failed: %s", rec.err);
	cr_assert_eq(rec.inserted, 4);
	cr_assert_eq(rec.max_seq, 4);

	PGconn *c = pg(ci);
	cr_assert_eq(q_int(c, "SELECT count(*) FROM results"), 4);
	/* identity comes from the arguments, not from what the result claims */
	cr_assert_eq(q_int(c, "SELECT count(*) FROM results WHERE probe_id = 'probe-f' "
			      "AND region = 'region-f' AND probe_version = '9.9.9'"), 4);
	char want[64];
	r = v[0];
	snprintf(want, sizeof want, "%lld", (long long)r->started_unix_ms);
	expect_col(c, 1, "(extract(epoch FROM started_at) * 1000)::bigint", want);
	snprintf(want, sizeof want, "%lld", (long long)recv);
	expect_col(c, 1, "(extract(epoch FROM received_at) * 1000)::bigint", want);
	expect_col(c, 1, "target", "nasty.example");
	expect_col(c, 1, "port", r->port == 443 ? "443" : "8443");
	expect_col(c, 1, "sni", nasty);
	expect_col(c, 1, "address", "127.0.0.1");
	expect_col(c, 1, "profile", r->profile);
	expect_col(c, 1, "starttls", "smtp");
	expect_col(c, 1, "service", nasty);
	expect_col(c, 1, "labels->>'team'", "sre\t\"x\"\\");
	expect_col(c, 1, "labels->>'tier\n'", "gold é");
	expect_col(c, 1, "interval_ms", "60000");
	expect_col(c, 1, "mtls", "false");
	expect_col(c, 1, "outcome", r->outcome);
	expect_col(c, 1, "array_length(findings, 1)", "2");
	expect_col(c, 1, "findings[1]", "cipher_fallback");
	expect_col(c, 1, "findings[2]", "sni_mismatch");
	expect_col(c, 1, "outcome_depth", "1");
	expect_col(c, 1, "alert", nasty);
	expect_col(c, 1, "jsonb_array_length(verify_errors)", "1");
	expect_col(c, 1, "verify_errors->0->>'depth'", "1");
	expect_col(c, 1, "verify_errors->0->>'code'", "10");
	expect_col(c, 1, "verify_errors->0->>'reason'", "certificate has expired \"x\"\\");
	expect_col(c, 1, "tls_version", "TLSv1.3");
	expect_col(c, 1, "cipher", "TLS_AES_128_GCM_SHA256");
	expect_col(c, 1, "cipher_iana", "TLS_AES_128_GCM_SHA256");
	expect_col(c, 1, "grp", "X25519");
	expect_col(c, 1, "alpn", "h2");
	expect_col(c, 1, "resumed", "true");
	expect_dbl(c, 1, "resume_ms", 0.1 + 0.2);
	expect_col(c, 1, "ocsp_stapled", r->ocsp_stapled ? "true" : "false");
	expect_col(c, 1, "ocsp_status", "good");
	expect_col(c, 1, "ocsp_source", "staple");
	expect_dbl(c, 1, "ocsp_responder_ms", 12.3456789012345);
	expect_col(c, 1, "sni_match", r->sni_match ? "true" : "false");
	expect_col(c, 1, "extract(epoch FROM cert_not_before)::bigint", "1700000000");
	snprintf(want, sizeof want, "%lld", (long long)r->cert_not_after);
	expect_col(c, 1, "extract(epoch FROM cert_not_after)::bigint", want);
	expect_dbl(c, 1, "days_to_expiry", r->days_to_expiry);
	snprintf(want, sizeof want, "%lld", (long long)r->chain_not_after_min);
	expect_col(c, 1, "extract(epoch FROM chain_not_after_min)::bigint", want);
	expect_col(c, 1, "chain_not_after_min_depth", "2");
	expect_col(c, 1, "chain_len", "3");
	expect_col(c, 1, "leaf_subject", nasty);
	expect_col(c, 1, "array_length(leaf_sans, 1)", "3");
	expect_col(c, 1, "leaf_sans[2]", "*.b.example");
	expect_col(c, 1, "leaf_sans[3]", "q\"uote\\,{x}");
	expect_col(c, 1, "leaf_issuer", "CN=Issuer, O=\"Org\"");
	expect_col(c, 1, "leaf_key", "EC-P-256");
	expect_col(c, 1, "leaf_sig_alg", "ecdsa-with-SHA256");
	expect_col(c, 1, "fingerprint_sha256", "AB:CD:EF");
	expect_col(c, 1, "extract(epoch FROM client_cert_not_after)::bigint", "1900000000");
	expect_dbl(c, 1, "dns_ms", 1.0 / 3.0);
	expect_dbl(c, 1, "connect_ms", 2.5);
	expect_dbl(c, 1, "handshake_ms", 12.0);
	expect_dbl(c, 1, "total_ms", 1e-9);

	/* seq 2: absent stays NULL (never a sentinel), defaults for collections */
	const char *nulls[] = { "sni", "address", "starttls", "service", "interval_ms", "mtls",
		"outcome_depth", "alert", "tls_version", "cipher", "cipher_iana", "grp", "alpn",
		"resumed", "resume_ms", "ocsp_stapled", "ocsp_status", "ocsp_source",
		"ocsp_responder_ms", "sni_match", "cert_not_before", "cert_not_after",
		"days_to_expiry", "chain_not_after_min", "chain_not_after_min_depth", "chain_len",
		"leaf_subject", "leaf_sans", "leaf_issuer", "leaf_key", "leaf_sig_alg",
		"fingerprint_sha256", "client_cert_not_after", "dns_ms", "connect_ms",
		"handshake_ms", "total_ms" };
	for (size_t i = 0; i < sizeof nulls / sizeof nulls[0]; i++)
		expect_col(c, 2, nulls[i], NULL);
	expect_col(c, 2, "findings", "{}");
	expect_col(c, 2, "labels", "{}");
	expect_col(c, 2, "verify_errors", "[]");
	expect_col(c, 2, "outcome", "dns_error");

	/* seq 3: bad bytes became U+FFFD, non-finite numbers NULL */
	expect_col(c, 3, "alert", "bad \xef\xbf\xbd\xef\xbf\xbd utf8 \xef\xbf\xbd( end");
	expect_col(c, 3, "handshake_ms", NULL);
	expect_col(c, 3, "dns_ms", NULL);
	/* seq 4: a certificate without SANs has an empty array, not NULL */
	expect_col(c, 4, "leaf_sans", "{}");

	/* the certificate inventory got the leaf of seq 1 */
	cr_assert_eq(q_int(c, "SELECT count(*) FROM certificates WHERE fingerprint_sha256 = 'AB:CD:EF' "
			      "AND sans[3] = 'q\"uote\\,{x}' AND key = 'EC-P-256' "
			      "AND not_before = to_timestamp(1700000000)"), 1);
	expect_rollups_exact(c);
	/* handshake 12 ms is bucket [10, 20): index 5 */
	cr_assert_eq(q_int(c, "SELECT sum(handshake_ms_hist[5]) FROM rollup_1m WHERE target = 'nasty.example'"), 1);
	PQfinish(c);
	for (int i = 0; i < 4; i++)
		tlswatch__result__free_unpacked(v[i], NULL);
	db_pool_free(p);
	event_base_free(b);
	free(ci);
}

Test(db, refuses_a_result_without_seq)
{
	char *ci = new_migrated_db("tw_refuse");
	struct event_base *b = event_base_new();
	struct db_opts o = { 0 };
	struct db_pool *p = pool_up(b, ci, &o);
	Tlswatch__Result **v = gen_batch(1, 3, base_ms_now(), 2);
	v[1]->has_seq = 0;
	errno = 0;
	cr_assert_null(db_ingest(p, "p", "r", NULL, v, 3, twtime_wall_ms(), on_ingest, NULL));
	cr_assert_eq(errno, EINVAL);
	v[1]->has_seq = 1;
	v[1]->seq = (uint64_t)INT64_MAX + 1;
	cr_assert_null(db_ingest(p, "p", "r", NULL, v, 3, twtime_wall_ms(), on_ingest, NULL));
	free_batch(v, 3);
	db_pool_free(p);
	event_base_free(b);
	free(ci);
}

/* ------------------------------------------------- replay and rollups */

static char *rollup_digest(PGconn *c)
{
	return q_str(c, "SELECT md5(coalesce((SELECT string_agg(r::text, '|' ORDER BY r::text) FROM rollup_1m r), '') "
			"|| coalesce((SELECT string_agg(r::text, '|' ORDER BY r::text) FROM rollup_1h_live r), '') "
			"|| coalesce((SELECT string_agg(r::text, '|' ORDER BY r::text) FROM certificates r), '') "
			"|| coalesce((SELECT string_agg(r::text, '|' ORDER BY r::text) FROM certificate_sightings r), '') "
			"|| coalesce((SELECT string_agg((probe_id, last_seq)::text, '|' ORDER BY probe_id) FROM probes), ''))");
}

Test(db, replay_changes_nothing_and_rollups_equal_raw_rows)
{
	char *ci = new_migrated_db("tw_replay");
	struct event_base *b = event_base_new();
	struct db_opts o = { 0 };
	struct db_pool *p = pool_up(b, ci, &o);
	int64_t base = base_ms_now();
	const char *probes[3] = { "probe-a", "probe-b", "probe-c" };
	Tlswatch__Result **v[3];
	for (int i = 0; i < 3; i++) {
		v[i] = gen_batch(1, 700, base, 5);
		struct cbrec rec = ingest_sync(b, p, probes[i], regions_cycle[i], v[i], 700);
		cr_assert(rec.ok, "%s: %s", probes[i], rec.err);
		cr_assert_eq(rec.inserted, 700);
		cr_assert_eq(rec.max_seq, 700);
	}
	PGconn *c = pg(ci);
	cr_assert_eq(q_int(c, "SELECT count(*) FROM results"), 2100);
	expect_rollups_exact(c);
	/* sanity of the data itself: several outcomes, profiles, buckets */
	cr_assert_gt(q_int(c, "SELECT count(DISTINCT outcome) FROM results"), 8);
	cr_assert_gt(q_int(c, "SELECT count(*) FROM rollup_1h_live"), 20);
	cr_assert_gt(q_int(c, "SELECT sum(mtls_failures) FROM rollup_1h_live"), 0);
	cr_assert_gt(q_int(c, "SELECT sum(sni_mismatch_count) FROM rollup_1h_live"), 0);
	cr_assert_gt(q_int(c, "SELECT sum(ocsp_stapled_count) FROM rollup_1h_live"), 0);
	cr_assert_eq(q_int(c, "SELECT sum(successes) FROM rollup_1m"),
		     q_int(c, "SELECT count(*) FROM results WHERE outcome = 'ok'"));
	char *before = rollup_digest(c);

	/* the same batches again (a probe replaying after a lost Ack) */
	for (int i = 0; i < 3; i++) {
		struct cbrec rec = ingest_sync(b, p, probes[i], regions_cycle[i], v[i], 700);
		cr_assert(rec.ok, "replay %s: %s", probes[i], rec.err);
		cr_assert_eq(rec.inserted, 0, "replay inserted %zu", rec.inserted);
		cr_assert_eq(rec.max_seq, 700, "replay must still ack the batch");
	}
	/* and a half-new batch: only the new half counts */
	Tlswatch__Result **w = gen_batch(351, 700, base, 5);
	struct cbrec rec = ingest_sync(b, p, "probe-a", "eu-west", w, 700);
	cr_assert(rec.ok, "%s", rec.err);
	cr_assert_eq(rec.inserted, 350);
	cr_assert_eq(rec.max_seq, 1050);
	cr_assert_eq(q_int(c, "SELECT count(*) FROM results"), 2450);
	expect_rollups_exact(c); /* and builds rollup_1m: the digests compare built states */
	char *after = rollup_digest(c);
	cr_assert_str_neq(before, after, "a new half batch must change the rollups");

	/* replay once more: digest unchanged */
	rec = ingest_sync(b, p, "probe-a", "eu-west", w, 700);
	cr_assert_eq(rec.inserted, 0);
	char *again = rollup_digest(c);
	cr_assert_str_eq(after, again, "a replay changed the rollups/inventory");

	struct db_stats st;
	db_get_stats(p, &st);
	cr_assert_eq(st.rows_inserted, 2450);
	cr_assert_eq(st.rows_duplicate, 2100 + 350 + 700);
	cr_assert_eq(st.batches_failed, 0);
	free(before);
	free(after);
	free(again);
	free_batch(w, 700);
	for (int i = 0; i < 3; i++)
		free_batch(v[i], 700);
	PQfinish(c);
	db_pool_free(p);
	event_base_free(b);
	free(ci);
}

/* ------------------------------------- certificates, probes, last seq */

struct seqrec {
	int calls;
	bool found;
	uint64_t seq;
};

static void on_seq(void *arg, bool found, uint64_t seq)
{
	struct seqrec *s = arg;
	s->calls++;
	s->found = found;
	s->seq = seq;
}

static bool seq_done(void *arg) { return ((struct seqrec *)arg)->calls > 0; }

/* Runs the loop until the count query gives 1 (10 s at most). */
static bool wait_count(struct event_base *b, PGconn *c, const char *sql)
{
	double end = twtime_mono_ms() + 10000;
	while (twtime_mono_ms() < end) {
		if (q_int(c, "%s", sql) == 1)
			return true;
		run_for(b, 0.05);
	}
	return false;
}

Test(db, inventory_probes_and_last_seq)
{
	char *ci = new_migrated_db("tw_inventory");
	struct event_base *b = event_base_new();
	struct db_opts o = { 0 };
	struct db_pool *p = pool_up(b, ci, &o);
	int64_t base = base_ms_now();
	Tlswatch__Result **v = gen_batch(10, 400, base, 4);
	struct cbrec rec = ingest_sync(b, p, "probe-x", "eu-west", v, 400);
	cr_assert(rec.ok, "%s", rec.err);
	Tlswatch__Result **w = gen_batch(500, 300, base + 3600000, 4);
	rec = ingest_sync(b, p, "probe-y", "us-east", w, 300);
	cr_assert(rec.ok, "%s", rec.err);

	PGconn *c = pg(ci);
	cr_assert_eq(q_int(c, "SELECT count(*) FROM certificates"),
		     q_int(c, "SELECT count(DISTINCT fingerprint_sha256) FROM results"));
	cr_assert_eq(q_int(c, "SELECT count(*) FROM certificates"), 9);
	cr_assert_eq(q_int(c, "SELECT count(*) FROM certificates c WHERE first_seen <> "
			      "(SELECT min(started_at) FROM results r WHERE r.fingerprint_sha256 = c.fingerprint_sha256) "
			      "OR subject <> 'CN=leaf' OR not_after IS NULL"), 0);
	cr_assert_eq(q_int(c, "SELECT count(*) FROM certificate_sightings"),
		     q_int(c, "SELECT count(*) FROM (SELECT DISTINCT fingerprint_sha256, target, port, region "
			      "FROM results WHERE fingerprint_sha256 IS NOT NULL) d"));
	cr_assert_eq(q_int(c, "SELECT count(*) FROM certificate_sightings s JOIN "
			      "(SELECT fingerprint_sha256, target, port, region, min(started_at) f, max(started_at) l "
			      "FROM results GROUP BY 1, 2, 3, 4) r USING (fingerprint_sha256, target, port, region) "
			      "WHERE s.first_seen <> r.f OR s.last_seen <> r.l"), 0);
	cr_assert_gt(q_int(c, "SELECT count(DISTINCT region) FROM certificate_sightings"), 1);
	cr_assert_eq(q_int(c, "SELECT last_seq FROM probes WHERE probe_id = 'probe-x'"), 409);
	cr_assert_eq(q_int(c, "SELECT last_seq FROM probes WHERE probe_id = 'probe-y'"), 799);
	cr_assert_eq(q_int(c, "SELECT count(*) FROM probes WHERE probe_id = 'probe-y' AND region = 'us-east' "
			      "AND version = '1.2.3' AND last_seen >= first_seen"), 1);

	/* an older batch arriving late does not move last_seq back */
	Tlswatch__Result **old = gen_batch(1, 5, base, 4);
	rec = ingest_sync(b, p, "probe-x", "eu-west", old, 5);
	cr_assert(rec.ok && rec.inserted == 5 && rec.max_seq == 5);
	cr_assert_eq(q_int(c, "SELECT last_seq FROM probes WHERE probe_id = 'probe-x'"), 409);

	struct seqrec s = { 0 };
	cr_assert_eq(db_last_seq(p, "probe-x", on_seq, &s), 0);
	cr_assert(run_until(b, seq_done, &s, 20));
	cr_assert(s.found && s.seq == 409, "found %d seq %llu", s.found, (unsigned long long)s.seq);
	struct seqrec s2 = { 0 };
	cr_assert_eq(db_last_seq(p, "nobody", on_seq, &s2), 0);
	cr_assert(run_until(b, seq_done, &s2, 20));
	cr_assert(!s2.found && s2.seq == 0);

	/* hello/heartbeat */
	db_probe_seen(p, "probe-x", "eu-west", "2.0.0", -123.5, NULL);
	db_probe_seen(p, "probe-new", "ap-south", NULL, 7.25, NULL);
	struct seqrec s3 = { 0 };
	cr_assert_eq(db_last_seq(p, "probe-new", on_seq, &s3), 0); /* queued after the seen records */
	cr_assert(run_until(b, seq_done, &s3, 20));
	run_for(b, 0.3);
	cr_assert_eq(q_int(c, "SELECT count(*) FROM probes WHERE probe_id = 'probe-x' AND version = '2.0.0' "
			      "AND clock_offset_ms = -123.5 AND last_seq = 409"), 1);
	cr_assert_eq(q_int(c, "SELECT count(*) FROM probes WHERE probe_id = 'probe-new' AND region = 'ap-south' "
			      "AND clock_offset_ms = 7.25 AND last_seq IS NULL "
			      "AND last_seen > now() - interval '1 minute'"), 1);

	/* heartbeats carry the spool counters; a hello (NULL) keeps them */
	struct db_probe_counters k = { .has_spool_records = true, .spool_records = 12,
				       .has_spool_bytes = true, .spool_bytes = 3456,
				       .has_dropped = true, .dropped = 0,
				       .has_overdue = true, .overdue = 2 };
	db_probe_seen(p, "probe-new", "ap-south", NULL, 7.25, &k);
	cr_assert(wait_count(b, c, "SELECT count(*) FROM probes WHERE probe_id = 'probe-new' "
			     "AND spool_records = 12 AND spool_bytes = 3456 AND dropped_total = 0 "
			     "AND overdue_total = 2 AND counters_at IS NOT NULL AND dropped_at IS NULL"),
		  "counters stored, no drop yet");
	k.dropped = 5;
	db_probe_seen(p, "probe-new", "ap-south", NULL, 7.25, &k);
	cr_assert(wait_count(b, c, "SELECT count(*) FROM probes WHERE probe_id = 'probe-new' "
			     "AND dropped_total = 5 AND dropped_at IS NOT NULL"), "new drops are dated");
	exec_ok(c, "UPDATE probes SET dropped_at = '2000-01-01' WHERE probe_id = 'probe-new'");
	db_probe_seen(p, "probe-new", "ap-south", NULL, 7.25, &k); /* same count: no new drops */
	db_probe_seen(p, "probe-new", "ap-south", "9.9", 1.0, NULL); /* a hello */
	cr_assert(wait_count(b, c, "SELECT count(*) FROM probes WHERE probe_id = 'probe-new' "
			     "AND version = '9.9'"));
	run_for(b, 0.5); /* the heartbeat may have run on another connection */
	cr_assert_eq(q_int(c, "SELECT count(*) FROM probes WHERE probe_id = 'probe-new' "
			      "AND dropped_total = 5 AND spool_records = 12 "
			      "AND dropped_at = '2000-01-01'"), 1,
		     "an unchanged count and a hello leave the drop time alone");
	k.dropped = 3; /* the probe restarted and dropped again */
	db_probe_seen(p, "probe-new", "ap-south", NULL, 7.25, &k);
	cr_assert(wait_count(b, c, "SELECT count(*) FROM probes WHERE probe_id = 'probe-new' "
			     "AND dropped_total = 3 AND dropped_at > now() - interval '1 minute'"),
		  "drops after a counter reset are dated too");

	free_batch(old, 5);
	free_batch(v, 400);
	free_batch(w, 300);
	PQfinish(c);
	db_pool_free(p);
	event_base_free(b);
	free(ci);
}

/* ------------------------------------------------------------ readiness */

static void on_ready_cb(void *arg) { *(bool *)arg = true; }

Test(db, not_ready_until_migrated_and_failed_ingest_rolls_back)
{
	char *ci = new_db("tw_ready");
	struct event_base *b = event_base_new();
	char err[256] = "";
	struct db_opts o = { .conninfo = ci, .connections = 2 };
	struct db_pool *p = db_pool_new(b, &o, err, sizeof err);
	cr_assert(p, "%s", err);
	cr_assert(run_until(b, (bool (*)(void *))db_can_accept, p, 20), "no connection");
	run_for(b, 0.5);
	cr_assert_not(db_is_ready(p), "ready without a schema");
	/* an ingest into an empty database fails cleanly */
	Tlswatch__Result **v = gen_batch(1, 50, base_ms_now(), 2);
	struct cbrec rec = ingest_sync(b, p, "probe-r", "eu-west", v, 50);
	cr_assert_not(rec.ok);
	cr_assert(rec.err[0], "a failure says why");
	cr_assert_eq(db_migrate(ci, err, sizeof err), (int)sql_migrations_count, "%s", err);
	cr_assert(run_until(b, (bool (*)(void *))db_is_ready, p, 15), "not ready 15 s after migrate");

	/* a statement failure mid-transaction rolls everything back (the
	 * ingest statement, after the COPY into results, upserts probes) */
	PGconn *c = pg(ci);
	exec_ok(c, "ALTER TABLE probes RENAME TO probes_away");
	struct cbrec r1 = { 0 }, r2 = { 0 }, r3 = { 0 };
	Tlswatch__Result **w = gen_batch(51, 50, base_ms_now(), 2);
	cr_assert(db_ingest(p, "probe-r", "eu-west", NULL, v, 50, twtime_wall_ms(), on_ingest, &r1));
	cr_assert(db_ingest(p, "probe-r", "eu-west", NULL, w, 50, twtime_wall_ms(), on_ingest, &r2));
	cr_assert(run_until(b, cb_done, &r2, 30));
	cr_assert(r1.calls == 1 && !r1.ok, "first batch: calls %d ok %d", r1.calls, r1.ok);
	cr_assert(r2.calls == 1 && !r2.ok, "the probe's next batch must fail with it");
	cr_assert_eq(q_int(c, "SELECT count(*) FROM results"), 0, "rows survived a rolled back batch");
	cr_assert_eq(q_int(c, "SELECT count(*) FROM rollup_1m"), 0);
	exec_ok(c, "ALTER TABLE probes_away RENAME TO probes");
	/* the pool still serves: the probe replays */
	rec = ingest_sync(b, p, "probe-r", "eu-west", v, 50);
	cr_assert(rec.ok && rec.inserted == 50, "%s", rec.err);
	cr_assert(db_ingest(p, "probe-r", "eu-west", NULL, w, 50, twtime_wall_ms(), on_ingest, &r3));
	cr_assert(run_until(b, cb_done, &r3, 30));
	cr_assert(r3.ok && r3.inserted == 50, "%s", r3.err);
	cr_assert_eq(q_int(c, "SELECT count(*) FROM results"), 100);
	/* the rolled-back writes were not taken for stored ones (db_seen.h) */
	cr_assert_eq(q_int(c, "SELECT count(*) FROM certificate_sightings"),
		     q_int(c, "SELECT count(*) FROM (SELECT DISTINCT fingerprint_sha256, target, port, region "
			      "FROM results WHERE fingerprint_sha256 IS NOT NULL) d"));
	cr_assert_eq(q_int(c, "SELECT count(*) FROM targets"),
		     q_int(c, "SELECT count(DISTINCT (target, port, coalesce(sni, ''))) FROM results"));
	expect_rollups_exact(c);
	struct db_stats st;
	db_get_stats(p, &st);
	cr_assert_eq(st.batches_failed, 3);
	free_batch(v, 50);
	free_batch(w, 50);
	PQfinish(c);
	db_pool_free(p);
	event_base_free(b);
	free(ci);
}

Test(db, backpressure_and_on_ready)
{
	char *ci = new_migrated_db("tw_backpressure");
	struct event_base *b = event_base_new();
	struct db_opts o = { .connections = 1, .queue_max_rows = 1000 };
	struct db_pool *p = pool_up(b, ci, &o);
	bool ready = false;
	db_on_ready(p, on_ready_cb, &ready);
	Tlswatch__Result **v[10];
	struct cbrec rec[10] = { 0 };
	int accepted = 0;
	for (int i = 0; i < 10; i++)
		v[i] = gen_batch((uint64_t)i * 600 + 1, 600, base_ms_now(), 3);
	for (int i = 0; i < 10; i++) {
		if (db_ingest(p, "probe-bp", "eu-west", NULL, v[i], 600, twtime_wall_ms(), on_ingest, &rec[i]))
			accepted++;
		else
			break;
	}
	/* 600 + 600 > 1000: the third is refused with EAGAIN */
	cr_assert_eq(accepted, 2, "accepted %d", accepted);
	cr_assert_eq(errno, EAGAIN);
	cr_assert_not(db_can_accept(p));
	cr_assert(run_until(b, flag_set, &ready, 30), "db_on_ready did not fire");
	cr_assert(db_can_accept(p));
	cr_assert(run_until(b, cb_done, &rec[1], 30));
	cr_assert(rec[0].ok && rec[1].ok);
	cr_assert(rec[0].max_seq == 600 && rec[1].max_seq == 1200);
	/* a cancelled job still commits, its callback is not called */
	struct cbrec rc = { 0 };
	struct db_job *j = db_ingest(p, "probe-bp", "eu-west", NULL, v[2], 600, twtime_wall_ms(), on_ingest, &rc);
	cr_assert(j);
	db_job_cancel(j);
	PGconn *c = pg(ci);
	double end = twtime_mono_ms() + 20000;
	while (q_int(c, "SELECT count(*) FROM results") < 1800 && twtime_mono_ms() < end)
		run_for(b, 0.05);
	cr_assert_eq(q_int(c, "SELECT count(*) FROM results"), 1800);
	run_for(b, 0.2);
	cr_assert_eq(rc.calls, 0, "a cancelled job's callback was called");

	/* free with queued work: no callback, no leak (ASan) */
	struct cbrec late[5] = { 0 };
	cr_assert(db_ingest(p, "probe-late", "eu-west", NULL, v[3], 600, twtime_wall_ms(), on_ingest, &late[3]));
	db_ingest(p, "probe-late", "eu-west", NULL, v[4], 600, twtime_wall_ms(), on_ingest, &late[4]);
	db_pool_free(p);
	event_base_loop(b, EVLOOP_NONBLOCK);
	for (int i = 0; i < 5; i++)
		cr_assert_eq(late[i].calls, 0);
	for (int i = 0; i < 10; i++)
		free_batch(v[i], 600);
	PQfinish(c);
	event_base_free(b);
	free(ci);
}

/* --------------------------------------------------------------- outage */

struct batch {
	Tlswatch__Result **v;
	size_t n;
	struct cbrec rec;
	bool submitted;
};

Test(db, postgres_outage_reconnects_without_loss_or_duplicates)
{
	char *ci = new_migrated_db("tw_outage");
	struct event_base *b = event_base_new();
	struct db_opts o = { .connections = 3, .reconnect_min_ms = 100, .reconnect_max_ms = 800 };
	struct db_pool *p = pool_up(b, ci, &o);
	bool ready = false;
	db_on_ready(p, on_ready_cb, &ready);
	int64_t base = base_ms_now();
	enum { NB = 12, PER = 400 };
	struct batch bt[NB];
	for (int i = 0; i < NB; i++) {
		bt[i] = (struct batch){ gen_batch((uint64_t)i * PER + 1, PER, base, 6), PER, { 0 }, false };
	}
	/* 4 batches committed before the outage */
	for (int i = 0; i < 4; i++) {
		bt[i].rec = ingest_sync(b, p, "probe-o", "eu-west", bt[i].v, PER);
		cr_assert(bt[i].rec.ok, "%s", bt[i].rec.err);
	}
	/* 4 more queued, then the server goes away under them */
	for (int i = 4; i < 8; i++) {
		cr_assert(db_ingest(p, "probe-o", "eu-west", NULL, bt[i].v, PER, twtime_wall_ms(), on_ingest, &bt[i].rec));
		bt[i].submitted = true;
	}
	run_for(b, 0.01);
	cr_assert_eq(system(env("TW_PG_STOP")), 0, "pg stop failed");
	double end = twtime_mono_ms() + 15000;
	while (db_can_accept(p) && twtime_mono_ms() < end)
		run_for(b, 0.05);
	cr_assert_not(db_can_accept(p), "still accepting with PostgreSQL down");
	cr_assert_not(db_is_ready(p));
	errno = 0;
	cr_assert_null(db_ingest(p, "probe-o", "eu-west", NULL, bt[8].v, PER, twtime_wall_ms(), on_ingest, &bt[8].rec));
	cr_assert_eq(errno, EAGAIN);
	cr_assert_eq(db_last_seq(p, "probe-o", on_seq, NULL), -1);
	ready = false;
	run_for(b, 1.0); /* a few reconnect attempts against nothing */
	cr_assert_not(ready);
	cr_assert_eq(system(env("TW_PG_START")), 0, "pg start failed");
	cr_assert(run_until(b, flag_set, &ready, 30), "db_on_ready did not fire after restart");
	cr_assert(db_can_accept(p));
	cr_assert(run_until(b, (bool (*)(void *))db_is_ready, p, 15));
	/* the queued batches either committed or failed: wait for all four */
	for (int i = 4; i < 8; i++)
		cr_assert(run_until(b, cb_done, &bt[i].rec, 30), "batch %d never called back", i);
	/* the probe replays everything not acked, then sends the rest */
	for (int i = 4; i < NB; i++) {
		if (bt[i].submitted && bt[i].rec.ok)
			continue;
		struct cbrec rec = ingest_sync(b, p, "probe-o", "eu-west", bt[i].v, PER);
		cr_assert(rec.ok, "batch %d after restart: %s", i, rec.err);
	}
	PGconn *c = pg(ci);
	cr_assert_eq(q_int(c, "SELECT count(*) FROM results"), NB * PER, "rows lost or duplicated");
	cr_assert_eq(q_int(c, "SELECT count(DISTINCT seq) FROM results"), NB * PER);
	cr_assert_eq(q_int(c, "SELECT last_seq FROM probes"), NB * PER);
	expect_rollups_exact(c);
	struct db_stats st;
	end = twtime_mono_ms() + 10000;
	do {
		run_for(b, 0.05);
		db_get_stats(p, &st);
	} while (st.connections_up < 3 && twtime_mono_ms() < end);
	cr_assert_geq(st.reconnects, 3, "every connection came back: %llu", (unsigned long long)st.reconnects);
	cr_assert_eq(st.connections_up, 3);
	PQfinish(c);
	for (int i = 0; i < NB; i++)
		free_batch(bt[i].v, PER);
	db_pool_free(p);
	event_base_free(b);
	free(ci);
}

/* ---------------------------------------------------------- concurrency */

struct load {
	struct db_pool *p;
	int nprobes, per_probe, rows;
	int next, done, failed;
	size_t inserted;
	uint64_t last_max[64];
	bool out_of_order;
	Tlswatch__Result ***batches;
	int64_t base;
};

struct load_cb {
	struct load *l;
	int probe;
};

static void on_load(void *arg, bool ok, uint64_t max_seq, size_t inserted, const char *err)
{
	struct load_cb *lc = arg;
	struct load *l = lc->l;
	l->done++;
	if (!ok) {
		l->failed++;
		fprintf(stderr, "batch failed: %s\n", err);
	}
	l->inserted += inserted;
	if (max_seq <= l->last_max[lc->probe])
		l->out_of_order = true;
	l->last_max[lc->probe] = max_seq;
	free(lc);
}

static void load_submit(void *arg)
{
	struct load *l = arg;
	int total = l->nprobes * l->per_probe;
	while (l->next < total) {
		int k = l->next;
		int probe = k % l->nprobes, nth = k / l->nprobes;
		char id[32];
		snprintf(id, sizeof id, "load-%02d", probe);
		struct load_cb *lc = malloc(sizeof *lc);
		lc->l = l;
		lc->probe = probe;
		if (!db_ingest(l->p, id, regions_cycle[probe % 3], "1.0", l->batches[k], (size_t)l->rows,
			       twtime_wall_ms(), on_load, lc)) {
			free(lc);
			cr_assert_eq(errno, EAGAIN);
			return; /* on_ready resumes */
		}
		(void)nth;
		l->next++;
	}
}

static bool load_done(void *arg)
{
	struct load *l = arg;
	return l->done == l->nprobes * l->per_probe;
}

Test(db, many_concurrent_batches_exact_counts_and_rate)
{
	char *ci = new_migrated_db("tw_load");
	struct event_base *b = event_base_new();
	struct db_opts o = { .connections = 4 };
	struct db_pool *p = pool_up(b, ci, &o);
	struct load l = { .p = p, .nprobes = 20, .per_probe = 10, .rows = 500, .base = base_ms_now() };
	int total = l.nprobes * l.per_probe;
	l.batches = calloc((size_t)total, sizeof *l.batches);
	for (int k = 0; k < total; k++) {
		int nth = k / l.nprobes;
		l.batches[k] = gen_batch((uint64_t)nth * 500 + 1, 500, l.base, 50);
	}
	db_on_ready(p, load_submit, &l);
	double t0 = twtime_mono_ms();
	load_submit(&l);
	cr_assert(run_until(b, load_done, &l, 200), "only %d of %d batches done", l.done, total);
	double secs = (twtime_mono_ms() - t0) / 1000.0;
	fprintf(stderr, "test_db: ingest rate: %d rows in %.2f s = %.0f rows/s "
			"(%d batches of %d, 4 connections, rollups+inventory included)\n",
		total * l.rows, secs, total * l.rows / secs, total, l.rows);
	cr_assert_eq(l.failed, 0);
	cr_assert_not(l.out_of_order, "a probe's callbacks came out of order");
	cr_assert_eq(l.inserted, (size_t)total * 500);
	PGconn *c = pg(ci);
	cr_assert_eq(q_int(c, "SELECT count(*) FROM results"), total * 500);
	cr_assert_eq(q_int(c, "SELECT count(*) FROM probes WHERE last_seq = 5000"), 20);
	expect_rollups_exact(c);
	struct db_stats st;
	db_get_stats(p, &st);
	cr_assert_eq(st.batches_committed, (uint64_t)total);
	cr_assert_eq(st.rows_inserted, (uint64_t)total * 500);
	cr_assert_eq(st.queued_rows, 0);
	PQfinish(c);
	for (int k = 0; k < total; k++)
		free_batch(l.batches[k], 500);
	free(l.batches);
	db_pool_free(p);
	event_base_free(b);
	free(ci);
}

/* Rollup hours are UTC hours even when the database's time zone is not
 * (Asia/Kolkata is +05:30: a zone-dependent date_trunc would put hourly
 * buckets on the half hour); ingest also keeps the targets table (service,
 * labels) that SLO selectors read. */
Test(db, hourly_buckets_are_utc_and_targets_are_kept)
{
	char *ci = new_migrated_db("tw_db_utc");
	PGconn *c = pg(ci);
	exec_ok(c, "ALTER DATABASE tw_db_utc SET timezone = 'Asia/Kolkata'");
	struct event_base *b = event_base_new();
	struct db_opts o = { .connections = 1 };
	struct db_pool *p = pool_up(b, ci, &o);
	size_t n = 120;
	Tlswatch__Result **v = gen_batch(1, n, base_ms_now() + 30 * 60000, 3);
	Tlswatch__Label lab = TLSWATCH__LABEL__INIT, *labs[1] = { &lab };
	lab.key = "team";
	lab.value = "web";
	/* the newest result of its (target, port, sni) carries the labels */
	v[n - 1]->n_labels = 1;
	v[n - 1]->labels = labs;
	struct cbrec rec = ingest_sync(b, p, "probe-utc", "eu-west", v, n);
	v[n - 1]->n_labels = 0;
	v[n - 1]->labels = NULL;
	cr_assert(rec.ok, "%s", rec.err);
	cr_expect_eq(q_int(c, "SELECT count(*) FROM rollup_1h_live WHERE "
			      "date_trunc('hour', bucket AT TIME ZONE 'UTC') <> bucket AT TIME ZONE 'UTC'"), 0,
		     "hourly buckets not on UTC hours");
	cr_expect_gt(q_int(c, "SELECT count(*) FROM rollup_1h_live"), 0);
	cr_expect_eq(q_int(c, "SELECT sum(attempts) FROM rollup_1h_live"), (long long)n);
	cr_expect_eq(q_int(c, "SELECT count(*) FROM targets"),
		     q_int(c, "SELECT count(DISTINCT (target, port, coalesce(sni, ''))) FROM results"));
	cr_expect_eq(q_int(c, "SELECT count(*) FROM targets t JOIN results r ON r.seq = 120 AND "
			      "t.target = r.target AND t.port = r.port AND t.sni = coalesce(r.sni, '') "
			      "WHERE t.labels->>'team' = 'web'"), 1, "labels of the newest result kept");
	cr_expect_eq(q_int(c, "SELECT count(*) FROM targets WHERE labels <> '{}'"), 1);
	expect_rollups_exact(c);
	free_batch(v, n);
	db_pool_free(p);
	event_base_free(b);
	PQfinish(c);
	free(ci);
}
