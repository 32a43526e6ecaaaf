/*
 * test_profile.c - profile lists, normalisation and the built-in table.
 *
 * What this OpenSSL build can offer is asked of OpenSSL here too (never
 * assumed), so the assertions hold on any OpenSSL 3 build.
 */
#include <criterion/criterion.h>
#include <openssl/ssl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "profile.h"
#include "profile_cn.h"
#include "profile_hello.h"

static const char *const builtin_names[] = {
	"modern", "intermediate", "legacy", "tls13",
	"Android 2.3.7", "Android 4.4.2", "Java 8u161", "IE 11 Win 7",
	"Firefox 100 (Win 10)", "Chrome 101 (Win 10)", "Safari 15.4 (macOS 12.3.1)",
	"OpenSSL 1.0.2e", "Java 17.0.3 (OpenJDK)",
};

/* Whether this build can offer the TLS<=1.2 cipher at all. */
static bool build_has_cipher(const char *name)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	bool ok;

	cr_assert_not_null(ctx);
	SSL_CTX_set_security_level(ctx, 0);
	ok = SSL_CTX_set_cipher_list(ctx, name) == 1;
	SSL_CTX_free(ctx);
	return ok;
}

/* True when s is one of the ':' separated entries of list. */
static bool in_list(const char *list, const char *s)
{
	size_t n = strlen(s);

	for (const char *p = list; p && *p; ) {
		size_t tl = strcspn(p, ":");
		if (tl == n && strncmp(p, s, n) == 0)
			return true;
		p += tl + (p[tl] == ':');
	}
	return false;
}

/* How many times s occurs in hay. */
static int count_of(const char *hay, const char *s)
{
	int n = 0;

	for (const char *p = hay; p && (p = strstr(p, s)) != NULL; p += strlen(s))
		n++;
	return n;
}

/*
 * Configures a real client SSL_CTX the way tlsctx.c does and checks that
 * every knob is accepted and that a ClientHello would carry ciphers.
 */
static void assert_builds_ssl_ctx(const struct profile *p)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	SSL *ssl;
	STACK_OF(SSL_CIPHER) *sk;

	cr_assert_not_null(ctx);
	SSL_CTX_set_security_level(ctx, p->seclevel);
	cr_assert_eq(SSL_CTX_set_min_proto_version(ctx, p->min_version), 1, "%s: min", p->name);
	cr_assert_eq(SSL_CTX_set_max_proto_version(ctx, p->max_version), 1, "%s: max", p->name);
	if (p->ciphers)
		cr_assert_eq(SSL_CTX_set_cipher_list(ctx, p->ciphers), 1, "%s: ciphers %s",
			     p->name, p->ciphers);
	else
		cr_assert_eq(p->min_version, TLS1_3_VERSION, "%s: no ciphers but not TLS1.3-only",
			     p->name);
	if (p->ciphersuites)
		cr_assert_eq(SSL_CTX_set_ciphersuites(ctx, p->ciphersuites), 1, "%s: suites",
			     p->name);
	if (p->groups)
		cr_assert_eq(SSL_CTX_set1_groups_list(ctx, p->groups), 1, "%s: groups %s",
			     p->name, p->groups);
	ssl = SSL_new(ctx);
	cr_assert_not_null(ssl);
	/* What OpenSSL would really put in the ClientHello at this level
	 * and these versions: must not be empty. */
	sk = SSL_get1_supported_ciphers(ssl);
	cr_assert_not_null(sk, "%s: nothing to offer", p->name);
	cr_assert_gt(sk_SSL_CIPHER_num(sk), 0, "%s: nothing to offer", p->name);
	sk_SSL_CIPHER_free(sk);
	SSL_free(ssl);
	SSL_CTX_free(ctx);
}

TestSuite(profile_list);

Test(profile_list, push_makes_a_deep_copy)
{
	struct profile_list l = {0};
	char name[] = "custom-a", ciphers[] = "AES128-SHA";
	struct profile p = {
		.name = name, .ciphers = ciphers, .origin = PROFILE_CUSTOM,
		.min_version = TLS1_2_VERSION, .seclevel = 3, .send_sni = true,
	};

	cr_assert_eq(profile_list_push(&l, &p), 0);
	cr_assert_eq(l.len, 1);
	/* Changing the caller's strings must not reach the list's copy. */
	name[0] = 'X';
	ciphers[0] = 'X';
	cr_assert_str_eq(l.items[0].name, "custom-a");
	cr_assert_str_eq(l.items[0].ciphers, "AES128-SHA");
	cr_assert_neq(l.items[0].name, name);
	cr_assert_null(l.items[0].groups);
	cr_assert_eq(l.items[0].min_version, TLS1_2_VERSION);
	cr_assert_eq(l.items[0].seclevel, 3);
	cr_assert(l.items[0].send_sni);
	profile_list_free(&l);
	cr_assert_null(l.items);
	cr_assert_eq(l.len, 0);
	cr_assert_eq(l.cap, 0);
}

