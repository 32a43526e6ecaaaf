/*
 * ingest.c - the probe-connection server (see ingest.h).
 *
 * One struct ingest_conn per accepted socket, driven by libevent
 * (bufferevent_openssl in accepting mode). Its state only changes through
 * conn_set_state(), which also arms the state's deadline:
 *
 *   TLS_ACCEPTING --handshake ok, cert names CN+OU--> AWAIT_HELLO
 *   AWAIT_HELLO   --Hello matches the certificate---> STREAMING
 *   STREAMING     --SIGTERM--> DRAINING --all committed and acked--> CLOSED
 *   STREAMING     --same probe connected again, db job in flight--> RETIRING
 *   RETIRING      --its db job finished--> CLOSED
 *   any           --refusal, peer gone, timeout--> CLOSED
 *
 * Storage ordering. Commits of one probe happen in order from one
 * connection: a connection has at most one db job in flight; further
 * batches accumulate in a pending list (bounded by max_pending_rows, then
 * reading stops: the probe keeps spooling). When a probe reconnects while
 * its old connection still has a job in flight, the old one becomes
 * RETIRING and the new one (its successor) submits nothing - not even the
 * db_last_seq lookup - until that job has finished. The lookup after Hello
 * also counts as in flight, so acks on a connection never go backwards.
 *
 * Database failures. A failed job is not acked; its rows go back to the
 * front of the pending list and are retried (backoff 0.5 s doubling to
 * 8 s, or at once when db_on_ready fires). After INGEST_MAX_DB_ATTEMPTS
 * consecutive failures of the same rows the connection is closed: the probe
 * still holds them in its spool and replays them on its next connection,
 * so nothing is lost and a poison batch does not spin forever here.
 * When the database cannot take rows (db_can_accept() false: no connection
 * or queue full; or db_is_ready() false: schema not migrated) or
 * db_ingest() says EAGAIN, reading stops on every probe connection until
 * db_on_ready fires (or a 1 s poll sees it ready again).
 *
 * Lifetime. Closing a connection cancels its db job and moves it to a
 * free-later list; a zero-timeout "reaper" event frees it, never inside its
 * own callback. db_last_seq() cannot be cancelled: see the lookup table.
 */
#include "ingest.h"
#include "ingest_batch.h"
#include "db.h"
#include "frame.h"
#include "log.h"
#include "tls_ctx.h"
#include "twtime.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/listener.h>
#include <event2/util.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#define INGEST_MAX_DB_ATTEMPTS 5
#define INGEST_RETRY_MIN_MS    500
#define INGEST_RETRY_MAX_MS    8000
#define INGEST_ID_MAX          128   /* probe id / region from a certificate */
#define INGEST_VERSION_MAX     64
#define INGEST_RESUME_POLL_MS  1000

enum conn_state {
	/* TCP accepted, TLS handshake in progress (the peer must present a
	 * certificate from ca_file). Deadline: handshake_timeout. */
	CONN_TLS_ACCEPTING = 0,
	/* TLS up; probe id and region taken from the certificate. The first
	 * frame must be a Hello naming the same probe. Deadline: hello_timeout. */
	CONN_AWAIT_HELLO,
	/* Hello accepted: ResultBatches go to the database (one job in flight,
	 * more pending), Heartbeats update the probe's last_seen. Deadline:
	 * idle_timeout since the last frame, suspended while reading is paused. */
	CONN_STREAMING,
	/* Shutting down: no more reading; pending and in-flight batches are
	 * committed and acked, then the connection closes once its output is
	 * flushed. Bounded by the shutdown timeout, not a deadline of its own. */
	CONN_DRAINING,
	/* Superseded by a newer connection of the same probe while a db job was
	 * in flight: not reading, not acking; kept until that job finishes so
	 * the successor's commits come after it. No deadline. */
	CONN_RETIRING,
	/* Closed: events off, on the free-later list, freed by the reaper. */
	CONN_CLOSED,
};

static const char *const state_names[] = {
	"tls_accepting", "await_hello", "streaming", "draining", "retiring", "closed",
};

static const char *const refusal_names[REFUSE__COUNT] = {
	[REFUSE_MAX_CONNECTIONS] = "max_connections",
	[REFUSE_NO_CLIENT_CERT] = "no_client_cert",
	[REFUSE_CERT_VERIFY_FAILED] = "cert_verify_failed",
	[REFUSE_TLS_HANDSHAKE_FAILED] = "tls_handshake_failed",
	[REFUSE_HANDSHAKE_TIMEOUT] = "handshake_timeout",
	[REFUSE_CERT_IDENTITY] = "cert_identity",
	[REFUSE_HELLO_TIMEOUT] = "hello_timeout",
	[REFUSE_HELLO_MISMATCH] = "hello_mismatch",
	[REFUSE_IDENTITY_MISMATCH] = "identity_mismatch",
	[REFUSE_FRAME_TOO_LARGE] = "frame_too_large",
	[REFUSE_MALFORMED_FRAME] = "malformed_frame",
	[REFUSE_PROTOCOL] = "protocol",
};

static const char *const close_names[CLOSE__COUNT] = {
	[CLOSE_PEER] = "peer_closed",
	[CLOSE_IDLE_TIMEOUT] = "idle_timeout",
	[CLOSE_SUPERSEDED] = "superseded",
	[CLOSE_DB_FAILED] = "db_failed",
	[CLOSE_SHUTDOWN] = "shutdown",
};

const char *ingest_refusal_name(enum ingest_refusal r)
{
	return (unsigned)r < REFUSE__COUNT ? refusal_names[r] : "unknown";
}

const char *ingest_close_name(enum ingest_close c)
{
	return (unsigned)c < CLOSE__COUNT ? close_names[c] : "unknown";
}

/* One received ResultBatch; owns the decoded envelope. */
struct ingest_batch {
	struct ingest_batch *next;
	Tlswatch__Envelope *env;
	size_t n;
	int64_t received_ms;
};

struct ingest_conn {
	struct ingest *ing;
	struct ingest_conn *prev, *next;  /* live list, or the closed list */
	enum conn_state state;
	struct bufferevent *bev;          /* owns the SSL and the socket */
	SSL *ssl;                         /* borrowed from bev */
	struct event *deadline;           /* the state's timer */
	struct event *retry;              /* db retry backoff */
	struct event *kick;               /* deferred re-drive (never re-entrant) */
	char peer[INET6_ADDRSTRLEN + 8];
	char probe_id[INGEST_ID_MAX];     /* certificate CN ("" before the handshake) */
	char region[INGEST_ID_MAX];       /* certificate OU */
	char *version;                    /* from Hello, may be NULL */
	bool reading;                     /* EV_READ enabled */

	/* batches: pending (not submitted) then the one group in flight */
	struct ingest_batch *pending, *pending_tail;
	struct ingest_batch *inflight;
	size_t held_rows;                 /* pending + in flight */
	size_t inflight_rows;
	struct db_job *job;
	bool job_running;                 /* db_ingest accepted, callback not yet run */
	unsigned db_failures;             /* consecutive failures of the same rows */

	bool lastseq_needed;              /* Hello accepted, db_last_seq not asked yet */
	uint64_t lookup_id;               /* db_last_seq answer outstanding: our entry */
	struct ingest_conn *lookup_next;  /* the lookup table's chain */
	uint64_t acked_seq;               /* highest seq acked on this connection */

