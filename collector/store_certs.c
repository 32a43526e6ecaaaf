/*
 * store_certs.c - the certificate inventory for the API (see store_certs.h).
 */
#include "store_certs.h"
#include "twtime.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The sort key: not_after in microseconds, a certificate without one last. */
#define KEY "coalesce((extract(epoch FROM c.not_after) * 1000000)::bigint, 9223372036854775807)"

bool store_certs_cursor_ok(const char *s)
{
	char *e;
	errno = 0;
	(void)strtoll(s, &e, 10);
	if (e == s || *e != '.' || errno || !e[1])
		return false;
	return strspn(e + 1, "0123456789abcdefABCDEF:") == strlen(e + 1);
}

void store_certs_stmt(const struct store_certs_req *rq, struct store_stmt *st)
{
	char now[48], buf[48];
	struct strbuf *b = &st->sql;
	twtime_rfc3339_ms(rq->now_ms, now, sizeof now);
	strbuf_puts(b, "SELECT json_build_object('fingerprint_sha256', c.fingerprint_sha256, "
		       "'subject', c.subject, 'sans', coalesce(to_json(c.sans), '[]'::json), "
		       "'issuer', c.issuer, 'not_before', " STORE_TS("c.not_before") ", "
		       "'not_after', " STORE_TS("c.not_after") ", "
		       "'days_left', extract(epoch FROM c.not_after - ");
	store_stmt_param(st, now);
	strbuf_puts(b, "::timestamptz) / 86400.0, 'key', c.key, 'sig_alg', c.sig_alg, "
		       "'first_seen', " STORE_TS("c.first_seen") ", "
		       "'sightings', (SELECT coalesce(json_agg(json_build_object("
		       "'target', CASE WHEN strpos(s.target, ':') > 0 THEN '[' || s.target || ']' "
		       "ELSE s.target END || ':' || s.port, 'host', s.target, 'port', s.port, "
		       "'region', s.region, 'service', tg.service, "
		       "'labels', coalesce(tg.labels, '{}'::jsonb), "
		       "'first_seen', " STORE_TS("s.first_seen") ", "
		       "'last_seen', " STORE_TS("s.last_seen") ") "
		       "ORDER BY s.target, s.port, s.region), '[]'::json) "
		       "FROM certificate_sightings s LEFT JOIN LATERAL (SELECT t.service, t.labels "
		       "FROM targets t WHERE t.target = s.target AND t.port = s.port "
		       "ORDER BY t.last_seen DESC LIMIT 1) tg ON true "
		       "WHERE s.fingerprint_sha256 = c.fingerprint_sha256))::text, "
		       KEY ", c.fingerprint_sha256 FROM certificates c WHERE true");
	if (rq->have_expiring) {
		strbuf_puts(b, " AND c.not_after < ");
		store_stmt_param(st, twtime_rfc3339_ms(rq->now_ms + rq->expiring_within_ms, buf,
						       sizeof buf));
		strbuf_puts(b, "::timestamptz");
	}
	if (rq->issuer) {
		strbuf_puts(b, " AND strpos(lower(c.issuer), lower(");
		store_stmt_param(st, rq->issuer);
		strbuf_puts(b, ")) > 0");
	}
	if (rq->service) {
		strbuf_puts(b, " AND EXISTS (SELECT 1 FROM certificate_sightings s JOIN targets t "
			       "ON t.target = s.target AND t.port = s.port "
			       "WHERE s.fingerprint_sha256 = c.fingerprint_sha256 AND t.service = ");
		store_stmt_param(st, rq->service);
		strbuf_puts(b, ")");
	}
	if (rq->cursor) {
		const char *dot = strchr(rq->cursor, '.');
		char key[32];
		size_t kl = dot ? (size_t)(dot - rq->cursor) : 0;
		if (!dot || kl >= sizeof key) {
			b->oom = true;  /* not a cursor of ours: store_certs_cursor_ok first */
			return;
		}
		memcpy(key, rq->cursor, kl);
		key[kl] = '\0';
		strbuf_puts(b, " AND (" KEY ", c.fingerprint_sha256) > (");
		store_stmt_param(st, key);
		strbuf_puts(b, "::bigint, ");
		store_stmt_param(st, dot + 1);
		strbuf_puts(b, ")");
	}
	strbuf_printf(b, " ORDER BY 2, 3 LIMIT %u", rq->limit + 1);
}

json_t *store_certs_json(const struct store_certs_req *rq, const PGresult *res, char *err,
			 size_t errlen)
{
	return store_stmt_items_json(res, rq->limit, err, errlen);
}

struct certs_op {
	struct store_stmt_op so;
	unsigned limit;
};

static json_t *certs_decode(struct store_stmt_op *o, PGresult *res, enum store_status *status,
			    char *err, size_t errlen)
{
	struct store_certs_req rq = { .limit = ((struct certs_op *)o)->limit };
	*status = STORE_ERROR;
	return store_certs_json(&rq, res, err, errlen);
}

void store_certs_start(struct store *s, const struct store_certs_req *rq, store_cb cb, void *arg)
{
	struct certs_op *x = store_stmt_op_new(sizeof *x);
	if (!x) {
		struct store_answer a = { .status = STORE_ERROR, .err = "out of memory" };
		cb(arg, &a);
		return;
	}
	x->limit = rq->limit;
	x->so.decode = certs_decode;
	store_certs_stmt(rq, &x->so.st);
	store_stmt_op_start(s, &x->so, cb, arg);
}
