/*
 * test_signals_db.c - the collector's side of the detection signals
 * (issue 10, sql/009_signals.sql) against a real PostgreSQL
 * (tests/integration/test_signals_db.sh): the outcomes table in the probe's
 * precedence order with chain_invalid in it, ocsp_error and
 * ocsp_responder_named stored as sent, and M5 counting only certificates
 * that name an OCSP responder, through the real ingest statement and
 * sli_query(). Helpers: db_env.h.
 */
#define _GNU_SOURCE
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "classify.h"
#include "db_env.h"
#include "sli.h"

TestSuite(signals_db, .timeout = 240);

/* The rank order of table outcomes is the order of enum outcome. */
Test(signals_db, outcomes_table_matches_the_probe_taxonomy)
{
	char *ci = new_migrated_db("tw_sig_outcomes");
	PGconn *c = pg(ci);
	struct strbuf want = { 0 };
	for (int i = 0; i < OUT__COUNT; i++)
		strbuf_printf(&want, "%s%s", i ? "," : "", classify_outcome_name((enum outcome)i));
	cr_assert(!want.oom);
	char *got = q_str(c, "SELECT string_agg(name, ',' ORDER BY rank) FROM outcomes");
	cr_assert_str_eq(got, want.p);
	cr_assert_eq(q_int(c, "SELECT count(DISTINCT rank) FROM outcomes"), OUT__COUNT);
	char *layer = q_str(c, "SELECT layer FROM outcomes WHERE name = 'chain_invalid'");
	cr_assert_str_eq(layer, "trust");
	cr_assert_eq(q_int(c, "SELECT count(*) FROM outcomes WHERE success"), 1);
	free(layer);
	free(got);
	strbuf_free(&want);
	PQfinish(c);
	free(ci);
}

static Tlswatch__Result *completed(uint64_t seq, int64_t base, int named, bool stapled,
				   const char *ocsp_status, const char *ocsp_error)
{
	Tlswatch__Result *r = gen(seq, base, 1);
	free(r->outcome);
	r->outcome = strdup("ok");
	free(r->tls_version);
	r->tls_version = strdup("TLSv1.3");
	free(r->cipher);
	r->cipher = strdup("TLS_AES_128_GCM_SHA256");
	r->has_ocsp_stapled = 1;
	r->ocsp_stapled = stapled;
	r->has_ocsp_responder_named = named >= 0;
	r->ocsp_responder_named = named > 0;
	free(r->ocsp_status);
	r->ocsp_status = ocsp_status ? strdup(ocsp_status) : NULL;
	r->ocsp_error = ocsp_error ? strdup(ocsp_error) : NULL;
	/* one series: same minute, target, sni, profile */
	r->started_unix_ms = base + 1000 + (int64_t)seq;
	free(r->sni);
	r->sni = NULL;
	free(r->profile);
	r->profile = strdup("modern");
	return r;
}

