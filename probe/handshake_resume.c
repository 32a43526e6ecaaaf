/*
 * handshake_resume.c - the resumption phases of a probe connection
 * (DESIGN 4.2): HS_TICKET, HS_RESUME_CONNECT, HS_RESUME_HANDSHAKE of the
 * state machine in handshake.c, which owns the connection and calls in
 * through handshake_int.h. They only fill resumed, resume_ms and
 * resume_detail of the facts.
 */
#include "handshake_int.h"
#include "twtime.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <openssl/err.h>

/* ---- resumption (DESIGN 4.2) ----------------------------------------
 * A second connection to the address that answered, offering the first
 * handshake's session: a ticket, or a session ID when the server issues
 * none. Under TLS1.3 the ticket comes after the handshake, so HS_TICKET
 * reads for it first (as long as HS_POSTREAD would wait). Whatever happens
 * here, the first handshake's verdict stands: a failure only says "not
 * resumed" and why. */

/* The first connection's session, if it can be resumed. */
static bool session_ready(struct hs_conn *c)
{
	SSL_SESSION *s = SSL_get1_session(c->ssl);
	if (s && SSL_SESSION_is_resumable(s)) {
		SSL_SESSION_free(c->session);
		c->session = s;
		return true;
	}
	SSL_SESSION_free(s);
	return false;
}

/* Not resumed (why in resume_detail); the connection goes on. */
void handshake_resume_not(struct hs_conn *c, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(c->f.resume_detail, sizeof c->f.resume_detail, fmt, ap);
	va_end(ap);
	c->f.resumed = 0;
	ERR_clear_error();
	handshake_close_socket(c);
	handshake_after_handshake(c);
}

static void resume_connect(struct hs_conn *c)
{
	handshake_close_socket(c);    /* the first connection, with its close_notify */
	handshake_set_state(c, HS_RESUME_CONNECT);
	int r = handshake_open_socket(c);
	if (r != 0) {
		handshake_resume_not(c, "second connection to %s: %s", c->f.address, strerror(-r));
		return;
	}
	handshake_arm(c, true);
}

void handshake_resume_start(struct hs_conn *c)
{
	c->resume_tried = true;
	if (c->req.starttls != STARTTLS_NONE) {
		snprintf(c->f.resume_detail, sizeof c->f.resume_detail, "not tried over STARTTLS");
		handshake_after_handshake(c);
	} else if (session_ready(c)) {
		resume_connect(c);
	} else if (c->f.version == TLS1_3_VERSION) {
		handshake_set_state(c, HS_TICKET);
		handshake_drive(c);
	} else {
		handshake_resume_not(c, "the server offered no session to resume");
	}
}

void handshake_step_ticket(struct hs_conn *c)
{
	unsigned char buf[256];
	ERR_clear_error();
	int r = SSL_read(c->ssl, buf, sizeof buf);
	if (session_ready(c)) {
		resume_connect(c);
		return;
	}
	if (r > 0) {             /* data before any ticket: keep reading */
		handshake_arm(c, false);
		return;
	}
	if (handshake_wait_for_ssl(c, SSL_get_error(c->ssl, r)))
		return;
	handshake_resume_not(c, "the server closed the connection without a session ticket");
}

void handshake_step_resume_connect(struct hs_conn *c)
{
	char err[320];
	int e = 0;
	socklen_t el = sizeof e;
	if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &e, &el) != 0)
		e = errno;
	if (e != 0) {
		handshake_resume_not(c, "second connection to %s: %s", c->f.address, strerror(e));
		return;
	}
	if (handshake_setup_ssl(c, false, err, sizeof err) != 0 ||
	    SSL_set_session(c->ssl, c->session) != 1) {
		handshake_resume_not(c, "second connection: %s",
				     c->ssl ? err : "cannot offer the session");
		return;
	}
	handshake_set_state(c, HS_RESUME_HANDSHAKE);
	handshake_drive(c);
}

void handshake_step_resume_handshake(struct hs_conn *c)
{
	ERR_clear_error();
	int r = SSL_connect(c->ssl);
	if (r == 1) {
		c->f.resume_ms = twtime_mono_ms() - c->t_phase;
		if (!SSL_session_reused(c->ssl)) {
			handshake_resume_not(c, "the server answered the offered session with a "
					     "full handshake");
			return;
		}
		c->f.resumed = 1;
		handshake_close_socket(c);
		handshake_after_handshake(c);
		return;
	}
	if (handshake_wait_for_ssl(c, SSL_get_error(c->ssl, r)))
		return;
	char buf[160] = "";
	ERR_error_string_n(ERR_peek_error(), buf, sizeof buf);
	handshake_resume_not(c, "second handshake failed: %s", buf[0] ? buf : "connection closed");
}