Test(profile_list, push_rejects_a_nameless_profile)
{
	struct profile_list l = {0};
	struct profile p = { .ciphers = (char *)"AES128-SHA" };

	cr_assert_eq(profile_list_push(&l, &p), -1);
	cr_assert_eq(l.len, 0);
	profile_list_free(&l);
}

Test(profile_list, grows_and_finds_every_entry)
{
	struct profile_list l = {0};
	char name[32], sn[32];

	for (int i = 0; i < 100; i++) {
		struct profile p = { .name = name, .short_name = sn };

		snprintf(name, sizeof name, "client %d", i);
		snprintf(sn, sizeof sn, "c%d", i);
		cr_assert_eq(profile_list_push(&l, &p), 0);
	}
	cr_assert_eq(l.len, 100);
	for (int i = 0; i < 100; i++) {
		const struct profile *f;

		snprintf(name, sizeof name, "client %d", i);
		snprintf(sn, sizeof sn, "c%d", i);
		f = profile_find(&l, name);
		cr_assert_not_null(f, "%s", name);
		cr_assert_str_eq(f->name, name);
		cr_assert_eq(profile_find(&l, sn), f, "short name %s", sn);
	}
	cr_assert_null(profile_find(&l, "client 100"));
	cr_assert_null(profile_find(&l, "Client 1"));   /* exact match only */
	cr_assert_null(profile_find(&l, NULL));
	profile_list_free(&l);
}

Test(profile_list, full_name_beats_short_name)
{
	struct profile_list l = {0};
	struct profile a = { .name = (char *)"Alpha", .short_name = (char *)"beta" };
	struct profile b = { .name = (char *)"beta" };

	cr_assert_eq(profile_list_push(&l, &a), 0);
	cr_assert_eq(profile_list_push(&l, &b), 0);
	cr_assert_eq(profile_find(&l, "beta"), &l.items[1]);
	profile_list_free(&l);
}

Test(profile_list, names_of_origins_and_versions)
{
	cr_assert_str_eq(profile_origin_name(PROFILE_BUILTIN), "builtin");
	cr_assert_str_eq(profile_origin_name(PROFILE_TESTSSL), "testssl");
	cr_assert_str_eq(profile_origin_name(PROFILE_CUSTOM), "custom");
	cr_assert_str_eq(profile_version_name(0), "any");
	cr_assert_str_eq(profile_version_name(SSL3_VERSION), "SSLv3");
	cr_assert_str_eq(profile_version_name(TLS1_VERSION), "TLSv1");
	cr_assert_str_eq(profile_version_name(TLS1_1_VERSION), "TLSv1.1");
	cr_assert_str_eq(profile_version_name(TLS1_2_VERSION), "TLSv1.2");
	cr_assert_str_eq(profile_version_name(TLS1_3_VERSION), "TLSv1.3");
	cr_assert_str_eq(profile_version_name(0x7f00), "unknown");
}

/* ---------------------------------------------------- normalisation */

static struct profile_caps *caps;

static void caps_setup(void)
{
	char err[256];

	caps = profile_caps_new(err, sizeof err);
	cr_assert_not_null(caps, "%s", err);
}

static void caps_teardown(void)
{
	profile_caps_free(caps);
}

TestSuite(normalise, .init = caps_setup, .fini = caps_teardown);

/* A TLS1.2 client record; tests change what they need. */
static struct profile_raw raw_tls12(const char *ciphers)
{
	return (struct profile_raw){
		.name = "raw", .short_name = "", .ciphers = ciphers,
		.ciphersuites = "", .curves = "", .services = "HTTP",
		.send_sni = true, .lowest_protocol = 0x0303, .highest_protocol = 0x0303,
		.min_rsa_bits = -1, .min_ecdsa_bits = 2048, .requires_sha2 = true,
		.current = true,
	};
}

