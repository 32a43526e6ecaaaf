/*
 * store_firing.c - the firing alerts (see store_firing.h).
 */
#include "store_firing.h"

#include <stdlib.h>
#include <string.h>

/* a value that is not a finite number is null (JSON has no NaN) */
static const char FIRING_SQL[] =
	"SELECT json_build_object('id', id, 'dedup_key', dedup_key, 'rule', rule,"
	" 'severity', severity, 'state', state, 'subject', subject, 'service', service,"
	" 'region_group', region_group, 'target', target, 'labels', labels, 'summary', summary,"
	" 'details', details, 'value', CASE WHEN value IN ('NaN', 'Infinity', '-Infinity')"
	" THEN NULL ELSE value END,"
	" 'created_at', " STORE_ISO("created_at") ", 'pending_since', " STORE_ISO("pending_since") ","
	" 'firing_since', " STORE_ISO("firing_since") ", 'resolved_at', " STORE_ISO("resolved_at") ","
	" 'last_eval_at', " STORE_ISO("last_eval_at") ")"
	" FROM alerts WHERE state = 'firing' AND ($1::text IS NULL OR service = $1)"
	" ORDER BY severity = 'page' DESC, firing_since DESC, id DESC LIMIT 1000";

struct firing_op {
	struct store_op op;
	char *service;
};

static void firing_free(struct store_op *op)
{
	free(((struct firing_op *)op)->service);
}

static int firing_step(struct store_op *op, PGresult *res)
{
	struct firing_op *f = (struct firing_op *)op;
	if (!res) {
		store_op_sql(op, FIRING_SQL);
		return store_op_param(op, f->service) < 0 ? store_op_oom(op) : 1;
	}
	json_t *items = json_array();
	if (!items || store_append_rows(items, res, 0) < 0) {
		json_decref(items);
		return store_op_finish(op, STORE_ERROR, NULL, "undecodable row");
	}
	return store_op_finish(op, STORE_OK,
			       json_pack("{s:o, s:n}", "items", items, "next_cursor"), NULL);
}

void store_firing(struct store *s, const char *service, store_cb cb, void *arg)
{
	struct firing_op *f = store_op_new(sizeof *f);
	if (f) {
		f->op.step = firing_step;
		f->op.free = firing_free;
		f->service = service ? strdup(service) : NULL;
	}
	if (!f || (service && !f->service)) {
		free(f);
		struct store_answer a = { .status = STORE_ERROR, .err = "out of memory" };
		cb(arg, &a);
		return;
	}
	store_op_start(s, &f->op, cb, arg);
}
