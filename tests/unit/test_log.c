/*
 * test_log.c - common/log.c: the line formats (logfmt-style key=value and
 * JSON), escaping, the level filter and level names.
 *
 * stderr is captured by pointing descriptor 2 at a temporary file for the
 * duration of one call (capture_begin/capture_end); everything written is
 * then read back and checked. JSON lines are parsed with jansson, so an
 * escaping mistake shows up as a parse error, not as a string mismatch.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "twtime.h"

static int saved_fd = -1;
static FILE *cap_file;

static void capture_begin(void)
{
	cr_assert_eq(fflush(stderr), 0);
	cap_file = tmpfile();
	cr_assert_not_null(cap_file, "tmpfile: %s", strerror(errno));
	saved_fd = dup(STDERR_FILENO);
	cr_assert_geq(saved_fd, 0);
	cr_assert_geq(dup2(fileno(cap_file), STDERR_FILENO), 0);
}

/* Restores stderr; returns what was written (caller frees). */
static char *capture_end(void)
{
	cr_assert_eq(fflush(stderr), 0);
	cr_assert_geq(dup2(saved_fd, STDERR_FILENO), 0);
	close(saved_fd);
	saved_fd = -1;
	long n = ftell(cap_file);
	cr_assert_geq(n, 0);
	char *b = malloc((size_t)n + 1);
	cr_assert_not_null(b);
	rewind(cap_file);
	cr_assert_eq(fread(b, 1, (size_t)n, cap_file), (size_t)n);
	b[n] = '\0';
	fclose(cap_file);
	cap_file = NULL;
	return b;
}

static size_t count_char(const char *s, char c)
{
	size_t n = 0;
	for (; *s; s++)
		n += *s == c;
	return n;
}

/* The one JSON line in out, parsed (asserts it is exactly one line). */
static json_t *one_json_line(const char *out)
{
	json_error_t e;
	cr_assert_eq(count_char(out, '\n'), 1, "not one line: [%s]", out);
	json_t *o = json_loads(out, 0, &e);
	cr_assert_not_null(o, "not JSON (%s): [%s]", e.text, out);
	cr_assert(json_is_object(o));
	return o;
}

TestSuite(log);

Test(log, logfmt_line_has_time_level_prog_then_message)
{
	log_init("tw-test", TWLOG_INFO, false);
	int64_t before = twtime_wall_ms();
	capture_begin();
	log_warn("event=%s n=%d", "reload", 42);
	char *out = capture_end();

	char ts[40], rest[200];
	cr_assert_eq(sscanf(out, "ts=%39s %199[^\n]", ts, rest), 2, "[%s]", out);
	cr_assert_str_eq(rest, "level=warn prog=tw-test event=reload n=42", "[%s]", out);
	/* the time is this moment's, to the millisecond, in RFC 3339 UTC */
	char lo[40];
	twtime_rfc3339_ms(before, lo, sizeof lo);
	cr_assert_eq(strlen(ts), strlen("2026-03-02T00:00:00.000Z"), "ts=%s", ts);
	cr_assert_eq(ts[strlen(ts) - 1], 'Z');
	cr_assert_geq(strcmp(ts, lo), 0, "ts %s is before %s", ts, lo);
	cr_assert_eq(count_char(out, '\n'), 1);
	free(out);
}

Test(log, json_line_fields)
{
	log_init("tw-test", TWLOG_DEBUG, true);
	capture_begin();
	log_error("disk %s full", "/var");
	char *out = capture_end();
	json_t *o = one_json_line(out);
	cr_assert_str_eq(json_string_value(json_object_get(o, "level")), "error");
	cr_assert_str_eq(json_string_value(json_object_get(o, "prog")), "tw-test");
	cr_assert_str_eq(json_string_value(json_object_get(o, "msg")), "disk /var full");
	const char *ts = json_string_value(json_object_get(o, "ts"));
	cr_assert_not_null(ts);
	cr_assert_eq(strlen(ts), strlen("2026-03-02T00:00:00.000Z"), "ts=%s", ts);
	json_decref(o);
	free(out);
}

/* Quotes, backslashes, control characters and UTF-8 survive a round trip
 * through the JSON line byte for byte. */
Test(log, json_escapes_round_trip)
{
	const char *msg = "say \"hi\" C:\\dir\ttab\nnewline \x01 bell\x07 caf\xc3\xa9 \x7f end";
	log_init("tw-test", TWLOG_DEBUG, true);
	capture_begin();
	log_info("%s", msg);
	char *out = capture_end();
	json_t *o = one_json_line(out);
	cr_assert_str_eq(json_string_value(json_object_get(o, "msg")), msg);
	json_decref(o);
	free(out);
}

/* A message far longer than the line buffer, made of characters that
 * each need a 6-byte escape, is cut - but the line is still one valid
 * JSON object whose msg is a prefix of the message. */
