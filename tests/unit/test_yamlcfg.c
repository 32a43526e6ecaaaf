/*
 * test_yamlcfg.c - common/yamlcfg.c, the walker under every configuration
 * loader (probe, collector, notify, SLO): the "FILE:LINE:COLUMN: CTX: what"
 * error contract, alias refusal, key checks, the scalar parsers (numbers,
 * durations, sizes, booleans, host:port) and the file size cap.
 *
 * Documents come from strings (yamlcfg_open_string) except where reading a
 * file is the point; those go to a mkdtemp directory removed at the end.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "yamlcfg.h"

TestSuite(yamlcfg);

static struct yc yc;
static char err[512];

/* Opens text as "t.yaml"; asserts success and returns the root. */
static yaml_node_t *open_ok(const char *text)
{
	yaml_node_t *root = NULL;
	int rc = yamlcfg_open_string(&yc, "t.yaml", text, strlen(text), NULL, err, sizeof err, &root);
	cr_assert_eq(rc, 0, "%s", err);
	cr_assert_not_null(root);
	return root;
}

static const char *const AB[] = { "a", "b", NULL };

Test(yamlcfg, unknown_key_names_position_and_allowed_keys)
{
	yaml_node_t *root = open_ok("a: 1\n  # c\nzz: 2\n");
	cr_assert_eq(yamlcfg_check_keys(&yc, root, "top", AB), -1);
	cr_assert_str_eq(err, "t.yaml:3:1: top: unknown key \"zz\" (allowed: a, b)");
	yamlcfg_close(&yc);
}

Test(yamlcfg, duplicate_key_names_the_first)
{
	yaml_node_t *root = open_ok("x:\n  a: 1\n  b: 2\n  a: 3\n");
	yaml_node_t *x = yamlcfg_get(&yc, root, "x", NULL);
	cr_assert_not_null(x);
	cr_assert_eq(yamlcfg_check_keys(&yc, x, "x", AB), -1);
	cr_assert_str_eq(err, "t.yaml:4:3: x: duplicate key \"a\" (first at line 2, column 3)");
	yamlcfg_close(&yc);
}

Test(yamlcfg, missing_required_key_at_the_mapping)
{
	yaml_node_t *root = open_ok("\n\na: 1\n");
	char *s = NULL;
	cr_assert_eq(yamlcfg_check_keys(&yc, root, "", AB), 0);
	cr_assert_eq(yamlcfg_req_string(&yc, root, "b", "", &s), -1);
	cr_assert_null(s);
	cr_assert_str_eq(err, "t.yaml:3:1: missing required key \"b\"");
	/* present: a heap copy the caller owns */
	cr_assert_eq(yamlcfg_req_string(&yc, root, "a", "", &s), 0, "%s", err);
	cr_assert_str_eq(s, "1");
	free(s);
	yamlcfg_close(&yc);
}

/* A mapping reached twice through an alias is refused where it is used
 * the second time ("billion laughs"); an alias of a scalar is fine. */
Test(yamlcfg, alias_of_collection_refused_scalar_alias_allowed)
{
	yaml_node_t *root = open_ok("a: &m {k: v}\nb: *m\n");
	cr_assert_eq(yamlcfg_want_mapping(&yc, yamlcfg_get(&yc, root, "a", NULL), "a"), 0);
	cr_assert_eq(yamlcfg_want_mapping(&yc, yamlcfg_get(&yc, root, "b", NULL), "b"), -1);
	cr_assert(strstr(err, "t.yaml:1:4: b: used a second time through an alias") == err, "%s", err);
	yamlcfg_close(&yc);

	root = open_ok("a: &s text\nb: *s\n");
	cr_assert_eq(yamlcfg_check_keys(&yc, root, "", AB), 0);
	const char *b = yamlcfg_want_scalar(&yc, yamlcfg_get(&yc, root, "b", NULL), "b", false);
	cr_assert_str_eq(b, "text");
	yamlcfg_close(&yc);
}

Test(yamlcfg, scalar_kinds_nul_bytes_and_empty)
{
	yaml_node_t *root = open_ok("a: \"x\\0y\"\nb: ''\nc: [1]\n");
	cr_assert_null(yamlcfg_want_scalar(&yc, yamlcfg_get(&yc, root, "a", NULL), "a", true));
	cr_assert_str_eq(err, "t.yaml:1:4: a: expected a string without NUL bytes");
	cr_assert_null(yamlcfg_want_scalar(&yc, yamlcfg_get(&yc, root, "b", NULL), "b", false));
	cr_assert_str_eq(err, "t.yaml:2:4: b: expected a non-empty string");
	cr_assert_str_eq(yamlcfg_want_scalar(&yc, yamlcfg_get(&yc, root, "b", NULL), "b", true), "");
	cr_assert_null(yamlcfg_want_scalar(&yc, yamlcfg_get(&yc, root, "c", NULL), "c", true));
	cr_assert_str_eq(err, "t.yaml:3:4: c: expected a scalar, got a sequence");
	cr_assert_eq(yamlcfg_want_sequence(&yc, root, "top"), -1);
	cr_assert_str_eq(err, "t.yaml:1:1: top: expected a sequence, got a mapping");
	yamlcfg_close(&yc);
}

