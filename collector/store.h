/*
 * store.h - the HTTP API's read/write layer: STORE_CONNECTIONS asynchronous
 * PostgreSQL connections of its own (pgconn.h) and a queue of operations, each of which
 * answers one API request (or one `status` question) with a jansson object.
 * All of the API's SQL lives in the store_*.c files; handlers (api_*.c)
 * never see SQL or a PGresult.
 *
 * An operation (struct store_op) is a short program of parameterised
 * statements run one after another on the store's connection:
 *
 *   store_op_new(size) -> the op's own fields are filled -> store_op_start()
 *     -> queued (FIFO, at most STORE_MAX_QUEUE; a full queue answers
 *        STORE_UNAVAILABLE "busy")
 *     -> when a connection is idle: step(op, NULL) sets the first
 *        statement (store_op_sql / store_op_param*) -> sent
 *     -> step(op, result) for its PGresult: the op decodes it, and either
 *        sets the next statement (sent on the same connection, so the
 *        operation keeps its place and its session) or finishes (store_op_finish with the
 *        answer).
 *
 * A queued operation waits for the connection for at most STORE_WAIT_MS
 * (connecting or reconnecting); a statement has STORE_STATEMENT_MS. Either
 * deadline, a lost connection or a statement error answers the operation
 * (STORE_UNAVAILABLE / STORE_ERROR) with a one-line reason; SQL text and
 * parameter values are never in that reason (the reason may reach a client).
 *
 * Answers are delivered by the caller's callback exactly once, never from
 * inside store_op_start (at the earliest from the next loop turn), so a
 * handler may start an operation and return. The one exception: an
 * operation function (store_grid, ...) that cannot allocate its operation
 * answers STORE_ERROR "out of memory" at once, so a caller makes that call
 * its last use of anything the callback frees. store_free() answers every
 * operation still queued or running with STORE_CANCELLED first.
 *
 * Blocking users (`tlswatch-collector status`) run the same operations on a
 * private event_base: store_new, start the operations, event_base_dispatch
 * until the callbacks have run (store_run_blocking does exactly that).
 *
 * Paginated lists: an operation answers {"items": [...]} and, when there
 * are more rows, "_next": [the keyset fields of its last item]; the API's
 * api_reply_list (api_params.h) turns "_next" into the opaque next_cursor.
 *
 * Ownership: store_new copies the conninfo (wiped when freed). An answer's
 * json belongs to the callback (json_decref it, or keep it). An operation is
 * freed by the store after its callback returned; op-specific cleanup goes
 * in its `free` hook. Names are prefixed store_.
 */
#ifndef TW_STORE_H
#define TW_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <event2/event.h>
#include <jansson.h>
#include <libpq-fe.h>

/* Connections of one store: a slow statement (a 7-day grid over many
 * series takes seconds) leaves the others to answer the short ones. */
#define STORE_CONNECTIONS   3
#define STORE_MAX_QUEUE     256
#define STORE_WAIT_MS       5000
#define STORE_STATEMENT_MS  15000
#define STORE_MAX_PARAMS    24

struct store;

struct store_opts {
	const char *conninfo;     /* required */
	const char *name;         /* log name; NULL = "api store" */
	const char *app_name;     /* NULL = "tlswatch-collector api" */
};

struct store *store_new(struct event_base *base, const struct store_opts *o, char *err,
			size_t errlen) __attribute__((warn_unused_result));
void store_free(struct store *s);
bool store_is_up(const struct store *s);

enum store_status {
	STORE_OK,           /* json is the answer */
	STORE_NOT_FOUND,    /* the object asked for does not exist (err says which) */
	STORE_UNAVAILABLE,  /* no connection, busy, deadline, connection lost */
	STORE_ERROR,        /* a statement failed or its result made no sense */
	STORE_CANCELLED,    /* store_free() with the operation still pending */
};

struct store_answer {
	enum store_status status;
	json_t *json;             /* STORE_OK: owned by the callback */
	const char *err;          /* otherwise: one line, valid during the callback */
};

typedef void (*store_cb)(void *arg, struct store_answer *a);

/* ---------------------------------------------------------- operations */

struct store_op;
struct store_waiter;
/* result NULL: set the first statement. Otherwise the statement's result
 * (PQresultStatus TUPLES_OK or COMMAND_OK; borrowed). Returns 1 when it set
 * a next statement, 0 when it finished the operation (store_op_finish). */
typedef int (*store_step_fn)(struct store_op *op, PGresult *result);

