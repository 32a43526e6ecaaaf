/*
 * store.c - the API store object: its connections, its queue of operations
 * and their answers (see store.h). The operations themselves are in
 * store_*.c, one job each; the decoding helpers in store_decode.c.
 */
#include "store.h"
#include "log.h"
#include "pgconn.h"
#include "twtime.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* What one of the store's connections is doing. */
enum store_state {
	STORE_S_IDLE,    /* no statement out: the next queued operation goes as soon
			  * as the connection is up and idle */
	STORE_S_RUNNING, /* cur's statement is out; pgconn reports its results,
			  * then one done */
};

/* A caller that shares another's operation (store_op_start_shared). */
struct store_waiter {
	store_cb cb;
	void *arg;
	struct store_waiter *next;
};

/* One cached answer (store_cache_put). */
struct store_cached {
	char *key;                      /* NULL: a free slot */
	json_t *json;
	double expires_ms;              /* monotonic */
};

/* One connection and the operation it runs: an operation keeps its
 * connection from its first statement to its answer. */
struct store_conn {
	struct store *s;
	struct pgconn *pg;
	enum store_state state;
	struct store_op *cur;           /* running */
	PGresult *res;                  /* cur's statement's last result (owned) */
	char name[56];
};

struct store {
	struct event_base *base;
	struct store_conn conn[STORE_CONNECTIONS];
	struct store_op *head, *tail;   /* queued, oldest first */
	size_t nqueued;
	struct store_op *done_head, *done_tail;  /* answered; callbacks not yet run */
	struct event *deliver;          /* runs the callbacks of the done list */
	struct event *tick;             /* every second: expires queued operations */
	unsigned pending;               /* started, callback not yet run */
	struct event_base *blocking;    /* store_run_blocking's base, while it runs */
	struct store_cached cache[STORE_CACHE_MAX];
	char name[48];
};

/* UTC: STORE_ISO formats in the session's zone. work_mem: the grid and
 * series aggregate up to a few hundred thousand rollup rows, which spill to
 * disk at the 4 MB default. No JIT: it costs more than it saves on these
 * short statements. */
#define SETUP_SQL "SET TimeZone = 'UTC'; SET work_mem = '64MB'; SET jit = off"

static void kick(struct store *s);
static void cache_clear(struct store_cached *c);

static const char *state_name(enum store_state st)
{
	return st == STORE_S_IDLE ? "idle" : "running";
}

/* The one function that changes a connection's state. */
static void set_state(struct store_conn *c, enum store_state st)
{
	if (c->state != st)
		log_debug("%s: %s -> %s", c->name, state_name(c->state), state_name(st));
	c->state = st;
}

/* ------------------------------------------------------------ answers */

static void clear_params(struct store_op *op)
{
	for (int i = 0; i < op->nparams; i++) {
		free(op->params[i]);
		op->params[i] = NULL;
	}
	op->nparams = 0;
}

static void op_free(struct store_op *op)
{
	clear_params(op);
	free(op->share_key);
	while (op->waiters) {
		struct store_waiter *w = op->waiters;
		op->waiters = w->next;
		free(w);
	}
	if (op->json)
		json_decref(op->json);
	if (op->free)
		op->free(op);
	free(op);
}

/* Moves a finished operation to the done list; its callback runs from the
 * deferred event, never from the caller's frame. */
static void answered(struct store *s, struct store_op *op)
{
	op->next = NULL;
	if (s->done_tail)
		s->done_tail->next = op;
	else
		s->done_head = op;
	s->done_tail = op;
	event_active(s->deliver, EV_TIMEOUT, 0);
}

/* The callers that share op get their copies first (the json goes to op's
 * own caller last). */
static void run_waiters(struct store *s, struct store_op *op)
{
	while (op->waiters) {
		struct store_waiter *w = op->waiters;
		op->waiters = w->next;
		struct store_answer a = { .status = op->status, .json = NULL, .err = op->err };
		if (op->status == STORE_OK && !(a.json = json_deep_copy(op->json))) {
			a.status = STORE_ERROR;
			a.err = "out of memory";
		}
		w->cb(w->arg, &a);
		free(w);
		s->pending--;
	}
}

static void run_callback(struct store_op *op, enum store_status st)
{
	struct store_answer a = { .status = st, .json = NULL, .err = op->err };
	if (st == STORE_OK) {
		a.json = op->json;
		op->json = NULL;
		a.err = NULL;
	}
	op->cb(op->arg, &a);
}