Test(normalise, keeps_aead_drops_unavailable_and_names_it)
{
	struct profile_raw r = raw_tls12("EXP-RC4-MD5:ECDHE-RSA-AES128-GCM-SHA256"
					 ":DES-CBC3-SHA:ECDHE-RSA-AES128-GCM-SHA256");
	struct profile p;
	bool has3des = build_has_cipher("DES-CBC3-SHA");

	cr_assert_eq(profile_from_raw(caps, &r, PROFILE_TESTSSL, &p), 0);
	cr_assert(p.emulatable);
	cr_assert_null(p.unsupported_reason);
	/* Export suites left OpenSSL in 1.1.0; the AEAD suite stays, once. */
	cr_assert(in_list(p.ciphers, "ECDHE-RSA-AES128-GCM-SHA256"));
	cr_assert_not(in_list(p.ciphers, "EXP-RC4-MD5"));
	cr_assert_eq(count_of(p.ciphers, "ECDHE-RSA-AES128-GCM-SHA256"), 1, "%s", p.ciphers);
	cr_assert_not_null(p.caveat);
	cr_assert_not_null(strstr(p.caveat, "unavailable in this OpenSSL build: EXP-RC4-MD5"),
			   "%s", p.caveat);
	/* 3DES: whatever this build really does. */
	cr_assert_eq(in_list(p.ciphers, "DES-CBC3-SHA"), has3des);
	cr_assert_eq(strstr(p.caveat, "DES-CBC3-SHA") != NULL, !has3des, "%s", p.caveat);
	/* Data fields pass through. */
	cr_assert_str_eq(p.services, "HTTP");
	cr_assert_null(p.short_name);          /* "" means none */
	cr_assert_null(p.ciphersuites);        /* max TLS1.2 */
	cr_assert_null(p.groups);              /* "" means none */
	cr_assert_null(p.alpn);
	cr_assert_eq(p.min_rsa_bits, -1);
	cr_assert_eq(p.min_ecdsa_bits, 2048);
	cr_assert(p.requires_sha2);
	cr_assert(p.current);
	cr_assert(p.request_ocsp);
	cr_assert_eq(p.seclevel, 1);           /* lowest is TLS1.2 */
	cr_assert_eq(p.origin, PROFILE_TESTSSL);
	profile_free(&p);
}

Test(normalise, srp_suites_are_dropped_with_their_own_reason)
{
	struct profile_raw r = raw_tls12("SRP-RSA-AES-128-CBC-SHA:AES128-SHA");
	struct profile p;

	cr_assert_eq(profile_from_raw(caps, &r, PROFILE_TESTSSL, &p), 0);
	cr_assert_str_eq(p.ciphers, "AES128-SHA");
	cr_assert_not_null(strstr(p.caveat, "SRP/PSK credentials: SRP-RSA-AES-128-CBC-SHA"),
			   "%s", p.caveat);
	profile_free(&p);
}

Test(normalise, groups_filtered_and_aliases_deduplicated)
{
	struct profile_raw r = raw_tls12("ECDHE-RSA-AES128-GCM-SHA256");
	struct profile p;

	r.curves = "X25519:x25519:prime256v1:secp256r1:nosuchcurve:secp384r1";
	cr_assert_eq(profile_from_raw(caps, &r, PROFILE_TESTSSL, &p), 0);
	/* OpenSSL rejects a list naming one group twice. */
	cr_assert_str_eq(p.groups, "X25519:prime256v1:secp384r1");
	cr_assert_not_null(strstr(p.caveat, "groups not offered, unavailable in this OpenSSL "
				  "build: nosuchcurve"), "%s", p.caveat);
	profile_free(&p);
}

Test(normalise, sslv3_lowest_is_raised_to_tls1_at_seclevel_0)
{
	struct profile_raw r = raw_tls12("AES128-SHA");
	struct profile p;

	r.lowest_protocol = 0x0300;
	r.highest_protocol = 0x0301;
	cr_assert_eq(profile_from_raw(caps, &r, PROFILE_TESTSSL, &p), 0);
	cr_assert(p.emulatable);
	cr_assert_eq(p.min_version, TLS1_VERSION);
	cr_assert_eq(p.max_version, TLS1_VERSION);
	cr_assert_eq(p.seclevel, 0);
	cr_assert_not_null(strstr(p.caveat, "SSLv3 not offered"), "%s", p.caveat);
	profile_free(&p);
}

