/*
 * test_rollup_1d.c - the daily rollup (sql/013_rollup_1d.sql,
 * collector/rollup_daily.c, the window source in collector/sli.c): SLIs,
 * outcome counts and burn-rate windows of 7, 30 and 90 days read through
 * rollup_1d equal the same read from rollup_1h alone, after the aggregation,
 * after late rows land in days already aggregated, and after an aggregation
 * step dies half way (its client SIGKILLed, or its backend terminated).
 */
#define _GNU_SOURCE
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "burn_env.h"
#include "rollup_daily.h"

#define HOUR_MS (60 * MIN_MS)
#define DAY_MS (24 * HOUR_MS)
#define NDAYS 100
/* now: 13:27 on day NDAYS after T0, so every window has minute, hour and day parts */
#define NOW (T0 + NDAYS * DAY_MS + 13 * HOUR_MS + 27 * MIN_MS)

/* Hourly rows for every hour in [T0, NOW) of 3 targets x 2 regions: counts,
 * outcomes, histograms, minima and services that vary by hour (a target's
 * service changes on day 50: the day rollup keeps the latest). */
static void fill(PGconn *c)
{
	exec_ok(c,
		"INSERT INTO rollup_1h (bucket, target, port, sni, region, profile, service, attempts, "
		"successes, failures, outcomes, handshakes, handshake_ms_hist, handshake_ms_sum, "
		"handshake_ms_count, mtls_attempts, mtls_failures, ocsp_stapled_count, "
		"cipher_fallback_count, sni_mismatch_count, expiring_soon_count, min_days_to_expiry, "
		"min_chain_not_after, ocsp_no_responder_count) "
		"SELECT to_timestamp(%lld / 1000.0) + h * interval '1 hour', t, 443, '', r, 'default', "
		"CASE WHEN t = 'c.example' AND h >= 50 * 24 THEN 'bank' WHEN t = 'b.example' THEN NULL "
		"ELSE 'shop' END, a, a - f, f, "
		"jsonb_build_object('ok', a - f) || CASE WHEN f > 0 THEN jsonb_build_object("
		"CASE WHEN h %% 2 = 0 THEN 'timeout' ELSE 'refused' END, f) ELSE '{}' END, a - f, "
		"array_fill(0::bigint, ARRAY[h %% 20]) || ARRAY[(a - f)::bigint] || "
		"array_fill(0::bigint, ARRAY[19 - h %% 20]), 12.5 * (a - f), a - f, h %% 4, "
		"(h %% 4) / 3, h %% 5, h %% 6, h %% 7, h %% 2, 90 - h / 24.0 + (h %% 24) / 10.0, "
		"to_timestamp(%lld / 1000.0) + (200 - h %% 37) * interval '1 day', h %% 3 "
		"FROM generate_series(0, %lld) h, "
		"(VALUES ('a.example', 0), ('b.example', 1), ('c.example', 2)) tt (t, k), "
		"(VALUES ('eu'), ('us')) rr (r), "
		"LATERAL (SELECT (50 + (h * 7 + k) %% 11)::bigint AS a, "
		"(CASE WHEN (h + k) %% 13 = 0 THEN 3 + k ELSE 0 END)::bigint AS f) x",
		T0, T0, (long long)((NOW - T0) / HOUR_MS - 1));
}

/* One row source read, as text to compare: per target, every SLI column of
 * sli_query for windows of 7, 30 and 90 days, and the outcome counts. */
