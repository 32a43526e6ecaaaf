/*
 * test_spool_epoch.c - the spool's identity (issue 12, probe/spool.h): a new
 * spool gets a random epoch written to `state` before anything is numbered,
 * keeps it across reopens and acks, a wiped spool gets another one, a
 * `state` from before epochs keeps the empty epoch (and its two-line form),
 * and a damaged epoch line is refused rather than guessed.
 */
#define _GNU_SOURCE
#include "spool_env.h"

TestSuite(spool_epoch, .init = setup, .fini = teardown);

static void write_state(const char *text)
{
	char p[512];
	FILE *f;

	cr_assert_eq(mkdir(tmpdir, 0700) == 0 || errno == EEXIST, 1);
	snprintf(p, sizeof p, "%s/a", tmpdir);
	cr_assert_eq(mkdir(p, 0700) == 0 || errno == EEXIST, 1);
	cr_assert_eq(mkdir(spdir, 0700) == 0 || errno == EEXIST, 1);
	state_path(p, sizeof p);
	f = fopen(p, "w");
	cr_assert_not_null(f);
	cr_assert_eq(fputs(text, f) >= 0, 1);
	cr_assert_eq(fclose(f), 0);
}

Test(spool_epoch, new_spool_has_a_persisted_epoch_kept_across_reopen)
{
	struct spool *s = sp_open(0, 0);
	char p[512], state[256], e1[40], err[256];

	snprintf(e1, sizeof e1, "%s", spool_epoch(s));
	cr_assert_eq(strlen(e1), 32, "epoch \"%s\"", e1);
	cr_assert_eq(strspn(e1, "0123456789abcdef"), 32);
	/* on disk before the first number is handed out */
	state_path(p, sizeof p);
	read_file(p, state, sizeof state);
	cr_assert(strstr(state, e1) != NULL, "state \"%s\" lacks epoch %s", state, e1);

	for (int i = 0; i < 5; i++)
		app(s);
	cr_assert_eq(spool_ack(s, 3, err, sizeof err), 0, "%s", err);
	spool_close(s);

	s = sp_open(0, 0);
	cr_assert_str_eq(spool_epoch(s), e1, "reopen keeps the epoch");
	read_file(p, state, sizeof state);
	check_state(state, "acked 3\nreserved 1024\n");
	spool_close(s);
}

Test(spool_epoch, wiped_spool_gets_a_new_epoch)
{
	struct spool *s = sp_open(0, 0);
	char e1[40];

	snprintf(e1, sizeof e1, "%s", spool_epoch(s));
	app(s);
	spool_close(s);
	teardown();
	setup();
	s = sp_open(0, 0);
	cr_assert_eq(strlen(spool_epoch(s)), 32);
	cr_assert_str_neq(spool_epoch(s), e1, "a new spool is a new epoch");
	cr_assert_eq(app(s), 1, "and numbers from 1 again");
	spool_close(s);
}

Test(spool_epoch, state_from_before_epochs_keeps_the_empty_epoch)
{
	char p[512], state[256], err[256];

	write_state("acked 7\nreserved 1024\n");
	struct spool *s = sp_open(0, 0);
	cr_assert_str_eq(spool_epoch(s), "", "an old spool continues the probe's numbers");
	cr_assert_gt(app(s), 1024);
	cr_assert_eq(spool_ack(s, 9, err, sizeof err), 0, "%s", err);
	spool_close(s);
	state_path(p, sizeof p);
	read_file(p, state, sizeof state);
	cr_assert_str_eq(state, "acked 9\nreserved 2048\n", "no epoch line is added");
}

Test(spool_epoch, damaged_epoch_line_is_refused)
{
	const char *bad[] = {
		"acked 0\nreserved 0\nepoch 0123\n",
		"acked 0\nreserved 0\nepoch 0123456789ABCDEF0123456789abcdef\n",
		"acked 0\nreserved 0\nepoch 0123456789abcdef0123456789abcdef",
		"acked 0\nreserved 0\nepoch 0123456789abcdef0123456789abcdef\nx\n",
		"acked 0\nreserved 0\nepach 0123456789abcdef0123456789abcdef\n",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		struct spool_opts o = { .dir = spdir };
		char err[256] = "";

		write_state(bad[i]);
		struct spool *s = spool_open(&o, err, sizeof err);
		cr_assert_null(s, "accepted state \"%s\"", bad[i]);
		cr_assert(strstr(err, "malformed") != NULL, "%s", err);
	}
	write_state("acked 0\nreserved 0\nepoch 0123456789abcdef0123456789abcdef\n");
	struct spool *s = sp_open(0, 0);
	cr_assert_str_eq(spool_epoch(s), "0123456789abcdef0123456789abcdef");
	spool_close(s);
}