/* What the file said is quoted in the message, but the message stays one
 * line: a newline inside a quoted key is shown as \n. */
Test(yamlcfg, quoted_text_keeps_the_message_one_line)
{
	yaml_node_t *root = open_ok("\"a\\nb\\x01\": 1\n");
	cr_assert_eq(yamlcfg_check_keys(&yc, root, "", AB), -1);
	cr_assert_str_eq(err, "t.yaml:1:1: unknown key \"a\\nb\\x01\" (allowed: a, b)");
	yamlcfg_close(&yc);
}

Test(yamlcfg, empty_second_document_and_syntax_errors)
{
	yaml_node_t *root = (yaml_node_t *)&yc;
	const char *const top[] = { "targets", "region", NULL };
	cr_assert_eq(yamlcfg_open_string(&yc, "e.yaml", "", 0, top, err, sizeof err, &root), -1);
	cr_assert_str_eq(err, "e.yaml:1:1: empty file: expected a mapping with keys targets, region");
	yamlcfg_close(&yc);
	/* without top keys an empty file is an empty configuration */
	cr_assert_eq(yamlcfg_open_string(&yc, "e.yaml", "# nothing\n", 10, NULL, err, sizeof err,
					 &root), 0, "%s", err);
	cr_assert_null(root);
	yamlcfg_close(&yc);

	const char *two = "a: 1\n---\nb: 2\n";
	cr_assert_eq(yamlcfg_open_string(&yc, "t.yaml", two, strlen(two), NULL, err, sizeof err,
					 &root), -1);
	cr_assert_str_eq(err, "t.yaml:3:1: expected a single YAML document, found a second one");
	yamlcfg_close(&yc);

	const char *bad = "a: 1\nb: [1, 2\n";
	cr_assert_eq(yamlcfg_open_string(&yc, "t.yaml", bad, strlen(bad), NULL, err, sizeof err,
					 &root), -1);
	cr_assert(strncmp(err, "t.yaml:3:1: YAML syntax error: ", 31) == 0, "%s", err);
	yamlcfg_close(&yc);
}

/* ---- scalar parsers ---- */

Test(yamlcfg, digits_and_ranges)
{
	unsigned long long v;
	const char *e;
	cr_assert_eq(yamlcfg_parse_digits("42abc", &v, &e), 0);
	cr_assert_eq(v, 42);
	cr_assert_str_eq(e, "abc");
	cr_assert_eq(yamlcfg_parse_digits("-1", &v, &e), -1);
	cr_assert_eq(yamlcfg_parse_digits(" 1", &v, &e), -1);
	cr_assert_eq(yamlcfg_parse_digits("+1", &v, &e), -1);
	cr_assert_eq(yamlcfg_parse_digits("", &v, &e), -1);
	cr_assert_eq(yamlcfg_parse_digits("18446744073709551615", &v, &e), 0);
	cr_assert_eq(v, 18446744073709551615ULL);
	cr_assert_eq(yamlcfg_parse_digits("18446744073709551616", &v, &e), -1);

	cr_assert_eq(yamlcfg_parse_uint_range("10", 1, 10, &v), 0);
	cr_assert_eq(v, 10);
	cr_assert_eq(yamlcfg_parse_uint_range("11", 1, 10, &v), -1);
	cr_assert_eq(yamlcfg_parse_uint_range("0", 1, 10, &v), -1);
	cr_assert_eq(yamlcfg_parse_uint_range("5 ", 1, 10, &v), -1);
	cr_assert_eq(yamlcfg_parse_uint_range("0x5", 0, 10, &v), -1);
}

