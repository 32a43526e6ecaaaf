/*
 * ingest.c - the probe server object (see ingest.h; the files of the server
 * are listed in ingest_int.h): its options and statistics, backpressure for
 * all connections, and the reaper that frees closed connections.
 *
 * Backpressure. When the database cannot take rows (db_can_accept() false:
 * no connection or queue full; or db_is_ready() false: schema not migrated)
 * or db_ingest() says EAGAIN, reading stops on every probe connection until
 * db_on_ready fires (or a 1 s poll sees the database ready again). The
 * probes keep spooling meanwhile.
 *
 * Lifetime. Closing a connection moves it to the closed list; a zero-timeout
 * "reaper" event frees it, never inside its own callback.
 */
#include "ingest_int.h"
#include "accept_backoff.h"
#include "db.h"
#include "frame.h"
#include "ingest_tls.h"

#include <stdio.h>
#include <stdlib.h>

#include <event2/listener.h>

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
	[REFUSE_HANDSHAKE_LIMIT] = "handshake_limit",
	[REFUSE_PROBE_CONFLICT] = "probe_conflict",
	[REFUSE_MEMORY_LIMIT] = "memory_limit",
	[REFUSE_RESULT_LIMITS] = "result_limits",
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

void ingest_ms_to_tv(unsigned ms, struct timeval *tv)
{
	tv->tv_sec = ms / 1000;
	tv->tv_usec = (suseconds_t)(ms % 1000) * 1000;
}

void ingest_list_remove(struct ingest_conn **head, struct ingest_conn *c)
{
	if (c->prev)
		c->prev->next = c->next;
	else
		*head = c->next;
	if (c->next)
		c->next->prev = c->prev;
	c->prev = c->next = NULL;
}

void ingest_list_push(struct ingest_conn **head, struct ingest_conn *c)
{
	c->prev = NULL;
	c->next = *head;
	if (*head)
		(*head)->prev = c;
	*head = c;
}

void ingest_schedule_reaper(struct ingest *ing)
{
	event_active(ing->reaper, EV_TIMEOUT, 0);
}

static void reaper_cb(evutil_socket_t fd, short what, void *arg)
{
	struct ingest *ing = arg;
	while (ing->closed) {
		struct ingest_conn *c = ing->closed;
		ingest_list_remove(&ing->closed, c);
		ingest_conn_free(c);
	}
}

/* ---- backpressure ---- */

size_t ingest_frame_budget(const struct ingest *ing)
{
	return ing->o.max_conn_bytes / 2;
}

static bool bytes_would_pass(const struct ingest *ing)
{
	return ing->st.buffered_bytes + ingest_frame_budget(ing) > ing->o.max_total_bytes;
}

void ingest_bytes_add(struct ingest *ing, size_t n)
{
	ing->st.buffered_bytes += n;
	if (!ing->bytes_full && bytes_would_pass(ing)) {
		ing->bytes_full = true;
		log_warn("%llu bytes of results wait for the database (max_buffered_bytes %zu): "
			 "pausing reads from probe connections", (unsigned long long)
			 ing->st.buffered_bytes, ing->o.max_total_bytes);
		/* each stops at its next drive (conn_wants_read) */
	}
}

void ingest_bytes_sub(struct ingest *ing, size_t n)
{
	ing->st.buffered_bytes -= n;
	if (ing->bytes_full && !bytes_would_pass(ing)) {
		ing->bytes_full = false;
		log_info("buffered results down to %llu bytes: resuming reads",
			 (unsigned long long)ing->st.buffered_bytes);
		for (struct ingest_conn *c = ing->live; c; c = c->next)
			ingest_conn_update_reading(c);
	}
}

bool ingest_db_takes_rows(const struct ingest *ing)
{
	return db_can_accept(ing->db) && db_is_ready(ing->db);
}

void ingest_pause_all(struct ingest *ing)
{
	struct timeval tv;
	ingest_ms_to_tv(INGEST_RESUME_POLL_MS, &tv);
	evtimer_add(ing->resume_poll, &tv);
	if (ing->db_paused)
		return;
	ing->db_paused = true;
	ing->st.reading_paused = true;
	log_warn("database cannot take rows (%s): pausing reads from probe connections "
		 "(they keep spooling)", db_is_ready(ing->db) ? "queue full" : "not ready");
	for (struct ingest_conn *c = ing->live; c; c = c->next)
		ingest_conn_update_reading(c);
}

