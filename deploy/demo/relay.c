/*
 * relay.c - tlswatch-demo-relay: one simulated network region on loopback.
 *
 * The demo runs every probe and every endpoint on one machine. Where the
 * kernel has no netem qdisc, a region's distance comes from this relay: the
 * region's probe connects to the relay's port for an endpoint, the relay
 * connects to the endpoint, and every byte waits --delay-ms in each
 * direction before it is passed on (so a TLS 1.3 handshake, one round trip,
 * takes at least 2 x delay; a TLS 1.2 one 4 x delay). A connection is
 * dropped at accept with probability --loss (percent): closed with a TCP
 * reset, the way a connection lost on a bad path ends for the client.
 *
 * A refusing target is refused to the client too, as on a real network:
 * the relay has already accepted the connection that finds the target
 * refusing (that client gets a reset after the delay), so it then closes
 * the route's listening socket - the next clients get ECONNREFUSED from
 * the kernel, with no delay - and tries the target every
 * RELAY_RECHECK_MS; the first accepted try opens the listener again.
 *
 * Routes come from a map file, one per line:
 *     NAME LISTEN_PORT TARGET_HOST:PORT     # comment
 * (--listen-addr:LISTEN_PORT, 127.0.0.1 by default, is where the relay
 * listens; TARGET is numeric).
 * SIGHUP re-reads it: a changed target applies to new connections (that is
 * how the demo re-routes a region to another backend), a new name starts
 * listening, a vanished one stops; a map with an error keeps the old one.
 * SIGTERM or SIGINT closes everything and exits 0.
 *
 * The map file is relay_map.c's job. Ownership: the relay owns its routes
 * (freed with relay_map_free) and connections. A connection owns
 * its two bufferevents, its two delay queues and its events; it is freed
 * only by its deferred reap event, never inside one of its own callbacks.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <event2/util.h>

#include "log.h"
#include "relay_map.h"
#include "twtime.h"

#define RELAY_QUEUE_CAP  (256 * 1024) /* bytes in flight one way before reading pauses */
#define RELAY_RECHECK_MS 200          /* a closed route tries its target this often */

/* One piece of a byte stream on its way; eof marks the end of the stream. */
struct chunk {
	struct chunk *next;
	double due_ms;
	bool eof;
	size_t len;
	unsigned char data[];
};

struct delayq {
	struct chunk *head, *tail;
	size_t bytes;
};

enum rconn_state {
	RC_CONNECTING, /* accepted; connecting to the target; the client's bytes already queue */
	RC_OPEN,       /* both sides connected; bytes cross each way after the delay */
	RC_DRAINING,   /* one side ended; the rest in flight is delivered, then both close */
	RC_CLOSED,     /* sockets closed; the reap event frees the struct */
};

static const char *const rconn_state_names[] = { "connecting", "open", "draining", "closed" };

enum rconn_event {
	RE_ACCEPTED,     /* fresh connection: drop it (loss) or start the target connect */
	RE_UP_CONNECTED, /* the target accepted */
	RE_READ,         /* bytes readable on `side` */
	RE_END,          /* `side` reached EOF or failed */
	RE_TIMER,        /* the earliest queued chunk is due */
	RE_WRITTEN,      /* `side`'s output buffer drained */
};

enum side { SIDE_DOWN = 0, SIDE_UP = 1 }; /* down = the probe, up = the target */

struct rconn {
	enum rconn_state state;
	unsigned long long id;
	struct relay *relay;
	char route[RELAY_NAME_MAX];
	char to_text[96];
	struct bufferevent *bev[2];  /* owned; [SIDE_DOWN] client, [SIDE_UP] target */
	struct delayq q[2];          /* q[S]: bytes waiting to be written to side S */
	bool ended[2];               /* side S sent EOF or failed */
	bool up_failed;              /* the target failed: the client gets a reset */
	bool up_refused;             /* ... with ECONNREFUSED: the route closes */
	struct event *timer;         /* owned; next due chunk */
	struct event *reap;          /* owned; deferred free */
	double opened_ms;
	uint64_t bytes[2];           /* bytes delivered to each side */
	const char *end_reason;
	struct rconn *prev, *next;   /* relay's list */
};

