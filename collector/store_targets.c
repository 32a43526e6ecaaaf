/*
 * store_targets.c - regions, services, the target list and one target's
 * detail (see store_targets.h). The JSON of each item is built by the
 * statement (json_build_object, the field names of collector/openapi.json);
 * C only assembles the envelope, the cursor key and the drift flags.
 */
#include "store_targets.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DAY_MS 86400000LL
#define HOUR_MS 3600000LL

#define TARGET_ID STORE_TARGET_ID

/* ------------------------------------------------------------ regions */

/* Every result's region is a probe's (ingest records the probe from its
 * certificate): the probes table knows every region, cheaply. */
static const char REGIONS_SQL[] =
	"SELECT json_build_object('name', region, 'probes', count(*),"
	" 'last_seen', " STORE_ISO("max(last_seen)") ")"
	" FROM probes GROUP BY region ORDER BY region";

static const char SERVICES_SQL[] =
	"SELECT json_build_object('name', service, 'targets', count(*),"
	" 'last_seen', " STORE_ISO("max(last_seen)") ")"
	" FROM targets GROUP BY service ORDER BY service NULLS LAST";

struct list_op {
	struct store_op op;
	const char *sql;
	int64_t since_ms;
};

static int list_step(struct store_op *op, PGresult *res)
{
	struct list_op *l = (struct list_op *)op;
	if (!res) {
		store_op_sql(op, l->sql);
		return 1;
	}
	json_t *items = json_array();
	if (!items || store_append_rows(items, res, 0) < 0) {
		json_decref(items);
		return store_op_finish(op, STORE_ERROR, NULL, "undecodable row");
	}
	return store_op_finish(op, STORE_OK, json_pack("{s:o}", "items", items), NULL);
}

static void start_list(struct store *s, const char *sql, int64_t since_ms, store_cb cb, void *arg)
{
	struct list_op *l = store_op_new(sizeof *l);
	if (!l) {
		struct store_answer a = { .status = STORE_ERROR, .err = "out of memory" };
		cb(arg, &a);
		return;
	}
	l->op.step = list_step;
	l->sql = sql;
	l->since_ms = since_ms;
	store_op_start(s, &l->op, cb, arg);
}

void store_regions(struct store *s, int64_t now_ms, store_cb cb, void *arg)
{
	start_list(s, REGIONS_SQL, now_ms - 7 * DAY_MS, cb, arg);
}

void store_services(struct store *s, store_cb cb, void *arg)
{
	start_list(s, SERVICES_SQL, 0, cb, arg);
}

/* ------------------------------------------------------------ targets */

/* $1 service, $2 labels, $3 region, $4..$6 cursor, $7 since (an hour
 * boundary 24 h back), $8 limit + 1 */
static const char TARGETS_SQL[] =
	"WITH page AS ("
	"  SELECT * FROM targets tg"
	"  WHERE ($1::text IS NULL OR tg.service = $1)"
	"    AND ($2::jsonb IS NULL OR tg.labels @> $2::jsonb)"
	"    AND ($4::text IS NULL OR (tg.target, tg.port, tg.sni) > ($4::text, $5::int, $6::text))"
	"    AND ($3::text IS NULL OR EXISTS (SELECT 1 FROM rollup_1h_live r WHERE r.target = tg.target"
	"         AND r.port = tg.port AND r.sni = tg.sni AND r.region = $3"
	"         AND r.bucket >= $7::timestamptz))"
	"  ORDER BY tg.target, tg.port, tg.sni LIMIT $8)"
	" SELECT p.target, p.port, p.sni, json_build_object("
	"  'id', " TARGET_ID("p") ", 'host', p.target, 'port', p.port, 'sni', nullif(p.sni, ''),"
	"  'service', p.service, 'labels', p.labels,"
	"  'first_seen', " STORE_ISO("p.first_seen") ", 'last_seen', " STORE_ISO("p.last_seen") ","
	"  'profiles', coalesce(c.profiles, '[]'::json), 'regions', coalesce(c.regions, '[]'::json),"
	"  'last', coalesce(("
	"    SELECT json_agg(json_build_object('region', k.region, 'profile', k.profile,"
	"       'at', " STORE_ISO("l.started_at") ", 'outcome', l.outcome,"
	"       'tls_version', l.tls_version, 'cipher', l.cipher, 'handshake_ms', l.handshake_ms)"
	"       ORDER BY k.region, k.profile)"
	"    FROM (SELECT DISTINCT r.region, r.profile FROM rollup_1h_live r WHERE r.target = p.target"
	"          AND r.port = p.port AND r.sni = p.sni AND r.bucket >= $7::timestamptz) k"
	"    CROSS JOIN LATERAL (SELECT x.started_at, x.outcome, x.tls_version, x.cipher,"
	"          x.handshake_ms FROM results x WHERE x.target = p.target AND x.port = p.port"
	"          AND coalesce(x.sni, '') = p.sni AND x.region = k.region AND x.profile = k.profile"
	"          AND x.started_at >= $7::timestamptz ORDER BY x.started_at DESC LIMIT 1) l),"
	"    '[]'::json))"
	" FROM page p"
	" LEFT JOIN LATERAL (SELECT json_agg(DISTINCT r.profile ORDER BY r.profile) AS profiles,"
	"   json_agg(DISTINCT r.region ORDER BY r.region) AS regions FROM rollup_1h_live r"
	"   WHERE r.target = p.target AND r.port = p.port AND r.sni = p.sni"
	"   AND r.bucket >= $7::timestamptz) c ON true"
	" ORDER BY p.target, p.port, p.sni";

