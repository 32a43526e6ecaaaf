/*
 * metrics.c - the latest-result snapshot behind /metrics (see metrics.h).
 */
#include "metrics.h"
#include "log.h"
#include "metrics_expo.h"
#include "pgconn.h"
#include "strbuf.h"
#include "twtime.h"

#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

const char *const metrics_outcome_names[METRICS_NOUTCOMES] = {
	"dns_error", "connect_refused", "connect_timeout", "io_error", "handshake_timeout",
	"not_tls", "protocol_version", "no_shared_cipher", "client_cert_required",
	"client_cert_rejected", "tls_alert", "untrusted_root", "self_signed", "chain_incomplete",
	"chain_invalid",
	"cert_expired", "cert_not_yet_valid", "bad_usage", "weak_key", "weak_signature",
	"hostname_mismatch", "revoked", "ok",
};

const char *const metrics_finding_names[METRICS_NFINDINGS] = {
	"expiring_soon", "weak_key", "weak_signature", "legacy_protocol", "cipher_fallback",
	"no_ocsp_staple", "sni_mismatch", "ocsp_responder_unreachable", "ocsp_responder_slow",
	"client_cert_expiring",
	"bad_ocsp_staple", "crl_unreachable", "crl_stale", "crl_invalid",
	"intermediate_fetched",
};

/* The columns of statement 1, in order. */
enum col {
	C_TARGET, C_PORT, C_SNI, C_REGION, C_PROFILE, C_SERVICE, C_OUTCOME, C_FINDINGS,
	C_TLS_VERSION, C_CIPHER, C_STARTED, C_CERT_NOT_AFTER, C_CHAIN_NOT_AFTER, C_DNS_MS,
	C_CONNECT_MS, C_HANDSHAKE_MS, C_TOTAL_MS, C__COUNT
};

/* One series: its latest result (strings point into the snapshot's
 * PGresult) and its results_total counter (carried across snapshots). */
struct series {
	char *key;               /* host \x1f port \x1f sni \x1f region \x1f profile; owned */
	char *target;            /* "host:port" ("[v6]:port"); owned */
	int row;                 /* row of the snapshot's PGresult */
	uint64_t total[METRICS_NOUTCOMES];
	bool counted[METRICS_NOUTCOMES]; /* the outcome was seen: export the counter */
};

/* What rollup_1h (the view rollup_1h_live) said about one (series, hour, outcome) at a refresh. */
struct cell {
	const char *key;         /* points to the owning snapshot's series key */
	int64_t hour;
	int outcome;
	uint64_t n;
};

struct snapshot {
	PGresult *latest;        /* owned; NULL before the first refresh */
	struct series *s;        /* sorted by key */
	size_t n;
	struct cell *cells;      /* sorted by key, hour, outcome */
	size_t ncells;
	bool limited;            /* more series than max_series */
	double at_ms;            /* wall clock of the refresh */
};

/* The object's states. */
enum metrics_state {
	MS_WAITING,  /* no request out: the timer (or the connection coming up) starts one */
	MS_QUERYING, /* the two statements are out; their results are being collected */
};

struct metrics {
	struct event_base *base;
	struct pgconn *pg;
	struct event *timer;     /* EV_PERSIST, every refresh_ms */
	enum metrics_state state;
	unsigned refresh_ms, max_series;
	char sql[6144];
	PGresult *got[2];        /* the request's results so far */
	int ngot;
	struct snapshot snap;
	double started_ms;       /* wall clock at metrics_new */
	uint64_t refreshes, failures;
};

static const char *state_name(enum metrics_state s)
{
	return s == MS_WAITING ? "waiting" : "querying";
}

/* The one function that changes state. */
static void set_state(struct metrics *m, enum metrics_state s)
{
	if (m->state != s)
		log_debug("metrics: %s -> %s", state_name(m->state), state_name(s));
	m->state = s;
}

/* ------------------------------------------------------------ snapshot */

