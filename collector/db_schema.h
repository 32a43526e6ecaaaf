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

#endif
