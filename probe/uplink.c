/*
 * uplink.c - the probe's mTLS stream to the collector (see uplink.h for the
 * protocol and the state diagram).
 *
 * Batches: the spool stores packed Results; a batch unpacks them and packs
 * one Envelope{ResultBatch} with protobuf-c, so no tag or length byte is
 * ever written by hand. (Measured: unpack + repack is a few microseconds
 * per Result, next to hundreds of microseconds of CPU per handshake.)
 *
 * A refusal: the collector sends Error{code, message} before it closes a
 * connection it refuses; it is logged at level error with both as keys,
 * and the connection backs off like any other failure.
 *
 * Liveness: the collector only speaks when it acks, so a connection is
 * declared dead when batches are in flight and no Ack came for 3 heartbeat
 * intervals; an idle connection is watched by TCP keepalive.
 */
#include "uplink.h"

#include "frame.h"
#include "log.h"
#include "tlsutil.h"
#include "twtime.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <openssl/err.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

enum uplink_state {
	UL_BACKOFF,     /* waiting for the backoff timer before the next attempt */
	UL_CONNECTING,  /* resolving, TCP connect and TLS handshake (one deadline) */
	UL_STREAMING,   /* Hello sent; batches out, Acks in */
	UL_CLOSED,      /* uplink_free in progress */
};

#define UL_MAX_WINDOW 64

struct uplink {
	struct event_base *base;
	struct evdns_base *dns;
	struct spool *spool;
	SSL_CTX *ctx;

	char *host, *probe_id, *region, *version;
	unsigned port;
	size_t batch_max_records, batch_max_bytes, max_frame;
	unsigned batch_delay_ms, window, heartbeat_ms, backoff_min, backoff_max, connect_timeout_ms;

	enum uplink_state state;
	struct bufferevent *bev;
	struct event *ev_timer;     /* connect deadline or backoff, by state */
	struct event *ev_batch;     /* batch delay */
	struct event *ev_beat;      /* heartbeat + liveness, persistent */
	bool batch_armed;

	unsigned attempt;           /* consecutive failures, for backoff */
	double streaming_since;     /* twtime_mono_ms when STREAMING began */
	double last_ack_ms;         /* last Ack, or when the oldest in-flight batch went out */

	uint64_t inflight[UL_MAX_WINDOW]; /* last seq of each unacked batch, oldest first */
	unsigned ninflight;
	uint64_t overdue;
	struct log_ratelimit foreign_ack_rl; /* "acked past this spool's numbers" */

	struct uplink_stats st;
};

static void ul_connect(struct uplink *u);
static void ul_fail(struct uplink *u, const char *why);
static void ul_send_more(struct uplink *u, bool force);

static const char *ul_state_name(enum uplink_state s)
{
	switch (s) {
	case UL_BACKOFF: return "backoff";
	case UL_CONNECTING: return "connecting";
	case UL_STREAMING: return "streaming";
	case UL_CLOSED: return "closed";
	}
	return "?";
}

/* The only writer of u->state. */
/* The highest seq handed to the network on this connection (or known
 * committed). The spool is told too: records in flight may be committed
 * by the collector at any moment, so max_bytes must not delete them and
 * count them as dropped (they would be counted twice: stored and lost). */
static void ul_set_sent(struct uplink *u, uint64_t seq)
{
	u->st.sent_seq = seq;
	spool_set_sent(u->spool, seq);
}

static void ul_set_state(struct uplink *u, enum uplink_state s)
{
	log_debug("uplink: %s -> %s", ul_state_name(u->state), ul_state_name(s));
	u->state = s;
	u->st.connected = (s == UL_STREAMING);
}

static void arm_ms(struct event *ev, double ms)
{
	struct timeval tv;
	if (ms < 0)
		ms = 0;
	tv.tv_sec = (time_t)(ms / 1000);
	tv.tv_usec = (suseconds_t)((ms - (double)tv.tv_sec * 1000) * 1000);
	event_add(ev, &tv);
}

static uint32_t rand_u32(void)
{
	uint32_t r;
	if (RAND_bytes((unsigned char *)&r, sizeof r) != 1)
		r = (uint32_t)random();
	return r;
}

/* "Equal jitter": half the capped exponential delay, plus a random part up
 * to the other half, so retries from many probes spread out but never come
 * back at once. */
