/*
 * pgconn.c - see pgconn.h.
 *
 * One struct per connection, one state enum (a comment per state), one
 * writer of the state (set_state, which also arms the one timer for the new
 * state), one re-entry function (drive) that every libevent callback ends
 * in. User callbacks run only from drive's frames; pgconn_free() inside one
 * closes the connection at once and leaves the release to the outermost
 * frame when it unwinds (c->depth), so no object is freed under its own
 * callback.
 */
#include "pgconn.h"
#include "log.h"
#include "twtime.h"

#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#define DEF_CONNECT_TIMEOUT_MS 15000
#define DEF_REQUEST_TIMEOUT_MS 60000
#define DEF_RECONNECT_MIN_MS   250
#define DEF_RECONNECT_MAX_MS   10000
#define COPY_CHUNK_MAX         (1 << 20)
#define SAME_ERROR_QUIET_MS    60000 /* a repeated connect error is logged at debug */

enum pgconn_state {
	PGC_DOWN,       /* no PGconn; the timer fires the next connect (backoff) */
	PGC_CONNECTING, /* PQconnectPoll in progress; the timer is the connect deadline */
	PGC_SETUP,      /* the owner's setup SQL runs; the connect deadline still runs */
	PGC_IDLE,       /* up, no request; EV_READ armed to notice a close or a notice */
	PGC_BUSY,       /* one request runs; the timer is its deadline */
	PGC_CLOSED,     /* pgconn_free() was called inside a callback: no PGconn, no
			 * event, no callback; freed when the outermost frame unwinds */
};
static const char *const state_names[] = { "down", "connecting", "setup", "idle", "busy",
					   "closed" };

/* Inside SETUP and BUSY: what the statement's I/O is doing. */
enum io_phase {
	IO_RESULTS, /* flushing the query and reading results until PQgetResult is NULL */
	IO_COPY,    /* the server is in COPY IN: feeding copy_data's chunks */
};

/* What an I/O step achieved (memcached's style: no bare ints). */
enum io_status {
	IO_COMPLETE,   /* done: go on */
	IO_INCOMPLETE, /* the socket would block: wait for EV_WRITE */
	IO_HARD_ERROR, /* the connection is broken */
};

/* How a COPY's data ends. */
enum copy_end { COPY_MORE, COPY_FINISH, COPY_ABORT };

struct pgconn {
	struct event_base *base;
	char *conninfo, *app_name, *name, *setup_sql;
	struct pgconn_opts o;

	enum pgconn_state state;
	enum io_phase io;
	PGconn *pg;
	int fd;
	struct event *rev, *wev, *timer;
	bool rd_on, wr_on;       /* what rev/wev are armed for (saves epoll_ctl calls) */
	int depth;               /* drive() frames on the stack */

	unsigned backoff_ms;     /* the next reconnect's base delay */
	unsigned retry_ms;       /* the pending reconnect's delay (jitter included) */
	unsigned long reconnects;
	bool ever_up;
	uint64_t rng;            /* xorshift64*, seeded per object */
	char fail_why[256];      /* a send failure, reported by the timer from the loop */
	char lastlog[256];       /* the last connect error logged, and when */
	double lastlog_ms;

	/* the running request (BUSY) */
	pgconn_cb cb;
	pgconn_copy_cb copy_data;
	void *arg;
	unsigned timeout_ms;
	const char *chunk;       /* COPY: the chunk not yet taken by libpq */
	size_t chunk_len;
	enum copy_end copy_end;
	bool stmt_failed;
	char err[256];
	char sqlstate[6];
};

static void drive(struct pgconn *c, short what);
static void release(struct pgconn *c);

/* ------------------------------------------------------------ conninfo */

void pgconn_params_init(struct pgconn_params *p, const char *conninfo, const char *app_name)
{
	size_t i = 0;
	memset(p, 0, sizeof *p);
	/* defaults: before dbname, so the user's conninfo overrides them */
	p->keys[i] = "connect_timeout"; p->vals[i++] = "10";
	p->keys[i] = "keepalives_idle"; p->vals[i++] = "30";
	p->keys[i] = "keepalives_interval"; p->vals[i++] = "10";
	p->keys[i] = "keepalives_count"; p->vals[i++] = "3";
	/* the user's conninfo, expanded by libpq (expand_dbname = 1) */
	p->keys[i] = "dbname"; p->vals[i++] = conninfo;
	/* ours: after dbname, so they win (fallback_ is a fallback by name) */
	p->keys[i] = "fallback_application_name";
	p->vals[i++] = app_name ? app_name : "tlswatch-collector";
	p->keys[i] = "client_encoding"; p->vals[i++] = "UTF8";
}

