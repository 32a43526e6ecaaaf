/*
 * notify.c - the delivery worker of notify.h: the object, and its database
 * side.
 *
 * The database side is one pgconn (pgconn.h: connect, session setup,
 * reconnect with backoff and jitter) running a FIFO of single-statement
 * operations (struct notify_op). Every statement is atomic on its own, so
 * there is never a transaction open across round trips, and an operation
 * interrupted by a broken connection stays at the head of the queue and is
 * sent again after the reconnect (each one is written to be safe to repeat).
 * The cycle that produces the operations (route, claim, send, record) is in
 * notify_outbox.c; the HTTP side in notify_http.c.
 *
 * Exactly once per state change: a delivery is sent only by the holder of
 * its lease, and the lease (default: twice the longest sink timeout + 30 s)
 * outlives any request, so two collectors never send the same delivery at
 * the same time. A delivery is sent again only after a failed attempt
 * (retry) or when its holder died before recording the outcome - both times
 * with the same idempotency key (webhook-id, PagerDuty dedup_key,
 * Alertmanager label set), which is what receivers deduplicate on.
 *
 * Alertmanager's endsAt (notify_sinks.c builds it): Alertmanager resolves
 * by itself an alert whose endsAt has passed, and one posted without endsAt
 * after resolve_timeout (5 min) - it expects clients to re-send firing
 * alerts. We send one trigger per state change and do not re-send, so a
 * trigger carries endsAt = now + hold (sink option, default 90 days: longer
 * than any alert should fire) and the resolve carries endsAt = the time it
 * resolved, which ends the alert at once. The cost: if a resolve is lost
 * for good (failed delivery, visible in notification_deliveries and
 * /metrics), Alertmanager shows the alert until hold runs out; and an
 * Alertmanager restart (it keeps no alerts on disk) forgets firing alerts
 * until their next state change.
 */
#define _GNU_SOURCE  /* vasprintf */
#include "notify.h"
#include "notify_int.h"
#include "log.h"
#include "twtime.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#define CONNECT_TIMEOUT_MS 15000
#define QUERY_TIMEOUT_MS   60000
#define ERRLOG_EVERY_MS    60000

static const char SQL_SETUP[] =
	"SET statement_timeout = '30s'; SET TimeZone = 'UTC'; SET DateStyle = 'ISO'";

/* ------------------------------------------------------------ small helpers */

double notify_rnd01(struct notifier *n)
{
	/* xorshift64*: jitter only, not security */
	n->rng ^= n->rng >> 12;
	n->rng ^= n->rng << 25;
	n->rng ^= n->rng >> 27;
	return (double)((n->rng * 2685821657736338717ull) >> 11) / 9007199254740992.0;
}

void notify_warn_limited(struct notifier *n, const char *what, const char *err)
{
	char msg[sizeof n->last_err];
	snprintf(msg, sizeof msg, "%s: %s", what, err);
	double now = twtime_mono_ms();
	if (strcmp(msg, n->last_err) == 0 && now - n->last_errlog < ERRLOG_EVERY_MS)
		return;
	snprintf(n->last_err, sizeof n->last_err, "%s", msg);
	n->last_errlog = now;
	log_warn("notify: %s", msg);
}

/* ------------------------------------------------------------ operations */

void notify_op_free(struct notify_op *op)
{
	if (!op)
		return;
	for (int i = 0; i < op->nparams; i++)
		free(op->params[i]);
	free(op->what);
	free(op);
}

struct notify_op *notify_op_new(enum notify_op_kind k)
{
	struct notify_op *op = calloc(1, sizeof *op);
	if (op)
		op->kind = k;
	return op;
}

int notify_op_param(struct notify_op *op, int i, const char *v)
{
	if (v && !(op->params[i] = strdup(v)))
		return -1;
	if (i + 1 > op->nparams)
		op->nparams = i + 1;
	return 0;
}

int notify_op_paramf(struct notify_op *op, int i, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int r = vasprintf(&op->params[i], fmt, ap);
	va_end(ap);
	if (r < 0) {
		op->params[i] = NULL;
		return -1;
	}
	if (i + 1 > op->nparams)
		op->nparams = i + 1;
	return 0;
}

static void on_reply(void *arg, struct pgconn *pg, struct pgconn_reply *rep);

/* Sends the head operation when the connection is free. */
static void send_head(struct notifier *n)
{
	struct notify_op *op = n->oph;
	if (!op || !pgconn_is_idle(n->pg))
		return;
	struct pgconn_request rq = {
		.sql = notify_op_sql(op->kind), .nparams = op->nparams,
		.params = (const char *const *)op->params, .timeout_ms = QUERY_TIMEOUT_MS,
		.cb = on_reply, .arg = n,
	};
	if (n->last) {
		PQclear(n->last);
		n->last = NULL;
	}
	if (pgconn_submit(n->pg, &rq) < 0)
		log_error("notify: cannot send the %s statement", notify_op_sql(op->kind));
}

void notify_op_submit(struct notifier *n, struct notify_op *op)
{
	op->next = NULL;
	if (n->opt)
		n->opt->next = op;
	else
		n->oph = op;
	n->opt = op;
	send_head(n);
}