	struct ingest_conn *predecessor;  /* same probe, older, db job still running */
	struct ingest_conn *successor;
};

struct ingest {
	struct event_base *base;
	struct db_pool *db;
	SSL_CTX *ctx;
	struct evconnlistener *lev;
	unsigned port;
	struct ingest_opts o;
	struct event *reaper;
	struct event *resume_poll;        /* while paused: is the database back? */
	struct ingest_conn *live;         /* doubly linked */
	struct ingest_conn *closed;
	bool db_paused;
	struct ingest_stats st;

	bool shutting_down;
	struct event *shutdown_timer;
	struct event *shutdown_done_ev;
	void (*done)(void *arg);
	void *done_arg;
};

/* ---- small helpers ---- */

/* A peer-supplied string made safe for one log line: printable ASCII,
 * at most 64 characters. */
static const char *printable(const char *s, char *buf, size_t cap)
{
	size_t o = 0;
	if (!s)
		s = "(none)";
	for (; *s && o + 4 < cap && o < 64; s++)
		buf[o++] = (*s >= 0x20 && *s < 0x7f) ? *s : '?';
	if (*s && o + 4 < cap) {
		memcpy(buf + o, "...", 3);
		o += 3;
	}
	buf[o] = '\0';
	return buf;
}

__attribute__((format(printf, 3, 4)))
static void conn_log(const struct ingest_conn *c, enum log_level lvl, const char *fmt, ...)
{
	if ((int)lvl > log_active_level)
		return;
	char msg[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	if (c->probe_id[0])
		log_write(lvl, "peer=%s probe=%s region=%s %s", c->peer, c->probe_id, c->region, msg);
	else
		log_write(lvl, "peer=%s %s", c->peer, msg);
}

static void format_peer(const struct sockaddr *sa, char *buf, size_t cap)
{
	char host[INET6_ADDRSTRLEN] = "?";
	unsigned port = 0;
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *s4 = (const struct sockaddr_in *)sa;
		inet_ntop(AF_INET, &s4->sin_addr, host, sizeof host);
		port = ntohs(s4->sin_port);
		snprintf(buf, cap, "%s:%u", host, port);
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)sa;
		inet_ntop(AF_INET6, &s6->sin6_addr, host, sizeof host);
		port = ntohs(s6->sin6_port);
		snprintf(buf, cap, "[%s]:%u", host, port);
	} else {
		snprintf(buf, cap, "unknown");
	}
}

static void ms_to_tv(unsigned ms, struct timeval *tv)
{
	tv->tv_sec = ms / 1000;
	tv->tv_usec = (suseconds_t)(ms % 1000) * 1000;
}

static void batches_free(struct ingest_batch *b)
{
	while (b) {
		struct ingest_batch *next = b->next;
		tlswatch__envelope__free_unpacked(b->env, NULL);
		free(b);
		b = next;
	}
}

static void list_remove(struct ingest_conn **head, struct ingest_conn *c)
{
	if (c->prev)
		c->prev->next = c->next;
	else
		*head = c->next;
	if (c->next)
		c->next->prev = c->prev;
	c->prev = c->next = NULL;
}

static void list_push(struct ingest_conn **head, struct ingest_conn *c)
{
	c->prev = NULL;
	c->next = *head;
	if (*head)
		(*head)->prev = c;
	*head = c;
}

static void conn_advance(struct ingest_conn *c);

/* ---- db_last_seq lookups ----
 *
 * db_last_seq() cannot be cancelled, and its answer may come after the
 * connection - or the whole server - is gone (ingest_free() before the pool
 * answers on a later loop turn). So the callback's argument is not the
 * connection but a number, and this table maps the numbers still wanted to
 * their connections. Closing a connection removes its entry; an answer
 * whose number is not in the table is dropped. Nothing is allocated per
 * lookup, so an answer that never comes (the pool freed first) leaks
 * nothing. One table per process, used only from the loop thread.
 */
#define LOOKUP_BUCKETS 256
static struct ingest_conn *lookup_table[LOOKUP_BUCKETS];
static uint64_t lookup_last_id;

static void lookup_add(struct ingest_conn *c)
{
	struct ingest_conn **head;
	c->lookup_id = ++lookup_last_id;
	head = &lookup_table[c->lookup_id % LOOKUP_BUCKETS];
	c->lookup_next = *head;
	*head = c;
}

/* Takes the entry of id out of the table: its connection, or NULL. */
static struct ingest_conn *lookup_take(uint64_t id)
{
	struct ingest_conn **pp = &lookup_table[id % LOOKUP_BUCKETS];
	for (; *pp; pp = &(*pp)->lookup_next) {
		struct ingest_conn *c = *pp;
		if (c->lookup_id == id) {
			*pp = c->lookup_next;
			c->lookup_next = NULL;
			c->lookup_id = 0;
			return c;
		}
	}
	return NULL;
}
static void conn_update_reading(struct ingest_conn *c);
static void conn_process_input(struct ingest_conn *c);
static void conn_check_drained(struct ingest_conn *c);
static void check_shutdown_done(struct ingest *ing);

/* ---- state ---- */

/* Arms the current state's deadline (or clears it). */
static void conn_arm_deadline(struct ingest_conn *c)
{
	const struct ingest_opts *o = &c->ing->o;
	struct timeval tv;
	unsigned ms = 0;
	switch (c->state) {
	case CONN_TLS_ACCEPTING: ms = o->handshake_timeout_ms; break;
	case CONN_AWAIT_HELLO: ms = o->hello_timeout_ms; break;
	case CONN_STREAMING:
		/* idle time runs only while the probe could send and we owe it
		 * nothing: not while reading is paused or rows await their Ack */
		ms = c->reading && c->held_rows == 0 ? o->idle_timeout_ms : 0;
		break;
	default: ms = 0; break;
	}
	if (ms == 0) {
		evtimer_del(c->deadline);
		return;
	}
	ms_to_tv(ms, &tv);
	evtimer_add(c->deadline, &tv);
}

/* The only writer of c->state. */
static void conn_set_state(struct ingest_conn *c, enum conn_state st)
{
	if (c->state == st)
		return;
	log_debug("peer=%s probe=%s state %s -> %s", c->peer, c->probe_id[0] ? c->probe_id : "-",
		  state_names[c->state], state_names[st]);
	c->state = st;
	conn_arm_deadline(c);
}

static void schedule_reaper(struct ingest *ing)
{
	event_active(ing->reaper, EV_TIMEOUT, 0);
}

static void conn_kick(struct ingest_conn *c)
{
	if (c->state != CONN_CLOSED)
		event_active(c->kick, EV_TIMEOUT, 0);
}

/* Closes c: cancels its job, drops its batches, moves it to the free-later
 * list. Statistics and logging are the caller's. */
