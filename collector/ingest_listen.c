/*
 * ingest_listen.c - the probe server's listening socket: bind, accept
 * (within max_connections), and the graceful shutdown of ingest.h.
 */
#include "ingest_int.h"
#include "accept_backoff.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include <event2/listener.h>

static void format_peer(const struct sockaddr *sa, char *buf, size_t cap)
{
	char host[INET6_ADDRSTRLEN] = "?";
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *s4 = (const struct sockaddr_in *)sa;
		inet_ntop(AF_INET, &s4->sin_addr, host, sizeof host);
		snprintf(buf, cap, "%s:%u", host, ntohs(s4->sin_port));
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)sa;
		inet_ntop(AF_INET6, &s6->sin6_addr, host, sizeof host);
		snprintf(buf, cap, "[%s]:%u", host, ntohs(s6->sin6_port));
	} else {
		snprintf(buf, cap, "unknown");
	}
}

/*
 * Connections still in the TLS handshake cost memory (~43 KB each) and a
 * slot of max_connections while proving nothing. At most
 * INGEST_HANDSHAKES_PER_ADDR from one address and max_connections /
 * INGEST_HANDSHAKES_SHARE in all may be pending; past either, the OLDEST
 * pending one (of that address, or in all) is closed to make room. Refusing
 * the new one instead would let whoever opens connections fastest lock a
 * reconnecting probe out; closing the oldest gives every newcomer a full
 * handshake's time, and a real probe needs only milliseconds.
 */
#define INGEST_HANDSHAKES_PER_ADDR 16u
#define INGEST_HANDSHAKES_SHARE    8u
#define INGEST_HANDSHAKES_MIN      4u

/* The address part of a peer string ("1.2.3.4:5" or "[::1]:5"). */
static size_t peer_addr_len(const char *peer)
{
	const char *colon = strrchr(peer, ':');
	return colon ? (size_t)(colon - peer) : strlen(peer);
}

static void limit_handshakes(struct ingest *ing, const char *peer)
{
	unsigned total = 0, same = 0;
	struct ingest_conn *oldest = NULL, *oldest_same = NULL;
	size_t alen = peer_addr_len(peer);
	unsigned cap = ing->o.max_connections / INGEST_HANDSHAKES_SHARE;
	if (cap < INGEST_HANDSHAKES_MIN)
		cap = INGEST_HANDSHAKES_MIN;
	/* the live list is newest first: the last match is the oldest */
	for (struct ingest_conn *c = ing->live; c; c = c->next) {
		if (c->state != CONN_TLS_ACCEPTING)
			continue;
		total++;
		oldest = c;
		if (peer_addr_len(c->peer) == alen && memcmp(c->peer, peer, alen) == 0) {
			same++;
			oldest_same = c;
		}
	}
	struct ingest_conn *victim = same >= INGEST_HANDSHAKES_PER_ADDR ? oldest_same
				     : total >= cap ? oldest : NULL;
	if (!victim)
		return;
	ingest_conn_refuse(victim, REFUSE_HANDSHAKE_LIMIT,
			   "closed unfinished for a new connection (%u pending handshakes, %u from "
			   "%.*s)", total, same, (int)alen, peer);
}

static void accept_cb(struct evconnlistener *lev, evutil_socket_t fd, struct sockaddr *sa,
		      int salen, void *arg)
{
	struct ingest *ing = arg;
	char peer[INET6_ADDRSTRLEN + 8];
	format_peer(sa, peer, sizeof peer);
	if (ing->phase == INGEST_SHUTTING_DOWN) {
		evutil_closesocket(fd);
		return;
	}
	limit_handshakes(ing, peer);
	if (ing->st.connections_current >= ing->o.max_connections) {
		ing->st.refused[REFUSE_MAX_CONNECTIONS]++;
		/* a flood of peers would otherwise write a line each */
		log_every(&ing->refuse_rl, ACCEPT_BACKOFF_LOG_MS, TWLOG_WARN,
			  "peer=%s refused (max_connections): already %llu connections", peer,
			  (unsigned long long)ing->st.connections_current);
		evutil_closesocket(fd);
		return;
	}
	accept_backoff_ok(ing->backoff);
	if (!ingest_conn_new(ing, fd, peer))
		log_error("peer=%s cannot accept: out of memory", peer);
}

int ingest_listen_bind(struct ingest *ing, const struct ingest_opts *o, char *err, size_t errlen)
{
	struct addrinfo hints = { 0 }, *ai = NULL;
	char portstr[16];
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	snprintf(portstr, sizeof portstr, "%u", o->port);
	int gai = getaddrinfo(o->host, portstr, &hints, &ai);
	if (gai != 0) {
		snprintf(err, errlen, "cannot resolve listen address %s: %s", o->host,
			 gai_strerror(gai));
		return -1;
	}
	ing->lev = evconnlistener_new_bind(ing->base, accept_cb, ing,
					   LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE |
					   LEV_OPT_CLOSE_ON_EXEC | LEV_OPT_DISABLED,
					   511, ai->ai_addr, (int)ai->ai_addrlen);
	freeaddrinfo(ai);
	if (!ing->lev) {
		int e = EVUTIL_SOCKET_ERROR();
		snprintf(err, errlen, "cannot listen on %s port %u: %s", o->host, o->port,
			 evutil_socket_error_to_string(e));
		return -1;
	}
	ing->backoff = accept_backoff_new(ing->base, ing->lev, "probe listener");
	if (!ing->backoff) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	struct sockaddr_storage ss;
	socklen_t sl = sizeof ss;
	if (getsockname(evconnlistener_get_fd(ing->lev), (struct sockaddr *)&ss, &sl) == 0)
		ing->port = ss.ss_family == AF_INET6 ? ntohs(((struct sockaddr_in6 *)&ss)->sin6_port)
						     : ntohs(((struct sockaddr_in *)&ss)->sin_port);
	return 0;
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

void ingest_listen_check_shutdown_done(struct ingest *ing)
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
		ingest_conn_end(ing->live, CLOSE_SHUTDOWN, TWLOG_INFO, "shutdown timeout");
	ingest_listen_check_shutdown_done(ing);
}

void ingest_shutdown(struct ingest *ing, unsigned timeout_ms, void (*done)(void *arg), void *arg)
{
	struct timeval tv;
	if (ing->phase == INGEST_SHUTTING_DOWN)
		return;
	ing->phase = INGEST_SHUTTING_DOWN;
	ing->done = done;
	ing->done_arg = arg;
	accept_backoff_free(ing->backoff);
	ing->backoff = NULL;
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
			ingest_conn_end(ing->live, CLOSE_SHUTDOWN, TWLOG_INFO, "shutdown");
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
			ingest_conn_end(c, CLOSE_SHUTDOWN, TWLOG_DEBUG, "shutting down before Hello");
			break;
		case CONN_STREAMING:
			/* submits what is pending, closes when drained */
			ingest_conn_set_state(c, CONN_DRAINING);
			ingest_conn_kick(c);
			break;
		default:
			break;  /* retiring, refusing: they end by themselves */
		}
	}
	ingest_ms_to_tv(timeout_ms, &tv);
	evtimer_add(ing->shutdown_timer, &tv);
	ingest_listen_check_shutdown_done(ing);
}