static int outcome_index(const char *name)
{
	for (int i = 0; i < METRICS_NOUTCOMES; i++)
		if (strcmp(name, metrics_outcome_names[i]) == 0)
			return i;
	return -1;
}

static int series_cmp(const void *a, const void *b)
{
	return strcmp(((const struct series *)a)->key, ((const struct series *)b)->key);
}

static int cell_cmp(const void *a, const void *b)
{
	const struct cell *x = a, *y = b;
	int c = strcmp(x->key, y->key);
	if (c)
		return c;
	if (x->hour != y->hour)
		return x->hour < y->hour ? -1 : 1;
	return x->outcome - y->outcome;
}

static char *make_key(PGresult *r, int row)
{
	struct strbuf b = { 0 };
	for (int c = C_TARGET; c <= C_PROFILE; c++) {
		if (c > C_TARGET)
			strbuf_putc(&b, '\x1f');
		strbuf_puts(&b, PQgetvalue(r, row, c));
	}
	return strbuf_take(&b);
}

static struct series *find_series(const struct snapshot *sn, const char *key)
{
	struct series k = { .key = (char *)key };
	return sn->n ? bsearch(&k, sn->s, sn->n, sizeof *sn->s, series_cmp) : NULL;
}

static void snapshot_clear(struct snapshot *sn)
{
	for (size_t i = 0; i < sn->n; i++) {
		free(sn->s[i].key);
		free(sn->s[i].target);
	}
	free(sn->s);
	free(sn->cells);
	PQclear(sn->latest);
	memset(sn, 0, sizeof *sn);
}

/* Builds the next snapshot from the two results; counters carry over from
 * prev and grow by each cell's growth. -1 on out of memory (next unusable). */
static int snapshot_build(struct snapshot *next, const struct snapshot *prev, PGresult *latest,
			  PGresult *counts, unsigned max_series)
{
	int rows = PQntuples(latest);
	size_t n = (size_t)rows < max_series ? (size_t)rows : max_series;
	next->latest = latest;
	next->limited = (size_t)rows > max_series;
	if (n && !(next->s = calloc(n, sizeof *next->s)))
		return -1;
	for (size_t i = 0; i < n; i++) {
		struct series *s = &next->s[next->n];
		s->row = (int)i;
		const char *host = PQgetvalue(latest, (int)i, C_TARGET);
		struct strbuf t = { 0 };
		strbuf_printf(&t, strchr(host, ':') ? "[%s]:%s" : "%s:%s", host,
			      PQgetvalue(latest, (int)i, C_PORT));
		s->target = strbuf_take(&t);
		s->key = make_key(latest, (int)i);
		if (!s->target || !s->key) {
			free(s->target);
			free(s->key);
			return -1;
		}
		next->n++;
		const struct series *old = find_series(prev, s->key);
		if (old) {
			memcpy(s->total, old->total, sizeof s->total);
			memcpy(s->counted, old->counted, sizeof s->counted);
		}
	}
	if (next->n)
		qsort(next->s, next->n, sizeof *next->s, series_cmp);

	int crows = PQntuples(counts);
	if (crows && !(next->cells = calloc((size_t)crows, sizeof *next->cells)))
		return -1;
	for (int r = 0; r < crows; r++) {
		char *key = make_key(counts, r);
		if (!key)
			return -1;
		struct series *s = find_series(next, key);
		free(key);
		int o = outcome_index(PQgetvalue(counts, r, 6));
		if (!s || o < 0)
			continue; /* over max_series, or not an outcome of the taxonomy */
		struct cell *c = &next->cells[next->ncells++];
		c->key = s->key;
		c->hour = strtoll(PQgetvalue(counts, r, 5), NULL, 10);
		c->outcome = o;
		c->n = strtoull(PQgetvalue(counts, r, 7), NULL, 10);
		const struct cell *was = prev->ncells
			? bsearch(c, prev->cells, prev->ncells, sizeof *prev->cells, cell_cmp) : NULL;
		/* a cell only grows (rows are inserted once); a smaller one means
		 * the hour was pruned and re-created: count nothing for it */
		if (!was)
			s->total[o] += c->n;
		else if (c->n > was->n)
			s->total[o] += c->n - was->n;
		s->counted[o] = true;
	}
	if (next->ncells)
		qsort(next->cells, next->ncells, sizeof *next->cells, cell_cmp);
	next->at_ms = (double)twtime_wall_ms();
	return 0;
}

