/*
 * store_alerts.c - alerts, their events and deliveries for the API (see
 * store_alerts.h).
 */
#include "store_alerts.h"
#include "twtime.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The last state change of alerts a. */
#define CHANGE "coalesce(a.resolved_at, a.firing_since, a.pending_since)"

/* The Alert object of alerts a (the fields of AlertDetail minus history). */
#define ALERT_FIELDS \
	"'id', a.id, 'dedup_key', a.dedup_key, 'rule', a.rule, 'severity', a.severity, " \
	"'state', a.state, 'subject', a.subject, 'service', a.service, " \
	"'region_group', a.region_group, 'target', a.target, 'labels', a.labels, " \
	"'summary', a.summary, 'details', a.details, 'value', a.value, " \
	"'created_at', " STORE_TS("a.created_at") ", 'pending_since', " STORE_TS("a.pending_since") \
	", 'firing_since', " STORE_TS("a.firing_since") ", 'resolved_at', " \
	STORE_TS("a.resolved_at") ", 'last_eval_at', " STORE_TS("a.last_eval_at")

int store_alerts_cursor_parse(const char *s, int64_t *us, int64_t *id)
{
	char *e;
	errno = 0;
	long long a = strtoll(s, &e, 10);
	if (e == s || *e != '.' || errno)
		return -1;
	const char *b = e + 1;
	long long i = strtoll(b, &e, 10);
	if (e == b || *e || errno || i < 1)
		return -1;
	*us = a;
	*id = i;
	return 0;
}

void store_alerts_list_stmt(const struct store_alerts_req *rq, struct store_stmt *st)
{
	char buf[48];
	struct strbuf *b = &st->sql;
	strbuf_puts(b, "SELECT json_build_object(" ALERT_FIELDS ")::text, "
		       "(extract(epoch FROM " CHANGE ") * 1000000)::bigint, a.id "
		       "FROM alerts a WHERE true");
	if (rq->state) {
		strbuf_puts(b, " AND a.state = ");
		store_stmt_param(st, rq->state);
	}
	if (rq->have_since) {
		strbuf_puts(b, " AND " CHANGE " >= ");
		store_stmt_param(st, twtime_rfc3339_ms(rq->since_ms, buf, sizeof buf));
		strbuf_puts(b, "::timestamptz");
	}
	if (rq->service) {
		strbuf_puts(b, " AND a.service = ");
		store_stmt_param(st, rq->service);
	}
	if (rq->region) {
		strbuf_puts(b, " AND a.region_group = ");
		store_stmt_param(st, rq->region);
	}
	if (rq->have_cursor) {
		/* (change, id) < cursor, in microseconds: what the cursor was made from */
		strbuf_puts(b, " AND ((extract(epoch FROM " CHANGE ") * 1000000)::bigint, a.id) < (");
		snprintf(buf, sizeof buf, "%" PRId64, rq->cursor_us);
		store_stmt_param(st, buf);
		strbuf_puts(b, "::bigint, ");
		snprintf(buf, sizeof buf, "%" PRId64, rq->cursor_id);
		store_stmt_param(st, buf);
		strbuf_puts(b, "::bigint)");
	}
	/* one row more than the page: whether there is a next one */
	strbuf_printf(b, " ORDER BY 2 DESC, a.id DESC LIMIT %u", rq->limit + 1);
}

json_t *store_alerts_list_json(const struct store_alerts_req *rq, const PGresult *res, char *err,
			       size_t errlen)
{
	return store_stmt_items_json(res, rq->limit, err, errlen);
}

void store_alerts_get_stmt(int64_t id, struct store_stmt *st)
{
	char buf[32];
	snprintf(buf, sizeof buf, "%" PRId64, id);
	strbuf_puts(&st->sql,
		    "SELECT json_build_object(" ALERT_FIELDS ", "
		    "'events', (SELECT coalesce(json_agg(json_build_object('id', e.id, "
		    "'at', " STORE_TS("e.at") ", 'from_state', e.from_state, 'to_state', e.to_state, "
		    "'suppressed', e.suppressed, 'details', e.details) ORDER BY e.at, e.id), '[]') "
		    "FROM alert_events e WHERE e.alert_id = a.id), "
		    "'deliveries', (SELECT coalesce(json_agg(json_build_object('id', d.id, "
		    "'outbox_id', d.outbox_id, 'event_id', o.event_id, 'action', o.action, 'sink', d.sink, "
		    "'state', d.state, 'attempts', d.attempts, 'last_status', d.last_status, "
		    "'last_error', d.last_error, 'created_at', " STORE_TS("d.created_at") ", "
		    "'next_attempt_at', " STORE_TS("d.next_attempt_at") ", "
		    "'delivered_at', " STORE_TS("d.delivered_at") ") ORDER BY d.created_at, d.id), '[]') "
		    "FROM notification_outbox o JOIN notification_deliveries d ON d.outbox_id = o.id "
		    "WHERE o.alert_id = a.id))::text FROM alerts a WHERE a.id = ");
	store_stmt_param(st, buf);
	strbuf_puts(&st->sql, "::bigint");
}

json_t *store_alerts_get_json(const PGresult *res, bool *found, char *err, size_t errlen)
{
	*found = PQntuples(res) > 0;
	if (!*found)
		return NULL;
	return store_stmt_row_json(res, 0, 0, err, errlen);
}

struct alerts_op {
	struct store_stmt_op so;
	unsigned limit;
	int64_t id;
};

static json_t *list_decode(struct store_stmt_op *o, PGresult *res, enum store_status *status,
			   char *err, size_t errlen)
{
	struct store_alerts_req rq = { .limit = ((struct alerts_op *)o)->limit };
	*status = STORE_ERROR;
	return store_alerts_list_json(&rq, res, err, errlen);
}

static json_t *get_decode(struct store_stmt_op *o, PGresult *res, enum store_status *status,
			  char *err, size_t errlen)
{
	bool found;
	json_t *j = store_alerts_get_json(res, &found, err, errlen);
	*status = STORE_ERROR;
	if (!found) {
		*status = STORE_NOT_FOUND;
		snprintf(err, errlen, "no alert %" PRId64, ((struct alerts_op *)o)->id);
	}
	return j;
}

static struct alerts_op *new_op(store_cb cb, void *arg)
{
	struct alerts_op *x = store_stmt_op_new(sizeof *x);
	if (!x) {
		struct store_answer a = { .status = STORE_ERROR, .err = "out of memory" };
		cb(arg, &a);
	}
	return x;
}

void store_alerts_list_start(struct store *s, const struct store_alerts_req *rq, store_cb cb,
			     void *arg)
{
	struct alerts_op *x = new_op(cb, arg);
	if (!x)
		return;
	x->limit = rq->limit;
	x->so.decode = list_decode;
	store_alerts_list_stmt(rq, &x->so.st);
	store_stmt_op_start(s, &x->so, cb, arg);
}

void store_alerts_get_start(struct store *s, int64_t id, store_cb cb, void *arg)
{
	struct alerts_op *x = new_op(cb, arg);
	if (!x)
		return;
	x->id = id;
	x->so.decode = get_decode;
	store_alerts_get_stmt(id, &x->so.st);
	store_stmt_op_start(s, &x->so, cb, arg);
}