static void deliver(evutil_socket_t fd, short what, void *arg)
{
	struct store *s = arg;
	while (s->done_head) {
		struct store_op *op = s->done_head;
		s->done_head = op->next;
		if (!s->done_head)
			s->done_tail = NULL;
		run_waiters(s, op);
		run_callback(op, op->status);
		op_free(op);
		s->pending--;
	}
	if (s->pending == 0 && s->blocking)
		event_base_loopbreak(s->blocking);
}

int store_op_finish(struct store_op *op, enum store_status st, json_t *json, const char *fmt, ...)
{
	if (op->finished) {
		if (json)
			json_decref(json);
		return 0;
	}
	op->finished = true;
	op->status = st;
	if (st == STORE_OK && !json) {
		op->status = STORE_ERROR;
		snprintf(op->err, sizeof op->err, "out of memory");
	} else if (st == STORE_OK) {
		op->json = json;
	} else {
		if (json)
			json_decref(json);
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(op->err, sizeof op->err, fmt ? fmt : "error", ap);
		va_end(ap);
	}
	return 0;
}

int store_op_oom(struct store_op *op)
{
	return store_op_finish(op, STORE_ERROR, NULL, "out of memory");
}

/* ------------------------------------------------------------ statements */

void *store_op_new(size_t size)
{
	if (size < sizeof(struct store_op))
		size = sizeof(struct store_op);
	return calloc(1, size);
}

void store_op_sql(struct store_op *op, const char *sql)
{
	clear_params(op);
	op->sql = sql;
}

int store_op_param(struct store_op *op, const char *value)
{
	if (op->nparams >= STORE_MAX_PARAMS)
		return -1;
	char *v = NULL;
	if (value && !(v = strdup(value)))
		return -1;
	op->params[op->nparams++] = v;
	return 0;
}

int store_op_param_int(struct store_op *op, long long v)
{
	char buf[32];
	snprintf(buf, sizeof buf, "%lld", v);
	return store_op_param(op, buf);
}

int store_op_param_ms(struct store_op *op, int64_t ms)
{
	char buf[40];
	twtime_rfc3339_ms(ms, buf, sizeof buf);
	return store_op_param(op, buf);
}

static void on_reply(void *arg, struct pgconn *c, struct pgconn_reply *rep);

/* Asks cur for its next statement (res: the last one's result, or NULL)
 * and sends it, or files the answer when it has finished. */
static void step(struct store_conn *c, PGresult *res)
{
	struct store *s = c->s;
	struct store_op *op = c->cur;
	op->sql = NULL;
	int more = op->step(op, res);
	if (more && !op->finished && op->sql) {
		struct pgconn_request rq = {
			.sql = op->sql, .nparams = op->nparams,
			.params = (const char *const *)op->params,
			.timeout_ms = STORE_STATEMENT_MS, .cb = on_reply, .arg = c,
		};
		if (pgconn_submit(c->pg, &rq) == 0) {
			clear_params(op);
			return;
		}
		store_op_finish(op, STORE_UNAVAILABLE, NULL, "database unavailable");
	} else if (!op->finished) {
		store_op_finish(op, STORE_ERROR, NULL, "internal error: no statement and no answer");
	}
	c->cur = NULL;
	set_state(c, STORE_S_IDLE);
	answered(s, op);
}

static void on_reply(void *arg, struct pgconn *pc, struct pgconn_reply *rep)
{
	struct store_conn *c = arg;
	struct store *s = c->s;
	if (rep->result) {
		if (c->res)
			PQclear(c->res);
		c->res = rep->result;
		rep->result = NULL;
		return;
	}
	PGresult *res = c->res;
	c->res = NULL;
	struct store_op *op = c->cur;
	if (!op) {
		if (res)
			PQclear(res);
		return;
	}
	if (rep->outcome == PGCONN_OK && res) {
		step(c, res);
	} else {
		if (rep->outcome == PGCONN_ERROR) {
			log_warn("%s: statement failed: %s (SQLSTATE %s)", c->name,
				 rep->err ? rep->err : "?", rep->sqlstate ? rep->sqlstate : "");
			store_op_finish(op, STORE_ERROR, NULL, "database error (SQLSTATE %s)",
					rep->sqlstate && *rep->sqlstate ? rep->sqlstate : "none");
		} else {
			store_op_finish(op, STORE_UNAVAILABLE, NULL, "database unavailable");
		}
		c->cur = NULL;
		set_state(c, STORE_S_IDLE);
		answered(s, op);
	}
	if (res)
		PQclear(res);
	kick(s);
}

