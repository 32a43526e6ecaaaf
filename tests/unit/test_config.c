/*
 * test_config.c - config_load() (DESIGN 4.5): the example file, defaults,
 * every error kind with its exact file:line:column, and 10,000 targets.
 *
 * Run from the repository root (tests/run.sh does); deploy/probe.example.yaml
 * is found relative to it, or under $TW_SRC.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"

TestSuite(config);

/* A valid head; tests append targets or replace pieces. */
#define HEAD \
	"probe:\n"                                   /* 1 */ \
	"  id: p1\n"                                 /* 2 */ \
	"  region: r1\n"                             /* 3 */ \
	"collector:\n"                               /* 4 */ \
	"  address: c.example:7443\n"                /* 5 */ \
	"  ca_file: ca.pem\n"                        /* 6 */ \
	"  cert_file: p.pem\n"                       /* 7 */ \
	"  key_file: p.key\n"                        /* 8 */ \
	"spool:\n"                                   /* 9 */ \
	"  path: /tmp/spool\n"                       /* 10 */

static char g_path[64];

static const char *write_tmp(const char *text)
{
	snprintf(g_path, sizeof g_path, "/tmp/tw_config_XXXXXX");
	int fd = mkstemp(g_path);
	cr_assert_geq(fd, 0, "mkstemp: %s", strerror(errno));
	size_t len = strlen(text);
	cr_assert_eq(write(fd, text, len), (ssize_t)len);
	close(fd);
	return g_path;
}

static struct probe_config *load_ok(const char *text)
{
	char err[1024] = "";
	const char *p = write_tmp(text);
	struct probe_config *cfg = config_load(p, err, sizeof err);
	unlink(p);
	cr_assert_not_null(cfg, "unexpected error: %s", err);
	return cfg;
}

/* Expects an error starting "PATH:line:col: " and containing `phrase`. */
static void load_err(const char *text, unsigned line, unsigned col, const char *phrase)
{
	char err[1024] = "", prefix[128];
	const char *p = write_tmp(text);
	struct probe_config *cfg = config_load(p, err, sizeof err);
	unlink(p);
	cr_assert_null(cfg, "loaded, expected an error with \"%s\"", phrase);
	snprintf(prefix, sizeof prefix, "%s:%u:%u: ", p, line, col);
	cr_assert(strncmp(err, prefix, strlen(prefix)) == 0, "error \"%s\" lacks prefix \"%s\"",
		  err, prefix);
	cr_assert(strstr(err, phrase) != NULL, "error \"%s\" lacks \"%s\"", err, phrase);
}

/* ---- the example file ---- */

static const char *example_path(void)
{
	static char buf[512];
	const char *src = getenv("TW_SRC");
	snprintf(buf, sizeof buf, "%s/deploy/probe.example.yaml", src ? src : ".");
	return buf;
}

