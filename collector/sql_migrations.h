/* sql_migrations.h - the sql/NNN_name.sql files, embedded at build time by
 * scripts/embed-sql.py (build/gen/sql_migrations.c), in version order. */
#ifndef TW_SQL_MIGRATIONS_H
#define TW_SQL_MIGRATIONS_H
#include <stddef.h>

struct sql_migration {
	int version;
	const char *name;
	const char *sql;
};

extern const struct sql_migration sql_migrations[];
extern const size_t sql_migrations_count;

#endif