Test(normalise, sslv3_only_client_is_not_emulatable)
{
	struct profile_raw r = raw_tls12("AES128-SHA");
	struct profile p;

	r.lowest_protocol = 0x0300;
	r.highest_protocol = 0x0300;
	cr_assert_eq(profile_from_raw(caps, &r, PROFILE_TESTSSL, &p), 0);
	cr_assert_not(p.emulatable);
	cr_assert_str_eq(p.unsupported_reason, "SSLv3-only client: OpenSSL 3 has no SSLv3");
	profile_free(&p);

	r.lowest_protocol = 0x0200;
	cr_assert_eq(profile_from_raw(caps, &r, PROFILE_TESTSSL, &p), 0);
	cr_assert_not(p.emulatable);
	cr_assert_not_null(strstr(p.unsupported_reason, "SSLv2/SSLv3-only"));
	profile_free(&p);
}

Test(normalise, no_available_cipher_is_not_emulatable)
{
	struct profile_raw r = raw_tls12("EXP-RC4-MD5:EXP-DES-CBC-SHA:GOST2001-GOST89-GOST89");
	struct profile p;

	cr_assert_eq(profile_from_raw(caps, &r, PROFILE_TESTSSL, &p), 0);
	cr_assert_not(p.emulatable);
	cr_assert_not_null(p.unsupported_reason);
	cr_assert_not_null(strstr(p.unsupported_reason, "available in this OpenSSL build"));
	cr_assert_null(p.ciphers);
	profile_free(&p);
}

Test(normalise, tls13_client_without_tls12_cipher_becomes_tls13_only)
{
	struct profile_raw r = raw_tls12("EXP-RC4-MD5:TLS_AES_128_GCM_SHA256");
	struct profile p;

	r.highest_protocol = 0x0304;
	r.ciphersuites = "TLS_AES_128_GCM_SHA256:TLS_NO_SUCH_SUITE";
	cr_assert_eq(profile_from_raw(caps, &r, PROFILE_TESTSSL, &p), 0);
	cr_assert(p.emulatable);
	cr_assert_null(p.ciphers);
	cr_assert_eq(p.min_version, TLS1_3_VERSION);
	cr_assert_str_eq(p.ciphersuites, "TLS_AES_128_GCM_SHA256");
	cr_assert_not_null(strstr(p.caveat, "TLS_NO_SUCH_SUITE"), "%s", p.caveat);
	/* A TLS1.3 suite listed among TLS1.2 ciphers is not "unavailable". */
	cr_assert_null(strstr(p.caveat, "TLS_AES_128_GCM_SHA256"), "%s", p.caveat);
	cr_assert_eq(p.seclevel, 1);
	assert_builds_ssl_ctx(&p);
	profile_free(&p);
}

Test(normalise, tls13_without_usable_suite_caps_at_tls12)
{
	struct profile_raw r = raw_tls12("AES128-GCM-SHA256");
	struct profile p;

	r.highest_protocol = 0x0304;
	r.ciphersuites = "";
	cr_assert_eq(profile_from_raw(caps, &r, PROFILE_TESTSSL, &p), 0);
	cr_assert_eq(p.max_version, TLS1_2_VERSION);
	cr_assert_null(p.ciphersuites);
	cr_assert_not_null(strstr(p.caveat, "maximum lowered to TLSv1.2"));
	profile_free(&p);
}

Test(normalise, tls13_only_without_usable_suite_is_not_emulatable)
{
	struct profile_raw r = raw_tls12("");
	struct profile p;

	r.lowest_protocol = r.highest_protocol = 0x0304;
	r.ciphersuites = "TLS_NO_SUCH_SUITE";
	cr_assert_eq(profile_from_raw(caps, &r, PROFILE_TESTSSL, &p), 0);
	cr_assert_not(p.emulatable);
	cr_assert_not_null(strstr(p.unsupported_reason, "TLS1.3-only"));
	profile_free(&p);
}

Test(normalise, rejects_missing_name)
{
	struct profile_raw r = raw_tls12("AES128-SHA");
	struct profile p;

	r.name = "";
	cr_assert_eq(profile_from_raw(caps, &r, PROFILE_TESTSSL, &p), -1);
	cr_assert_null(p.name);
}

/* ---------------------------------------------------------- built-ins */

static struct profile_list builtins;

