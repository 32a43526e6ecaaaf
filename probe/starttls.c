/*
 * starttls.c - see starttls.h.
 *
 * Each protocol is a short dialogue of (send, expect) steps. Replies are
 * line oriented except PostgreSQL's one-byte answer to SSLRequest. A
 * multi-line SMTP/FTP reply ("250-...", then "250 ...") ends at the line
 * whose code is followed by a space.
 */
#include "starttls.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

struct dialogue_step {
	const char *send;     /* sent before waiting; NULL = send nothing */
	const char *expect;   /* reply prefix meaning success */
	int multiline;        /* SMTP/FTP style "NNN-" continuation lines */
};

static const struct dialogue_step smtp_steps[] = {
	{ NULL, "220", 1 },
	{ "EHLO tlswatch.probe\r\n", "250", 1 },
	{ "STARTTLS\r\n", "220", 1 },
};
static const struct dialogue_step imap_steps[] = {
	{ NULL, "* OK", 0 },
	{ "a1 STARTTLS\r\n", "a1 OK", 0 },
};
static const struct dialogue_step pop3_steps[] = {
	{ NULL, "+OK", 0 },
	{ "STLS\r\n", "+OK", 0 },
};
static const struct dialogue_step ftp_steps[] = {
	{ NULL, "220", 1 },
	{ "AUTH TLS\r\n", "234", 1 },
};

static const char *const names[] = { "none", "smtp", "imap", "pop3", "ftp", "postgres" };

int starttls_parse(const char *name, enum starttls_proto *out)
{
	for (int i = 1; i < (int)(sizeof names / sizeof names[0]); i++) {
		if (strcasecmp(name, names[i]) == 0) {
			*out = (enum starttls_proto)i;
			return 0;
		}
	}
	*out = STARTTLS_NONE;
	return -1;
}

const char *starttls_name(enum starttls_proto p)
{
	return (unsigned)p < sizeof names / sizeof names[0] ? names[p] : "?";
}

void starttls_init(struct starttls *st, enum starttls_proto proto)
{
	memset(st, 0, sizeof *st);
	st->proto = proto;
}

static const struct dialogue_step *steps_for(enum starttls_proto p, int *n)
{
	switch (p) {
	case STARTTLS_SMTP: *n = 3; return smtp_steps;
	case STARTTLS_IMAP: *n = 2; return imap_steps;
	case STARTTLS_POP3: *n = 2; return pop3_steps;
	case STARTTLS_FTP:  *n = 2; return ftp_steps;
	default: *n = 0; return NULL;
	}
}

/* Writes all of a short request. These are a few bytes on a fresh socket,
 * so the kernel buffer always takes them; a short write is an error. */
static int send_all(int fd, const void *data, size_t len, struct starttls *st)
{
	ssize_t n;
	do {
		n = send(fd, data, len, MSG_NOSIGNAL);
	} while (n < 0 && errno == EINTR);
	if (n != (ssize_t)len) {
		snprintf(st->why, sizeof st->why, "%s: send failed: %s", names[st->proto],
			 n < 0 ? strerror(errno) : "short write");
		return -1;
	}
	return 0;
}

/* Reads what is available. 1 = got bytes, 0 = would block, -1 = closed/error. */
static int fill(int fd, struct starttls *st)
{
	if (st->len >= sizeof st->buf - 1) {
		snprintf(st->why, sizeof st->why, "%s: reply longer than %zu bytes", names[st->proto],
			 sizeof st->buf);
		return -1;
	}
	ssize_t n = recv(fd, st->buf + st->len, sizeof st->buf - 1 - st->len, 0);
	if (n > 0) {
		st->len += (size_t)n;
		st->buf[st->len] = '\0';
		return 1;
	}
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
		return 0;
	snprintf(st->why, sizeof st->why, "%s: connection %s during STARTTLS", names[st->proto],
		 n == 0 ? "closed by server" : strerror(errno));
	return -1;
}

/* Looks for the final line of a reply in buf. Returns its start, or NULL
 * when the reply is not complete yet. Consumed bytes are counted in *used. */
static const char *final_line(const struct starttls *st, int multiline, size_t *used)
{
	const char *p = st->buf;
	for (;;) {
		const char *nl = memchr(p, '\n', st->len - (size_t)(p - st->buf));
		if (!nl)
			return NULL;
		/* "250-foo" continues, "250 foo" ends; single-line protocols end at once. */
		if (!multiline || !(nl - p >= 4 && p[3] == '-')) {
			*used = (size_t)(nl + 1 - st->buf);
			return p;
		}
		p = nl + 1;
	}
}

static enum starttls_status step_postgres(struct starttls *st, int fd)
{
	/* SSLRequest: int32 length 8, int32 code 80877103 (1234.5679). */
	static const unsigned char sslrequest[8] = { 0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f };
	if (st->step == 0) {
		if (send_all(fd, sslrequest, sizeof sslrequest, st) != 0)
			return STARTTLS_IO_ERROR;
		st->step = 1;
	}
	int r = fill(fd, st);
	if (r < 0)
		return STARTTLS_IO_ERROR;
	if (st->len == 0)
		return STARTTLS_WANT_READ;
	if (st->buf[0] == 'S') {
		if (st->len > 1) {
			/* Bytes after 'S' would be a man-in-the-middle injection (CVE-2021-23222). */
			snprintf(st->why, sizeof st->why, "postgres: unexpected data after SSL response");
			return STARTTLS_REFUSED;
		}
		return STARTTLS_DONE;
	}
	snprintf(st->why, sizeof st->why, "postgres: server refused SSL (answered '%c')",
		 st->buf[0] >= 0x20 && st->buf[0] < 0x7f ? st->buf[0] : '?');
	return STARTTLS_REFUSED;
}

enum starttls_status starttls_step(struct starttls *st, int fd)
{
	int n;
	const struct dialogue_step *steps;

	if (st->proto == STARTTLS_POSTGRES)
		return step_postgres(st, fd);
	steps = steps_for(st->proto, &n);
	if (!steps) {
		snprintf(st->why, sizeof st->why, "no STARTTLS dialogue");
		return STARTTLS_IO_ERROR;
	}
	for (;;) {
		if (st->step >= n)
			return STARTTLS_DONE;
		const struct dialogue_step *s = &steps[st->step];
		size_t used = 0;
		const char *line = final_line(st, s->multiline, &used);
		if (!line) {
			int r = fill(fd, st);
			if (r < 0)
				return STARTTLS_IO_ERROR;
			if (r == 0)
				return STARTTLS_WANT_READ;
			continue;
		}
		if (strncmp(line, s->expect, strlen(s->expect)) != 0) {
			size_t ll = strcspn(line, "\r\n");
			snprintf(st->why, sizeof st->why, "%s: expected \"%s\", server said \"%.*s\"",
				 names[st->proto], s->expect, (int)(ll > 120 ? 120 : ll), line);
			return STARTTLS_REFUSED;
		}
		/* The server must not send anything after the go-ahead. */
		memmove(st->buf, st->buf + used, st->len - used);
		st->len -= used;
		st->buf[st->len] = '\0';
		st->step++;
		if (st->step < n) {
			if (send_all(fd, steps[st->step].send, strlen(steps[st->step].send), st) != 0)
				return STARTTLS_IO_ERROR;
		} else if (st->len) {
			snprintf(st->why, sizeof st->why, "%s: unexpected data after STARTTLS go-ahead",
				 names[st->proto]);
			return STARTTLS_REFUSED;
		}
	}
}
