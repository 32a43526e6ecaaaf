/*
 * test_col_config.c - col_config_load() and col_config_check_files(): the
 * example file, defaults, and every error kind with its exact
 * file:line:column.
 *
 * Run from the repository root (tests/run.sh does);
 * deploy/collector.example.yaml is found relative to it, or under $TW_SRC.
 */
#define _GNU_SOURCE      /* RTLD_NEXT */
#include <criterion/criterion.h>
#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "col_config.h"
#include "db.h"
#include "log.h"

TestSuite(col_config);

/* A valid minimal file; tests append to it. */
#define HEAD \
	"listen: 127.0.0.1:7443\n"                   /* 1 */ \
	"tls:\n"                                     /* 2 */ \
	"  ca_file: ca.pem\n"                        /* 3 */ \
	"  cert_file: c.pem\n"                       /* 4 */ \
	"  key_file: c.key\n"                        /* 5 */ \
	"database:\n"                                /* 6 */ \
	"  conninfo: dbname=x\n"                     /* 7 */

static char g_path[64];

static const char *write_tmp(const char *text)
{
	snprintf(g_path, sizeof g_path, "/tmp/tw_colcfg_XXXXXX");
	int fd = mkstemp(g_path);
	cr_assert_geq(fd, 0, "mkstemp: %s", strerror(errno));
	size_t len = strlen(text);
	cr_assert_eq(write(fd, text, len), (ssize_t)len);
	close(fd);
	return g_path;
}

static struct col_config *load_ok(const char *text)
{
	char err[1024] = "";
	const char *p = write_tmp(text);
	struct col_config *cfg = col_config_load(p, err, sizeof err);
	unlink(p);
	cr_assert_not_null(cfg, "unexpected error: %s", err);
	return cfg;
}

/* Expects an error starting "PATH:line:col: " and containing `phrase`. */
static void load_err(const char *text, unsigned line, unsigned col, const char *phrase)
{
	char err[1024] = "", prefix[128];
	const char *p = write_tmp(text);
	struct col_config *cfg = col_config_load(p, err, sizeof err);
	unlink(p);
	cr_assert_null(cfg, "loaded, expected an error with \"%s\"", phrase);
	snprintf(prefix, sizeof prefix, "%s:%u:%u: ", p, line, col);
	cr_assert(strncmp(err, prefix, strlen(prefix)) == 0, "error \"%s\" lacks prefix \"%s\"",
		  err, prefix);
	cr_assert(strstr(err, phrase) != NULL, "error \"%s\" lacks \"%s\"", err, phrase);
}

static const char *example_path(void)
{
	static char buf[512];
	const char *src = getenv("TW_SRC");
	snprintf(buf, sizeof buf, "%s/deploy/collector.example.yaml", src ? src : ".");
	return buf;
}

/* ---- valid files ---- */

/* The documented defaults of the retention section (= the example file's). */
static void expect_default_retention(const struct col_config *cfg)
{
	cr_expect_eq(cfg->retention.results, 30);
	cr_expect_eq(cfg->retention.rollup_1m, 30);
	cr_expect_eq(cfg->retention.rollup_1h, 400);
	cr_expect_eq(cfg->retention.alert_events, 180);
	cr_expect_eq(cfg->retention.notifications, 30);
	cr_expect_eq(cfg->retention.evaluation_runs, 30);
	cr_expect_eq(cfg->retention.certificate_sightings, 400);
}