static void errcopy(char *dst, size_t cap, const char *src)
{
	snprintf(dst, cap, "%s", src && *src ? src : "unknown error");
	dst[strcspn(dst, "\n")] = '\0';
}

PGconn *pgconn_connect_blocking(const char *conninfo, const char *app_name, char *err,
				size_t errlen)
{
	struct pgconn_params p;
	pgconn_params_init(&p, conninfo ? conninfo : "", app_name);
	PGconn *pg = PQconnectdbParams(p.keys, p.vals, 1);
	if (!pg) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	if (PQstatus(pg) != CONNECTION_OK) {
		errcopy(err, errlen, PQerrorMessage(pg));
		PQfinish(pg);
		return NULL;
	}
	return pg;
}

/* ------------------------------------------------------------ helpers */

static uint64_t rng_next(struct pgconn *c)
{
	/* xorshift64*: jitter only, not security */
	c->rng ^= c->rng >> 12;
	c->rng ^= c->rng << 25;
	c->rng ^= c->rng >> 27;
	return c->rng * 2685821657736338717ull;
}

static void rng_seed(struct pgconn *c)
{
	uint64_t s = 0;
	if (getrandom(&s, sizeof s, GRND_NONBLOCK) != (ssize_t)sizeof s) {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		s = ((uint64_t)getpid() << 32) ^ (uint64_t)ts.tv_nsec ^ (uint64_t)ts.tv_sec ^
		    (uint64_t)(uintptr_t)c;
	}
	c->rng = s ? s : 88172645463325252ull;
}

static void timer_in(struct event *ev, unsigned ms)
{
	struct timeval tv = { ms / 1000, (suseconds_t)(ms % 1000) * 1000 };
	event_add(ev, &tv);
}

static bool is_up(enum pgconn_state s)
{
	return s == PGC_IDLE || s == PGC_BUSY;
}

/* Logs a connect failure: the same message again within a minute at debug
 * only (a server down for an hour must not fill the log). */
static void log_connect_error(struct pgconn *c, const char *why)
{
	double now = twtime_mono_ms();
	if (strcmp(why, c->lastlog) == 0 && now - c->lastlog_ms < SAME_ERROR_QUIET_MS) {
		log_debug("%s: connect failed: %s (retry in %u ms)", c->name, why, c->retry_ms);
		return;
	}
	snprintf(c->lastlog, sizeof c->lastlog, "%s", why);
	c->lastlog_ms = now;
	log_warn("%s: connect failed: %s (retry in %u ms)", c->name, why, c->retry_ms);
}

/* The only writer of c->state; arms the timer for the new state. */
static void set_state(struct pgconn *c, enum pgconn_state s)
{
	if (c->state != s)
		log_debug("%s: %s -> %s", c->name, state_names[c->state], state_names[s]);
	c->state = s;
	event_del(c->timer);
	switch (s) {
	case PGC_DOWN: {
		/* exponential backoff with +-20% jitter from this object's generator */
		unsigned d = c->backoff_ms;
		unsigned span = d / 5 * 2 + 1;
		c->retry_ms = d - d / 5 + (unsigned)(rng_next(c) % span);
		timer_in(c->timer, c->retry_ms);
		c->backoff_ms = c->backoff_ms > c->o.reconnect_max_ms / 2 ? c->o.reconnect_max_ms
									  : c->backoff_ms * 2;
		break;
	}
	case PGC_CONNECTING:
		c->retry_ms = 0;
		timer_in(c->timer, c->o.connect_timeout_ms);
		break;
	case PGC_SETUP:
		break; /* the connect deadline keeps running */
	case PGC_BUSY:
		timer_in(c->timer, c->timeout_ms);
		break;
	case PGC_IDLE:
	case PGC_CLOSED:
		break;
	}
}

static void drop_events(struct pgconn *c)
{
	if (c->rev)
		event_free(c->rev);
	if (c->wev)
		event_free(c->wev);
	c->rev = c->wev = NULL;
	c->rd_on = c->wr_on = false;
	c->fd = -1;
}

static void on_io(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	drive(arg, what);
}

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	drive(arg, EV_TIMEOUT);
}