Test(config, example_file_loads)
{
	char err[1024] = "";
	struct probe_config *c = config_load(example_path(), err, sizeof err);
	cr_assert_not_null(c, "%s", err);
	cr_assert_str_eq(c->probe_id, "probe-eu-1");
	cr_assert_str_eq(c->region, "eu-west");
	cr_assert_str_eq(c->collector_address, "collector.example.net:7443");
	cr_assert_str_eq(c->collector_host, "collector.example.net");
	cr_assert_eq(c->collector_port, 7443);
	cr_assert_str_eq(c->ca_file, "/etc/tlswatch/ca.pem");
	cr_assert_str_eq(c->cert_file, "/etc/tlswatch/probe.pem");
	cr_assert_str_eq(c->key_file, "/etc/tlswatch/probe.key");
	cr_assert_str_eq(c->spool_path, "/var/lib/tlswatch/spool");
	cr_assert_eq(c->spool_max_bytes, 256ull * 1024 * 1024);
	cr_assert_eq(c->concurrency, 1000);
	cr_assert_eq(c->defaults.interval_ms, 60000);
	cr_assert_eq(c->defaults.timeout_ms, 10000);
	cr_assert_eq(c->defaults.expiry_warn_days, 30);
	cr_assert_eq(c->defaults.nprofiles, 1);
	cr_assert_str_eq(c->defaults.profiles[0], "modern");
	cr_assert_eq(c->defaults.revocation, CONFIG_REV_STAPLE);
	cr_assert_null(c->defaults.ca_file);
	cr_assert_eq(c->batch_max_records, 500);
	cr_assert_eq(c->batch_max_delay_ms, 200);
	cr_assert_eq(c->heartbeat_ms, 10000);
	cr_assert_eq(c->spool_fsync_ms, 1000);
	cr_assert_eq(c->log_level, 2);   /* info */
	cr_assert_not(c->log_json);
	cr_assert_eq(c->ntargets, 5);

	const struct config_target *t = &c->targets[0];
	cr_assert_str_eq(t->host, "www.example.com");
	cr_assert_eq(t->port, 443);
	cr_assert_str_eq(t->sni, "www.example.com");
	cr_assert_not(t->no_sni);
	cr_assert_str_eq(t->connect_host, "10.0.0.5");
	cr_assert_eq(t->connect_port, 443);
	cr_assert_str_eq(t->service, "storefront");
	cr_assert_eq(t->nlabels, 2);
	cr_assert_str_eq(t->labels[0].key, "team");
	cr_assert_str_eq(t->labels[0].value, "web");
	cr_assert_str_eq(t->labels[1].key, "tier");
	cr_assert_str_eq(t->labels[1].value, "1");
	cr_assert_eq(t->nprofiles, 2);
	cr_assert_str_eq(t->profiles[0], "modern");
	cr_assert_str_eq(t->profiles[1], "Android 4.4.2");
	cr_assert_eq(t->interval_ms, 30000);
	cr_assert_eq(t->timeout_ms, 5000);
	cr_assert_eq(t->starttls, STARTTLS_NONE);
	cr_assert_null(t->client_cert);
	cr_assert_gt(t->pos.line, 1);
	cr_assert_eq(t->pos.column, 5);

	t = &c->targets[1];   /* defaults applied */
	cr_assert_str_eq(t->host, "api.example.com");
	cr_assert_eq(t->port, 443);
	cr_assert_str_eq(t->sni, "api.example.com");
	cr_assert_null(t->connect_host);
	cr_assert_eq(t->interval_ms, 60000);
	cr_assert_eq(t->timeout_ms, 10000);
	cr_assert_eq(t->expiry_warn_days, 30);
	cr_assert_eq(t->nprofiles, 1);
	cr_assert_str_eq(t->profiles[0], "modern");
	cr_assert_neq(t->profiles, c->defaults.profiles);   /* own copy */
	cr_assert_eq(t->nlabels, 1);
	cr_assert_str_eq(t->labels[0].value, "platform");

	t = &c->targets[2];
	cr_assert_str_eq(t->host, "192.0.2.10");
	cr_assert_eq(t->port, 8443);
	cr_assert(t->no_sni);
	cr_assert_null(t->sni);
	cr_assert_eq(t->interval_ms, 300000);

	t = &c->targets[3];
	cr_assert_eq(t->starttls, STARTTLS_SMTP);
	cr_assert_eq(t->port, 587);
	cr_assert_eq(t->timeout_ms, 500);

	t = &c->targets[4];
	cr_assert_str_eq(t->client_cert, "/etc/tlswatch/client.pem");
	cr_assert_str_eq(t->client_key, "/etc/tlswatch/client.key");
	cr_assert_str_eq(t->ca_file, "/etc/tlswatch/partner-ca.pem");
	cr_assert_eq(t->revocation, CONFIG_REV_OCSP);
	cr_assert_eq(t->interval_ms, 3600000);
	cr_assert_null(c->targets[0].ca_file);
	cr_assert_eq(c->targets[0].revocation, CONFIG_REV_STAPLE);
	config_free(c);
}