Test(col_config, example_file_loads)
{
	char err[1024] = "";
	struct col_config *cfg = col_config_load(example_path(), err, sizeof err);
	cr_assert_not_null(cfg, "example: %s", err);
	cr_expect_str_eq(cfg->listen, "0.0.0.0:7443");
	cr_expect_str_eq(cfg->listen_host, "0.0.0.0");
	cr_expect_eq(cfg->listen_port, 7443);
	cr_expect_str_eq(cfg->ca_file, "/etc/tlswatch/probes-ca.pem");
	cr_expect_str_eq(cfg->cert_file, "/etc/tlswatch/collector.pem");
	cr_expect_str_eq(cfg->key_file, "/etc/tlswatch/collector.key");
	cr_expect_str_eq(cfg->http_host, "127.0.0.1");
	cr_expect_eq(cfg->http_port, 9470);
	cr_expect_str_eq(cfg->db_conninfo, "host=/var/run/postgresql dbname=tlswatch user=tlswatch");
	cr_expect_eq(cfg->db_connections, 4);
	cr_expect_eq(cfg->db_queue_max_rows, 50000);
	cr_expect_eq(cfg->retention_days, 30);
	expect_default_retention(cfg);
	cr_expect_eq(cfg->partitions_ahead_days, 3);
	cr_expect_eq(cfg->max_frame, 4u << 20);
	cr_expect_eq(cfg->max_connections, 10000);
	cr_expect_eq(cfg->idle_timeout_ms, 60000);
	cr_expect_eq(cfg->handshake_timeout_ms, 10000);
	cr_expect_eq(cfg->hello_timeout_ms, 10000);
	cr_expect_eq(cfg->shutdown_timeout_ms, 10000);
	cr_expect_eq(cfg->max_pending_rows, 10000);
	cr_expect_eq(cfg->log_level, TWLOG_INFO);
	cr_expect(!cfg->log_json);
	cr_expect(cfg->alerting);
	cr_expect_str_eq(cfg->slo_file, "/etc/tlswatch/slos.yaml");
	cr_expect_eq(cfg->evaluation_interval_ms, 30000);
	cr_expect_str_eq(cfg->external_url, "https://tlswatch.example.com");
	cr_expect_str_eq(cfg->notify_file, "/etc/tlswatch/notify.yaml");
	cr_expect_not_null(cfg->collector_id);
	col_config_free(cfg);
}

Test(col_config, alerting)
{
	struct col_config *cfg = load_ok(HEAD);
	cr_expect(!cfg->alerting);
	cr_expect_null(cfg->slo_file);
	cr_expect_null(cfg->notify_file);
	col_config_free(cfg);

	cfg = load_ok(HEAD "alerting:\n");
	cr_expect(cfg->alerting);
	cr_expect_null(cfg->slo_file);
	cr_expect_eq(cfg->evaluation_interval_ms, 30000);
	char want[300], host[256];
	cr_assert_eq(gethostname(host, sizeof host), 0);
	host[sizeof host - 1] = '\0';
	snprintf(want, sizeof want, "%s:%ld", host, (long)getpid());
	cr_expect_str_eq(cfg->collector_id, want);
	col_config_free(cfg);

	cfg = load_ok(HEAD "alerting:\n  slo_file: s.yaml\n  evaluation_interval: 1s\n"
		      "  collector_id: c-1\n  notify_file: n.yaml\n");
	cr_expect_str_eq(cfg->slo_file, "s.yaml");
	cr_expect_eq(cfg->slo_pos.line, 9);
	cr_expect_eq(cfg->slo_pos.column, 13);
	cr_expect_eq(cfg->evaluation_interval_ms, 1000);
	cr_expect_str_eq(cfg->collector_id, "c-1");
	cr_expect_str_eq(cfg->notify_file, "n.yaml");
	cr_expect_eq(cfg->notify_pos.line, 12);
	col_config_free(cfg);

	load_err(HEAD "alerting:\n  evaluation_interval: 500ms\n", 9, 24,
		 "alerting.evaluation_interval: expected a duration of at least 1000ms");
	load_err(HEAD "alerting:\n  evaluation_interval: 2h\n", 9, 24,
		 "alerting.evaluation_interval: expected a duration of at most 1h");
	load_err(HEAD "alerting:\n  external_url: tlswatch.example.com\n", 9, 17,
		 "alerting.external_url: expected an http:// or https:// URL");
	load_err(HEAD "alerting:\n  slo: x\n", 9, 3, "unknown key \"slo\"");
}