static unsigned backoff_ms(struct uplink *u)
{
	uint64_t cap = u->backoff_min;
	for (unsigned i = 0; i < u->attempt && cap < u->backoff_max; i++)
		cap *= 2;
	if (cap > u->backoff_max)
		cap = u->backoff_max;
	return (unsigned)(cap / 2 + rand_u32() % (cap / 2 + 1));
}

static void ul_close_bev(struct uplink *u)
{
	if (u->bev) {
		bufferevent_free(u->bev);
		u->bev = NULL;
	}
	u->ninflight = 0;
	if (u->batch_armed) {
		event_del(u->ev_batch);
		u->batch_armed = false;
	}
}

static void ul_fail(struct uplink *u, const char *why)
{
	if (u->state == UL_CLOSED)
		return;
	/* a stream that lived a while was a success: start the backoff over */
	if (u->state == UL_STREAMING && twtime_mono_ms() - u->streaming_since > 10000)
		u->attempt = 0;
	ul_close_bev(u);
	u->st.failures++;
	unsigned delay = backoff_ms(u);
	if (u->attempt < 30)
		u->attempt++;
	log_warn("uplink: collector %s:%u: %s; retrying in %u ms", u->host, u->port, why, delay);
	ul_set_state(u, UL_BACKOFF);
	event_del(u->ev_timer);
	arm_ms(u->ev_timer, delay);
}

/* --- frames out */

static int ul_write_env(struct uplink *u, const Tlswatch__Envelope *env)
{
	if (frame_write_evbuffer(bufferevent_get_output(u->bev), env, u->max_frame) != 0) {
		ul_fail(u, "cannot queue a frame (out of memory?)");
		return -1;
	}
	return 0;
}

static int ul_send_hello(struct uplink *u)
{
	Tlswatch__Envelope env = TLSWATCH__ENVELOPE__INIT;
	Tlswatch__Hello h = TLSWATCH__HELLO__INIT;
	struct spool_stats ss;

	spool_get_stats(u->spool, &ss);
	h.probe_id = u->probe_id;
	h.region = u->region;
	h.version = u->version;
	h.has_last_acked_seq = 1;
	h.last_acked_seq = ss.acked_seq;
	h.has_sent_unix_ms = 1;
	h.sent_unix_ms = twtime_wall_ms();
	/* the collector acks per (probe, epoch); the heartbeat period tells it
	 * how long this connection may be silent and still alive */
	h.spool_epoch = (char *)spool_epoch(u->spool);
	h.has_heartbeat_ms = 1;
	h.heartbeat_ms = u->heartbeat_ms;
	env.msg_case = TLSWATCH__ENVELOPE__MSG_HELLO;
	env.hello = &h;
	return ul_write_env(u, &env);
}

static void ul_send_heartbeat(struct uplink *u)
{
	Tlswatch__Envelope env = TLSWATCH__ENVELOPE__INIT;
	Tlswatch__Heartbeat hb = TLSWATCH__HEARTBEAT__INIT;
	struct spool_stats ss;

	spool_get_stats(u->spool, &ss);
	hb.has_sent_unix_ms = 1;
	hb.sent_unix_ms = twtime_wall_ms();
	hb.has_last_seq = 1;
	hb.last_seq = ss.last_seq;
	hb.has_spool_records = 1;
	hb.spool_records = ss.records;
	hb.has_spool_bytes = 1;
	hb.spool_bytes = ss.bytes;
	hb.has_dropped = 1;
	hb.dropped = ss.dropped;
	hb.has_overdue = 1;
	hb.overdue = u->overdue;
	env.msg_case = TLSWATCH__ENVELOPE__MSG_HEARTBEAT;
	env.heartbeat = &hb;
	ul_write_env(u, &env);
}

/* One frame: Envelope{batch: ResultBatch{results}}, packed by protobuf-c
 * from the unpacked spool records. A record that does not unpack (written
 * by an incompatible version) is logged and left out; the next ack covers
 * its seq. 0, or -1 (out of memory, or the frame is over max_frame). */