Test(yamlcfg, durations)
{
	int64_t ms;
	unsigned u;
	cr_assert_eq(yamlcfg_parse_ms("500ms", 'h', 1000000, &ms), 0);
	cr_assert_eq(ms, 500);
	cr_assert_eq(yamlcfg_parse_ms("30s", 'h', 1000000, &ms), 0);
	cr_assert_eq(ms, 30000);
	cr_assert_eq(yamlcfg_parse_ms("0s", 'h', 1000000, &ms), 0);
	cr_assert_eq(ms, 0);
	/* days and weeks only where the caller allows them */
	cr_assert_eq(yamlcfg_parse_ms("2d", 'h', INT64_MAX, &ms), -1);
	cr_assert_eq(yamlcfg_parse_ms("2d", 'd', INT64_MAX, &ms), 0);
	cr_assert_eq(ms, 2 * 86400000LL);
	cr_assert_eq(yamlcfg_parse_ms("1w", 'd', INT64_MAX, &ms), -1);
	cr_assert_eq(yamlcfg_parse_ms("1w", 'w', INT64_MAX, &ms), 0);
	cr_assert_eq(ms, 7 * 86400000LL);
	/* the cap, exactly and one unit over; no overflow on huge numbers */
	cr_assert_eq(yamlcfg_parse_ms("1000s", 'h', 1000000, &ms), 0);
	cr_assert_eq(yamlcfg_parse_ms("1001s", 'h', 1000000, &ms), -1);
	cr_assert_eq(yamlcfg_parse_ms("99999999999999999h", 'w', INT64_MAX, &ms), -1);
	/* no unit, a space, a fraction, upper case: refused */
	cr_assert_eq(yamlcfg_parse_ms("30", 'h', 1000000, &ms), -1);
	cr_assert_eq(yamlcfg_parse_ms("30 s", 'h', 1000000, &ms), -1);
	cr_assert_eq(yamlcfg_parse_ms("1.5s", 'h', 1000000, &ms), -1);
	cr_assert_eq(yamlcfg_parse_ms("1H", 'h', INT64_MAX, &ms), -1);
	cr_assert_eq(yamlcfg_parse_ms(NULL, 'h', INT64_MAX, &ms), -1);
	/* yamlcfg_parse_duration_ms: at most 7 days, in hours */
	cr_assert_eq(yamlcfg_parse_duration_ms("168h", &u), 0);
	cr_assert_eq(u, 168u * 3600 * 1000);
	cr_assert_eq(yamlcfg_parse_duration_ms("169h", &u), -1);
}

Test(yamlcfg, sizes)
{
	uint64_t v;
	cr_assert_eq(yamlcfg_parse_size("512", &v), 0);
	cr_assert_eq(v, 512);
	cr_assert_eq(yamlcfg_parse_size("512B", &v), 0);
	cr_assert_eq(v, 512);
	cr_assert_eq(yamlcfg_parse_size("4KiB", &v), 0);
	cr_assert_eq(v, 4096);
	cr_assert_eq(yamlcfg_parse_size("3MiB", &v), 0);
	cr_assert_eq(v, 3u << 20);
	cr_assert_eq(yamlcfg_parse_size("2GiB", &v), 0);
	cr_assert_eq(v, 2ull << 30);
	/* SI and lower-case units are not guessed at */
	cr_assert_eq(yamlcfg_parse_size("4KB", &v), -1);
	cr_assert_eq(yamlcfg_parse_size("4kib", &v), -1);
	cr_assert_eq(yamlcfg_parse_size("4 MiB", &v), -1);
	/* overflow is refused, not wrapped */
	cr_assert_eq(yamlcfg_parse_size("17179869184GiB", &v), -1);
	cr_assert_eq(yamlcfg_parse_size("17179869183GiB", &v), 0);
}

Test(yamlcfg, node_value_errors)
{
	yaml_node_t *root = open_ok("n: 11\nd: 100ms\nt: yes\nf: False\n");
	unsigned u;
	bool b;
	cr_assert_eq(yamlcfg_uint(&yc, yamlcfg_get(&yc, root, "n", NULL), "n", 1, 10, &u), -1);
	cr_assert_str_eq(err, "t.yaml:1:4: n: expected an integer 1-10, got \"11\"");
	cr_assert_eq(yamlcfg_duration(&yc, yamlcfg_get(&yc, root, "d", NULL), "d", 1000, &u), -1);
	cr_assert_str_eq(err, "t.yaml:2:4: d: expected a duration of at least 1000ms, got \"100ms\"");
	cr_assert_eq(yamlcfg_duration(&yc, yamlcfg_get(&yc, root, "d", NULL), "d", 100, &u), 0);
	cr_assert_eq(u, 100);
	/* YAML 1.1's yes/no are not booleans here: only true and false */
	cr_assert_eq(yamlcfg_bool(&yc, yamlcfg_get(&yc, root, "t", NULL), "t", &b), -1);
	cr_assert_str_eq(err, "t.yaml:3:4: t: expected true or false, got \"yes\"");
	b = true;
	cr_assert_eq(yamlcfg_bool(&yc, yamlcfg_get(&yc, root, "f", NULL), "f", &b), 0);
	cr_assert_eq(b, false);
	yamlcfg_close(&yc);
}

