/*
 * testssl_db.c - loads testssl.sh's client database (client-simulation.txt).
 *
 * The file is a bash fragment: one line per array append, e.g.
 *
 *     names+=("Java 8u161")
 *     ciphers+=("ECDHE-ECDSA-AES256-SHA384:...")
 *     minRsaBits+=(-1)
 *
 * Each names+= starts a client; the lines up to the next names+= describe
 * it. We read it as data, never through a shell: one NAME+=(VALUE) per
 * line, VALUE a double-quoted string without escapes or a bare word.
 * The recorded ClientHello (handshakebytes) corrects the version range
 * where it carries supported_versions (profile_hello.c says why).
 * Fields we do not use (warning, protos, tlsvers, the DH
 * and maxRsaBits limits) and fields newer testssl.sh versions may add are
 * ignored, so a newer database still loads.
 */
#include "profile.h"
#include "profile_hello.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A line longer than this is not testssl.sh data (the longest real one,
 * a handshakebytes hex dump, is under 2 KiB). */
#define LINE_MAX_LEN 65536

enum field {
	F_NAMES,
	F_SHORT,
	F_CIPHERS,
	F_CIPHERSUITES,
	F_SNI,
	F_ALPN,
	F_LOWEST,
	F_HIGHEST,
	F_SERVICE,
	F_MIN_RSA,
	F_MIN_ECDSA,
	F_CURVES,
	F_REQUIRES_SHA2,
	F_CURRENT,
	F_HELLO,
	F_COUNT,
	F_IGNORED = F_COUNT
};

enum kind { K_STRING, K_SNI, K_VERSION, K_INT, K_BOOL, K_NONE };

static const struct field_def {
	const char *name;
	enum field id;
	enum kind kind;
	bool required;
} field_defs[] = {
	{ "names",            F_NAMES,         K_STRING,  true  },
	{ "short",            F_SHORT,         K_STRING,  true  },
	{ "ciphers",          F_CIPHERS,       K_STRING,  true  },
	{ "ciphersuites",     F_CIPHERSUITES,  K_STRING,  true  },
	{ "sni",              F_SNI,           K_SNI,     true  },
	{ "alpn",             F_ALPN,          K_STRING,  false },
	{ "lowest_protocol",  F_LOWEST,        K_VERSION, true  },
	{ "highest_protocol", F_HIGHEST,       K_VERSION, true  },
	{ "service",          F_SERVICE,       K_STRING,  true  },
	{ "minRsaBits",       F_MIN_RSA,       K_INT,     true  },
	{ "minEcdsaBits",     F_MIN_ECDSA,     K_INT,     true  },
	{ "curves",           F_CURVES,        K_STRING,  true  },
	/* Optional: testssl.sh 3.0.8 misspells it "requireseha2" for
	 * "Java 17.0.3 (OpenJDK)"; the alias below reads that value. */
	{ "requiresSha2",     F_REQUIRES_SHA2, K_BOOL,    false },
	{ "requireseha2",     F_REQUIRES_SHA2, K_BOOL,    false },
	{ "current",          F_CURRENT,       K_BOOL,    true  },
	{ "handshakebytes",   F_HELLO,         K_STRING,  false },
	{ "warning",          F_IGNORED,       K_NONE,    false },
	{ "protos",           F_IGNORED,       K_NONE,    false },
	{ "tlsvers",          F_IGNORED,       K_NONE,    false },
	{ "minDhBits",        F_IGNORED,       K_NONE,    false },
	{ "maxDhBits",        F_IGNORED,       K_NONE,    false },
	{ "maxRsaBits",       F_IGNORED,       K_NONE,    false },
};

/* The client being read: everything between one names+= and the next. */
struct block {
	size_t line;               /* line of its names+= */
	bool seen[F_COUNT];
	char *str[F_COUNT];        /* K_STRING values, heap copies */
	int num[F_COUNT];          /* K_VERSION and K_INT values */
	bool flag[F_COUNT];        /* K_SNI and K_BOOL values */
};

struct loader {
	const char *path;
	size_t lineno;
	struct profile_list *list;
	struct profile_caps *caps;
	size_t added;
	size_t skipped;
	char *err;
	size_t errlen;
};

static void block_clear(struct block *b)
{
	for (int i = 0; i < F_COUNT; i++)
		free(b->str[i]);
	memset(b, 0, sizeof *b);
}

static int fail_at(struct loader *ld, size_t line, const char *msg, const char *arg)
{
	if (ld->err != NULL && ld->errlen > 0)
		snprintf(ld->err, ld->errlen, "%s:%zu: %s%s%s%s", ld->path, line, msg,
			 arg ? " \"" : "", arg ? arg : "", arg ? "\"" : "");
	return -1;
}

static const struct field_def *field_lookup(const char *name)
{
	for (size_t i = 0; i < sizeof field_defs / sizeof field_defs[0]; i++)
		if (strcmp(field_defs[i].name, name) == 0)
			return &field_defs[i];
	return NULL;
}

