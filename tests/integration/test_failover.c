/*
 * test_failover.c - PostgreSQL failover under a streaming collector (issue
 * 12). The fixture (test_failover.sh) runs a primary and a synchronous
 * streaming standby. The collector's conninfo is a libpq multi-host string
 * (primary, standby) with target_session_attrs=read-write, so it connects
 * to whichever accepts writes. Mid-stream the primary is killed (stop -m
 * immediate) and the standby promoted; the collector must carry on, and
 * with synchronous_commit the loss is zero: every result each probe
 * produced is stored exactly once on the new primary, rollups equal the
 * raw rows. Printed: rows before the kill, rows the promoted standby had,
 * time from the kill to the first new row, totals.
 */
#include "proof_env.h"

Test(failover, primary_dies_standby_promoted_nothing_lost, .timeout = 400)
{
	struct proof_env e;

	pf_init(&e, "failover", 2);
	PGconn *admin = tw_pg(NULL);
	cr_assert(admin, "cannot connect to the primary");
	cr_assert(tw_pg_exec(admin, tw_fmt("CREATE DATABASE %s", e.db)) == 0);
	PQfinish(admin);
	snprintf(e.conninfo, sizeof e.conninfo,
		 "host=127.0.0.1,127.0.0.1 port=%s,%s user=postgres dbname=%s connect_timeout=2 "
		 "target_session_attrs=read-write", penv("TW_PG_PORT"), penv("TW_PG2_PORT"), e.db);

	pf_write_collector_yaml(&e);
	for (int i = 0; i < e.nprobes; i++)
		pf_write_probe_yaml(&e, &e.probes[i], "1s");
	pf_migrate(&e);
	pf_start_collector(&e);
	for (int i = 0; i < e.nprobes; i++)
		pf_start_probe(&e.probes[i], 1);
	long long warm = pf_wait(&e, "SELECT count(*) FROM results", 60, 40000);
	if (warm < 60)
		pf_dump_logs(&e);
	cr_assert_geq(warm, 60, "only %lld rows after 40 s", warm);

	/* mid-stream: the primary dies; what it had is the floor */
	long long before = pf_q(&e, "SELECT count(*) FROM results");
	double t_kill = tw_now_ms();
	cr_assert(system(tw_fmt("%s >/dev/null 2>&1", penv("TW_PG_KILL"))) == 0,
		  "pg_ctl stop -m immediate of the primary failed");
	PQfinish(e.pg);
	e.pg = NULL;
	tw_sleep_ms(1000);   /* the collector sees the primary gone */
	double t_promote = tw_now_ms();
	cr_assert(system(tw_fmt("%s >/dev/null 2>&1", penv("TW_PG2_PROMOTE"))) == 0,
		  "pg_ctl promote of the standby failed");
	long long replicated = pf_q(&e, "SELECT count(*) FROM results");
	cr_expect_eq(pf_q(&e, tw_fmt("SELECT (inet_server_port() = %s)::int", penv("TW_PG2_PORT"))), 1,
		     "the test's read-write session is not on the promoted standby");
	/* the first row stored after the promotion, through the collector */
	long long after = pf_wait(&e, "SELECT count(*) FROM results", replicated + 1, 60000);
	double t_resumed = tw_now_ms();
	if (after <= replicated)
		pf_dump_logs(&e);
	cr_assert_gt(after, replicated, "the collector stored nothing within 60 s of the promotion");
	tw_sleep_ms(5000);   /* and keeps streaming */

	for (int i = 0; i < e.nprobes; i++)
		if (!pf_wait_caught_up(&e, &e.probes[i], 60000)) {
			pf_dump_logs(&e);
			cr_assert_fail("%s did not catch up within 60 s", e.probes[i].id);
		}
	long long produced_all = 0, stored_all = 0, dropped_all = 0;
	for (int i = 0; i < e.nprobes; i++) {
		struct pf_probe *p = &e.probes[i];
		long long dropped = pf_stop_probe(&e, p);
		long long produced = (long long)(p->runs[0].last - p->runs[0].first + 1);
		long long stored = pf_wait(&e, tw_fmt("SELECT count(*) FROM results WHERE probe_id = '%s'",
						      p->id), produced - dropped, 20000);
		long long mn = pf_q(&e, tw_fmt("SELECT min(seq) FROM results WHERE probe_id = '%s'", p->id));
		long long mx = pf_q(&e, tw_fmt("SELECT max(seq) FROM results WHERE probe_id = '%s'", p->id));
		cr_expect_eq(stored + dropped, produced, "%s: stored %lld + dropped %lld != produced %lld",
			     p->id, stored, dropped, produced);
		cr_expect_eq(dropped, 0, "%s: the spool dropped %lld", p->id, dropped);
		cr_expect(mn == 1 && mx == produced, "%s: seq %lld..%lld for %lld produced", p->id, mn, mx,
			  produced);
		produced_all += produced;
		stored_all += stored;
		dropped_all += dropped;
	}
	printf("failover: rows on the primary just before the kill %lld; on the promoted standby %lld "
	       "(synchronous: lost 0 is required)\n", before, replicated);
	printf("failover: kill -> promote %.1f s, promote -> first new row %.1f s, kill -> first new "
	       "row %.1f s\n", (t_promote - t_kill) / 1000, (t_resumed - t_promote) / 1000,
	       (t_resumed - t_kill) / 1000);
	printf("failover: produced %lld, stored %lld, dropped %lld, lost %lld\n", produced_all,
	       stored_all, dropped_all, produced_all - stored_all - dropped_all);
	cr_expect_geq(replicated, before, "the standby had %lld rows, the primary %lld before it died",
		      replicated, before);
	pf_check_db(&e);
	int st = tw_stop(e.coll, SIGTERM, 30000);
	e.coll = -1;
	cr_expect(WIFEXITED(st) && WEXITSTATUS(st) == 0, "collector did not exit 0 on SIGTERM (%d)", st);
	pf_fini(&e);
}
