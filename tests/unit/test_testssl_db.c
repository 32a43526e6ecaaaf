/*
 * test_testssl_db.c - the testssl.sh client-simulation.txt loader, against
 * the real file from Debian's testssl.sh package and small temp files.
 */
#include <criterion/criterion.h>
#include <openssl/ssl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "profile.h"

/* testssl.sh 3.0.8 (Debian 12): clients in the file, and how many are
 * marked current=true. */
#define DB_CLIENTS 162
#define DB_CURRENT 35

static char tmp_path[64];

/* Writes text to a fresh temp file; its path is left in tmp_path. */
static const char *write_tmp(const char *text)
{
	int fd;
	size_t len = strlen(text);

	snprintf(tmp_path, sizeof tmp_path, "/tmp/tw_testssl_XXXXXX");
	fd = mkstemp(tmp_path);
	cr_assert_geq(fd, 0);
	cr_assert_eq(write(fd, text, len), (ssize_t)len);
	cr_assert_eq(close(fd), 0);
	return tmp_path;
}

static void tmp_cleanup(void)
{
	if (tmp_path[0] != '\0')
		unlink(tmp_path);
	tmp_path[0] = '\0';
}

/* One complete client block; %s is the name. */
#define BLOCK(name, extra)                                              \
	"     names+=(\"" name "\")\n"                                  \
	"     short+=(\"short_" name "\")\n"                            \
	"     ciphers+=(\"ECDHE-RSA-AES128-GCM-SHA256:RC4-MD5\")\n"     \
	"     ciphersuites+=(\"\")\n"                                   \
	"     sni+=(\"$SNI\")\n"                                        \
	"     warning+=(\"\")\n"                                        \
	"     handshakebytes+=(\"16030100\")\n"                         \
	"     protos+=(\"-no_ssl2\")\n"                                 \
	"     tlsvers+=(\"-tls1_2\")\n"                                 \
	"     lowest_protocol+=(\"0x0303\")\n"                          \
	"     highest_protocol+=(\"0x0303\")\n"                         \
	"     service+=(\"HTTP\")\n"                                    \
	"     minDhBits+=(-1)\n"                                        \
	"     maxDhBits+=(-1)\n"                                        \
	"     minRsaBits+=(-1)\n"                                       \
	"     maxRsaBits+=(-1)\n"                                       \
	"     minEcdsaBits+=(-1)\n"                                     \
	"     curves+=(\"X25519:prime256v1\")\n"                        \
	extra                                                           \
	"     current+=(false)\n"                                       \
	"\n"

TestSuite(testssl_db_real);

static struct profile_list list;
static char err[512];

static void real_setup(void)
{
	size_t skipped = 99;

	memset(&list, 0, sizeof list);
	cr_assert_eq(testssl_db_load(TESTSSL_DB_DEFAULT, &list, &skipped, err, sizeof err),
		     DB_CLIENTS, "%s", err);
	cr_assert_eq(skipped, 0);
}

static void real_teardown(void)
{
	profile_list_free(&list);
}

static const struct profile *must_find(const char *name)
{
	const struct profile *p = profile_find(&list, name);

	cr_assert_not_null(p, "client '%s' missing", name);
	return p;
}

Test(testssl_db_real, counts, .init = real_setup, .fini = real_teardown)
{
	size_t current = 0, emulatable = 0;

	cr_assert_eq(list.len, DB_CLIENTS);
	for (size_t i = 0; i < list.len; i++) {
		const struct profile *p = &list.items[i];

		cr_assert_eq(p->origin, PROFILE_TESTSSL);
		current += p->current;
		emulatable += p->emulatable;
		/* Not emulatable <=> a reason is given. */
		cr_assert_eq(p->unsupported_reason == NULL, p->emulatable, "%s", p->name);
		cr_assert(p->request_ocsp);
		cr_assert_null(p->sigalgs);
	}
	cr_assert_eq(current, DB_CURRENT);
	/* SSLv3-only clients can never be emulated by OpenSSL 3. */
	cr_assert_lt(emulatable, DB_CLIENTS);
	cr_assert_gt(emulatable, DB_CLIENTS - 10);
}