struct store_op {
	/* set by the operation before store_op_start */
	store_step_fn step;
	void (*free)(struct store_op *op);   /* NULL: nothing beyond the op itself */
	/* private to store.c */
	struct store *s;
	store_cb cb;
	void *arg;
	char *share_key;                     /* store_op_start_shared */
	struct store_waiter *waiters;        /* callers given the same answer */
	struct store_op *next;
	double queued_ms;
	const char *sql;
	int nparams;
	char *params[STORE_MAX_PARAMS];
	bool finished;
	enum store_status status;
	json_t *json;
	char err[256];
};

/* A zeroed operation of `size` bytes (>= sizeof(struct store_op), the op's
 * own struct embedding struct store_op first). NULL on out of memory. */
void *store_op_new(size_t size);

/* Queues op; cb gets the answer exactly once (see above). Takes op in every
 * case (on a full queue or a freed store the answer is an error). */
void store_op_start(struct store *s, struct store_op *op, store_cb cb, void *arg);

/* Like store_op_start, but when an operation started with the same key is
 * still queued or running, op is freed and cb gets a copy of that one's
 * answer instead: identical expensive questions asked at once (every
 * dashboard open on the 7-day grid) cost one statement. */
void store_op_start_shared(struct store *s, struct store_op *op, const char *key, store_cb cb,
			   void *arg);

/* The next statement: sql must outlive the operation (a static string or a
 * field of the op); parameters are copied (NULL = SQL NULL). */
void store_op_sql(struct store_op *op, const char *sql);
int store_op_param(struct store_op *op, const char *value);
int store_op_param_int(struct store_op *op, long long v);
/* Unix ms as an RFC 3339 parameter (use it as $n::timestamptz). */
int store_op_param_ms(struct store_op *op, int64_t ms);

/* Ends the operation: STORE_OK takes json (may not be NULL); otherwise a
 * printf-style reason. Always returns 0 (the step's "finished"). */
int store_op_finish(struct store_op *op, enum store_status st, json_t *json, const char *fmt,
		    ...) __attribute__((format(printf, 4, 5)));
/* store_op_finish(STORE_ERROR, "out of memory"). */
int store_op_oom(struct store_op *op);

/* Runs base until every operation started on s has been answered, or
 * timeout_ms passes (then returns -1). For blocking users (cmd_status.c). */
int store_run_blocking(struct store *s, struct event_base *base, unsigned timeout_ms);

/* ------------------------------------------------------------ cache */

/* A few answers an operation may keep for ttl_ms (expensive ones asked
 * again and again, like the dashboard's grid). get: a copy of the answer
 * stored under key, or NULL (none or expired). put: stores a copy, the
 * oldest entry making room. */
#define STORE_CACHE_MAX 32
json_t *store_cache_get(struct store *s, const char *key);
void store_cache_put(struct store *s, const char *key, const json_t *json, unsigned ttl_ms);
/* Answers cb with json (taken) from the next loop turn, as an operation
 * would. */
void store_answer_json(struct store *s, json_t *json, store_cb cb, void *arg);

/* ------------------------------------------------ decoding result values */

/* JSON of column c of row i: NULL (SQL NULL) becomes json null. */
json_t *store_json_str(PGresult *r, int i, int c);
json_t *store_json_int(PGresult *r, int i, int c);    /* int8 text -> integer */
json_t *store_json_real(PGresult *r, int i, int c);   /* float8 text -> real (NaN, inf: null) */
json_t *store_json_bool(PGresult *r, int i, int c);   /* "t"/"f" */
json_t *store_json_ms(PGresult *r, int i, int c);     /* Unix ms (int8) -> RFC 3339 string */
json_t *store_json_raw(PGresult *r, int i, int c);    /* json/jsonb text -> parsed */
json_t *store_json_text_array(PGresult *r, int i, int c);  /* text[] -> array of strings */
int64_t store_int(PGresult *r, int i, int c);          /* NULL or malformed: 0 */
double store_real(PGresult *r, int i, int c);          /* NULL or malformed: NAN */
/* An int8[] like "{1,2,3}" into out[0..n) (missing elements 0). 0, or -1 when malformed. */
int store_int_array(PGresult *r, int i, int c, uint64_t *out, size_t n);

/* "host:port", "[v6]:port" for an IPv6 literal, into buf. */
const char *store_target_id(const char *host, int port, char *buf, size_t cap);

