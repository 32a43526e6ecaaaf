/*
 * notify_int.h - internals shared by the notifier's files (not for other
 * modules).
 *
 *   notify.c         the object (notify.h), its database side: a FIFO of
 *                    single-statement operations run on one pgconn
 *   notify_outbox.c  the cycle: route the outbox, claim due deliveries,
 *                    send each (notify_http.c), record the attempt
 *   notify_http.c    libcurl multi on the libevent loop
 *
 * Ownership: the notifier owns its operations from notify_op_new() until
 * notify_op_submit() (then the queue does: freed after op_finished) and its
 * transfers (struct notify_xfer) until their outcome is queued for recording.
 */
#ifndef TW_NOTIFY_INT_H
#define TW_NOTIFY_INT_H

#include <stdbool.h>
#include <stdint.h>
#include <event2/event.h>
#include <libpq-fe.h>

#include "notify.h"
#include "notify_config.h"
#include "notify_http.h"
#include "notify_sinks.h"
#include "pgconn.h"

#define NOTIFY_MAX_PARAMS 9

enum notify_op_kind {
	OP_ROUTE_SELECT,
	OP_ROUTE_APPLY,
	OP_CLAIM,
	OP_RECORD,
	OP_COUNT,
};

/* One statement, atomic on its own and safe to repeat. */
struct notify_op {
	struct notify_op *next;
	enum notify_op_kind kind;
	int nparams;
	char *params[NOTIFY_MAX_PARAMS]; /* owned; NULL = SQL NULL */
	/* OP_ROUTE_APPLY: rows selected; OP_RECORD: outcome for stats and logs */
	unsigned selected;
	enum sink_verdict verdict;
	char *what;                      /* OP_RECORD: "tw-12-pd to sink pd (host)" for logs */
};

struct notify_xfer;

struct notifier {
	struct event_base *base;
	struct notify_config *cfg;

	/* database */
	struct pgconn *pg;
	struct notify_op *oph, *opt; /* queue; the head runs while pg is busy */
	PGresult *last;              /* last tuples/command result of the head op */

	/* cycle */
	struct event *tick, *kick;
	bool cycle_busy;
	unsigned route_rounds;
	double next_count;
	double last_errlog;
	char last_err[256];

	/* HTTP */
	struct notify_http *http;
	struct notify_xfer *xfers;   /* deliveries being sent (notify_outbox.c) */

	uint64_t rng;
	struct notifier_stats st;
};

/* notify.c */
struct notify_op *notify_op_new(enum notify_op_kind k);
void notify_op_free(struct notify_op *op);
/* Sets parameter i (a copy; NULL stays SQL NULL). -1 when out of memory. */
int notify_op_param(struct notify_op *op, int i, const char *v) __attribute__((warn_unused_result));
int notify_op_paramf(struct notify_op *op, int i, const char *fmt, ...)
	__attribute__((format(printf, 3, 4), warn_unused_result));
/* Queues op (the queue takes it); it runs when the connection is free. */
void notify_op_submit(struct notifier *n, struct notify_op *op);
/* Uniform in [0, 1): jitter only. */
double notify_rnd01(struct notifier *n);
/* Logs a database-side problem, the same message at most once a minute. */
void notify_warn_limited(struct notifier *n, const char *what, const char *err);

/* notify_outbox.c */
const char *notify_op_sql(enum notify_op_kind k);
void notify_cycle_start(struct notifier *n);
/* The head operation finished: r its last result (NULL on error), err the
 * error (NULL when ok). */
void notify_op_finished(struct notifier *n, struct notify_op *op, PGresult *r, const char *err);
/* notify_free(): the deliveries in flight, whose requests notify_http_free()
 * cancelled (their leases expire; they are sent again). */
void notify_outbox_free_xfers(struct notifier *n);

#endif
