/*
 * test_retention_spools.c - probe_spools (sql/008_spool_epoch.sql) has a
 * retention (sql/014_probe_spools_retention.sql): the partition maintenance every
 * collector runs hourly deletes the spool epochs inactive for longer than
 * the results retention, but never a probe's current (newest) epoch.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>
#include <libpq-fe.h>

#include "db.h"
#include "db_schema.h"
#include "proc.h"
#include "sql_migrations.h"

TestSuite(retention_spools, .timeout = 120);

static void sql(PGconn *c, const char *s)
{
	cr_assert_eq(tw_pg_exec(c, s), 0, "%s", s);
}

static const char *str(PGconn *c, const char *s)
{
	PGresult *r = PQexec(c, s);
	cr_assert(PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1, "%s: %s", s,
		  PQresultErrorMessage(r));
	const char *v = tw_fmt("%s", PQgetvalue(r, 0, 0));
	PQclear(r);
	return v;
}

/* One epoch of probe, last active `ago` (an SQL interval) before now. */
static void epoch(PGconn *c, const char *probe, const char *ep, const char *ago)
{
	sql(c, tw_fmt("INSERT INTO probe_spools (probe_id, spool_epoch, last_seq, first_seen, "
		      "last_seen) VALUES ('%s', '%s', 10, now() - interval '400 days', "
		      "now() - interval '%s')", probe, ep, ago));
}

Test(retention_spools, old_epochs_go_but_never_a_probes_current_one)
{
	PGconn *c = tw_pg(NULL);
	cr_assert(c, "run through tests/integration/test_retention_spools.sh");
	cr_assert_eq(tw_pg_exec(c, "CREATE DATABASE ret_spools"), 0);
	PQfinish(c);
	char err[512] = "";
	char *ci = NULL;
	cr_assert(asprintf(&ci, "%s dbname=ret_spools", getenv("TW_PG_CONNINFO")) > 0);
	cr_assert_eq(db_migrate(ci, err, sizeof err), (int)sql_migrations_count, "%s", err);
	c = tw_pg("ret_spools");
	cr_assert(c);

	/* p1 was redeployed twice without its volume: two dead epochs, one
	 * older than the retention (7 days), one younger, and the live one */
	epoch(c, "p1", "", "20 days");
	epoch(c, "p1", "aaaa", "8 days");
	epoch(c, "p1", "bbbb", "3 days");
	epoch(c, "p1", "cccc", "1 minute");
	/* p2 has been silent for longer than the retention: its only (current)
	 * epoch stays, so it is acked where it left off when it returns */
	epoch(c, "p2", "dddd", "30 days");
	/* p3: two epochs, both old - the newer one is its current one */
	epoch(c, "p3", "eeee", "40 days");
	epoch(c, "p3", "ffff", "20 days");

	int made = db_maintain_partitions(ci, 7, 2, err, sizeof err);
	cr_assert_geq(made, 1, "maintain: %d (%s)", made, err);
	cr_assert_str_eq(str(c, "SELECT string_agg(probe_id || '/' || spool_epoch, ',' "
			     "ORDER BY probe_id, spool_epoch) FROM probe_spools"),
			 "p1/bbbb,p1/cccc,p2/dddd,p3/ffff");

	/* the next run finds nothing more to drop among the spools */
	cr_assert_geq(db_maintain_partitions(ci, 7, 2, err, sizeof err), 0, "%s", err);
	cr_assert_str_eq(str(c, "SELECT count(*) FROM probe_spools"), "4");
	PQfinish(c);
	free(ci);
}
