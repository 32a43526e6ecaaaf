/*
 * db_schema.c - the blocking side of storage (db_schema.h): db_migrate() for
 * `tlswatch-collector migrate` (and tests), db_schema_store_retention() and
 * db_maintain_partitions() (sql/005_retention.sql: partitions and every
 * table's retention). Each opens its own short-lived connection; none runs
 * on the loop.
 */
#include "db.h"
#include "db_int.h"
#include "db_schema.h"
#include "log.h"
#include "pgconn.h"
#include "sql_migrations.h"
#include "strbuf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* pg_advisory_lock(key1, key2) serialising migrations of every collector:
 * its own key (db_schema.h), never the evaluator's, which a leader holds for
 * its whole session. */
#define STR_(x) #x
#define STR(x) STR_(x)
#define MIGRATE_LOCK STR(DB_SCHEMA_LOCK_CLASS) ", " STR(DB_SCHEMA_MIGRATE_LOCK_KEY)

/* How long a migrate waits for another one (all of whose migrations run in
 * well under a minute) before it gives up, unless the conninfo sets its own
 * lock_timeout (options='-c lock_timeout=...'). */
#define MIGRATE_LOCK_TIMEOUT "60s"

static PGconn *connect_blocking(const char *conninfo, char *err, size_t errlen)
{
	char why[512];
	PGconn *c = pgconn_connect_blocking(conninfo, "tlswatch-collector", why, sizeof why);
	if (!c)
		snprintf(err, errlen, "connect: %s", why); /* libpq's message: never the password */
	return c;
}

/* Runs sql; 0 when it succeeded, -1 with err set. */
static int exec_ok(PGconn *c, const char *sql, const char *what, char *err, size_t errlen)
{
	PGresult *r = PQexec(c, sql);
	ExecStatusType st = PQresultStatus(r);
	int rc = 0;
	if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
		snprintf(err, errlen, "%s: %s", what, PQresultErrorMessage(r));
		err[strcspn(err, "\n")] = '\0';
		rc = -1;
	}
	PQclear(r);
	return rc;
}

