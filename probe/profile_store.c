/*
 * profile_store.c - see profile_store.h.
 *
 * Which store a client uses: Firefox, Thunderbird and Tor carry Mozilla's
 * (NSS); Java its cacerts; Apple's clients (Safari, Apple Mail, ATS, Apple's
 * LibreSSL) the Apple store, and so does Chrome on macOS; Chrome, Edge,
 * Opera and Internet Explorer on Windows the Microsoft store; Android,
 * OpenSSL, Go, curl-like clients and the crawlers the Linux (Mozilla-derived
 * ca-certificates) store. The name's brand and platform decide; a client
 * not listed falls back to Linux.
 */
#include "profile_store.h"

#include <stdio.h>
#include <string.h>

static bool starts(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

const char *profile_store_name(const struct profile *p)
{
	const char *n = p ? p->name : NULL;
	if (!n || (p->origin != PROFILE_BUILTIN && p->origin != PROFILE_TESTSSL) || !p->short_name)
		return NULL;   /* generic profiles have no short (testssl.sh) name */
	if (starts(n, "Firefox") || starts(n, "Thunderbird") || starts(n, "Tor "))
		return "Mozilla";
	if (starts(n, "Java"))
		return "Java";
	if (starts(n, "Safari") || starts(n, "Apple") || strstr(n, "(Apple)"))
		return "Apple";
	if (starts(n, "Chrome") || starts(n, "Edge") || starts(n, "Opera") || starts(n, "IE "))
		return strstr(n, "OS X") || strstr(n, "macOS") ? "Apple" : "Microsoft";
	return "Linux";
}

const char *profile_store_path(const struct profile *p, const char *dir, char *buf, size_t cap)
{
	const char *name = profile_store_name(p);
	if (!name || !dir)
		return NULL;
	int n = snprintf(buf, cap, "%s/%s.pem", dir, name);
	return n > 0 && (size_t)n < cap ? buf : NULL;
}