/* Arms EV_READ / EV_WRITE on libpq's socket (which changes between
 * connect attempts, even within one with several hosts). */
static int watch(struct pgconn *c, bool rd, bool wr)
{
	int fd = PQsocket(c->pg);
	if (fd < 0)
		return -1;
	if (fd != c->fd || !c->rev) {
		drop_events(c);
		c->rev = event_new(c->base, fd, EV_READ | EV_PERSIST, on_io, c);
		c->wev = event_new(c->base, fd, EV_WRITE | EV_PERSIST, on_io, c);
		if (!c->rev || !c->wev)
			return -1;
		c->fd = fd;
	}
	if (rd != c->rd_on) {
		if ((rd ? event_add(c->rev, NULL) : event_del(c->rev)) < 0)
			return -1;
		c->rd_on = rd;
	}
	if (wr != c->wr_on) {
		if ((wr ? event_add(c->wev, NULL) : event_del(c->wev)) < 0)
			return -1;
		c->wr_on = wr;
	}
	return 0;
}

static void close_pg(struct pgconn *c)
{
	drop_events(c);
	if (c->pg)
		PQfinish(c->pg);
	c->pg = NULL;
}

/* The connection is unusable: close it, end the running request with
 * LOST, tell the owner if it was up, and schedule the reconnect. */
static void lost(struct pgconn *c, const char *why)
{
	char reason[256];
	enum pgconn_state was = c->state;
	pgconn_cb cb = c->cb;
	void *arg = c->arg;

	errcopy(reason, sizeof reason, why);
	close_pg(c);
	c->cb = NULL;
	c->copy_data = NULL;
	set_state(c, PGC_DOWN);
	if (!is_up(was)) {
		log_connect_error(c, reason);
		return;
	}
	log_warn("%s: connection lost: %s (reconnecting in %u ms)", c->name, reason, c->retry_ms);
	if (was == PGC_BUSY && cb) {
		struct pgconn_reply rep = { .outcome = PGCONN_LOST, .err = reason, .sqlstate = "" };
		cb(arg, c, &rep);
		if (c->state == PGC_CLOSED)
			return;
	}
	if (c->o.on_state)
		c->o.on_state(c->o.arg, c, false, reason);
}

/* Server notices (and libpq's own) go to our log, not to stderr. */
static void on_notice(void *arg, const char *msg)
{
	struct pgconn *c = arg;
	char m[256];
	errcopy(m, sizeof m, msg);
	log_debug("%s: server says: %s", c->name, m);
}

static void start_connect(struct pgconn *c)
{
	struct pgconn_params p;
	pgconn_params_init(&p, c->conninfo, c->app_name);
	c->fail_why[0] = '\0';
	c->stmt_failed = false;
	c->err[0] = c->sqlstate[0] = '\0';
	c->pg = PQconnectStartParams(p.keys, p.vals, 1);
	set_state(c, PGC_CONNECTING);
	if (!c->pg || PQstatus(c->pg) == CONNECTION_BAD) {
		lost(c, c->pg ? PQerrorMessage(c->pg) : "out of memory");
		return;
	}
	PQsetNoticeProcessor(c->pg, on_notice, c);
	/* libpq: behave as if PQconnectPoll had returned PGRES_POLLING_WRITING */
	if (watch(c, false, true) < 0)
		lost(c, "cannot watch the socket");
}

/* Sends sql; the state (SETUP or BUSY) is already set. False when the
 * connection had to be dropped. */
static bool send_query(struct pgconn *c, const char *sql, int n, const char *const *vals)
{
	c->io = IO_RESULTS;
	c->stmt_failed = false;
	c->err[0] = c->sqlstate[0] = '\0';
	c->chunk = NULL;
	c->chunk_len = 0;
	c->copy_end = COPY_MORE;
	int ok = n ? PQsendQueryParams(c->pg, sql, n, NULL, vals, NULL, NULL, 0)
		   : PQsendQuery(c->pg, sql);
	if (!ok) {
		errcopy(c->fail_why, sizeof c->fail_why, PQerrorMessage(c->pg));
		return false;
	}
	if (PQflush(c->pg) < 0) {
		errcopy(c->fail_why, sizeof c->fail_why, PQerrorMessage(c->pg));
		return false;
	}
	return true;
}

/* ------------------------------------------------------------ I/O */