struct relay {
	struct event_base *base;
	const char *map_path;
	const char *region;
	struct in_addr listen_addr;  /* --listen-addr */
	unsigned delay_ms;
	double loss;                 /* 0..1 */
	uint64_t rng;
	struct route *routes;
	struct rconn *conns;
	unsigned long long next_id;
	unsigned long long accepted, dropped, refused;
};

static void rc_drive(struct rconn *c, enum rconn_event ev, enum side side);
static void route_close(struct relay *r, const char *name);

/* ---- small helpers ---- */

/* xorshift64*: a seeded, reproducible loss pattern (--seed) */
static double relay_random(struct relay *r)
{
	r->rng ^= r->rng >> 12;
	r->rng ^= r->rng << 25;
	r->rng ^= r->rng >> 27;
	return (double)((r->rng * 2685821657736338717ULL) >> 11) / 9007199254740992.0;
}

/* ---- delay queues ---- */

static int dq_push(struct delayq *q, double due, const void *data, size_t len, bool eof)
{
	struct chunk *ch = malloc(sizeof *ch + len);
	if (!ch)
		return -1;
	ch->next = NULL;
	ch->due_ms = due;
	ch->eof = eof;
	ch->len = len;
	if (len)
		memcpy(ch->data, data, len);
	if (q->tail)
		q->tail->next = ch;
	else
		q->head = ch;
	q->tail = ch;
	q->bytes += len;
	return 0;
}

static void dq_clear(struct delayq *q)
{
	while (q->head) {
		struct chunk *nx = q->head->next;
		free(q->head);
		q->head = nx;
	}
	q->tail = NULL;
	q->bytes = 0;
}

/* ---- one connection ---- */

/* The only writer of c->state. */
static void rc_set_state(struct rconn *c, enum rconn_state st)
{
	if (c->state == st)
		return;
	log_debug("msg=transition conn=%llu route=%s from=%s to=%s", c->id, c->route,
		  rconn_state_names[c->state], rconn_state_names[st]);
	c->state = st;
}

static void rc_arm_timer(struct rconn *c)
{
	double due = -1;
	for (int s = 0; s < 2; s++)
		if (c->q[s].head && (due < 0 || c->q[s].head->due_ms < due))
			due = c->q[s].head->due_ms;
	if (due < 0) {
		evtimer_del(c->timer);
		return;
	}
	double wait = due - twtime_mono_ms();
	if (wait < 0)
		wait = 0;
	struct timeval tv = { (time_t)(wait / 1000), (suseconds_t)((long)(wait * 1000) % 1000000) };
	evtimer_add(c->timer, &tv);
}

/* Closes both sockets (a reset to the client when the target refused or the
 * connection was dropped) and schedules the free. */
static void rc_close(struct rconn *c, const char *reason, bool reset_client)
{
	struct relay *r = c->relay;
	if (c->state == RC_CLOSED)
		return;
	c->end_reason = reason;
	if (reset_client && c->bev[SIDE_DOWN]) {
		struct linger lg = { 1, 0 };
		evutil_socket_t fd = bufferevent_getfd(c->bev[SIDE_DOWN]);
		if (fd >= 0 && setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg) < 0)
			log_debug("msg=\"SO_LINGER failed\" conn=%llu error=\"%s\"", c->id, strerror(errno));
	}
	for (int s = 0; s < 2; s++) {
		if (c->bev[s])
			bufferevent_free(c->bev[s]);
		c->bev[s] = NULL;
		dq_clear(&c->q[s]);
	}
	evtimer_del(c->timer);
	log_info("msg=closed region=%s conn=%llu route=%s to=%s end=%s ms=%.1f bytes_to_client=%" PRIu64
		 " bytes_to_target=%" PRIu64, r->region, c->id, c->route, c->to_text, reason,
		 twtime_mono_ms() - c->opened_ms, c->bytes[SIDE_DOWN], c->bytes[SIDE_UP]);
	rc_set_state(c, RC_CLOSED);
	event_active(c->reap, 0, 0);
}