/* ------------------------------------------------------------ refresh */

static void drop_got(struct metrics *m)
{
	for (int i = 0; i < m->ngot; i++)
		PQclear(m->got[i]);
	m->ngot = 0;
}

static void on_reply(void *arg, struct pgconn *c, struct pgconn_reply *rep)
{
	(void)c;
	struct metrics *m = arg;
	if (rep->result) {
		if (PQresultStatus(rep->result) == PGRES_TUPLES_OK && m->ngot < 2) {
			m->got[m->ngot++] = rep->result;
			rep->result = NULL; /* ours now */
		}
		return;
	}
	set_state(m, MS_WAITING);
	if (rep->outcome != PGCONN_OK || m->ngot != 2 ||
	    PQnfields(m->got[0]) != C__COUNT || PQnfields(m->got[1]) != 8) {
		m->failures++;
		log_warn("metrics: refresh failed: %s",
			 rep->err ? rep->err : "unexpected result shape");
		drop_got(m);
		return;
	}
	struct snapshot next = { 0 };
	if (snapshot_build(&next, &m->snap, m->got[0], m->got[1], m->max_series) < 0) {
		m->failures++;
		log_warn("metrics: refresh failed: out of memory");
		next.latest = NULL; /* still in got[0] */
		snapshot_clear(&next);
		drop_got(m);
		return;
	}
	PQclear(m->got[1]);
	m->ngot = 0;
	snapshot_clear(&m->snap);
	m->snap = next;
	m->refreshes++;
}

static void refresh(struct metrics *m)
{
	if (m->state != MS_WAITING || !pgconn_is_idle(m->pg))
		return; /* still running, or the connection is down (it reconnects) */
	struct pgconn_request rq = {
		.sql = m->sql,
		.timeout_ms = m->refresh_ms > 10000 ? m->refresh_ms : 10000,
		.cb = on_reply,
		.arg = m,
	};
	if (pgconn_submit(m->pg, &rq) < 0) {
		m->failures++;
		log_warn("metrics: cannot send the refresh: %s", strerror(errno));
		return;
	}
	set_state(m, MS_QUERYING);
}

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	refresh(arg);
}

static void on_state(void *arg, struct pgconn *c, bool up, const char *why)
{
	(void)c;
	struct metrics *m = arg;
	if (up) {
		refresh(m); /* do not wait a whole interval for the first snapshot */
	} else {
		log_warn("metrics: database connection lost: %s", why ? why : "?");
		drop_got(m);
		set_state(m, MS_WAITING);
	}
}

/* Both statements in one request (simple protocol: the numbers are ours,
 * formatted as integers). Neither goes through the view rollup_1h_live: for
 * the hours not built yet it sums every counter, histogram and outcome map
 * of their minutes, and at 20,000 series the current hour alone is up to
 * 1.2M rollup_1m rows. That took 1.5 s and 3.6 s every refresh, up to 12.5 s
 * under ingest (bench/ingest.sh, 670,000 minutes; BENCHMARKS.md). Each
 * statement reads only what it uses, with 016/018's split: built, clean
 * hours from rollup_1h (tw_rollup_1h_built), the rest from rollup_1m (the
 * minutes at or after ready_before, and those of dirty hours), and the rows
 * not in rollup_1m yet from results (SQL_TAIL, any hour).
 *
 * Statement 1: the newest hour of each series seen in the lookback (keys
 * only: an index-friendly GROUP BY, 0.4 s there), then one backward index
 * scan into results per series that stops at the first row of its region
 * and profile. Ordering by started_at alone is what lets it stop there
 * (adding seq as a tie-break turned it into a bitmap scan of the whole hour:
 * 40 ms instead of 8 ms on 100k rows, 600 series; a DISTINCT ON over
 * results took 600 ms).
 * Statement 2: the outcome counts per (series, hour). Minutes with the same
 * outcome map are counted together before the map is expanded (most
 * minutes are {"ok": 1} or {"ok": 2}): 0.8 s there; the tail's rows are
 * counted per outcome directly. */