/* Feeds the COPY until its end is sent, or the socket would block. */
static enum io_status copy_pump(struct pgconn *c)
{
	for (;;) {
		int f = PQflush(c->pg);
		if (f < 0)
			return IO_HARD_ERROR;
		if (f > 0)
			return IO_INCOMPLETE;
		if (c->copy_end == COPY_MORE && !c->chunk) {
			const char *b = NULL;
			size_t n = 0;
			int r = c->copy_data ? c->copy_data(c->arg, &b, &n) : 0;
			if (r > 0 && n > 0 && b) {
				c->chunk = b;
				c->chunk_len = n;
			} else if (r <= 0) {
				c->copy_end = r == 0 ? COPY_FINISH : COPY_ABORT;
			}
			continue;
		}
		if (c->chunk) {
			size_t n = c->chunk_len > COPY_CHUNK_MAX ? COPY_CHUNK_MAX : c->chunk_len;
			int r = PQputCopyData(c->pg, c->chunk, (int)n);
			if (r < 0)
				return IO_HARD_ERROR;
			if (r == 0)
				return IO_INCOMPLETE;
			c->chunk += n;
			c->chunk_len -= n;
			if (c->chunk_len == 0)
				c->chunk = NULL;
			continue;
		}
		int r = PQputCopyEnd(c->pg, c->copy_end == COPY_FINISH ? NULL
							 : "COPY data aborted by the client");
		if (r < 0)
			return IO_HARD_ERROR;
		return r == 0 ? IO_INCOMPLETE : IO_COMPLETE;
	}
}

/* Setup finished (all results in). */
static void setup_done(struct pgconn *c)
{
	if (c->stmt_failed) {
		char why[sizeof c->err + 16];
		snprintf(why, sizeof why, "setup: %s", c->err);
		lost(c, why);
		return;
	}
	c->backoff_ms = c->o.reconnect_min_ms;
	if (c->ever_up)
		c->reconnects++;
	log_info("%s: connected%s", c->name, c->ever_up ? " again" : "");
	c->ever_up = true;
	c->lastlog[0] = '\0';
	set_state(c, PGC_IDLE);
	if (watch(c, true, false) < 0) {
		lost(c, "cannot watch the socket");
		return;
	}
	if (c->o.on_state)
		c->o.on_state(c->o.arg, c, true, NULL);
}

/* The request's results are all in: idle again, then its "done" (which
 * may submit the next request on this connection). */
static void request_done(struct pgconn *c)
{
	pgconn_cb cb = c->cb;
	void *arg = c->arg;
	char err[sizeof c->err], ss[sizeof c->sqlstate];
	bool failed = c->stmt_failed;
	memcpy(err, c->err, sizeof err);
	memcpy(ss, c->sqlstate, sizeof ss);
	c->cb = NULL;
	c->copy_data = NULL;
	set_state(c, PGC_IDLE);
	struct pgconn_reply rep = { .outcome = failed ? PGCONN_ERROR : PGCONN_OK,
				    .err = failed ? err : NULL, .sqlstate = ss };
	if (cb)
		cb(arg, c, &rep);
	if (c->state == PGC_IDLE && watch(c, true, false) < 0)
		lost(c, "cannot watch the socket");
}

/* One result of the running statement(s). */
static void got_result(struct pgconn *c, PGresult *r)
{
	ExecStatusType st = PQresultStatus(r);
	if (st == PGRES_FATAL_ERROR && !c->stmt_failed) {
		const char *ss = PQresultErrorField(r, PG_DIAG_SQLSTATE);
		c->stmt_failed = true;
		snprintf(c->sqlstate, sizeof c->sqlstate, "%s", ss ? ss : "");
		errcopy(c->err, sizeof c->err, PQresultErrorMessage(r));
	}
	if (c->state != PGC_BUSY || !c->cb) {
		PQclear(r);
		return;
	}
	struct pgconn_reply rep = { .result = r, .outcome = PGCONN_OK, .sqlstate = "" };
	c->cb(c->arg, c, &rep);
	if (rep.result)
		PQclear(rep.result);
}