static void conn_close(struct ingest_conn *c)
{
	struct ingest *ing = c->ing;
	if (c->state == CONN_CLOSED)
		return;
	if (c->job) {
		db_job_cancel(c->job);
		c->job = NULL;
	}
	c->job_running = false;
	if (c->lookup_id)
		lookup_take(c->lookup_id);
	batches_free(c->pending);
	batches_free(c->inflight);
	c->pending = c->pending_tail = c->inflight = NULL;
	ing->st.pending_rows -= c->held_rows;
	c->held_rows = c->inflight_rows = 0;
	if (c->predecessor) {
		c->predecessor->successor = NULL;
		c->predecessor = NULL;
	}
	if (c->successor) {
		struct ingest_conn *s = c->successor;
		s->predecessor = NULL;
		c->successor = NULL;
		conn_kick(s);
	}
	conn_set_state(c, CONN_CLOSED);
	evtimer_del(c->retry);
	event_del(c->kick);
	bufferevent_disable(c->bev, EV_READ | EV_WRITE);
	bufferevent_setcb(c->bev, NULL, NULL, NULL, NULL);
	c->reading = false;
	list_remove(&ing->live, c);
	list_push(&ing->closed, c);
	ing->st.connections_current--;
	schedule_reaper(ing);
	if (ing->shutting_down)
		check_shutdown_done(ing);
}

/* Refuses a misbehaving peer: one warning with the reason, counted by kind. */
__attribute__((format(printf, 3, 4)))
static void conn_refuse(struct ingest_conn *c, enum ingest_refusal why, const char *fmt, ...)
{
	char msg[768];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	c->ing->st.refused[why]++;
	conn_log(c, TWLOG_WARN, "refused (%s): %s", refusal_names[why], msg);
	conn_close(c);
}

/* Ends an accepted stream for a reason that is not the peer's fault. */
__attribute__((format(printf, 4, 5)))
static void conn_end(struct ingest_conn *c, enum ingest_close why, enum log_level lvl,
		     const char *fmt, ...)
{
	char msg[768];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	c->ing->st.closed[why]++;
	conn_log(c, lvl, "closed (%s): %s", close_names[why], msg);
	conn_close(c);
}

static void conn_free(struct ingest_conn *c)
{
	if (c->bev)
		bufferevent_free(c->bev);  /* frees the SSL, closes the socket */
	if (c->deadline)
		event_free(c->deadline);
	if (c->retry)
		event_free(c->retry);
	if (c->kick)
		event_free(c->kick);
	free(c->version);
	free(c);
}

static void reaper_cb(evutil_socket_t fd, short what, void *arg)
{
	struct ingest *ing = arg;
	struct ingest_conn *c = ing->closed;
	while (c) {
		struct ingest_conn *next = c->next;
		list_remove(&ing->closed, c);
		conn_free(c);
		c = next;
	}
}

/* ---- backpressure ---- */

static bool conn_wants_read(const struct ingest_conn *c)
{
	const struct ingest *ing = c->ing;
	switch (c->state) {
	case CONN_TLS_ACCEPTING:
	case CONN_AWAIT_HELLO:
		return true;
	case CONN_STREAMING:
		return !ing->db_paused && c->held_rows < c->ing->o.max_pending_rows;
	default:
		return false;
	}
}

/* Enables or disables EV_READ to match conn_wants_read(); on resume,
 * frames already buffered are processed (from the kick event). */
static void conn_update_reading(struct ingest_conn *c)
{
	if (c->state == CONN_CLOSED)
		return;
	bool want = conn_wants_read(c);
	if (want == c->reading)
		return;
	c->reading = want;
	if (want) {
		bufferevent_enable(c->bev, EV_READ);
		if (evbuffer_get_length(bufferevent_get_input(c->bev)) > 0)
			conn_kick(c);
	} else {
		bufferevent_disable(c->bev, EV_READ);
	}
	if (c->state == CONN_STREAMING)
		conn_arm_deadline(c);  /* idle time does not run while we hold the probe back */
}

/* Rows go to the database only when it is up, migrated and has room. */
static bool db_takes_rows(const struct ingest *ing)
{
	return db_can_accept(ing->db) && db_is_ready(ing->db);
}

static void ingest_pause_all(struct ingest *ing)
{
	struct timeval tv = { INGEST_RESUME_POLL_MS / 1000, (INGEST_RESUME_POLL_MS % 1000) * 1000 };
	evtimer_add(ing->resume_poll, &tv);
	if (ing->db_paused)
		return;
	ing->db_paused = true;
	ing->st.reading_paused = true;
	log_warn("database cannot take rows (%s): pausing reads from probe connections "
		 "(they keep spooling)", db_is_ready(ing->db) ? "queue full" : "not ready");
	for (struct ingest_conn *c = ing->live; c; c = c->next)
		conn_update_reading(c);
}

static void on_db_ready(void *arg);

/* db_on_ready fires when the pool starts accepting again; a schema that
 * becomes ready later is noticed by this poll while paused. */
static void resume_poll_cb(evutil_socket_t fd, short what, void *arg)
{
	struct ingest *ing = arg;
	if (!ing->db_paused)
		return;
	if (db_takes_rows(ing))
		on_db_ready(ing);
	else
		ingest_pause_all(ing);  /* re-arms the poll */
}

static void on_db_ready(void *arg)
{
	struct ingest *ing = arg;
	if (!db_takes_rows(ing)) {
		if (ing->db_paused)
			ingest_pause_all(ing);
		return;
	}
	if (ing->db_paused)
		log_info("database takes rows again: resuming reads from probe connections");
	evtimer_del(ing->resume_poll);
	ing->db_paused = false;
	ing->st.reading_paused = false;
	for (struct ingest_conn *c = ing->live; c; c = c->next) {
		if (evtimer_pending(c->retry, NULL)) {
			evtimer_del(c->retry);
		}
		conn_kick(c);
	}
}

/* ---- output ---- */

static void conn_send_ack(struct ingest_conn *c, uint64_t seq)
{
	if (seq > c->acked_seq)
		c->acked_seq = seq;
	Tlswatch__Ack ack = TLSWATCH__ACK__INIT;
	Tlswatch__Envelope env = TLSWATCH__ENVELOPE__INIT;
	ack.seq = c->acked_seq;
	ack.has_collector_unix_ms = true;
	ack.collector_unix_ms = tw_wall_ms();
	env.msg_case = TLSWATCH__ENVELOPE__MSG_ACK;
	env.ack = &ack;
	if (frame_write_evbuffer(bufferevent_get_output(c->bev), &env, c->ing->o.max_frame) != 0) {
		conn_log(c, TWLOG_ERROR, "cannot queue Ack(%llu): out of memory",
			 (unsigned long long)ack.seq);
		return;
	}
	c->ing->st.acks++;
	conn_log(c, TWLOG_DEBUG, "ack seq=%llu", (unsigned long long)ack.seq);
}

/* ---- database ---- */

static void lastseq_cb(void *arg, bool found, uint64_t seq)
{
	struct ingest_conn *c = lookup_take((uint64_t)(uintptr_t)arg);
	if (!c)
		return;  /* closed meanwhile, perhaps with the whole server */
	if (found && (c->state == CONN_STREAMING || c->state == CONN_DRAINING)) {
		conn_log(c, TWLOG_DEBUG, "last committed seq=%llu", (unsigned long long)seq);
		conn_send_ack(c, seq);
	}
	conn_kick(c);
}

