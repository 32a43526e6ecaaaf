/*
 * test_hostport.c - common/hostport.c: hostport_parse(), the HOST[:PORT]
 * parser that `tlswatch-probe check` and the probe's config loader share.
 * (The check command's usage errors run the real binary and live in
 * tests/integration/test_probe_cli.c.)
 */
#include <criterion/criterion.h>
#include <string.h>

#include "hostport.h"

/* ---- hostport_parse (common/hostport.c) ---- */

TestSuite(hostport);

static void ok_case(const char *in, unsigned def, const char *want_host, unsigned want_port)
{
	char host[256], err[256] = "";
	unsigned port = 12345;
	int r = hostport_parse(in, host, sizeof host, &port, def, err, sizeof err);
	cr_assert_eq(r, 0, "\"%s\": returned %d (%s)", in, r, err);
	cr_assert_str_eq(host, want_host, "\"%s\": host", in);
	cr_assert_eq(port, want_port, "\"%s\": port %u, expected %u", in, port, want_port);
}

static void err_case(const char *in, const char *mention)
{
	char host[256], err[256] = "";
	unsigned port = 0;
	int r = hostport_parse(in, host, sizeof host, &port, 443, err, sizeof err);
	cr_assert_eq(r, -1, "\"%s\": accepted (host \"%s\" port %u)", in, host, port);
	cr_assert(err[0] != '\0', "\"%s\": empty error", in);
	if (mention)
		cr_assert(strstr(err, mention) != NULL, "\"%s\": error \"%s\" does not mention \"%s\"",
			  in, err, mention);
}

Test(hostport, name_default_port)      { ok_case("example.com", 443, "example.com", 443); }
Test(hostport, name_default_port_zero) { ok_case("example.com", 0, "example.com", 0); }
Test(hostport, name_with_port)         { ok_case("example.com:8443", 443, "example.com", 8443); }
Test(hostport, port_bounds)
{
	ok_case("h:1", 443, "h", 1);
	ok_case("h:65535", 443, "h", 65535);
}
Test(hostport, ipv4_with_port)         { ok_case("192.0.2.1:25", 443, "192.0.2.1", 25); }
Test(hostport, bracketed_v6_port)      { ok_case("[::1]:443", 0, "::1", 443); }
Test(hostport, bracketed_v6_default)   { ok_case("[::1]", 993, "::1", 993); }
Test(hostport, bare_v6_default)        { ok_case("::1", 443, "::1", 443); }
Test(hostport, bare_v6_full)           { ok_case("2001:db8::1", 465, "2001:db8::1", 465); }
Test(hostport, bracketed_v6_full_port) { ok_case("[2001:db8::1]:8443", 443, "2001:db8::1", 8443); }

Test(hostport, empty)             { err_case("", "empty"); }
Test(hostport, missing_port)      { err_case("host:", "port"); }
Test(hostport, port_zero)         { err_case("host:0", "port"); }
Test(hostport, port_too_big)      { err_case("host:99999", "port"); }
Test(hostport, port_65536)        { err_case("host:65536", "port"); }
Test(hostport, port_not_numeric)  { err_case("host:12ab", "12ab"); }
Test(hostport, port_negative)     { err_case("host:-1", "port"); }
Test(hostport, unclosed_bracket)  { err_case("[::1", "]"); }
Test(hostport, missing_host)      { err_case(":443", "host"); }
Test(hostport, empty_brackets)    { err_case("[]:443", "host"); }
Test(hostport, junk_after_bracket){ err_case("[::1]x", "[::1]x"); }
Test(hostport, bracket_empty_port){ err_case("[::1]:", "port"); }

Test(hostport, host_too_long_for_buffer)
{
	char host[8], err[128] = "";
	unsigned port;
	cr_assert_eq(hostport_parse("very-long-name.example", host, sizeof host, &port, 443,
					  err, sizeof err), -1);
	cr_assert(err[0] != '\0');
	/* exactly cap-1 characters fits */
	cr_assert_eq(hostport_parse("abcdefg:1", host, sizeof host, &port, 443, err, sizeof err), 0);
	cr_assert_str_eq(host, "abcdefg");
}

/* Ports are digits only, and several colons must be a real IPv6 literal:
 * a typo is a usage error now, not a DNS failure later. */
Test(hostport, port_sign_or_space_rejected)  { err_case("example.com:+443", "+443"); }
Test(hostport, port_leading_space_rejected)  { err_case("example.com: 443", " 443"); }
Test(hostport, two_ports_rejected)           { err_case("example.com:443:1", "example.com:443:1"); }
Test(hostport, bare_ipv6_full_accepted)      { ok_case("2001:db8::1", 443, "2001:db8::1", 443); }

/* The config loader and check share this parser, including its host check. */
Test(hostport, host_with_space_or_slash_rejected)
{
	err_case("a b.example:443", "no spaces");
	err_case("a/b.example", "no spaces");
}
