/*
 * db_conninfo.c - is a libpq connection string usable at all? (issue 12)
 *
 * An invalid option used to pass `--check-config` and then fail every
 * connect attempt, retried with backoff for ever. libpq decides two things
 * before it touches the network, and both are checked here without it:
 *
 *   - the syntax and the option names: PQconninfoParse() (key=value or URI);
 *   - the values libpq validates itself (connectOptions2 in fe-connect.c):
 *     the enumerated options (sslmode, gssencmode, channel_binding,
 *     target_session_attrs), the integer ones (port, connect_timeout,
 *     keepalives*, tcp_user_timeout), and that the ports match the hosts.
 *
 * The values come from the string, else from the environment (PGSSLMODE,
 * ...: PQconndefaults()), as libpq would take them; a message names the
 * option and where its value came from. It never shows a password: libpq's
 * syntax messages quote the token they stumbled on, which may be part of
 * one, so such a token is replaced by "..." unless it is an option name
 * or a punctuation mark.
 */
#include "db.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

struct enum_opt {
	const char *key;
	const char *const *values;  /* NULL-terminated */
};

static const char *const SSLMODES[] = { "disable", "allow", "prefer", "require", "verify-ca",
					"verify-full", NULL };
static const char *const GSSENC[] = { "disable", "prefer", "require", NULL };
static const char *const CHANNEL_BINDING[] = { "disable", "prefer", "require", NULL };
static const char *const SESSION_ATTRS[] = { "any", "read-write", "read-only", "primary",
					     "standby", "prefer-standby", NULL };

static const struct enum_opt enums[] = {
	{ "sslmode", SSLMODES },
	{ "gssencmode", GSSENC },
	{ "channel_binding", CHANNEL_BINDING },
	{ "target_session_attrs", SESSION_ATTRS },
};

static const char *const INT_OPTS[] = { "connect_timeout", "keepalives", "keepalives_idle",
					"keepalives_interval", "keepalives_count",
					"tcp_user_timeout", NULL };

/* Options whose value may be shown in a message (not password, not a
 * whole conninfo in dbname). */
static bool showable(const char *key)
{
	return strcmp(key, "password") != 0 && strcmp(key, "dbname") != 0 &&
	       strcmp(key, "sslpassword") != 0;
}

static bool is_option_name(const char *s, size_t n)
{
	PQconninfoOption *d = PQconndefaults();
	bool found = false;
	for (PQconninfoOption *o = d; o && o->keyword && !found; o++)
		found = strlen(o->keyword) == n && strncmp(o->keyword, s, n) == 0;
	PQconninfoFree(d);
	return found;
}

/* libpq's message, one line, every quoted token that is not an option name
 * replaced by "...". */
static void scrub(const char *msg, char *out, size_t cap)
{
	size_t o = 0;
	/* this one quotes a key the user wrote, which is what to fix */
	bool keep_all = strncmp(msg, "invalid connection option", 25) == 0;
	if (cap == 0)
		return;
	for (const char *p = msg; *p && *p != '\n' && o + 6 < cap;) {
		const char *end = *p == '"' ? strchr(p + 1, '"') : NULL;
		if (!end) {
			out[o++] = *p++;
			continue;
		}
		size_t n = (size_t)(end - p - 1);
		/* "=" and other punctuation say nothing secret */
		bool word = n > 1 || (n == 1 && (p[1] == '_' || (p[1] >= '0' && p[1] <= '9') ||
						 ((p[1] | 0x20) >= 'a' && (p[1] | 0x20) <= 'z')));
		if (word && !keep_all && !is_option_name(p + 1, n)) {
			memcpy(out + o, "\"...\"", 5);
			o += 5;
		} else {
			size_t k = n + 2 < cap - 1 - o ? n + 2 : cap - 1 - o;
			memcpy(out + o, p, k);
			o += k;
		}
		p = end + 1;
	}
	out[o] = '\0';
}

/* Digits only, value within [lo, hi]. */
static bool int_ok(const char *s, size_t n, long lo, long hi)
{
	if (n == 0 || n > 9)
		return false;
	long v = 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (s[i] - '0');
	}
	return v >= lo && v <= hi;
}

