/*
 * test_tlsutil.c - common/tlsutil.c: key permission check, identity
 * loading, the probe<->collector contexts (a real handshake over memory
 * BIOs), peer names, and the error queue as one message.
 *
 * The PKI is made at test time with the OpenSSL API (EC P-256 keys, a CA,
 * a server certificate for collector.test / 127.0.0.1, a client
 * certificate) in a temp dir that the suite's fini removes.
 */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "tlsutil.h"

static char dir[64];
static char path_ca[128], path_srv[128], path_srv_key[128], path_cli[128], path_cli_key[128];
static char path_other_key[128];

static int rm_one(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
	return remove(p);
}

static void write_key(const char *path, EVP_PKEY *k, mode_t mode)
{
	FILE *f = fopen(path, "w");
	cr_assert_not_null(f, "fopen %s", path);
	cr_assert_eq(PEM_write_PrivateKey(f, k, NULL, NULL, 0, NULL, NULL), 1);
	cr_assert_eq(fclose(f), 0);
	cr_assert_eq(chmod(path, mode), 0);
}

static void write_cert(const char *path, X509 *x)
{
	FILE *f = fopen(path, "w");
	cr_assert_not_null(f, "fopen %s", path);
	cr_assert_eq(PEM_write_X509(f, x), 1);
	cr_assert_eq(fclose(f), 0);
}

static void add_ext(X509 *x, X509 *issuer, int nid, const char *value)
{
	X509V3_CTX v3;
	X509V3_set_ctx(&v3, issuer, x, NULL, NULL, 0);
	X509_EXTENSION *e = X509V3_EXT_conf_nid(NULL, &v3, nid, value);
	cr_assert_not_null(e, "extension %s", value);
	cr_assert_eq(X509_add_ext(x, e, -1), 1);
	X509_EXTENSION_free(e);
}

/* A certificate for key k named cn, signed by (issuer, ikey); self-signed
 * when issuer is NULL. */
static X509 *make_cert(EVP_PKEY *k, const char *cn, X509 *issuer, EVP_PKEY *ikey, long serial,
		       const char *san, bool ca)
{
	X509 *x = X509_new();
	cr_assert_not_null(x);
	cr_assert_eq(X509_set_version(x, 2), 1);
	cr_assert_eq(ASN1_INTEGER_set(X509_get_serialNumber(x), serial), 1);
	cr_assert_not_null(X509_gmtime_adj(X509_getm_notBefore(x), -3600));
	cr_assert_not_null(X509_gmtime_adj(X509_getm_notAfter(x), 86400L));
	cr_assert_eq(X509_set_pubkey(x, k), 1);
	X509_NAME *n = X509_get_subject_name(x);
	cr_assert_eq(X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC, (const unsigned char *)cn,
						-1, -1, 0), 1);
	cr_assert_eq(X509_set_issuer_name(x, issuer ? X509_get_subject_name(issuer) : n), 1);
	add_ext(x, issuer ? issuer : x, NID_basic_constraints, ca ? "critical,CA:TRUE" : "CA:FALSE");
	if (san)
		add_ext(x, issuer ? issuer : x, NID_subject_alt_name, san);
	cr_assert_gt(X509_sign(x, ikey ? ikey : k, EVP_sha256()), 0);
	return x;
}