static void builtins_setup(void)
{
	cr_assert_eq(profile_add_builtins(&builtins), 0);
}

static void builtins_teardown(void)
{
	profile_list_free(&builtins);
}

TestSuite(builtin, .init = builtins_setup, .fini = builtins_teardown);

static const struct profile *must_find(const char *name)
{
	const struct profile *p = profile_find(&builtins, name);

	cr_assert_not_null(p, "built-in '%s' missing", name);
	return p;
}

Test(builtin, contract_names_present_unique_and_builtin)
{
	cr_assert_geq(builtins.len, 14, "want 4 generic + at least 10 real clients");
	for (size_t i = 0; i < sizeof builtin_names / sizeof builtin_names[0]; i++)
		cr_assert_eq(must_find(builtin_names[i])->origin, PROFILE_BUILTIN);
	for (size_t i = 0; i < builtins.len; i++) {
		/* Only the real client that never sent SNI goes without. */
		cr_assert_eq(builtins.items[i].send_sni,
			     strcmp(builtins.items[i].name, "Android 2.3.7") != 0,
			     "%s", builtins.items[i].name);
		cr_assert(builtins.items[i].request_ocsp, "%s", builtins.items[i].name);
		for (size_t j = i + 1; j < builtins.len; j++)
			cr_assert_str_neq(builtins.items[i].name, builtins.items[j].name);
	}
}

Test(builtin, every_builtin_builds_a_real_ssl_ctx)
{
	for (size_t i = 0; i < builtins.len; i++) {
		cr_assert(builtins.items[i].emulatable, "%s: %s", builtins.items[i].name,
			  builtins.items[i].unsupported_reason);
		assert_builds_ssl_ctx(&builtins.items[i]);
	}
}

Test(builtin, generic_profiles)
{
	const struct profile *m = must_find("modern"), *i = must_find("intermediate");
	const struct profile *l = must_find("legacy"), *t = must_find("tls13");

	cr_assert_eq(m->min_version, TLS1_2_VERSION);
	cr_assert_eq(m->max_version, TLS1_3_VERSION);
	cr_assert_eq(m->seclevel, 2);
	/* ECDHE + AEAD only. */
	for (const char *c = m->ciphers; *c; ) {
		size_t tl = strcspn(c, ":");
		char name[64];

		cr_assert_lt(tl, sizeof name);
		memcpy(name, c, tl);
		name[tl] = '\0';
		cr_assert_eq(strncmp(name, "ECDHE-", 6), 0, "%s", name);
		cr_assert(strstr(name, "GCM") || strstr(name, "CHACHA20"), "%s", name);
		c += tl + (c[tl] == ':');
	}

	/* Mozilla intermediate v5.x, in its order. */
	cr_assert_str_eq(i->ciphers,
			 "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
			 "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
			 "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305:"
			 "DHE-RSA-AES128-GCM-SHA256:DHE-RSA-AES256-GCM-SHA384:"
			 "DHE-RSA-CHACHA20-POLY1305");
	cr_assert_str_eq(i->groups, "X25519:prime256v1:secp384r1");
	cr_assert_eq(i->min_version, TLS1_2_VERSION);
	cr_assert_eq(i->max_version, TLS1_3_VERSION);
	cr_assert_eq(i->seclevel, 2);

	cr_assert_eq(l->min_version, TLS1_VERSION);
	cr_assert_eq(l->max_version, TLS1_2_VERSION);
	cr_assert_eq(l->seclevel, 0);
	cr_assert(in_list(l->ciphers, "AES128-SHA"));            /* RSA kx, CBC */
	cr_assert(in_list(l->ciphers, "ECDHE-RSA-AES128-SHA"));
	if (build_has_cipher("DES-CBC3-SHA"))
		cr_assert(in_list(l->ciphers, "DES-CBC3-SHA"));
	else
		cr_assert(l->caveat && strstr(l->caveat, "DES-CBC3-SHA"),
			  "legacy must say 3DES is not offered");

	cr_assert_eq(t->min_version, TLS1_3_VERSION);
	cr_assert_eq(t->max_version, TLS1_3_VERSION);
	cr_assert_not_null(t->ciphersuites);
	cr_assert_null(t->caveat);
	for (const struct profile *g[] = { m, i, l, t }, **pp = g; pp < g + 4; pp++) {
		cr_assert((*pp)->send_sni, "%s", (*pp)->name);
		cr_assert((*pp)->request_ocsp, "%s", (*pp)->name);
		cr_assert_null((*pp)->alpn, "%s", (*pp)->name);
	}
}