/* Moves every readable byte of `from` into the other side's queue. */
static int rc_take(struct rconn *c, enum side from)
{
	enum side to = from == SIDE_DOWN ? SIDE_UP : SIDE_DOWN;
	struct evbuffer *in = bufferevent_get_input(c->bev[from]);
	size_t len = evbuffer_get_length(in);
	if (len == 0)
		return 0;
	unsigned char *p = evbuffer_pullup(in, -1);
	if (!p || dq_push(&c->q[to], twtime_mono_ms() + c->relay->delay_ms, p, len, false) < 0)
		return -1;
	evbuffer_drain(in, len);
	if (c->q[to].bytes > RELAY_QUEUE_CAP)
		bufferevent_disable(c->bev[from], EV_READ);
	return 0;
}

/* Writes every due chunk to its side; an EOF chunk moves to DRAINING. */
static void rc_deliver(struct rconn *c)
{
	double now = twtime_mono_ms();
	for (int s = 0; s < 2 && c->state != RC_CLOSED; s++) {
		struct delayq *q = &c->q[s];
		while (q->head && q->head->due_ms <= now) {
			struct chunk *ch = q->head;
			q->head = ch->next;
			if (!q->head)
				q->tail = NULL;
			q->bytes -= ch->len;
			bool eof = ch->eof;
			if (ch->len && c->bev[s] &&
			    bufferevent_write(c->bev[s], ch->data, ch->len) == 0)
				c->bytes[s] += ch->len;
			free(ch);
			if (eof) {
				rc_set_state(c, RC_DRAINING);
				if (evbuffer_get_length(bufferevent_get_output(c->bev[s])) == 0) {
					rc_close(c, c->up_failed ? "target_refused" : "eof", c->up_failed);
					return;
				}
			}
		}
		enum side from = s == SIDE_DOWN ? SIDE_UP : SIDE_DOWN;
		if (q->bytes <= RELAY_QUEUE_CAP / 2 && c->bev[from] && !c->ended[from])
			bufferevent_enable(c->bev[from], EV_READ);
	}
}

/* The one re-entry point: every event of a connection comes through here. */
static void rc_drive(struct rconn *c, enum rconn_event ev, enum side side)
{
	struct relay *r = c->relay;
	if (c->state == RC_CLOSED)
		return;
	switch (ev) {
	case RE_ACCEPTED: {
		if (r->loss > 0 && relay_random(r) < r->loss) {
			r->dropped++;
			rc_close(c, "dropped", true);
			return;
		}
		struct route *rt = NULL;
		for (rt = r->routes; rt && strcmp(rt->name, c->route) != 0; rt = rt->next)
			;
		if (!rt || bufferevent_socket_connect(c->bev[SIDE_UP], (struct sockaddr *)&rt->to,
						      rt->to_len) < 0) {
			c->up_failed = true;
			rc_drive(c, RE_END, SIDE_UP);
			return;
		}
		break;
	}
	case RE_UP_CONNECTED:
		rc_set_state(c, RC_OPEN);
		bufferevent_enable(c->bev[SIDE_UP], EV_READ);
		break;
	case RE_READ:
		if (rc_take(c, side) < 0) {
			rc_close(c, "out_of_memory", true);
			return;
		}
		break;
	case RE_END: {
		enum side to = side == SIDE_DOWN ? SIDE_UP : SIDE_DOWN;
		if (c->ended[side])
			break;
		c->ended[side] = true;
		if (side == SIDE_UP && c->state == RC_CONNECTING) {
			c->up_failed = true;
			r->refused++;
			if (c->up_refused)
				route_close(r, c->route);
		}
		/* what the side sent before it ended still goes through */
		if (c->bev[side] && rc_take(c, side) < 0) {
			rc_close(c, "out_of_memory", true);
			return;
		}
		bufferevent_disable(c->bev[side], EV_READ);
		if (dq_push(&c->q[to], twtime_mono_ms() + r->delay_ms, NULL, 0, true) < 0) {
			rc_close(c, "out_of_memory", true);
			return;
		}
		break;
	}
	case RE_TIMER:
		rc_deliver(c);
		break;
	case RE_WRITTEN:
		if (c->state == RC_DRAINING && c->ended[side == SIDE_DOWN ? SIDE_UP : SIDE_DOWN] &&
		    !c->q[side].head) {
			rc_close(c, c->up_failed ? "target_refused" : "eof", c->up_failed);
			return;
		}
		break;
	}
	if (c->state != RC_CLOSED)
		rc_arm_timer(c);
}