static int ul_send_batch(struct uplink *u, const struct spool_batch *b)
{
	Tlswatch__Result **rs = calloc(b->n, sizeof *rs);
	size_t n = 0;
	int rc = -1;

	if (!rs)
		return -1;
	for (size_t i = 0; i < b->n; i++) {
		rs[n] = tlswatch__result__unpack(NULL, b->recs[i].len, b->recs[i].data);
		if (!rs[n]) {
			log_error("uplink: spool record seq %llu is not a Result; not sent",
				  (unsigned long long)b->recs[i].seq);
			continue;
		}
		n++;
	}
	Tlswatch__ResultBatch rb = TLSWATCH__RESULT_BATCH__INIT;
	Tlswatch__Envelope env = TLSWATCH__ENVELOPE__INIT;
	rb.n_results = n;
	rb.results = rs;
	env.msg_case = TLSWATCH__ENVELOPE__MSG_BATCH;
	env.batch = &rb;
	if (n == 0)
		rc = 0;
	else if (frame_write_evbuffer(bufferevent_get_output(u->bev), &env, u->max_frame) == 0)
		rc = 0;
	else
		log_error("uplink: cannot frame a batch of %zu records (%zu bytes of Results; "
			  "max frame %zu)", n, b->bytes, u->max_frame);
	for (size_t i = 0; i < n; i++)
		tlswatch__result__free_unpacked(rs[i], NULL);
	free(rs);
	return rc;
}

/* Sends batches while the window allows. force: send a partial batch now
 * (the batch delay expired); otherwise only full batches go at once and a
 * partial one arms the delay timer. */
static void ul_send_more(struct uplink *u, bool force)
{
	char err[256];

	while (u->state == UL_STREAMING && u->ninflight < u->window) {
		struct spool_stats ss;
		spool_get_stats(u->spool, &ss);
		if (ss.last_seq <= u->st.sent_seq)
			return;
		/* seq gaps make this an upper bound, which only sends sooner */
		bool full = ss.last_seq - u->st.sent_seq >= u->batch_max_records;
		if (!full && !force) {
			if (!u->batch_armed) {
				u->batch_armed = true;
				arm_ms(u->ev_batch, u->batch_delay_ms);
			}
			return;
		}
		struct spool_batch b;
		if (spool_read(u->spool, u->st.sent_seq, u->batch_max_records, u->batch_max_bytes,
			       &b, err, sizeof err) != 0) {
			log_error("uplink: cannot read the spool: %s", err);
			return;
		}
		if (b.n == 0) {
			spool_batch_free(&b);
			/* everything above sent_seq was dropped or acked meanwhile */
			ul_set_sent(u, ss.last_seq);
			return;
		}
		if (ul_send_batch(u, &b) != 0) {
			spool_batch_free(&b);
			ul_fail(u, "cannot queue a batch (out of memory?)");
			return;
		}
		if (u->ninflight == 0)
			u->last_ack_ms = twtime_mono_ms();
		u->inflight[u->ninflight++] = b.recs[b.n - 1].seq;
		ul_set_sent(u, b.recs[b.n - 1].seq);
		u->st.batches_sent++;
		u->st.records_sent += b.n;
		log_debug("uplink: sent batch of %zu records up to seq %llu", b.n,
			  (unsigned long long)u->st.sent_seq);
		spool_batch_free(&b);
		force = false;
		/* keep draining a backlog in full batches; a tail waits for the timer */
	}
}

/* --- frames in */

static void ul_on_ack(struct uplink *u, uint64_t seq)
{
	char err[256];
	unsigned k = 0;
	struct spool_stats ss;

	/* Nothing past the spool's own numbers can have come from it: such an
	 * Ack speaks of another spool (a collector that does not key on the
	 * epoch, after this spool was wiped). Taking it would delete records
	 * never sent, so it is ignored - the records stay and are replayed. */
	spool_get_stats(u->spool, &ss);
	if (seq > ss.last_seq) {
		/* an old collector repeats it with every Ack: once per minute */
		log_every(&u->foreign_ack_rl, 60000, TWLOG_ERROR, "uplink: collector %s:%u acked "
			  "seq %llu but this spool (epoch %s) has numbered only up to %llu: "
			  "ignored, nothing is deleted (is the collector older than spool "
			  "epochs?)", u->host, u->port, (unsigned long long)seq,
			  spool_epoch(u->spool)[0] ? spool_epoch(u->spool) : "none",
			  (unsigned long long)ss.last_seq);
		return;
	}

	while (k < u->ninflight && u->inflight[k] <= seq)
		k++;
	if (k) {
		memmove(u->inflight, u->inflight + k, (u->ninflight - k) * sizeof u->inflight[0]);
		u->ninflight -= k;
	}
	u->last_ack_ms = twtime_mono_ms();
	if (seq > u->st.acked_seq)
		u->st.acked_seq = seq;
	/* an Ack beyond what this connection sent is the collector saying it
	 * already committed those (lost ack before a reconnect): skip them */
	if (seq > u->st.sent_seq)
		ul_set_sent(u, seq);
	if (spool_ack(u->spool, seq, err, sizeof err) != 0)
		log_error("uplink: cannot record ack %llu in the spool: %s",
			  (unsigned long long)seq, err);
	u->attempt = 0;
	ul_send_more(u, false);
}

