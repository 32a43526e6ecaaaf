/*
 * test_deploy.c - deploy/ as an operator uses it: deploy/pki.sh issues the
 * identities the collector checks, scripts/install.sh lays out what the
 * systemd units expect, the units pass systemd-analyze (verify and
 * security), sysusers.d/tmpfiles.d create the user and directories, the
 * Containerfiles and Kubernetes manifests hold what they must, and every
 * shipped configuration passes the daemons' --check-config.
 *
 * Run through tests/integration/test_deploy.sh (TW_SRC, TW_BUILD, TW_WORK,
 * TW_NODE_PREFIX). Commands run with the repository as working directory.
 */
#include <criterion/criterion.h>
#include <criterion/logging.h>
#include <errno.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "strbuf.h"

static const char *src, *build, *work;

static void setup(void)
{
	src = getenv("TW_SRC");
	build = getenv("TW_BUILD");
	work = getenv("TW_WORK");
	cr_assert(src && build && work, "run through tests/integration/test_deploy.sh");
	cr_assert_eq(chdir(src), 0);
}

TestSuite(pki, .init = setup);
TestSuite(install, .init = setup);
TestSuite(systemd, .init = setup);
TestSuite(container, .init = setup);
TestSuite(k8s, .init = setup);
TestSuite(configs, .init = setup);

/* A fresh directory under TW_WORK; its path in buf. */
static void mkwork(char *buf, size_t cap, const char *what)
{
	snprintf(buf, cap, "%s/%s.XXXXXX", work, what);
	cr_assert_not_null(mkdtemp(buf), "mkdtemp: %s", strerror(errno));
}

/* Runs a /bin/sh command line with stdout and stderr into out (when not
 * NULL); returns its exit status, or 128 + signal. The output is logged. */