static enum side rc_side(struct rconn *c, struct bufferevent *bev)
{
	return bev == c->bev[SIDE_UP] ? SIDE_UP : SIDE_DOWN;
}

static void rc_read_cb(struct bufferevent *bev, void *arg)
{
	struct rconn *c = arg;
	rc_drive(c, RE_READ, rc_side(c, bev));
}

static void rc_write_cb(struct bufferevent *bev, void *arg)
{
	struct rconn *c = arg;
	rc_drive(c, RE_WRITTEN, rc_side(c, bev));
}

static void rc_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct rconn *c = arg;
	enum side s = rc_side(c, bev);
	if (what & BEV_EVENT_CONNECTED) {
		rc_drive(c, RE_UP_CONNECTED, s);
	} else if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)) {
		if (s == SIDE_UP && c->state == RC_CONNECTING && (what & BEV_EVENT_ERROR) &&
		    EVUTIL_SOCKET_ERROR() == ECONNREFUSED)
			c->up_refused = true;
		rc_drive(c, RE_END, s);
	}
}

static void rc_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	rc_drive(arg, RE_TIMER, SIDE_DOWN);
}

static void rc_free(struct rconn *c)
{
	struct relay *r = c->relay;
	for (int s = 0; s < 2; s++) {
		if (c->bev[s])
			bufferevent_free(c->bev[s]);
		dq_clear(&c->q[s]);
	}
	if (c->prev)
		c->prev->next = c->next;
	else
		r->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	if (c->timer)
		event_free(c->timer);
	if (c->reap)
		event_free(c->reap);
	free(c);
}

static void rc_reap_cb(evutil_socket_t fd, short what, void *arg)
{
	rc_free(arg);
}

static void relay_accept_cb(struct evconnlistener *lis, evutil_socket_t fd, struct sockaddr *sa,
			    int salen, void *arg)
{
	struct route *rt = arg;
	struct relay *r = rt->relay;
	struct rconn *c = calloc(1, sizeof *c);

	if (!c) {
		log_error("msg=\"out of memory\" route=%s", rt->name);
		evutil_closesocket(fd);
		return;
	}
	c->relay = r;
	c->id = ++r->next_id;
	c->opened_ms = twtime_mono_ms();
	snprintf(c->route, sizeof c->route, "%s", rt->name);
	snprintf(c->to_text, sizeof c->to_text, "%s", rt->to_text);
	c->next = r->conns;
	if (r->conns)
		r->conns->prev = c;
	r->conns = c;
	c->bev[SIDE_DOWN] = bufferevent_socket_new(r->base, fd, BEV_OPT_CLOSE_ON_FREE);
	c->bev[SIDE_UP] = bufferevent_socket_new(r->base, -1, BEV_OPT_CLOSE_ON_FREE);
	c->timer = evtimer_new(r->base, rc_timer_cb, c);
	c->reap = event_new(r->base, -1, 0, rc_reap_cb, c);
	if (!c->bev[SIDE_DOWN] || !c->bev[SIDE_UP] || !c->timer || !c->reap) {
		log_error("msg=\"out of memory\" route=%s", rt->name);
		if (!c->bev[SIDE_DOWN])
			evutil_closesocket(fd);
		rc_free(c);
		return;
	}
	r->accepted++;
	for (int s = 0; s < 2; s++)
		bufferevent_setcb(c->bev[s], rc_read_cb, rc_write_cb, rc_event_cb, c);
	bufferevent_enable(c->bev[SIDE_DOWN], EV_READ);
	log_debug("msg=accepted region=%s conn=%llu route=%s to=%s", r->region, c->id, c->route,
		  c->to_text);
	rc_drive(c, RE_ACCEPTED, SIDE_DOWN);
}