static bool is_blank(char c)
{
	return c == ' ' || c == '\t';
}

static bool is_name_char(char c, bool first)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_' ||
	       (!first && c >= '0' && c <= '9');
}

/*
 * Splits one line in place into NAME and VALUE (quotes removed).
 * Returns 1 for a line to use, 0 for a blank or comment line, -1 when the
 * line is not NAME+=(VALUE).
 */
static int split_line(char *line, char **name, char **value)
{
	char *s = line, *end;

	while (is_blank(*s))
		s++;
	if (*s == '\0' || *s == '#')
		return 0;
	if (!is_name_char(*s, true))
		return -1;
	*name = s;
	while (is_name_char(*s, false))
		s++;
	if (strncmp(s, "+=(", 3) != 0)
		return -1;
	*s = '\0';
	s += 3;
	if (*s == '"') {
		*value = ++s;
		end = strchr(s, '"');
		/* No bash escapes: testssl.sh's data has none, and a
		 * backslash would mean something we do not interpret. */
		if (end == NULL || memchr(s, '\\', (size_t)(end - s)) != NULL)
			return -1;
		*end = '\0';
		s = end + 1;
		if (*s != ')')
			return -1;
	} else {
		*value = s;
		while (*s && *s != ')' && !is_blank(*s) && *s != '"' && *s != '\'')
			s++;
		if (*s != ')' || s == *value)
			return -1;
		*s = '\0';
	}
	s++;
	while (is_blank(*s))
		s++;
	if (*s != '\0' && *s != '#')
		return -1;
	return 1;
}

/* Parses a base-10 int in [lo, hi]; the whole string must be the number. */
static int parse_int(const char *s, long lo, long hi, int *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v < lo || v > hi)
		return -1;
	*out = (int)v;
	return 0;
}

/* testssl.sh's protocol numbers: 0x0200 (SSLv2 hello), 0x0300..0x0304. */
static int parse_version(const char *s, int *out)
{
	char *end;
	long v;

	if (strncmp(s, "0x", 2) != 0)
		return -1;
	errno = 0;
	v = strtol(s + 2, &end, 16);
	if (errno != 0 || end == s + 2 || *end != '\0')
		return -1;
	if (v != 0x0200 && (v < 0x0300 || v > 0x0304))
		return -1;
	*out = (int)v;
	return 0;
}

static bool has_name(const struct profile_list *list, const char *name)
{
	for (size_t i = 0; i < list->len; i++)
		if (strcmp(list->items[i].name, name) == 0)
			return true;
	return false;
}

/* Validates the finished client, normalises it and appends it. */
static int block_finish(struct loader *ld, struct block *b)
{
	struct profile_raw raw;
	struct profile p;
	int rc;

	for (size_t i = 0; i < sizeof field_defs / sizeof field_defs[0]; i++) {
		const struct field_def *d = &field_defs[i];

		if (d->required && !b->seen[d->id]) {
			if (ld->err != NULL && ld->errlen > 0)
				snprintf(ld->err, ld->errlen, "%s:%zu: client '%s' lacks %s",
					 ld->path, b->line, b->str[F_NAMES], d->name);
			return -1;
		}
	}
	if (has_name(ld->list, b->str[F_NAMES])) {
		ld->skipped++;
		return 0;
	}
	raw = (struct profile_raw){
		.name = b->str[F_NAMES],
		.short_name = b->str[F_SHORT],
		.ciphers = b->str[F_CIPHERS],
		.ciphersuites = b->str[F_CIPHERSUITES],
		.curves = b->str[F_CURVES],
		.alpn = b->str[F_ALPN],
		.services = b->str[F_SERVICE],
		.send_sni = b->flag[F_SNI],
		.lowest_protocol = b->num[F_LOWEST],
		.highest_protocol = b->num[F_HIGHEST],
		.min_rsa_bits = b->num[F_MIN_RSA],
		.min_ecdsa_bits = b->num[F_MIN_ECDSA],
		.requires_sha2 = b->flag[F_REQUIRES_SHA2],
		.current = b->flag[F_CURRENT],
	};
	int lo, hi;
	if (profile_hello_versions(b->str[F_HELLO], &lo, &hi)) {
		raw.lowest_protocol = lo;
		raw.highest_protocol = hi;
	}
	if (profile_from_raw(ld->caps, &raw, PROFILE_TESTSSL, &p) != 0)
		return fail_at(ld, b->line, "out of memory", NULL);
	rc = profile_list_push(ld->list, &p);
	profile_free(&p);
	if (rc != 0)
		return fail_at(ld, b->line, "out of memory", NULL);
	ld->added++;
	return 0;
}

