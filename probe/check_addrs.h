/*
 * check_addrs.h - every address behind a name (`check --all-addresses`):
 * the A and AAAA records, resolved on the caller's event loop.
 */
#ifndef TW_CHECK_ADDRS_H
#define TW_CHECK_ADDRS_H

#include <stddef.h>
#include <netinet/in.h>
#include <event2/event.h>
#include <event2/dns.h>

/* The most addresses probed for one name. */
#define CHECK_ADDRS_MAX 32

/* Resolves name (an IP literal is its own one address) and writes its
 * distinct addresses, in the resolver's order, to out[0..*n). Runs base
 * until the answer is there. Returns 0, or -1 with the reason in err
 * (nothing resolved: the caller probes the name as usual and reports the
 * DNS failure there). */
int check_addrs_resolve(struct event_base *base, struct evdns_base *dns, const char *name,
			char out[][INET6_ADDRSTRLEN], size_t max, size_t *n, char *err,
			size_t errlen);

#endif