/* ---- routes ---- */

static int route_listen(struct relay *r, struct route *rt)
{
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons((uint16_t)rt->port),
				   .sin_addr = r->listen_addr };
	char addr[INET_ADDRSTRLEN];
	evutil_inet_ntop(AF_INET, &r->listen_addr, addr, sizeof addr);
	rt->relay = r;
	rt->lis = evconnlistener_new_bind(r->base, relay_accept_cb, rt,
					  LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE, 128,
					  (struct sockaddr *)&sin, sizeof sin);
	if (!rt->lis) {
		log_error("msg=\"cannot listen\" region=%s route=%s listen=%s:%u error=\"%s\"",
			  r->region, rt->name, addr, rt->port, strerror(errno));
		return -1;
	}
	log_info("msg=listening region=%s route=%s listen=%s:%u to=%s", r->region, rt->name, addr,
		 rt->port, rt->to_text);
	return 0;
}

/* ---- a refusing target closes its route ---- */

static void route_recheck_arm(struct route *rt)
{
	struct timeval tv = { 0, RELAY_RECHECK_MS * 1000 };
	evtimer_add(rt->recheck, &tv);
}

static void route_check_cb(struct bufferevent *bev, short what, void *arg)
{
	struct route *rt = arg;
	struct relay *r = rt->relay;
	bufferevent_free(rt->check);
	rt->check = NULL;
	if (what & BEV_EVENT_CONNECTED) {
		if (route_listen(r, rt) == 0) {
			log_info("msg=\"target accepts again, route open\" region=%s route=%s to=%s",
				 r->region, rt->name, rt->to_text);
			return;
		}
	}
	route_recheck_arm(rt);
}

/* Every RELAY_RECHECK_MS while the route is closed: one connect to the
 * target (closed at once); the current target, so a re-route applies. */
static void route_recheck_cb(evutil_socket_t fd, short what, void *arg)
{
	struct route *rt = arg;
	struct relay *r = rt->relay;
	if (rt->lis || rt->check)
		return;
	rt->check = bufferevent_socket_new(r->base, -1, BEV_OPT_CLOSE_ON_FREE);
	if (!rt->check) {
		log_error("msg=\"out of memory\" route=%s", rt->name);
		route_recheck_arm(rt);
		return;
	}
	bufferevent_setcb(rt->check, NULL, NULL, route_check_cb, rt);
	if (bufferevent_socket_connect(rt->check, (struct sockaddr *)&rt->to, rt->to_len) < 0) {
		bufferevent_free(rt->check);
		rt->check = NULL;
		route_recheck_arm(rt);
	}
}

/* The route NAME's target refused a connection: stop listening, so the
 * next clients are refused by the kernel, until a try gets through. */
static void route_close(struct relay *r, const char *name)
{
	struct route *rt;
	for (rt = r->routes; rt && strcmp(rt->name, name) != 0; rt = rt->next)
		;
	if (!rt || !rt->lis)
		return;
	if (!rt->recheck && !(rt->recheck = evtimer_new(r->base, route_recheck_cb, rt))) {
		log_error("msg=\"out of memory; the route stays open\" route=%s", rt->name);
		return;
	}
	evconnlistener_free(rt->lis);
	rt->lis = NULL;
	log_info("msg=\"target refuses, route closed\" region=%s route=%s to=%s", r->region,
		 rt->name, rt->to_text);
	route_recheck_arm(rt);
}