/* Stores one NAME+=(VALUE) into the current block. */
static int take_field(struct loader *ld, struct block *b, const char *name,
		      const char *value)
{
	const struct field_def *d = field_lookup(name);

	if (d == NULL || d->id == F_IGNORED)
		return 0;
	if (d->id == F_NAMES) {
		if (b->seen[F_NAMES] && block_finish(ld, b) != 0)
			return -1;
		block_clear(b);
		b->line = ld->lineno;
		if (value[0] == '\0')
			return fail_at(ld, ld->lineno, "empty client name", NULL);
	} else if (!b->seen[F_NAMES]) {
		return fail_at(ld, ld->lineno, "field before the first names+=:", name);
	}
	if (b->seen[d->id]) {
		if (ld->err != NULL && ld->errlen > 0)
			snprintf(ld->err, ld->errlen, "%s:%zu: client '%s' sets %s twice",
				 ld->path, ld->lineno, b->str[F_NAMES], d->name);
		return -1;
	}
	switch (d->kind) {
	case K_STRING:
		b->str[d->id] = strdup(value);
		if (b->str[d->id] == NULL)
			return fail_at(ld, ld->lineno, "out of memory", NULL);
		break;
	case K_SNI:
		/* testssl.sh substitutes the target's name for $SNI; "" means
		 * the client sends no server_name. */
		if (strcmp(value, "$SNI") == 0)
			b->flag[d->id] = true;
		else if (value[0] == '\0')
			b->flag[d->id] = false;
		else
			return fail_at(ld, ld->lineno, "sni must be \"$SNI\" or \"\", not", value);
		break;
	case K_VERSION:
		if (parse_version(value, &b->num[d->id]) != 0)
			return fail_at(ld, ld->lineno, "bad protocol version (want 0x0200, 0x0300..0x0304):",
				       value);
		break;
	case K_INT:
		if (parse_int(value, -1, 65536, &b->num[d->id]) != 0)
			return fail_at(ld, ld->lineno, "bad number (want -1..65536):", value);
		break;
	case K_BOOL:
		if (strcmp(value, "true") == 0)
			b->flag[d->id] = true;
		else if (strcmp(value, "false") == 0)
			b->flag[d->id] = false;
		else
			return fail_at(ld, ld->lineno, "want true or false, not", value);
		break;
	case K_NONE:
		break;
	}
	b->seen[d->id] = true;
	return 0;
}

int testssl_db_load(const char *path, struct profile_list *list,
		    size_t *skipped, char *err, size_t errlen)
{
	struct loader ld = {
		.path = path, .list = list, .err = err, .errlen = errlen,
	};
	struct block b;
	size_t start = list ? list->len : 0;
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	FILE *f = NULL;
	char cerr[256];
	int rc = -1;

	memset(&b, 0, sizeof b);
	if (err != NULL && errlen > 0)
		err[0] = '\0';
	if (path == NULL || list == NULL) {
		if (err != NULL && errlen > 0)
			snprintf(err, errlen, "testssl_db_load: no path or list");
		return -1;
	}
	f = fopen(path, "r");
	if (f == NULL) {
		if (err != NULL && errlen > 0)
			snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	ld.caps = profile_caps_new(cerr, sizeof cerr);
	if (ld.caps == NULL) {
		if (err != NULL && errlen > 0)
			snprintf(err, errlen, "%s: %s", path, cerr);
		goto out;
	}
	while ((n = getline(&line, &cap, f)) >= 0) {
		char *name, *value;
		int s;

		ld.lineno++;
		if ((size_t)n > LINE_MAX_LEN) {
			fail_at(&ld, ld.lineno, "line too long", NULL);
			goto out;
		}
		if (strlen(line) != (size_t)n) {
			fail_at(&ld, ld.lineno, "NUL byte in line", NULL);
			goto out;
		}
		line[strcspn(line, "\r\n")] = '\0';
		s = split_line(line, &name, &value);
		if (s < 0) {
			fail_at(&ld, ld.lineno, "expected NAME+=(VALUE)", NULL);
			goto out;
		}
		if (s > 0 && take_field(&ld, &b, name, value) != 0)
			goto out;
	}
	if (ferror(f)) {
		if (err != NULL && errlen > 0)
			snprintf(err, errlen, "%s: read error: %s", path, strerror(errno));
		goto out;
	}
	if (b.seen[F_NAMES] && block_finish(&ld, &b) != 0)
		goto out;
	if (ld.added > (size_t)INT_MAX) {
		fail_at(&ld, ld.lineno, "too many clients", NULL);
		goto out;
	}
	if (skipped != NULL)
		*skipped = ld.skipped;
	rc = (int)ld.added;
out:
	if (fclose(f) != 0 && rc >= 0) {
		if (err != NULL && errlen > 0)
			snprintf(err, errlen, "%s: close: %s", path, strerror(errno));
		rc = -1;
	}
	if (rc < 0) {
		/* All or nothing, like a config reload: drop what we added. */
		while (list->len > start)
			profile_free(&list->items[--list->len]);
	}
	block_clear(&b);
	free(line);
	profile_caps_free(ld.caps);
	return rc;
}