Test(col_config, defaults)
{
	struct col_config *cfg = load_ok(HEAD);
	cr_expect_null(cfg->http_listen);
	cr_expect_eq(cfg->db_connections, 4);
	cr_expect_eq(cfg->db_queue_max_rows, 50000);
	cr_expect_eq(cfg->retention_days, 30);
	expect_default_retention(cfg);
	cr_expect_eq(cfg->partitions_ahead_days, 3);
	cr_expect_eq(cfg->max_frame, 4u << 20);
	cr_expect_eq(cfg->idle_timeout_ms, 60000);
	cr_expect_eq(cfg->max_pending_rows, 10000);
	cr_expect_eq(cfg->log_level, TWLOG_INFO);
	cr_expect_eq(cfg->ca_pos.line, 3);
	cr_expect_eq(cfg->ca_pos.column, 12);
	cr_expect_eq(cfg->key_pos.line, 5);
	col_config_free(cfg);
}

Test(col_config, ipv6_and_values)
{
	struct col_config *cfg = load_ok(
		"listen: \"[::1]:7443\"\n"
		"tls: {ca_file: a, cert_file: b, key_file: c}\n"
		"http: {listen: \"[::1]:9000\"}\n"
		"database: {conninfo: \"postgresql://u@h/db\", connections: 8, queue_max_rows: 7}\n"
		"retention_days: 90\n"
		"partitions_ahead_days: 7\n"
		"limits: {max_frame: 64KiB, max_connections: 5, idle_timeout: 2m, "
		"handshake_timeout: 500ms, hello_timeout: 3s, shutdown_timeout: 0s, "
		"max_pending_rows: 100}\n"
		"log: {level: debug, json: true}\n");
	cr_expect_str_eq(cfg->listen_host, "::1");
	cr_expect_eq(cfg->http_port, 9000);
	cr_expect_eq(cfg->db_connections, 8);
	cr_expect_eq(cfg->db_queue_max_rows, 7);
	cr_expect_eq(cfg->retention_days, 90);
	cr_expect_eq(cfg->partitions_ahead_days, 7);
	cr_expect_eq(cfg->max_frame, 65536);
	cr_expect_eq(cfg->max_connections, 5);
	cr_expect_eq(cfg->idle_timeout_ms, 120000);
	cr_expect_eq(cfg->handshake_timeout_ms, 500);
	cr_expect_eq(cfg->hello_timeout_ms, 3000);
	cr_expect_eq(cfg->shutdown_timeout_ms, 0);
	cr_expect_eq(cfg->max_pending_rows, 100);
	cr_expect_eq(cfg->log_level, TWLOG_DEBUG);
	cr_expect(cfg->log_json);
	col_config_free(cfg);
}

Test(col_config, retention_section)
{
	struct col_config *cfg = load_ok(HEAD
		"retention:\n"
		"  results: 14\n"
		"  rollup_1m: 7\n"
		"  rollup_1h: 90\n"
		"  alert_events: 60\n"
		"  notifications: 10\n"
		"  evaluation_runs: 3\n"
		"  certificate_sightings: 365\n");
	cr_expect_eq(cfg->retention_days, 14);
	cr_expect_eq(cfg->retention.results, 14);
	cr_expect_eq(cfg->retention.rollup_1m, 7);
	cr_expect_eq(cfg->retention.rollup_1h, 90);
	cr_expect_eq(cfg->retention.alert_events, 60);
	cr_expect_eq(cfg->retention.notifications, 10);
	cr_expect_eq(cfg->retention.evaluation_runs, 3);
	cr_expect_eq(cfg->retention.certificate_sightings, 365);
	col_config_free(cfg);
	/* some keys: the others keep their defaults; retention_days is results */
	cfg = load_ok(HEAD "retention_days: 9\nretention:\n  notifications: 5\n");
	cr_expect_eq(cfg->retention.results, 9);
	cr_expect_eq(cfg->retention_days, 9);
	cr_expect_eq(cfg->retention.notifications, 5);
	cr_expect_eq(cfg->retention.rollup_1h, 400);
	col_config_free(cfg);
}