/* Moves the running statement as far as it goes without blocking. */
static void io_run(struct pgconn *c)
{
	while (c->state == PGC_SETUP || c->state == PGC_BUSY) {
		if (c->io == IO_COPY) {
			enum io_status r = copy_pump(c);
			if (r == IO_HARD_ERROR) {
				lost(c, PQerrorMessage(c->pg));
				return;
			}
			if (r == IO_INCOMPLETE) {
				if (watch(c, true, true) < 0)
					lost(c, "cannot watch the socket");
				return;
			}
			c->io = IO_RESULTS;
		}
		int f = PQflush(c->pg);
		if (f < 0) {
			lost(c, PQerrorMessage(c->pg));
			return;
		}
		if (watch(c, true, f > 0) < 0) {
			lost(c, "cannot watch the socket");
			return;
		}
		if (PQisBusy(c->pg))
			return;
		PGresult *r = PQgetResult(c->pg);
		if (!r) {
			if (PQstatus(c->pg) == CONNECTION_BAD) {
				lost(c, PQerrorMessage(c->pg));
				return;
			}
			if (c->state == PGC_SETUP)
				setup_done(c);
			else
				request_done(c); /* the callback may submit the next request */
			continue;
		}
		switch (PQresultStatus(r)) {
		case PGRES_COPY_IN:
			PQclear(r);
			if (c->state == PGC_BUSY && c->copy_data) {
				c->io = IO_COPY;
			} else if (PQputCopyEnd(c->pg, "COPY is not expected here") < 0) {
				lost(c, PQerrorMessage(c->pg));
				return;
			}
			break;
		case PGRES_COPY_OUT:
		case PGRES_COPY_BOTH:
			PQclear(r);
			lost(c, "unexpected COPY OUT");
			return;
		default:
			got_result(c, r);
		}
	}
}

/* After PQconnectPoll says OK: non-blocking mode, then the setup SQL. */
static void connected(struct pgconn *c)
{
	if (PQsetnonblocking(c->pg, 1) != 0) {
		lost(c, "cannot make the connection non-blocking");
		return;
	}
	set_state(c, PGC_SETUP);
	if (!c->setup_sql) {
		setup_done(c);
		return;
	}
	if (!send_query(c, c->setup_sql, 0, NULL)) {
		lost(c, c->fail_why);
		return;
	}
	io_run(c);
}

/* The one re-entry: every socket event and timer lands here. */
static void drive(struct pgconn *c, short what)
{
	c->depth++;
	switch (c->state) {
	case PGC_DOWN:
		if (what & EV_TIMEOUT)
			start_connect(c);
		break;
	case PGC_CONNECTING:
		if (what & EV_TIMEOUT) {
			lost(c, "connect timed out");
			break;
		}
		/* While connecting, libpq may close its socket and open another
		 * (the next host of a multi-host conninfo, an sslmode retry) that
		 * usually gets the same descriptor number: epoll forgot the old
		 * registration when the old socket closed, so a "same fd" test
		 * would wait for an event that never comes. Register afresh on
		 * every step; connecting takes a handful of them. */
		switch (PQconnectPoll(c->pg)) {
		case PGRES_POLLING_READING:
			drop_events(c);
			if (watch(c, true, false) < 0)
				lost(c, "cannot watch the socket");
			break;
		case PGRES_POLLING_WRITING:
			drop_events(c);
			if (watch(c, false, true) < 0)
				lost(c, "cannot watch the socket");
			break;
		case PGRES_POLLING_OK:
			connected(c);
			break;
		default:
			lost(c, PQerrorMessage(c->pg));
		}
		break;
	case PGC_SETUP:
	case PGC_BUSY:
		if (what & EV_TIMEOUT) {
			if (c->fail_why[0])
				lost(c, c->fail_why);
			else
				lost(c, c->state == PGC_SETUP ? "connect timed out (setup)"
							       : "request timed out");
			break;
		}
		if ((what & EV_READ) && !PQconsumeInput(c->pg)) {
			lost(c, PQerrorMessage(c->pg));
			break;
		}
		io_run(c);
		break;
	case PGC_IDLE: {
		/* nothing expected: the server closed, or a notice */
		if (!PQconsumeInput(c->pg) || PQstatus(c->pg) == CONNECTION_BAD) {
			lost(c, PQerrorMessage(c->pg));
			break;
		}
		PGnotify *nt;
		while ((nt = PQnotifies(c->pg)))
			PQfreemem(nt);
		if ((what & EV_WRITE) && watch(c, true, false) < 0)
			lost(c, "cannot watch the socket");
		break;
	}
	case PGC_CLOSED:
		break;
	}
	if (--c->depth == 0 && c->state == PGC_CLOSED)
		release(c);
}

/* ------------------------------------------------------------ public */

static char *dup_or_null(const char *s, bool *oom)
{
	if (!s)
		return NULL;
	char *d = strdup(s);
	if (!d)
		*oom = true;
	return d;
}

