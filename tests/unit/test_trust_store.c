/*
 * test_trust_store.c - probe/trust_store.c through tlsctx_new(): contexts
 * naming the same CA bundle share one parsed store, a reload (a second
 * generation of contexts built while the first is alive, as SIGHUP does)
 * parses an unchanged bundle zero more times, a changed one exactly once,
 * and the last context gone frees the entry.
 *
 * Bundles are self-signed certificates written at test time into a temp
 * dir removed by the suite's fini.
 */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "profile.h"
#include "tlsctx.h"
#include "trust_store.h"

#define N 12

static char dir[64], ca[128];
static struct profile_list profiles;
static const struct profile *modern;

static int rm_one(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
	return remove(p);
}

/* Writes a fresh self-signed certificate to path, through a temp file and
 * rename() as deployment tools do (so the file is a new inode). */
static void write_ca(const char *path, const char *cn)
{
	char tmp[160];
	snprintf(tmp, sizeof tmp, "%s.new", path);
	EVP_PKEY *k = EVP_EC_gen("P-256");
	X509 *x = X509_new();
	cr_assert(k && x);
	cr_assert_eq(ASN1_INTEGER_set(X509_get_serialNumber(x), 1), 1);
	X509_NAME *n = X509_get_subject_name(x);
	cr_assert_eq(X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC, (const unsigned char *)cn,
						-1, -1, 0), 1);
	cr_assert_eq(X509_set_issuer_name(x, n), 1);
	cr_assert_not_null(X509_gmtime_adj(X509_getm_notBefore(x), 0));
	cr_assert_not_null(X509_gmtime_adj(X509_getm_notAfter(x), 3600));
	cr_assert_eq(X509_set_pubkey(x, k), 1);
	cr_assert_gt(X509_sign(x, k, EVP_sha256()), 0);
	FILE *f = fopen(tmp, "w");
	cr_assert_not_null(f);
	cr_assert_eq(PEM_write_X509(f, x), 1);
	cr_assert_eq(fclose(f), 0);
	cr_assert_eq(rename(tmp, path), 0);
	X509_free(x);
	EVP_PKEY_free(k);
}

