/*
 * ingest_conn.c - one probe connection's state machine (states in
 * ingest_int.h), memcached's drive_machine on libevent:
 *
 *   TLS_ACCEPTING --handshake ok, cert names CN+OU--> AWAIT_HELLO
 *   AWAIT_HELLO   --Hello matches the certificate---> STREAMING
 *   STREAMING     --SIGTERM--> DRAINING --all committed and acked--> CLOSED
 *   STREAMING     --same probe connected again after this one went silent
 *                   (ingest_proto.c; while it is alive the newcomer is
 *                   refused, probe_conflict), db job in flight--> RETIRING
 *   RETIRING      --its db job finished--> CLOSED
 *   after TLS     --refusal--> REFUSING --Error written--> LINGERING --> CLOSED
 *   any           --peer gone, timeout--> CLOSED
 *
 * Every event (bytes in, output flushed, TLS event, deadline, retry, a
 * database answer, the database ready again) records what it learnt and
 * calls ingest_conn_drive(), which does whatever the state needs now: read
 * frames, let the database side move (ingest_commit.c), check the drain,
 * flush a refusal, close. ingest_conn_set_state() is the only writer of
 * c->state: it logs, arms the state's deadline and sets reading.
 *
 * Refusals. Once TLS is up, a refused peer is told why: an Error frame
 * (code = the refusal's metrics name) is written, our side is shut for
 * writing, and the input is discarded until the peer closes (or
 * INGEST_LINGER_MS), so that the close does not reset the connection before
 * the Error has been read.
 */
#include "ingest_int.h"
#include "frame.h"
#include "ingest_tls.h"
#include "twtime.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <openssl/err.h>

static const char *const state_names[] = {
	"tls_accepting", "await_hello", "streaming", "draining", "retiring", "refusing",
	"lingering", "closed",
};

void ingest_conn_log(const struct ingest_conn *c, enum log_level lvl, const char *fmt, ...)
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

/* ---- state ---- */

static bool conn_wants_read(const struct ingest_conn *c)
{
	switch (c->state) {
	case CONN_TLS_ACCEPTING:
	case CONN_AWAIT_HELLO:
	case CONN_REFUSING:   /* read and discarded: a full buffer must not stall */
	case CONN_LINGERING:  /* the write, nor hide the peer's close */
		return true;
	case CONN_STREAMING:
		/* a frame is read only when its decoding fits in what this
		 * connection and the server may still hold */
		return !c->ing->db_paused && !c->ing->bytes_full &&
		       c->q.held_rows < c->ing->o.max_pending_rows &&
		       c->q.held_bytes + ingest_frame_budget(c->ing) <= c->ing->o.max_conn_bytes;
	default:
		return false;
	}
}

static bool conn_reading(const struct ingest_conn *c)
{
	return (bufferevent_get_enabled(c->bev) & EV_READ) != 0;
}

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
		ms = conn_wants_read(c) && c->q.held_rows == 0 ? o->idle_timeout_ms : 0;
		break;
	case CONN_REFUSING: ms = INGEST_LINGER_MS; break;
	case CONN_LINGERING: return;  /* REFUSING's deadline goes on */
	default: ms = 0; break;
	}
	if (ms == 0) {
		evtimer_del(c->deadline);
		return;
	}
	ingest_ms_to_tv(ms, &tv);
	evtimer_add(c->deadline, &tv);
}

void ingest_conn_idle_restart(struct ingest_conn *c)
{
	if (c->state == CONN_STREAMING)
		conn_arm_deadline(c);
}

void ingest_conn_update_reading(struct ingest_conn *c)
{
	if (c->state == CONN_CLOSED)
		return;
	bool want = conn_wants_read(c);
	if (want == conn_reading(c))
		return;
	if (want) {
		/* silence while we were not reading says nothing of the peer */
		c->heard_ms = twtime_mono_ms();
		bufferevent_enable(c->bev, EV_READ);
	} else
		bufferevent_disable(c->bev, EV_READ);
	/* idle time does not run while we hold the probe back; frames already
	 * buffered are read by the next drive (the kick) */
	ingest_conn_idle_restart(c);
	if (want && evbuffer_get_length(bufferevent_get_input(c->bev)) > 0)
		ingest_conn_kick(c);
}

