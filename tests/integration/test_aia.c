/*
 * test_aia.c - caIssuers fetching per client (issue 10): servers that send
 * the leaf alone, a leaf whose caIssuers URL points at a loopback HTTP
 * server. Clients that fetch (Chrome, Safari, Edge, IE) complete the chain
 * and report ok with the finding intermediate_fetched; the others (Java,
 * Firefox, the probe's own modern) report chain_incomplete as before. A
 * fetch that fails (404, nobody listening, not a certificate, no URL)
 * leaves chain_incomplete with the URL and the reason; a loop ends; one
 * check fetches each URL once, whatever the number of profiles.
 *
 * Run through tests/integration/test_aia.sh (it documents the PKI).
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "check_env.h"
#include "probe_run.h"

TestSuite(aia, .timeout = 60);

#define CHROME "Chrome 101 (Win 10)"
#define SAFARI "Safari 15.4 (macOS 12.3.1)"
#define EDGE "Edge 101 Win 10 21H2"
#define IE "IE 11 Win 10"
#define JAVA "Java 8u161"
#define FIREFOX "Firefox 100 (Win 10)"

/* The JSON line of that profile. */
static json_t *line_of(const struct probe_run *r, const char *profile)
{
	cr_assert(!r->timed_out, "probe did not finish%s", D);
	cr_assert_eq(r->bad_lines, 0, "stdout has non-JSON lines%s", D);
	for (size_t i = 0; i < r->n_lines; i++) {
		const char *p = pj_str(r->lines[i], "profile");
		if (p && strcmp(p, profile) == 0)
			return r->lines[i];
	}
	cr_assert_fail("no line for profile \"%s\"%s", profile, D);
	return NULL;
}

/* Lines of the HTTP server's log asking for /path. */
static int gets_of(const char *path)
{
	char needle[128], line[1024];
	int n = 0;
	snprintf(needle, sizeof needle, "\"GET %s HTTP/", path);
	FILE *f = fopen(tw_env("TW_AIA_LOG"), "r");
	cr_assert_not_null(f, "cannot open %s", tw_env("TW_AIA_LOG"));
	while (fgets(line, sizeof line, f))
		if (strstr(line, needle))
			n++;
	fclose(f);
	return n;
}

static void expect_fetched_ok(const struct probe_run *r, const char *profile, const char *file)
{
	json_t *o = line_of(r, profile);
	expect_outcome(r, o, "ok");
	expect_finding(r, o, "intermediate_fetched");
	expect_contains(r, o, "aia_detail", file);
	expect_null(r, o, "alert");
}

static void expect_not_fetched(const struct probe_run *r, const char *profile)
{
	json_t *o = line_of(r, profile);
	expect_outcome(r, o, "chain_incomplete");
	expect_no_finding(r, o, "intermediate_fetched");
	expect_null(r, o, "aia_detail");
	expect_int(r, o, "outcome_depth", 0);
}

/* A fetching client whose fetch failed: chain_incomplete, and the reason
 * names the URL and why. */
static void expect_failed(const char *port_env, const char *url_part, const char *why)
{
	struct probe_run run, *r = &run;
	probe_check(r, tw_target("localhost", port_env), "--timeout", "5", "--profile", CHROME, NULL);
	json_t *o = line_of(r, CHROME);
	expect_outcome(r, o, "chain_incomplete");
	expect_exit(r, 1);
	expect_no_finding(r, o, "intermediate_fetched");
	expect_contains(r, o, "alert", "unable to get local issuer certificate");
	if (url_part)
		expect_contains(r, o, "alert", url_part);
	expect_contains(r, o, "alert", why);
	expect_contains(r, o, "aia_detail", why);
	probe_run_free(r);
}

Test(aia, browsers_fetch_the_intermediate_others_do_not)
{
	struct probe_run run, *r = &run;
	probe_check(r, tw_target("localhost", "TW_PORT_DER"), "--profile",
		    CHROME "," SAFARI "," EDGE "," IE "," JAVA "," FIREFOX ",modern", NULL);
	cr_assert_eq(r->n_lines, 7, "want 7 lines, got %zu%s", r->n_lines, D);
	expect_fetched_ok(r, CHROME, "/int.der");
	expect_fetched_ok(r, SAFARI, "/int.der");
	expect_fetched_ok(r, EDGE, "/int.der");
	expect_fetched_ok(r, IE, "/int.der");
	expect_not_fetched(r, JAVA);
	expect_not_fetched(r, FIREFOX);
	expect_not_fetched(r, "modern");
	/* the served chain is still the leaf alone */
	expect_int(r, line_of(r, CHROME), "chain_len", 1);
	expect_exit(r, 1);
	probe_run_free(r);
}