/* SIGHUP: a new map applied in place; the old one stays on any error. */
static void relay_reload(struct relay *r)
{
	struct route *fresh;
	if (relay_map_load(r->map_path, &fresh) < 0) {
		log_error("msg=\"reload failed, keeping the old map\" region=%s file=%s", r->region,
			  r->map_path);
		return;
	}
	for (struct route *o = r->routes; o; o = o->next)
		o->seen = false;
	struct route *add = NULL;
	while (fresh) {
		struct route *n = fresh, *o;
		fresh = n->next;
		for (o = r->routes; o && strcmp(o->name, n->name) != 0; o = o->next)
			;
		if (o && o->port == n->port) {
			o->seen = true;
			if (strcmp(o->to_text, n->to_text) != 0) {
				log_info("msg=rerouted region=%s route=%s from=%s to=%s", r->region,
					 o->name, o->to_text, n->to_text);
				o->to = n->to;
				o->to_len = n->to_len;
				memcpy(o->to_text, n->to_text, sizeof o->to_text);
			}
			free(n);
		} else {
			n->next = add;
			add = n;
		}
	}
	/* vanished (or moved to another port) routes stop listening */
	for (struct route **pp = &r->routes; *pp;) {
		struct route *o = *pp;
		if (o->seen) {
			pp = &o->next;
			continue;
		}
		*pp = o->next;
		log_info("msg=\"route removed\" region=%s route=%s", r->region, o->name);
		o->next = NULL;
		relay_map_free(o);
	}
	while (add) {
		struct route *n = add;
		add = n->next;
		if (route_listen(r, n) < 0) {
			free(n);
			continue;
		}
		n->next = r->routes;
		r->routes = n;
	}
}

