/*
 * profile_hello.c - see profile_hello.h.
 *
 * Why: testssl.sh's lowest_protocol/highest_protocol do not always say what
 * the captured client does. Chrome 57/65 and Firefox 53/59/62 offered only
 * draft TLS 1.3 (0x7f12..0x7f1c), so against a server speaking final TLS
 * 1.3 they negotiate TLS 1.2; Java 17.0.3 and Debian's OpenSSL 1.1.1b/d
 * offer TLS 1.3 and 1.2 only (TLS 1.0/1.1 disabled). The hello bytes are
 * the capture itself, so where they carry supported_versions they win.
 */
#include "profile_hello.h"

#include <stddef.h>
#include <string.h>

/* Byte i of the hex dump, -1 past its end or on a non-hex digit. */
static int byte_at(const char *hex, size_t len, size_t i)
{
	int v = 0;
	if (2 * i + 1 >= len)
		return -1;
	for (int k = 0; k < 2; k++) {
		char c = hex[2 * i + (size_t)k];
		int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10
		      : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
		if (d < 0)
			return -1;
		v = v * 16 + d;
	}
	return v;
}

static long u16_at(const char *hex, size_t len, size_t i)
{
	int a = byte_at(hex, len, i), b = byte_at(hex, len, i + 1);
	return a < 0 || b < 0 ? -1 : (long)a << 8 | b;
}

int profile_hello_versions(const char *hex, int *lowest, int *highest)
{
	size_t len = hex ? strlen(hex) : 0;
	/* record header (5), handshake header (4): a TLS handshake record
	 * holding a ClientHello (an SSLv2 hello has neither) */
	if (byte_at(hex, len, 0) != 0x16 || byte_at(hex, len, 5) != 0x01)
		return 0;
	size_t i = 5 + 4 + 2 + 32;                  /* legacy_version, random */
	int sid = byte_at(hex, len, i);
	if (sid < 0)
		return 0;
	i += 1 + (size_t)sid;
	long cs = u16_at(hex, len, i);
	if (cs < 0)
		return 0;
	i += 2 + (size_t)cs;
	int cm = byte_at(hex, len, i);
	if (cm < 0)
		return 0;
	i += 1 + (size_t)cm;
	long el = u16_at(hex, len, i);
	if (el < 0)
		return 0;
	i += 2;
	size_t end = i + (size_t)el;
	while (i + 4 <= end) {
		long type = u16_at(hex, len, i), l = u16_at(hex, len, i + 2);
		if (type < 0 || l < 0)
			return 0;
		if (type == 0x002b) {
			int lo = 0, hi = 0, n = byte_at(hex, len, i + 4);
			for (int k = 0; n > 0 && k + 1 < n; k += 2) {
				long v = u16_at(hex, len, i + 5 + (size_t)k);
				if (v < 0)
					return 0;
				if (v < 0x0300 || v > 0x0304)
					continue;       /* GREASE, drafts */
				if (!lo || v < lo)
					lo = (int)v;
				if (v > hi)
					hi = (int)v;
			}
			if (!lo)
				return 0;
			*lowest = lo;
			*highest = hi;
			return 1;
		}
		i += 4 + (size_t)l;
	}
	return 0;
}