static char *snapshot(PGconn *c)
{
	static const int64_t lens[] = { 7 * DAY_MS, 30 * DAY_MS, 90 * DAY_MS, 36 * HOUR_MS };
	static const char *const svc[] = { NULL, "shop", "bank" };
	struct strbuf b = { 0 };
	char err[512];
	for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) {
		struct sli_window w;
		sli_window(NOW, lens[i], 30 * DAY_MS, &w);
		for (size_t s = 0; s < 3; s++) {
			struct slo_selector sel = { .service = (char *)svc[s] };
			struct sli_values *v = NULL;
			size_t n = 0;
			cr_assert_eq(sli_query(c, &sel, &w, SLI_GROUP_TARGET, &v, &n, err, sizeof err), 0,
				     "%s", err);
			for (size_t k = 0; k < n; k++) {
				strbuf_printf(&b, "%zu %s %s a=%llu s=%llu f=%llu hs=%llu t=%llu m=%llu/%llu "
					      "o=%llu/%llu c=%llu sni=%llu exp=%.9g chain=%lld h=",
					      i, svc[s] ? svc[s] : "*", v[k].group,
					      (unsigned long long)v[k].attempts,
					      (unsigned long long)v[k].successes,
					      (unsigned long long)v[k].failures,
					      (unsigned long long)v[k].handshakes,
					      (unsigned long long)v[k].timed,
					      (unsigned long long)v[k].mtls_attempts,
					      (unsigned long long)v[k].mtls_failures,
					      (unsigned long long)v[k].ocsp_stapled,
					      (unsigned long long)v[k].ocsp_no_responder,
					      (unsigned long long)v[k].cipher_fallback,
					      (unsigned long long)v[k].sni_mismatch, v[k].min_days_to_expiry,
					      (long long)v[k].min_chain_not_after_ms);
				for (int j = 0; j < SLI_LATENCY_BUCKETS; j++)
					strbuf_printf(&b, "%llu,", (unsigned long long)v[k].hist[j]);
				strbuf_printf(&b, "\n");
			}
			sli_values_free(v, n);
		}
		/* outcomes, through the same row source (report_facts reads them so) */
		struct strbuf q = { 0 };
		strbuf_printf(&q, "SELECT string_agg(k || '=' || n, ' ' ORDER BY k) FROM (SELECT o.key AS k, "
				  "sum(o.value::bigint) AS n FROM ");
		sli_rows_sql(&q, &w, 1);
		strbuf_printf(&q, " r CROSS JOIN LATERAL jsonb_each_text(r.outcomes) o WHERE ");
		sli_window_cond(&q, &w);
		strbuf_printf(&q, " GROUP BY 1) x");
		cr_assert(!q.oom);
		char *o = q_str(c, "%s", q.p);
		strbuf_printf(&b, "%zu outcomes %s\n", i, o ? o : "-");
		free(o);
		free(q.p);
	}
	/* burn.c: several windows in one row source (5m .. 30d) */
	struct slo_config *cfg = cfg_of("slos:\n"
					"  - {name: shop, sli: availability, objective: 99.9, window: 30d, "
					"selector: {service: shop}}\n"
					"  - {name: lat, sli: latency, threshold_ms: 100, objective: 99, window: 7d}\n");
	struct burn_eval *be = NULL;
	cr_assert_eq(burn_evaluate(c, cfg, NOW, 30 * DAY_MS, &be, err, sizeof err), 0, "%s", err);
	for (size_t i = 0; i < be->nstatus; i++)
		for (size_t k = 0; k < be->nwin; k++)
			strbuf_printf(&b, "burn %s %lld %llu/%llu\n", be->status[i].slo->name,
				      (long long)be->window_ms[k],
				      (unsigned long long)be->status[i].win[k].bad,
				      (unsigned long long)be->status[i].win[k].events);
	burn_eval_free(be);
	slo_config_free(cfg);
	cr_assert(!b.oom);
	return b.p;
}

/* The same read from rollup_1h alone: ready_before NULL serves no day from
 * rollup_1d (rolled back, so nothing changes). */
static char *snapshot_1h(PGconn *c)
{
	exec_ok(c, "BEGIN");
	exec_ok(c, "UPDATE rollup_1d_state SET ready_before = NULL");
	char *s = snapshot(c);
	exec_ok(c, "ROLLBACK");
	return s;
}

/* Another session on c's database. */
static PGconn *conn_like(PGconn *c)
{
	char *ci = NULL;
	cr_assert(asprintf(&ci, "%s dbname=%s", env("TW_PG_CONNINFO"), PQdb(c)) > 0);
	PGconn *k = PQconnectdb(ci);
	free(ci);
	cr_assert(PQstatus(k) == CONNECTION_OK, "connect: %s", PQerrorMessage(k));
	return k;
}

static unsigned run_daily(PGconn *c)
{
	char err[512];
	unsigned days = 0;
	cr_assert_eq(rollup_daily_run(c, NOW, 1000, &days, err, sizeof err), 0, "%s", err);
	return days;
}

static void assert_same(PGconn *c, const char *when)
{
	char *ref = snapshot_1h(c), *got = snapshot(c);
	cr_assert(strlen(ref) > 1000, "%s: the reference read nothing: %s", when, ref);
	cr_assert_str_eq(got, ref, "%s: through rollup_1d:\n%s\nfrom rollup_1h alone:\n%s", when, got, ref);
	free(ref);
	free(got);
}