Test(config, minimal_defaults)
{
	struct probe_config *c = load_ok(HEAD "targets:\n  - host: a.example\n");
	cr_assert_eq(c->spool_max_bytes, 256ull * 1024 * 1024);
	cr_assert_eq(c->concurrency, 1000);
	cr_assert_eq(c->ntargets, 1);
	cr_assert_eq(c->targets[0].port, 443);
	cr_assert_str_eq(c->targets[0].sni, "a.example");
	cr_assert_eq(c->targets[0].interval_ms, 60000);
	cr_assert_eq(c->targets[0].timeout_ms, 10000);
	cr_assert_str_eq(c->targets[0].profiles[0], "modern");
	/* the daemon's additions: absent = documented defaults */
	cr_assert_null(c->targets[0].ca_file);
	cr_assert_eq(c->targets[0].revocation, CONFIG_REV_STAPLE);
	cr_assert_eq(c->spool_fsync_ms, 1000);
	cr_assert_eq(c->batch_max_records, 0);
	cr_assert_eq(c->batch_max_delay_ms, 0);
	cr_assert_eq(c->heartbeat_ms, 0);
	cr_assert_eq(c->log_level, -1);
	cr_assert_not(c->log_json);
	config_free(c);
}

Test(config, defaults_section_applies)
{
	struct probe_config *c = load_ok(HEAD
		"  max_bytes: 2GiB\n"
		"concurrency: 50\n"
		"defaults:\n"
		"  interval: 2m\n"
		"  timeout: 1500ms\n"
		"  profiles: [old, new]\n"
		"  expiry_warn_days: 7\n"
		"targets:\n"
		"  - host: a.example\n"
		"  - host: '::1'\n"
		"    connect_to: '[::1]:8443'\n"
		"    timeout: 1h\n");
	cr_assert_eq(c->spool_max_bytes, 2ull * 1024 * 1024 * 1024);
	cr_assert_eq(c->concurrency, 50);
	cr_assert_eq(c->targets[0].interval_ms, 120000);
	cr_assert_eq(c->targets[0].timeout_ms, 1500);
	cr_assert_eq(c->targets[0].expiry_warn_days, 7);
	cr_assert_eq(c->targets[0].nprofiles, 2);
	cr_assert_str_eq(c->targets[0].profiles[1], "new");
	cr_assert_eq(c->targets[0].profile_pos[1].line, 16);
	cr_assert_null(c->targets[1].sni);   /* IP literal: no SNI by default */
	cr_assert_str_eq(c->targets[1].connect_host, "::1");
	cr_assert_eq(c->targets[1].connect_port, 8443);
	cr_assert_eq(c->targets[1].timeout_ms, 3600000);   /* timeout > interval is fine */
	config_free(c);
}

Test(config, parse_helpers)
{
	unsigned ms;
	uint64_t sz;
	cr_assert_eq(config_parse_duration_ms("500ms", &ms), 0); cr_assert_eq(ms, 500);
	cr_assert_eq(config_parse_duration_ms("30s", &ms), 0); cr_assert_eq(ms, 30000);
	cr_assert_eq(config_parse_duration_ms("5m", &ms), 0); cr_assert_eq(ms, 300000);
	cr_assert_eq(config_parse_duration_ms("1h", &ms), 0); cr_assert_eq(ms, 3600000);
	cr_assert_eq(config_parse_duration_ms("168h", &ms), 0);
	cr_assert_eq(config_parse_duration_ms("169h", &ms), -1);
	cr_assert_eq(config_parse_duration_ms("30", &ms), -1);
	cr_assert_eq(config_parse_duration_ms("-5s", &ms), -1);
	cr_assert_eq(config_parse_duration_ms(" 5s", &ms), -1);
	cr_assert_eq(config_parse_duration_ms("5 s", &ms), -1);
	cr_assert_eq(config_parse_duration_ms("99999999999999999999999s", &ms), -1);
	cr_assert_eq(config_parse_size("1024", &sz), 0); cr_assert_eq(sz, 1024);
	cr_assert_eq(config_parse_size("3KiB", &sz), 0); cr_assert_eq(sz, 3072);
	cr_assert_eq(config_parse_size("1GiB", &sz), 0); cr_assert_eq(sz, 1ull << 30);
	cr_assert_eq(config_parse_size("17179869184GiB", &sz), -1);   /* 2^64 */
	cr_assert_eq(config_parse_size("1MB", &sz), -1);
	cr_assert_eq(config_parse_size("+1", &sz), -1);
	cr_assert_eq(config_parse_size("", &sz), -1);
}

