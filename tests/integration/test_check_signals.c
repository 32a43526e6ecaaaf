/*
 * test_check_signals.c - `tlswatch-probe check` against real servers on the
 * detection cases of issue 10: chains that reach a trusted root through a
 * CA that may not issue (chain_invalid), stapled OCSP responses that are
 * not valid answers (ocsp_status "invalid", ocsp_error, bad_ocsp_staple),
 * and certificates without subjectAltName.
 *
 * Run through tests/integration/test_check_signals.sh: the PKI of
 * tests/harness/mkpki-signals.sh and one s_server per case. Where OpenSSL
 * has a verdict of its own (`openssl verify`), the probe's raw verify error
 * is compared with it, not with a number written here.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "check_env.h"
#include "probe_run.h"

TestSuite(signals, .timeout = 30);

/* What `openssl verify` says of LEAF.pem served as LEAF-chain.pem against
 * root.pem: its first "error N at D depth lookup" line. 0 when it verifies. */
static int openssl_verify(const char *leaf, int *depth)
{
	char cmd[1024], line[512];
	int code = 0;

	snprintf(cmd, sizeof cmd,
		 "OPENSSL_CONF=/dev/null openssl verify -CAfile '%s/root.pem' -untrusted '%s/%s-chain.pem' "
		 "'%s/%s.pem' 2>&1", tw_env("TW_PKI"), tw_env("TW_PKI"), leaf, tw_env("TW_PKI"), leaf);
	FILE *p = popen(cmd, "r");
	cr_assert_not_null(p, "popen openssl verify");
	*depth = -1;
	while (fgets(line, sizeof line, p)) {
		int c, d;
		if (code == 0 && sscanf(line, "error %d at %d depth lookup", &c, &d) == 2) {
			code = c;
			*depth = d;
		}
	}
	int st = pclose(p);
	cr_assert(st != -1 && WIFEXITED(st), "openssl verify did not run");
	cr_assert_eq(code != 0, WEXITSTATUS(st) != 0, "openssl verify: status and output disagree");
	return code;
}

/* A chain to the trusted root where a CA may not issue: OpenSSL's own error
 * (same code, same depth) is kept in verify_errors; the outcome says the
 * chain is invalid, not that the root is untrusted. */
static void expect_chain_invalid(const char *leaf, const char *port_env, int want_code)
{
	struct probe_run run, *r = &run;
	int depth, code = openssl_verify(leaf, &depth);

	cr_assert_eq(code, want_code, "openssl verify %s: error %d at depth %d, fixture expects %d",
		     leaf, code, depth, want_code);
	probe_check(r, tw_target("localhost", port_env), NULL);
	json_t *o = one(r);
	expect_outcome(r, o, "chain_invalid");
	expect_exit(r, 1);
	expect_verify_error(r, o, depth, code);
	expect_int(r, o, "outcome_depth", depth);
	char pem[64];
	snprintf(pem, sizeof pem, "%s.pem", leaf);
	expect_fingerprint(r, o, pem);
	probe_run_free(r);
}

/* ------------------------------------------------------------ chain_invalid */

Test(signals, good_chain_verifies_like_openssl)
{
	struct probe_run run, *r = &run;
	int depth;

	cr_assert_eq(openssl_verify("good", &depth), 0, "openssl verify rejects good.pem");
	probe_check(r, tw_target("localhost", "TW_PORT_GOOD"), NULL);
	json_t *o = one(r);
	expect_outcome(r, o, "ok");
	expect_exit(r, 0);
	probe_run_free(r);
}

Test(signals, chain_invalid_issuer_not_a_ca)
{
	expect_chain_invalid("notca", "TW_PORT_NOTCA", 79);
}

Test(signals, chain_invalid_path_length_exceeded)
{
	expect_chain_invalid("pathlen", "TW_PORT_PATHLEN", 25);
}

Test(signals, chain_invalid_name_constraints)
{
	expect_chain_invalid("nc", "TW_PORT_NC", 47);
}

Test(signals, chain_invalid_unhandled_critical_extension)
{
	expect_chain_invalid("crit", "TW_PORT_CRIT", 34);
}

/* Under a root the client does not trust, the root is the first thing to
 * fix: untrusted_root still wins over what the CA below it may do. */
Test(signals, untrusted_root_wins_over_chain_invalid)
{
	struct probe_run run, *r = &run;
	probe_exec(r, "check", "--json", "--ca-file", tw_pki("root2.pem"),
		   tw_target("localhost", "TW_PORT_PATHLEN"), NULL);
	json_t *o = one(r);
	expect_outcome(r, o, "untrusted_root");
	expect_exit(r, 1);
	probe_run_free(r);
}
