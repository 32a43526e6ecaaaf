/*
 * starttls.h - the plaintext preamble of protocols that upgrade to TLS
 * (SMTP, IMAP, POP3, FTP, PostgreSQL). A small state machine fed by the
 * connection's socket; it never blocks.
 */
#ifndef TW_STARTTLS_H
#define TW_STARTTLS_H

#include <stddef.h>

enum starttls_proto { STARTTLS_NONE = 0, STARTTLS_SMTP, STARTTLS_IMAP, STARTTLS_POP3,
		      STARTTLS_FTP, STARTTLS_POSTGRES };

/* What the socket must do next, memcached-style. */
enum starttls_status {
	STARTTLS_DONE,        /* the server agreed: start the TLS handshake */
	STARTTLS_WANT_READ,
	STARTTLS_REFUSED,     /* the server answered but will not do TLS */
	STARTTLS_IO_ERROR,    /* reset or closed */
};

struct starttls {
	enum starttls_proto proto;
	int step;             /* index into the protocol's dialogue */
	char buf[4096];       /* unconsumed response bytes */
	size_t len;
	char why[256];        /* reason for REFUSED / IO_ERROR */
};

/* Returns STARTTLS_NONE and -1 when the name is unknown. */
int starttls_parse(const char *name, enum starttls_proto *out);
const char *starttls_name(enum starttls_proto p);
void starttls_init(struct starttls *st, enum starttls_proto proto);
/* Drives the dialogue on a connected non-blocking socket. Call first right
 * after connect, then whenever the socket is readable. */
enum starttls_status starttls_step(struct starttls *st, int fd);

#endif
