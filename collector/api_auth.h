/*
 * api_auth.h - the API's bearer tokens: the write token (POST/DELETE) and
 * the optional read token. Each is read from its file when one is
 * configured (the file must not be accessible by group or others, like a
 * key file; one line, surrounding whitespace ignored), else from the
 * environment (TLSWATCH_API_TOKEN, TLSWATCH_API_READ_TOKEN). Tokens are
 * compared in constant time (SHA-256 of both, CRYPTO_memcmp) and never
 * logged or echoed.
 *
 * Ownership: struct api_auth owns its token copies; api_auth_clear wipes and
 * frees them.
 */
#ifndef TW_API_AUTH_H
#define TW_API_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <event2/http.h>

#define API_AUTH_MAX_TOKEN 4096

struct api_auth {
	char *write_token;   /* NULL: writes are refused */
	char *read_token;    /* NULL: reads are open */
};

/* 0, or -1 with the reason (naming the file) in err. */
int api_auth_load(struct api_auth *a, const char *token_file, const char *read_token_file,
		  char *err, size_t errlen) __attribute__((warn_unused_result));

enum api_auth_result {
	API_AUTH_OK,
	API_AUTH_MISSING,    /* no Authorization: Bearer header */
	API_AUTH_WRONG,      /* a token that is not the right one */
	API_AUTH_DISABLED,   /* a write, and no write token is configured */
};

/* Checks req's Authorization header for a write (write token) or a read
 * (read token or write token; OK when no read token is configured). */
enum api_auth_result api_auth_check(const struct api_auth *a, struct evhttp_request *req,
				    bool write);

void api_auth_clear(struct api_auth *a);

#endif