Test(builtin, real_clients_transcribed_from_testssl)
{
	const struct profile *a = must_find("Android 2.3.7");
	const struct profile *c = must_find("Chrome 101 (Win 10)");
	const struct profile *j = must_find("Java 17.0.3 (OpenJDK)");
	const struct profile *s = must_find("Safari 15.4 (macOS 12.3.1)");

	/* No SNI, TLS1.0 only (its SSLv3 floor cannot be offered). */
	cr_assert_not(a->send_sni);
	cr_assert_eq(a->min_version, TLS1_VERSION);
	cr_assert_eq(a->max_version, TLS1_VERSION);
	cr_assert_eq(a->seclevel, 0);
	cr_assert_str_eq(a->short_name, "android_237");
	cr_assert_not_null(strstr(a->caveat, "RC4-MD5"));

	cr_assert_eq(c->min_version, TLS1_2_VERSION);
	cr_assert_eq(c->max_version, TLS1_3_VERSION);
	cr_assert_eq(c->seclevel, 1);
	cr_assert_str_eq(c->alpn, "h2,http/1.1");
	cr_assert(c->requires_sha2);
	cr_assert(c->current);
	cr_assert_str_eq(c->groups, "X25519:secp256r1:secp384r1");

	/* testssl.sh misspells this client's requiresSha2 ("requireseha2"). */
	cr_assert(j->requires_sha2);
	cr_assert_eq(j->min_ecdsa_bits, 224);
	cr_assert_str_eq(j->ciphersuites, "TLS_AES_256_GCM_SHA384:TLS_AES_128_GCM_SHA256:"
			 "TLS_CHACHA20_POLY1305_SHA256");
	cr_assert_str_eq(j->services, "ANY");

	cr_assert_eq(s->min_version, TLS1_VERSION);
	cr_assert_eq(s->max_version, TLS1_3_VERSION);
	cr_assert_eq(s->seclevel, 0);
	cr_assert_str_eq(s->alpn, "h2,http/1.1");
}

Test(builtin, found_by_short_name)
{
	cr_assert_eq(profile_find(&builtins, "java_8u161"), must_find("Java 8u161"));
}

/* ---- who reads the CN of a certificate without subjectAltName ---- */

TestSuite(profile_cn);

Test(profile_cn, current_browsers_and_generic_modern_do_not)
{
	const char *strict[] = {
		"modern", "tls13", "Chrome 58 Win 7", "Chrome 101 (Win 10)", "Firefox 100 (Win 10)",
		"Firefox 49 Win 7", "Edge 101 Win 10 21H2", "Opera 60 (Win 10)",
		"Safari 15.4 (macOS 12.3.1)", "Apple Mail (16.0)", "Thunderbird (91.9)", "go 1.17.8",
	};
	for (size_t i = 0; i < sizeof strict / sizeof strict[0]; i++)
		cr_assert(!profile_cn_read(strict[i]), "%s reads the CN", strict[i]);
}

Test(profile_cn, old_clients_java_openssl_and_ie_do)
{
	const char *cn[] = {
		"intermediate", "legacy", "Chrome 57 Win 7", "Firefox 47 Win 7", "Edge 17 (Win 10)",
		"Opera 17 Win 7", "Safari 13.0 (macOS 10.14.6)", "Safari 9 iOS 9", "IE 11 Win 7",
		"Java 17.0.3 (OpenJDK)", "OpenSSL 3.0.3 (git)", "Android 12 (native)",
		"Tor 17.0.9 Win 7", "Googlebot Feb 2018", "go 1.14", "Chromebook", NULL,
	};
	for (size_t i = 0; i < sizeof cn / sizeof cn[0]; i++)
		cr_assert(profile_cn_read(cn[i]), "%s does not read the CN", cn[i] ? cn[i] : "(null)");
}

/* the built-in set carries the flag through profile_from_raw() */
Test(profile_cn, builtin_profiles_carry_the_flag)
{
	struct profile_list list = { 0 };
	cr_assert_eq(profile_add_builtins(&list), 0);
	const struct profile *m = profile_find(&list, "modern");
	const struct profile *j = profile_find(&list, "Java 8u161");
	const struct profile *c = profile_find(&list, "Chrome 101 (Win 10)");
	cr_assert(m && j && c);
	cr_assert(!m->reads_cn);
	cr_assert(j->reads_cn);
	cr_assert(!c->reads_cn);
	profile_list_free(&list);
}

