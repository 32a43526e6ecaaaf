/*
 * store_stmt.c - see store_stmt.h.
 */
#include "store_stmt.h"

#include <stdio.h>
#include <stdlib.h>

void store_stmt_param(struct store_stmt *s, const char *v)
{
	int k = sli_params_add(&s->p, v);
	if (k > 0)
		strbuf_printf(&s->sql, "$%d", k);
}

bool store_stmt_failed(const struct store_stmt *s)
{
	return s->sql.oom || s->p.oom || !s->sql.p;
}

void store_stmt_free(struct store_stmt *s)
{
	free(s->sql.p);
	s->sql.p = NULL;
	s->sql.len = s->sql.cap = 0;
	s->sql.oom = false;
	sli_params_free(&s->p);
	s->p.oom = false;
}

json_t *store_stmt_row_json(const PGresult *res, int i, int col, char *err, size_t errlen)
{
	json_error_t je;
	json_t *j = json_loads(PQgetvalue(res, i, col), JSON_DECODE_ANY, &je);
	if (!j)
		snprintf(err, errlen, "row %d: bad JSON from the database: %s", i, je.text);
	return j;
}
