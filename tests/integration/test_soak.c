/*
 * test_soak.c - the kill soak (issue 12): three probe daemons stream to one
 * collector while, at random moments from a fixed seed, the collector, a
 * probe or PostgreSQL (pg_ctl stop -m immediate) is SIGKILLed and started
 * again. Then exact accounting, per probe:
 *
 *   produced (its runs' sequence ranges; the last run's own counter)
 *     = rows stored + counted drops
 *   every seq missing from the stored ones lies in a reservation gap a kill
 *   left (probe/spool.h: a crash skips the rest of the reserved block,
 *   never reuses a number) - anything else is an unexplained hole;
 *   no duplicate (probe_id, seq); rollups equal the raw rows.
 *
 * The accounting table is printed. Environment: TW_SOAK_SEED (default
 * 20261205, printed), TW_SOAK_SECONDS (keep killing at least this long;
 * default 0: just the rounds), TW_SOAK_ROUNDS (default 21). `make test`
 * runs the short version, `make soak` SOAK_SECONDS=600.
 */
#include "proof_env.h"

/* xorshift64*: the same seed gives the same kills on every machine */
static unsigned long long rng_state;

static unsigned long long rng_next(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 2685821657736338717ULL;
}

static int rng_between(int lo, int hi)
{
	return lo + (int)(rng_next() % (unsigned long long)(hi - lo + 1));
}

static long long env_ll(const char *k, long long def)
{
	const char *v = getenv(k);
	return v && *v ? strtoll(v, NULL, 10) : def;
}

static void pg_kill_restart(int down_ms)
{
	cr_assert(system(tw_fmt("%s >/dev/null 2>&1", penv("TW_PG_KILL"))) == 0,
		  "pg_ctl stop -m immediate failed");
	tw_sleep_ms(down_ms);
	cr_assert(system(tw_fmt("%s >/dev/null 2>&1", penv("TW_PG_START"))) == 0, "pg_ctl start failed");
}