/* value as a log value: bare when it is a plain token, else in double
 * quotes with \\, \" and control characters escaped. */
static const char *log_value(const char *v, char *buf, size_t cap)
{
	bool plain = v[0] != '\0';
	for (const char *p = v; *p && plain; p++)
		plain = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
			(*p >= '0' && *p <= '9') || *p == '_' || *p == '-' || *p == '.';
	if (plain) {
		snprintf(buf, cap, "%s", v);
		return buf;
	}
	size_t o = 0;
	if (cap < 8)
		return "\"\"";
	buf[o++] = '"';
	for (const unsigned char *p = (const unsigned char *)v; *p && o + 6 < cap; p++) {
		if (*p == '"' || *p == '\\') {
			buf[o++] = '\\';
			buf[o++] = (char)*p;
		} else if (*p < 0x20 || *p == 0x7f) {
			o += (size_t)snprintf(buf + o, cap - o, "\\x%02x", *p);
		} else {
			buf[o++] = (char)*p;
		}
	}
	buf[o++] = '"';
	buf[o] = '\0';
	return buf;
}

/* The collector refused us and is about to close: say why, then back off
 * (the close that follows finds the connection already gone). */
static void ul_on_error(struct uplink *u, const Tlswatch__Error *e)
{
	char code[128], msg[512], why[200];

	log_error("uplink: collector %s:%u refused the connection: code=%s message=%s",
		  u->host, u->port, log_value(e->code ? e->code : "", code, sizeof code),
		  log_value(e->message ? e->message : "", msg, sizeof msg));
	snprintf(why, sizeof why, "refused by the collector (code=%s)", code);
	ul_fail(u, why);
}

static void ul_read_cb(struct bufferevent *bev, void *arg)
{
	struct uplink *u = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	char err[256];

	for (;;) {
		Tlswatch__Envelope *env = NULL;
		enum frame_status fs = frame_read_evbuffer(in, u->max_frame, &env, err, sizeof err);
		if (fs == FRAME_INCOMPLETE)
			return;
		if (fs != FRAME_OK) {
			char why[320];
			snprintf(why, sizeof why, "bad frame from collector (%s): %s",
				 frame_status_str(fs), err);
			ul_fail(u, why);
			return;
		}
		if (env->msg_case == TLSWATCH__ENVELOPE__MSG_ERROR) {
			ul_on_error(u, env->error);
			tlswatch__envelope__free_unpacked(env, NULL);
			return;
		}
		if (env->msg_case == TLSWATCH__ENVELOPE__MSG_ACK) {
			uint64_t seq = env->ack->seq;
			tlswatch__envelope__free_unpacked(env, NULL);
			ul_on_ack(u, seq);
			if (u->state != UL_STREAMING)
				return;
		} else {
			log_debug("uplink: ignoring message %d from collector", (int)env->msg_case);
			tlswatch__envelope__free_unpacked(env, NULL);
		}
	}
}

/* The reason a TLS connection failed, from OpenSSL's queue and the verify
 * result. */
static void ul_tls_reason(struct uplink *u, char *buf, size_t cap)
{
	unsigned long e = bufferevent_get_openssl_error(u->bev);
	SSL *ssl = bufferevent_openssl_get_ssl(u->bev);
	long vr = ssl ? SSL_get_verify_result(ssl) : X509_V_OK;
	int fd = bufferevent_getfd(u->bev), soerr = 0;
	socklen_t sl = sizeof soerr;
	int sockerr = EVUTIL_SOCKET_ERROR();

	/* a failed TCP connect shows up as a bare system error on the TLS
	 * side; the socket knows the real reason */
	if (fd >= 0 && getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) == 0 && soerr)
		snprintf(buf, cap, "%s", strerror(soerr));
	else if (e && ERR_GET_LIB(e) == ERR_LIB_SYS)
		snprintf(buf, cap, "%s", strerror(ERR_GET_REASON(e)));
	else if (vr != X509_V_OK)
		snprintf(buf, cap, "TLS: collector certificate verify failed: %s",
			 X509_verify_cert_error_string(vr));
	else if (e) {
		char tmp[200];
		ERR_error_string_n(e, tmp, sizeof tmp);
		snprintf(buf, cap, "TLS: %s", tmp);
	} else if (sockerr)
		snprintf(buf, cap, "%s", strerror(sockerr));
	else
		snprintf(buf, cap, "connection closed by the collector");
	while (bufferevent_get_openssl_error(u->bev))
		;
}