void ingest_conn_set_state(struct ingest_conn *c, enum conn_state st)
{
	if (c->state == st)
		return;
	log_debug("peer=%s probe=%s state %s -> %s", c->peer, c->probe_id[0] ? c->probe_id : "-",
		  state_names[c->state], state_names[st]);
	c->state = st;
	conn_arm_deadline(c);
	ingest_conn_update_reading(c);
}

void ingest_conn_kick(struct ingest_conn *c)
{
	if (c->state != CONN_CLOSED)
		event_active(c->kick, EV_TIMEOUT, 0);
}

/* Lets go of everything c holds for the database and for other
 * connections: its job, lookup and batches, its predecessor and successor
 * (who may go on now). */
static void conn_release(struct ingest_conn *c)
{
	ingest_commit_release(c);
	size_t bytes = c->q.held_bytes;
	c->ing->st.pending_rows -= ingest_batchq_clear(&c->q);
	ingest_bytes_sub(c->ing, bytes);
	if (c->predecessor) {
		c->predecessor->successor = NULL;
		c->predecessor = NULL;
	}
	if (c->successor) {
		struct ingest_conn *s = c->successor;
		s->predecessor = NULL;
		c->successor = NULL;
		ingest_conn_kick(s);
	}
}

void ingest_conn_close(struct ingest_conn *c)
{
	struct ingest *ing = c->ing;
	if (c->state == CONN_CLOSED)
		return;
	conn_release(c);
	ingest_conn_set_state(c, CONN_CLOSED);
	event_del(c->kick);
	bufferevent_disable(c->bev, EV_READ | EV_WRITE);
	bufferevent_setcb(c->bev, NULL, NULL, NULL, NULL);
	ingest_list_remove(&ing->live, c);
	ingest_list_push(&ing->closed, c);
	ing->st.connections_current--;
	ingest_schedule_reaper(ing);
	if (ing->phase == INGEST_SHUTTING_DOWN)
		ingest_listen_check_shutdown_done(ing);
}

/* ---- output ---- */

static enum conn_io conn_write_frame(struct ingest_conn *c, const Tlswatch__Envelope *env)
{
	if (frame_write_evbuffer(bufferevent_get_output(c->bev), env, c->ing->o.max_frame) != 0)
		return IO_SOFT_ERROR;
	return IO_COMPLETE;
}

enum conn_io ingest_conn_flushed(struct ingest_conn *c)
{
	return evbuffer_get_length(bufferevent_get_output(c->bev)) == 0 ? IO_COMPLETE
									 : IO_INCOMPLETE;
}

void ingest_conn_send_ack(struct ingest_conn *c, uint64_t seq)
{
	if (seq > c->acked_seq)
		c->acked_seq = seq;
	Tlswatch__Ack ack = TLSWATCH__ACK__INIT;
	Tlswatch__Envelope env = TLSWATCH__ENVELOPE__INIT;
	ack.seq = c->acked_seq;
	ack.has_collector_unix_ms = true;
	ack.collector_unix_ms = twtime_wall_ms();
	env.msg_case = TLSWATCH__ENVELOPE__MSG_ACK;
	env.ack = &ack;
	if (conn_write_frame(c, &env) != IO_COMPLETE) {
		ingest_conn_log(c, TWLOG_ERROR, "cannot queue Ack(%llu): out of memory",
				(unsigned long long)ack.seq);
		return;
	}
	c->ing->st.acks++;
	ingest_conn_log(c, TWLOG_DEBUG, "ack seq=%llu", (unsigned long long)ack.seq);
}

/* Tells the peer why it is refused: an Error frame, code = the refusal's
 * metrics name, message = the sentence we log. */
