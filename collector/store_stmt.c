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

json_t *store_stmt_items_json(const PGresult *res, unsigned limit, char *err, size_t errlen)
{
	int n = PQntuples(res);
	bool more = limit && n > (int)limit;
	if (more)
		n = (int)limit;
	json_t *items = json_array();
	if (!items)
		goto oom;
	for (int i = 0; i < n; i++) {
		json_t *j = store_stmt_row_json(res, i, 0, err, errlen);
		if (!j) {
			json_decref(items);
			return NULL;  /* err says which row */
		}
		if (json_array_append_new(items, j) < 0)
			goto oom;
	}
	if (!limit) {
		json_t *out = json_pack("{s:o}", "items", items);
		if (out)
			return out;
		items = NULL;
		goto oom;
	}
	struct strbuf cur = { 0 };
	if (more)
		strbuf_printf(&cur, "%s.%s", PQgetvalue(res, n - 1, 1), PQgetvalue(res, n - 1, 2));
	json_t *out = cur.oom ? NULL
			      : json_pack("{s:o, s:o}", "items", items, "next_cursor",
					  more ? json_string(cur.p) : json_null());
	free(cur.p);
	if (out)
		return out;
	items = NULL;
oom:
	json_decref(items);
	snprintf(err, errlen, "out of memory");
	return NULL;
}

int store_stmt_load(struct store_op *op, const struct store_stmt *st)
{
	if (store_stmt_failed(st))
		return -1;
	store_op_sql(op, st->sql.p);
	for (int i = 0; i < st->p.n; i++)
		if (store_op_param(op, st->p.v[i]) < 0)
			return -1;
	return 0;
}

static int stmt_step(struct store_op *op, PGresult *res)
{
	struct store_stmt_op *o = (struct store_stmt_op *)op;
	if (!res)
		return store_stmt_load(op, &o->st) < 0 ? store_op_oom(op) : 1;
	enum store_status status = STORE_ERROR;
	char err[256] = "";
	json_t *j = o->decode(o, res, &status, err, sizeof err);
	if (j)
		return store_op_finish(op, STORE_OK, j, "ok");
	return store_op_finish(op, status == STORE_OK ? STORE_ERROR : status, NULL, "%s",
			       err[0] ? err : "the database answered nothing usable");
}

static void stmt_free(struct store_op *op)
{
	struct store_stmt_op *o = (struct store_stmt_op *)op;
	if (o->cleanup)
		o->cleanup(o);
	store_stmt_free(&o->st);
}

void *store_stmt_op_new(size_t size)
{
	return store_op_new(size < sizeof(struct store_stmt_op) ? sizeof(struct store_stmt_op) : size);
}

void store_stmt_op_start(struct store *s, struct store_stmt_op *o, store_cb cb, void *arg)
{
	o->op.step = stmt_step;
	o->op.free = stmt_free;
	store_op_start(s, &o->op, cb, arg);
}