static void job_cb(void *arg, bool ok, uint64_t max_seq, size_t inserted, const char *err)
{
	struct ingest_conn *c = arg;
	struct ingest *ing = c->ing;
	size_t rows = c->inflight_rows;
	c->job = NULL;
	c->job_running = false;

	if (ok) {
		ing->st.jobs_committed++;
		ing->st.rows_inserted += inserted;
		ing->st.rows_duplicate += rows >= inserted ? rows - inserted : 0;
		c->db_failures = 0;
		batches_free(c->inflight);
		c->inflight = NULL;
		c->inflight_rows = 0;
		c->held_rows -= rows;
		ing->st.pending_rows -= rows;
	} else {
		ing->st.jobs_failed++;
		c->db_failures++;
		/* the rows go back to the front, in order */
		struct ingest_batch *last = c->inflight;
		if (last) {
			while (last->next)
				last = last->next;
			last->next = c->pending;
			if (!c->pending)
				c->pending_tail = last;
			c->pending = c->inflight;
		}
		c->inflight = NULL;
		c->inflight_rows = 0;
	}

	if (c->state == CONN_RETIRING) {
		conn_log(c, TWLOG_INFO, "superseded connection's last batch %s; closing it",
			 ok ? "committed" : "failed");
		conn_close(c);
		return;
	}
	if (!ok) {
		if (c->db_failures >= INGEST_MAX_DB_ATTEMPTS) {
			conn_end(c, CLOSE_DB_FAILED, TWLOG_ERROR,
				 "database failed the same %zu rows %u times (last: %s); closing so "
				 "the probe replays them from its spool later", rows, c->db_failures,
				 err ? err : "unknown error");
			return;
		}
		unsigned ms = INGEST_RETRY_MIN_MS << (c->db_failures - 1);
		if (ms > INGEST_RETRY_MAX_MS)
			ms = INGEST_RETRY_MAX_MS;
		conn_log(c, TWLOG_WARN, "database failed a batch of %zu rows (attempt %u): %s; "
			 "not acked, retrying in %u ms", rows, c->db_failures,
			 err ? err : "unknown error", ms);
		struct timeval tv;
		ms_to_tv(ms, &tv);
		evtimer_add(c->retry, &tv);
		return;
	}
	conn_log(c, TWLOG_DEBUG, "committed %zu rows (%zu new), max seq=%llu", rows, inserted,
		 (unsigned long long)max_seq);
	conn_send_ack(c, max_seq);
	conn_advance(c);
	conn_update_reading(c);
	if (c->held_rows == 0)
		conn_arm_deadline(c);  /* idle time starts again */
	conn_check_drained(c);
}

/* Submits the pending batches (up to max_pending_rows, at least one batch)
 * as one job. */
void *(*ingest_batch_malloc)(size_t n) = malloc;
static void conn_submit(struct ingest_conn *c)
{
	struct ingest *ing = c->ing;
	if (!db_takes_rows(ing)) {
		ingest_pause_all(ing);
		return;
	}
	size_t rows = 0;
	struct ingest_batch *b = c->pending, *last = NULL;
	while (b && (rows == 0 || rows + b->n <= ing->o.max_pending_rows)) {
		rows += b->n;
		last = b;
		b = b->next;
	}
	Tlswatch__Result **arr = ingest_batch_malloc(rows * sizeof *arr);
	if (!arr) {
		/* The rows stay pending; like a database failure, try again
		 * later (nothing else would: no job runs, no frame is read). */
		struct timeval tv;
		conn_log(c, TWLOG_ERROR, "out of memory submitting %zu rows; retrying in %u ms",
			 rows, INGEST_RETRY_MIN_MS);
		ms_to_tv(INGEST_RETRY_MIN_MS, &tv);
		evtimer_add(c->retry, &tv);
		return;
	}
	size_t k = 0;
	for (struct ingest_batch *x = c->pending; x != last->next; x = x->next)
		for (size_t i = 0; i < x->n; i++)
			arr[k++] = x->env->batch->results[i];
	/* move the group to inflight */
	c->inflight = c->pending;
	c->pending = last->next;
	if (!c->pending)
		c->pending_tail = NULL;
	last->next = NULL;
	c->inflight_rows = rows;

	c->job_running = true;
	errno = 0;
	struct db_job *j = db_ingest(ing->db, c->probe_id, c->region, c->version, arr, rows,
				     c->inflight->received_ms, job_cb, c);
	int e = errno;
	free(arr);
	if (j) {
		if (c->job_running)
			c->job = j;
		return;
	}
	/* not queued: put the group back */
	c->job_running = false;
	last->next = c->pending;
	if (!c->pending)
		c->pending_tail = last;
	c->pending = c->inflight;
	c->inflight = NULL;
	c->inflight_rows = 0;
	if (e == EAGAIN) {
		ingest_pause_all(ing);
	} else if (e == EINVAL) {
		/* on_batch checked what it can; never retry what cannot be stored */
		conn_refuse(c, REFUSE_PROTOCOL, "a batch of %zu rows cannot be stored (a result "
			    "lacks a required field)", rows);
	} else {
		conn_log(c, TWLOG_ERROR, "database refused a batch of %zu rows: %s", rows,
			 strerror(e ? e : EINVAL));
		struct timeval tv;
		ms_to_tv(INGEST_RETRY_MAX_MS, &tv);
		evtimer_add(c->retry, &tv);
	}
}

/* Drives c's database work: the db_last_seq lookup after Hello, then one
 * job at a time, in order, never while a predecessor's job runs. */
static void conn_advance(struct ingest_conn *c)
{
	if (c->state != CONN_STREAMING && c->state != CONN_DRAINING)
		return;
	if (c->predecessor || c->lookup_id || c->job_running)
		return;
	if (c->lastseq_needed) {
		c->lastseq_needed = false;
		if (c->state == CONN_STREAMING) {
			lookup_add(c);
			if (db_last_seq(c->ing->db, c->probe_id, lastseq_cb,
					(void *)(uintptr_t)c->lookup_id) == 0)
				return;
			lookup_take(c->lookup_id);  /* no database now: acks come from commits */
			conn_log(c, TWLOG_DEBUG, "cannot look up the last committed seq now");
		}
	}
	if (!c->pending || evtimer_pending(c->retry, NULL))
		return;
	conn_submit(c);
}

static void retry_cb(evutil_socket_t fd, short what, void *arg)
{
	struct ingest_conn *c = arg;
	conn_advance(c);
	conn_update_reading(c);
	conn_check_drained(c);
}

/* ---- frames ---- */

static double clock_offset(bool has, int64_t sent_ms)
{
	return has ? (double)(sent_ms - tw_wall_ms()) : 0.0;
}

static const char *msg_name(const Tlswatch__Envelope *env)
{
	switch (env->msg_case) {
	case TLSWATCH__ENVELOPE__MSG_HELLO: return "Hello";
	case TLSWATCH__ENVELOPE__MSG_BATCH: return "ResultBatch";
	case TLSWATCH__ENVELOPE__MSG_ACK: return "Ack";
	case TLSWATCH__ENVELOPE__MSG_HEARTBEAT: return "Heartbeat";
	default: return "unknown message";
	}
}