static void ul_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct uplink *u = arg;
	char why[320];

	if (what & BEV_EVENT_CONNECTED) {
		event_del(u->ev_timer);
		int fd = bufferevent_getfd(bev);
		int one = 1, idle = 30, intvl = 10, cnt = 3;
		if (fd >= 0) {
			(void)setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof one);
			(void)setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof idle);
			(void)setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &intvl, sizeof intvl);
			(void)setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &cnt, sizeof cnt);
			(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
		}
		struct spool_stats ss;
		spool_get_stats(u->spool, &ss);
		ul_set_state(u, UL_STREAMING);
		u->streaming_since = twtime_mono_ms();
		u->st.connects++;
		/* replay everything not acked */
		ul_set_sent(u, ss.acked_seq);
		u->st.acked_seq = ss.acked_seq;
		u->ninflight = 0;
		log_info("uplink: connected to collector %s:%u; %llu records to send from seq %llu "
			 "(spool epoch %s)", u->host, u->port, (unsigned long long)ss.records,
			 (unsigned long long)ss.acked_seq + 1,
			 spool_epoch(u->spool)[0] ? spool_epoch(u->spool) : "none");
		if (ul_send_hello(u) != 0)
			return;
		ul_send_more(u, true);
		return;
	}
	if (what & BEV_EVENT_EOF) {
		ul_fail(u, u->state == UL_STREAMING ? "connection closed by the collector"
						    : "connection closed during the TLS handshake");
		return;
	}
	if (what & BEV_EVENT_ERROR) {
		int dnserr = bufferevent_socket_get_dns_error(bev);
		if (dnserr)
			snprintf(why, sizeof why, "cannot resolve: %s", evutil_gai_strerror(dnserr));
		else
			ul_tls_reason(u, why, sizeof why);
		ul_fail(u, why);
	}
}

static void ul_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct uplink *u = arg;
	if (u->state == UL_BACKOFF)
		ul_connect(u);
	else if (u->state == UL_CONNECTING)
		ul_fail(u, "connect/TLS handshake timed out");
}

static void ul_batch_cb(evutil_socket_t fd, short what, void *arg)
{
	struct uplink *u = arg;
	u->batch_armed = false;
	ul_send_more(u, true);
}

static void ul_beat_cb(evutil_socket_t fd, short what, void *arg)
{
	struct uplink *u = arg;
	if (u->state != UL_STREAMING)
		return;
	if (u->ninflight && twtime_mono_ms() - u->last_ack_ms > 3.0 * u->heartbeat_ms) {
		ul_fail(u, "no ack from the collector for 3 heartbeat intervals");
		return;
	}
	ul_send_heartbeat(u);
}

static void ul_connect(struct uplink *u)
{
	SSL *ssl = SSL_new(u->ctx);
	if (!ssl) {
		ul_fail(u, "SSL_new failed");
		return;
	}
	char err[400], why[480];
	if (tlsutil_set_peer_name(ssl, u->host, err, sizeof err) != 0) {
		/* never connect without the name check */
		SSL_free(ssl);
		snprintf(why, sizeof why, "TLS: %s", err);
		ul_fail(u, why);
		return;
	}
	u->bev = bufferevent_openssl_socket_new(u->base, -1, ssl, BUFFEREVENT_SSL_CONNECTING,
						BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS);
	if (!u->bev) {
		SSL_free(ssl);
		ul_fail(u, "cannot create a bufferevent");
		return;
	}
	bufferevent_setcb(u->bev, ul_read_cb, NULL, ul_event_cb, u);
	ul_set_state(u, UL_CONNECTING);
	event_del(u->ev_timer);
	arm_ms(u->ev_timer, u->connect_timeout_ms);
	errno = 0;
	if (bufferevent_socket_connect_hostname(u->bev, u->dns, AF_UNSPEC, u->host,
						(int)u->port) != 0) {
		/* the event callback may already have failed us */
		if (u->state == UL_CONNECTING)
			ul_fail(u, "connect failed");
		return;
	}
	bufferevent_enable(u->bev, EV_READ | EV_WRITE);
}