Test(testssl_db_real, java_8u161, .init = real_setup, .fini = real_teardown)
{
	const struct profile *p = must_find("Java 8u161");

	cr_assert_str_eq(p->short_name, "java_8u161");
	cr_assert_eq(p->min_version, TLS1_VERSION);
	cr_assert_eq(p->max_version, TLS1_2_VERSION);
	cr_assert_eq(p->seclevel, 0);
	cr_assert(p->send_sni);
	cr_assert(p->current);
	cr_assert(p->emulatable);
	cr_assert_not(p->requires_sha2);
	cr_assert_eq(p->min_rsa_bits, -1);
	cr_assert_eq(p->min_ecdsa_bits, -1);
	cr_assert_str_eq(p->services, "ANY");
	cr_assert_null(p->ciphersuites);
	cr_assert_null(p->alpn);
	cr_assert_eq(strncmp(p->ciphers, "ECDHE-ECDSA-AES256-SHA384:ECDHE-RSA-AES256-SHA384:", 50),
		     0, "%s", p->ciphers);
	/* Static ECDH suites are gone from OpenSSL since 1.1.0. */
	cr_assert_null(strstr(p->ciphers, "ECDH-ECDSA-AES256-SHA384"));
	cr_assert_not_null(strstr(p->caveat, "ECDH-ECDSA-AES256-SHA384"));
	cr_assert_eq(strncmp(p->groups, "prime256v1:secp384r1:secp521r1", 30), 0, "%s", p->groups);
}

Test(testssl_db_real, sni_and_versions, .init = real_setup, .fini = real_teardown)
{
	const struct profile *a = must_find("Android 2.3.7");
	const struct profile *f = must_find("Firefox 100 (Win 10)");
	const struct profile *ie6 = must_find("IE 6 XP");
	const struct profile *y = must_find("YandexBot 3.0");

	cr_assert_not(a->send_sni);                    /* sni+=("") */
	cr_assert_eq(a->min_version, TLS1_VERSION);    /* 0x0300 raised */
	cr_assert_eq(a->max_version, TLS1_VERSION);
	cr_assert_not_null(strstr(a->caveat, "SSLv3 not offered"));
	cr_assert_null(a->groups);                     /* curves+=("") */

	cr_assert(f->send_sni);
	cr_assert_eq(f->min_version, TLS1_2_VERSION);
	cr_assert_eq(f->max_version, TLS1_3_VERSION);
	cr_assert_eq(f->seclevel, 1);
	cr_assert_str_eq(f->ciphersuites, "TLS_AES_128_GCM_SHA256:TLS_CHACHA20_POLY1305_SHA256:"
			 "TLS_AES_256_GCM_SHA384");
	cr_assert_str_eq(f->alpn, "h2,http/1.1");
	cr_assert_str_eq(f->groups, "X25519:secp256r1:secp384r1:secp521r1:ffdhe2048:ffdhe3072");

	cr_assert_not(ie6->emulatable);
	cr_assert_not_null(strstr(ie6->unsupported_reason, "SSLv3"));
	cr_assert_not(y->emulatable);
	cr_assert_str_eq(y->unsupported_reason, "SSLv3-only client: OpenSSL 3 has no SSLv3");
}

Test(testssl_db_real, certificate_policy_fields, .init = real_setup, .fini = real_teardown)
{
	const struct profile *ats = must_find("Apple ATS 9 iOS 9");
	const struct profile *j17 = must_find("Java 17.0.3 (OpenJDK)");

	cr_assert_eq(ats->min_rsa_bits, 2048);
	cr_assert_eq(ats->min_ecdsa_bits, 256);
	cr_assert(ats->requires_sha2);
	/* Its field is misspelt "requireseha2" in testssl.sh 3.0.8. */
	cr_assert(j17->requires_sha2);
	cr_assert_eq(j17->min_ecdsa_bits, 224);
}

