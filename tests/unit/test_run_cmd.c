/* test_run_cmd.c - `tlswatch-probe run --check-config` on the real binary:
 * the shipped example is valid, an unknown profile is reported at its
 * file:line:column, and the unimplemented daemon refuses to pretend. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* Runs the probe with a shell command tail; returns the exit status and
 * the combined output in out. */
static int run_probe(const char *args, char *out, size_t cap)
{
	const char *b = getenv("TW_BUILD");
	char cmd[1024];
	snprintf(cmd, sizeof cmd, "%s/tlswatch-probe %s 2>&1", b && *b ? b : "build", args);
	FILE *p = popen(cmd, "r");
	cr_assert(p != NULL, "popen %s", cmd);
	size_t n = fread(out, 1, cap - 1, p);
	out[n] = '\0';
	int st = pclose(p);
	cr_assert(WIFEXITED(st), "%s did not exit normally", cmd);
	return WEXITSTATUS(st);
}

Test(run_cmd, example_config_is_valid)
{
	char out[4096];
	int rc = run_probe("run -c deploy/probe.example.yaml --check-config", out, sizeof out);
	cr_assert_eq(rc, 0, "exit %d: %s", rc, out);
	cr_assert(strstr(out, "valid") && strstr(out, "targets"), "%s", out);
}

Test(run_cmd, unknown_profile_names_its_position)
{
	char path[] = "/tmp/tw-runcmd-XXXXXX", out[4096], args[256];
	int fd = mkstemp(path);
	cr_assert(fd >= 0);
	const char *yaml =
		"probe: {id: p1, region: r1}\n"
		"collector: {address: \"c.example:7443\", ca_file: /x, cert_file: /y, key_file: /z}\n"
		"spool: {path: /tmp/spool}\n"
		"targets:\n"
		"  - host: a.example\n"
		"    profiles: [modern, \"Netscape 4\"]\n";
	cr_assert(write(fd, yaml, strlen(yaml)) == (ssize_t)strlen(yaml));
	close(fd);
	snprintf(args, sizeof args, "run -c %s --check-config", path);
	int rc = run_probe(args, out, sizeof out);
	unlink(path);
	cr_assert_eq(rc, 2, "exit %d: %s", rc, out);
	char want[300];
	snprintf(want, sizeof want, "%s:6:", path);
	cr_assert(strstr(out, want) && strstr(out, "unknown profile \"Netscape 4\""), "%s", out);
}

Test(run_cmd, daemon_not_pretended)
{
	char out[4096];
	int rc = run_probe("run -c deploy/probe.example.yaml", out, sizeof out);
	cr_assert_eq(rc, 2, "exit %d: %s", rc, out);
	cr_assert(strstr(out, "not implemented"), "%s", out);
}