Test(soak, random_kills_lose_nothing, .timeout = 1500)
{
	struct proof_env e;
	unsigned long long seed = (unsigned long long)env_ll("TW_SOAK_SEED", 20261205);
	long long min_rounds = env_ll("TW_SOAK_ROUNDS", 21);
	long long min_secs = env_ll("TW_SOAK_SECONDS", 0);
	int kills[3] = { 0, 0, 0 };   /* probe, collector, postgres */

	printf("soak: seed %llu (TW_SOAK_SEED), at least %lld rounds and %lld s\n", seed, min_rounds,
	       min_secs);
	fflush(stdout);
	rng_state = seed ? seed : 1;

	pf_init(&e, "soak", 3);
	PGconn *admin = tw_pg(NULL);
	cr_assert(admin, "cannot connect to the test PostgreSQL");
	/* an immediate stop must not lose a commit the collector acked: the
	 * fixture's PostgreSQL runs synchronous_commit=off for speed */
	cr_assert(tw_pg_exec(admin, "ALTER SYSTEM SET synchronous_commit = on") == 0);
	cr_assert(tw_pg_ll(admin, "SELECT 1 FROM pg_reload_conf()") == 1);
	cr_assert(tw_pg_exec(admin, tw_fmt("CREATE DATABASE %s", e.db)) == 0);
	PQfinish(admin);
	snprintf(e.conninfo, sizeof e.conninfo, "%s dbname=%s", penv("TW_PG_CONNINFO"), e.db);

	pf_write_collector_yaml(&e);
	for (int i = 0; i < e.nprobes; i++)
		pf_write_probe_yaml(&e, &e.probes[i], "1s");
	pf_migrate(&e);
	cr_assert_eq(pf_q(&e, "SELECT (setting = 'on')::int FROM pg_settings WHERE name = 'synchronous_commit'")
		     , 1);
	pf_start_collector(&e);
	for (int i = 0; i < e.nprobes; i++)
		pf_start_probe(&e.probes[i], 1);
	long long warm = pf_wait(&e, "SELECT count(*) FROM results", 20, 30000);
	if (warm < 20)
		pf_dump_logs(&e);
	cr_assert_geq(warm, 20, "only %lld rows after 30 s", warm);

	double t0 = tw_now_ms();
	long long round = 0;
	while (round < min_rounds || tw_now_ms() - t0 < (double)min_secs * 1000) {
		tw_sleep_ms(rng_between(200, 2000));
		int victim = rng_between(0, e.nprobes + 1);
		int down = rng_between(50, 1500);
		if (victim < e.nprobes) {
			struct pf_probe *p = &e.probes[victim];
			tw_stop(p->pid, SIGKILL, 5000);
			p->pid = -1;
			unsigned long long next = pf_probe_killed(p);
			printf("round %3lld: SIGKILL %s (run %d: seq %llu..%llu, reserved %llu), down %d ms\n",
			       round, p->id, p->nruns, p->runs[p->nruns - 1].first,
			       p->runs[p->nruns - 1].last, p->runs[p->nruns - 1].reserved, down);
			tw_sleep_ms(down);
			pf_start_probe(p, next);
			kills[0]++;
		} else if (victim == e.nprobes) {
			printf("round %3lld: SIGKILL collector, down %d ms\n", round, down);
			tw_stop(e.coll, SIGKILL, 5000);
			e.coll = -1;
			tw_sleep_ms(down);
			pf_start_collector(&e);
			kills[1]++;
		} else {
			printf("round %3lld: PostgreSQL stop -m immediate, down %d ms\n", round, down);
			if (e.pg)
				PQfinish(e.pg);
			e.pg = NULL;
			pg_kill_restart(down);
			kills[2]++;
		}
		fflush(stdout);
		round++;
	}
	double soak_s = (tw_now_ms() - t0) / 1000;

	/* everything still running drains: every probe's results stored,
	 * then each stops cleanly and says what it produced and dropped */
	long long dropped[PF_MAX_PROBES];
	for (int i = 0; i < e.nprobes; i++) {
		if (!pf_wait_caught_up(&e, &e.probes[i], 60000)) {
			pf_dump_logs(&e);
			cr_assert_fail("%s did not catch up within 60 s of the last kill", e.probes[i].id);
		}
	}
	for (int i = 0; i < e.nprobes; i++)
		dropped[i] = pf_stop_probe(&e, &e.probes[i]);

	printf("\nsoak: seed %llu, %lld rounds in %.0f s: %d probe kills, %d collector kills, "
	       "%d PostgreSQL kills\n", seed, round, soak_s, kills[0], kills[1], kills[2]);
	printf("%-8s %5s %9s %9s %8s %9s %10s %12s\n", "probe", "runs", "produced", "stored",
	       "dropped", "gap_seqs", "duplicates", "unexplained");
	long long all_produced = 0, all_stored = 0;
	for (int i = 0; i < e.nprobes; i++) {
		struct pf_probe *p = &e.probes[i];
		long long produced = 0, gaps = 0, in_runs = 0;
		for (int k = 0; k < p->nruns; k++) {
			struct pf_run *r = &p->runs[k];
			long long n = r->last >= r->first ? (long long)(r->last - r->first + 1) : 0;
			produced += n;
			if (k + 1 < p->nruns)
				gaps += (long long)(p->runs[k + 1].first - 1 -
						    (r->last >= r->first ? r->last : r->first - 1));
			if (n > 0)
				in_runs += pf_q(&e, tw_fmt("SELECT count(*) FROM results WHERE probe_id = '%s' "
							   "AND seq BETWEEN %llu AND %llu", p->id, r->first,
							   r->last));
		}
		unsigned long long top = p->runs[p->nruns - 1].last;
		long long stored = pf_wait(&e, tw_fmt("SELECT count(*) FROM results WHERE probe_id = '%s'",
						      p->id), produced - dropped[i], 20000);
		long long outside = stored - in_runs;   /* rows in no run: a gap reused */
		long long dups = pf_q(&e, tw_fmt("SELECT count(*) - count(DISTINCT seq) FROM results "
						 "WHERE probe_id = '%s'", p->id));
		long long missing = produced - in_runs; /* seqs of a run with no row */
		long long unexplained = missing - dropped[i] + outside;
		printf("%-8s %5d %9lld %9lld %8lld %9lld %10lld %12lld\n", p->id, p->nruns, produced,
		       stored, dropped[i], gaps, dups, unexplained);
		cr_expect_eq(stored + dropped[i], produced,
			     "%s: stored %lld + dropped %lld != produced %lld", p->id, stored, dropped[i],
			     produced);
		cr_expect_eq(outside, 0, "%s: %lld rows outside every run's seq range (1..%llu)", p->id,
			     outside, top);
		cr_expect_eq(unexplained, 0, "%s: %lld unexplained holes", p->id, unexplained);
		cr_expect_eq(dups, 0, "%s: %lld duplicate seqs", p->id, dups);
		cr_expect_eq(pf_q(&e, tw_fmt("SELECT count(DISTINCT spool_epoch) FROM results "
					     "WHERE probe_id = '%s'", p->id)), 1,
			     "%s: one spool, one epoch", p->id);
		all_produced += produced;
		all_stored += stored;
	}
	printf("%-8s %5s %9lld %9lld\n", "total", "", all_produced, all_stored);
	pf_check_db(&e);
	cr_expect_geq(round, 20);
	int st = tw_stop(e.coll, SIGTERM, 30000);
	e.coll = -1;
	cr_expect(WIFEXITED(st) && WEXITSTATUS(st) == 0, "collector did not exit 0 on SIGTERM (%d)", st);
	pf_fini(&e);
}