Test(aia, pkcs7_certs_only_answer)
{
	struct probe_run run, *r = &run;
	probe_check(r, tw_target("localhost", "TW_PORT_P7C"), "--profile", CHROME "," JAVA, NULL);
	expect_fetched_ok(r, CHROME, "/int.p7c");
	expect_not_fetched(r, JAVA);
	probe_run_free(r);
}

Test(aia, pem_answer)
{
	struct probe_run run, *r = &run;
	probe_check(r, tw_target("localhost", "TW_PORT_PEM"), "--profile", SAFARI, NULL);
	expect_fetched_ok(r, SAFARI, "/int.pem");
	expect_exit(r, 0);
	probe_run_free(r);
}

Test(aia, two_intermediates_fetched_one_after_the_other)
{
	struct probe_run run, *r = &run;
	probe_check(r, tw_target("localhost", "TW_PORT_DEEP"), "--profile", CHROME, NULL);
	expect_fetched_ok(r, CHROME, "/int2.der");
	expect_contains(r, line_of(r, CHROME), "aia_detail", "/int-deep.der");
	expect_exit(r, 0);
	probe_run_free(r);
}

Test(aia, url_answers_404)
{
	expect_failed("TW_PORT_E404", "/missing.der", "HTTP 404");
}

Test(aia, url_unreachable)
{
	char url[64];
	snprintf(url, sizeof url, "127.0.0.1:%s/int.der", tw_port("TW_PORT_UNUSED_HTTP"));
	expect_failed("TW_PORT_UNREACH", url, "connection failed");
}

Test(aia, answer_is_no_certificate)
{
	expect_failed("TW_PORT_GARBAGE", "/garbage.bin", "not a certificate");
}

/* The URL serves a CA certificate, but not the leaf's issuer. */
Test(aia, answer_is_not_the_issuer)
{
	expect_failed("TW_PORT_WRONG", "/root2.der", "issuer still missing after fetching");
}

/* An answer past AIA_MAX_BYTES (64 KiB) is refused, not parsed. */
Test(aia, answer_over_the_size_cap)
{
	expect_failed("TW_PORT_BIG", "/big.der", "larger than 65536 bytes");
}

Test(aia, leaf_names_no_url)
{
	expect_failed("TW_PORT_NOAIA", NULL, "names no http caIssuers URL");
}

/* loopint names itself as its issuer's URL: the check fetches it once,
 * then stops; loopint's own issuer (root2) is nowhere: untrusted_root. */
Test(aia, a_url_loop_ends)
{
	struct probe_run run, *r = &run;
	int before = gets_of("/loopint.der");
	probe_check(r, tw_target("localhost", "TW_PORT_LOOP"), "--profile", CHROME, NULL);
	json_t *o = line_of(r, CHROME);
	expect_outcome(r, o, "untrusted_root");
	expect_int(r, o, "outcome_depth", 1);
	expect_finding(r, o, "intermediate_fetched");
	expect_contains(r, o, "alert", "issuer still missing after fetching its caIssuers");
	expect_exit(r, 1);
	cr_assert_eq(gets_of("/loopint.der") - before, 1, "want one GET /loopint.der%s", D);
	probe_run_free(r);
}

/* Four fetching profiles in one check: one GET of the URL. */
Test(aia, one_fetch_per_url_per_check)
{
	struct probe_run run, *r = &run;
	cr_assert_eq(gets_of("/cache.der"), 0, "cache.der fetched before the test");
	probe_check(r, tw_target("localhost", "TW_PORT_CACHE"), "--profile",
		    CHROME "," SAFARI "," EDGE "," IE, NULL);
	cr_assert_eq(r->n_lines, 4, "want 4 lines%s", D);
	expect_fetched_ok(r, CHROME, "/cache.der");
	expect_fetched_ok(r, SAFARI, "/cache.der");
	expect_fetched_ok(r, EDGE, "/cache.der");
	expect_fetched_ok(r, IE, "/cache.der");
	cr_assert_eq(gets_of("/cache.der"), 1, "want one GET /cache.der, got %d%s",
		     gets_of("/cache.der"), D);
	/* a second check has a cache of its own */
	probe_run_free(r);
	probe_check(r, tw_target("localhost", "TW_PORT_CACHE"), "--profile", CHROME, NULL);
	expect_fetched_ok(r, CHROME, "/cache.der");
	cr_assert_eq(gets_of("/cache.der"), 2, "want a second GET /cache.der%s", D);
	probe_run_free(r);
}