/* Another live connection of the same probe is replaced by c. */
static void supersede_older(struct ingest_conn *c)
{
	struct ingest *ing = c->ing;
	struct ingest_conn *o = ing->live, *next;
	for (; o; o = next) {
		next = o->next;
		if (o == c || o->state != CONN_STREAMING || strcmp(o->probe_id, c->probe_id) != 0)
			continue;
		ing->st.closed[CLOSE_SUPERSEDED]++;
		conn_log(o, TWLOG_INFO, "closed (superseded): the probe connected again from %s%s",
			 c->peer, o->job_running ? "; its batch in flight finishes first" : "");
		if (o->job_running) {
			batches_free(o->pending);
			size_t dropped = o->held_rows - o->inflight_rows;
			ing->st.pending_rows -= dropped;
			o->held_rows -= dropped;
			o->pending = o->pending_tail = NULL;
			conn_set_state(o, CONN_RETIRING);
			conn_update_reading(o);
			evtimer_del(o->retry);
			o->successor = c;
			c->predecessor = o;
		} else {
			if (o->predecessor) {  /* still waiting on an older one: inherit it */
				c->predecessor = o->predecessor;
				c->predecessor->successor = c;
				o->predecessor = NULL;
			}
			conn_close(o);
		}
	}
}

static int on_hello(struct ingest_conn *c, Tlswatch__Hello *h)
{
	char a[80];
	if (strcmp(h->probe_id, c->probe_id) != 0) {
		conn_refuse(c, REFUSE_HELLO_MISMATCH, "hello probe_id %s does not match certificate CN %s",
			    printable(h->probe_id, a, sizeof a), c->probe_id);
		return -1;
	}
	if (h->region && strcmp(h->region, c->region) != 0) {
		conn_refuse(c, REFUSE_HELLO_MISMATCH, "hello region %s does not match certificate OU %s",
			    printable(h->region, a, sizeof a), c->region);
		return -1;
	}
	if (h->version) {
		/* stored and logged: printable ASCII, at most INGEST_VERSION_MAX */
		size_t n = strnlen(h->version, INGEST_VERSION_MAX);
		free(c->version);
		if (!(c->version = malloc(n + 1))) {
			conn_log(c, TWLOG_ERROR, "out of memory");
			conn_close(c);
			return -1;
		}
		for (size_t i = 0; i < n; i++) {
			char ch = h->version[i];
			c->version[i] = (ch >= 0x20 && ch < 0x7f) ? ch : '?';
		}
		c->version[n] = '\0';
	}
	double off = clock_offset(h->has_sent_unix_ms, h->sent_unix_ms);
	c->ing->st.hellos++;
	conn_log(c, TWLOG_INFO, "hello version=%s last_acked_seq=%s%llu clock_offset_ms=%.0f",
		 c->version ? c->version : "-", h->has_last_acked_seq ? "" : "none/",
		 (unsigned long long)h->last_acked_seq, off);
	db_probe_seen(c->ing->db, c->probe_id, c->region, c->version, off);
	supersede_older(c);
	conn_set_state(c, CONN_STREAMING);
	c->lastseq_needed = true;
	conn_advance(c);
	return 0;
}

/* Takes env. Returns 0 to go on, -1 when c was closed. */
static int on_batch(struct ingest_conn *c, Tlswatch__Envelope *env)
{
	struct ingest *ing = c->ing;
	Tlswatch__ResultBatch *rb = env->batch;
	char a[80];
	for (size_t i = 0; i < rb->n_results; i++) {
		const Tlswatch__Result *r = rb->results[i];
		if (!r->has_seq) {
			tlswatch__envelope__free_unpacked(env, NULL);
			conn_refuse(c, REFUSE_PROTOCOL, "result %zu of a batch has no seq", i);
			return -1;
		}
		if (r->seq > (uint64_t)INT64_MAX || r->port > 65535) {
			conn_refuse(c, REFUSE_PROTOCOL, "result seq %llu port %u is out of range",
				    (unsigned long long)r->seq, r->port);
			tlswatch__envelope__free_unpacked(env, NULL);
			return -1;
		}
		if (r->probe_id && strcmp(r->probe_id, c->probe_id) != 0) {
			conn_refuse(c, REFUSE_IDENTITY_MISMATCH,
				    "result seq %llu claims probe_id %s but certificate CN is %s",
				    (unsigned long long)r->seq, printable(r->probe_id, a, sizeof a),
				    c->probe_id);
			tlswatch__envelope__free_unpacked(env, NULL);
			return -1;
		}
		if (r->region && strcmp(r->region, c->region) != 0) {
			conn_refuse(c, REFUSE_IDENTITY_MISMATCH,
				    "result seq %llu claims region %s but certificate says %s",
				    (unsigned long long)r->seq, printable(r->region, a, sizeof a),
				    c->region);
			tlswatch__envelope__free_unpacked(env, NULL);
			return -1;
		}
	}
	ing->st.batches++;
	ing->st.results += rb->n_results;
	if (rb->n_results == 0) {
		tlswatch__envelope__free_unpacked(env, NULL);
		return 0;
	}
	struct ingest_batch *b = calloc(1, sizeof *b);
	if (!b) {
		tlswatch__envelope__free_unpacked(env, NULL);
		conn_log(c, TWLOG_ERROR, "out of memory buffering a batch");
		conn_close(c);
		return -1;
	}
	b->env = env;
	b->n = rb->n_results;
	b->received_ms = tw_wall_ms();
	if (c->pending_tail)
		c->pending_tail->next = b;
	else
		c->pending = b;
	c->pending_tail = b;
	c->held_rows += b->n;
	ing->st.pending_rows += b->n;
	conn_advance(c);
	return 0;
}

/* Takes env. Returns 0 to go on, -1 when c was closed. */
static int on_frame(struct ingest_conn *c, Tlswatch__Envelope *env)
{
	c->ing->st.frames++;
	if (c->state == CONN_AWAIT_HELLO) {
		if (env->msg_case != TLSWATCH__ENVELOPE__MSG_HELLO) {
			conn_refuse(c, REFUSE_PROTOCOL, "first frame must be Hello, got %s",
				    msg_name(env));
			tlswatch__envelope__free_unpacked(env, NULL);
			return -1;
		}
		int r = on_hello(c, env->hello);
		tlswatch__envelope__free_unpacked(env, NULL);
		return r;
	}
	/* STREAMING */
	switch (env->msg_case) {
	case TLSWATCH__ENVELOPE__MSG_BATCH:
		if (on_batch(c, env) < 0)
			return -1;
		if (c->state == CONN_STREAMING)
			conn_arm_deadline(c);  /* a frame: the idle clock starts again */
		return 0;
	case TLSWATCH__ENVELOPE__MSG_HEARTBEAT: {
		Tlswatch__Heartbeat *hb = env->heartbeat;
		c->ing->st.heartbeats++;
		db_probe_seen(c->ing->db, c->probe_id, c->region, c->version,
			      clock_offset(hb->has_sent_unix_ms, hb->sent_unix_ms));
		/* No reply: the probe only expects Acks for batches it sent (an Ack
		 * here would also mask a stuck database from its liveness check). */
		conn_arm_deadline(c);
		tlswatch__envelope__free_unpacked(env, NULL);
		return 0;
	}
	default:
		conn_refuse(c, REFUSE_PROTOCOL, "unexpected %s from a probe", msg_name(env));
		tlswatch__envelope__free_unpacked(env, NULL);
		return -1;
	}
}

