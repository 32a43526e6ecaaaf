/* hostport.h - the one parser for "host", "host:port", "[v6]:port" and a
 * bare IPv6 literal, shared by the check command and the config loader. */
#ifndef TW_HOSTPORT_H
#define TW_HOSTPORT_H

#include <stddef.h>

/* Splits in into host (copied into host[hostcap], brackets removed) and
 * port (default_port when none is written; 0 stays 0 so the caller can
 * demand one). Ports are digits only, 1-65535. Several colons are allowed
 * only for a valid IPv6 literal. Hosts must not contain whitespace,
 * control characters or '/'. Returns 0, or -1 with the problem in err. */
int hostport_parse(const char *in, char *host, size_t hostcap, unsigned *port,
		   unsigned default_port, char *err, size_t errlen);

#endif