struct targets_op {
	struct store_op op;
	char *service, *labels, *region, *after_host, *after_sni;
	int after_port, limit;
	int64_t since_ms;
};

static void targets_free(struct store_op *op)
{
	struct targets_op *t = (struct targets_op *)op;
	free(t->service);
	free(t->labels);
	free(t->region);
	free(t->after_host);
	free(t->after_sni);
}

/* The keyset of row i as "_next": [host, port, sni]. */
static json_t *next_key(PGresult *r, int i)
{
	return json_pack("[s, I, s]", PQgetvalue(r, i, 0), (json_int_t)store_int(r, i, 1),
			 PQgetvalue(r, i, 2));
}

static int targets_step(struct store_op *op, PGresult *res)
{
	struct targets_op *t = (struct targets_op *)op;
	if (!res) {
		store_op_sql(op, TARGETS_SQL);
		if (store_op_param(op, t->service) < 0 || store_op_param(op, t->labels) < 0 ||
		    store_op_param(op, t->region) < 0 || store_op_param(op, t->after_host) < 0 ||
		    (t->after_host ? store_op_param_int(op, t->after_port)
				   : store_op_param(op, NULL)) < 0 ||
		    store_op_param(op, t->after_host ? t->after_sni : NULL) < 0 ||
		    store_op_param_ms(op, t->since_ms) < 0 || store_op_param_int(op, t->limit + 1) < 0)
			return store_op_oom(op);
		return 1;
	}
	json_t *items = json_array(), *body = json_object();
	int n = PQntuples(res);
	bool more = n > t->limit;
	for (int i = 0; items && body && i < (more ? t->limit : n); i++) {
		json_t *v = store_json_raw(res, i, 3);
		if (!v || json_array_append_new(items, v) != 0) {
			json_decref(items);
			items = NULL;
		}
	}
	if (!items || !body || json_object_set_new(body, "items", items) != 0) {
		json_decref(body);
		return store_op_oom(op);
	}
	if (more)
		json_object_set_new(body, "_next", next_key(res, t->limit - 1));
	return store_op_finish(op, STORE_OK, body, NULL);
}

static char *dup_or_null(const char *s, bool *oom)
{
	char *d = s ? strdup(s) : NULL;
	if (s && !d)
		*oom = true;
	return d;
}

static void fail_now(store_cb cb, void *arg)
{
	struct store_answer a = { .status = STORE_ERROR, .err = "out of memory" };
	cb(arg, &a);
}