/* Decodes and handles every complete frame while reading is wanted. */
static void conn_process_input(struct ingest_conn *c)
{
	struct evbuffer *in;
	char err[256];
	while ((c->state == CONN_AWAIT_HELLO || c->state == CONN_STREAMING) && conn_wants_read(c)) {
		in = bufferevent_get_input(c->bev);
		Tlswatch__Envelope *env = NULL;
		enum frame_status st = frame_read_evbuffer(in, c->ing->o.max_frame, &env, err,
							   sizeof err);
		if (st == FRAME_INCOMPLETE)
			break;
		if (st == FRAME_TOO_LARGE) {
			unsigned char hdr[4] = { 0 };
			evbuffer_copyout(in, hdr, sizeof hdr);
			uint32_t n = (uint32_t)hdr[0] << 24 | (uint32_t)hdr[1] << 16 |
				     (uint32_t)hdr[2] << 8 | hdr[3];
			conn_refuse(c, REFUSE_FRAME_TOO_LARGE, "frame too large: %u > %zu bytes", n,
				    c->ing->o.max_frame);
			return;
		}
		if (st != FRAME_OK) {
			conn_refuse(c, REFUSE_MALFORMED_FRAME, "malformed frame: %s", err);
			return;
		}
		if (on_frame(c, env) < 0)
			return;
	}
	conn_update_reading(c);
}

/* ---- TLS and identity ---- */

/* The one entry of nid in the subject as UTF-8, checked: printable ASCII
 * without spaces, quotes or backslashes, 1..INGEST_ID_MAX-1 bytes. */
static int subject_entry(X509 *x, int nid, char *out, size_t cap, const char **why)
{
	X509_NAME *name = X509_get_subject_name(x);
	int idx = X509_NAME_get_index_by_NID(name, nid, -1);
	if (idx < 0) {
		*why = "missing";
		return -1;
	}
	if (X509_NAME_get_index_by_NID(name, nid, idx) >= 0) {
		*why = "given more than once";
		return -1;
	}
	unsigned char *u = NULL;
	int n = ASN1_STRING_to_UTF8(&u, X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, idx)));
	if (n <= 0 || (size_t)n >= cap) {
		OPENSSL_free(u);
		*why = n <= 0 ? "empty or not decodable" : "too long";
		return -1;
	}
	for (int i = 0; i < n; i++) {
		unsigned char ch = u[i];
		if (ch <= 0x20 || ch >= 0x7f || ch == '"' || ch == '\\') {
			OPENSSL_free(u);
			*why = "not printable ASCII without spaces";
			return -1;
		}
	}
	memcpy(out, u, (size_t)n);
	out[n] = '\0';
	OPENSSL_free(u);
	return 0;
}

static void on_handshake(struct ingest_conn *c)
{
	const char *why;
	c->ing->st.handshakes++;
	X509 *x = SSL_get1_peer_certificate(c->ssl);
	if (!x) {
		conn_refuse(c, REFUSE_NO_CLIENT_CERT, "no client certificate");
		return;
	}
	char cn[INGEST_ID_MAX], ou[INGEST_ID_MAX];
	if (subject_entry(x, NID_commonName, cn, sizeof cn, &why) < 0) {
		X509_free(x);
		conn_refuse(c, REFUSE_CERT_IDENTITY, "certificate has no CN (probe id): CN %s", why);
		return;
	}
	if (subject_entry(x, NID_organizationalUnitName, ou, sizeof ou, &why) < 0) {
		X509_free(x);
		conn_refuse(c, REFUSE_CERT_IDENTITY, "certificate has no OU (region): OU %s (CN %s)",
			    why, cn);
		return;
	}
	X509_free(x);
	memcpy(c->probe_id, cn, sizeof cn);
	memcpy(c->region, ou, sizeof ou);
	conn_log(c, TWLOG_DEBUG, "TLS handshake done: %s %s", SSL_get_version(c->ssl),
		 SSL_get_cipher_name(c->ssl));
	conn_set_state(c, CONN_AWAIT_HELLO);
	conn_process_input(c);
}

/* Maps a failed handshake to a refusal, from the OpenSSL errors libevent
 * saved for this bufferevent. */
static void on_handshake_failed(struct ingest_conn *c, short events)
{
	enum ingest_refusal kind = REFUSE_TLS_HANDSHAKE_FAILED;
	char first[256] = "";
	unsigned long e;
	int sock_err = EVUTIL_SOCKET_ERROR();
	bool eof = false;
	while ((e = bufferevent_get_openssl_error(c->bev)) != 0) {
		int r = ERR_GET_REASON(e);
		if (r == SSL_R_UNEXPECTED_EOF_WHILE_READING)
			eof = true;
		else if (r == SSL_R_PEER_DID_NOT_RETURN_A_CERTIFICATE)
			kind = REFUSE_NO_CLIENT_CERT;
		else if (r == SSL_R_CERTIFICATE_VERIFY_FAILED && kind != REFUSE_NO_CLIENT_CERT)
			kind = REFUSE_CERT_VERIFY_FAILED;
		if (!first[0]) {
			const char *rs = ERR_reason_error_string(e);
			if (rs)
				snprintf(first, sizeof first, "%s", rs);
			else
				snprintf(first, sizeof first, "OpenSSL error %lx", e);
		}
	}
	ERR_clear_error();
	if (kind == REFUSE_TLS_HANDSHAKE_FAILED && (eof || (!first[0] && (events & BEV_EVENT_EOF)))) {
		/* A TCP connect and close (port check, load balancer health
		 * check) is not a misbehaving probe: debug only. */
		conn_end(c, CLOSE_PEER, TWLOG_DEBUG, "peer closed before completing the TLS handshake");
		return;
	}
	switch (kind) {
	case REFUSE_NO_CLIENT_CERT:
		conn_refuse(c, kind, "no client certificate");
		break;
	case REFUSE_CERT_VERIFY_FAILED: {
		long vr = SSL_get_verify_result(c->ssl);
		conn_refuse(c, kind, "certificate verify failed: %s",
			    X509_verify_cert_error_string(vr));
		break;
	}
	default:
		if (first[0])
			conn_refuse(c, kind, "TLS handshake failed: %s", first);
		else
			conn_refuse(c, kind, "TLS handshake failed: %s",
				    evutil_socket_error_to_string(sock_err));
		break;
	}
}

/* ---- bufferevent callbacks ---- */

static void read_cb(struct bufferevent *bev, void *arg)
{
	conn_process_input(arg);
}

static void write_cb(struct bufferevent *bev, void *arg)
{
	conn_check_drained(arg);
}

static void event_cb(struct bufferevent *bev, short events, void *arg)
{
	struct ingest_conn *c = arg;
	if (c->state == CONN_CLOSED)
		return;
	if (events & BEV_EVENT_CONNECTED) {
		if (c->state == CONN_TLS_ACCEPTING)
			on_handshake(c);
		return;
	}
	if (!(events & (BEV_EVENT_EOF | BEV_EVENT_ERROR)))
		return;
	if (c->state == CONN_TLS_ACCEPTING) {
		on_handshake_failed(c, events);
		return;
	}
	char why[256] = "";
	unsigned long e = bufferevent_get_openssl_error(c->bev);
	if (e && ERR_GET_REASON(e) == SSL_R_UNEXPECTED_EOF_WHILE_READING) {
		/* closed without close_notify: an ordinary disconnect */
		events = (short)((events & ~BEV_EVENT_ERROR) | BEV_EVENT_EOF);
		while (bufferevent_get_openssl_error(c->bev))
			;
	} else if (e) {
		const char *rs = ERR_reason_error_string(e);
		snprintf(why, sizeof why, ": %s", rs ? rs : "OpenSSL error");
		while (bufferevent_get_openssl_error(c->bev))
			;
	} else if (events & BEV_EVENT_ERROR) {
		snprintf(why, sizeof why, ": %s", evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()));
	}
	ERR_clear_error();
	if (c->state == CONN_RETIRING) {
		/* its job still decides when it goes; just stop using the socket */
		bufferevent_disable(c->bev, EV_READ | EV_WRITE);
		return;
	}
	conn_end(c, CLOSE_PEER, (events & BEV_EVENT_ERROR) ? TWLOG_WARN : TWLOG_INFO,
		 "probe disconnected%s%s", why,
		 c->job_running ? " (its batch in flight is cancelled, not acked)" : "");
}