/* Starts the oldest queued operations on the connections that can take one. */
static void kick(struct store *s)
{
	for (int i = 0; i < STORE_CONNECTIONS && s->head; i++) {
		struct store_conn *c = &s->conn[i];
		if (!c->pg || c->state != STORE_S_IDLE || !pgconn_is_idle(c->pg))
			continue;
		struct store_op *op = s->head;
		s->head = op->next;
		if (!s->head)
			s->tail = NULL;
		s->nqueued--;
		op->next = NULL;
		c->cur = op;
		set_state(c, STORE_S_RUNNING);
		step(c, NULL);
	}
}

void store_op_start(struct store *s, struct store_op *op, store_cb cb, void *arg)
{
	op->s = s;
	op->cb = cb;
	op->arg = arg;
	op->queued_ms = twtime_mono_ms();
	s->pending++;
	if (s->nqueued >= STORE_MAX_QUEUE) {
		store_op_finish(op, STORE_UNAVAILABLE, NULL, "busy: %u requests waiting for the database",
				STORE_MAX_QUEUE);
		answered(s, op);
		return;
	}
	if (s->tail)
		s->tail->next = op;
	else
		s->head = op;
	s->tail = op;
	s->nqueued++;
	kick(s);
}

/* The queued or running operation started with key, or NULL. */
static struct store_op *find_shared(struct store *s, const char *key)
{
	for (struct store_op *op = s->head; op; op = op->next)
		if (op->share_key && !strcmp(op->share_key, key))
			return op;
	for (int i = 0; i < STORE_CONNECTIONS; i++) {
		struct store_op *op = s->conn[i].cur;
		if (op && op->share_key && !op->finished && !strcmp(op->share_key, key))
			return op;
	}
	return NULL;
}

void store_op_start_shared(struct store *s, struct store_op *op, const char *key, store_cb cb,
			   void *arg)
{
	struct store_op *same = find_shared(s, key);
	struct store_waiter *w = same ? calloc(1, sizeof *w) : NULL;
	if (w) {
		w->cb = cb;
		w->arg = arg;
		w->next = same->waiters;
		same->waiters = w;
		s->pending++;
		op_free(op);
		return;
	}
	if (!same)
		op->share_key = strdup(key);  /* without it: not shared, still answered */
	store_op_start(s, op, cb, arg);
}

static void on_state(void *arg, struct pgconn *pc, bool up, const char *why)
{
	struct store_conn *c = arg;
	if (up)
		log_info("%s: database connection up", c->name);
	else
		log_warn("%s: database connection lost: %s", c->name, why ? why : "?");
	kick(c->s);
}

static void tick(evutil_socket_t fd, short what, void *arg)
{
	struct store *s = arg;
	double now = twtime_mono_ms();
	struct store_op **p = &s->head, *prev = NULL;
	while (*p) {
		struct store_op *op = *p;
		if (now - op->queued_ms >= STORE_WAIT_MS) {
			*p = op->next;
			if (s->tail == op)
				s->tail = prev;
			s->nqueued--;
			store_op_finish(op, STORE_UNAVAILABLE, NULL,
					store_is_up(s) ? "database busy" : "database unavailable");
			answered(s, op);
			continue;
		}
		prev = op;
		p = &op->next;
	}
	kick(s);
}

/* ------------------------------------------------------------ object */

struct store *store_new(struct event_base *base, const struct store_opts *o, char *err,
			size_t errlen)
{
	struct store *s = calloc(1, sizeof *s);
	if (!s) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	s->base = base;
	snprintf(s->name, sizeof s->name, "%s", o->name ? o->name : "api store");
	struct timeval sec = { 1, 0 };
	if (!(s->deliver = event_new(base, -1, 0, deliver, s)) ||
	    !(s->tick = event_new(base, -1, EV_PERSIST, tick, s)) || event_add(s->tick, &sec) != 0) {
		snprintf(err, errlen, "out of memory");
		store_free(s);
		return NULL;
	}
	for (int i = 0; i < STORE_CONNECTIONS; i++) {
		struct store_conn *c = &s->conn[i];
		c->s = s;
		snprintf(c->name, sizeof c->name, "%s %d", s->name, i);
		struct pgconn_opts po = {
			.conninfo = o->conninfo,
			.app_name = o->app_name ? o->app_name : "tlswatch-collector api",
			.name = c->name,
			.setup_sql = SETUP_SQL,
			.on_state = on_state,
			.arg = c,
		};
		if (!(c->pg = pgconn_new(base, &po, err, errlen))) {
			store_free(s);
			return NULL;
		}
	}
	return s;
}

