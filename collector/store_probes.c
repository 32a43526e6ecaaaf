/*
 * store_probes.c - the probes for the API (see store_probes.h).
 */
#include "store_probes.h"
#include "rules_probe.h"
#include "twtime.h"

#include <stdio.h>

void store_probes_stmt(int64_t now_ms, unsigned intervals, struct store_stmt *st)
{
	char now[48], iv[24], def[24];
	snprintf(iv, sizeof iv, "%u", intervals ? intervals : 1);
	snprintf(def, sizeof def, "%lld", (long long)RULES_DEFAULT_INTERVAL_MS);
	strbuf_puts(&st->sql,
		    "SELECT json_build_object('probe_id', p.probe_id, 'region', p.region, "
		    "'version', p.version, 'first_seen', " STORE_TS("p.first_seen") ", "
		    "'last_seen', " STORE_TS("p.last_seen") ", 'last_seq', p.last_seq, "
		    "'clock_offset_ms', p.clock_offset_ms, 'spool_records', p.spool_records, "
		    "'spool_bytes', p.spool_bytes, 'dropped', p.dropped_total, "
		    "'overdue', p.overdue_total, 'dropped_at', " STORE_TS("p.dropped_at") ", "
		    "'silent', p.last_seen < ");
	store_stmt_param(st, twtime_rfc3339_ms(now_ms, now, sizeof now));
	strbuf_puts(&st->sql, "::timestamptz - ");
	store_stmt_param(st, iv);
	strbuf_puts(&st->sql, "::bigint * iv.ms * interval '1 millisecond')::text FROM probes p "
			      "LEFT JOIN LATERAL (SELECT min(r.interval_ms) AS ms FROM results r "
			      "WHERE r.probe_id = p.probe_id AND r.seq > p.last_seq - 1000 "
			      "AND r.seq <= p.last_seq AND r.interval_ms > 0) x ON true "
			      "CROSS JOIN LATERAL (SELECT coalesce(x.ms, ");
	store_stmt_param(st, def);
	strbuf_puts(&st->sql, "::bigint)::float8 AS ms) iv ORDER BY p.probe_id");
}

json_t *store_probes_json(const PGresult *res, char *err, size_t errlen)
{
	return store_stmt_items_json(res, 0, err, errlen);
}

static json_t *probes_decode(struct store_stmt_op *o, PGresult *res, enum store_status *status,
			     char *err, size_t errlen)
{
	(void)o;
	*status = STORE_ERROR;
	return store_probes_json(res, err, errlen);
}

void store_probes_start(struct store *s, int64_t now_ms, unsigned intervals, store_cb cb,
			void *arg)
{
	struct store_stmt_op *x = store_stmt_op_new(sizeof *x);
	if (!x) {
		struct store_answer a = { .status = STORE_ERROR, .err = "out of memory" };
		cb(arg, &a);
		return;
	}
	x->decode = probes_decode;
	store_probes_stmt(now_ms, intervals, &x->st);
	store_stmt_op_start(s, x, cb, arg);
}
