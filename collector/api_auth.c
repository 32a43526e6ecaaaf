/*
 * api_auth.c - bearer tokens for the API (see api_auth.h).
 */
#include "api_auth.h"
#include "tlsutil.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <event2/keyvalq_struct.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

/* Reads one token from path: the file's mode is checked first (as a key
 * file's), surrounding whitespace is dropped, and an empty file is an error
 * (an empty token would let an empty header in). */
static int read_token_file(const char *path, const char *what, char **out, char *err,
			   size_t errlen)
{
	char why[512];
	if (tlsutil_check_key_file(path, why, sizeof why) != 0) {
		snprintf(err, errlen, "%s: %s", what, why);
		return -1;
	}
	FILE *f = fopen(path, "r");
	if (!f) {
		snprintf(err, errlen, "%s: cannot read %s: %s", what, path, strerror(errno));
		return -1;
	}
	char buf[API_AUTH_MAX_TOKEN + 2];
	size_t n = fread(buf, 1, sizeof buf - 1, f);
	bool bad = ferror(f) != 0;
	fclose(f);
	if (bad || n > API_AUTH_MAX_TOKEN) {
		snprintf(err, errlen, "%s: %s: %s", what, path,
			 bad ? "read error" : "token longer than 4096 bytes");
		explicit_bzero(buf, sizeof buf);
		return -1;
	}
	buf[n] = '\0';
	char *p = buf;
	while (*p && isspace((unsigned char)*p))
		p++;
	size_t len = strlen(p);
	while (len > 0 && isspace((unsigned char)p[len - 1]))
		p[--len] = '\0';
	if (len == 0 || strpbrk(p, " \t\r\n")) {
		snprintf(err, errlen, "%s: %s: expected one token on one line, %s", what, path,
			 len == 0 ? "the file is empty" : "got whitespace inside it");
		explicit_bzero(buf, sizeof buf);
		return -1;
	}
	*out = strdup(p);
	explicit_bzero(buf, sizeof buf);
	if (!*out) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	return 0;
}

static int load_one(const char *path, const char *env, const char *what, char **out,
		    char *err, size_t errlen)
{
	*out = NULL;
	if (path)
		return read_token_file(path, what, out, err, errlen);
	const char *v = getenv(env);
	if (!v || !*v)
		return 0;
	if (strlen(v) > API_AUTH_MAX_TOKEN || strpbrk(v, " \t\r\n")) {
		snprintf(err, errlen, "%s: expected one token without whitespace, at most 4096 bytes",
			 env);
		return -1;
	}
	if (!(*out = strdup(v))) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	return 0;
}

int api_auth_load(struct api_auth *a, const char *token_file, const char *read_token_file,
		  char *err, size_t errlen)
{
	memset(a, 0, sizeof *a);
	if (load_one(token_file, "TLSWATCH_API_TOKEN", "http.token_file", &a->write_token, err,
		     errlen) < 0 ||
	    load_one(read_token_file, "TLSWATCH_API_READ_TOKEN", "http.read_token_file",
		     &a->read_token, err, errlen) < 0) {
		api_auth_clear(a);
		return -1;
	}
	return 0;
}

/* Constant time whatever the lengths: the digests are compared. */
static bool token_equal(const char *given, size_t len, const char *want)
{
	unsigned char d1[EVP_MAX_MD_SIZE], d2[EVP_MAX_MD_SIZE];
	unsigned int n1 = 0, n2 = 0;
	if (!EVP_Digest(given, len, d1, &n1, EVP_sha256(), NULL) ||
	    !EVP_Digest(want, strlen(want), d2, &n2, EVP_sha256(), NULL) || n1 != n2)
		return false;
	return CRYPTO_memcmp(d1, d2, n1) == 0;
}

enum api_auth_result api_auth_check(const struct api_auth *a, struct evhttp_request *req,
				    bool write)
{
	if (write && !a->write_token)
		return API_AUTH_DISABLED;
	if (!write && !a->read_token)
		return API_AUTH_OK;
	const char *h = evhttp_find_header(evhttp_request_get_input_headers(req), "Authorization");
	if (!h || strncasecmp(h, "Bearer ", 7) != 0)
		return API_AUTH_MISSING;
	const char *tok = h + 7;
	while (*tok == ' ')
		tok++;
	size_t len = strlen(tok);
	while (len > 0 && tok[len - 1] == ' ')
		len--;
	if (len == 0)
		return API_AUTH_MISSING;
	/* both compared, whatever the first says: the time does not tell which */
	bool w = a->write_token && token_equal(tok, len, a->write_token);
	bool rd = !write && a->read_token && token_equal(tok, len, a->read_token);
	return w || rd ? API_AUTH_OK : API_AUTH_WRONG;
}

void api_auth_clear(struct api_auth *a)
{
	if (a->write_token) {
		explicit_bzero(a->write_token, strlen(a->write_token));
		free(a->write_token);
	}
	if (a->read_token) {
		explicit_bzero(a->read_token, strlen(a->read_token));
		free(a->read_token);
	}
	a->write_token = a->read_token = NULL;
}