/* A late row in an aggregated day, the way the ingest writes it: an upsert
 * that adds to an existing hour (UPDATE) and one that creates an hour row
 * of a new series (INSERT). */
static void late_rows(PGconn *c, int day)
{
	exec_ok(c,
		"INSERT INTO rollup_1h AS r (bucket, target, port, sni, region, profile, service, "
		"attempts, successes, failures, outcomes, handshakes, handshake_ms_hist, "
		"handshake_ms_sum, handshake_ms_count, mtls_attempts, mtls_failures, ocsp_stapled_count, "
		"cipher_fallback_count, sni_mismatch_count, expiring_soon_count, min_days_to_expiry, "
		"min_chain_not_after, ocsp_no_responder_count) VALUES "
		"(to_timestamp(%lld / 1000.0), 'a.example', 443, '', 'eu', 'default', 'shop', 9, 2, 7, "
		"'{\"ok\": 2, \"handshake_failure\": 7}', 2, array_fill(0::bigint, ARRAY[19]) || 2::bigint, "
		"20, 2, 1, 1, 1, 1, 1, 0, 1.5, to_timestamp(%lld / 1000.0), 1), "
		"(to_timestamp(%lld / 1000.0), 'd.example', 443, '', 'us', 'default', 'shop', 4, 0, 4, "
		"'{\"timeout\": 4}', 0, array_fill(0::bigint, ARRAY[20]), 0, 0, 0, 0, 0, 0, 0, 0, NULL, "
		"NULL, 0) "
		"ON CONFLICT (bucket, target, port, sni, region, profile) DO UPDATE SET "
		"attempts = r.attempts + EXCLUDED.attempts, successes = r.successes + EXCLUDED.successes, "
		"failures = r.failures + EXCLUDED.failures, "
		"outcomes = tw_jsonb_count_add(r.outcomes, EXCLUDED.outcomes), "
		"handshakes = r.handshakes + EXCLUDED.handshakes, "
		"handshake_ms_hist = tw_int8_array_add(r.handshake_ms_hist, EXCLUDED.handshake_ms_hist), "
		"handshake_ms_count = r.handshake_ms_count + EXCLUDED.handshake_ms_count, "
		"mtls_attempts = r.mtls_attempts + EXCLUDED.mtls_attempts, "
		"mtls_failures = r.mtls_failures + EXCLUDED.mtls_failures, "
		"min_days_to_expiry = least(r.min_days_to_expiry, EXCLUDED.min_days_to_expiry), "
		"min_chain_not_after = least(r.min_chain_not_after, EXCLUDED.min_chain_not_after), "
		"ocsp_no_responder_count = r.ocsp_no_responder_count + EXCLUDED.ocsp_no_responder_count",
		T0 + day * DAY_MS + 5 * HOUR_MS, T0 + 3 * DAY_MS, T0 + day * DAY_MS + 7 * HOUR_MS);
}

Test(rollup_1d, windows_equal_rollup_1h_alone)
{
	PGconn *c = new_db("r1d_windows");
	fill(c);
	char *before = snapshot(c);      /* nothing aggregated yet: all from rollup_1h */

	/* every ended day (minus the grace), one step each, then nothing to do */
	cr_assert_eq(run_daily(c), NDAYS);
	cr_assert_eq(run_daily(c), 0);
	cr_assert_eq(q_int(c, "SELECT extract(epoch FROM ready_before)::bigint * 1000 FROM rollup_1d_state"),
		     T0 + NDAYS * DAY_MS);
	cr_assert_eq(q_int(c, "SELECT count(*) FROM rollup_1d"), NDAYS * 6);
	char *after = snapshot(c);
	cr_assert_str_eq(after, before);
	assert_same(c, "aggregated");

	/* the reads do use rollup_1d: a change there shows (rolled back) */
	exec_ok(c, "BEGIN");
	exec_ok(c, "UPDATE rollup_1d SET attempts = attempts + 1000 WHERE bucket = "
		   "to_timestamp(%lld / 1000.0) AND target = 'a.example' AND region = 'eu'",
		T0 + (NDAYS - 3) * DAY_MS);
	char *changed = snapshot(c);
	exec_ok(c, "ROLLBACK");
	cr_assert(strcmp(changed, before) != 0, "rollup_1d was not read");
	free(changed);

	/* the merge rules, column by column, against the hours of each day */
	cr_assert_eq(q_int(c,
			   "SELECT count(*) FROM rollup_1d d WHERE outcomes IS DISTINCT FROM (SELECT "
			   "jsonb_object_agg(k, n) FROM (SELECT e.key AS k, sum(e.value::bigint) AS n "
			   "FROM rollup_1h h, jsonb_each_text(h.outcomes) e WHERE h.bucket >= d.bucket "
			   "AND h.bucket < d.bucket + interval '24 hours' AND h.target = d.target AND "
			   "h.region = d.region GROUP BY 1) x) OR service IS DISTINCT FROM (SELECT service "
			   "FROM rollup_1h h WHERE h.bucket >= d.bucket AND h.bucket < d.bucket + interval "
			   "'24 hours' AND h.target = d.target AND h.region = d.region AND service IS NOT "
			   "NULL ORDER BY bucket DESC LIMIT 1) OR handshake_ms_sum <> (SELECT "
			   "sum(handshake_ms_sum) FROM rollup_1h h WHERE h.bucket >= d.bucket AND h.bucket < "
			   "d.bucket + interval '24 hours' AND h.target = d.target AND h.region = d.region) "
			   "OR expiring_soon_count <> (SELECT sum(expiring_soon_count) FROM rollup_1h h "
			   "WHERE h.bucket >= d.bucket AND h.bucket < d.bucket + interval '24 hours' AND "
			   "h.target = d.target AND h.region = d.region)"),
		     0);
	cr_assert_eq(q_int(c, "SELECT count(*) FROM rollup_1d WHERE target = 'c.example' AND "
			      "service = 'bank'"), 2 * (NDAYS - 50));
	free(before);
	free(after);
	PQfinish(c);
}

