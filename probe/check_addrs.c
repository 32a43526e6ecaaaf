/*
 * check_addrs.c - see check_addrs.h. One evdns_getaddrinfo for both
 * families (AF_UNSPEC); duplicates (the same address for TCP and another
 * socket type, or repeated records) are dropped.
 */
#include "check_addrs.h"

#include <arpa/inet.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <event2/util.h>

struct addrs_wait {
	bool done;
	int result;
	struct evutil_addrinfo *ai;
	struct event_base *base;
};

static void on_resolved(int result, struct evutil_addrinfo *res, void *arg)
{
	struct addrs_wait *w = arg;
	w->done = true;
	w->result = result;
	w->ai = res;
	event_base_loopbreak(w->base);
}

void check_addrs_collect(const struct evutil_addrinfo *ai, char out[][INET6_ADDRSTRLEN],
			 size_t max, size_t *n)
{
	*n = 0;
	for (; ai && *n < max; ai = ai->ai_next) {
		char a[INET6_ADDRSTRLEN];
		const void *p = ai->ai_family == AF_INET6
			? (const void *)&((struct sockaddr_in6 *)ai->ai_addr)->sin6_addr
			: (const void *)&((struct sockaddr_in *)ai->ai_addr)->sin_addr;
		if (!inet_ntop(ai->ai_family, p, a, sizeof a))
			continue;
		bool seen = false;
		for (size_t i = 0; i < *n && !seen; i++)
			seen = strcmp(out[i], a) == 0;
		if (!seen)
			snprintf(out[(*n)++], INET6_ADDRSTRLEN, "%s", a);
	}
}

struct evdns_getaddrinfo_request *check_addrs_lookup(struct evdns_base *dns, const char *name,
						     evdns_getaddrinfo_cb cb, void *arg)
{
	struct evutil_addrinfo hints;
	memset(&hints, 0, sizeof hints);
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_protocol = IPPROTO_TCP;
	return evdns_getaddrinfo(dns, name, NULL, &hints, cb, arg);
}

int check_addrs_resolve(struct event_base *base, struct evdns_base *dns, const char *name,
			char out[][INET6_ADDRSTRLEN], size_t max, size_t *n, char *err,
			size_t errlen)
{
	struct addrs_wait w = { .base = base };

	*n = 0;
	/* the callback may run before this returns (literals, /etc/hosts) */
	(void)check_addrs_lookup(dns, name, on_resolved, &w);
	while (!w.done)
		if (event_base_dispatch(base) < 0) {
			snprintf(err, errlen, "event loop failed while resolving %s", name);
			return -1;
		}
	if (w.result != 0 || !w.ai) {
		snprintf(err, errlen, "cannot resolve %s: %s", name, evutil_gai_strerror(w.result));
		return -1;
	}
	check_addrs_collect(w.ai, out, max, n);
	evutil_freeaddrinfo(w.ai);
	return 0;
}
