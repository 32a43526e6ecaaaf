/* hostport.c - see hostport.h. */
#include "hostport.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int hostport_parse(const char *in, char *host, size_t hostcap, unsigned *port,
			 unsigned default_port, char *err, size_t errlen)
{
	const char *h = in, *portstr = NULL;
	size_t hl;

	if (!in || !*in) {
		snprintf(err, errlen, "empty host");
		return -1;
	}
	if (in[0] == '[') {
		const char *close = strchr(in, ']');
		if (!close) {
			snprintf(err, errlen, "malformed address \"%s\": missing ']'", in);
			return -1;
		}
		h = in + 1;
		hl = (size_t)(close - h);
		if (close[1] == ':')
			portstr = close + 2;
		else if (close[1]) {
			snprintf(err, errlen, "malformed address \"%s\"", in);
			return -1;
		}
	} else {
		const char *colon = strchr(in, ':');
		if (colon && strchr(colon + 1, ':')) {
			/* several colons: only a bare IPv6 literal (no port) */
			unsigned char v6[16];
			if (inet_pton(AF_INET6, in, v6) != 1) {
				snprintf(err, errlen, "malformed address \"%s\" (write IPv6 as [addr]:port)", in);
				return -1;
			}
			colon = NULL;
		}
		hl = colon ? (size_t)(colon - in) : strlen(in);
		if (colon)
			portstr = colon + 1;
	}
	if (hl == 0 || hl >= hostcap) {
		snprintf(err, errlen, "malformed host in \"%s\"", in);
		return -1;
	}
	for (size_t i = 0; i < hl; i++) {
		unsigned char ch = (unsigned char)h[i];
		if (isspace(ch) || iscntrl(ch) || ch == '/') {
			snprintf(err, errlen, "malformed host in \"%s\": no spaces, control characters or '/'", in);
			return -1;
		}
	}
	memcpy(host, h, hl);
	host[hl] = '\0';
	*port = default_port;
	if (portstr) {
		char *end;
		errno = 0;
		long p = strtol(portstr, &end, 10);
		/* digits only: strtol would take "+443" and " 443" */
		if (!*portstr || strspn(portstr, "0123456789") != strlen(portstr) || *end || errno ||
		    p < 1 || p > 65535) {
			snprintf(err, errlen, "bad port \"%s\" in \"%s\" (1-65535)", portstr, in);
			return -1;
		}
		*port = (unsigned)p;
	}
	return 0;
}