Test(rollup_1d, late_rows_in_an_aggregated_day)
{
	PGconn *c = new_db("r1d_late");
	fill(c);
	cr_assert_eq(run_daily(c), NDAYS);
	/* a spool replayed days later: day NDAYS - 2 (inside 7d, 30d, 90d) and
	 * day 20 (only 90d), plus the day at the edge of the 7-day window */
	late_rows(c, NDAYS - 2);
	late_rows(c, 20);
	late_rows(c, NDAYS - 7);
	cr_assert_eq(q_int(c, "SELECT count(DISTINCT day) FROM rollup_1d_dirty"), 3);
	assert_same(c, "late rows, not yet re-aggregated");
	/* today's rows mark nothing: the aggregator has not done today */
	late_rows(c, NDAYS);
	cr_assert_eq(q_int(c, "SELECT count(DISTINCT day) FROM rollup_1d_dirty"), 3);
	cr_assert_eq(run_daily(c), 3);
	cr_assert_eq(q_int(c, "SELECT count(DISTINCT day) FROM rollup_1d_dirty"), 0);
	cr_assert_eq(q_int(c, "SELECT count(*) FROM rollup_1d WHERE target = 'd.example'"), 3);
	assert_same(c, "late rows re-aggregated");
	PQfinish(c);
}

/* The aggregator's client dies (SIGKILL) inside a step's transaction: the
 * step is undone, the day stays dirty (read from rollup_1h) and the next
 * run redoes it. */
Test(rollup_1d, client_sigkilled_mid_step)
{
	PGconn *c = new_db("r1d_kill");
	fill(c);
	cr_assert_eq(run_daily(c), NDAYS);
	late_rows(c, NDAYS - 2);
	char *ci = NULL;
	cr_assert(asprintf(&ci, "%s dbname=r1d_kill", env("TW_PG_CONNINFO")) > 0);
	pid_t pid = fork();
	cr_assert(pid >= 0);
	if (pid == 0) {
		PGconn *k = PQconnectdb(ci);
		PGresult *r = PQexec(k, "BEGIN ISOLATION LEVEL REPEATABLE READ");
		PQclear(r);
		r = PQexec(k, "SELECT tw_rollup_1d_step()");
		int ok = PQresultStatus(r) == PGRES_TUPLES_OK && !PQgetisnull(r, 0, 0);
		PQclear(r);
		if (ok)
			raise(SIGKILL);     /* the day done, not committed */
		_exit(3);
	}
	int st = 0;
	cr_assert_eq(waitpid(pid, &st, 0), pid);
	cr_assert(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL, "the child did not reach its step");
	free(ci);
	assert_same(c, "after the SIGKILL");
	cr_assert_eq(q_int(c, "SELECT count(DISTINCT day) FROM rollup_1d_dirty"), 1);
	cr_assert_eq(run_daily(c), 1);   /* waits for the dead session's abort */
	cr_assert_eq(q_int(c, "SELECT count(DISTINCT day) FROM rollup_1d_dirty"), 0);
	assert_same(c, "redone after the SIGKILL");
	PQfinish(c);
}

