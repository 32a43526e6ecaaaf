/*
 * test_demo_rerun.c - the demo's life cycle as a user lives it: started
 * without DEMO_SECONDS, it runs until SIGINT (Ctrl-C), then stops everything
 * it started, prints a two-line summary and exits 0; started again on the
 * same var/ it reuses the database and the PKI and stops the same way. No
 * process of either run is left (none whose command line names its var/).
 *
 * Runs deploy/demo/demo.sh from the repository root (tests/run.sh's working
 * directory) with $TW_BUILD's binaries.
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "proc.h"

TestSuite(demo_rerun, .timeout = 300);

/* How many processes have `needle` in their command line. */
static int processes_naming(const char *needle)
{
	DIR *d = opendir("/proc");
	struct dirent *e;
	int n = 0;
	cr_assert_not_null(d);
	while ((e = readdir(d))) {
		char path[300], buf[4096];
		if (e->d_name[0] < '1' || e->d_name[0] > '9')
			continue;
		snprintf(path, sizeof path, "/proc/%s/cmdline", e->d_name);
		FILE *f = fopen(path, "r");
		if (!f)
			continue;
		size_t len = fread(buf, 1, sizeof buf - 1, f);
		fclose(f);
		for (size_t i = 0; i < len; i++)
			if (buf[i] == '\0')
				buf[i] = ' ';
		buf[len] = '\0';
		if (strstr(buf, needle))
			n++;
	}
	closedir(d);
	return n;
}

/* Starts the demo on var dir `var` (DEMO_SECONDS secs, "" for none). */
static pid_t demo_start(const char *var, const char *secs, const char *log)
{
	const char *build = getenv("TW_BUILD");
	cr_assert_eq(setenv("DEMO_VAR", var, 1), 0);
	cr_assert_eq(setenv("TW_BUILD", build ? build : "build", 1), 0);
	if (*secs)
		cr_assert_eq(setenv("DEMO_SECONDS", secs, 1), 0);
	else
		cr_assert_eq(unsetenv("DEMO_SECONDS"), 0);
	char *argv[] = { "/bin/sh", "deploy/demo/demo.sh", NULL };
	pid_t pid = tw_spawn(argv, log);
	cr_assert_gt(pid, 0);
	return pid;
}

/* Waits (bounded) until the log holds `needle`, the demo still running. */
static void wait_for(pid_t pid, const char *log, const char *needle, int secs)
{
	double end = tw_now_ms() + secs * 1000.0;
	while (tw_file_count(log, needle) == 0) {
		cr_assert_eq(tw_wait_exit(pid, 0), -1, "the demo exited before \"%s\":\n%s", needle,
			     tw_read_file(log) ?: "");
		cr_assert_lt(tw_now_ms(), end, "no \"%s\" after %d s:\n%s", needle, secs,
			     tw_read_file(log) ?: "");
		tw_sleep_ms(200);
	}
}

static void expect_clean_end(int status, const char *log, const char *var)
{
	char *out = tw_read_file(log);
	cr_expect(WIFEXITED(status) && WEXITSTATUS(status) == 0, "demo exit status %d:\n%s", status,
		  out ?: "");
	cr_expect(out && strstr(out, "s of probing: "), "no summary line:\n%s", out ?: "");
	cr_expect(out && strstr(out, "demo: stopped after "), "no stop line:\n%s", out ?: "");
	free(out);
	cr_expect_eq(processes_naming(var), 0, "processes of the demo are still running");
}

Test(demo_rerun, ctrl_c_stops_everything_and_a_second_run_reuses_the_data)
{
	char var[] = "/tmp/tlswatch-demo-rerun.XXXXXX";
	cr_assert_not_null(mkdtemp(var));
	cr_assert_eq(chmod(var, 0711), 0); /* PostgreSQL runs as postgres under root */
	char log1[300], log2[300];
	snprintf(log1, sizeof log1, "%s.run1.log", var);
	snprintf(log2, sizeof log2, "%s.run2.log", var);

	/* run 1: until Ctrl-C */
	pid_t pid = demo_start(var, "", log1);
	wait_for(pid, log1, "Running until Ctrl-C", 240);
	cr_expect_eq(tw_file_count(log1, "(initialised)"), 1);
	cr_assert_eq(kill(pid, SIGINT), 0);
	int st = tw_wait_exit(pid, 60000);
	cr_assert_neq(st, -1, "the demo did not stop within 60 s of SIGINT");
	expect_clean_end(st, log1, var);

	/* run 2: the same var/, bounded */
	pid = demo_start(var, "3", log2);
	st = tw_wait_exit(pid, 240000);
	cr_assert_neq(st, -1, "the second run did not end");
	expect_clean_end(st, log2, var);
	cr_expect_eq(tw_file_count(log2, "(reused)"), 1, "the database was not reused:\n%s",
		     tw_read_file(log2) ?: "");
	cr_expect_eq(tw_file_count(log2, "left by an earlier run"), 0);

	char cmd[1024];
	snprintf(cmd, sizeof cmd, "rm -rf '%s' '%s' '%s'", var, log1, log2);
	cr_expect_eq(system(cmd), 0);
}