static void setup(void)
{
	/* error strings: reason names, not "reason(134)" */
	cr_assert_eq(OPENSSL_init_ssl(OPENSSL_INIT_LOAD_SSL_STRINGS, NULL), 1);
	snprintf(dir, sizeof dir, "/tmp/tw-tlsutil-XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
	snprintf(path_ca, sizeof path_ca, "%s/ca.pem", dir);
	snprintf(path_srv, sizeof path_srv, "%s/srv.pem", dir);
	snprintf(path_srv_key, sizeof path_srv_key, "%s/srv.key", dir);
	snprintf(path_cli, sizeof path_cli, "%s/cli.pem", dir);
	snprintf(path_cli_key, sizeof path_cli_key, "%s/cli.key", dir);
	snprintf(path_other_key, sizeof path_other_key, "%s/other.key", dir);

	EVP_PKEY *kca = EVP_EC_gen("P-256"), *ksrv = EVP_EC_gen("P-256");
	EVP_PKEY *kcli = EVP_EC_gen("P-256"), *kother = EVP_EC_gen("P-256");
	cr_assert(kca && ksrv && kcli && kother);
	X509 *ca = make_cert(kca, "tlsutil test CA", NULL, NULL, 1, NULL, true);
	X509 *srv = make_cert(ksrv, "collector.test", ca, kca, 2,
			      "DNS:collector.test,IP:127.0.0.1", false);
	X509 *cli = make_cert(kcli, "probe-a", ca, kca, 3, NULL, false);
	write_cert(path_ca, ca);
	write_cert(path_srv, srv);
	write_cert(path_cli, cli);
	write_key(path_srv_key, ksrv, 0600);
	write_key(path_cli_key, kcli, 0600);
	write_key(path_other_key, kother, 0600);
	X509_free(ca);
	X509_free(srv);
	X509_free(cli);
	EVP_PKEY_free(kca);
	EVP_PKEY_free(ksrv);
	EVP_PKEY_free(kcli);
	EVP_PKEY_free(kother);
	ERR_clear_error();
}

static void teardown(void)
{
	if (dir[0])
		nftw(dir, rm_one, 8, FTW_DEPTH | FTW_PHYS);
}

TestSuite(tlsutil, .init = setup, .fini = teardown);

/* ---- key file permissions ---- */

Test(tlsutil, key_readable_by_others_is_refused_naming_file_and_mode)
{
	char err[512];
	cr_assert_eq(chmod(path_cli_key, 0644), 0);
	cr_assert_eq(tlsutil_check_key_file(path_cli_key, err, sizeof err), -1);
	cr_expect(strstr(err, path_cli_key) != NULL, "%s", err);
	cr_expect(strstr(err, "0644") != NULL, "%s", err);
}

Test(tlsutil, key_with_group_bits_only_is_refused)
{
	char err[512];
	cr_assert_eq(chmod(path_cli_key, 0640), 0);
	cr_assert_eq(tlsutil_check_key_file(path_cli_key, err, sizeof err), -1);
	cr_expect(strstr(err, "0640") != NULL, "%s", err);
}

Test(tlsutil, key_0600_and_0400_are_accepted)
{
	char err[512] = "";
	cr_expect_eq(tlsutil_check_key_file(path_cli_key, err, sizeof err), 0, "%s", err);
	cr_assert_eq(chmod(path_cli_key, 0400), 0);
	cr_expect_eq(tlsutil_check_key_file(path_cli_key, err, sizeof err), 0, "%s", err);
}

Test(tlsutil, missing_key_names_the_file)
{
	char err[512], missing[160];
	snprintf(missing, sizeof missing, "%s/nope.key", dir);
	cr_assert_eq(tlsutil_check_key_file(missing, err, sizeof err), -1);
	cr_expect(strstr(err, missing) != NULL, "%s", err);
	cr_expect(strstr(err, "No such file") != NULL, "%s", err);
}

/* ---- identity ---- */

Test(tlsutil, identity_loads_and_leaves_no_error_behind)
{
	char err[512] = "";
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	cr_assert_not_null(ctx);
	cr_expect_eq(tlsutil_use_identity(ctx, path_cli, path_cli_key, err, sizeof err), 0, "%s", err);
	cr_expect_not_null(SSL_CTX_get0_certificate(ctx));
	cr_expect_eq(ERR_peek_error(), 0);
	SSL_CTX_free(ctx);
}

Test(tlsutil, mismatched_cert_and_key_names_both)
{
	char err[512];
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	cr_assert_not_null(ctx);
	cr_assert_eq(tlsutil_use_identity(ctx, path_cli, path_other_key, err, sizeof err), -1);
	cr_expect(strstr(err, "does not match") != NULL, "%s", err);
	cr_expect(strstr(err, path_cli) != NULL, "%s", err);
	cr_expect(strstr(err, path_other_key) != NULL, "%s", err);
	cr_expect_eq(ERR_peek_error(), 0, "the queue must be left empty");
	SSL_CTX_free(ctx);
}

Test(tlsutil, identity_refuses_a_world_readable_key_before_loading)
{
	char err[512];
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	cr_assert_not_null(ctx);
	cr_assert_eq(chmod(path_cli_key, 0604), 0);
	cr_assert_eq(tlsutil_use_identity(ctx, path_cli, path_cli_key, err, sizeof err), -1);
	cr_expect(strstr(err, "0604") != NULL, "%s", err);
	cr_expect_null(SSL_CTX_get0_certificate(ctx), "nothing loaded");
	SSL_CTX_free(ctx);
}

Test(tlsutil, garbage_certificate_names_file_and_reason)
{
	char err[512], bad[160];
	snprintf(bad, sizeof bad, "%s/garbage.pem", dir);
	FILE *f = fopen(bad, "w");
	cr_assert_not_null(f);
	fputs("not a certificate\n", f);
	cr_assert_eq(fclose(f), 0);
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	cr_assert_not_null(ctx);
	cr_assert_eq(tlsutil_use_identity(ctx, bad, path_cli_key, err, sizeof err), -1);
	cr_expect(strstr(err, bad) != NULL, "%s", err);
	cr_expect(strstr(err, "no OpenSSL error reported") == NULL, "a reason from OpenSSL: %s", err);
	cr_expect_eq(ERR_peek_error(), 0);
	SSL_CTX_free(ctx);
}

Test(tlsutil, unreadable_ca_file_names_it)
{
	char err[512], missing[160];
	snprintf(missing, sizeof missing, "%s/no-ca.pem", dir);
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	cr_assert_not_null(ctx);
	cr_assert_eq(tlsutil_use_ca_file(ctx, missing, err, sizeof err), -1);
	cr_expect(strstr(err, missing) != NULL, "%s", err);
	cr_expect_eq(ERR_peek_error(), 0);
	SSL_CTX_free(ctx);
}

/* ---- the error queue ---- */

Test(tlsutil, whole_queue_becomes_one_message)
{
	char buf[1024];
	ERR_raise_data(ERR_LIB_SSL, SSL_R_CERTIFICATE_VERIFY_FAILED, "first entry %d", 1);
	ERR_raise_data(ERR_LIB_X509, X509_R_KEY_VALUES_MISMATCH, "second entry");
	ERR_raise(ERR_LIB_SSL, SSL_R_NO_SHARED_CIPHER);
	tlsutil_err_drain(buf, sizeof buf);
	const char *a = strstr(buf, "first entry 1");
	const char *b = strstr(buf, "second entry");
	const char *c = strstr(buf, "no shared cipher");
	cr_assert(a && b && c, "all three entries: %s", buf);
	cr_expect(a < b && b < c, "oldest first: %s", buf);
	cr_expect(strstr(buf, "; ") != NULL, "%s", buf);
	cr_expect_eq(ERR_peek_error(), 0, "queue emptied");
}

Test(tlsutil, empty_queue_says_so)
{
	char buf[128];
	ERR_clear_error();
	cr_expect_str_eq(tlsutil_err_drain(buf, sizeof buf), "no OpenSSL error reported");
}

Test(tlsutil, long_queue_is_cut_with_dots_and_still_emptied)
{
	char buf[64];
	for (int i = 0; i < 10; i++)
		ERR_raise_data(ERR_LIB_SSL, SSL_R_NO_SHARED_CIPHER, "entry %d", i);
	tlsutil_err_drain(buf, sizeof buf);
	cr_expect_eq(strlen(buf), sizeof buf - 1, "%s", buf);
	cr_expect_str_eq(buf + sizeof buf - 4, "...");
	cr_expect_eq(ERR_peek_error(), 0, "queue emptied even when cut");
}

/* ---- the mTLS contexts, shaken hands over memory BIOs ---- */

/* Runs the handshake between two SSLs joined by a BIO pair until both are
 * done or neither makes progress. Returns 1 when both completed. */
static int pump(SSL *cli, SSL *srv)
{
	int cdone = 0, sdone = 0;
	for (int round = 0; round < 50 && !(cdone && sdone); round++) {
		if (!cdone) {
			int r = SSL_do_handshake(cli);
			if (r == 1)
				cdone = 1;
			else if (SSL_get_error(cli, r) != SSL_ERROR_WANT_READ)
				return 0;
		}
		if (!sdone) {
			int r = SSL_do_handshake(srv);
			if (r == 1)
				sdone = 1;
			else if (SSL_get_error(srv, r) != SSL_ERROR_WANT_READ)
				return 0;
		}
	}
	if (cdone && sdone && SSL_version(cli) >= TLS1_3_VERSION) {
		/* under TLS 1.3 the server judges the client certificate after the
		 * client thinks it is done: one read on each side settles it */
		char b;
		int r = SSL_read(srv, &b, 1);
		if (r <= 0 && SSL_get_error(srv, r) != SSL_ERROR_WANT_READ)
			return 0;
	}
	return cdone && sdone;
}

struct pair {
	SSL_CTX *cctx, *sctx;
	SSL *cli, *srv;
};

/* A server from tlsutil_ctx_new and a client from cctx (taken), joined. */
static void pair_join(struct pair *p, SSL_CTX *cctx, const char *host)
{
	char err[512] = "";
	struct tlsutil_identity sid = { path_ca, path_srv, path_srv_key };
	BIO *bc, *bs;

	p->cctx = cctx;
	p->sctx = tlsutil_ctx_new(TLSUTIL_SERVER, &sid, err, sizeof err);
	cr_assert_not_null(p->sctx, "%s", err);
	p->cli = SSL_new(p->cctx);
	p->srv = SSL_new(p->sctx);
	cr_assert(p->cli && p->srv);
	cr_assert_eq(BIO_new_bio_pair(&bc, 0, &bs, 0), 1);
	SSL_set_bio(p->cli, bc, bc);
	SSL_set_bio(p->srv, bs, bs);
	SSL_set_connect_state(p->cli);
	SSL_set_accept_state(p->srv);
	cr_assert_eq(tlsutil_set_peer_name(p->cli, host, err, sizeof err), 0, "%s", err);
}

static void pair_new(struct pair *p, const struct tlsutil_identity *cid, const char *host)
{
	char err[512] = "";
	SSL_CTX *cctx = tlsutil_ctx_new(TLSUTIL_CLIENT, cid, err, sizeof err);
	cr_assert_not_null(cctx, "%s", err);
	pair_join(p, cctx, host);
}

static void pair_free(struct pair *p)
{
	SSL_free(p->cli);
	SSL_free(p->srv);
	SSL_CTX_free(p->cctx);
	SSL_CTX_free(p->sctx);
	ERR_clear_error();
}

Test(tlsutil, mtls_handshake_by_name_and_by_address)
{
	struct tlsutil_identity cid = { path_ca, path_cli, path_cli_key };
	const char *hosts[] = { "collector.test", "127.0.0.1" };
	for (int i = 0; i < 2; i++) {
		struct pair p;
		pair_new(&p, &cid, hosts[i]);
		cr_expect_eq(pump(p.cli, p.srv), 1, "%s", hosts[i]);
		cr_expect_eq(SSL_get_verify_result(p.cli), X509_V_OK, "%s", hosts[i]);
		X509 *peer = SSL_get1_peer_certificate(p.srv);
		cr_expect_not_null(peer, "the server saw the client certificate");
		X509_free(peer);
		pair_free(&p);
	}
}

Test(tlsutil, client_checks_the_name_it_was_given)
{
	struct tlsutil_identity cid = { path_ca, path_cli, path_cli_key };
	struct pair p;
	pair_new(&p, &cid, "other.test");
	cr_expect_eq(pump(p.cli, p.srv), 0);
	cr_expect_eq(SSL_get_verify_result(p.cli), X509_V_ERR_HOSTNAME_MISMATCH);
	pair_free(&p);
}

Test(tlsutil, server_context_needs_every_file)
{
	char err[512];
	struct tlsutil_identity sid = { path_ca, path_srv, NULL };
	cr_expect_null(tlsutil_ctx_new(TLSUTIL_SERVER, &sid, err, sizeof err));
	cr_expect(strstr(err, "required") != NULL, "%s", err);
}

Test(tlsutil, server_refuses_a_client_without_certificate)
{
	char err[512] = "";
	SSL_CTX *bare = SSL_CTX_new(TLS_client_method());
	cr_assert_not_null(bare);
	cr_assert_eq(tlsutil_use_ca_file(bare, path_ca, err, sizeof err), 0, "%s", err);
	SSL_CTX_set_verify(bare, SSL_VERIFY_PEER, NULL);
	struct pair p;
	pair_join(&p, bare, "collector.test");
	cr_expect_eq(pump(p.cli, p.srv), 0, "no client certificate: refused");
	pair_free(&p);
}

Test(tlsutil, server_refuses_a_client_from_another_ca)
{
	/* a self-signed client certificate the CA never issued */
	char selfc[160], selfk[160];
	snprintf(selfc, sizeof selfc, "%s/self.pem", dir);
	snprintf(selfk, sizeof selfk, "%s/self.key", dir);
	EVP_PKEY *k = EVP_EC_gen("P-256");
	cr_assert_not_null(k);
	X509 *x = make_cert(k, "probe-rogue", NULL, NULL, 9, NULL, false);
	write_cert(selfc, x);
	write_key(selfk, k, 0600);
	X509_free(x);
	EVP_PKEY_free(k);
	struct tlsutil_identity cid = { path_ca, selfc, selfk };
	struct pair p;
	pair_new(&p, &cid, "collector.test");
	cr_expect_eq(pump(p.cli, p.srv), 0, "a client from another CA: refused");
	cr_expect_neq(SSL_get_verify_result(p.srv), X509_V_OK);
	pair_free(&p);
}

Test(tlsutil, overlong_sni_is_an_error_not_a_silent_skip)
{
	char err[512] = "", host[300];
	memset(host, 'a', sizeof host - 1);
	host[sizeof host - 1] = '\0';
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	cr_assert_not_null(ctx);
	SSL *ssl = SSL_new(ctx);
	cr_assert_not_null(ssl);
	cr_expect_eq(tlsutil_set_peer_name(ssl, host, err, sizeof err), -1);
	cr_expect(strstr(err, "SNI") != NULL, "%s", err);
	cr_expect_eq(ERR_peek_error(), 0);
	SSL_free(ssl);
	SSL_CTX_free(ctx);
}