static enum conn_io conn_send_error(struct ingest_conn *c, enum ingest_refusal why,
				    const char *msg)
{
	Tlswatch__Error err = TLSWATCH__ERROR__INIT;
	Tlswatch__Envelope env = TLSWATCH__ENVELOPE__INIT;
	err.code = (char *)ingest_refusal_name(why);
	err.message = (char *)msg;
	env.msg_case = TLSWATCH__ENVELOPE__MSG_ERROR;
	env.error = &err;
	return conn_write_frame(c, &env);
}

bool ingest_conn_is_reading(const struct ingest_conn *c)
{
	return c->state != CONN_CLOSED && conn_reading(c);
}

static void conn_vrefuse(struct ingest_conn *c, enum log_level lvl, enum ingest_refusal why,
			 const char *fmt, va_list ap)
{
	char msg[768];
	vsnprintf(msg, sizeof msg, fmt, ap);
	c->ing->st.refused[why]++;
	ingest_conn_log(c, lvl, "refused (%s): %s", ingest_refusal_name(why), msg);
	/* Once TLS is up the peer can read a frame: it learns why, rather
	 * than seeing a broken pipe. */
	if (c->state != CONN_CLOSED && SSL_is_init_finished(c->ssl) &&
	    conn_send_error(c, why, msg) == IO_COMPLETE) {
		conn_release(c);
		ingest_conn_set_state(c, CONN_REFUSING);
		return;
	}
	ingest_conn_close(c);
}

void ingest_conn_refuse(struct ingest_conn *c, enum ingest_refusal why, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	conn_vrefuse(c, TWLOG_WARN, why, fmt, ap);
	va_end(ap);
}

void ingest_conn_refuse_at(struct ingest_conn *c, enum log_level lvl, enum ingest_refusal why,
			   const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	conn_vrefuse(c, lvl, why, fmt, ap);
	va_end(ap);
}

void ingest_conn_end(struct ingest_conn *c, enum ingest_close why, enum log_level lvl,
		     const char *fmt, ...)
{
	char msg[768];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	c->ing->st.closed[why]++;
	ingest_conn_log(c, lvl, "closed (%s): %s", ingest_close_name(why), msg);
	ingest_conn_close(c);
}

/* ---- input ---- */

/* One frame from the input: IO_COMPLETE with *env (the caller's),
 * IO_INCOMPLETE, or IO_HARD_ERROR when c was refused for it. */
static enum conn_io conn_read_frame(struct ingest_conn *c, Tlswatch__Envelope **env,
				    size_t *cost)
{
	struct evbuffer *in = bufferevent_get_input(c->bev);
	char err[256];
	bool over;
	enum frame_status st = ingest_frame_read(in, c->ing->o.max_frame,
						 ingest_frame_budget(c->ing), env, cost, &over,
						 err, sizeof err);
	if (st == FRAME_MALFORMED && over) {
		ingest_conn_refuse(c, REFUSE_MEMORY_LIMIT, "%s", err);
		return IO_HARD_ERROR;
	}
	switch (st) {
	case FRAME_OK:
		return IO_COMPLETE;
	case FRAME_INCOMPLETE:
		return IO_INCOMPLETE;
	case FRAME_TOO_LARGE: {
		unsigned char hdr[4] = { 0 };
		evbuffer_copyout(in, hdr, sizeof hdr);
		uint32_t n = (uint32_t)hdr[0] << 24 | (uint32_t)hdr[1] << 16 |
			     (uint32_t)hdr[2] << 8 | hdr[3];
		ingest_conn_refuse(c, REFUSE_FRAME_TOO_LARGE, "frame too large: %u > %zu bytes", n,
				   c->ing->o.max_frame);
		return IO_HARD_ERROR;
	}
	default:
		ingest_conn_refuse(c, REFUSE_MALFORMED_FRAME, "malformed frame: %s", err);
		return IO_HARD_ERROR;
	}
}

static void conn_discard_input(struct ingest_conn *c)
{
	struct evbuffer *in = bufferevent_get_input(c->bev);
	evbuffer_drain(in, evbuffer_get_length(in));
}

/* ---- the machine ---- */