/* ---- the versions a recorded ClientHello offers ---- */

TestSuite(profile_hello);

/* A ClientHello record with one cipher suite and the given extensions. */
static const char *hello_hex(const char *ext_hex)
{
	static char buf[1024];
	size_t el = strlen(ext_hex) / 2;
	/* version, random, session id, suites, compression, extensions */
	size_t body = 2 + 32 + 1 + 2 + 2 + 1 + 1 + 2 + el;
	snprintf(buf, sizeof buf, "160301%04zx01%06zx0303%064d00000213010100%04zx%s", body + 4, body, 0,
		 el, ext_hex);
	return buf;
}

Test(profile_hello, draft_tls13_only_means_tls12)
{
	int lo = 0, hi = 0;
	/* supported_versions: GREASE, draft 23, TLS1.2, TLS1.1, TLS1.0 */
	cr_assert_eq(profile_hello_versions(hello_hex("002b000b0a7a7a7f17030303020301"), &lo, &hi), 1);
	cr_assert_eq(lo, 0x0301);
	cr_assert_eq(hi, 0x0303);
}

Test(profile_hello, tls13_and_tls12_only)
{
	int lo = 0, hi = 0;
	/* an SNI extension first, then supported_versions 1.3, 1.2 */
	cr_assert_eq(profile_hello_versions(
		hello_hex("0000000e000c0000096c6f63616c686f7374" "002b0005040304 0303"), &lo, &hi), 0,
		"a space is not hex: no verdict");
	cr_assert_eq(profile_hello_versions(
		hello_hex("0000000e000c0000096c6f63616c686f7374002b00050403040303"), &lo, &hi), 1);
	cr_assert_eq(lo, 0x0303);
	cr_assert_eq(hi, 0x0304);
}

Test(profile_hello, no_extension_or_not_a_tls_hello)
{
	int lo = 7, hi = 7;
	cr_assert_eq(profile_hello_versions(hello_hex("000b000403000102"), &lo, &hi), 0);
	cr_assert_eq(profile_hello_versions("8056010301003d0000001000", &lo, &hi), 0);  /* SSLv2 */
	cr_assert_eq(profile_hello_versions("1603", &lo, &hi), 0);                      /* cut */
	cr_assert_eq(profile_hello_versions(NULL, &lo, &hi), 0);
	cr_assert_eq(lo, 7);
	cr_assert_eq(hi, 7);
}

/* The real database: the clients of issue 10's disagreements. */
Test(profile_hello, testssl_database_clients)
{
	struct profile_list list = { 0 };
	size_t skipped = 0;
	char err[256] = "";
	if (access(TESTSSL_DB_DEFAULT, R_OK) != 0)
		cr_skip_test("%s not installed", TESTSSL_DB_DEFAULT);
	cr_assert_gt(testssl_db_load(TESTSSL_DB_DEFAULT, &list, &skipped, err, sizeof err), 0, "%s", err);
	const char *tls12_max[] = { "Chrome 57 Win 7", "Chrome 65 Win 7", "Firefox 53 Win 7",
				    "Firefox 59 Win 7", "Firefox 62 Win 7" };
	for (size_t i = 0; i < 5; i++) {
		const struct profile *p = profile_find(&list, tls12_max[i]);
		cr_assert(p, "%s missing", tls12_max[i]);
		cr_assert_eq(p->max_version, TLS1_2_VERSION, "%s", tls12_max[i]);
	}
	const char *tls12_min[] = { "Java 17.0.3 (OpenJDK)", "OpenSSL 1.1.1b (Debian)",
				    "OpenSSL 1.1.1d (Debian)" };
	for (size_t i = 0; i < 3; i++) {
		const struct profile *p = profile_find(&list, tls12_min[i]);
		cr_assert(p, "%s missing", tls12_min[i]);
		cr_assert_eq(p->min_version, TLS1_2_VERSION, "%s", tls12_min[i]);
		cr_assert_eq(p->max_version, TLS1_3_VERSION, "%s", tls12_min[i]);
	}
	const struct profile *c = profile_find(&list, "Chrome 70 Win 10");
	cr_assert(c && c->max_version == TLS1_3_VERSION && c->min_version == TLS1_VERSION);
	profile_list_free(&list);
}