/* ---- errors ---- */

Test(config, unreadable_file)
{
	char err[512] = "";
	cr_assert_null(config_load("/nonexistent/dir/probe.yaml", err, sizeof err));
	cr_assert_str_eq(err, "/nonexistent/dir/probe.yaml: cannot read: No such file or directory");
	cr_assert_null(config_load("/", err, sizeof err));
	cr_assert(strstr(err, "/: cannot read: ") == err, "%s", err);
}

Test(config, syntax_error)
{
	load_err(HEAD "targets:\n  - host: [a\n", 13, 1,
		 "YAML syntax error: did not find expected ',' or ']' "
		 "(while parsing a flow sequence at line 12, column 11)");
	load_err("probe:\n  id: \"unterminated\n", 3, 1, "YAML syntax error: found unexpected end of stream");
	load_err("probe:\n\tid: x\n", 2, 1, "YAML syntax error");
}

Test(config, top_level_not_mapping)
{
	load_err("- a\n- b\n", 1, 1, "expected a mapping at the top level");
	load_err("just a string\n", 1, 1, "got a scalar");
	load_err("", 1, 1, "empty file");
	load_err("# only a comment\n", 1, 1, "empty file");
	load_err(HEAD "targets:\n  - host: a\n---\nfoo: 1\n", 14, 1, "single YAML document");
}

Test(config, unknown_key)
{
	load_err(HEAD "targets:\n  - host: a\nbogus: 1\n", 13, 1,
		 "unknown key \"bogus\" (allowed: probe, collector, spool, concurrency, defaults, targets, log)");
	load_err(HEAD "targets:\n  - host: a\n    prot: 443\n", 13, 5,
		 "targets[0]: unknown key \"prot\" (allowed: host, port, sni, no_sni, connect_to,");
	load_err(HEAD "  size: 1\ntargets:\n  - host: a\n", 11, 3,
		 "spool: unknown key \"size\" (allowed: path, max_bytes, fsync_interval)");
	load_err(HEAD "defaults:\n  intervall: 5s\ntargets:\n  - host: a\n", 12, 3,
		 "defaults: unknown key \"intervall\"");
}

/* What the file said is quoted in errors; a newline or tab inside it (a
 * double-quoted key) is shown escaped so the error stays one line (found by
 * tests/fuzz/fuzz_config.c). */
Test(config, error_quoting_a_control_character_stays_one_line)
{
	char err[1024] = "";
	const char *p = write_tmp(HEAD "targets:\n  - host: a\n\"bo\\ngus\\t\\x01\": 1\n");
	struct probe_config *cfg = config_load(p, err, sizeof err);
	unlink(p);
	cr_assert_null(cfg);
	cr_expect_null(strchr(err, '\n'), "error spans lines: %s", err);
	cr_expect_null(strchr(err, '\t'), "raw tab in: %s", err);
	cr_expect(strstr(err, "unknown key \"bo\\ngus\\t\\x01\"") != NULL, "%s", err);
}

Test(config, duplicate_key)
{
	load_err(HEAD "targets:\n  - host: a\n    host: b\n", 13, 5,
		 "targets[0]: duplicate key \"host\" (first at line 12, column 5)");
}