/* DRAINING: everything received is committed and acked, and written. */
static bool conn_drained(struct ingest_conn *c)
{
	return (c->db == CDB_IDLE || c->db == CDB_LOOKUP_DUE) && !c->q.pending &&
	       !c->predecessor && ingest_conn_flushed(c) == IO_COMPLETE;
}

void ingest_conn_drive(struct ingest_conn *c)
{
	enum conn_state st;
	do {
		st = c->state;
		switch (st) {
		case CONN_TLS_ACCEPTING:  /* the handshake's end is an event */
		case CONN_RETIRING:       /* its job's callback decides */
		case CONN_CLOSED:
			break;
		case CONN_AWAIT_HELLO:
		case CONN_STREAMING:
			ingest_commit_step(c);
			while (c->state == st && conn_wants_read(c)) {
				Tlswatch__Envelope *env;
				size_t cost;
				if (conn_read_frame(c, &env, &cost) != IO_COMPLETE)
					break;
				c->heard_ms = twtime_mono_ms();
				ingest_proto_on_frame(c, env, cost);
				ingest_commit_step(c);
			}
			ingest_conn_update_reading(c);
			break;
		case CONN_DRAINING:
			ingest_commit_step(c);
			if (c->state == st && conn_drained(c))
				ingest_conn_end(c, CLOSE_SHUTDOWN, TWLOG_INFO, "drained: everything "
						"received is committed and acked (seq=%llu)",
						(unsigned long long)c->acked_seq);
			break;
		case CONN_REFUSING:
			conn_discard_input(c);
			if (ingest_conn_flushed(c) != IO_COMPLETE)
				break;
			/* FIN after the Error; the peer's close ends LINGERING */
			if (shutdown(bufferevent_getfd(c->bev), SHUT_WR) == 0)
				ingest_conn_set_state(c, CONN_LINGERING);
			else  /* the peer is gone already */
				ingest_conn_close(c);
			break;
		case CONN_LINGERING:
			conn_discard_input(c);
			break;
		}
	} while (c->state != st);
}

/* ---- events ---- */

static void read_cb(struct bufferevent *bev, void *arg)
{
	ingest_conn_drive(arg);
}

static void write_cb(struct bufferevent *bev, void *arg)
{
	ingest_conn_drive(arg);
}

static void kick_cb(evutil_socket_t fd, short what, void *arg)
{
	ingest_conn_drive(arg);
}

static void on_handshake(struct ingest_conn *c)
{
	char msg[512];
	enum ingest_refusal why;
	c->ing->st.handshakes++;
	if (ingest_tls_identity(c->ssl, c->probe_id, c->region, sizeof c->probe_id, &why, msg,
				sizeof msg) != 0) {
		c->probe_id[0] = c->region[0] = '\0';
		ingest_conn_refuse(c, why, "%s", msg);
		return;
	}
	ingest_conn_log(c, TWLOG_DEBUG, "TLS handshake done: %s %s", SSL_get_version(c->ssl),
			SSL_get_cipher_name(c->ssl));
	ingest_conn_set_state(c, CONN_AWAIT_HELLO);
}

static void event_cb(struct bufferevent *bev, short events, void *arg)
{
	struct ingest_conn *c = arg;
	char why[512];
	enum ingest_refusal kind;
	if (events & BEV_EVENT_CONNECTED) {
		if (c->state == CONN_TLS_ACCEPTING)
			on_handshake(c);
		ingest_conn_drive(c);
		return;
	}
	if (!(events & (BEV_EVENT_EOF | BEV_EVENT_ERROR)))
		return;
	switch (c->state) {
	case CONN_TLS_ACCEPTING:
		if (ingest_tls_handshake_failure(c->bev, c->ssl, events, &kind, why, sizeof why))
			ingest_conn_refuse(c, kind, "%s", why);
		else  /* a port check or a health check, not a misbehaving probe */
			ingest_conn_end(c, CLOSE_PEER, TWLOG_DEBUG,
					"peer closed before completing the TLS handshake");
		break;
	case CONN_RETIRING:
		/* its job still decides when it goes; just stop using the socket */
		(void)ingest_tls_stream_error(c->bev, events, why, sizeof why);
		bufferevent_disable(c->bev, EV_READ | EV_WRITE);
		break;
	case CONN_REFUSING:
	case CONN_LINGERING:
		(void)ingest_tls_stream_error(c->bev, events, why, sizeof why);
		ingest_conn_log(c, TWLOG_DEBUG, "refused peer gone");
		ingest_conn_close(c);
		break;
	case CONN_CLOSED:
		break;
	default: {
		bool error = ingest_tls_stream_error(c->bev, events, why, sizeof why);
		ingest_conn_end(c, CLOSE_PEER, error ? TWLOG_WARN : TWLOG_INFO,
				"probe disconnected%s%s", why, c->db == CDB_JOB
				? " (its batch in flight is cancelled, not acked)" : "");
		break;
	}
	}
}