struct uplink *uplink_new(struct event_base *base, struct evdns_base *dns, struct spool *sp,
			  const struct uplink_opts *o, char *err, size_t errlen)
{
	struct uplink *u = calloc(1, sizeof *u);

	if (!u) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	u->base = base;
	u->dns = dns;
	u->spool = sp;
	u->port = o->port;
	u->host = strdup(o->host);
	u->probe_id = strdup(o->probe_id);
	u->region = strdup(o->region ? o->region : "");
	u->version = strdup(o->version ? o->version : "");
	if (!u->host || !u->probe_id || !u->region || !u->version) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	u->max_frame = o->max_frame ? o->max_frame : FRAME_DEFAULT_MAX;
	u->batch_max_records = o->batch_max_records ? o->batch_max_records : 500;
	u->batch_max_bytes = o->batch_max_bytes ? o->batch_max_bytes : (1u << 20);
	/* a batch plus its framing must fit in one frame; every record is at
	 * most SPOOL_MAX_RECORD and spool_read returns at least one */
	if (u->batch_max_bytes + 64 > u->max_frame)
		u->batch_max_bytes = u->max_frame > 64 ? u->max_frame - 64 : 1;
	if (u->max_frame < SPOOL_MAX_RECORD + 64) {
		snprintf(err, errlen, "max_frame %zu is smaller than a spool record can be", u->max_frame);
		goto fail;
	}
	u->batch_delay_ms = o->batch_max_delay_ms ? o->batch_max_delay_ms : 200;
	u->window = o->window_batches ? o->window_batches : 8;
	if (u->window > UL_MAX_WINDOW)
		u->window = UL_MAX_WINDOW;
	u->heartbeat_ms = o->heartbeat_ms ? o->heartbeat_ms : 10000;
	u->backoff_min = o->backoff_min_ms ? o->backoff_min_ms : 250;
	u->backoff_max = o->backoff_max_ms ? o->backoff_max_ms : 30000;
	if (u->backoff_max < u->backoff_min)
		u->backoff_max = u->backoff_min;
	u->connect_timeout_ms = o->connect_timeout_ms ? o->connect_timeout_ms : 10000;

	struct tlsutil_identity id = { o->ca_file, o->cert_file, o->key_file };
	char why[512];
	u->ctx = tlsutil_ctx_new(TLSUTIL_CLIENT, &id, why, sizeof why);
	if (!u->ctx) {
		snprintf(err, errlen, "TLS: %s", why);
		goto fail;
	}
	u->ev_timer = evtimer_new(base, ul_timer_cb, u);
	u->ev_batch = evtimer_new(base, ul_batch_cb, u);
	u->ev_beat = event_new(base, -1, EV_PERSIST, ul_beat_cb, u);
	if (!u->ev_timer || !u->ev_batch || !u->ev_beat) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	arm_ms(u->ev_beat, u->heartbeat_ms);
	struct spool_stats ss;
	spool_get_stats(sp, &ss);
	u->st.acked_seq = ss.acked_seq;
	ul_set_sent(u, ss.acked_seq);
	u->state = UL_BACKOFF;
	ul_connect(u);
	return u;
fail:
	uplink_free(u);
	return NULL;
}

void uplink_kick(struct uplink *u)
{
	if (u && u->state == UL_STREAMING)
		ul_send_more(u, false);
}

void uplink_set_overdue(struct uplink *u, uint64_t overdue)
{
	if (u)
		u->overdue = overdue;
}

bool uplink_drained(const struct uplink *u)
{
	struct spool_stats ss;
	spool_get_stats(u->spool, &ss);
	return ss.acked_seq >= ss.last_seq;
}

void uplink_get_stats(const struct uplink *u, struct uplink_stats *st)
{
	*st = u->st;
}

void uplink_free(struct uplink *u)
{
	if (!u)
		return;
	u->state = UL_CLOSED;
	ul_close_bev(u);
	if (u->ev_timer)
		event_free(u->ev_timer);
	if (u->ev_batch)
		event_free(u->ev_batch);
	if (u->ev_beat)
		event_free(u->ev_beat);
	SSL_CTX_free(u->ctx);
	free(u->host);
	free(u->probe_id);
	free(u->region);
	free(u->version);
	free(u);
}