/* A step whose backend is terminated while it rewrites a day (blocked on a
 * lock half way): nothing of it remains. */
Test(rollup_1d, backend_terminated_mid_step)
{
	PGconn *c = new_db("r1d_term");
	fill(c);
	cr_assert_eq(run_daily(c), NDAYS);
	late_rows(c, 30);
	PGconn *k = conn_like(c), *l = conn_like(c);
	long long kpid = PQbackendPID(k);
	exec_ok(l, "BEGIN");
	exec_ok(l, "LOCK TABLE rollup_1d IN SHARE MODE");
	exec_ok(k, "BEGIN ISOLATION LEVEL REPEATABLE READ");
	cr_assert_eq(PQsendQuery(k, "SELECT tw_rollup_1d_step()"), 1);
	/* until the step waits for rollup_1d (it has taken the advisory lock
	 * and read its day by then) */
	long long waiting = 0;
	for (int i = 0; i < 2000 && !waiting; i++) {
		waiting = q_int(c, "SELECT count(*) FROM pg_locks WHERE pid = %lld AND NOT granted", kpid);
		if (!waiting)
			usleep(5000);
	}
	cr_assert_eq(waiting, 1, "the step never blocked on rollup_1d");
	cr_assert_eq(q_int(c, "SELECT pg_terminate_backend(%lld)::int", kpid), 1);
	exec_ok(l, "ROLLBACK");
	PGresult *r;
	int failed = 0;
	while ((r = PQgetResult(k))) {
		failed |= PQresultStatus(r) != PGRES_TUPLES_OK;
		PQclear(r);
	}
	cr_assert(failed, "the terminated step returned a result");
	PQfinish(k);
	PQfinish(l);
	cr_assert_eq(q_int(c, "SELECT count(DISTINCT day) FROM rollup_1d_dirty"), 1);
	assert_same(c, "after the terminated step");
	cr_assert_eq(run_daily(c), 1);
	assert_same(c, "redone after the terminated step");
	PQfinish(c);
}

/* retention_policy 'rollup_1d' (default 400 days) */
Test(rollup_1d, retention)
{
	PGconn *c = new_db("r1d_ret");
	fill(c);
	cr_assert_eq(run_daily(c), NDAYS);
	cr_assert_eq(q_int(c, "SELECT days FROM retention_policy WHERE name = 'rollup_1d'"), 400);
	exec_ok(c, "UPDATE retention_policy SET days = 30 WHERE name = 'rollup_1d'");
	cr_assert_eq(run_daily(c), 0);
	/* rows older than NOW - 30 days went: days 71 .. 99 remain (day 70 began before the cut) */
	cr_assert_eq(q_int(c, "SELECT count(DISTINCT bucket) FROM rollup_1d"), 29);
	cr_assert_eq(q_int(c, "SELECT min(extract(epoch FROM bucket))::bigint * 1000 FROM rollup_1d"),
		     T0 + 71 * DAY_MS);
	PQfinish(c);
}

/* A late row committed while a step runs (after the step's snapshot): the
 * step recomputes the day without it and deletes only the dirty rows it
 * saw, so the day stays dirty (read from rollup_1h) until the next step. */
Test(rollup_1d, late_row_during_a_step)
{
	PGconn *c = new_db("r1d_during");
	fill(c);
	cr_assert_eq(run_daily(c), NDAYS);
	late_rows(c, NDAYS - 4);
	PGconn *k = conn_like(c);
	exec_ok(k, "BEGIN ISOLATION LEVEL REPEATABLE READ");
	cr_assert_eq(q_int(k, "SELECT count(*) FROM rollup_1d_dirty"), 2);   /* the snapshot */
	late_rows(c, NDAYS - 4);
	cr_assert_eq(q_int(k, "SELECT extract(epoch FROM tw_rollup_1d_step())::bigint * 1000"),
		     T0 + (NDAYS - 4) * DAY_MS);
	exec_ok(k, "COMMIT");
	PQfinish(k);
	cr_assert_eq(q_int(c, "SELECT count(DISTINCT day) FROM rollup_1d_dirty"), 1);
	assert_same(c, "a late row during the step");
	cr_assert_eq(run_daily(c), 1);
	cr_assert_eq(q_int(c, "SELECT count(*) FROM rollup_1d_dirty"), 0);
	assert_same(c, "redone after the step");
	PQfinish(c);
}