/* An RFC 3339 (ms) string from Unix ms. */
json_t *store_json_time(int64_t ms);
/* A ratio num/den, json null when den is 0. */
json_t *store_json_ratio(uint64_t num, uint64_t den);
/* A real, json null when NaN or infinite. */
json_t *store_json_realv(double v);

/* SQL: a timestamptz column as the API's RFC 3339 text (the session's
 * TimeZone is UTC), NULL stays NULL. */
#define STORE_ISO(col) "to_char(" col ", 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')"

/* SQL: "host:port" ("[v6]:port") of a row with target and port columns. */
#define STORE_TARGET_ID(t) \
	"CASE WHEN strpos(" t ".target, ':') > 0 THEN '[' || " t ".target || ']:' " \
	"ELSE " t ".target || ':' END || " t ".port"

/* Appends the JSON object text in column c of every row of r to the array
 * a (rows built by json_build_object in SQL). -1 when one does not parse. */
int store_append_rows(json_t *a, PGresult *r, int c);

/* SQL: the SLI_LATENCY_BUCKETS (20) column sums of handshake_ms_hist, each
 * starting with ", "; store_hist() reads them back. */
#define STORE_HIST_SUMS \
	", sum(coalesce(handshake_ms_hist[1], 0))::int8" \
	", sum(coalesce(handshake_ms_hist[2], 0))::int8" \
	", sum(coalesce(handshake_ms_hist[3], 0))::int8" \
	", sum(coalesce(handshake_ms_hist[4], 0))::int8" \
	", sum(coalesce(handshake_ms_hist[5], 0))::int8" \
	", sum(coalesce(handshake_ms_hist[6], 0))::int8" \
	", sum(coalesce(handshake_ms_hist[7], 0))::int8" \
	", sum(coalesce(handshake_ms_hist[8], 0))::int8" \
	", sum(coalesce(handshake_ms_hist[9], 0))::int8" \
	", sum(coalesce(handshake_ms_hist[10], 0))::int8" \
	", sum(coalesce(handshake_ms_hist[11], 0))::int8" \
	", sum(coalesce(handshake_ms_hist[12], 0))::int8" \
	", sum(coalesce(handshake_ms_hist[13], 0))::int8" \
	", sum(coalesce(handshake_ms_hist[14], 0))::int8" \
	", sum(coalesce(handshake_ms_hist[15], 0))::int8" \
	", sum(coalesce(handshake_ms_hist[16], 0))::int8" \
	", sum(coalesce(handshake_ms_hist[17], 0))::int8" \
	", sum(coalesce(handshake_ms_hist[18], 0))::int8" \
	", sum(coalesce(handshake_ms_hist[19], 0))::int8" \
	", sum(coalesce(handshake_ms_hist[20], 0))::int8"
/* The same sums named h1 .. h20 (NULL when there is no row: read as 0). */
#define STORE_HIST_SUMS_AS \
	", sum(handshake_ms_hist[1])::int8 AS h1" \
	", sum(handshake_ms_hist[2])::int8 AS h2" \
	", sum(handshake_ms_hist[3])::int8 AS h3" \
	", sum(handshake_ms_hist[4])::int8 AS h4" \
	", sum(handshake_ms_hist[5])::int8 AS h5" \
	", sum(handshake_ms_hist[6])::int8 AS h6" \
	", sum(handshake_ms_hist[7])::int8 AS h7" \
	", sum(handshake_ms_hist[8])::int8 AS h8" \
	", sum(handshake_ms_hist[9])::int8 AS h9" \
	", sum(handshake_ms_hist[10])::int8 AS h10" \
	", sum(handshake_ms_hist[11])::int8 AS h11" \
	", sum(handshake_ms_hist[12])::int8 AS h12" \
	", sum(handshake_ms_hist[13])::int8 AS h13" \
	", sum(handshake_ms_hist[14])::int8 AS h14" \
	", sum(handshake_ms_hist[15])::int8 AS h15" \
	", sum(handshake_ms_hist[16])::int8 AS h16" \
	", sum(handshake_ms_hist[17])::int8 AS h17" \
	", sum(handshake_ms_hist[18])::int8 AS h18" \
	", sum(handshake_ms_hist[19])::int8 AS h19" \
	", sum(handshake_ms_hist[20])::int8 AS h20"
#define STORE_HIST_N 20
/* The STORE_HIST_N columns from c of row i into hist. */
void store_hist(PGresult *r, int i, int c, uint64_t *hist);

#endif