/* Elements of a comma-separated list (libpq's multi-host form). */
static size_t list_len(const char *s)
{
	size_t n = 1;
	for (; *s; s++)
		n += *s == ',';
	return n;
}

static const char *opt_value(PQconninfoOption *opts, const char *key)
{
	for (PQconninfoOption *o = opts; o && o->keyword; o++)
		if (strcmp(o->keyword, key) == 0)
			return o->val;
	return NULL;
}

/* The value libpq would use for key: the string's, else the environment's.
 * *from says which. */
static const char *effective(PQconninfoOption *opts, PQconninfoOption *defs, const char *key,
			     const char **from)
{
	const char *v = opt_value(opts, key);
	*from = "in the conninfo";
	if (v && *v)
		return v;
	*from = "from the environment";
	v = opt_value(defs, key);
	return v && *v ? v : NULL;
}

static int check_values(PQconninfoOption *opts, PQconninfoOption *defs, char *err,
			size_t errlen)
{
	const char *from, *v;
	for (size_t i = 0; i < sizeof enums / sizeof enums[0]; i++) {
		if (!(v = effective(opts, defs, enums[i].key, &from)))
			continue;
		bool ok = false;
		char list[160] = "";
		for (const char *const *a = enums[i].values; *a; a++) {
			ok = ok || strcmp(v, *a) == 0;
			size_t l = strlen(list);
			snprintf(list + l, sizeof list - l, "%s%s", l ? ", " : "", *a);
		}
		if (!ok) {
			snprintf(err, errlen, "option %s: invalid value \"%.40s\" %s (expected one "
				 "of %s)", enums[i].key, v, from, list);
			return -1;
		}
	}
	for (const char *const *k = INT_OPTS; *k; k++) {
		/* libpq takes a sign (a negative timeout means its minimum) */
		if ((v = effective(opts, defs, *k, &from)) &&
		    !int_ok(v + (*v == '-' || *v == '+'), strlen(v) - (*v == '-' || *v == '+'), 0,
			    999999999)) {
			snprintf(err, errlen, "option %s: invalid value \"%.40s\" %s (expected a "
				 "whole number)", *k, v, from);
			return -1;
		}
	}
	if ((v = effective(opts, defs, "port", &from))) {
		for (const char *p = v;;) {
			size_t n = strcspn(p, ",");
			/* an empty element means the default port */
			if (n > 0 && !int_ok(p, n, 1, 65535)) {
				snprintf(err, errlen, "option port: invalid value \"%.40s\" %s "
					 "(expected port numbers 1-65535, comma-separated)", v, from);
				return -1;
			}
			if (!p[n])
				break;
			p += n + 1;
		}
		const char *h = effective(opts, defs, "host", &from);
		const char *ha = effective(opts, defs, "hostaddr", &from);
		size_t hosts = h ? list_len(h) : ha ? list_len(ha) : 1;
		if (list_len(v) != 1 && list_len(v) != hosts) {
			snprintf(err, errlen, "option port: %zu port numbers for %zu hosts (give one "
				 "port, or one per host)", list_len(v), hosts);
			return -1;
		}
	}
	return 0;
}

int db_conninfo_check(const char *conninfo, char *err, size_t errlen)
{
	char *msg = NULL;
	PQconninfoOption *opts = PQconninfoParse(conninfo ? conninfo : "", &msg);
	if (!opts) {
		char clean[256];
		scrub(msg ? msg : "out of memory", clean, sizeof clean);
		snprintf(err, errlen, "invalid: %s", clean);
		PQfreemem(msg);
		return -1;
	}
	PQconninfoOption *defs = PQconndefaults();
	int rc = defs ? check_values(opts, defs, err, errlen) : 0;
	PQconninfoFree(defs);
	/* the parsed copy holds the password: wipe it before it is freed */
	for (PQconninfoOption *o = opts; o->keyword; o++)
		if (o->val && !showable(o->keyword))
			explicit_bzero(o->val, strlen(o->val));
	PQconninfoFree(opts);
	return rc;
}