Test(col_config, retention_errors)
{
	load_err(HEAD "retention:\n  results: 0\n", 9, 12,
		 "retention.results: expected an integer 1-3650, got \"0\"");
	load_err(HEAD "retention:\n  rollup_1h: 3651\n", 9, 14,
		 "retention.rollup_1h: expected an integer 1-3650");
	load_err(HEAD "retention:\n  results: 5\n  rollups: 3\n", 10, 3,
		 "retention: unknown key \"rollups\"");
	load_err(HEAD "retention: 30\n", 8, 12, "retention: expected a mapping");
	load_err(HEAD "retention_days: 9\nretention:\n  results: 10\n", 10, 12,
		 "retention.results: retention_days (line 8) says the same");
	load_err(HEAD "retention:\n  rollup_1m: 60\n  rollup_1h: 30\n", 10, 14,
		 "retention.rollup_1h: rollup_1h (30 days) must be kept at least as long as "
		 "rollup_1m (60 days)");
	load_err(HEAD "retention:\n  rollup_1m: 500\n", 9, 14,
		 "retention.rollup_1m: rollup_1h (400 days) must be kept at least as long");
}

/* Records, when the block g_watch is freed, whether it still held anything
 * (the password must be gone by then). Without AddressSanitizer this test
 * binary's own free() sees every free and passes it on to the next free() in
 * the lookup order (libc's); under ASan, whose allocator must not be
 * bypassed, ASan calls __sanitizer_free_hook() before it frees a block. */
static void *volatile g_watch;
static size_t g_watch_len;
static volatile int g_watch_seen;          /* 0 not freed, 1 wiped, 2 not wiped */

static void watch_check(const volatile void *p)
{
	if (!p || p != g_watch)
		return;
	const volatile unsigned char *b = p;
	int wiped = 1;
	for (size_t i = 0; i < g_watch_len; i++)
		if (b[i])
			wiped = 0;
	g_watch_seen = wiped ? 1 : 2;
	g_watch = NULL;
}

#if defined(__SANITIZE_ADDRESS__)
void __sanitizer_free_hook(const volatile void *p);
void __sanitizer_free_hook(const volatile void *p)
{
	watch_check(p);
}
#else
void free(void *p)
{
	static void (*next_free)(void *);
	static int resolving;
	watch_check(p);
	if (!next_free) {
		if (resolving)
			return;            /* dlsym's own bookkeeping while resolving: kept */
		resolving = 1;
		next_free = (void (*)(void *))dlsym(RTLD_NEXT, "free");
		resolving = 0;
	}
	next_free(p);
}
#endif

/* The conninfo may hold a password: col_config_free wipes it before freeing. */
Test(col_config, conninfo_is_wiped_before_free)
{
	struct col_config *cfg = load_ok(
		"listen: 127.0.0.1:7443\n"
		"tls: {ca_file: a, cert_file: b, key_file: c}\n"
		"database:\n"
		"  conninfo: \"host=db user=tw password=s3cr3t-pw\"\n");
	cr_assert_str_eq(cfg->db_conninfo, "host=db user=tw password=s3cr3t-pw");
	g_watch_len = strlen(cfg->db_conninfo);
	g_watch_seen = 0;
	g_watch = cfg->db_conninfo;
	col_config_free(cfg);
	cr_assert_eq(g_watch_seen, 1, "the conninfo was %s", g_watch_seen == 2
		     ? "freed with the password still in it" : "not freed");
}

/* ---- errors, one per kind ---- */

Test(col_config, unreadable_file)
{
	char err[512] = "";
	cr_assert_null(col_config_load("/nonexistent/collector.yaml", err, sizeof err));
	cr_expect(strstr(err, "/nonexistent/collector.yaml: cannot read:") == err, "%s", err);
}

Test(col_config, syntax_error)
{
	load_err(HEAD "limits: {max_frame: 1KiB\n", 9, 1, "YAML syntax error");
}

Test(col_config, empty_file)
{
	load_err("", 1, 1, "empty file");
}

Test(col_config, top_not_mapping)
{
	load_err("- a\n- b\n", 1, 1, "expected a mapping at the top level");
}

Test(col_config, second_document)
{
	load_err(HEAD "---\nlisten: x:1\n", 9, 1, "single YAML document");
}

