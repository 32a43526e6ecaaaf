/*
 * test_probe_cli.c - the usage errors of `tlswatch-probe check` on the real
 * binary (DESIGN 4.4: exit 2 on a usage error, 0 for --help), run as
 * $TW_BUILD (default "build") + "/tlswatch-probe" with stdout and stderr
 * captured separately and a 5 s watchdog.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

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