Test(log, json_long_message_cut_but_valid)
{
	char big[5000];
	memset(big, '\x02', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	log_init("tw-test", TWLOG_DEBUG, true);
	capture_begin();
	log_warn("%s", big);
	char *out = capture_end();
	json_t *o = one_json_line(out);
	const char *m = json_string_value(json_object_get(o, "msg"));
	cr_assert_not_null(m);
	cr_assert_gt(strlen(m), 100);
	cr_assert_lt(strlen(m), sizeof big - 1);
	cr_assert_eq(strncmp(m, big, strlen(m)), 0);
	json_decref(o);
	free(out);
}

/* One entry is one line in the key=value format too: a message carrying
 * a newline (a PostgreSQL error's DETAIL, a name a peer chose) cannot
 * forge a second entry. Control characters are shown escaped; a trailing
 * newline (libpq ends its messages with one) is dropped. */
Test(log, logfmt_one_entry_one_line)
{
	log_init("tw-test", TWLOG_DEBUG, false);
	capture_begin();
	log_error("db: ERROR: boom\nDETAIL: ts=1 level=error prog=forged\n");
	log_warn("peer=a\rb\tc\x01");
	char *out = capture_end();
	cr_assert_eq(count_char(out, '\n'), 2, "[%s]", out);
	char *second = strchr(out, '\n') + 1;
	cr_assert(strstr(out, "prog=tw-test db: ERROR: boom\\nDETAIL: ts=1 level=error prog=forged\n")
		  != NULL, "[%s]", out);
	cr_assert_eq(strncmp(second, "ts=", 3), 0, "[%s]", second);
	cr_assert(strstr(second, "prog=tw-test peer=a\\rb\\tc\\x01\n") != NULL, "[%s]", second);
	cr_assert_null(strchr(out, '\r'));
	free(out);
}

/* Below the active level nothing is written and the arguments are not
 * even evaluated (the macros test the level first: a debug line costs
 * nothing in production). */
static int evaluated;
static const char *costly(void)
{
	evaluated++;
	return "x";
}

Test(log, level_filter_skips_output_and_arguments)
{
	log_init("tw-test", TWLOG_WARN, false);
	evaluated = 0;
	capture_begin();
	log_debug("d %s", costly());
	log_info("i %s", costly());
	char *quiet = capture_end();
	cr_assert_str_eq(quiet, "");
	cr_assert_eq(evaluated, 0);

	capture_begin();
	log_warn("w %s", costly());
	log_error("e %s", costly());
	char *out = capture_end();
	cr_assert_eq(evaluated, 2);
	cr_assert_eq(count_char(out, '\n'), 2, "[%s]", out);
	cr_assert(strstr(out, "level=warn prog=tw-test w x\n") != NULL, "[%s]", out);
	cr_assert(strstr(out, "level=error prog=tw-test e x\n") != NULL, "[%s]", out);
	free(quiet);
	free(out);

	/* raising the level lets debug through */
	log_init("tw-test", TWLOG_DEBUG, false);
	capture_begin();
	log_debug("d %s", costly());
	out = capture_end();
	cr_assert_eq(evaluated, 3);
	cr_assert(strstr(out, "level=debug prog=tw-test d x\n") != NULL, "[%s]", out);
	free(out);
}

Test(log, level_names_parse_case_insensitively)
{
	cr_assert_eq(log_level_parse("error"), TWLOG_ERROR);
	cr_assert_eq(log_level_parse("WARN"), TWLOG_WARN);
	cr_assert_eq(log_level_parse("Info"), TWLOG_INFO);
	cr_assert_eq(log_level_parse("debug"), TWLOG_DEBUG);
	cr_assert_eq(log_level_parse("warning"), -1);
	cr_assert_eq(log_level_parse("verbose"), -1);
	cr_assert_eq(log_level_parse(""), -1);
}

/* One line per interval, the next one carries how many were held back. */
Test(log, ratelimit_one_line_per_interval_with_count)
{
	struct log_ratelimit rl = { 0 };
	unsigned long long sup = 99;
	cr_assert(log_ratelimit_allow(&rl, 1000.0, 500, &sup));
	cr_expect_eq(sup, 0);
	for (int i = 0; i < 1000; i++)
		cr_assert(!log_ratelimit_allow(&rl, 1000.0 + i * 0.4, 500, &sup));
	cr_assert(log_ratelimit_allow(&rl, 1500.0, 500, &sup));
	cr_expect_eq(sup, 1000);
	cr_assert(!log_ratelimit_allow(&rl, 1999.0, 500, &sup));
	cr_assert(log_ratelimit_allow(&rl, 5000.0, 500, &sup));
	cr_expect_eq(sup, 1);
}

/* log_every() writes the first of a burst with suppressed=0, then nothing,
 * and skips everything below the active level without counting it. */
Test(log, log_every_writes_bounded_lines)
{
	struct log_ratelimit rl = { 0 }, quiet = { 0 };
	log_init("tlswatch-test", TWLOG_WARN, false);
	capture_begin();
	for (int i = 0; i < 10000; i++)
		log_every(&rl, 60000, TWLOG_ERROR, "accept failed: %s", "Too many open files");
	for (int i = 0; i < 10; i++)
		log_every(&quiet, 60000, TWLOG_DEBUG, "debug %d", i);
	char *out = capture_end();
	int lines = 0;
	for (const char *p = out; (p = strchr(p, '\n')); p++)
		lines++;
	cr_expect_eq(lines, 1, "%s", out);
	cr_expect(strstr(out, "accept failed: Too many open files suppressed=0\n") != NULL, "%s", out);
	cr_expect_eq(rl.suppressed, 9999);
	cr_expect_eq(quiet.suppressed, 0);
	cr_expect_eq(quiet.last_ms, 0);
	free(out);
}
