/*
 * store_results.c - raw results, keyset-paginated (see store_results.h).
 * Order: started_at, probe_id, seq all descending, so the cursor is one
 * row comparison that the primary key (probe_id, seq, started_at) and the
 * partitions on started_at serve.
 */
#include "store_results.h"

#include <stdlib.h>
#include <string.h>

static const char RESULTS_SQL[] =
	"SELECT (extract(epoch FROM started_at) * 1000000)::int8, probe_id, seq, json_build_object("
	" 'probe_id', probe_id, 'seq', seq, 'region', region, 'probe_version', probe_version,"
	" 'started_at', " STORE_ISO("started_at") ", 'received_at', " STORE_ISO("received_at") ","
	" 'target', " STORE_TARGET_ID("results") ", 'host', target, 'port', port, 'sni', sni,"
	" 'address', address, 'profile', profile, 'starttls', starttls, 'service', service,"
	" 'labels', labels, 'outcome', outcome, 'findings', to_json(findings), 'reason', alert,"
	" 'verify_errors', verify_errors, 'tls_version', tls_version, 'cipher', cipher,"
	" 'cipher_iana', cipher_iana, 'group', grp, 'alpn', alpn, 'resumed', resumed,"
	" 'ocsp_stapled', ocsp_stapled, 'ocsp_status', ocsp_status, 'sni_match', sni_match,"
	" 'cert_not_before', " STORE_ISO("cert_not_before") ","
	" 'cert_not_after', " STORE_ISO("cert_not_after") ", 'days_to_expiry', days_to_expiry,"
	" 'chain_not_after_min', " STORE_ISO("chain_not_after_min") ","
	" 'fingerprint_sha256', fingerprint_sha256, 'leaf_subject', leaf_subject,"
	" 'leaf_issuer', leaf_issuer, 'dns_ms', dns_ms, 'connect_ms', connect_ms,"
	" 'handshake_ms', handshake_ms, 'total_ms', total_ms)"
	" FROM results"
	" WHERE started_at >= $1::timestamptz AND started_at < $2::timestamptz"
	" AND ($3::text IS NULL OR target = $3) AND ($4::int IS NULL OR port = $4::int)"
	" AND ($5::text IS NULL OR coalesce(sni, '') = $5) AND ($6::text IS NULL OR region = $6)"
	" AND ($7::text IS NULL OR profile = $7) AND ($8::text IS NULL OR outcome = $8)"
	" AND ($9::text IS NULL OR probe_id = $9)"
	" AND ($10::int8 IS NULL OR (started_at, probe_id, seq) <"
	"      ('epoch'::timestamptz + $10::int8 * interval '1 microsecond', $11::text, $12::int8))"
	" ORDER BY started_at DESC, probe_id DESC, seq DESC LIMIT $13::int";

#define NSTR 9
struct results_op {
	struct store_op op;
	/* host sni region profile outcome probe_id after_started after_probe after_seq */
	char *str[NSTR];
	int64_t since_ms, until_ms;
	int port, limit;
};

static void results_free(struct store_op *op)
{
	struct results_op *t = (struct results_op *)op;
	for (int i = 0; i < NSTR; i++)
		free(t->str[i]);
}

static int results_step(struct store_op *op, PGresult *res)
{
	struct results_op *t = (struct results_op *)op;
	if (!res) {
		store_op_sql(op, RESULTS_SQL);
		int e = store_op_param_ms(op, t->since_ms) | store_op_param_ms(op, t->until_ms) |
			store_op_param(op, t->str[0]) |
			(t->port ? store_op_param_int(op, t->port) : store_op_param(op, NULL));
		for (int i = 1; i < NSTR; i++)
			e |= store_op_param(op, t->str[i]);
		e |= store_op_param_int(op, t->limit + 1);
		return e ? store_op_oom(op) : 1;
	}
	json_t *items = json_array(), *body = json_object();
	int n = PQntuples(res);
	bool more = n > t->limit;
	for (int i = 0; items && i < (more ? t->limit : n); i++) {
		json_t *v = store_json_raw(res, i, 3);
		if (!json_is_object(v) || json_array_append_new(items, v) != 0) {
			json_decref(v);
			json_decref(items);
			items = NULL;
		}
	}
	if (!items || !body || json_object_set_new(body, "items", items) != 0) {
		json_decref(body);
		return store_op_finish(op, STORE_ERROR, NULL, "undecodable row");
	}
	if (more) {
		int last = t->limit - 1;
		json_object_set_new(body, "_next",
				    json_pack("[s, s, s]", PQgetvalue(res, last, 0),
					      PQgetvalue(res, last, 1), PQgetvalue(res, last, 2)));
	}
	return store_op_finish(op, STORE_OK, body, NULL);
}

void store_results(struct store *s, const struct store_results_q *q, store_cb cb, void *arg)
{
	struct results_op *t = store_op_new(sizeof *t);
	bool oom = !t;
	if (t) {
		t->op.step = results_step;
		t->op.free = results_free;
		t->since_ms = q->since_ms;
		t->until_ms = q->until_ms;
		t->port = q->port;
		t->limit = q->limit;
		const char *v[NSTR] = { q->host, q->sni, q->region, q->profile, q->outcome,
					q->probe_id, q->after_started, q->after_probe, q->after_seq };
		for (int i = 0; i < NSTR; i++)
			if (v[i] && !(t->str[i] = strdup(v[i])))
				oom = true;
	}
	if (oom) {
		if (t) {
			results_free(&t->op);
			free(t);
		}
		struct store_answer a = { .status = STORE_ERROR, .err = "out of memory" };
		cb(arg, &a);
		return;
	}
	store_op_start(s, &t->op, cb, arg);
}