void store_targets(struct store *s, const struct store_targets_q *q, store_cb cb, void *arg)
{
	struct targets_op *t = store_op_new(sizeof *t);
	bool oom = !t;
	if (t) {
		t->op.step = targets_step;
		t->op.free = targets_free;
		t->service = dup_or_null(q->service, &oom);
		t->labels = dup_or_null(q->labels_json, &oom);
		t->region = dup_or_null(q->region, &oom);
		t->after_host = dup_or_null(q->after_host, &oom);
		t->after_sni = dup_or_null(q->after_sni ? q->after_sni : "", &oom);
		t->after_port = q->after_port;
		t->limit = q->limit;
		/* the hour boundary at or before now - 24 h: rollup_1h and results
		 * agree on what "the last 24 hours" holds */
		t->since_ms = (q->now_ms - DAY_MS) / HOUR_MS * HOUR_MS;
	}
	if (oom) {
		if (t) {
			targets_free(&t->op);
			free(t);
		}
		fail_now(cb, arg);
		return;
	}
	store_op_start(s, &t->op, cb, arg);
}

/* ------------------------------------------------------------ one target */

/* $1 host, $2 port, $3 sni (NULL: the one seen last) */
static const char TARGET_SQL[] =
	"SELECT t.sni, json_build_object('id', " TARGET_ID("t") ", 'host', t.target, 'port', t.port,"
	" 'sni', nullif(t.sni, ''), 'service', t.service, 'labels', t.labels,"
	" 'first_seen', " STORE_ISO("t.first_seen") ", 'last_seen', " STORE_ISO("t.last_seen") ","
	" 'snis', (SELECT json_agg(s.sni ORDER BY s.sni) FROM targets s"
	"          WHERE s.target = t.target AND s.port = t.port))"
	" FROM targets t WHERE t.target = $1 AND t.port = $2::int AND ($3::text IS NULL OR t.sni = $3)"
	" ORDER BY t.last_seen DESC LIMIT 1";

/* $1 host, $2 port, $3 sni, $4 since, $5 failures */
#define OF_TARGET "target = $1 AND port = $2::int AND coalesce(sni, '') = $3 " \
	"AND started_at >= $4::timestamptz"
static const char DETAIL_SQL[] =
	"SELECT coalesce((SELECT json_agg(json_build_object('region', c.region,"
	"   'fingerprint_sha256', c.fingerprint_sha256, 'subject', c.leaf_subject,"
	"   'issuer', c.leaf_issuer, 'sans', coalesce(to_json(c.leaf_sans), '[]'::json),"
	"   'not_before', " STORE_ISO("c.cert_not_before") ", 'not_after', " STORE_ISO("c.cert_not_after") ","
	"   'days_to_expiry', c.days_to_expiry,"
	"   'chain_not_after_min', " STORE_ISO("c.chain_not_after_min") ", 'chain_len', c.chain_len,"
	"   'key', c.leaf_key, 'sig_alg', c.leaf_sig_alg, 'seen_at', " STORE_ISO("c.started_at") ","
	"   'drift', false) ORDER BY c.region)"
	"  FROM (SELECT DISTINCT ON (region) * FROM results WHERE " OF_TARGET
	"        AND fingerprint_sha256 IS NOT NULL ORDER BY region, started_at DESC) c), '[]'::json),"
	" coalesce((SELECT json_agg(json_build_object('region', n.region, 'profile', n.profile,"
	"   'at', " STORE_ISO("n.started_at") ", 'outcome', n.outcome, 'tls_version', n.tls_version,"
	"   'cipher', n.cipher, 'cipher_iana', n.cipher_iana, 'group', n.grp, 'alpn', n.alpn)"
	"   ORDER BY n.region, n.profile)"
	"  FROM (SELECT DISTINCT ON (region, profile) * FROM results WHERE " OF_TARGET
	"        ORDER BY region, profile, started_at DESC) n), '[]'::json),"
	" coalesce((SELECT json_agg(json_build_object('at', " STORE_ISO("f.started_at") ","
	"   'region', f.region, 'profile', f.profile, 'probe_id', f.probe_id, 'outcome', f.outcome,"
	"   'reason', f.alert) ORDER BY f.started_at DESC, f.probe_id, f.seq)"
	"  FROM (SELECT * FROM results WHERE " OF_TARGET " AND outcome <> 'ok'"
	"        ORDER BY started_at DESC, probe_id, seq LIMIT $5::int) f), '[]'::json)";

struct target_op {
	struct store_op op;
	char *host, *sni;       /* sni: NULL until resolved when not given */
	int port, failures;
	int64_t since_ms;
	json_t *body;           /* step 1's object */
};