Test(config, missing_required)
{
	load_err("probe:\n  region: r\n", 2, 3, "probe: missing required key \"id\"");
	load_err(HEAD "targets:\n  - port: 443\n", 12, 5, "targets[0]: missing required key \"host\"");
	load_err(HEAD, 1, 1, "missing required key \"targets\"");
	load_err("probe: {id: a, region: b}\nspool: {path: x}\n", 1, 1,
		 "missing required key \"collector\"");
	load_err("probe: {id: a, region: b}\n"
		 "collector:\n  address: c:1\n  ca_file: a\n  cert_file: b\n", 3, 3,
		 "collector: missing required key \"key_file\"");
}

Test(config, wrong_type)
{
	load_err(HEAD "targets:\n  - host: [a, b]\n", 12, 11,
		 "targets[0].host: expected a scalar, got a sequence");
	load_err(HEAD "targets:\n  - host: a\n    profiles: modern\n", 13, 15,
		 "targets[0].profiles: expected a sequence, got a scalar");
	load_err(HEAD "targets:\n  - host: a\n    labels: [x]\n", 13, 13,
		 "targets[0].labels: expected a mapping, got a sequence");
	load_err(HEAD "targets: {host: a}\n", 11, 10, "targets: expected a sequence, got a mapping");
	load_err(HEAD "targets:\n  - a.example\n", 12, 5, "targets[0]: expected a mapping, got a scalar");
	load_err("probe: x\n", 1, 8, "probe: expected a mapping, got a scalar");
	load_err(HEAD "targets:\n  - host: a\n    labels: {team: {x: y}}\n", 13, 20,
		 "targets[0].labels.team: expected a scalar, got a mapping");
	load_err(HEAD "targets:\n  - host: a\n    profiles: [modern, [x]]\n", 13, 24,
		 "targets[0].profiles[1]: expected a scalar");
	load_err(HEAD "targets:\n  - host: \"\"\n", 12, 11, "targets[0].host: expected a non-empty string");
}

Test(config, bad_numbers)
{
	load_err(HEAD "targets:\n  - host: a\n  - host: b\n  - host: c\n    port: http\n", 15, 11,
		 "targets[2].port: expected an integer 1-65535, got \"http\"");
	load_err(HEAD "targets:\n  - host: a\n    port: 65536\n", 13, 11, "expected an integer 1-65535");
	load_err(HEAD "targets:\n  - host: a\n    port: 0\n", 13, 11, "expected an integer 1-65535");
	load_err(HEAD "targets:\n  - host: a\n    port: -1\n", 13, 11, "expected an integer 1-65535");
	load_err(HEAD "targets:\n  - host: a\n    port: 99999999999999999999999\n", 13, 11,
		 "expected an integer 1-65535");
	load_err(HEAD "concurrency: 0\ntargets:\n  - host: a\n", 11, 14,
		 "concurrency: expected an integer 1-1000000, got \"0\"");
	load_err(HEAD "concurrency: 12abc\ntargets:\n  - host: a\n", 11, 14, "concurrency: expected an integer");
	load_err(HEAD "defaults:\n  expiry_warn_days: x\ntargets:\n  - host: a\n", 12, 21,
		 "defaults.expiry_warn_days: expected an integer 0-3650");
}

Test(config, bad_duration)
{
	load_err(HEAD "targets:\n  - host: a\n    interval: 30\n", 13, 15,
		 "targets[0].interval: expected a duration like 500ms, 30s, 5m or 1h");
	load_err(HEAD "targets:\n  - host: a\n    timeout: 5x\n", 13, 14, "targets[0].timeout: expected a duration");
	load_err(HEAD "defaults:\n  interval: 1 m\ntargets:\n  - host: a\n", 12, 13,
		 "defaults.interval: expected a duration");
	/* interval must be >= 1s */
	load_err(HEAD "targets:\n  - host: a\n    interval: 999ms\n", 13, 15,
		 "targets[0].interval: expected a duration of at least 1000ms, got \"999ms\"");
	load_err(HEAD "defaults:\n  interval: 500ms\ntargets:\n  - host: a\n", 12, 13, "at least 1000ms");
	load_err(HEAD "targets:\n  - host: a\n    timeout: 0s\n", 13, 14, "at least 1ms");
}