#define SQL_LB "date_trunc('hour', now()) - interval '%d hours'"
#define SQL_UNBUILT_FROM                                                                      \
	"greatest(" SQL_LB " - interval '1 hour', least((SELECT ready_before FROM rollup_1h_state), " \
	"(SELECT min(hour) FROM rollup_1h_dirty)))"
/* The tail (sql/020_rollup_1m_builder.sql): the results rows not added to
 * rollup_1m yet, from lo on, every hour, built or not; read as rows and
 * counted per hour here (sql/021_rollup_1m_tail_rows.sql: a 1M-row tail
 * took 4.0 s per statement aggregated per minute first, 0.9 s this way). A
 * tail leg comes after the statement's rollup_1m leg: rollup_1m is locked
 * before results, the order partition maintenance takes them in. */
#define SQL_TAIL(lo) \
	"tw_rollup_1m_tail_rows(" lo ", 'infinity')"
static int build_sql(struct metrics *m)
{
	int n = snprintf(m->sql, sizeof m->sql,
		"WITH s AS (SELECT target, port, sni, region, profile, max(bucket) AS bucket FROM ("
		"SELECT target, port, sni, region, profile, bucket FROM tw_rollup_1h_built() "
		"WHERE bucket >= " SQL_LB " UNION ALL "
		"SELECT target, port, sni, region, profile, date_trunc('hour', bucket, 'UTC') "
		"FROM rollup_1m WHERE bucket >= " SQL_UNBUILT_FROM
		" AND date_trunc('hour', bucket, 'UTC') >= " SQL_LB " UNION ALL "
		"SELECT target, port, coalesce(sni, ''), region, profile, "
		"date_trunc('hour', started_at, 'UTC') FROM " SQL_TAIL(SQL_LB) ") k "
		"GROUP BY target, port, sni, region, profile) "
		"SELECT s.target, s.port, s.sni, s.region, s.profile, coalesce(r.service, ''), "
		"r.outcome, array_to_string(r.findings, ','), r.tls_version, r.cipher, "
		"extract(epoch FROM r.started_at), extract(epoch FROM r.cert_not_after), "
		"extract(epoch FROM r.chain_not_after_min), r.dns_ms, r.connect_ms, "
		"r.handshake_ms, r.total_ms "
		"FROM s CROSS JOIN LATERAL (SELECT * FROM results r "
		"WHERE r.target = s.target AND r.port = s.port AND r.started_at >= s.bucket "
		"AND r.started_at < s.bucket + interval '1 hour' AND coalesce(r.sni, '') = s.sni "
		"AND r.region = s.region AND r.profile = s.profile "
		"ORDER BY r.started_at DESC LIMIT 1) r "
		"ORDER BY s.target, s.port, s.sni, s.region, s.profile LIMIT %u;\n"
		"SELECT target, port, sni, region, profile, hr, k, sum(n)::text FROM ("
		"SELECT target, port, sni, region, profile, extract(epoch FROM bucket)::bigint AS hr, "
		"o.key AS k, o.value::bigint AS n FROM tw_rollup_1h_built() h, "
		"jsonb_each_text(h.outcomes) AS o WHERE bucket >= " SQL_LB " UNION ALL "
		"SELECT target, port, sni, region, profile, extract(epoch FROM hour)::bigint, o.key, "
		"o.value::bigint * g.n FROM (SELECT target, port, sni, region, profile, "
		"date_trunc('hour', bucket, 'UTC') AS hour, outcomes, count(*) AS n FROM ("
		"SELECT target, port, sni, region, profile, bucket, outcomes FROM rollup_1m "
		"WHERE bucket >= " SQL_UNBUILT_FROM " AND date_trunc('hour', bucket, 'UTC') >= " SQL_LB
		" AND (bucket >= (SELECT ready_before FROM rollup_1h_state) OR "
		"date_trunc('hour', bucket, 'UTC') = ANY (ARRAY(SELECT hour FROM rollup_1h_dirty))) "
		") m GROUP BY 1, 2, 3, 4, 5, 6, 7) g, jsonb_each_text(g.outcomes) AS o UNION ALL "
		"SELECT target, port, coalesce(sni, ''), region, profile, "
		"extract(epoch FROM date_trunc('hour', started_at, 'UTC'))::bigint, outcome, count(*) "
		"FROM " SQL_TAIL(SQL_LB) " GROUP BY 1, 2, 3, 4, 5, 6, 7"
		") x GROUP BY 1, 2, 3, 4, 5, 6, 7",
		METRICS_LOOKBACK_HOURS, METRICS_LOOKBACK_HOURS, METRICS_LOOKBACK_HOURS,
		METRICS_LOOKBACK_HOURS, m->max_series + 1, METRICS_COUNT_HOURS, METRICS_COUNT_HOURS,
		METRICS_COUNT_HOURS, METRICS_COUNT_HOURS);
	return n > 0 && (size_t)n < sizeof m->sql ? 0 : -1;
}