static void setup(void)
{
	snprintf(dir, sizeof dir, "/tmp/tw-truststore-XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
	snprintf(ca, sizeof ca, "%s/ca.pem", dir);
	write_ca(ca, "first CA");
	cr_assert_eq(profile_add_builtins(&profiles), 0);
	modern = profile_find(&profiles, "modern");
	cr_assert_not_null(modern);
	cr_assert_eq(trust_store_count(), 0, "nothing cached before the first context");
}

static void teardown(void)
{
	profile_list_free(&profiles);
	if (dir[0])
		nftw(dir, rm_one, 8, FTW_DEPTH | FTW_PHYS);
}

TestSuite(trust_store, .init = setup, .fini = teardown);

/* One generation: n contexts as the daemon builds them for one bundle. */
static void gen_build(struct tlsctx **g, size_t n, const char *ca_file)
{
	char err[512] = "";
	struct tlsctx_opts o = { .ca_file = ca_file };
	for (size_t i = 0; i < n; i++) {
		g[i] = tlsctx_new(modern, &o, err, sizeof err);
		cr_assert_not_null(g[i], "%s", err);
	}
}

static void gen_free(struct tlsctx **g, size_t n)
{
	for (size_t i = 0; i < n; i++)
		tlsctx_free(g[i]);
}

Test(trust_store, contexts_naming_one_bundle_share_one_store)
{
	struct tlsctx *g[N];
	unsigned long before = trust_store_loads();
	gen_build(g, N, ca);
	for (size_t i = 1; i < N; i++)
		cr_expect_eq(SSL_CTX_get_cert_store(g[i]->ctx), SSL_CTX_get_cert_store(g[0]->ctx),
			     "context %zu has a store of its own", i);
	cr_expect_eq(trust_store_loads() - before, 1, "%d contexts, one parse", N);
	cr_expect_eq(trust_store_count(), 1);
	gen_free(g, N);
	cr_expect_eq(trust_store_count(), 0, "the last context gone frees the entry");
}

Test(trust_store, system_store_is_shared_too)
{
	struct tlsctx *g[4];
	unsigned long before = trust_store_loads();
	gen_build(g, 4, NULL);
	for (size_t i = 1; i < 4; i++)
		cr_expect_eq(SSL_CTX_get_cert_store(g[i]->ctx), SSL_CTX_get_cert_store(g[0]->ctx));
	cr_expect_eq(trust_store_loads() - before, 1);
	gen_free(g, 4);
}

Test(trust_store, reload_of_an_unchanged_bundle_parses_nothing)
{
	struct tlsctx *a[N], *b[N];
	unsigned long before = trust_store_loads();
	gen_build(a, N, ca);
	X509_STORE *sa = SSL_CTX_get_cert_store(a[0]->ctx);
	gen_build(b, N, ca);   /* SIGHUP: the new generation, the old one still alive */
	gen_free(a, N);        /* then the swap */
	cr_expect_eq(SSL_CTX_get_cert_store(b[0]->ctx), sa);
	cr_expect_eq(trust_store_loads() - before, 1, "two generations, one parse");
	gen_free(b, N);
}

Test(trust_store, reload_of_a_changed_bundle_parses_it_once)
{
	struct tlsctx *a[N], *b[N];
	unsigned long before = trust_store_loads();
	gen_build(a, N, ca);
	X509_STORE *sa = SSL_CTX_get_cert_store(a[0]->ctx);
	write_ca(ca, "second CA");
	gen_build(b, N, ca);
	X509_STORE *sb = SSL_CTX_get_cert_store(b[0]->ctx);
	cr_expect_neq(sb, sa, "the new generation must see the new bundle");
	for (size_t i = 1; i < N; i++) {
		cr_expect_eq(SSL_CTX_get_cert_store(b[i]->ctx), sb);
		cr_expect_eq(SSL_CTX_get_cert_store(a[i]->ctx), sa, "old contexts keep theirs");
	}
	cr_expect_eq(trust_store_loads() - before, 2);
	cr_expect_eq(trust_store_count(), 2);
	gen_free(a, N);
	cr_expect_eq(trust_store_count(), 1);

	/* and the new store holds the new certificate */
	STACK_OF(X509_OBJECT) *objs = X509_STORE_get0_objects(sb);
	cr_assert_eq(sk_X509_OBJECT_num(objs), 1);
	X509 *x = X509_OBJECT_get0_X509(sk_X509_OBJECT_value(objs, 0));
	char cn[64] = "";
	X509_NAME_get_text_by_NID(X509_get_subject_name(x), NID_commonName, cn, sizeof cn);
	cr_expect_str_eq(cn, "second CA");
	gen_free(b, N);
}

Test(trust_store, missing_bundle_names_the_file)
{
	char err[512] = "", missing[160];
	snprintf(missing, sizeof missing, "%s/none.pem", dir);
	struct tlsctx_opts o = { .ca_file = missing };
	cr_expect_null(tlsctx_new(modern, &o, err, sizeof err));
	cr_expect(strstr(err, missing) && strstr(err, "No such file"), "%s", err);
	cr_expect_eq(trust_store_count(), 0);
}

Test(trust_store, garbage_bundle_is_an_error_and_not_cached)
{
	char err[512] = "", bad[160];
	snprintf(bad, sizeof bad, "%s/bad.pem", dir);
	FILE *f = fopen(bad, "w");
	cr_assert_not_null(f);
	fputs("-----BEGIN CERTIFICATE-----\nnot base64 at all\n-----END CERTIFICATE-----\n", f);
	cr_assert_eq(fclose(f), 0);
	struct tlsctx_opts o = { .ca_file = bad };
	cr_expect_null(tlsctx_new(modern, &o, err, sizeof err));
	cr_expect(strstr(err, bad) != NULL, "%s", err);
	cr_expect_eq(trust_store_count(), 0);
}
