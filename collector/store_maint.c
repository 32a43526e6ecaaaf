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
	json_t *items = json_array();
	for (int i = 0; items && i < PQntuples(res); i++) {
		json_t *j = store_stmt_row_json(res, i, 0, err, errlen);
		if (!j) {
			json_decref(items);
			return NULL;
		}
		if (json_array_append_new(items, j) < 0) {
			json_decref(items);
			items = NULL;
		}
	}
	json_t *out = items ? json_pack("{s:o}", "items", items) : NULL;
	if (!out)
		snprintf(err, errlen, "out of memory");
	return out;
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