static int run(struct strbuf *out, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int run(struct strbuf *out, const char *fmt, ...)
{
	struct strbuf cmd = { 0 }, local = { 0 };
	va_list ap;
	va_start(ap, fmt);
	char line[8192];
	int n = vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	cr_assert(n > 0 && (size_t)n < sizeof line, "command too long");
	strbuf_printf(&cmd, "( %s ) 2>&1", line);
	cr_assert_not(cmd.oom);
	FILE *p = popen(cmd.p, "r");
	cr_assert_not_null(p, "popen: %s", strerror(errno));
	struct strbuf *o = out ? out : &local;
	char buf[4096];
	size_t got;
	while ((got = fread(buf, 1, sizeof buf, p)) > 0)
		strbuf_put(o, buf, got);
	int st = pclose(p);
	cr_assert_not(o->oom);
	int rc = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + (WIFSIGNALED(st) ? WTERMSIG(st) : 0);
	cr_log_info("$ %s\n-> %d\n%s", line, rc, o->p ? o->p : "");
	strbuf_free(&cmd);
	strbuf_free(&local);
	return rc;
}

static void slurp(const char *path, struct strbuf *b)
{
	FILE *f = fopen(path, "rb");
	cr_assert_not_null(f, "open %s: %s", path, strerror(errno));
	char buf[4096];
	size_t n;
	while ((n = fread(buf, 1, sizeof buf, f)) > 0)
		strbuf_put(b, buf, n);
	cr_assert_not(ferror(f));
	fclose(f);
	cr_assert_not(b->oom);
	if (!b->p)
		strbuf_puts(b, ""); /* an empty file is "" */
}

static bool same_file(const char *a, const char *b)
{
	struct strbuf x = { 0 }, y = { 0 };
	slurp(a, &x);
	slurp(b, &y);
	bool same = x.len == y.len && memcmp(x.p, y.p, x.len) == 0;
	strbuf_free(&x);
	strbuf_free(&y);
	return same;
}

static unsigned mode_of(const char *path)
{
	struct stat st;
	cr_assert_eq(stat(path, &st), 0, "stat %s: %s", path, strerror(errno));
	return (unsigned)(st.st_mode & 07777);
}

static void expect_mode(const char *dir, const char *rel, unsigned want)
{
	char p[1024];
	snprintf(p, sizeof p, "%s/%s", dir, rel);
	unsigned m = mode_of(p);
	cr_expect_eq(m, want, "%s: mode %04o, want %04o", p, m, want);
}

static bool contains(const struct strbuf *b, const char *needle)
{
	return b->p && strstr(b->p, needle);
}

/* ---- pki.sh ---- */

/* CA, collector c1 (localhost, 127.0.0.1), probe-a eu-west, probe-b us-east. */
static void make_pki(const char *d)
{
	cr_assert_eq(run(NULL, "deploy/pki.sh --dir %s init", d), 0);
	cr_assert_eq(run(NULL, "deploy/pki.sh --dir %s collector c1 --san DNS:localhost --san IP:127.0.0.1",
			 d), 0);
	cr_assert_eq(run(NULL, "deploy/pki.sh --dir %s probe probe-a eu-west", d), 0);
	cr_assert_eq(run(NULL, "deploy/pki.sh --dir %s probe probe-b us-east", d), 0);
}

static X509 *load_cert(const char *dir, const char *rel)
{
	char p[1024];
	snprintf(p, sizeof p, "%s/%s", dir, rel);
	FILE *f = fopen(p, "r");
	cr_assert_not_null(f, "open %s", p);
	X509 *x = PEM_read_X509(f, NULL, NULL, NULL);
	fclose(f);
	cr_assert_not_null(x, "%s is not a PEM certificate", p);
	return x;
}

/* The one value of nid in the subject (collector/ingest.c refuses zero or
 * several), into out. */
static void one_entry(X509 *x, int nid, char *out, size_t cap)
{
	X509_NAME *name = X509_get_subject_name(x);
	int idx = X509_NAME_get_index_by_NID(name, nid, -1);
	cr_assert_geq(idx, 0, "no %s in the subject", OBJ_nid2sn(nid));
	cr_assert_lt(X509_NAME_get_index_by_NID(name, nid, idx), 0, "%s twice", OBJ_nid2sn(nid));
	int n = X509_NAME_get_text_by_NID(name, nid, out, (int)cap);
	cr_assert_gt(n, 0);
}

static int lifetime_days(X509 *x)
{
	int days = 0, secs = 0;
	cr_assert_eq(ASN1_TIME_diff(&days, &secs, X509_get0_notBefore(x), X509_get0_notAfter(x)), 1);
	return days;
}

static void expect_p256(X509 *x)
{
	EVP_PKEY *k = X509_get0_pubkey(x);
	cr_assert_not_null(k);
	cr_expect_eq(EVP_PKEY_get_base_id(k), EVP_PKEY_EC);
	char group[64] = "";
	size_t len = 0;
	cr_assert_eq(EVP_PKEY_get_utf8_string_param(k, "group", group, sizeof group, &len), 1);
	cr_expect_str_eq(group, "prime256v1");
}

/* Verifies x against the CA for a TLS purpose, optionally for a host name
 * or IP, the way OpenSSL's TLS stack does. Returns the verify error. */
static int verify_as(X509 *ca, X509 *x, int purpose, const char *host, const char *ip)
{
	X509_STORE *store = X509_STORE_new();
	X509_STORE_CTX *ctx = X509_STORE_CTX_new();
	cr_assert(store && ctx);
	cr_assert_eq(X509_STORE_add_cert(store, ca), 1);
	cr_assert_eq(X509_STORE_CTX_init(ctx, store, x, NULL), 1);
	cr_assert_eq(X509_STORE_CTX_set_purpose(ctx, purpose), 1);
	X509_VERIFY_PARAM *vp = X509_STORE_CTX_get0_param(ctx);
	if (host)
		cr_assert_eq(X509_VERIFY_PARAM_set1_host(vp, host, 0), 1);
	if (ip)
		cr_assert_eq(X509_VERIFY_PARAM_set1_ip_asc(vp, ip), 1);
	int ok = X509_verify_cert(ctx);
	int err = ok == 1 ? X509_V_OK : X509_STORE_CTX_get_error(ctx);
	X509_STORE_CTX_free(ctx);
	X509_STORE_free(store);
	return err;
}

Test(pki, issues_a_ca_a_collector_and_probes_with_the_identity_the_collector_checks)
{
	char d[512];
	mkwork(d, sizeof d, "pki");
	make_pki(d);

	expect_mode(d, "ca.key", 0600);
	expect_mode(d, "ca.pem", 0644);
	expect_mode(d, "collectors/c1/collector.key", 0600);
	expect_mode(d, "collectors/c1/collector.pem", 0644);
	expect_mode(d, "collectors/c1/probes-ca.pem", 0644);
	expect_mode(d, "probes/probe-a/probe.key", 0600);
	expect_mode(d, "probes/probe-a/probe.pem", 0644);
	expect_mode(d, "probes/probe-b/probe.key", 0600);
	expect_mode(d, "probes/probe-b/ca.pem", 0644);

	struct strbuf out = { 0 };
	cr_assert_eq(run(&out, "openssl verify -CAfile %s/ca.pem %s/collectors/c1/collector.pem "
			       "%s/probes/probe-a/probe.pem %s/probes/probe-b/probe.pem", d, d, d, d), 0);
	cr_expect(contains(&out, "collector.pem: OK") && contains(&out, "probe-a/probe.pem: OK") &&
		  contains(&out, "probe-b/probe.pem: OK"));
	strbuf_free(&out);

	/* every host's directory carries the CA its config names */
	char a[1024], b[1024];
	snprintf(a, sizeof a, "%s/ca.pem", d);
	snprintf(b, sizeof b, "%s/collectors/c1/probes-ca.pem", d);
	cr_expect(same_file(a, b));
	snprintf(b, sizeof b, "%s/probes/probe-a/ca.pem", d);
	cr_expect(same_file(a, b));

	X509 *ca = load_cert(d, "ca.pem");
	cr_expect_eq(X509_check_ca(ca), 1);
	cr_expect_geq(lifetime_days(ca), 3650);
	expect_p256(ca);

	const char *ids[][2] = { { "probe-a", "eu-west" }, { "probe-b", "us-east" } };
	for (size_t i = 0; i < 2; i++) {
		char rel[128], cn[128], ou[128];
		snprintf(rel, sizeof rel, "probes/%s/probe.pem", ids[i][0]);
		X509 *p = load_cert(d, rel);
		one_entry(p, NID_commonName, cn, sizeof cn);
		one_entry(p, NID_organizationalUnitName, ou, sizeof ou);
		cr_expect_str_eq(cn, ids[i][0]);
		cr_expect_str_eq(ou, ids[i][1]);
		cr_expect_eq(lifetime_days(p), 397);
		expect_p256(p);
		cr_expect_eq(X509_check_ca(p), 0);
		/* a client certificate: good for mTLS to the collector, not as a server */
		cr_expect_eq(verify_as(ca, p, X509_PURPOSE_SSL_CLIENT, NULL, NULL), X509_V_OK);
		cr_expect_neq(verify_as(ca, p, X509_PURPOSE_SSL_SERVER, NULL, NULL), X509_V_OK);
		X509_free(p);
	}

	/* the server certificate: the name probes dial, not a client */
	X509 *c = load_cert(d, "collectors/c1/collector.pem");
	cr_expect_eq(verify_as(ca, c, X509_PURPOSE_SSL_SERVER, "localhost", NULL), X509_V_OK);
	cr_expect_eq(verify_as(ca, c, X509_PURPOSE_SSL_SERVER, NULL, "127.0.0.1"), X509_V_OK);
	cr_expect_eq(verify_as(ca, c, X509_PURPOSE_SSL_SERVER, "other.example.net", NULL),
		     X509_V_ERR_HOSTNAME_MISMATCH);
	cr_expect_neq(verify_as(ca, c, X509_PURPOSE_SSL_CLIENT, NULL, NULL), X509_V_OK);
	cr_expect_eq(lifetime_days(c), 397);
	X509_free(c);
	X509_free(ca);
}

Test(pki, lifetimes_follow_the_flags)
{
	char d[512];
	mkwork(d, sizeof d, "pki-days");
	cr_assert_eq(run(NULL, "deploy/pki.sh --dir %s --ca-days 1000 init", d), 0);
	cr_assert_eq(run(NULL, "deploy/pki.sh --dir %s --days 30 probe p1 ap-south", d), 0);
	X509 *ca = load_cert(d, "ca.pem"), *p = load_cert(d, "probes/p1/probe.pem");
	cr_expect_eq(lifetime_days(ca), 1000);
	cr_expect_eq(lifetime_days(p), 30);
	X509_free(ca);
	X509_free(p);
}

/* Files of a PKI made by make_pki that must never change behind the
 * operator's back, relative to its directory. */
static const char *const kept[] = {
	"ca.pem", "ca.key", "collectors/c1/collector.pem", "collectors/c1/collector.key",
	"collectors/c1/probes-ca.pem", "probes/probe-b/probe.pem", "probes/probe-b/probe.key",
	"probes/probe-b/ca.pem",
};
#define NKEPT (sizeof kept / sizeof kept[0])

static void snapshot(const char *d, const char *snap)
{
	for (size_t i = 0; i < NKEPT; i++)
		cr_assert_eq(run(NULL, "mkdir -p %s/$(dirname %s) && cp -p %s/%s %s/%s", snap, kept[i], d,
				 kept[i], snap, kept[i]), 0);
	cr_assert_eq(run(NULL, "cp -p %s/probes/probe-a/probe.pem %s/probe-a.pem && "
			       "cp -p %s/probes/probe-a/probe.key %s/probe-a.key", d, snap, d, snap), 0);
}

static void expect_kept(const char *d, const char *snap)
{
	for (size_t i = 0; i < NKEPT; i++) {
		char a[1024], b[1024];
		snprintf(a, sizeof a, "%s/%s", d, kept[i]);
		snprintf(b, sizeof b, "%s/%s", snap, kept[i]);
		cr_expect(same_file(a, b), "%s changed", kept[i]);
	}
}

Test(pki, renewing_one_probe_leaves_every_other_file_byte_identical)
{
	char d[512], snap[512], a[1024], b[1024];
	mkwork(d, sizeof d, "pki-renew");
	mkwork(snap, sizeof snap, "pki-snap");
	make_pki(d);
	snapshot(d, snap);

	cr_assert_eq(run(NULL, "deploy/pki.sh --dir %s --renew probe probe-a eu-west", d), 0);
	expect_kept(d, snap);
	snprintf(a, sizeof a, "%s/probes/probe-a/probe.pem", d);
	snprintf(b, sizeof b, "%s/probe-a.pem", snap);
	cr_expect_not(same_file(a, b), "the renewed certificate is the old one");
	snprintf(a, sizeof a, "%s/probes/probe-a/probe.key", d);
	snprintf(b, sizeof b, "%s/probe-a.key", snap);
	cr_expect_not(same_file(a, b), "--renew without --keep-key kept the key");
	expect_mode(d, "probes/probe-a/probe.key", 0600);

	X509 *ca = load_cert(d, "ca.pem"), *p = load_cert(d, "probes/probe-a/probe.pem");
	char cn[128], ou[128];
	one_entry(p, NID_commonName, cn, sizeof cn);
	one_entry(p, NID_organizationalUnitName, ou, sizeof ou);
	cr_expect_str_eq(cn, "probe-a");
	cr_expect_str_eq(ou, "eu-west");
	cr_expect_eq(verify_as(ca, p, X509_PURPOSE_SSL_CLIENT, NULL, NULL), X509_V_OK);
	X509_free(p);
	X509_free(ca);

	/* --keep-key: a new certificate over the same key */
	cr_assert_eq(run(NULL, "cp -p %s/probes/probe-a/probe.key %s/probe-a.key && "
			       "cp -p %s/probes/probe-a/probe.pem %s/probe-a.pem", d, snap, d, snap), 0);
	cr_assert_eq(run(NULL, "deploy/pki.sh --dir %s --renew --keep-key probe probe-a eu-west", d), 0);
	expect_kept(d, snap);
	snprintf(a, sizeof a, "%s/probes/probe-a/probe.key", d);
	snprintf(b, sizeof b, "%s/probe-a.key", snap);
	cr_expect(same_file(a, b), "--keep-key replaced the key");
	snprintf(a, sizeof a, "%s/probes/probe-a/probe.pem", d);
	snprintf(b, sizeof b, "%s/probe-a.pem", snap);
	cr_expect_not(same_file(a, b));
	cr_expect_eq(run(NULL, "openssl x509 -in %s/probes/probe-a/probe.pem -noout -pubkey | cmp -s - "
			       "$(openssl pkey -in %s/probes/probe-a/probe.key -pubout -out %s/pub.pem "
			       "&& echo %s/pub.pem)", d, d, snap, snap), 0,
		     "certificate and key do not match");
}

Test(pki, runs_again_without_changing_anything_and_refuses_overwrites)
{
	char d[512], snap[512];
	mkwork(d, sizeof d, "pki-idem");
	mkwork(snap, sizeof snap, "pki-snap");
	make_pki(d);
	snapshot(d, snap);

	struct strbuf out = { 0 };
	cr_expect_eq(run(&out, "deploy/pki.sh --dir %s init", d), 0);
	cr_expect(contains(&out, "CA exists"));
	strbuf_free(&out);
	cr_expect_eq(run(NULL, "deploy/pki.sh --dir %s probe probe-a eu-west", d), 0);
	cr_expect_eq(run(NULL, "deploy/pki.sh --dir %s collector c1 --san DNS:localhost --san IP:127.0.0.1",
			 d), 0);
	/* other names for the same collector: refused, not silently kept */
	cr_expect_eq(run(NULL, "deploy/pki.sh --dir %s collector c1 --san DNS:localhost", d), 2);
	/* the same id in another region is another identity: refused */
	cr_expect_eq(run(NULL, "deploy/pki.sh --dir %s probe probe-a us-east", d), 2);
	expect_kept(d, snap);
	char a[1024], b[1024];
	snprintf(a, sizeof a, "%s/probes/probe-a/probe.pem", d);
	snprintf(b, sizeof b, "%s/probe-a.pem", snap);
	cr_expect(same_file(a, b), "probe-a changed without --renew");

	/* half a CA is never completed over */
	char h[512];
	mkwork(h, sizeof h, "pki-half");
	cr_assert_eq(run(NULL, "cp %s/ca.key %s/ca.key", d, h), 0);
	cr_expect_eq(run(NULL, "deploy/pki.sh --dir %s init", h), 2);
	snprintf(a, sizeof a, "%s/ca.pem", h);
	cr_expect_neq(access(a, F_OK), 0, "a CA certificate was made for a key already there");

	/* usage errors */
	cr_expect_eq(run(NULL, "deploy/pki.sh --dir %s probe 'a b' eu-west", d), 2);
	cr_expect_eq(run(NULL, "deploy/pki.sh --dir %s probe only-id", d), 2);
	cr_expect_eq(run(NULL, "deploy/pki.sh --dir %s collector c2", d), 2);
	cr_expect_eq(run(NULL, "deploy/pki.sh --dir %s --days 0 probe x y", d), 2);
	cr_expect_eq(run(NULL, "deploy/pki.sh --dir %s --keep-key probe x y", d), 2);
	cr_expect_eq(run(NULL, "deploy/pki.sh --dir %s/none probe x y", d), 2);
	cr_expect_eq(run(&out, "deploy/pki.sh --dir %s list", d), 0);
	cr_expect(contains(&out, "probes/probe-a/probe.pem\n  /O=tlswatch/OU=eu-west/CN=probe-a\n  notAfter="));
	cr_expect(contains(&out, "collectors/c1/collector.pem\n  /O=tlswatch/CN=localhost\n"));
	strbuf_free(&out);
	cr_expect_eq(run(&out, "deploy/pki.sh --help"), 0);
	cr_expect(contains(&out, "probe ID REGION") && contains(&out, "--renew"));
	strbuf_free(&out);
	expect_kept(d, snap);
}

/* ---- scripts/install.sh ---- */

static void expect_file(const char *root, const char *rel, unsigned mode)
{
	char p[1024];
	snprintf(p, sizeof p, "%s%s", root, rel);
	cr_expect_eq(access(p, F_OK), 0, "%s not installed", rel);
	if (access(p, F_OK) == 0)
		expect_mode(root, rel, mode);
}

static void expect_grep(const char *path, const char *needle)
{
	struct strbuf b = { 0 };
	slurp(path, &b);
	cr_expect(contains(&b, needle), "%s lacks \"%s\"", path, needle);
	strbuf_free(&b);
}

Test(install, destdir_puts_everything_where_the_units_expect_and_keeps_real_configs)
{
	char root[512], p[1024], q[1024];
	mkwork(root, sizeof root, "destdir");
	/* the operator's own config, there before the install */
	cr_assert_eq(run(NULL, "mkdir -p %s/etc/tlswatch && printf 'mine\\n' >%s/etc/tlswatch/probe.yaml",
			 root, root), 0);
	for (int i = 0; i < 2; i++) /* twice: an upgrade over an install */
		cr_assert_eq(run(NULL, "DESTDIR=%s sh scripts/install.sh BUILD=%s", root, build), 0);

	expect_file(root, "/usr/local/bin/tlswatch-probe", 0755);
	expect_file(root, "/usr/local/bin/tlswatch-collector", 0755);
	snprintf(p, sizeof p, "%s/usr/local/bin/tlswatch-collector", root);
	snprintf(q, sizeof q, "%s/tlswatch-collector", build);
	cr_expect(same_file(p, q));
	expect_file(root, "/etc/systemd/system/tlswatch-probe.service", 0644);
	expect_file(root, "/etc/systemd/system/tlswatch-collector.service", 0644);
	expect_file(root, "/usr/lib/sysusers.d/tlswatch.conf", 0644);
	expect_file(root, "/usr/lib/tmpfiles.d/tlswatch.conf", 0644);
	expect_file(root, "/usr/local/share/tlswatch/pki.sh", 0755);
	expect_file(root, "/usr/local/share/doc/tlswatch/production.md", 0644);
	expect_mode(root, "etc/tlswatch", 0750);
	const char *ex[] = { "probe", "collector", "slos", "notify" };
	for (size_t i = 0; i < 4; i++) {
		snprintf(p, sizeof p, "%s/etc/tlswatch/%s.example.yaml", root, ex[i]);
		snprintf(q, sizeof q, "deploy/%s.example.yaml", ex[i]);
		cr_expect(same_file(p, q), "%s differs from %s", p, q);
	}
	/* the units run what was installed, with the configs installed */
	snprintf(p, sizeof p, "%s/etc/systemd/system/tlswatch-probe.service", root);
	expect_grep(p, "\nExecStart=/usr/local/bin/tlswatch-probe run -c /etc/tlswatch/probe.yaml");
	snprintf(p, sizeof p, "%s/etc/systemd/system/tlswatch-collector.service", root);
	expect_grep(p, "\nExecStart=/usr/local/bin/tlswatch-collector run -c /etc/tlswatch/collector.yaml");

	struct strbuf b = { 0 };
	snprintf(p, sizeof p, "%s/etc/tlswatch/probe.yaml", root);
	slurp(p, &b);
	cr_expect_str_eq(b.p, "mine\n", "install.sh overwrote a real config");
	strbuf_free(&b);
	snprintf(p, sizeof p, "%s/etc/tlswatch/collector.yaml", root);
	cr_expect_neq(access(p, F_OK), 0, "install.sh created a real config");
}

Test(install, prefix_usr_puts_units_with_the_package)
{
	char root[512], p[1024];
	mkwork(root, sizeof root, "destdir-usr");
	cr_assert_eq(run(NULL, "sh scripts/install.sh DESTDIR=%s PREFIX=/usr BUILD=%s", root, build), 0);
	expect_file(root, "/usr/bin/tlswatch-probe", 0755);
	snprintf(p, sizeof p, "%s/lib/systemd/system/tlswatch-probe.service", root);
	expect_grep(p, "\nExecStart=/usr/bin/tlswatch-probe run");
	expect_grep(p, "\nExecStartPre=/usr/bin/tlswatch-probe run -c /etc/tlswatch/probe.yaml --check-config");
}

Test(install, usage_errors)
{
	char root[512];
	mkwork(root, sizeof root, "destdir-bad");
	cr_expect_eq(run(NULL, "sh scripts/install.sh DESTDIR=%s BUILD=%s FOO=1", root, build), 2);
	cr_expect_eq(run(NULL, "sh scripts/install.sh DESTDIR=%s BUILD=%s PREFIX=usr", root, build), 2);
	cr_expect_eq(run(NULL, "sh scripts/install.sh DESTDIR=%s BUILD=%s/none", root, root), 2);
	struct strbuf out = { 0 };
	cr_expect_eq(run(&out, "sh scripts/install.sh --help"), 0);
	cr_expect(contains(&out, "DESTDIR") && contains(&out, "PREFIX"));
	strbuf_free(&out);
	cr_expect_eq(run(NULL, "find %s -type f | grep -q .", root), 1, "a failed install left files");
}

Test(install, sysusers_and_tmpfiles_make_the_user_and_the_directories)
{
	if (geteuid() != 0)
		cr_skip_test("creating files owned by another user needs root (CI runs as root)");
	char root[512], p[1024];
	mkwork(root, sizeof root, "sysroot");
	cr_assert_eq(run(NULL, "sh scripts/install.sh DESTDIR=%s BUILD=%s", root, build), 0);
	/* the installed files, read by systemd's own tools in that root */
	cr_assert_eq(run(NULL, "systemd-sysusers --root=%s tlswatch.conf", root), 0);
	cr_assert_eq(run(NULL, "systemd-tmpfiles --create --root=%s tlswatch.conf", root), 0);

	snprintf(p, sizeof p, "%s/etc/passwd", root);
	FILE *f = fopen(p, "r");
	cr_assert_not_null(f);
	struct passwd *pw;
	uid_t uid = 0;
	gid_t gid = 0;
	bool found = false;
	while ((pw = fgetpwent(f))) {
		if (strcmp(pw->pw_name, "tlswatch") == 0) {
			found = true;
			uid = pw->pw_uid;
			gid = pw->pw_gid;
			cr_expect_str_eq(pw->pw_shell, "/usr/sbin/nologin");
			cr_expect_str_eq(pw->pw_dir, "/var/lib/tlswatch");
		}
	}
	fclose(f);
	cr_assert(found, "systemd-sysusers made no tlswatch user");
	cr_expect_neq(uid, 0);

	struct stat st;
	snprintf(p, sizeof p, "%s/var/lib/tlswatch/spool", root);
	cr_assert_eq(stat(p, &st), 0, "no spool directory");
	cr_expect(S_ISDIR(st.st_mode) && (st.st_mode & 07777) == 0700 && st.st_uid == uid);
	snprintf(p, sizeof p, "%s/etc/tlswatch", root);
	cr_assert_eq(stat(p, &st), 0);
	cr_expect((st.st_mode & 07777) == 0750 && st.st_uid == 0 && st.st_gid == gid,
		  "/etc/tlswatch: %04o %u:%u", st.st_mode & 07777, st.st_uid, st.st_gid);
}

/* ---- systemd ---- */

static double exposure(const char *unit)
{
	struct strbuf out = { 0 };
	cr_assert_eq(run(&out, "systemd-analyze security --offline=true --no-pager deploy/systemd/%s",
			 unit), 0);
	const char *at = strstr(out.p, "Overall exposure level for ");
	cr_assert_not_null(at, "no exposure level in the output");
	at = strchr(at, ':');
	cr_assert_not_null(at);
	char *end;
	double v = strtod(at + 1, &end);
	cr_assert_neq(end, at + 1, "no number after the colon");
	strbuf_free(&out);
	return v;
}

Test(systemd, security_rates_each_unit_2_5_or_better)
{
	const char *units[] = { "tlswatch-probe.service", "tlswatch-collector.service" };
	for (size_t i = 0; i < 2; i++) {
		double v = exposure(units[i]);
		cr_log_info("%s: exposure %.1f", units[i], v);
		cr_expect_leq(v, 2.5, "%s: exposure %.1f", units[i], v);
	}
}

Test(systemd, verify_is_clean_for_the_installed_units)
{
	char d[512];
	mkwork(d, sizeof d, "units");
	/* the units as installed, pointing at binaries that exist */
	cr_assert_eq(run(NULL, "sh scripts/install.sh BUILD=%s PREFIX=%s/prefix UNITDIR=%s/units "
			       "SYSCONFDIR=%s/etc SYSUSERSDIR=%s/sysusers TMPFILESDIR=%s/tmpfiles",
			 build, d, d, d, d, d), 0);
	struct strbuf out = { 0 };
	cr_expect_eq(run(&out, "systemd-analyze verify %s/units/tlswatch-probe.service "
			       "%s/units/tlswatch-collector.service", d, d), 0);
	cr_expect(out.len == 0, "systemd-analyze verify said: %s", out.p);
	strbuf_free(&out);
}

/* Whether the unit file in deploy/systemd has this exact line. */
static bool unit_has(const char *unit, const char *line)
{
	char p[512], want[256];
	snprintf(p, sizeof p, "deploy/systemd/%s", unit);
	snprintf(want, sizeof want, "\n%s\n", line);
	struct strbuf b = { 0 };
	slurp(p, &b);
	bool yes = contains(&b, want);
	strbuf_free(&b);
	return yes;
}

Test(systemd, notify_readiness_watchdog_and_the_dedicated_user)
{
	const char *units[] = { "tlswatch-probe.service", "tlswatch-collector.service" };
	for (size_t i = 0; i < 2; i++) {
		cr_expect(unit_has(units[i], "Type=notify"), "%s", units[i]);
		cr_expect(unit_has(units[i], "NotifyAccess=main"), "%s", units[i]);
		cr_expect(unit_has(units[i], "WatchdogSec=30s"), "%s", units[i]);
		cr_expect(unit_has(units[i], "User=tlswatch"), "%s", units[i]);
		cr_expect(unit_has(units[i], "StateDirectory=tlswatch"), "%s", units[i]);
		cr_expect(unit_has(units[i], "RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX"),
			  "%s: AF_UNIX is needed for $NOTIFY_SOCKET", units[i]);
	}
	/* the user the units name is the one sysusers.d makes, and the spool
	 * of the example config is in the directory tmpfiles.d makes */
	expect_grep("deploy/systemd/tlswatch.sysusers.conf", "\nu      tlswatch ");
	expect_grep("deploy/systemd/tlswatch.tmpfiles.conf", "\nd      /var/lib/tlswatch/spool  0700 tlswatch");
	expect_grep("deploy/probe.example.yaml", "\n  path: /var/lib/tlswatch/spool\n");
}

/* ---- container images ---- */

Test(container, probe_image_is_multistage_debian_non_root_with_its_runtime_libraries)
{
	cr_expect_eq(run(NULL, "python3 tests/integration/deploy/containerfile_check.py "
			       "deploy/container/Containerfile.probe %s/tlswatch-probe", build), 0);
}

Test(container, collector_image_also_checks_healthz)
{
	cr_expect_eq(run(NULL, "python3 tests/integration/deploy/containerfile_check.py "
			       "deploy/container/Containerfile.collector %s/tlswatch-collector "
			       "--healthcheck /healthz", build), 0);
}

Test(container, the_checker_catches_a_root_image_without_its_libraries)
{
	char d[512];
	mkwork(d, sizeof d, "cf");
	cr_assert_eq(run(NULL, "sed -e 's/^USER 10001:10001$/USER root/' -e 's/ libpq5 libcurl4 / /' "
			       "deploy/container/Containerfile.collector >%s/Containerfile", d), 0);
	struct strbuf out = { 0 };
	cr_expect_eq(run(&out, "python3 tests/integration/deploy/containerfile_check.py "
			       "%s/Containerfile %s/tlswatch-collector", d, build), 1);
	cr_expect(contains(&out, "runs as root"));
#ifndef __SANITIZE_ADDRESS__
	cr_expect(contains(&out, "libpq5") && contains(&out, "libcurl4"));
#else
	/* `make SANITIZE=1`: the binary is not what the image ships; the
	 * checker says it skipped the libraries (containerfile_check.py) */
	cr_expect(contains(&out, "sanitizer build"));
#endif
	strbuf_free(&out);
}

/* ---- Kubernetes ---- */

Test(k8s, manifests_match_the_kubernetes_schemas)
{
	const char *prefix = getenv("TW_NODE_PREFIX");
	char p[1024];
	snprintf(p, sizeof p, "%s/node_modules/kubernetes-models/package.json", prefix ? prefix : "");
	cr_assert(prefix && access(p, F_OK) == 0,
		  "kubernetes-models is not installed under TW_NODE_PREFIX (%s): the fixture's "
		  "npm install failed (see its log)", prefix ? prefix : "unset");
	struct strbuf out = { 0 };
	cr_expect_eq(run(&out, "node tests/integration/deploy/k8s_schema.cjs %s deploy/k8s/*.yaml",
			 prefix), 0);
	cr_expect(contains(&out, " 0 invalid"));
	strbuf_free(&out);

	/* and the schema check does see a wrong type */
	char d[512];
	mkwork(d, sizeof d, "k8s-bad");
	cr_assert_eq(run(NULL, "sed 's/^  replicas: 2$/  replicas: two/' deploy/k8s/collector.yaml "
			       ">%s/collector.yaml", d), 0);
	cr_expect_eq(run(&out, "node tests/integration/deploy/k8s_schema.cjs %s %s/collector.yaml",
			 prefix, d), 1);
	cr_expect(contains(&out, "replicas must be integer"));
	strbuf_free(&out);
}

Test(k8s, manifests_carry_health_checks_non_root_resources_and_consistent_references)
{
	cr_expect_eq(run(NULL, "python3 tests/integration/deploy/k8s_fields.py deploy/k8s"), 0);
	char d[512];
	mkwork(d, sizeof d, "k8s-fields");
	cr_assert_eq(run(NULL, "cp deploy/k8s/*.yaml %s/ && sed -i -e 's|path: /readyz|path: /ready|' "
			       "-e 's/^  replicas: 1$/  replicas: 2/' %s/collector.yaml %s/probe-eu-west.yaml",
			 d, d, d), 0);
	struct strbuf out = { 0 };
	cr_expect_eq(run(&out, "python3 tests/integration/deploy/k8s_fields.py %s", d), 1);
	cr_expect(contains(&out, "readinessProbe must GET /readyz"));
	cr_expect(contains(&out, "replicas 1 and strategy Recreate"));
	strbuf_free(&out);
}

/* ---- the configurations we ship pass --check-config ---- */

/* Copies config FILE to DIR/NAME with every /etc/tlswatch/ path moved under
 * DIR, where the pki material and the other files are put. */
static void place(const char *dir, const char *file, const char *name)
{
	cr_assert_eq(run(NULL, "sed 's|/etc/tlswatch/|%s/|g' %s >%s/%s", dir, file, dir, name), 0);
}

#define NOTIFY_ENV "TW_PAGERDUTY_ROUTING_KEY=r0ut1ng TW_SLACK_WEBHOOK_URL=https://hooks.example/x " \
		   "TW_WEBHOOK_SECRET=whsec_MDEyMzQ1Njc4OWFiY2RlZg=="

Test(configs, shipped_configs_pass_check_config_with_pki_material)
{
	char pki[512], ex[512], k8[512], k8src[512];
	mkwork(pki, sizeof pki, "cfg-pki");
	mkwork(ex, sizeof ex, "cfg-examples");
	mkwork(k8, sizeof k8, "cfg-k8s");
	mkwork(k8src, sizeof k8src, "cfg-k8s-src");
	make_pki(pki);

	/* deploy/NAME.example.yaml, the files install.sh ships */
	cr_assert_eq(run(NULL, "cp %s/collectors/c1/* %s/ && cp deploy/slos.example.yaml %s/slos.yaml && "
			       "cp deploy/notify.example.yaml %s/notify.yaml && cp %s/probes/probe-a/* %s/",
			 pki, ex, ex, ex, pki, ex), 0);
	/* probe.example.yaml's mTLS target names a client certificate and a
	 * partner CA: --check-config opens every file a config names */
	cr_assert_eq(run(NULL, "cd %s && cp -p probe.pem client.pem && cp -p probe.key client.key && "
			       "cp -p ca.pem partner-ca.pem", ex), 0);
	place(ex, "deploy/collector.example.yaml", "collector.yaml");
	place(ex, "deploy/probe.example.yaml", "probe.yaml");
	cr_expect_eq(run(NULL, NOTIFY_ENV " %s/tlswatch-collector run -c %s/collector.yaml --check-config",
			 build, ex), 0);
	cr_expect_eq(run(NULL, "%s/tlswatch-probe run -c %s/probe.yaml --check-config", build, ex), 0);

	/* the configurations inside the Kubernetes ConfigMaps */
	cr_assert_eq(run(NULL, "python3 tests/integration/deploy/k8s_fields.py deploy/k8s --extract %s",
			 k8src), 0);
	cr_assert_eq(run(NULL, "mkdir -p %s/tls && cp %s/collectors/c1/* %s/tls/ && cp %s/slos.yaml "
			       "%s/notify.yaml %s/", k8, pki, k8, k8src, k8src, k8), 0);
	/* the probe pods' Secret: its own certificate, key and the CA */
	cr_assert_eq(run(NULL, "cp -p %s/probes/probe-a/* %s/tls/", pki, k8), 0);
	char f[1024];
	snprintf(f, sizeof f, "%s/collector.yaml", k8src);
	place(k8, f, "collector.yaml");
	cr_expect_eq(run(NULL, NOTIFY_ENV " %s/tlswatch-collector run -c %s/collector.yaml --check-config",
			 build, k8), 0);
	const char *regions[] = { "eu-west", "us-east" };
	for (size_t i = 0; i < 2; i++) {
		char name[64];
		snprintf(f, sizeof f, "%s/probe-%s.yaml", k8src, regions[i]);
		snprintf(name, sizeof name, "probe-%s.yaml", regions[i]);
		place(k8, f, name);
		cr_expect_eq(run(NULL, "%s/tlswatch-probe run -c %s/%s --check-config", build, k8, name), 0);
	}

	/* the daemons do check what pki.sh guarantees: a key others can read
	 * is refused */
	cr_assert_eq(run(NULL, "chmod 0640 %s/tls/collector.key", k8), 0);
	struct strbuf out = { 0 };
	cr_expect_eq(run(&out, NOTIFY_ENV " %s/tlswatch-collector run -c %s/collector.yaml --check-config",
			 build, k8), 2);
	cr_expect(contains(&out, "accessible by group or others"));
	strbuf_free(&out);
}