/* The table says who is affected in one line. */
Test(aia, table_verdict_line)
{
	struct probe_run run, *r = &run;
	probe_exec(r, "check", "--no-color", "--ca-file", tw_pki("root.pem"), "--profile",
		   CHROME "," JAVA, tw_target("localhost", "TW_PORT_DER"), NULL);
	expect_exit(r, 1);
	cr_assert(strstr(r->out, "verdict: ok for " CHROME "; chain_incomplete for " JAVA "\n"),
		  "want the verdict line%s", D);
	cr_assert(strstr(r->out, "intermediate_fetched"), "want the finding in the table%s", D);
	probe_run_free(r);
}

/* One outcome for every profile: no verdict line. */
Test(aia, no_verdict_line_when_all_agree)
{
	struct probe_run run, *r = &run;
	probe_exec(r, "check", "--no-color", "--ca-file", tw_pki("root.pem"), "--profile",
		   JAVA "," FIREFOX, tw_target("localhost", "TW_PORT_DER"), NULL);
	expect_exit(r, 1);
	cr_assert(!strstr(r->out, "verdict:"), "want no verdict line%s", D);
	probe_run_free(r);
}

/* A caIssuers server that accepts and never answers: the phase ends at its
 * deadline (--timeout), chain_incomplete with the reason, in bounded time. */
Test(aia, silent_url_times_out)
{
	struct probe_run run, *r = &run;
	probe_check(r, tw_target("localhost", "TW_PORT_SLOW"), "--timeout", "1", "--profile",
		    CHROME "," JAVA, NULL);
	json_t *o = line_of(r, CHROME);
	expect_outcome(r, o, "chain_incomplete");
	expect_no_finding(r, o, "intermediate_fetched");
	expect_contains(r, o, "alert", "caIssuers");
	expect_not_fetched(r, JAVA);
	expect_exit(r, 1);
	cr_assert(r->wall_ms < 5000, "took %.0f ms, want about the 1 s deadline%s", r->wall_ms, D);
	probe_run_free(r);
}

/* The verification parameters are kept from the first connection: with
 * --resume (a second connection first), the fetch still verifies the name. */
Test(aia, fetch_after_resumption)
{
	struct probe_run run, *r = &run;
	probe_check(r, tw_target("localhost", "TW_PORT_DER"), "--resume", "--profile", CHROME, NULL);
	json_t *o = line_of(r, CHROME);
	expect_fetched_ok(r, CHROME, "/int.der");
	expect_bool(r, o, "resumed", true);
	probe_run_free(r);
	/* the name is still checked on the completed chain */
	probe_check(r, tw_target("127.0.0.2", "TW_PORT_DER"), "--connect-to",
		    tw_loopback("TW_PORT_DER"), "--resume", "--profile", CHROME, NULL);
	o = line_of(r, CHROME);
	expect_outcome(r, o, "hostname_mismatch");
	expect_finding(r, o, "intermediate_fetched");
	probe_run_free(r);
}

/* `profiles --json` says which clients fetch caIssuers. */
Test(aia, profiles_list_says_who_fetches)
{
	struct probe_run run, *r = &run;
	probe_exec(r, "profiles", "--json", NULL);
	expect_exit(r, 0);
	static const struct { const char *name; bool fetches; } want[] = {
		{ "modern", false }, { CHROME, true }, { SAFARI, true }, { JAVA, false },
	};
	for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
		char needle[128];
		snprintf(needle, sizeof needle, "{\"name\":\"%s\",", want[i].name);
		const char *line = strstr(r->out, needle);
		cr_assert(line, "no profile line for %s%s", want[i].name, D);
		const char *end = strchr(line, '\n');
		const char *flag = strstr(line, want[i].fetches ? "\"fetches_ca_issuers\":true}"
							 : "\"fetches_ca_issuers\":false}");
		cr_assert(flag && (!end || flag < end), "%s: want fetches_ca_issuers %s%s", want[i].name,
			  want[i].fetches ? "true" : "false", D);
	}
	probe_run_free(r);
}