struct metrics *metrics_new(struct event_base *base, const struct metrics_opts *o, char *err,
			    size_t errlen)
{
	struct metrics *m = calloc(1, sizeof *m);
	if (!m) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	m->base = base;
	m->refresh_ms = o->refresh_ms ? o->refresh_ms : 15000;
	m->max_series = o->max_series ? o->max_series : 10000;
	m->started_ms = (double)twtime_wall_ms();
	if (build_sql(m) < 0) {
		snprintf(err, errlen, "metrics: query text too long");
		goto fail;
	}
	struct pgconn_opts po = {
		.conninfo = o->conninfo,
		.name = "metrics",
		/* a refresh is a read: never let it hold locks or run long; no JIT
		 * (as the API's and the evaluator's sessions): the hours not built
		 * yet are summed from rollup_1m inside rollup_1h_live, whose row
		 * estimates (jsonb_each_text: 100 a call) put the plan over
		 * jit_above_cost and compiling it took seconds for 0.1 s of work.
		 * No sort where an ordered scan exists: statement 1's lookup of
		 * each series' newest row must be a backward index scan that stops
		 * at the first row of the series (a Merge Append over the
		 * partitions). Estimating one row per series-hour, the planner
		 * read the whole hour of the target and sorted it instead: at
		 * 20,000 series (bench/ingest.sh's deploy rows) 26 s a refresh,
		 * so every refresh hit the timeout and /metrics never changed;
		 * 0.8 s without the sort (BENCHMARKS.md). The statements' other
		 * sorts (the final ORDER BY) have no alternative and still run. */
		.setup_sql = "SET default_transaction_read_only = on; SET statement_timeout = '10s'; "
			     "SET jit = off; SET enable_sort = off",
		.on_state = on_state,
		.arg = m,
	};
	if (!(m->pg = pgconn_new(base, &po, err, errlen)))
		goto fail;
	struct timeval tv = { m->refresh_ms / 1000, (m->refresh_ms % 1000) * 1000 };
	if (!(m->timer = event_new(base, -1, EV_PERSIST, on_timer, m)) ||
	    event_add(m->timer, &tv) != 0) {
		snprintf(err, errlen, "metrics: cannot arm the refresh timer");
		goto fail;
	}
	return m;
fail:
	metrics_free(m);
	return NULL;
}

void metrics_free(struct metrics *m)
{
	if (!m)
		return;
	if (m->timer)
		event_free(m->timer);
	pgconn_free(m->pg);
	drop_got(m);
	snapshot_clear(&m->snap);
	free(m);
}