Test(config, bad_size)
{
	load_err(HEAD "  max_bytes: 10MB\ntargets:\n  - host: a\n", 11, 14,
		 "spool.max_bytes: expected a size like 1048576, 512KiB, 256MiB or 2GiB, got \"10MB\"");
	load_err(HEAD "  max_bytes: 1KiB\ntargets:\n  - host: a\n", 11, 14, "at least 1MiB");
}

Test(config, bad_addresses)
{
	load_err("probe: {id: a, region: b}\ncollector:\n  address: collector.example\n"
		 "  ca_file: a\n  cert_file: b\n  key_file: c\n", 3, 12,
		 "collector.address: expected host:port");
	load_err(HEAD "targets:\n  - host: a\n    connect_to: 10.0.0.1:http\n", 13, 17,
		 "targets[0].connect_to: expected host, host:port");
	load_err(HEAD "targets:\n  - host: a b\n", 12, 11, "targets[0].host: expected a host name");
}

Test(config, sni_and_no_sni)
{
	load_err(HEAD "targets:\n  - host: a\n    sni: b\n    no_sni: true\n", 14, 5,
		 "targets[0]: sni and no_sni: true are mutually exclusive");
	load_err(HEAD "targets:\n  - host: a\n    no_sni: maybe\n", 13, 13,
		 "targets[0].no_sni: expected true or false");
	struct probe_config *c = load_ok(HEAD "targets:\n  - host: a\n    sni: b\n    no_sni: false\n");
	cr_assert_str_eq(c->targets[0].sni, "b");
	config_free(c);
}

Test(config, client_cert_needs_key)
{
	load_err(HEAD "targets:\n  - host: a\n    client_cert: c.pem\n", 13, 5,
		 "targets[0]: client_cert needs client_key");
	load_err(HEAD "targets:\n  - host: a\n  - host: b\n    client_key: c.key\n", 14, 5,
		 "targets[1]: client_key needs client_cert");
}

Test(config, duplicate_target)
{
	load_err(HEAD "targets:\n"
		 "  - host: a\n"                 /* 12 */
		 "  - host: b\n"                 /* 13 */
		 "  - host: a\n"                 /* 14 */
		 "    port: 443\n"
		 "    sni: a\n",
		 14, 5, "targets[2]: duplicate target a:443 sni a: same host, port and sni as "
		 "targets[0] at line 12, column 5");
	/* Different sni or port: not duplicates. */
	struct probe_config *c = load_ok(HEAD "targets:\n  - host: a\n  - host: a\n    sni: b\n"
					 "  - host: a\n    port: 444\n  - host: a\n    no_sni: true\n");
	cr_assert_eq(c->ntargets, 4);
	config_free(c);
	/* The earliest duplicate pair is the one reported. */
	load_err(HEAD "targets:\n"
		 "  - host: z\n"                 /* 12 t0 */
		 "  - host: a\n"                 /* 13 t1 */
		 "  - host: a\n"                 /* 14 t2 */
		 "  - host: z\n"                 /* 15 t3 */
		 "  - host: a\n",                /* 16 t4 */
		 14, 5, "targets[2]: duplicate target a:443 sni a: same host, port and sni as targets[1]");
}

Test(config, starttls)
{
	load_err(HEAD "targets:\n  - host: a\n    starttls: xmpp\n", 13, 15,
		 "targets[0].starttls: unknown protocol \"xmpp\" (expected one of: smtp, imap, pop3, ftp, postgres)");
	struct probe_config *c = load_ok(HEAD "targets:\n  - host: a\n    starttls: postgres\n"
					 "  - host: b\n    starttls: imap\n");
	cr_assert_eq(c->targets[0].starttls, STARTTLS_POSTGRES);
	cr_assert_eq(c->targets[1].starttls, STARTTLS_IMAP);
	config_free(c);
}