Test(col_config, unknown_top_key)
{
	load_err(HEAD "spool: {path: /x}\n", 8, 1, "unknown key \"spool\" (allowed: listen, tls,");
}

Test(col_config, unknown_nested_key)
{
	load_err(HEAD "limits:\n  max_frames: 1MiB\n", 9, 3,
		 "limits: unknown key \"max_frames\"");
}

Test(col_config, duplicate_key)
{
	load_err(HEAD "retention_days: 3\nretention_days: 4\n", 9, 1,
		 "duplicate key \"retention_days\" (first at line 8, column 1)");
}

Test(col_config, missing_listen)
{
	load_err("tls: {ca_file: a, cert_file: b, key_file: c}\n"
		 "database: {conninfo: dbname=x}\n", 1, 1, "missing required key \"listen\"");
}

Test(col_config, bad_listen)
{
	load_err("listen: localhost\n"
		 "tls: {ca_file: a, cert_file: b, key_file: c}\n"
		 "database: {conninfo: dbname=x}\n", 1, 9,
		 "listen: expected HOST:PORT or [IPV6]:PORT with a port 1-65535, got \"localhost\"");
	load_err("listen: h:70000\n"
		 "tls: {ca_file: a, cert_file: b, key_file: c}\n"
		 "database: {conninfo: dbname=x}\n", 1, 9, "listen: expected HOST:PORT");
}

Test(col_config, listen_not_scalar)
{
	load_err("listen: {host: a}\n", 1, 9, "listen: expected a scalar, got a mapping");
}

Test(col_config, missing_tls_file)
{
	load_err("listen: a:1\ntls:\n  ca_file: a\n  cert_file: b\n", 3, 3,
		 "tls: missing required key \"key_file\"");
}

Test(col_config, empty_string)
{
	load_err("listen: a:1\ntls:\n  ca_file: \"\"\n", 3, 12, "tls.ca_file: expected a non-empty string");
}

Test(col_config, missing_database)
{
	load_err("listen: a:1\ntls: {ca_file: a, cert_file: b, key_file: c}\n", 1, 1,
		 "missing required key \"database\"");
}

Test(col_config, missing_conninfo)
{
	load_err("listen: a:1\ntls: {ca_file: a, cert_file: b, key_file: c}\n"
		 "database:\n  connections: 2\n", 4, 3, "database: missing required key \"conninfo\"");
}

Test(col_config, integer_out_of_range)
{
	load_err(HEAD "  connections: 0\n", 8, 16,
		 "database.connections: expected an integer 1-64, got \"0\"");
	load_err(HEAD "retention_days: ten\n", 8, 17,
		 "retention_days: expected an integer 1-3650, got \"ten\"");
}

Test(col_config, bad_duration)
{
	load_err(HEAD "limits:\n  idle_timeout: 60\n", 9, 17,
		 "limits.idle_timeout: expected a duration like 500ms, 30s, 5m or 1h");
	load_err(HEAD "limits:\n  idle_timeout: 10ms\n", 9, 17,
		 "limits.idle_timeout: expected a duration of at least 1000ms");
}

Test(col_config, bad_size)
{
	load_err(HEAD "limits:\n  max_frame: huge\n", 9, 14,
		 "limits.max_frame: expected a size like 65536, 512KiB or 4MiB, got \"huge\"");
	load_err(HEAD "limits:\n  max_frame: 1GiB\n", 9, 14,
		 "limits.max_frame: expected a size from 1024 to 67108864 bytes");
}

Test(col_config, bad_log)
{
	load_err(HEAD "log:\n  level: loud\n", 9, 10,
		 "log.level: expected one of error, warn, info, debug, got \"loud\"");
	load_err(HEAD "log:\n  json: yes\n", 9, 9, "log.json: expected true or false, got \"yes\"");
}

Test(col_config, http_needs_listen)
{
	load_err(HEAD "http: {}\n", 8, 7, "http: missing required key \"listen\"");
	load_err(HEAD "http:\n  listen: 127.0.0.1:7443\n", 9, 11,
		 "http.listen: expected an address other than listen");
}