Test(testssl_db_real, ie8_xp_matches_what_this_build_offers, .init = real_setup,
     .fini = real_teardown)
{
	static const char ie8[] = "RC4-MD5:RC4-SHA:DES-CBC3-SHA:DES-CBC-SHA:EXP1024-RC4-SHA:"
		"EXP1024-DES-CBC-SHA:EXP-RC4-MD5:EXP-RC2-CBC-MD5:EDH-DSS-DES-CBC3-SHA:"
		"EDH-DSS-DES-CBC-SHA:EXP1024-DHE-DSS-DES-CBC-SHA";
	const struct profile *p = must_find("IE 8 XP");
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	bool any;

	cr_assert_not_null(ctx);
	SSL_CTX_set_security_level(ctx, 0);
	any = SSL_CTX_set_cipher_list(ctx, ie8) == 1;
	SSL_CTX_free(ctx);
	cr_assert_eq(p->emulatable, any, "IE 8 XP: %s", p->unsupported_reason);
	if (!any)
		cr_assert_not_null(strstr(p->caveat, "RC4-MD5"));
}

Test(testssl_db_real, every_emulatable_client_builds_an_ssl_ctx, .init = real_setup,
     .fini = real_teardown)
{
	for (size_t i = 0; i < list.len; i++) {
		const struct profile *p = &list.items[i];
		SSL_CTX *ctx;
		SSL *ssl;
		STACK_OF(SSL_CIPHER) *sk;

		if (!p->emulatable)
			continue;
		ctx = SSL_CTX_new(TLS_client_method());
		cr_assert_not_null(ctx);
		SSL_CTX_set_security_level(ctx, p->seclevel);
		cr_assert_eq(SSL_CTX_set_min_proto_version(ctx, p->min_version), 1, "%s", p->name);
		cr_assert_eq(SSL_CTX_set_max_proto_version(ctx, p->max_version), 1, "%s", p->name);
		if (p->ciphers)
			cr_assert_eq(SSL_CTX_set_cipher_list(ctx, p->ciphers), 1, "%s", p->name);
		if (p->ciphersuites)
			cr_assert_eq(SSL_CTX_set_ciphersuites(ctx, p->ciphersuites), 1, "%s",
				     p->name);
		if (p->groups)
			cr_assert_eq(SSL_CTX_set1_groups_list(ctx, p->groups), 1, "%s: %s",
				     p->name, p->groups);
		ssl = SSL_new(ctx);
		cr_assert_not_null(ssl);
		sk = SSL_get1_supported_ciphers(ssl);
		cr_assert(sk && sk_SSL_CIPHER_num(sk) > 0, "%s offers nothing", p->name);
		sk_SSL_CIPHER_free(sk);
		SSL_free(ssl);
		SSL_CTX_free(ctx);
	}
}

TestSuite(testssl_db);

Test(testssl_db, builtins_win_over_duplicates)
{
	struct profile_list l = {0};
	size_t nbuiltin, skipped = 0, named = 0;
	int n;

	cr_assert_eq(profile_add_builtins(&l), 0);
	nbuiltin = l.len;
	for (size_t i = 0; i < l.len; i++)
		named += l.items[i].short_name != NULL;    /* the real clients */
	cr_assert_geq(named, 10);
	n = testssl_db_load(TESTSSL_DB_DEFAULT, &l, &skipped, err, sizeof err);
	cr_assert_eq(n, DB_CLIENTS - (int)named, "%s", err);
	cr_assert_eq(skipped, named);
	cr_assert_eq(l.len, nbuiltin + (size_t)n);
	cr_assert_eq(profile_find(&l, "Java 8u161")->origin, PROFILE_BUILTIN);
	cr_assert_eq(profile_find(&l, "Java 8u31")->origin, PROFILE_TESTSSL);
	for (size_t i = 0; i < l.len; i++)
		for (size_t j = i + 1; j < l.len; j++)
			cr_assert_str_neq(l.items[i].name, l.items[j].name);
	profile_list_free(&l);
}