Test(config, empty_targets)
{
	load_err(HEAD "targets: []\n", 11, 10, "targets: expected at least one target");
	load_err(HEAD "targets:\n", 11, 9, "targets: expected a sequence, got a scalar");
	load_err(HEAD "targets:\n  - host: a\n    profiles: []\n", 13, 15,
		 "targets[0].profiles: expected at least one profile");
}

Test(config, alias_of_collection_refused)
{
	load_err(HEAD "defaults:\n  profiles: &p [a]\ntargets:\n  - host: a\n    profiles: *p\n", 12, 13,
		 "targets[0].profiles: used a second time through an alias; aliases of");
	/* Scalar aliases are harmless. */
	struct probe_config *c = load_ok(HEAD "targets:\n  - host: &h a.example\n    sni: *h\n");
	cr_assert_str_eq(c->targets[0].sni, "a.example");
	config_free(c);
}

Test(config, ten_thousand_targets)
{
	size_t cap = 10000 * 80 + 1024, off = 0;
	char *text = malloc(cap);
	cr_assert_not_null(text);
	off += (size_t)snprintf(text, cap, "%stargets:\n", HEAD);
	for (int i = 0; i < 10000; i++)
		off += (size_t)snprintf(text + off, cap - off,
					"  - {host: h%d.example, port: %d, labels: {n: \"%d\"}}\n",
					i, 1 + i % 65535, i);
	cr_assert_lt(off, cap);
	struct probe_config *c = load_ok(text);
	free(text);
	cr_assert_eq(c->ntargets, 10000);
	cr_assert_str_eq(c->targets[9999].host, "h9999.example");
	cr_assert_str_eq(c->targets[9999].labels[0].value, "9999");
	cr_assert_eq(c->targets[9999].pos.line, 10011);
	config_free(c);
}

/* ---- keys added for the daemon ---- */

/* HEAD ends inside collector->spool; these variants put keys in collector. */
#define HEAD_COLL \
	"probe: {id: p1, region: r1}\n"              /* 1 */ \
	"collector:\n"                               /* 2 */ \
	"  address: c.example:7443\n"                /* 3 */ \
	"  ca_file: ca.pem\n"                        /* 4 */ \
	"  cert_file: p.pem\n"                       /* 5 */ \
	"  key_file: p.key\n"                        /* 6 */

Test(config, ca_file_and_revocation)
{
	struct probe_config *c = load_ok(HEAD
		"defaults:\n"
		"  ca_file: /etc/ca-default.pem\n"
		"  revocation: ocsp\n"
		"targets:\n"
		"  - host: a\n"
		"  - host: b\n"
		"    ca_file: /etc/ca-b.pem\n"
		"    revocation: staple\n");
	cr_assert_str_eq(c->defaults.ca_file, "/etc/ca-default.pem");
	cr_assert_eq(c->defaults.revocation, CONFIG_REV_OCSP);
	cr_assert_str_eq(c->targets[0].ca_file, "/etc/ca-default.pem");
	cr_assert_neq(c->targets[0].ca_file, c->defaults.ca_file);   /* own copy */
	cr_assert_eq(c->targets[0].revocation, CONFIG_REV_OCSP);
	cr_assert_str_eq(c->targets[1].ca_file, "/etc/ca-b.pem");
	cr_assert_eq(c->targets[1].revocation, CONFIG_REV_STAPLE);
	config_free(c);

	load_err(HEAD "targets:\n  - host: a\n    revocation: crls\n", 13, 17,
		 "targets[0].revocation: expected staple, ocsp, crl or ocsp,crl, got \"crls\"");
	load_err(HEAD "defaults:\n  revocation: [ocsp]\ntargets:\n  - host: a\n", 12, 15,
		 "defaults.revocation: expected a scalar, got a sequence");
	load_err(HEAD "defaults:\n  ca_file: \"\"\ntargets:\n  - host: a\n", 12, 12,
		 "defaults.ca_file: expected a non-empty string");
	load_err(HEAD "targets:\n  - host: a\n    ca_file: {x: y}\n", 13, 14,
		 "targets[0].ca_file: expected a scalar, got a mapping");
}

