/*
 * test_hostport.c - hostport_parse() and the usage errors of
 * `tlswatch-probe check` (DESIGN 4.4: exit 2 on a usage error).
 *
 * The CLI tests run the real binary: $TW_BUILD (default "build") +
 * "/tlswatch-probe".
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "hostport.h"

extern char **environ;

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

/* ---- the real binary ---- */

struct run_result {
	int status;        /* exit code, or -1 when killed */
	char out[8192];
	char err[8192];
};

static void drain(int fd, char *buf, size_t cap, size_t *len, bool *open)
{
	ssize_t n = read(fd, buf + *len, cap - 1 - *len);
	if (n > 0) {
		*len += (size_t)n;
	} else if (n == 0 || errno != EINTR) {
		*open = false;
	}
	buf[*len] = '\0';
	if (*len >= cap - 1)
		*open = false;
}

/* Runs tlswatch-probe with args (NULL-terminated, without argv[0]). */
static void run_probe(struct run_result *r, const char *const *args)
{
	const char *b = getenv("TW_BUILD");
	char path[1024];
	snprintf(path, sizeof path, "%s/tlswatch-probe", b && *b ? b : "build");
	cr_assert_eq(access(path, X_OK), 0, "%s not built", path);

	char *argv[32];
	int argc = 0;
	argv[argc++] = path;
	for (; args[argc - 1] && argc < 31; argc++)
		argv[argc] = (char *)args[argc - 1];
	argv[argc] = NULL;

	int po[2], pe[2];
	cr_assert_eq(pipe(po), 0);
	cr_assert_eq(pipe(pe), 0);
	posix_spawn_file_actions_t fa;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, po[1], STDOUT_FILENO);
	posix_spawn_file_actions_adddup2(&fa, pe[1], STDERR_FILENO);
	posix_spawn_file_actions_addclose(&fa, po[0]);
	posix_spawn_file_actions_addclose(&fa, pe[0]);
	posix_spawn_file_actions_addopen(&fa, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
	pid_t pid;
	int rc = posix_spawn(&pid, path, &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	close(po[1]);
	close(pe[1]);
	cr_assert_eq(rc, 0, "posix_spawn: %s", strerror(rc));

	size_t ol = 0, el = 0;
	bool oo = true, eo = true;
	r->out[0] = r->err[0] = '\0';
	while (oo || eo) {
		struct pollfd p[2] = { { .fd = oo ? po[0] : -1, .events = POLLIN },
				       { .fd = eo ? pe[0] : -1, .events = POLLIN } };
		int n = poll(p, 2, 5000);
		if (n <= 0) {
			kill(pid, SIGKILL);
			break;
		}
		if (p[0].revents)
			drain(po[0], r->out, sizeof r->out, &ol, &oo);
		if (p[1].revents)
			drain(pe[0], r->err, sizeof r->err, &el, &eo);
	}
	close(po[0]);
	close(pe[0]);
	int st;
	cr_assert_eq(waitpid(pid, &st, 0), pid);
	r->status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

TestSuite(cli);

static struct run_result res;

#define ASSERT_EXIT(want) \
	cr_assert_eq(res.status, (want), "exit %d, expected %d; stderr: %s", res.status, (want), res.err)

Test(cli, unknown_profile_exit_2)
{
	const char *a[] = { "check", "--profile", "nosuch", "localhost:1", NULL };
	run_probe(&res, a);
	ASSERT_EXIT(2);
	cr_assert(strstr(res.err, "unknown profile") != NULL, "stderr: %s", res.err);
	cr_assert(strstr(res.err, "nosuch") != NULL, "stderr: %s", res.err);
}

Test(cli, no_host_exit_2)
{
	const char *a[] = { "check", NULL };
	run_probe(&res, a);
	ASSERT_EXIT(2);
	cr_assert(res.err[0] != '\0', "no message on stderr");
}

Test(cli, two_hosts_exit_2)
{
	const char *a[] = { "check", "a.example", "b.example", NULL };
	run_probe(&res, a);
	ASSERT_EXIT(2);
}

Test(cli, negative_timeout_exit_2)
{
	const char *a[] = { "check", "--timeout", "-1", "x", NULL };
	run_probe(&res, a);
	ASSERT_EXIT(2);
	cr_assert(strstr(res.err, "timeout") != NULL, "stderr: %s", res.err);
}

Test(cli, zero_timeout_exit_2)
{
	const char *a[] = { "check", "--timeout", "0", "x", NULL };
	run_probe(&res, a);
	ASSERT_EXIT(2);
}

Test(cli, unknown_fail_on_exit_2)
{
	const char *a[] = { "check", "--fail-on", "nosuch", "x", NULL };
	run_probe(&res, a);
	ASSERT_EXIT(2);
	cr_assert(strstr(res.err, "nosuch") != NULL, "stderr: %s", res.err);
}

Test(cli, bad_port_exit_2)
{
	const char *a[] = { "check", "x:99999", NULL };
	run_probe(&res, a);
	ASSERT_EXIT(2);
	cr_assert(strstr(res.err, "port") != NULL, "stderr: %s", res.err);
}

Test(cli, unknown_starttls_exit_2)
{
	const char *a[] = { "check", "--starttls", "xmpp", "x", NULL };
	run_probe(&res, a);
	ASSERT_EXIT(2);
}

Test(cli, help_exit_0_mentions_check)
{
	const char *a[] = { "--help", NULL };
	run_probe(&res, a);
	ASSERT_EXIT(0);
	cr_assert(strstr(res.out, "check") != NULL || strstr(res.err, "check") != NULL,
		  "stdout: %s\nstderr: %s", res.out, res.err);
}

Test(cli, no_command_exit_2)
{
	const char *a[] = { NULL };
	run_probe(&res, a);
	ASSERT_EXIT(2);
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
