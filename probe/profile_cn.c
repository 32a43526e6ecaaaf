/*
 * profile_cn.c - see profile_cn.h.
 *
 * RFC 2818 (2000) deprecated the CN as the place of a server's name, and
 * the CA/Browser Forum requires subjectAltName; clients dropped the CN
 * fallback at these releases (a certificate without subjectAltName then
 * never matches, whatever its CN says):
 *
 *   Chrome 58 (2017) and every Chromium browser from that base: Opera 45,
 *   Edge 79; Firefox 48 (mozilla::pkix refuses the fallback for
 *   certificates issued after 2016-08-23, which is every certificate a
 *   monitor meets today) and Thunderbird, which shares its Gecko version;
 *   Apple from iOS 13 / macOS 10.15 (Safari 14 needs 10.15; Apple Mail 16
 *   is macOS 12); Go 1.15.
 *
 * Still reading the CN: Java (JSSE's HostnameChecker), OpenSSL's
 * X509_check_host() without X509_CHECK_FLAG_NEVER_CHECK_SUBJECT (so curl
 * and the OpenSSL profiles), Internet Explorer and EdgeHTML (CryptoAPI),
 * Android's platform verifier as testssl.sh's captures run it, older
 * releases of all of the above, and the crawlers. The generic profiles:
 * modern and tls13 stand for current browsers (no CN); intermediate and
 * legacy for the old clients Mozilla's configurations keep working (CN).
 */
#include "profile_cn.h"

#include <stdlib.h>
#include <string.h>

struct cn_rule {
	const char *brand;   /* the first word of the profile name */
	int major, minor;    /* the first release that ignores the CN */
};

static const struct cn_rule rules[] = {
	{ "Chrome", 58, 0 },
	{ "Opera", 45, 0 },
	{ "Edge", 79, 0 },
	{ "Firefox", 48, 0 },
	{ "Thunderbird", 48, 0 },
	{ "Safari", 14, 0 },
	{ "Apple Mail", 16, 0 },
	{ "go", 1, 15 },
};

/* The first "N[.M]" in s; 0 when there is none. */
static void first_version(const char *s, long *major, long *minor)
{
	*major = *minor = 0;
	while (*s && (*s < '0' || *s > '9'))
		s++;
	if (!*s)
		return;
	char *end;
	*major = strtol(s, &end, 10);
	if (*end == '.' && end[1] >= '0' && end[1] <= '9')
		*minor = strtol(end + 1, NULL, 10);
}

bool profile_cn_read(const char *name)
{
	if (!name)
		return true;
	if (strcmp(name, "modern") == 0 || strcmp(name, "tls13") == 0)
		return false;
	for (size_t i = 0; i < sizeof rules / sizeof rules[0]; i++) {
		size_t n = strlen(rules[i].brand);
		if (strncmp(name, rules[i].brand, n) != 0 || (name[n] != ' ' && name[n] != '\0'))
			continue;
		long major, minor;
		first_version(name + n, &major, &minor);
		if (major == 0)
			return true;
		return major < rules[i].major || (major == rules[i].major && minor < rules[i].minor);
	}
	return true;
}