Test(col_config, section_not_mapping)
{
	load_err(HEAD "limits: [1, 2]\n", 8, 9, "limits: expected a mapping, got a sequence");
}

Test(col_config, alias_of_mapping)
{
	load_err("listen: a:1\n"
		 "tls: &t {ca_file: a, cert_file: b, key_file: c}\n"
		 "http: *t\n"
		 "database: {conninfo: dbname=x}\n", 2, 6, "used a second time through an alias");
}

/* ---- files ---- */

static char g_dir[64];

static void mkfile(const char *name, mode_t mode)
{
	char p[160];
	snprintf(p, sizeof p, "%s/%s", g_dir, name);
	FILE *f = fopen(p, "w");
	cr_assert_not_null(f);
	fputs("x\n", f);
	fclose(f);
	cr_assert_eq(chmod(p, mode), 0);
}

static struct col_config *load_files(void)
{
	char text[1024];
	snprintf(g_dir, sizeof g_dir, "/tmp/tw_colcfg_dir_XXXXXX");
	cr_assert_not_null(mkdtemp(g_dir));
	snprintf(text, sizeof text,
		 "listen: 127.0.0.1:1\n"
		 "tls:\n"
		 "  ca_file: %s/ca.pem\n"
		 "  cert_file: %s/c.pem\n"
		 "  key_file: %s/c.key\n"
		 "database: {conninfo: dbname=x}\n", g_dir, g_dir, g_dir);
	return load_ok(text);
}

static void cleanup_dir(void)
{
	char p[160];
	const char *names[] = { "ca.pem", "c.pem", "c.key" };
	for (int i = 0; i < 3; i++) {
		snprintf(p, sizeof p, "%s/%s", g_dir, names[i]);
		unlink(p);
	}
	rmdir(g_dir);
}

Test(col_config, check_files_ok)
{
	struct col_config *cfg = load_files();
	char err[1024] = "";
	mkfile("ca.pem", 0644);
	mkfile("c.pem", 0644);
	mkfile("c.key", 0600);
	cr_expect_eq(col_config_check_files(cfg, err, sizeof err), 0, "%s", err);
	cleanup_dir();
	col_config_free(cfg);
}

Test(col_config, check_files_missing_ca)
{
	struct col_config *cfg = load_files();
	char err[1024] = "", prefix[160];
	mkfile("c.pem", 0644);
	mkfile("c.key", 0600);
	cr_expect_eq(col_config_check_files(cfg, err, sizeof err), -1);
	snprintf(prefix, sizeof prefix, "%s:3:12: tls.ca_file: cannot read ", cfg->path);
	cr_expect(strncmp(err, prefix, strlen(prefix)) == 0, "\"%s\" lacks \"%s\"", err, prefix);
	cr_expect(strstr(err, "No such file") != NULL, "%s", err);
	cleanup_dir();
	col_config_free(cfg);
}

Test(col_config, check_files_key_mode)
{
	struct col_config *cfg = load_files();
	char err[1024] = "", prefix[160];
	mkfile("ca.pem", 0644);
	mkfile("c.pem", 0644);
	mkfile("c.key", 0640);
	cr_expect_eq(col_config_check_files(cfg, err, sizeof err), -1);
	snprintf(prefix, sizeof prefix, "%s:5:13: tls.key_file: private key ", cfg->path);
	cr_expect(strncmp(err, prefix, strlen(prefix)) == 0, "\"%s\" lacks \"%s\"", err, prefix);
	cr_expect(strstr(err, "accessible by group or others (mode 0640)") != NULL, "%s", err);
	cleanup_dir();
	col_config_free(cfg);
}