static void deadline_cb(evutil_socket_t fd, short what, void *arg)
{
	struct ingest_conn *c = arg;
	const struct ingest_opts *o = &c->ing->o;
	switch (c->state) {
	case CONN_TLS_ACCEPTING:
		ingest_conn_refuse(c, REFUSE_HANDSHAKE_TIMEOUT,
				   "TLS handshake not completed within %u ms", o->handshake_timeout_ms);
		break;
	case CONN_AWAIT_HELLO:
		ingest_conn_refuse(c, REFUSE_HELLO_TIMEOUT, "no Hello within %u ms",
				   o->hello_timeout_ms);
		break;
	case CONN_STREAMING:
		ingest_conn_end(c, CLOSE_IDLE_TIMEOUT, TWLOG_INFO, "no frame for %u ms",
				o->idle_timeout_ms);
		break;
	case CONN_REFUSING:
	case CONN_LINGERING:
		ingest_conn_log(c, TWLOG_DEBUG, "refused peer did not close within %u ms",
				INGEST_LINGER_MS);
		ingest_conn_close(c);
		break;
	default:
		break;
	}
	ingest_conn_drive(c);
}

/* ---- lifetime ---- */

struct ingest_conn *ingest_conn_new(struct ingest *ing, evutil_socket_t fd, const char *peer)
{
	struct ingest_conn *c = calloc(1, sizeof *c);
	SSL *ssl = c ? SSL_new(ing->ctx) : NULL;
	if (!ssl)
		goto fail;
	c->ing = ing;
	c->ssl = ssl;
	c->heard_ms = twtime_mono_ms();
	snprintf(c->peer, sizeof c->peer, "%s", peer);
	c->bev = bufferevent_openssl_socket_new(ing->base, fd, ssl, BUFFEREVENT_SSL_ACCEPTING,
						BEV_OPT_CLOSE_ON_FREE);
	if (!c->bev)
		goto fail;
	ssl = NULL;  /* the bufferevent's now, and so is fd */
	fd = -1;
	c->deadline = evtimer_new(ing->base, deadline_cb, c);
	c->retry = evtimer_new(ing->base, ingest_commit_retry_cb, c);
	c->kick = evtimer_new(ing->base, kick_cb, c);
	if (!c->deadline || !c->retry || !c->kick)
		goto fail;
	bufferevent_openssl_set_allow_dirty_shutdown(c->bev, 1);
	bufferevent_setcb(c->bev, read_cb, write_cb, event_cb, c);
	/* at most one frame and a bit buffered while we hold the probe back */
	bufferevent_setwatermark(c->bev, EV_READ, 0, ing->o.max_frame + FRAME_HEADER_LEN + 16384);
	ingest_list_push(&ing->live, c);
	ing->st.connections_total++;
	ing->st.connections_current++;
	conn_arm_deadline(c);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
	log_debug("peer=%s accepted", peer);
	return c;
fail:
	ERR_clear_error();
	SSL_free(ssl);
	if (fd >= 0)
		evutil_closesocket(fd);
	if (c)
		ingest_conn_free(c);
	return NULL;
}

void ingest_conn_free(struct ingest_conn *c)
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
