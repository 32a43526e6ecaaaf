/*
 * db_schema.h - the schema's blocking side (db_schema.c): migrations, the
 * retention policy and partition upkeep, for `tlswatch-collector migrate`
 * and tests. db_migrate() and db_maintain_partitions() are declared in db.h
 * (the pool repeats the maintenance hourly on its own connections).
 *
 * Advisory locks (pg_advisory_lock(int4, int4), class 'twms'): one key per
 * job so that no job waits for another one it has nothing to do with:
 *   1  tw_maintain_partitions()  transaction-level try-lock (sql/)
 *   2  the evaluator leader      session-level, held for the whole session
 *                                (EVALUATOR_LOCK_KEY, evaluator.h)
 *   3  migrations                session-level while db_migrate() runs
 */
#ifndef TW_DB_SCHEMA_H
#define TW_DB_SCHEMA_H

#define DB_SCHEMA_LOCK_CLASS       1953985907   /* 'twms' */
#define DB_SCHEMA_MIGRATE_LOCK_KEY 3

#include <stddef.h>

/*
 * How many days each growing table keeps (sql/005_retention.sql). results is
 * what the caller of tw_maintain_partitions() passes (day partitions and
 * results_default); the others are stored in the retention_policy table by
 * db_schema_store_retention() (`migrate`) and applied by tw_maintain_partitions()
 * wherever it runs (the pool, hourly; migrate). 0 = the default.
 */
struct db_schema_retention {
	unsigned results;               /* 30: results day partitions, results_default */
	unsigned rollup_1m;             /* 30: rollup_1m day partitions */
	unsigned rollup_1h;             /* 400 */
	unsigned alert_events;          /* 180: events; resolved alerts with no outbox left */
	unsigned notifications;         /* 30: finished outbox rows, deliveries, attempts */
	unsigned evaluation_runs;       /* 30 */
	unsigned certificate_sightings; /* 400: sightings not seen since; unsighted certificates */
};
#define DB_SCHEMA_RETENTION_MAX_DAYS 3650

/* Fills the defaults above into r's zero fields. */
void db_schema_retention_defaults(struct db_schema_retention *r);

/* Blocking: stores r (every table but results) in retention_policy, so that
 * every collector's partition maintenance applies it. 0, or -1 with err. */
int db_schema_store_retention(const char *conninfo, const struct db_schema_retention *r,
			      char *err, size_t errlen);

#endif