static void relay_signal_cb(evutil_socket_t sig, short what, void *arg)
{
	struct relay *r = arg;
	if (sig == SIGHUP) {
		log_info("msg=\"reloading the map\" region=%s", r->region);
		relay_reload(r);
		return;
	}
	log_info("msg=stopping region=%s signal=%d accepted=%llu dropped=%llu target_refused=%llu",
		 r->region, (int)sig, r->accepted, r->dropped, r->refused);
	event_base_loopbreak(r->base);
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: tlswatch-demo-relay --map FILE [--region NAME] [--delay-ms N] [--loss PERCENT]\n"
		"                           [--seed N] [--listen-addr ADDR] [--log-level LEVEL]\n"
		"\n"
		"A TCP relay on 127.0.0.1 that makes loopback look like a network path: every\n"
		"byte waits --delay-ms in each direction (a round trip costs 2 x N ms), and a\n"
		"connection is reset at accept with probability --loss percent. A target that\n"
		"refuses closes its route (clients are refused) until it accepts again.\n"
		"\n"
		"  --map FILE        routes, one a line: NAME LISTEN_PORT TARGET_HOST:PORT\n"
		"                    ('#' starts a comment; TARGET numeric). SIGHUP re-reads it:\n"
		"                    changed targets apply to new connections.\n"
		"  --region NAME     the region this relay plays, for the logs (default: relay)\n"
		"  --listen-addr A   the IPv4 address the routes listen on (default 127.0.0.1)\n"
		"  --delay-ms N      one-way delay, 0-60000 (default 0)\n"
		"  --loss PERCENT    connections dropped at accept, 0-100, fractions allowed\n"
		"  --seed N          seed of the loss pattern (default 1)\n"
		"  --log-level L     error, warn, info (default) or debug; logfmt on stderr\n"
		"  -h, --help        this text\n"
		"\n"
		"SIGTERM or SIGINT stops it (exit 0). Exit 2 on a usage or map error.\n");
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "map", required_argument, NULL, 'm' },   { "region", required_argument, NULL, 'r' },
		{ "delay-ms", required_argument, NULL, 'd' }, { "loss", required_argument, NULL, 'l' },
		{ "seed", required_argument, NULL, 's' },  { "log-level", required_argument, NULL, 'L' },
		{ "listen-addr", required_argument, NULL, 'A' },
		{ "help", no_argument, NULL, 'h' },        { NULL, 0, NULL, 0 },
	};
	struct relay r = { .region = "relay", .rng = 1,
			   .listen_addr.s_addr = htonl(INADDR_LOOPBACK) };
	struct event *sigs[3] = { NULL, NULL, NULL };
	static const int signums[3] = { SIGTERM, SIGINT, SIGHUP };
	int level = TWLOG_INFO, opt, rc = 1;
	unsigned long v;
	char *end;

	log_init("tlswatch-demo-relay", TWLOG_INFO, false);
	while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (opt) {
		case 'm': r.map_path = optarg; break;
		case 'r': r.region = optarg; break;
		case 'd':
			if (relay_map_parse_uint(optarg, 60000, &v) < 0) {
				fprintf(stderr, "tlswatch-demo-relay: --delay-ms wants 0-60000, not \"%s\"\n", optarg);
				return 2;
			}
			r.delay_ms = (unsigned)v;
			break;
		case 'l':
			errno = 0;
			r.loss = strtod(optarg, &end);
			if (errno || end == optarg || *end || !(r.loss >= 0 && r.loss <= 100)) {
				fprintf(stderr, "tlswatch-demo-relay: --loss wants a percentage 0-100, not \"%s\"\n",
					optarg);
				return 2;
			}
			r.loss /= 100;
			break;
		case 's':
			if (relay_map_parse_uint(optarg, ULONG_MAX, &v) < 0) {
				fprintf(stderr, "tlswatch-demo-relay: --seed wants a number, not \"%s\"\n", optarg);
				return 2;
			}
			r.rng = v ? v : 1;
			break;
		case 'A':
			if (evutil_inet_pton(AF_INET, optarg, &r.listen_addr) != 1) {
				fprintf(stderr, "tlswatch-demo-relay: --listen-addr wants an IPv4 address, not \"%s\"\n",
					optarg);
				return 2;
			}
			break;
		case 'L':
			if ((level = log_level_parse(optarg)) < 0) {
				fprintf(stderr, "tlswatch-demo-relay: unknown --log-level \"%s\"\n", optarg);
				return 2;
			}
			break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind != argc || !r.map_path) {
		fprintf(stderr, "tlswatch-demo-relay: %s\n",
			optind != argc ? "unexpected argument" : "--map FILE is required");
		usage(stderr);
		return 2;
	}
	log_init("tlswatch-demo-relay", (enum log_level)level, false);
	signal(SIGPIPE, SIG_IGN);
	if (relay_map_load(r.map_path, &r.routes) < 0)
		return 2;
	if (!(r.base = event_base_new())) {
		log_error("msg=\"event_base_new failed\"");
		goto out;
	}
	for (struct route *rt = r.routes; rt; rt = rt->next)
		if (route_listen(&r, rt) < 0)
			goto out;
	for (int i = 0; i < 3; i++)
		if (!(sigs[i] = evsignal_new(r.base, signums[i], relay_signal_cb, &r)) ||
		    evsignal_add(sigs[i], NULL) < 0) {
			log_error("msg=\"cannot watch signals\"");
			goto out;
		}
	log_info("msg=started region=%s delay_ms=%u loss_pct=%.2f", r.region, r.delay_ms, r.loss * 100);
	if (event_base_dispatch(r.base) < 0) {
		log_error("msg=\"event loop failed\"");
		goto out;
	}
	rc = 0;
out:
	while (r.conns)
		rc_free(r.conns);
	relay_map_free(r.routes);
	for (int i = 0; i < 3; i++)
		if (sigs[i])
			event_free(sigs[i]);
	if (r.base)
		event_base_free(r.base);
	return rc;
}
