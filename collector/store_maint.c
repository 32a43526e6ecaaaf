/*
 * store_maint.c - maintenance windows for the API (see store_maint.h).
 */
#include "store_maint.h"
#include "twtime.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

/* The Maintenance object of maintenance_windows m; $1 is now. */
#define WINDOW_JSON \
	"json_build_object('id', m.id, 'starts_at', " STORE_TS("m.starts_at") ", " \
	"'ends_at', " STORE_TS("m.ends_at") ", 'service', m.service, 'target', m.target, " \
	"'region', m.region, 'labels', m.labels, 'reason', m.reason, 'created_by', m.created_by, " \
	"'created_at', " STORE_TS("m.created_at") ", " \
	"'active', m.starts_at <= $1::timestamptz AND m.ends_at > $1::timestamptz)::text"

void store_maint_list_stmt(int64_t now_ms, bool all, struct store_stmt *st)
{
	char now[48];
	strbuf_puts(&st->sql, "SELECT " WINDOW_JSON " FROM maintenance_windows m WHERE ");
	sli_params_add(&st->p, twtime_rfc3339_ms(now_ms, now, sizeof now));
	store_stmt_param(st, all ? "true" : "false");
	strbuf_puts(&st->sql, "::boolean OR m.ends_at > $1::timestamptz ORDER BY m.starts_at, m.id");
}

json_t *store_maint_list_json(const PGresult *res, char *err, size_t errlen)
{
	return store_stmt_items_json(res, 0, err, errlen);
}

void store_maint_create_stmt(int64_t now_ms, const struct maint_window *w, struct store_stmt *st)
{
	char now[48], s[48], e[48];
	char *labels = w->labels ? json_dumps(w->labels, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
	if (w->labels && !labels) {
		st->p.oom = true;
		return;
	}
	strbuf_puts(&st->sql, "WITH m AS (INSERT INTO maintenance_windows (starts_at, ends_at, "
			      "service, target, region, labels, reason, created_by) VALUES (");
	sli_params_add(&st->p, twtime_rfc3339_ms(now_ms, now, sizeof now));   /* $1 */
	store_stmt_param(st, twtime_rfc3339_ms(w->starts_ms, s, sizeof s));
	strbuf_puts(&st->sql, "::timestamptz, ");
	store_stmt_param(st, twtime_rfc3339_ms(w->ends_ms, e, sizeof e));
	strbuf_puts(&st->sql, "::timestamptz, ");
	store_stmt_param(st, w->service);
	strbuf_puts(&st->sql, ", ");
	store_stmt_param(st, w->target);
	strbuf_puts(&st->sql, ", ");
	store_stmt_param(st, w->region);
	strbuf_puts(&st->sql, ", coalesce(");
	store_stmt_param(st, labels);
	strbuf_puts(&st->sql, "::jsonb, '{}'::jsonb), ");
	store_stmt_param(st, w->reason ? w->reason : "");
	strbuf_puts(&st->sql, ", ");
	store_stmt_param(st, w->created_by);
	strbuf_puts(&st->sql, ") RETURNING *) SELECT " WINDOW_JSON ", m.id FROM m");
	free(labels);
}

json_t *store_maint_created_json(const PGresult *res, char *err, size_t errlen)
{
	if (PQntuples(res) != 1) {
		snprintf(err, errlen, "the insert returned %d rows", PQntuples(res));
		return NULL;
	}
	return store_stmt_row_json(res, 0, 0, err, errlen);
}

void store_maint_delete_stmt(int64_t id, struct store_stmt *st)
{
	char buf[32];
	snprintf(buf, sizeof buf, "%" PRId64, id);
	strbuf_puts(&st->sql, "DELETE FROM maintenance_windows WHERE id = ");
	store_stmt_param(st, buf);
	strbuf_puts(&st->sql, "::bigint RETURNING id");
}

struct maint_op {
	struct store_stmt_op so;
	int64_t id;
};

static json_t *list_decode(struct store_stmt_op *o, PGresult *res, enum store_status *status,
			   char *err, size_t errlen)
{
	(void)o;
	*status = STORE_ERROR;
	return store_maint_list_json(res, err, errlen);
}

static json_t *created_decode(struct store_stmt_op *o, PGresult *res, enum store_status *status,
			      char *err, size_t errlen)
{
	(void)o;
	*status = STORE_ERROR;
	return store_maint_created_json(res, err, errlen);
}

static json_t *deleted_decode(struct store_stmt_op *o, PGresult *res, enum store_status *status,
			      char *err, size_t errlen)
{
	int64_t id = ((struct maint_op *)o)->id;
	if (PQntuples(res) == 0) {
		*status = STORE_NOT_FOUND;
		snprintf(err, errlen, "no maintenance window %" PRId64, id);
		return NULL;
	}
	*status = STORE_ERROR;
	json_t *j = json_pack("{s:I}", "id", (json_int_t)id);
	if (!j)
		snprintf(err, errlen, "out of memory");
	return j;
}

static struct maint_op *new_op(store_cb cb, void *arg)
{
	struct maint_op *x = store_stmt_op_new(sizeof *x);
	if (!x) {
		struct store_answer a = { .status = STORE_ERROR, .err = "out of memory" };
		cb(arg, &a);
	}
	return x;
}

void store_maint_list_start(struct store *s, int64_t now_ms, bool all, store_cb cb, void *arg)
{
	struct maint_op *x = new_op(cb, arg);
	if (!x)
		return;
	x->so.decode = list_decode;
	store_maint_list_stmt(now_ms, all, &x->so.st);
	store_stmt_op_start(s, &x->so, cb, arg);
}

void store_maint_create_start(struct store *s, int64_t now_ms, const struct maint_window *w,
			      store_cb cb, void *arg)
{
	struct maint_op *x = new_op(cb, arg);
	if (!x)
		return;
	x->so.decode = created_decode;
	store_maint_create_stmt(now_ms, w, &x->so.st);
	store_stmt_op_start(s, &x->so, cb, arg);
}

void store_maint_delete_start(struct store *s, int64_t id, store_cb cb, void *arg)
{
	struct maint_op *x = new_op(cb, arg);
	if (!x)
		return;
	x->id = id;
	x->so.decode = deleted_decode;
	store_maint_delete_stmt(id, &x->so.st);
	store_stmt_op_start(s, &x->so, cb, arg);
}