bool store_is_up(const struct store *s)
{
	if (!s)
		return false;
	for (int i = 0; i < STORE_CONNECTIONS; i++)
		if (s->conn[i].pg && pgconn_is_up(s->conn[i].pg))
			return true;
	return false;
}

void store_free(struct store *s)
{
	if (!s)
		return;
	for (int i = 0; i < STORE_CONNECTIONS; i++) {
		struct store_conn *c = &s->conn[i];
		/* closes at once: the running statement gets no callback */
		pgconn_free(c->pg);
		c->pg = NULL;
		if (c->cur) {
			store_op_finish(c->cur, STORE_CANCELLED, NULL, "shutting down");
			answered(s, c->cur);
			c->cur = NULL;
		}
		if (c->res)
			PQclear(c->res);
		c->res = NULL;
	}
	while (s->head) {
		struct store_op *op = s->head;
		s->head = op->next;
		store_op_finish(op, STORE_CANCELLED, NULL, "shutting down");
		answered(s, op);
	}
	s->tail = NULL;
	if (s->deliver)
		deliver(-1, 0, s);
	for (int i = 0; i < STORE_CACHE_MAX; i++)
		cache_clear(&s->cache[i]);
	if (s->deliver)
		event_free(s->deliver);
	if (s->tick)
		event_free(s->tick);
	free(s);
}

/* ------------------------------------------------------------ cache */

json_t *store_cache_get(struct store *s, const char *key)
{
	double now = twtime_mono_ms();
	for (int i = 0; i < STORE_CACHE_MAX; i++) {
		struct store_cached *c = &s->cache[i];
		if (c->key && strcmp(c->key, key) == 0 && now < c->expires_ms)
			return json_deep_copy(c->json);
	}
	return NULL;
}

static void cache_clear(struct store_cached *c)
{
	free(c->key);
	json_decref(c->json);
	memset(c, 0, sizeof *c);
}

void store_cache_put(struct store *s, const char *key, const json_t *json, unsigned ttl_ms)
{
	double now = twtime_mono_ms();
	struct store_cached *slot = NULL;
	for (int i = 0; i < STORE_CACHE_MAX; i++) {
		struct store_cached *c = &s->cache[i];
		if (c->key && (strcmp(c->key, key) == 0 || now >= c->expires_ms))
			cache_clear(c);
		/* a free slot, else the one that expires first */
		if (!slot || (slot->key && (!c->key || c->expires_ms < slot->expires_ms)))
			slot = c;
	}
	cache_clear(slot);
	if (!(slot->key = strdup(key)) || !(slot->json = json_deep_copy(json))) {
		cache_clear(slot);
		return;
	}
	slot->expires_ms = now + ttl_ms;
}

void store_answer_json(struct store *s, json_t *json, store_cb cb, void *arg)
{
	struct store_op *op = store_op_new(sizeof *op);
	if (!op) {
		json_decref(json);
		struct store_answer a = { .status = STORE_ERROR, .err = "out of memory" };
		cb(arg, &a);
		return;
	}
	op->s = s;
	op->cb = cb;
	op->arg = arg;
	s->pending++;
	store_op_finish(op, STORE_OK, json, NULL);
	answered(s, op);
}

static void blocking_timeout(evutil_socket_t fd, short what, void *arg)
{
	event_base_loopbreak(arg);
}

int store_run_blocking(struct store *s, struct event_base *base, unsigned timeout_ms)
{
	if (s->pending == 0)
		return 0;
	struct timeval tv = { timeout_ms / 1000, (timeout_ms % 1000) * 1000 };
	struct event *to = evtimer_new(base, blocking_timeout, base);
	if (!to || evtimer_add(to, &tv) != 0) {
		if (to)
			event_free(to);
		return -1;
	}
	s->blocking = base;
	int rc = event_base_dispatch(base);
	s->blocking = NULL;
	event_free(to);
	return rc < 0 || s->pending > 0 ? -1 : 0;
}
