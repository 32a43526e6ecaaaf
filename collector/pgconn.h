/*
 * pgconn.h - the collector's one asynchronous PostgreSQL connection object,
 * driven by the libevent loop (the pattern of pgbouncer's test/asynctest.c):
 *
 *   PQconnectStartParams -> PQconnectPoll on the socket's events
 *   -> the owner's session setup SQL -> idle
 *   -> one request at a time: PQsendQuery[Params] -> PQflush until 0
 *      -> PQconsumeInput / PQisBusy / PQgetResult until NULL
 *      (a statement answered with COPY IN is fed from the request's
 *      copy_data callback: PQputCopyData / PQputCopyEnd)
 *   -> idle again.
 *
 * One callback per request receives every PGresult and then exactly one
 * "done" (ok / statement error with SQLSTATE / connection lost). One timer
 * per object is the connect deadline, the running request's deadline, or
 * the reconnect backoff. A broken connection is re-established by itself
 * with exponential backoff and jitter drawn from a generator seeded per
 * object (getrandom), so N collectors that lost the same server do not
 * reconnect in step. The owner hears "up" (setup done) and "down" (an up
 * connection was lost) through on_state.
 *
 * The ingest store (db_pool.c), the notifier (notify.c) and the HTTP API use
 * it. Blocking users (the CLI subcommands, migrate, the evaluator thread)
 * open their connection with pgconn_connect_blocking(): the same conninfo
 * expansion (pgconn_params_init), no second copy of it.
 *
 * Ownership: pgconn_new() copies conninfo, name and setup SQL (the conninfo
 * copy is wiped when freed: it may hold a password). A request's SQL and
 * parameter strings are copied by libpq when it is sent (pgconn_submit
 * sends at once), so they need to live only for the duration of that call;
 * the callback's `arg` and copy_data's chunks must live until "done".
 * pgconn_free() may be called from inside any pgconn callback (not from
 * copy_data): the object is then closed at once (no further callback) and
 * released once that callback has returned and the object's own frames
 * have unwound - never under its own callback.
 */
#ifndef TW_PGCONN_H
#define TW_PGCONN_H

#include <stdbool.h>
#include <stddef.h>
#include <event2/event.h>
#include <libpq-fe.h>

struct pgconn;

/* ------------------------------------------------------------ conninfo */

/* The keyword/value arrays for PQconnectdbParams / PQconnectStartParams
 * (expand_dbname = 1). In order: defaults the user's conninfo may override
 * (connect_timeout 10 s, TCP keepalives 30/10/3), then dbname = the user's
 * conninfo (a URI or "key=value" string, expanded by libpq), then ours that
 * win: fallback_application_name (app_name) and client_encoding UTF8. The
 * arrays point into conninfo and app_name: keep them alive while used. */
#define PGCONN_NPARAMS 8
struct pgconn_params {
	const char *keys[PGCONN_NPARAMS + 1];
	const char *vals[PGCONN_NPARAMS + 1];
};
void pgconn_params_init(struct pgconn_params *p, const char *conninfo, const char *app_name);

/* Blocking connect (not for the loop): NULL with err set (libpq's message,
 * which never contains the password). The caller PQfinish()es the result. */
PGconn *pgconn_connect_blocking(const char *conninfo, const char *app_name, char *err,
				size_t errlen) __attribute__((warn_unused_result));

/* ------------------------------------------------------------ the object */

struct pgconn_opts {
	const char *conninfo;        /* required */
	const char *app_name;        /* fallback_application_name; NULL = "tlswatch-collector" */
	const char *name;            /* for log lines ("db conn 2"); NULL = "pg" */
	const char *setup_sql;       /* run after every connect (may hold several
				      * statements); NULL = none. Failing it fails the connect. */
	unsigned connect_timeout_ms; /* connect + setup deadline; 0 = 15000 */
	unsigned reconnect_min_ms;   /* first backoff; 0 = 250 */
	unsigned reconnect_max_ms;   /* backoff cap; 0 = 10000 */
	/* Called when the connection becomes usable (up = true, after setup) and
	 * when a usable connection is lost (up = false, why says why; every
	 * request it held has already had its "done"). Connect attempts that fail
	 * before "up" are logged and retried, not reported. */
	void (*on_state)(void *arg, struct pgconn *c, bool up, const char *why);
	void *arg;
};

/* Starts connecting (returns at once). NULL with err set on bad options or
 * out of memory. */
struct pgconn *pgconn_new(struct event_base *base, const struct pgconn_opts *o, char *err,
			  size_t errlen) __attribute__((warn_unused_result));
void pgconn_free(struct pgconn *c);

/* Up: connected, setup done (idle or running a request). */
bool pgconn_is_up(const struct pgconn *c);
/* Up and no request running: pgconn_submit() will take one. */
bool pgconn_is_idle(const struct pgconn *c);
/* Inside a transaction block (PQtransactionStatus not idle), e.g. after a
 * failed statement of a BEGIN..COMMIT: the owner sends ROLLBACK. */
bool pgconn_in_transaction(const struct pgconn *c);
/* The delay the pending reconnect was scheduled with (ms, jitter included);
 * 0 when no reconnect is pending. */
unsigned pgconn_retry_delay_ms(const struct pgconn *c);
/* Successful connects after the first one. */
unsigned long pgconn_reconnects(const struct pgconn *c);

/* ------------------------------------------------------------ requests */

enum pgconn_outcome {
	PGCONN_OK,    /* every statement succeeded */
	PGCONN_ERROR, /* a statement failed (err, sqlstate); the connection is fine */
	PGCONN_LOST,  /* the connection broke or the deadline passed: outcome unknown;
		       * the object reconnects by itself */
};

struct pgconn_reply {
	/* Not NULL: one result of the request (every one but COPY IN, which the
	 * object handles). It is PQclear()ed after the callback returns; to keep
	 * it, set the field to NULL: it is then the callback's to PQclear. */
	PGresult *result;
	/* When result is NULL: the request is done. */
	enum pgconn_outcome outcome;
	const char *err;      /* ERROR/LOST: first error, one line; NULL when ok */
	const char *sqlstate; /* ERROR: the SQLSTATE ("" when none); "" otherwise */
};

/* One callback per request: each result, then the done. The connection is
 * idle again when "done" is delivered, so the callback may submit the next
 * request (and a multi-round-trip task keeps its connection that way). */
typedef void (*pgconn_cb)(void *arg, struct pgconn *c, struct pgconn_reply *rep);

/* COPY FROM STDIN data: set *buf and *len to the next chunk and return 1; return
 * 0 at the end of the data, -1 to abort the COPY (the statement then fails).
 * A chunk must stay valid until the next call or "done". */
typedef int (*pgconn_copy_cb)(void *arg, const char **buf, size_t *len);

struct pgconn_request {
	const char *sql;             /* several statements only without params */
	int nparams;                 /* 0 = PQsendQuery (simple protocol) */
	const char *const *params;   /* text values, NULL = SQL NULL */
	unsigned timeout_ms;         /* deadline; 0 = 60000 */
	pgconn_copy_cb copy_data;    /* NULL: a COPY IN is refused */
	pgconn_cb cb;                /* required */
	void *arg;
};

/* Sends a request. 0: sent (cb will get its results and one done); -1 with
 * errno EBUSY when the object is not idle, or when sending failed (then the
 * connection is dropped, reconnects, and cb is never called). */
int pgconn_submit(struct pgconn *c, const struct pgconn_request *rq)
	__attribute__((warn_unused_result));

#endif