Test(signals_db, m5_counts_only_certificates_that_name_a_responder)
{
	char *ci = new_migrated_db("tw_sig_m5");
	struct event_base *b = event_base_new();
	struct db_opts o = { 0 };
	struct db_pool *p = pool_up(b, ci, &o);
	int64_t base = base_ms_now();

	/* named + stapled (invalid), named + not stapled, 2 x names no
	 * responder (nothing to staple), unknown (older probe) + not stapled:
	 * M5 = 1 stapled of 3 that could be */
	Tlswatch__Result *v[5] = {
		completed(1, base, 1, true, "invalid", "stale"),
		completed(2, base, 1, false, "none", NULL),
		completed(3, base, 0, false, "none", NULL),
		completed(4, base, 0, false, "none", NULL),
		completed(5, base, -1, false, "none", NULL),
	};
	struct cbrec rec = ingest_sync(b, p, "probe-a", "eu-west", v, 5);
	cr_assert(rec.ok, "%s", rec.err);
	cr_assert_eq(rec.inserted, 5);

	PGconn *c = pg(ci);
	char *e = q_str(c, "SELECT ocsp_error FROM results WHERE seq = 1");
	cr_assert_str_eq(e, "stale");
	free(e);
	cr_assert_null(q_str(c, "SELECT ocsp_error FROM results WHERE seq = 2"));
	cr_assert_eq(q_int(c, "SELECT count(*) FROM results WHERE ocsp_responder_named"), 2);
	cr_assert_eq(q_int(c, "SELECT count(*) FROM results WHERE NOT ocsp_responder_named"), 2);
	cr_assert_eq(q_int(c, "SELECT count(*) FROM results WHERE ocsp_responder_named IS NULL"), 1);
	cr_assert_eq(q_int(c, "SELECT sum(ocsp_no_responder_count) FROM tw_rollup_1m_live('-infinity', 'infinity')"), 2);
	cr_assert_eq(q_int(c, "SELECT sum(ocsp_no_responder_count) FROM rollup_1h_live"), 2);
	expect_rollups_exact(c);

	struct sli_window w = { base, base + 3600000 };
	struct sli_values *sv = NULL;
	size_t n = 0;
	char err[256] = "";
	cr_assert_eq(sli_query(c, NULL, &w, SLI_GROUP_NONE, &sv, &n, err, sizeof err), 0, "%s", err);
	cr_assert_eq(n, 1);
	cr_assert_eq(sv[0].handshakes, 5);
	cr_assert_eq(sv[0].ocsp_stapled, 1);
	cr_assert_eq(sv[0].ocsp_no_responder, 2);
	cr_assert_float_eq(sv[0].ocsp_stapling_rate, 1.0 / 3.0, 1e-9);
	sli_values_free(sv, n);

	/* only certificates without a responder: no stapling rate at all */
	struct sli_window none = { base + 3600000, base + 7200000 };
	Tlswatch__Result *u[1] = { completed(6, base + 3600000, 0, false, "none", NULL) };
	rec = ingest_sync(b, p, "probe-a", "eu-west", u, 1);
	cr_assert(rec.ok, "%s", rec.err);
	cr_assert_eq(sli_query(c, NULL, &none, SLI_GROUP_NONE, &sv, &n, err, sizeof err), 0, "%s", err);
	cr_assert_eq(n, 1);
	cr_assert(isnan(sv[0].ocsp_stapling_rate), "M5 %f without a stapleable certificate",
		  sv[0].ocsp_stapling_rate);
	sli_values_free(sv, n);

	PQfinish(c);
	for (int i = 0; i < 5; i++)
		tlswatch__result__free_unpacked(v[i], NULL);
	tlswatch__result__free_unpacked(u[0], NULL);
	db_pool_free(p);
	event_base_free(b);
	free(ci);
}

/* sql/015_aia_detail.sql: a client that fetched the missing intermediate
 * (finding intermediate_fetched) and one whose fetch failed keep the probe's
 * aia_detail verbatim; a result without one stores NULL. */
Test(signals_db, aia_detail_is_stored_as_sent)
{
	char *ci = new_migrated_db("tw_sig_aia");
	struct event_base *b = event_base_new();
	struct db_opts o = { 0 };
	struct db_pool *p = pool_up(b, ci, &o);
	int64_t base = base_ms_now();

	Tlswatch__Result *v[3] = {
		completed(1, base, 0, false, "none", NULL),
		completed(2, base, 0, false, "none", NULL),
		completed(3, base, 0, false, "none", NULL),
	};
	v[0]->aia_detail = strdup("fetched http://127.0.0.1:8080/int.der (DER, 1 certificate)");
	for (size_t i = 0; i < v[0]->n_findings; i++)
		free(v[0]->findings[i]);
	free(v[0]->findings);
	v[0]->findings = calloc(1, sizeof *v[0]->findings);
	cr_assert_not_null(v[0]->findings);
	v[0]->findings[0] = strdup("intermediate_fetched");
	v[0]->n_findings = 1;
	free(v[1]->outcome);
	v[1]->outcome = strdup("chain_incomplete");
	v[1]->aia_detail = strdup("http://127.0.0.1:8080/int.der: HTTP 404");

	struct cbrec rec = ingest_sync(b, p, "probe-a", "eu-west", v, 3);
	cr_assert(rec.ok, "%s", rec.err);
	cr_assert_eq(rec.inserted, 3);

	PGconn *c = pg(ci);
	char *d = q_str(c, "SELECT aia_detail FROM results WHERE seq = 1 "
			   "AND 'intermediate_fetched' = ANY (findings)");
	cr_assert_str_eq(d, "fetched http://127.0.0.1:8080/int.der (DER, 1 certificate)");
	free(d);
	d = q_str(c, "SELECT outcome || ' ' || aia_detail FROM results WHERE seq = 2");
	cr_assert_str_eq(d, "chain_incomplete http://127.0.0.1:8080/int.der: HTTP 404");
	free(d);
	cr_assert_null(q_str(c, "SELECT aia_detail FROM results WHERE seq = 3"));
	expect_rollups_exact(c);

	PQfinish(c);
	for (int i = 0; i < 3; i++)
		tlswatch__result__free_unpacked(v[i], NULL);
	db_pool_free(p);
	event_base_free(b);
	free(ci);
}
