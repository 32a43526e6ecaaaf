/*
 * check_addrs.h - every address behind a name (`check --all-addresses`,
 * probe.yaml `addresses: all`): the A and AAAA records. One lookup for both
 * families; `check` waits for it (check_addrs_resolve), the daemon's runner
 * gets a callback on its running loop (check_addrs_lookup). Both turn the
 * answer into the same list (check_addrs_collect): distinct addresses in
 * the resolver's order.
 */
#ifndef TW_CHECK_ADDRS_H
#define TW_CHECK_ADDRS_H

#include <stddef.h>
#include <netinet/in.h>
#include <event2/event.h>
#include <event2/dns.h>
#include <event2/util.h>

/* The most addresses probed for one name. */
#define CHECK_ADDRS_MAX 32

/* Writes the distinct addresses of ai (in order) to out[0..*n), at most max. */
void check_addrs_collect(const struct evutil_addrinfo *ai, char out[][INET6_ADDRSTRLEN],
			 size_t max, size_t *n);

/* Starts the lookup of name's A and AAAA records on dns; cb gets the
 * answer (it owns res, freed with evutil_freeaddrinfo; result is
 * EVUTIL_EAI_CANCEL after evdns_getaddrinfo_cancel, and then arg must not
 * be touched). cb may run before this returns (an IP literal, /etc/hosts):
 * NULL is returned then, as on failure to start (cb has the error). */
struct evdns_getaddrinfo_request *check_addrs_lookup(struct evdns_base *dns, const char *name,
						     evdns_getaddrinfo_cb cb, void *arg);

/* Resolves name (an IP literal is its own one address) and writes its
 * distinct addresses, in the resolver's order, to out[0..*n). Runs base
 * until the answer is there (not for use on a running loop). Returns 0, or
 * -1 with the reason in err (nothing resolved: the caller probes the name
 * as usual and reports the DNS failure there). */
int check_addrs_resolve(struct event_base *base, struct evdns_base *dns, const char *name,
			char out[][INET6_ADDRSTRLEN], size_t max, size_t *n, char *err,
			size_t errlen);

#endif