/* pgconn_cb of the head operation. */
static void on_reply(void *arg, struct pgconn *pg, struct pgconn_reply *rep)
{
	struct notifier *n = arg;
	(void)pg;
	if (rep->result) {
		ExecStatusType st = PQresultStatus(rep->result);
		if (st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK) {
			if (n->last)
				PQclear(n->last);
			n->last = rep->result; /* taken */
			rep->result = NULL;
		}
		return;
	}
	if (rep->outcome == PGCONN_LOST) {
		/* the op stays at the head: sent again once the connection is back */
		if (n->last) {
			PQclear(n->last);
			n->last = NULL;
		}
		return;
	}
	struct notify_op *op = n->oph;
	n->oph = op->next;
	if (!n->oph)
		n->opt = NULL;
	PGresult *r = n->last;
	n->last = NULL;
	bool ok = rep->outcome == PGCONN_OK;
	notify_op_finished(n, op, ok ? r : NULL, ok ? NULL : rep->err);
	if (r)
		PQclear(r);
	notify_op_free(op);
	send_head(n);
}

/* pgconn on_state: once up, an operation interrupted by the loss goes
 * first, then a cycle at once. */
static void on_db_state(void *arg, struct pgconn *pg, bool up, const char *why)
{
	struct notifier *n = arg;
	(void)pg;
	(void)why;
	if (!up)
		return;
	n->last_err[0] = '\0';
	send_head(n);
	if (!n->cycle_busy)
		event_active(n->kick, EV_TIMEOUT, 0);
}

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	notify_cycle_start(arg);
}

static void timer_in(struct event *ev, unsigned ms)
{
	struct timeval tv = { ms / 1000, (suseconds_t)(ms % 1000) * 1000 };
	event_add(ev, &tv);
}

/* ------------------------------------------------------------ public */

struct notifier *notify_new_config(struct event_base *base, const char *conninfo,
				     struct notify_config *cfg, char *err, size_t errlen)
{
	struct notifier *n = NULL;
	if (!base || !conninfo || !cfg) {
		snprintf(err, errlen, "notify: no event base, conninfo or config");
		notify_config_free(cfg);
		return NULL;
	}
	if (!(n = calloc(1, sizeof *n))) {
		notify_config_free(cfg);
		snprintf(err, errlen, "notify: out of memory");
		return NULL;
	}
	n->base = base;
	n->cfg = cfg;
	n->st.pending = -1;
	if (getrandom(&n->rng, sizeof n->rng, GRND_NONBLOCK) != (ssize_t)sizeof n->rng)
		n->rng = (uint64_t)twtime_wall_ms() ^ ((uint64_t)getpid() << 32) ^ (uint64_t)(uintptr_t)n;
	if (!n->rng)
		n->rng = 88172645463325252ull;
	if (!(n->http = notify_http_new(base, err, errlen))) {
		notify_free(n);
		return NULL;
	}
	if (!(n->tick = event_new(base, -1, EV_PERSIST, on_tick, n)) ||
	    !(n->kick = event_new(base, -1, 0, on_tick, n))) {
		snprintf(err, errlen, "notify: out of memory");
		notify_free(n);
		return NULL;
	}
	timer_in(n->tick, cfg->poll_interval_ms);
	for (size_t i = 0; i < cfg->nsinks; i++)
		log_info("notify: sink %s: %s, host %s, timeout %u ms", cfg->sinks[i].name,
			 notify_sink_type_name(cfg->sinks[i].type), cfg->sinks[i].host,
			 cfg->sinks[i].timeout_ms);
	struct pgconn_opts po = {
		.conninfo = conninfo, .app_name = "tlswatch-notifier", .name = "notify: database",
		.setup_sql = SQL_SETUP, .connect_timeout_ms = CONNECT_TIMEOUT_MS,
		.on_state = on_db_state, .arg = n,
	};
	if (!(n->pg = pgconn_new(base, &po, err, errlen))) {
		notify_free(n);
		return NULL;
	}
	return n;
}

struct notifier *notify_new(struct event_base *base, const char *conninfo,
			      const char *notify_file, char *err, size_t errlen)
{
	struct notify_config *cfg = notify_config_load(notify_file, err, errlen);
	if (!cfg)
		return NULL;
	return notify_new_config(base, conninfo, cfg, err, errlen);
}

void notify_free(struct notifier *n)
{
	if (!n)
		return;
	notify_http_free(n->http); /* cancels requests in flight, no callback */
	notify_outbox_free_xfers(n);
	struct notify_op *op;
	while ((op = n->oph)) {
		n->oph = op->next;
		notify_op_free(op);
	}
	if (n->last)
		PQclear(n->last);
	pgconn_free(n->pg);
	if (n->tick)
		event_free(n->tick);
	if (n->kick)
		event_free(n->kick);
	notify_config_free(n->cfg);
	free(n);
}

void notify_get_stats(const struct notifier *n, struct notifier_stats *st)
{
	*st = n->st;
	st->in_flight = notify_http_in_flight(n->http);
	st->db_up = pgconn_is_up(n->pg);
}

void notify_kick(struct notifier *n)
{
	if (n)
		event_active(n->kick, EV_TIMEOUT, 0);
}