Test(testssl_db, builtin_clients_equal_their_testssl_entries)
{
	/* Same record, same normalisation: only the origin may differ. */
	struct profile_list b = {0}, t = {0};

	cr_assert_eq(profile_add_builtins(&b), 0);
	cr_assert_eq(testssl_db_load(TESTSSL_DB_DEFAULT, &t, NULL, err, sizeof err), DB_CLIENTS,
		     "%s", err);
	for (size_t i = 0; i < b.len; i++) {
		const struct profile *x = &b.items[i], *y;

		if (x->short_name == NULL)
			continue;
		y = profile_find(&t, x->name);
		cr_assert_not_null(y, "%s not in testssl.sh's file", x->name);
#define SAME_STR(f) cr_assert_str_eq(x->f ? x->f : "(null)", y->f ? y->f : "(null)", \
				     "%s: " #f, x->name)
		SAME_STR(short_name);
		SAME_STR(ciphers);
		SAME_STR(ciphersuites);
		SAME_STR(groups);
		SAME_STR(alpn);
		SAME_STR(services);
		SAME_STR(caveat);
#undef SAME_STR
		cr_assert_eq(x->min_version, y->min_version, "%s", x->name);
		cr_assert_eq(x->max_version, y->max_version, "%s", x->name);
		cr_assert_eq(x->send_sni, y->send_sni, "%s", x->name);
		cr_assert_eq(x->seclevel, y->seclevel, "%s", x->name);
		cr_assert_eq(x->min_rsa_bits, y->min_rsa_bits, "%s", x->name);
		cr_assert_eq(x->min_ecdsa_bits, y->min_ecdsa_bits, "%s", x->name);
		cr_assert_eq(x->requires_sha2, y->requires_sha2, "%s", x->name);
		cr_assert_eq(x->current, y->current, "%s", x->name);
	}
	profile_list_free(&b);
	profile_list_free(&t);
}

Test(testssl_db, missing_file_names_the_path)
{
	struct profile_list l = {0};

	cr_assert_eq(testssl_db_load("/nonexistent/tw/client-simulation.txt", &l, NULL, err,
				     sizeof err), -1);
	cr_assert_not_null(strstr(err, "/nonexistent/tw/client-simulation.txt"), "%s", err);
	cr_assert_eq(l.len, 0);
}

Test(testssl_db, parses_a_small_file, .fini = tmp_cleanup)
{
	struct profile_list l = {0};
	const char *path = write_tmp(
		"# comment\n"
		"\n"
		BLOCK("one", "     requiresSha2+=(true)   # trailing comment\n")
		"     newFieldFromTestssl32+=(\"ignored\")\r\n"
		"names+=(\"two\")\r\n"
		"short+=(\"two\")\r\n"
		"ciphers+=(\"AES128-SHA\")\r\n"
		"ciphersuites+=(\"\")\r\n"
		"sni+=(\"\")\r\n"
		"lowest_protocol+=(\"0x0301\")\r\n"
		"highest_protocol+=(\"0x0302\")\r\n"
		"service+=(\"HTTP,FTP\")\r\n"
		"minRsaBits+=(1024)\r\n"
		"minEcdsaBits+=(-1)\r\n"
		"curves+=(\"\")\r\n"
		"current+=(true)\r\n");
	const struct profile *one, *two;

	cr_assert_eq(testssl_db_load(path, &l, NULL, err, sizeof err), 2, "%s", err);
	one = profile_find(&l, "one");
	two = profile_find(&l, "two");
	cr_assert_not_null(one);
	cr_assert_not_null(two);
	cr_assert_str_eq(one->short_name, "short_one");
	cr_assert_str_eq(one->ciphers, "ECDHE-RSA-AES128-GCM-SHA256");
	cr_assert_not_null(strstr(one->caveat, "RC4-MD5"));
	cr_assert_str_eq(one->groups, "X25519:prime256v1");
	cr_assert(one->requires_sha2);
	cr_assert(one->send_sni);
	cr_assert_not(one->current);
	cr_assert_eq(one->min_version, TLS1_2_VERSION);
	cr_assert_eq(one->seclevel, 1);

	cr_assert_not(two->send_sni);
	cr_assert_not(two->requires_sha2);    /* optional, defaults to false */
	cr_assert(two->current);
	cr_assert_eq(two->min_rsa_bits, 1024);
	cr_assert_eq(two->min_version, TLS1_VERSION);
	cr_assert_eq(two->max_version, TLS1_1_VERSION);
	cr_assert_eq(two->seclevel, 0);
	cr_assert_str_eq(two->services, "HTTP,FTP");
	cr_assert_null(two->groups);
	profile_list_free(&l);
}