/* The pool accepts work again (db_on_ready), or the poll found it ready. */
static void on_db_ready(void *arg)
{
	struct ingest *ing = arg;
	if (!ingest_db_takes_rows(ing)) {
		if (ing->db_paused)
			ingest_pause_all(ing);
		return;
	}
	if (ing->db_paused)
		log_info("database takes rows again: resuming reads from probe connections");
	evtimer_del(ing->resume_poll);
	ing->db_paused = false;
	ing->st.reading_paused = false;
	for (struct ingest_conn *c = ing->live; c; c = c->next)
		ingest_commit_db_ready(c);
}

/* db_on_ready fires when the pool starts accepting again; a schema that
 * becomes ready later is noticed by this poll while paused. */
static void resume_poll_cb(evutil_socket_t fd, short what, void *arg)
{
	struct ingest *ing = arg;
	if (!ing->db_paused)
		return;
	if (ingest_db_takes_rows(ing))
		on_db_ready(ing);
	else
		ingest_pause_all(ing);  /* re-arms the poll */
}

/* ---- the server ---- */

struct ingest *ingest_new(struct event_base *base, struct db_pool *db,
			  const struct ingest_opts *o, bool *bind_failed, char *err, size_t errlen)
{
	struct ingest *ing = calloc(1, sizeof *ing);
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
	/* a frame may decode into a few times its size (pointers, malloc
	 * headers): half a connection's bytes, 8 x max_frame at least */
	if (ing->o.max_conn_bytes < 16 * ing->o.max_frame)
		ing->o.max_conn_bytes = 16 * ing->o.max_frame;
	if (!ing->o.max_total_bytes)
		ing->o.max_total_bytes = (size_t)1 << 30;
	if (ing->o.max_total_bytes < ing->o.max_conn_bytes)
		ing->o.max_total_bytes = ing->o.max_conn_bytes;
	/* the strings are borrowed only during ingest_new */
	ing->o.host = ing->o.ca_file = ing->o.cert_file = ing->o.key_file = NULL;

	if (!(ing->ctx = ingest_tls_ctx_new(o->ca_file, o->cert_file, o->key_file, err, errlen)))
		goto fail;
	ing->reaper = evtimer_new(base, reaper_cb, ing);
	ing->resume_poll = evtimer_new(base, resume_poll_cb, ing);
	if (!ing->reaper || !ing->resume_poll) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	if (ingest_listen_bind(ing, o, err, errlen) != 0) {
		*bind_failed = true;
		goto fail;
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

void ingest_each_probe(const struct ingest *ing,
		       void (*cb)(void *arg, const struct ingest_probe_report *r), void *arg)
{
	for (const struct ingest_conn *c = ing ? ing->live : NULL; c; c = c->next) {
		if (!c->beat_at_ms || (c->state != CONN_STREAMING && c->state != CONN_DRAINING))
			continue;
		struct ingest_probe_report r = {
			.probe_id = c->probe_id, .region = c->region,
			.spool_records = c->beat.spool_records, .spool_bytes = c->beat.spool_bytes,
			.dropped = c->beat.dropped, .overdue = c->beat.overdue,
			.at_unix_ms = c->beat_at_ms,
		};
		cb(arg, &r);
	}
}

void ingest_free(struct ingest *ing)
{
	if (!ing)
		return;
	if (ing->db)
		db_on_ready(ing->db, NULL, NULL);  /* the pool may outlive the server */
	accept_backoff_free(ing->backoff);
	if (ing->lev)
		evconnlistener_free(ing->lev);
	while (ing->live)
		ingest_conn_close(ing->live);
	while (ing->closed) {
		struct ingest_conn *c = ing->closed;
		ingest_list_remove(&ing->closed, c);
		ingest_conn_free(c);
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

int ingest_check_tls(const struct ingest_opts *o, char *err, size_t errlen)
{
	SSL_CTX *ctx = ingest_tls_ctx_new(o->ca_file, o->cert_file, o->key_file, err, errlen);
	if (!ctx)
		return -1;
	SSL_CTX_free(ctx);
	return 0;
}