Test(col_config, check_files_slo_file)
{
	char text[1024], err[1024] = "", prefix[200];
	snprintf(g_dir, sizeof g_dir, "/tmp/tw_colcfg_dir_XXXXXX");
	cr_assert_not_null(mkdtemp(g_dir));
	snprintf(text, sizeof text,
		 "listen: 127.0.0.1:1\n"
		 "tls:\n"
		 "  ca_file: %s/ca.pem\n"
		 "  cert_file: %s/c.pem\n"
		 "  key_file: %s/c.key\n"
		 "database: {conninfo: dbname=x}\n"
		 "alerting:\n"
		 "  slo_file: %s/missing.yaml\n", g_dir, g_dir, g_dir, g_dir);
	struct col_config *cfg = load_ok(text);
	mkfile("ca.pem", 0644);
	mkfile("c.pem", 0644);
	mkfile("c.key", 0600);
	cr_expect_eq(col_config_check_files(cfg, err, sizeof err), -1);
	snprintf(prefix, sizeof prefix, "%s:8:13: alerting.slo_file: cannot read ", cfg->path);
	cr_expect(strncmp(err, prefix, strlen(prefix)) == 0, "\"%s\" lacks \"%s\"", err, prefix);
	cleanup_dir();
	col_config_free(cfg);
}

/* a minimal config whose conninfo is the string literal ci */
#define CC(ci) "listen: 127.0.0.1:7443\ntls: {ca_file: a, cert_file: b, key_file: c}\n" \
	       "database:\n  conninfo: " ci "\n"

/* Issue 12: an invalid conninfo used to pass --check-config and be retried
 * for ever at run time. libpq's verdict comes at load, at the value's
 * position, naming the option - and never echoing a password. */
Test(col_config, conninfo_checked_by_libpq_at_load)
{
	load_err(CC("\"host=db nosuchopt=1\""), 4, 13,
		 "database.conninfo: invalid: invalid connection option \"nosuchopt\"");
	load_err(CC("\"host=db sslmode=bogus\""), 4, 13,
		 "option sslmode: invalid value \"bogus\" in the conninfo (expected one of disable");
	load_err(CC("\"host=db target_session_attrs=rw\""), 4, 13,
		 "option target_session_attrs: invalid value \"rw\"");
	load_err(CC("\"host=a,b port=1,2,3\""), 4, 13,
		 "option port: 3 port numbers for 2 hosts");
	load_err(CC("\"host=db port=99999\""), 4, 13, "option port: invalid value");
	load_err(CC("\"host=db connect_timeout=10s\""), 4, 13,
		 "option connect_timeout: invalid value \"10s\"");
	load_err(CC("\"postgresql://u@h:port/db\""), 4, 13, "option port: invalid value \"port\"");
	load_err(CC("\"postgresql://u@[::1/db\""), 4, 13, "database.conninfo: invalid: ");
	/* a password with a space: libpq quotes the stray half; we do not */
	load_err(CC("\"host=db password=s3cr3t pw\""), 4, 13,
		 "invalid: missing \"=\" after \"...\" in connection info string");

	/* the good ones still load, multi-host failover included */
	struct col_config *cfg = load_ok(CC("\"host=a,b port=5432,5433 "
					    "target_session_attrs=read-write sslmode=verify-full\""));
	col_config_free(cfg);
	cfg = load_ok(CC("\"postgresql://u:p@h1:5432,h2/db?target_session_attrs=primary\""));
	col_config_free(cfg);
	cfg = load_ok(CC("\"host=db,db2 port=,5433 connect_timeout=-1 keepalives=0\""));
	col_config_free(cfg);
}

/* At run time the environment counts too (PGSSLMODE=...): db_pool_new
 * refuses a conninfo libpq would refuse at every connect. */
Test(col_config, conninfo_invalid_from_environment_named)
{
	char err[512] = "";
	cr_assert_eq(setenv("PGSSLMODE", "sometimes", 1), 0);
	cr_expect_eq(db_conninfo_check("host=db", err, sizeof err), -1);
	cr_expect(strstr(err, "option sslmode: invalid value \"sometimes\" from the environment"),
		  "%s", err);
	cr_expect_eq(db_conninfo_check("host=db sslmode=require", err, sizeof err), 0,
		     "the string's value wins: %s", err);
	unsetenv("PGSSLMODE");
	cr_expect_eq(db_conninfo_check("host=db", err, sizeof err), 0, "%s", err);
}