static void deadline_cb(evutil_socket_t fd, short what, void *arg)
{
	struct ingest_conn *c = arg;
	const struct ingest_opts *o = &c->ing->o;
	switch (c->state) {
	case CONN_TLS_ACCEPTING:
		conn_refuse(c, REFUSE_HANDSHAKE_TIMEOUT, "TLS handshake not completed within %u ms",
			    o->handshake_timeout_ms);
		break;
	case CONN_AWAIT_HELLO:
		conn_refuse(c, REFUSE_HELLO_TIMEOUT, "no Hello within %u ms", o->hello_timeout_ms);
		break;
	case CONN_STREAMING:
		conn_end(c, CLOSE_IDLE_TIMEOUT, TWLOG_INFO, "no frame for %u ms",
			 o->idle_timeout_ms);
		break;
	default:
		break;
	}
}

static void kick_cb(evutil_socket_t fd, short what, void *arg)
{
	struct ingest_conn *c = arg;
	conn_advance(c);
	conn_update_reading(c);
	conn_process_input(c);
	conn_check_drained(c);
}

/* DRAINING: closes c once everything it received is committed and acked
 * and its output has been written. */
static void conn_check_drained(struct ingest_conn *c)
{
	if (c->state != CONN_DRAINING)
		return;
	if (c->job_running || c->pending || c->lookup_id || c->predecessor)
		return;
	if (evbuffer_get_length(bufferevent_get_output(c->bev)) > 0)
		return;  /* write_cb comes back when flushed */
	conn_end(c, CLOSE_SHUTDOWN, TWLOG_INFO, "drained: everything received is committed "
		 "and acked (seq=%llu)", (unsigned long long)c->acked_seq);
}

/* ---- listener ---- */

static void accept_cb(struct evconnlistener *lev, evutil_socket_t fd, struct sockaddr *sa,
		      int salen, void *arg)
{
	struct ingest *ing = arg;
	char peer[INET6_ADDRSTRLEN + 8];
	format_peer(sa, peer, sizeof peer);
	if (ing->shutting_down) {
		evutil_closesocket(fd);
		return;
	}
	if (ing->st.connections_current >= ing->o.max_connections) {
		ing->st.refused[REFUSE_MAX_CONNECTIONS]++;
		log_warn("peer=%s refused (max_connections): already %llu connections", peer,
			 (unsigned long long)ing->st.connections_current);
		evutil_closesocket(fd);
		return;
	}
	struct ingest_conn *c = calloc(1, sizeof *c);
	SSL *ssl = c ? SSL_new(ing->ctx) : NULL;
	if (!c || !ssl) {
		log_error("peer=%s cannot accept: out of memory", peer);
		ERR_clear_error();
		free(c);
		evutil_closesocket(fd);
		return;
	}
	c->ing = ing;
	c->ssl = ssl;
	snprintf(c->peer, sizeof c->peer, "%s", peer);
	c->bev = bufferevent_openssl_socket_new(ing->base, fd, ssl, BUFFEREVENT_SSL_ACCEPTING,
						BEV_OPT_CLOSE_ON_FREE);
	c->deadline = evtimer_new(ing->base, deadline_cb, c);
	c->retry = evtimer_new(ing->base, retry_cb, c);
	c->kick = evtimer_new(ing->base, kick_cb, c);
	if (!c->bev || !c->deadline || !c->retry || !c->kick) {
		log_error("peer=%s cannot accept: out of memory", peer);
		if (!c->bev) {
			SSL_free(ssl);
			evutil_closesocket(fd);
		}
		conn_free(c);
		return;
	}
	bufferevent_openssl_set_allow_dirty_shutdown(c->bev, 1);
	bufferevent_setcb(c->bev, read_cb, write_cb, event_cb, c);
	/* at most one frame and a bit buffered while we hold the probe back */
	bufferevent_setwatermark(c->bev, EV_READ, 0, ing->o.max_frame + FRAME_HEADER_LEN + 16384);
	list_push(&ing->live, c);
	ing->st.connections_total++;
	ing->st.connections_current++;
	c->state = CONN_TLS_ACCEPTING;
	conn_arm_deadline(c);
	c->reading = true;
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
	log_debug("peer=%s accepted", peer);
}

static void accept_error_cb(struct evconnlistener *lev, void *arg)
{
	int e = EVUTIL_SOCKET_ERROR();
	log_error("accept failed: %s", evutil_socket_error_to_string(e));
}

/* ---- setup ---- */

static const char *ossl_err(char *buf, size_t cap)
{
	unsigned long e = ERR_peek_last_error();
	if (!e)
		snprintf(buf, cap, "unknown OpenSSL error");
	else
		ERR_error_string_n(e, buf, cap);
	ERR_clear_error();
	return buf;
}

static SSL_CTX *make_ctx(const struct ingest_opts *o, char *err, size_t errlen)
{
	char why[256];
	if (tls_check_key_file_mode(o->key_file, err, errlen) != 0)
		return NULL;
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
	if (!ctx) {
		snprintf(err, errlen, "cannot create TLS context: %s", ossl_err(why, sizeof why));
		return NULL;
	}
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	SSL_CTX_set_num_tickets(ctx, 0);
	if (SSL_CTX_use_certificate_chain_file(ctx, o->cert_file) != 1) {
		snprintf(err, errlen, "cannot load certificate %s: %s", o->cert_file,
			 ossl_err(why, sizeof why));
		goto fail;
	}
	if (SSL_CTX_use_PrivateKey_file(ctx, o->key_file, SSL_FILETYPE_PEM) != 1) {
		snprintf(err, errlen, "cannot load private key %s: %s", o->key_file,
			 ossl_err(why, sizeof why));
		goto fail;
	}
	if (SSL_CTX_check_private_key(ctx) != 1) {
		ERR_clear_error();
		snprintf(err, errlen, "private key %s does not match certificate %s", o->key_file,
			 o->cert_file);
		goto fail;
	}
	/* Trust exactly the probes' CA: no default paths, no system store. */
	if (SSL_CTX_load_verify_locations(ctx, o->ca_file, NULL) != 1) {
		snprintf(err, errlen, "cannot load CA file %s: %s", o->ca_file,
			 ossl_err(why, sizeof why));
		goto fail;
	}
	STACK_OF(X509_NAME) *names = SSL_load_client_CA_file(o->ca_file);
	if (names)
		SSL_CTX_set_client_CA_list(ctx, names);
	ERR_clear_error();
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
	SSL_CTX_set_verify_depth(ctx, 8);
	return ctx;
fail:
	SSL_CTX_free(ctx);
	return NULL;
}