Test(config, collector_batching_and_heartbeat)
{
	struct probe_config *c = load_ok(HEAD_COLL
		"  batch_max_records: 50\n"
		"  batch_max_delay: 100ms\n"
		"  heartbeat: 1s\n"
		"spool: {path: /tmp/s, fsync_interval: 250ms}\n"
		"targets:\n  - host: a\n");
	cr_assert_eq(c->batch_max_records, 50);
	cr_assert_eq(c->batch_max_delay_ms, 100);
	cr_assert_eq(c->heartbeat_ms, 1000);
	cr_assert_eq(c->spool_fsync_ms, 250);
	config_free(c);

	load_err(HEAD_COLL "  batch_max_records: 0\nspool: {path: /s}\ntargets:\n  - host: a\n", 7, 22,
		 "collector.batch_max_records: expected an integer 1-100000, got \"0\"");
	load_err(HEAD_COLL "  batch_max_records: lots\nspool: {path: /s}\ntargets:\n  - host: a\n", 7, 22,
		 "collector.batch_max_records: expected an integer");
	load_err(HEAD_COLL "  batch_max_delay: 100\nspool: {path: /s}\ntargets:\n  - host: a\n", 7, 20,
		 "collector.batch_max_delay: expected a duration like 500ms");
	load_err(HEAD_COLL "  heartbeat: 50ms\nspool: {path: /s}\ntargets:\n  - host: a\n", 7, 14,
		 "collector.heartbeat: expected a duration of at least 100ms, got \"50ms\"");
	load_err(HEAD_COLL "  heartbeats: 1s\nspool: {path: /s}\ntargets:\n  - host: a\n", 7, 3,
		 "collector: unknown key \"heartbeats\"");
	load_err(HEAD "  fsync_interval: 5ms\ntargets:\n  - host: a\n", 11, 19,
		 "spool.fsync_interval: expected a duration of at least 10ms, got \"5ms\"");
	load_err(HEAD "  fsync_interval: often\ntargets:\n  - host: a\n", 11, 19,
		 "spool.fsync_interval: expected a duration like");
}

Test(config, log_section)
{
	struct probe_config *c = load_ok(HEAD "log: {level: debug, json: true}\ntargets:\n  - host: a\n");
	cr_assert_eq(c->log_level, 3);
	cr_assert(c->log_json);
	config_free(c);
	c = load_ok(HEAD "log:\n  json: false\ntargets:\n  - host: a\n");
	cr_assert_eq(c->log_level, -1);
	config_free(c);
	load_err(HEAD "log:\n  level: loud\ntargets:\n  - host: a\n", 12, 10,
		 "log.level: expected one of error, warn, info, debug, got \"loud\"");
	load_err(HEAD "log:\n  json: yes please\ntargets:\n  - host: a\n", 12, 9,
		 "log.json: expected true or false");
	load_err(HEAD "log:\n  file: /x\ntargets:\n  - host: a\n", 12, 3,
		 "log: unknown key \"file\" (allowed: level, json)");
	load_err(HEAD "log: info\ntargets:\n  - host: a\n", 11, 6, "log: expected a mapping, got a scalar");
}

Test(config, duplicate_profile_in_a_list)
{
	load_err(HEAD "targets:\n  - host: a\n    profiles: [modern, tls13, modern]\n", 13, 31,
		 "targets[0].profiles[2]: duplicate profile \"modern\" (first at line 13, column 16)");
	load_err(HEAD "defaults:\n  profiles:\n    - tls13\n    - tls13\ntargets:\n  - host: a\n", 14, 7,
		 "defaults.profiles[1]: duplicate profile \"tls13\" (first at line 13, column 7)");
}