Test(yamlcfg, split_hostport)
{
	char *h = NULL;
	unsigned p = 0;
	cr_assert_eq(yamlcfg_split_hostport("collector.example:7443", &h, &p, 0), 0);
	cr_assert_str_eq(h, "collector.example");
	cr_assert_eq(p, 7443);
	free(h);
	h = NULL;
	/* default port 0: a port is required */
	cr_assert_eq(yamlcfg_split_hostport("collector.example", &h, &p, 0), -1);
	cr_assert_null(h);
	cr_assert_eq(yamlcfg_split_hostport("[::1]", &h, &p, 7443), 0);
	cr_assert_str_eq(h, "::1");
	cr_assert_eq(p, 7443);
	free(h);
}

Test(yamlcfg, join_keys_and_subctx)
{
	const char *const keys[] = { "alpha", "beta", "gamma", NULL };
	char buf[64];
	yamlcfg_join_keys(keys, buf, sizeof buf);
	cr_assert_str_eq(buf, "alpha, beta, gamma");
	/* cut at a whole key, never inside one */
	char small[14];
	yamlcfg_join_keys(keys, small, sizeof small);
	cr_assert_str_eq(small, "alpha, beta");
	yamlcfg_subctx(buf, sizeof buf, "targets[2]", "port");
	cr_assert_str_eq(buf, "targets[2].port");
	yamlcfg_subctx(buf, sizeof buf, "", "port");
	cr_assert_str_eq(buf, "port");
	yamlcfg_subctx(buf, sizeof buf, NULL, "port");
	cr_assert_str_eq(buf, "port");
}

/* ---- files ---- */

static char dir[64];

static void mkdir_tmp(void)
{
	snprintf(dir, sizeof dir, "/tmp/tw-yamlcfg-XXXXXX");
	cr_assert_not_null(mkdtemp(dir), "mkdtemp: %s", strerror(errno));
}

static void rm_tmp(void)
{
	char p[128];
	snprintf(p, sizeof p, "%s/c.yaml", dir);
	unlink(p);
	rmdir(dir);
}

/* A file of n bytes: "a: xxxx...\n". */
static const char *file_of(size_t n)
{
	static char path[128];
	snprintf(path, sizeof path, "%s/c.yaml", dir);
	FILE *f = fopen(path, "w");
	cr_assert_not_null(f);
	cr_assert(n >= 4);
	cr_assert_geq(fputs("a: ", f), 0);
	for (size_t i = 3; i < n - 1; i++)
		cr_assert_neq(fputc('x', f), EOF);
	cr_assert_neq(fputc('\n', f), EOF);
	cr_assert_eq(fclose(f), 0);
	return path;
}

Test(yamlcfg, file_cannot_be_read)
{
	yaml_node_t *root;
	cr_assert_eq(yamlcfg_open(&yc, "/nonexistent/c.yaml", 1024, NULL, 0, err, sizeof err, &root), -1);
	cr_assert_str_eq(err, "/nonexistent/c.yaml: cannot read: No such file or directory");
	yamlcfg_close(&yc);
}

/* "at most max_file bytes": a file of exactly that size loads, one byte
 * more is refused - whatever the cap, not only at the reader's internal
 * buffer sizes. */
Test(yamlcfg, file_size_cap_is_exact, .init = mkdir_tmp, .fini = rm_tmp)
{
	yaml_node_t *root;
	const char *p = file_of(1000);
	cr_assert_eq(yamlcfg_open(&yc, p, 1000, NULL, 0, err, sizeof err, &root), 0, "%s", err);
	yamlcfg_close(&yc);
	p = file_of(1001);
	cr_assert_eq(yamlcfg_open(&yc, p, 1000, NULL, 0, err, sizeof err, &root), -1,
		     "a 1001-byte file passed a 1000-byte cap");
	cr_assert(strstr(err, ": file larger than 1000 bytes") != NULL, "%s", err);
	yamlcfg_close(&yc);
	/* at the reader's first buffer size (64 KiB) */
	p = file_of(65536);
	cr_assert_eq(yamlcfg_open(&yc, p, 65536, NULL, YC_WIPE, err, sizeof err, &root), 0, "%s", err);
	cr_assert_eq(strlen((const char *)yamlcfg_get(&yc, root, "a", NULL)->data.scalar.value),
		     65536 - 4);
	yamlcfg_close(&yc);
	p = file_of(65537);
	cr_assert_eq(yamlcfg_open(&yc, p, 65536, NULL, 0, err, sizeof err, &root), -1);
	yamlcfg_close(&yc);
	/* and across a buffer growth */
	p = file_of(200001);
	cr_assert_eq(yamlcfg_open(&yc, p, 200000, NULL, 0, err, sizeof err, &root), -1);
	yamlcfg_close(&yc);
	p = file_of(200000);
	cr_assert_eq(yamlcfg_open(&yc, p, 200000, NULL, 0, err, sizeof err, &root), 0, "%s", err);
	yamlcfg_close(&yc);
}