int db_migrate(const char *conninfo, char *err, size_t errlen)
{
	int applied = -1;
	bool *have = NULL;
	int maxv = 0;
	bool locked = false;
	PGconn *c = connect_blocking(conninfo, err, errlen);
	if (!c)
		return -1;
	for (size_t i = 0; i < sql_migrations_count; i++)
		if (sql_migrations[i].version > maxv)
			maxv = sql_migrations[i].version;
	have = calloc((size_t)maxv + 1, sizeof *have);
	if (!have) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	/* Two collectors migrating at once: the second waits here, then finds
	 * everything applied. The lock is released by the unlock below or when
	 * the session ends. The wait is bounded: a migration lock held for
	 * longer than lock_timeout is a stuck session an operator must see. */
	if (exec_ok(c, "SET client_min_messages = warning", "set", err, errlen) ||
	    exec_ok(c, "SELECT CASE WHEN current_setting('lock_timeout') IN ('0', '0ms') THEN "
		       "set_config('lock_timeout', '" MIGRATE_LOCK_TIMEOUT "', false) END",
		    "set lock_timeout", err, errlen))
		goto out;
	PGresult *lr = PQexec(c, "SELECT pg_advisory_lock(" MIGRATE_LOCK ")");
	if (PQresultStatus(lr) != PGRES_TUPLES_OK) {
		const char *state = PQresultErrorField(lr, PG_DIAG_SQLSTATE);
		if (state && !strcmp(state, "55P03"))       /* lock_not_available */
			snprintf(err, errlen, "another `tlswatch-collector migrate` holds the migration "
				 "lock and did not finish within lock_timeout (" MIGRATE_LOCK_TIMEOUT " unless "
				 "the conninfo sets it); run migrate again once it has finished, or "
				 "end the session pg_locks shows holding it (locktype advisory, "
				 "classid %d, objid %d)", DB_SCHEMA_LOCK_CLASS, DB_SCHEMA_MIGRATE_LOCK_KEY);
		else
			snprintf(err, errlen, "advisory lock: %s", PQresultErrorMessage(lr));
		err[strcspn(err, "\n")] = '\0';
		PQclear(lr);
		goto out;
	}
	PQclear(lr);
	locked = true;
	if (exec_ok(c, "RESET lock_timeout", "reset lock_timeout", err, errlen) ||
	    exec_ok(c, "CREATE TABLE IF NOT EXISTS schema_migrations ("
		       "version integer PRIMARY KEY, name text NOT NULL, "
		       "applied_at timestamptz NOT NULL DEFAULT now())",
		    "create schema_migrations", err, errlen))
		goto out;

	PGresult *r = PQexec(c, "SELECT version FROM schema_migrations");
	if (PQresultStatus(r) != PGRES_TUPLES_OK) {
		snprintf(err, errlen, "read schema_migrations: %s", PQresultErrorMessage(r));
		err[strcspn(err, "\n")] = '\0';
		PQclear(r);
		goto out;
	}
	int newest = 0;
	for (int i = 0; i < PQntuples(r); i++) {
		long v = strtol(PQgetvalue(r, i, 0), NULL, 10);
		if (v > newest)
			newest = (int)v;
		if (v >= 0 && v <= maxv)
			have[v] = true;
	}
	PQclear(r);
	if (newest > maxv)
		log_warn("db: schema version %d is newer than this binary's %d; leaving it", newest, maxv);

	int n = 0;
	for (size_t i = 0; i < sql_migrations_count; i++) {
		const struct sql_migration *m = &sql_migrations[i];
		if (have[m->version])
			continue;
		char what[128];
		snprintf(what, sizeof what, "migration %03d_%s", m->version, m->name);
		if (exec_ok(c, "BEGIN", what, err, errlen))
			goto out;
		if (exec_ok(c, m->sql, what, err, errlen)) {
			PQclear(PQexec(c, "ROLLBACK"));
			goto out;
		}
		char vbuf[16];
		snprintf(vbuf, sizeof vbuf, "%d", m->version);
		const char *pv[2] = { vbuf, m->name };
		r = PQexecParams(c, "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)", 2,
				 NULL, pv, NULL, NULL, 0);
		if (PQresultStatus(r) != PGRES_COMMAND_OK) {
			snprintf(err, errlen, "%s: record: %s", what, PQresultErrorMessage(r));
			err[strcspn(err, "\n")] = '\0';
			PQclear(r);
			PQclear(PQexec(c, "ROLLBACK"));
			goto out;
		}
		PQclear(r);
		if (exec_ok(c, "COMMIT", what, err, errlen))
			goto out;
		log_info("db: applied %s", what);
		n++;
	}
	applied = n;
out:
	if (locked && PQstatus(c) == CONNECTION_OK)
		PQclear(PQexec(c, "SELECT pg_advisory_unlock(" MIGRATE_LOCK ")"));
	PQfinish(c);
	free(have);
	return applied;
}

int db_maintain_partitions(const char *conninfo, unsigned retention_days, unsigned ahead_days,
			   char *err, size_t errlen)
{
	if (retention_days == 0)
		retention_days = 30;
	if (ahead_days == 0)
		ahead_days = 3;
	if (retention_days > 100000 || ahead_days > 100000) {
		snprintf(err, errlen, "retention or ahead days out of range");
		return -1;
	}
	PGconn *c = connect_blocking(conninfo, err, errlen);
	if (!c)
		return -1;
	char rbuf[16], abuf[16];
	snprintf(rbuf, sizeof rbuf, "%u", retention_days);
	snprintf(abuf, sizeof abuf, "%u", ahead_days);
	/* two statements, each its own transaction (sql/020_rollup_1m_builder.sql:
	 * one holding rollup_1m's parent while waiting for results' deadlocked
	 * with readers) */
	static const char *const sql[2] = {
		"SELECT action, partition_name, detail FROM tw_maintain_minute_partitions($2::integer) "
		"WHERE $1::integer IS NOT NULL",
		"SELECT action, partition_name, detail FROM tw_maintain_partitions($1::integer, $2::integer)",
	};
	const char *pv[2] = { rbuf, abuf };
	int n = 0;
	for (int k = 0; k < 2 && n >= 0; k++) {
		PGresult *r = PQexecParams(c, sql[k], 2, NULL, pv, NULL, NULL, 0);
		if (PQresultStatus(r) != PGRES_TUPLES_OK) {
			snprintf(err, errlen, "maintain partitions: %s", PQresultErrorMessage(r));
			err[strcspn(err, "\n")] = '\0';
			n = -1;
		} else {
			for (int i = 0; i < PQntuples(r); i++) {
				const char *a = PQgetvalue(r, i, 0);
				if (strcmp(a, "created") == 0 || strcmp(a, "dropped") == 0) {
					n++;
					log_info("db: %s %s: %s", PQgetvalue(r, i, 1), a,
						 PQgetvalue(r, i, 2));
				} else {
					log_warn("db: partition %s %s: %s", PQgetvalue(r, i, 1), a,
						 PQgetvalue(r, i, 2));
				}
			}
		}
		PQclear(r);
	}
	PQfinish(c);
	return n;
}