uint64_t metrics_refreshes(const struct metrics *m)
{
	return m->refreshes;
}

/* ------------------------------------------------------------ render */

static bool has(const struct snapshot *sn, const struct series *s, int col)
{
	return !PQgetisnull(sn->latest, s->row, col);
}

static const char *val(const struct snapshot *sn, const struct series *s, int col)
{
	return PQgetvalue(sn->latest, s->row, col);
}

/* name{target=..,sni=..,service=..,region=..,profile=..[,extra=..]} */
static void open_sample(struct evbuffer *b, const struct snapshot *sn, const struct series *s,
			const char *name, const char *xkey, const char *xval)
{
	evbuffer_add_printf(b, "%s{target=\"", name);
	metrics_expo_label_value(b, s->target);
	evbuffer_add(b, "\"", 1);
	metrics_expo_label(b, "sni", val(sn, s, C_SNI));
	metrics_expo_label(b, "service", val(sn, s, C_SERVICE));
	metrics_expo_label(b, "region", val(sn, s, C_REGION));
	metrics_expo_label(b, "profile", val(sn, s, C_PROFILE));
	if (xkey)
		metrics_expo_label(b, xkey, xval);
	evbuffer_add(b, "} ", 2);
}

static void sample(struct evbuffer *b, const struct snapshot *sn, const struct series *s,
		   const char *name, const char *xkey, const char *xval, double v)
{
	open_sample(b, sn, s, name, xkey, xval);
	metrics_expo_value(b, v);
	evbuffer_add(b, "\n", 1);
}

/* A gauge family from one numeric column, scaled; NULLs are left out. */
static void column_family(struct evbuffer *b, const struct snapshot *sn, const char *name,
			  const char *help, int col, double scale)
{
	metrics_expo_family(b, name, "gauge", help);
	for (size_t i = 0; i < sn->n; i++)
		if (has(sn, &sn->s[i], col))
			sample(b, sn, &sn->s[i], name, NULL, NULL,
			       strtod(val(sn, &sn->s[i], col), NULL) * scale);
}

/* The finding is in the comma-separated list. */
static bool has_finding(const char *list, const char *f)
{
	size_t fl = strlen(f);
	for (const char *p = list; *p;) {
		const char *e = strchr(p, ',');
		size_t l = e ? (size_t)(e - p) : strlen(p);
		if (l == fl && strncmp(p, f, l) == 0)
			return true;
		p += l + (e ? 1 : 0);
	}
	return false;
}