struct pgconn *pgconn_new(struct event_base *base, const struct pgconn_opts *o, char *err,
			  size_t errlen)
{
	if (!base || !o || !o->conninfo) {
		snprintf(err, errlen, "pgconn: no event base or conninfo");
		return NULL;
	}
	struct pgconn *c = calloc(1, sizeof *c);
	bool oom = !c;
	if (oom)
		goto oom;
	c->base = base;
	c->o = *o;
	c->fd = -1;
	c->conninfo = dup_or_null(o->conninfo, &oom);
	c->app_name = dup_or_null(o->app_name ? o->app_name : "tlswatch-collector", &oom);
	c->name = dup_or_null(o->name ? o->name : "pg", &oom);
	c->setup_sql = dup_or_null(o->setup_sql, &oom);
	c->o.conninfo = c->o.app_name = c->o.name = c->o.setup_sql = NULL;
	if (!c->o.connect_timeout_ms)
		c->o.connect_timeout_ms = DEF_CONNECT_TIMEOUT_MS;
	if (!c->o.reconnect_min_ms)
		c->o.reconnect_min_ms = DEF_RECONNECT_MIN_MS;
	if (!c->o.reconnect_max_ms)
		c->o.reconnect_max_ms = DEF_RECONNECT_MAX_MS;
	if (c->o.reconnect_max_ms < c->o.reconnect_min_ms)
		c->o.reconnect_max_ms = c->o.reconnect_min_ms;
	c->backoff_ms = c->o.reconnect_min_ms;
	rng_seed(c);
	c->timer = evtimer_new(base, on_timer, c);
	if (oom || !c->timer)
		goto oom;
	c->depth++;
	start_connect(c); /* a failure only schedules the retry: no callback yet */
	c->depth--;
	return c;
oom:
	snprintf(err, errlen, "pgconn: out of memory");
	release(c);
	return NULL;
}

static void release(struct pgconn *c)
{
	if (!c)
		return;
	close_pg(c);
	if (c->timer)
		event_free(c->timer);
	if (c->conninfo) {
		explicit_bzero(c->conninfo, strlen(c->conninfo));
		free(c->conninfo);
	}
	free(c->app_name);
	free(c->name);
	free(c->setup_sql);
	free(c);
}

void pgconn_free(struct pgconn *c)
{
	if (!c)
		return;
	if (c->depth == 0) {
		release(c);
		return;
	}
	/* inside one of our callbacks: close now, free when the stack unwinds */
	close_pg(c);
	c->cb = NULL;
	c->copy_data = NULL;
	set_state(c, PGC_CLOSED);
}

bool pgconn_is_up(const struct pgconn *c)
{
	return c && is_up(c->state);
}

bool pgconn_is_idle(const struct pgconn *c)
{
	return c && c->state == PGC_IDLE;
}

bool pgconn_in_transaction(const struct pgconn *c)
{
	return c && c->pg && is_up(c->state) && PQtransactionStatus(c->pg) != PQTRANS_IDLE;
}

unsigned pgconn_retry_delay_ms(const struct pgconn *c)
{
	return c && c->state == PGC_DOWN ? c->retry_ms : 0;
}

unsigned long pgconn_reconnects(const struct pgconn *c)
{
	return c ? c->reconnects : 0;
}

int pgconn_submit(struct pgconn *c, const struct pgconn_request *rq)
{
	if (!c || !rq || !rq->sql || !rq->cb || rq->nparams < 0 || (rq->nparams && !rq->params)) {
		errno = EINVAL;
		return -1;
	}
	if (c->state != PGC_IDLE) {
		errno = EBUSY;
		return -1;
	}
	c->cb = rq->cb;
	c->copy_data = rq->copy_data;
	c->arg = rq->arg;
	c->timeout_ms = rq->timeout_ms ? rq->timeout_ms : DEF_REQUEST_TIMEOUT_MS;
	c->fail_why[0] = '\0';
	set_state(c, PGC_BUSY);
	if (!send_query(c, rq->sql, rq->nparams, rq->params)) {
		/* reported from the loop (never inside the caller): the deadline
		 * fires now and finds fail_why */
		timer_in(c->timer, 0);
		return 0;
	}
	if (watch(c, true, true) < 0) {
		snprintf(c->fail_why, sizeof c->fail_why, "cannot watch the socket");
		timer_in(c->timer, 0);
	}
	return 0;
}