/* ---- retention policy (sql/005_retention.sql) ---- */

void db_schema_retention_defaults(struct db_schema_retention *r)
{
	if (!r->results)
		r->results = 30;
	if (!r->rollup_1m)
		r->rollup_1m = 30;
	if (!r->rollup_1h)
		r->rollup_1h = 400;
	if (!r->alert_events)
		r->alert_events = 180;
	if (!r->notifications)
		r->notifications = 30;
	if (!r->evaluation_runs)
		r->evaluation_runs = 30;
	if (!r->certificate_sightings)
		r->certificate_sightings = 400;
}

int db_schema_store_retention(const char *conninfo, const struct db_schema_retention *in,
			      char *err, size_t errlen)
{
	struct db_schema_retention r = *in;
	db_schema_retention_defaults(&r);
	const struct {
		const char *name;
		unsigned days;
	} rows[] = {
		{ "rollup_1m", r.rollup_1m }, { "rollup_1h", r.rollup_1h },
		{ "alert_events", r.alert_events }, { "notifications", r.notifications },
		{ "evaluation_runs", r.evaluation_runs },
		{ "certificate_sightings", r.certificate_sightings },
	};
	struct strbuf nb = { 0 }, db = { 0 };
	for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
		if (rows[i].days < 1 || rows[i].days > DB_SCHEMA_RETENTION_MAX_DAYS) {
			snprintf(err, errlen, "retention.%s: %u days is out of range (1-%u)",
				 rows[i].name, rows[i].days, DB_SCHEMA_RETENTION_MAX_DAYS);
			strbuf_free(&nb);
			strbuf_free(&db);
			return -1;
		}
		strbuf_printf(&nb, "%s%s", i ? "," : "{", rows[i].name);
		strbuf_printf(&db, "%s%u", i ? "," : "{", rows[i].days);
	}
	strbuf_putc(&nb, '}');
	strbuf_putc(&db, '}');
	char *names = strbuf_take(&nb), *days = strbuf_take(&db);
	strbuf_free(&nb);
	strbuf_free(&db);
	if (!names || !days) {
		free(names);
		free(days);
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	PGconn *c = connect_blocking(conninfo, err, errlen);
	if (!c) {
		free(names);
		free(days);
		return -1;
	}
	const char *pv[2] = { names, days };
	PGresult *res = PQexecParams(c,
		"INSERT INTO retention_policy AS p (name, days) "
		"SELECT * FROM unnest($1::text[], $2::integer[]) "
		"ON CONFLICT (name) DO UPDATE SET days = EXCLUDED.days, updated_at = now() "
		"WHERE p.days <> EXCLUDED.days", 2, NULL, pv, NULL, NULL, 0);
	int rc = 0;
	if (PQresultStatus(res) != PGRES_COMMAND_OK) {
		snprintf(err, errlen, "store retention policy: %s", PQresultErrorMessage(res));
		err[strcspn(err, "\n")] = '\0';
		rc = -1;
	}
	PQclear(res);
	PQfinish(c);
	free(names);
	free(days);
	return rc;
}