void metrics_render(const struct metrics *m, struct evbuffer *b)
{
	const struct snapshot *sn = &m->snap;
	double now = (double)twtime_wall_ms();
	metrics_expo_family(b, "tlswatch_metrics_snapshot_age_seconds", "gauge",
			    "Seconds since the per-target series were read from the database "
			    "(since start while none was read yet).");
	evbuffer_add_printf(b, "tlswatch_metrics_snapshot_age_seconds ");
	metrics_expo_value(b, ((sn->latest ? sn->at_ms : m->started_ms) > now ? 0 :
			       now - (sn->latest ? sn->at_ms : m->started_ms)) / 1000.0);
	evbuffer_add(b, "\n", 1);
	metrics_expo_one(b, "tlswatch_metrics_refreshes_total", "counter",
			 "Snapshots of the per-target series read from the database.", m->refreshes);
	metrics_expo_one(b, "tlswatch_metrics_refresh_failures_total", "counter",
			 "Snapshot refreshes that failed (the previous snapshot stays).", m->failures);
	metrics_expo_one(b, "tlswatch_metrics_series", "gauge",
			 "Target x region x profile series in the snapshot.", sn->n);
	metrics_expo_one(b, "tlswatch_metrics_series_limited", "gauge",
			 "1 when more series exist than http.metrics_max_series exports.",
			 sn->limited);
	if (!sn->latest)
		return;

	metrics_expo_family(b, "probe_success", "gauge",
			    "1 when the latest result's outcome is ok.");
	for (size_t i = 0; i < sn->n; i++)
		sample(b, sn, &sn->s[i], "probe_success", NULL, NULL,
		       strcmp(val(sn, &sn->s[i], C_OUTCOME), "ok") == 0);
	column_family(b, sn, "probe_ssl_earliest_cert_expiry",
		      "Earliest notAfter in the served chain of the latest result (Unix time).",
		      C_CHAIN_NOT_AFTER, 1);
	column_family(b, sn, "probe_ssl_last_chain_expiry_timestamp_seconds",
		      "Earliest notAfter of the chain the latest result verified (Unix time).",
		      C_CHAIN_NOT_AFTER, 1);
	column_family(b, sn, "tlswatch_cert_not_after_timestamp_seconds",
		      "The leaf certificate's notAfter in the latest result (Unix time).",
		      C_CERT_NOT_AFTER, 1);
	metrics_expo_family(b, "probe_tls_version_info", "gauge",
			    "The TLS version the latest result negotiated (always 1).");
	for (size_t i = 0; i < sn->n; i++)
		if (has(sn, &sn->s[i], C_TLS_VERSION))
			sample(b, sn, &sn->s[i], "probe_tls_version_info", "version",
			       val(sn, &sn->s[i], C_TLS_VERSION), 1);
	metrics_expo_family(b, "probe_tls_cipher_info", "gauge",
			    "The cipher suite the latest result negotiated (always 1).");
	for (size_t i = 0; i < sn->n; i++)
		if (has(sn, &sn->s[i], C_CIPHER))
			sample(b, sn, &sn->s[i], "probe_tls_cipher_info", "cipher",
			       val(sn, &sn->s[i], C_CIPHER), 1);
	column_family(b, sn, "probe_dns_lookup_time_seconds",
		      "DNS resolution time of the latest result.", C_DNS_MS, 0.001);
	column_family(b, sn, "tlswatch_connect_duration_seconds",
		      "TCP connect time of the latest result.", C_CONNECT_MS, 0.001);
	column_family(b, sn, "tlswatch_handshake_duration_seconds",
		      "TLS handshake time of the latest result (STARTTLS included).",
		      C_HANDSHAKE_MS, 0.001);
	column_family(b, sn, "probe_duration_seconds",
		      "Total time of the latest result (resolve to handshake done).", C_TOTAL_MS,
		      0.001);
	column_family(b, sn, "tlswatch_result_timestamp_seconds",
		      "When the latest result started (probe clock, Unix time).", C_STARTED, 1);

	metrics_expo_family(b, "tlswatch_result_outcome", "gauge",
			    "The latest result's outcome (always 1; outcome is the taxonomy).");
	for (size_t i = 0; i < sn->n; i++)
		if (outcome_index(val(sn, &sn->s[i], C_OUTCOME)) >= 0)
			sample(b, sn, &sn->s[i], "tlswatch_result_outcome", "outcome",
			       val(sn, &sn->s[i], C_OUTCOME), 1);
	metrics_expo_family(b, "tlswatch_result_findings", "gauge",
			    "1 for each finding of the latest result (fixed vocabulary).");
	for (size_t i = 0; i < sn->n; i++) {
		const char *list = val(sn, &sn->s[i], C_FINDINGS);
		for (int f = 0; f < METRICS_NFINDINGS; f++)
			if (has_finding(list, metrics_finding_names[f]))
				sample(b, sn, &sn->s[i], "tlswatch_result_findings", "finding",
				       metrics_finding_names[f], 1);
	}
	metrics_expo_family(b, "tlswatch_results_total", "counter",
			    "Results stored, by outcome (the taxonomy), counted from the rollups "
			    "while this collector runs.");
	for (size_t i = 0; i < sn->n; i++)
		for (int o = 0; o < METRICS_NOUTCOMES; o++)
			if (sn->s[i].counted[o])
				sample(b, sn, &sn->s[i], "tlswatch_results_total", "outcome",
				       metrics_outcome_names[o], (double)sn->s[i].total[o]);
}