Test(testssl_db, empty_file_loads_nothing, .fini = tmp_cleanup)
{
	struct profile_list l = {0};

	cr_assert_eq(testssl_db_load(write_tmp("# nothing\n\n"), &l, NULL, err, sizeof err), 0,
		     "%s", err);
	cr_assert_eq(l.len, 0);
}

/* Loads text after the built-ins; expects -1, an error starting with
 * "path:line: want" and the list exactly as before. */
static void expect_error(const char *text, int line, const char *want)
{
	struct profile_list l = {0};
	const char *path = write_tmp(text);
	char prefix[128];
	size_t before;

	cr_assert_eq(profile_add_builtins(&l), 0);
	before = l.len;
	err[0] = '\0';
	cr_assert_eq(testssl_db_load(path, &l, NULL, err, sizeof err), -1, "accepted: %s", text);
	snprintf(prefix, sizeof prefix, "%s:%d: %s", path, line, want);
	cr_assert_eq(strncmp(err, prefix, strlen(prefix)), 0, "got \"%s\", want \"%s\"", err,
		     prefix);
	cr_assert_eq(l.len, before, "a failed load must not change the list");
	profile_list_free(&l);
}

Test(testssl_db, malformed_line_gives_file_and_line, .fini = tmp_cleanup)
{
	/* One good client first: it must be rolled back too. */
	expect_error(BLOCK("good", "") "names+=(\"bad\")\nshort+=\"x\"\n", 22,
		     "expected NAME+=(VALUE)");
}

Test(testssl_db, malformed_variants, .fini = tmp_cleanup)
{
	expect_error("names+=(\"unterminated)\n", 1, "expected NAME+=(VALUE)");
	tmp_cleanup();
	expect_error("names+=(\"a\") junk\n", 1, "expected NAME+=(VALUE)");
	tmp_cleanup();
	expect_error("\n\nnames=(\"a\")\n", 3, "expected NAME+=(VALUE)");
	tmp_cleanup();
	expect_error("names+=(\"a\\\"b\")\n", 1, "expected NAME+=(VALUE)");
	tmp_cleanup();
	expect_error("echo hi\n", 1, "expected NAME+=(VALUE)");
}

Test(testssl_db, missing_field_names_client_and_field, .fini = tmp_cleanup)
{
	expect_error("# x\nnames+=(\"Lonely\")\nshort+=(\"l\")\n", 2,
		     "client 'Lonely' lacks ciphers");
	tmp_cleanup();
	/* The check runs when the next client starts, not only at EOF. */
	expect_error("names+=(\"A\")\nnames+=(\"B\")\n" BLOCK("C", ""), 1,
		     "client 'A' lacks short");
}

Test(testssl_db, bad_values, .fini = tmp_cleanup)
{
	expect_error("names+=(\"A\")\nsni+=(\"example.com\")\n", 2, "sni must be");
	tmp_cleanup();
	expect_error("names+=(\"A\")\nlowest_protocol+=(\"0x0305\")\n", 2, "bad protocol version");
	tmp_cleanup();
	expect_error("names+=(\"A\")\nminRsaBits+=(12ab)\n", 2, "bad number");
	tmp_cleanup();
	expect_error("names+=(\"A\")\ncurrent+=(yes)\n", 2, "want true or false");
	tmp_cleanup();
	expect_error("ciphers+=(\"AES128-SHA\")\n", 1, "field before the first names+=");
	tmp_cleanup();
	expect_error("names+=(\"A\")\nshort+=(\"a\")\nshort+=(\"b\")\n", 3,
		     "client 'A' sets short twice");
	tmp_cleanup();
	expect_error("names+=(\"\")\n", 1, "empty client name");
}

Test(testssl_db, duplicate_within_the_file_is_skipped, .fini = tmp_cleanup)
{
	struct profile_list l = {0};
	size_t skipped = 0;
	const char *path = write_tmp(BLOCK("dup", "") BLOCK("dup", "") BLOCK("other", ""));

	cr_assert_eq(testssl_db_load(path, &l, &skipped, err, sizeof err), 2, "%s", err);
	cr_assert_eq(skipped, 1);
	cr_assert_eq(l.len, 2);
	profile_list_free(&l);
}