int ingest_check_tls(const struct ingest_opts *o, char *err, size_t errlen)
{
	SSL_CTX *ctx = make_ctx(o, err, errlen);
	if (!ctx)
		return -1;
	SSL_CTX_free(ctx);
	return 0;
}

struct ingest *ingest_new(struct event_base *base, struct db_pool *db,
			  const struct ingest_opts *o, bool *bind_failed, char *err, size_t errlen)
{
	struct ingest *ing = calloc(1, sizeof *ing);
	struct addrinfo hints = { 0 }, *ai = NULL;
	char portstr[16];
	*bind_failed = false;
	if (!ing) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	ing->base = base;
	ing->db = db;
	ing->o = *o;
	if (!ing->o.max_frame)
		ing->o.max_frame = FRAME_DEFAULT_MAX;
	if (!ing->o.max_connections)
		ing->o.max_connections = 10000;
	if (!ing->o.handshake_timeout_ms)
		ing->o.handshake_timeout_ms = 10000;
	if (!ing->o.hello_timeout_ms)
		ing->o.hello_timeout_ms = 10000;
	if (!ing->o.idle_timeout_ms)
		ing->o.idle_timeout_ms = 60000;
	if (!ing->o.max_pending_rows)
		ing->o.max_pending_rows = 10000;
	/* the strings are borrowed only during ingest_new */
	ing->o.host = ing->o.ca_file = ing->o.cert_file = ing->o.key_file = NULL;

	if (!(ing->ctx = make_ctx(o, err, errlen)))
		goto fail;
	ing->reaper = evtimer_new(base, reaper_cb, ing);
	ing->resume_poll = evtimer_new(base, resume_poll_cb, ing);
	if (!ing->reaper || !ing->resume_poll) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}

	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	snprintf(portstr, sizeof portstr, "%u", o->port);
	int gai = getaddrinfo(o->host, portstr, &hints, &ai);
	if (gai != 0) {
		snprintf(err, errlen, "cannot resolve listen address %s: %s", o->host,
			 gai_strerror(gai));
		*bind_failed = true;
		goto fail;
	}
	ing->lev = evconnlistener_new_bind(base, accept_cb, ing,
					   LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE |
					   LEV_OPT_CLOSE_ON_EXEC | LEV_OPT_DISABLED,
					   511, ai->ai_addr, (int)ai->ai_addrlen);
	if (!ing->lev) {
		int e = EVUTIL_SOCKET_ERROR();
		snprintf(err, errlen, "cannot listen on %s port %u: %s", o->host, o->port,
			 evutil_socket_error_to_string(e));
		*bind_failed = true;
		freeaddrinfo(ai);
		goto fail;
	}
	freeaddrinfo(ai);
	evconnlistener_set_error_cb(ing->lev, accept_error_cb);
	{
		struct sockaddr_storage ss;
		socklen_t sl = sizeof ss;
		if (getsockname(evconnlistener_get_fd(ing->lev), (struct sockaddr *)&ss, &sl) == 0)
			ing->port = ss.ss_family == AF_INET6
				? ntohs(((struct sockaddr_in6 *)&ss)->sin6_port)
				: ntohs(((struct sockaddr_in *)&ss)->sin_port);
	}
	db_on_ready(db, on_db_ready, ing);
	evconnlistener_enable(ing->lev);
	ing->st.listening = true;
	return ing;
fail:
	ingest_free(ing);
	return NULL;
}

unsigned ingest_port(const struct ingest *ing)
{
	return ing->port;
}

void ingest_get_stats(const struct ingest *ing, struct ingest_stats *st)
{
	*st = ing->st;
}

/* ---- shutdown ---- */

static void shutdown_done_cb(evutil_socket_t fd, short what, void *arg)
{
	struct ingest *ing = arg;
	void (*done)(void *) = ing->done;
	ing->done = NULL;
	if (ing->shutdown_timer)
		evtimer_del(ing->shutdown_timer);
	if (done)
		done(ing->done_arg);
}

static void check_shutdown_done(struct ingest *ing)
{
	if (ing->live || !ing->done || !ing->shutdown_done_ev)
		return;
	event_active(ing->shutdown_done_ev, EV_TIMEOUT, 0);
}

static void shutdown_timeout_cb(evutil_socket_t fd, short what, void *arg)
{
	struct ingest *ing = arg;
	unsigned n = 0;
	for (struct ingest_conn *c = ing->live; c; c = c->next)
		n++;
	if (n)
		log_warn("shutdown: %u probe connections still busy after the timeout; closing "
			 "them (unacked rows are replayed by the probes)", n);
	while (ing->live)
		conn_end(ing->live, CLOSE_SHUTDOWN, TWLOG_INFO, "shutdown timeout");
	check_shutdown_done(ing);
}

void ingest_shutdown(struct ingest *ing, unsigned timeout_ms, void (*done)(void *arg), void *arg)
{
	struct timeval tv;
	if (ing->shutting_down)
		return;
	ing->shutting_down = true;
	ing->done = done;
	ing->done_arg = arg;
	if (ing->lev) {
		evconnlistener_free(ing->lev);
		ing->lev = NULL;
	}
	ing->st.listening = false;
	ing->shutdown_timer = evtimer_new(ing->base, shutdown_timeout_cb, ing);
	ing->shutdown_done_ev = evtimer_new(ing->base, shutdown_done_cb, ing);
	if (!ing->shutdown_timer || !ing->shutdown_done_ev) {
		log_error("shutdown: out of memory; closing every connection now");
		while (ing->live)
			conn_end(ing->live, CLOSE_SHUTDOWN, TWLOG_INFO, "shutdown");
		if (done)
			done(arg);
		ing->done = NULL;
		return;
	}
	struct ingest_conn *c = ing->live, *next;
	for (; c; c = next) {
		next = c->next;
		switch (c->state) {
		case CONN_TLS_ACCEPTING:
		case CONN_AWAIT_HELLO:
			conn_end(c, CLOSE_SHUTDOWN, TWLOG_DEBUG, "shutting down before Hello");
			break;
		case CONN_STREAMING:
			conn_set_state(c, CONN_DRAINING);
			conn_update_reading(c);
			conn_kick(c);  /* submits what is pending, closes when drained */
			break;
		default:
			break;
		}
	}
	ms_to_tv(timeout_ms, &tv);
	evtimer_add(ing->shutdown_timer, &tv);
	check_shutdown_done(ing);
}

void ingest_free(struct ingest *ing)
{
	if (!ing)
		return;
	if (ing->lev)
		evconnlistener_free(ing->lev);
	while (ing->live)
		conn_close(ing->live);
	while (ing->closed) {
		struct ingest_conn *c = ing->closed;
		list_remove(&ing->closed, c);
		conn_free(c);
	}
	if (ing->reaper)
		event_free(ing->reaper);
	if (ing->resume_poll)
		event_free(ing->resume_poll);
	if (ing->shutdown_timer)
		event_free(ing->shutdown_timer);
	if (ing->shutdown_done_ev)
		event_free(ing->shutdown_done_ev);
	SSL_CTX_free(ing->ctx);
	free(ing);
}