static void target_free(struct store_op *op)
{
	struct target_op *t = (struct target_op *)op;
	free(t->host);
	free(t->sni);
	json_decref(t->body);
}

/* Marks the regions whose fingerprint differs from the one most regions
 * see (ties: the lexically smallest); true when there is more than one. */
static bool mark_drift(json_t *certs)
{
	const char *ref = NULL;
	size_t refn = 0, i, j, distinct = 0;
	json_t *c, *d;
	json_array_foreach(certs, i, c) {
		const char *fp = json_string_value(json_object_get(c, "fingerprint_sha256"));
		size_t n = 0;
		bool first = true;
		json_array_foreach(certs, j, d) {
			const char *g = json_string_value(json_object_get(d, "fingerprint_sha256"));
			if (fp && g && strcmp(fp, g) == 0) {
				n++;
				if (j < i)
					first = false;
			}
		}
		if (!fp)
			continue;
		if (first)
			distinct++;
		if (n > refn || (n == refn && ref && strcmp(fp, ref) < 0)) {
			ref = fp;
			refn = n;
		}
	}
	json_array_foreach(certs, i, c) {
		const char *fp = json_string_value(json_object_get(c, "fingerprint_sha256"));
		json_object_set_new(c, "drift", json_boolean(ref && fp && strcmp(fp, ref) != 0));
	}
	return distinct > 1;
}

static int target_step(struct store_op *op, PGresult *res)
{
	struct target_op *t = (struct target_op *)op;
	if (!res) {
		store_op_sql(op, TARGET_SQL);
		if (store_op_param(op, t->host) < 0 || store_op_param_int(op, t->port) < 0 ||
		    store_op_param(op, t->sni) < 0)
			return store_op_oom(op);
		return 1;
	}
	if (!t->body) {
		char id[300];
		if (PQntuples(res) == 0) {
			store_target_id(t->host, t->port, id, sizeof id);
			if (t->sni)
				return store_op_finish(op, STORE_NOT_FOUND, NULL,
						       "no target \"%s\" with sni \"%s\"", id, t->sni);
			return store_op_finish(op, STORE_NOT_FOUND, NULL, "no target \"%s\"", id);
		}
		free(t->sni);
		if (!(t->sni = strdup(PQgetvalue(res, 0, 0))))
			return store_op_oom(op);
		t->body = store_json_raw(res, 0, 1);
		if (!json_is_object(t->body))
			return store_op_finish(op, STORE_ERROR, NULL, "undecodable row");
		store_op_sql(op, DETAIL_SQL);
		if (store_op_param(op, t->host) < 0 || store_op_param_int(op, t->port) < 0 ||
		    store_op_param(op, t->sni) < 0 || store_op_param_ms(op, t->since_ms) < 0 ||
		    store_op_param_int(op, t->failures) < 0)
			return store_op_oom(op);
		return 1;
	}
	json_t *certs = store_json_raw(res, 0, 0), *neg = store_json_raw(res, 0, 1),
	       *fail = store_json_raw(res, 0, 2);
	if (!json_is_array(certs) || !json_is_array(neg) || !json_is_array(fail)) {
		json_decref(certs);
		json_decref(neg);
		json_decref(fail);
		return store_op_finish(op, STORE_ERROR, NULL, "undecodable row");
	}
	json_object_set_new(t->body, "drift", json_boolean(mark_drift(certs)));
	json_object_set_new(t->body, "certificates", certs);
	json_object_set_new(t->body, "negotiated", neg);
	json_object_set_new(t->body, "recent_failures", fail);
	json_t *body = t->body;
	t->body = NULL;
	return store_op_finish(op, STORE_OK, body, NULL);
}

void store_target(struct store *s, const struct store_target_q *q, store_cb cb, void *arg)
{
	struct target_op *t = store_op_new(sizeof *t);
	bool oom = !t;
	if (t) {
		t->op.step = target_step;
		t->op.free = target_free;
		t->host = dup_or_null(q->host, &oom);
		t->sni = dup_or_null(q->sni, &oom);
		t->port = q->port;
		t->failures = q->failures;
		t->since_ms = q->now_ms - DAY_MS;
	}
	if (oom) {
		if (t) {
			target_free(&t->op);
			free(t);
		}
		fail_now(cb, arg);
		return;
	}
	store_op_start(s, &t->op, cb, arg);
}
