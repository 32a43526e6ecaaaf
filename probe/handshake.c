/*
 * handshake.c - the probe's connection state machine (see handshake.h).
 *
 * Flow: handshake_start -> HS_RESOLVE -> HS_CONNECT -> (HS_STARTTLS) ->
 * HS_HANDSHAKE -> (HS_POSTREAD) -> (HS_TICKET) -> (HS_RESUME_CONNECT ->
 * HS_RESUME_HANDSHAKE) -> (HS_AIA) -> (HS_OCSP) -> (HS_CRL) -> HS_DONE.
 * Every socket event lands in on_io(), every deadline in on_deadline(); both
 * call handshake_drive(), which switches on the state. handshake_set_state() is the only
 * writer of c->state and arms the phase deadline. A finished connection is
 * reported from its own zero-timeout event so the owner may free it.
 * Whatever the peer sends, one event costs bounded work (handshake_bio_read_cb).
 */
#include "handshake.h"
#include "handshake_int.h"
#include "ocsp_check.h"
#include "log.h"
#include "twtime.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <openssl/err.h>
#include <openssl/ocsp.h>
#include <openssl/x509v3.h>
#include <event2/util.h>

static void finish(struct hs_conn *c);

static const char *const state_names[] = {
	"init", "resolve", "connect", "starttls", "handshake", "postread", "ticket",
	"resume_connect", "resume_handshake", "aia", "ocsp", "crl", "done"
};

const char *handshake_state_name(enum hs_state s)
{
	return (unsigned)s < sizeof state_names / sizeof state_names[0] ? state_names[s] : "?";
}

static double phase_limit_ms(const struct hs_conn *c) /* of the current phase */
{
	return c->state == HS_POSTREAD || c->state == HS_TICKET ? c->req.mtls_wait_ms : c->req.timeout_ms;
}

/* The only writer of c->state. Arms the deadline of the new phase. */
void handshake_set_state(struct hs_conn *c, enum hs_state s)
{
	log_debug("conn=%p target=%s:%u profile=\"%s\" state %s -> %s", (void *)c, c->req.host,
		  c->req.port, c->req.tc->profile->name, handshake_state_name(c->state), handshake_state_name(s));
	c->state = s;
	c->t_phase = twtime_mono_ms();
	event_del(c->deadline);
	if (s == HS_DONE || s == HS_INIT)
		return;
	double ms = phase_limit_ms(c);
	struct timeval tv = { (time_t)(ms / 1000), (suseconds_t)((long)(ms * 1000) % 1000000) };
	event_add(c->deadline, &tv);
}

static void fail(struct hs_conn *c, enum hs_phase ph, bool timed_out, int err, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));

static void fail(struct hs_conn *c, enum hs_phase ph, bool timed_out, int err, const char *fmt, ...)
{
	va_list ap;
	c->f.failed_phase = ph;
	c->f.timed_out = timed_out;
	c->f.sys_errno = err;
	va_start(ap, fmt);
	vsnprintf(c->f.detail, sizeof c->f.detail, fmt, ap);
	va_end(ap);
	finish(c);
}

/* ---- finishing ---------------------------------------------------------- */

void handshake_close_socket(struct hs_conn *c)
{
	if (c->rd_ev) { event_free(c->rd_ev); c->rd_ev = NULL; }
	if (c->wr_ev) { event_free(c->wr_ev); c->wr_ev = NULL; }
	if (c->ssl) {
		/* A best-effort close_notify; we never wait for the peer's. */
		if (c->f.handshake_done && c->f.failed_phase == PH_NONE)
			(void)SSL_shutdown(c->ssl);
		ERR_clear_error();
		SSL_free(c->ssl);
		c->ssl = NULL;
	}
	if (c->fd >= 0) {
		close(c->fd);
		c->fd = -1;
	}
}

static void on_finish(evutil_socket_t fd, short what, void *arg)
{
	struct hs_conn *c = arg;
	(void)fd; (void)what;
	c->cb(c, c->cb_arg);    /* may free c */
}

static void finish(struct hs_conn *c)
{
	if (c->state == HS_DONE)
		return;
	c->f.total_ms = twtime_mono_ms() - c->t0;
	if (c->dns_req) {
		evdns_getaddrinfo_cancel(c->dns_req);
		c->dns_req = NULL;
	}
	handshake_close_socket(c);
	handshake_set_state(c, HS_DONE);
	event_active(c->finish_ev, EV_TIMEOUT, 0);
}

/* ---- CRL phase -------------------------------------------------------- */

static void on_crl_done(const struct crl_verdict *v, void *arg)
{
	struct hs_conn *c = arg;
	if (c->state != HS_CRL)
		return;
	c->f.crl = *v;
	finish(c);
}

/* After the OCSP phase: the CRLs of the chain (--revocation crl), then done. */
static void after_ocsp(struct hs_conn *c)
{
	STACK_OF(X509) *ch = c->f.verified_chain && sk_X509_num(c->f.verified_chain) > 1
		? c->f.verified_chain : c->f.peer_chain;
	if ((c->req.revocation & REV_CRL) && ch && sk_X509_num(ch) > 1) {
		handshake_close_socket(c);
		handshake_set_state(c, HS_CRL);
		c->crl = crl_check_start(c->base, c->dns, ch, c->req.timeout_ms, time(NULL), on_crl_done, c);
		if (c->crl)
			return;
		c->f.crl.status = CRL_ST_UNAVAILABLE;
		c->f.crl.unreachable = true;
		snprintf(c->f.crl.detail, sizeof c->f.crl.detail, "out of memory");
	}
	finish(c);
}

/* ---- OCSP responder phase ------------------------------------------- */

static void on_ocsp_reply(const unsigned char *der, size_t len, const char *why, void *arg)
{
	struct hs_conn *c = arg;
	if (c->state != HS_OCSP)
		return;
	c->f.ocsp_responder_ms = twtime_mono_ms() - c->t_phase;
	if (!der) {
		c->f.ocsp_responder_unreachable = true;
		snprintf(c->f.ocsp_detail, sizeof c->f.ocsp_detail, "responder: %s", why ? why : "no answer");
		after_ocsp(c);
		return;
	}
	X509 *leaf = sk_X509_value(c->f.peer_chain, 0);
	X509 *issuer = ocsp_find_issuer(leaf, c->f.verified_chain, c->f.peer_chain);
	enum ocsp_error err;
	enum ocsp_status st = ocsp_eval_der(der, (long)len, leaf, issuer, c->f.peer_chain,
					    SSL_CTX_get_cert_store(c->req.tc->ctx), &err,
					    c->f.ocsp_detail, sizeof c->f.ocsp_detail);
	/* A responder's verdict overrides a missing staple, and a revoked
	 * answer from either source wins. */
	if (c->f.ocsp_status != OCSP_ST_REVOKED) {
		c->f.ocsp_status = st;
		c->f.ocsp_error = err;
		snprintf(c->f.ocsp_source, sizeof c->f.ocsp_source, "responder");
	}
	after_ocsp(c);
}

/* After the caIssuers phase: the OCSP responder (--revocation ocsp). */
void handshake_after_aia(struct hs_conn *c)
{
	if ((c->req.revocation & REV_OCSP) && c->f.peer_chain && sk_X509_num(c->f.peer_chain) > 0) {
		X509 *leaf = sk_X509_value(c->f.peer_chain, 0);
		X509 *issuer = ocsp_find_issuer(leaf, c->f.verified_chain, c->f.peer_chain);
		char *url = ocsp_responder_url(leaf);
		char err[100];
		if (!url) {
			snprintf(c->f.ocsp_detail, sizeof c->f.ocsp_detail, "leaf names no OCSP responder");
		} else if (!issuer) {
			snprintf(c->f.ocsp_detail, sizeof c->f.ocsp_detail, "issuer of the leaf not found");
		} else {
			/* The TLS connection is done with; close it before waiting. */
			handshake_close_socket(c);
			handshake_set_state(c, HS_OCSP);
			c->ocsp = ocsp_query_start(c->base, c->dns, url, leaf, issuer, c->req.timeout_ms,
						   on_ocsp_reply, c, err, sizeof err);
			free(url);
			if (!c->ocsp) {
				c->f.ocsp_responder_unreachable = true;
				snprintf(c->f.ocsp_detail, sizeof c->f.ocsp_detail, "%s", err);
				after_ocsp(c);
			}
			return;
		}
		free(url);
	}
	after_ocsp(c);
}

void handshake_after_handshake(struct hs_conn *c)
{
	/* the first call comes while the first SSL lives (handshake_aia.c) */
	if (!c->aia_checked)
		handshake_aia_prepare(c);
	if (c->req.resume && !c->resume_tried) {
		handshake_resume_start(c);
		return;
	}
	if (handshake_aia_start(c))
		return;
	handshake_after_aia(c);
}

/* ---- phases ----------------------------------------------------------- */

void handshake_arm(struct hs_conn *c, bool want_write)
{
	event_add(want_write ? c->wr_ev : c->rd_ev, NULL);
}

/* A new SSL on c->fd: SNI, the name to verify, the OCSP request. observe:
 * the message callback records alerts and handshake messages into the
 * facts (the first connection only). Returns -1 with a reason in err. */
int handshake_setup_ssl(struct hs_conn *c, bool observe, char *err, size_t errlen)
{
	BIO *bio;

	c->ssl = SSL_new(c->req.tc->ctx);
	if (!c->ssl) {
		snprintf(err, errlen, "SSL_new failed");
		return -1;
	}
	if (handshake_ex_index() < 0 || !SSL_set_ex_data(c->ssl, handshake_ex_index(), c)) {
		snprintf(err, errlen, "cannot attach the connection to its SSL");
		return -1;
	}
	SSL_set_verify(c->ssl, SSL_VERIFY_PEER, handshake_verify_cb);
	bio = BIO_new_socket(c->fd, BIO_NOCLOSE);
	if (!bio) {
		snprintf(err, errlen, "BIO_new_socket failed");
		return -1;
	}
	BIO_set_callback_ex(bio, handshake_bio_read_cb);
	BIO_set_callback_arg(bio, (char *)c);
	SSL_set_bio(c->ssl, bio, bio);
	if (observe) {
		SSL_set_msg_callback(c->ssl, handshake_msg_cb);
		SSL_set_msg_callback_arg(c->ssl, c);
	}

	if (c->sni_set && !SSL_set_tlsext_host_name(c->ssl, c->sni)) {
		snprintf(err, errlen, "cannot send SNI \"%s\"", c->sni);
		return -1;
	}
	/* Verify the name the user asked about: an IP literal as an IP. If
	 * OpenSSL cannot take the name, the connection fails: going on would
	 * report a certificate as valid for a name nobody compared. */
	unsigned char ipbuf[16];
	if (inet_pton(AF_INET, c->req.host, ipbuf) == 1 || inet_pton(AF_INET6, c->req.host, ipbuf) == 1) {
		if (X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(c->ssl), c->req.host) != 1) {
			ERR_clear_error();
			snprintf(err, errlen, "cannot set the IP address %s to verify", c->req.host);
			return -1;
		}
	} else {
		SSL_set_hostflags(c->ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS |
				  (c->req.tc->profile->reads_cn ? 0 : X509_CHECK_FLAG_NEVER_CHECK_SUBJECT));
		if (SSL_set1_host(c->ssl, c->req.host) != 1) {
			ERR_clear_error();
			snprintf(err, errlen, "cannot set the host name %s to verify", c->req.host);
			return -1;
		}
	}
	if (c->req.tc->profile->request_ocsp &&
	    SSL_set_tlsext_status_type(c->ssl, TLSEXT_STATUSTYPE_ocsp) != 1) {
		ERR_clear_error();
		snprintf(err, errlen, "cannot request an OCSP staple");
		return -1;
	}
	SSL_set_connect_state(c->ssl);
	return 0;
}

static void start_tls(struct hs_conn *c)
{
	char err[320];
	if (handshake_setup_ssl(c, true, err, sizeof err) != 0) {
		fail(c, PH_HANDSHAKE, false, 0, "%s", err);
		return;
	}
	handshake_set_state(c, HS_HANDSHAKE);
	handshake_drive(c);
}

static void on_io(evutil_socket_t fd, short what, void *arg);

int handshake_open_socket(struct hs_conn *c)
{
	struct evutil_addrinfo *ai = c->ai_cur;
	const void *addr = ai->ai_family == AF_INET6
		? (const void *)&((struct sockaddr_in6 *)ai->ai_addr)->sin6_addr
		: (const void *)&((struct sockaddr_in *)ai->ai_addr)->sin_addr;
	inet_ntop(ai->ai_family, addr, c->f.address, sizeof c->f.address);

	c->fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_TCP);
	if (c->fd < 0)
		return -errno;
	int one = 1;
	(void)setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	c->rd_ev = event_new(c->base, c->fd, EV_READ, on_io, c);
	c->wr_ev = event_new(c->base, c->fd, EV_WRITE, on_io, c);
	if (!c->rd_ev || !c->wr_ev)
		return -ENOMEM;
	if (connect(c->fd, ai->ai_addr, ai->ai_addrlen) != 0 && errno != EINPROGRESS)
		return -errno;
	return 0;
}

static void start_connect(struct hs_conn *c)
{
	for (;;) {
		handshake_close_socket(c);
		int r = handshake_open_socket(c);
		if (r == 0) {
			if (c->state != HS_CONNECT)
				handshake_set_state(c, HS_CONNECT);
			handshake_arm(c, true);
			return;
		}
		if (c->ai_cur->ai_next) {
			c->ai_cur = c->ai_cur->ai_next;
			continue;
		}
		c->f.connect_ms = twtime_mono_ms() - c->t_phase;
		fail(c, PH_CONNECT, false, -r, "connect to %s port %u: %s", c->f.address,
		     c->req.connect_port, strerror(-r));
		return;
	}
}

static void on_resolved(int result, struct evutil_addrinfo *res, void *arg)
{
	struct hs_conn *c = arg;
	if (result == EVUTIL_EAI_CANCEL)
		return;             /* c may be gone: touch nothing */
	c->dns_req = NULL;
	c->f.dns_ms = twtime_mono_ms() - c->t0;
	if (result != 0 || !res) {
		fail(c, PH_DNS, false, 0, "cannot resolve %s: %s",
		     c->req.connect_to ? c->req.connect_to : c->req.host, evutil_gai_strerror(result));
		return;
	}
	c->ai_list = res;
	c->ai_cur = res;
	handshake_set_state(c, HS_CONNECT);
	start_connect(c);
}

static void step_connect(struct hs_conn *c)
{
	int err = 0;
	socklen_t el = sizeof err;
	if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &el) != 0)
		err = errno;
	if (err != 0) {
		/* try the next address (e.g. ::1 refused, 127.0.0.1 listening) */
		if (c->ai_cur->ai_next) {
			c->ai_cur = c->ai_cur->ai_next;
			start_connect(c);
			return;
		}
		c->f.connect_ms = twtime_mono_ms() - c->t_phase;
		fail(c, PH_CONNECT, false, err, "connect to %s port %u: %s", c->f.address,
		     c->req.connect_port, strerror(err));
		return;
	}
	c->f.connect_ms = twtime_mono_ms() - c->t_phase;
	if (c->req.starttls != STARTTLS_NONE) {
		starttls_init(&c->st, c->req.starttls);
		handshake_set_state(c, HS_STARTTLS);
		handshake_drive(c);
	} else {
		start_tls(c);
	}
}

static void step_starttls(struct hs_conn *c)
{
	switch (starttls_step(&c->st, c->fd)) {
	case STARTTLS_DONE:
		c->f.starttls_ms = twtime_mono_ms() - c->t_phase;
		start_tls(c);
		return;
	case STARTTLS_WANT_READ:
		handshake_arm(c, false);
		return;
	case STARTTLS_REFUSED:
		fail(c, PH_STARTTLS, false, 0, "%s", c->st.why);
		return;
	case STARTTLS_IO_ERROR:
		fail(c, PH_STARTTLS, false, errno ? errno : ECONNRESET, "%s", c->st.why);
		return;
	}
}

/* Records why an OpenSSL call failed and ends the connection. */
static void fail_ssl(struct hs_conn *c, enum hs_phase ph, int ret)
{
	int e = SSL_get_error(c->ssl, ret);
	int saved_errno = errno;
	unsigned long code = ERR_peek_error();
	char buf[200] = "";

	c->f.ssl_get_error = e;
	c->f.ssl_error = code;
	handshake_collect_certs(c);
	if (code)
		ERR_error_string_n(code, buf, sizeof buf);
	ERR_clear_error();
	if (e == SSL_ERROR_SYSCALL && !code) {
		if (ret == 0 || saved_errno == 0)
			fail(c, ph, false, 0, "connection closed by server during TLS %s",
			     ph == PH_POSTREAD ? "read" : "handshake");
		else
			fail(c, ph, false, saved_errno, "socket error during TLS: %s", strerror(saved_errno));
		return;
	}
	if (c->f.alert_received >= 0)
		fail(c, ph, false, 0, "received alert %s (%s)", SSL_alert_desc_string_long(c->f.alert_received),
		     buf);
	else
		fail(c, ph, false, 0, "%s", buf[0] ? buf : "TLS failure");
}

/* OpenSSL wants the socket readable or writable: arm that and return true. */
bool handshake_wait_for_ssl(struct hs_conn *c, int ssl_err)
{
	if (ssl_err != SSL_ERROR_WANT_READ && ssl_err != SSL_ERROR_WANT_WRITE)
		return false;
	handshake_arm(c, ssl_err == SSL_ERROR_WANT_WRITE);
	return true;
}

static void step_handshake(struct hs_conn *c)
{
	ERR_clear_error();
	int r = SSL_connect(c->ssl);
	if (r == 1) {
		c->f.handshake_ms = twtime_mono_ms() - c->t_phase;
		c->f.handshake_done = true;
		handshake_collect_tls(c);
		/* Under TLS1.3 the server judges our certificate after its
		 * Finished: the rejection arrives on the first read. */
		if (c->f.version == TLS1_3_VERSION && c->f.cert_requested) {
			handshake_set_state(c, HS_POSTREAD);
			handshake_drive(c);
			return;
		}
		handshake_after_handshake(c);
		return;
	}
	int e = SSL_get_error(c->ssl, r);
	if (handshake_wait_for_ssl(c, e))
		return;
	c->f.handshake_ms = twtime_mono_ms() - c->t_phase;
	fail_ssl(c, PH_HANDSHAKE, r);
}

static void step_postread(struct hs_conn *c)
{
	unsigned char buf[256];
	ERR_clear_error();
	int r = SSL_read(c->ssl, buf, sizeof buf);
	if (r > 0) {                 /* the server talks: it accepted us */
		handshake_after_handshake(c);
		return;
	}
	int e = SSL_get_error(c->ssl, r);
	if (handshake_wait_for_ssl(c, e))
		return;
	if (e == SSL_ERROR_ZERO_RETURN || (c->f.alert_received < 0 && e == SSL_ERROR_SYSCALL)) {
		ERR_clear_error();
		handshake_after_handshake(c);
		return;
	}
	fail_ssl(c, PH_POSTREAD, r);
}

/* The one re-entry function: an event's read budget starts here. */
void handshake_drive(struct hs_conn *c)
{
	c->turn_reads = 0;
	c->turn_bytes = 0;
	switch (c->state) {
	case HS_CONNECT:   step_connect(c); break;
	case HS_STARTTLS:  step_starttls(c); break;
	case HS_HANDSHAKE: step_handshake(c); break;
	case HS_POSTREAD:  step_postread(c); break;
	case HS_TICKET:    handshake_step_ticket(c); break;
	case HS_RESUME_CONNECT:   handshake_step_resume_connect(c); break;
	case HS_RESUME_HANDSHAKE: handshake_step_resume_handshake(c); break;
	case HS_INIT:
	case HS_RESOLVE:
	case HS_AIA:
	case HS_OCSP:
	case HS_CRL:
	case HS_DONE:
		break;      /* driven by their own callbacks */
	}
}

static void on_deadline(evutil_socket_t fd, short what, void *arg)
{
	struct hs_conn *c = arg;
	double spent = twtime_mono_ms() - c->t_phase;
	(void)fd; (void)what;

	switch (c->state) {
	case HS_RESOLVE:
		c->f.dns_ms = spent;
		fail(c, PH_DNS, true, ETIMEDOUT, "DNS lookup of %s timed out after %.0f ms",
		     c->req.connect_to ? c->req.connect_to : c->req.host, spent);
		break;
	case HS_CONNECT:
		c->f.connect_ms = spent;
		fail(c, PH_CONNECT, true, ETIMEDOUT, "connect to %s port %u timed out after %.0f ms",
		     c->f.address, c->req.connect_port, spent);
		break;
	case HS_STARTTLS:
		fail(c, PH_STARTTLS, true, ETIMEDOUT, "STARTTLS dialogue timed out after %.0f ms", spent);
		break;
	case HS_HANDSHAKE:
		c->f.handshake_ms = spent;
		handshake_collect_certs(c);
		fail(c, PH_HANDSHAKE, true, ETIMEDOUT, "TLS handshake timed out after %.0f ms", spent);
		break;
	case HS_POSTREAD:
		/* silence after the handshake: the server kept us */
		handshake_after_handshake(c);
		break;
	case HS_TICKET:
		handshake_resume_not(c, "no session ticket within %.0f ms", spent);
		break;
	case HS_RESUME_CONNECT:
	case HS_RESUME_HANDSHAKE:
		handshake_resume_not(c, "second %s timed out after %.0f ms",
			   c->state == HS_RESUME_CONNECT ? "connect" : "handshake", spent);
		break;
	case HS_AIA:
		handshake_aia_timeout(c, spent);
		handshake_after_aia(c);
		break;
	case HS_OCSP:
		c->f.ocsp_responder_ms = spent;
		c->f.ocsp_responder_unreachable = true;
		snprintf(c->f.ocsp_detail, sizeof c->f.ocsp_detail, "responder: no answer in %.0f ms", spent);
		after_ocsp(c);
		break;
	case HS_CRL:
		c->f.crl.status = CRL_ST_UNAVAILABLE;
		c->f.crl.unreachable = true;
		snprintf(c->f.crl.detail, sizeof c->f.crl.detail, "CRLs not checked within %.0f ms", spent);
		finish(c);
		break;
	case HS_INIT:
	case HS_DONE:
		break;
	}
}

/* A socket event for a phase past its deadline ends the phase, even if
 * the deadline's timer has not run yet in this turn of the loop. */
static void on_io(evutil_socket_t fd, short what, void *arg)
{
	struct hs_conn *c = arg;
	if (c->state != HS_DONE && c->state != HS_INIT &&
	    twtime_mono_ms() - c->t_phase >= phase_limit_ms(c))
		on_deadline(fd, what, c);
	else
		handshake_drive(c);
}

/* ---- public --------------------------------------------------------- */

struct hs_conn *handshake_start(struct event_base *base, struct evdns_base *dns,
			 const struct hs_request *req, hs_done_cb cb, void *arg)
{
	struct hs_conn *c = calloc(1, sizeof *c);
	char portstr[8];
	struct evutil_addrinfo hints;

	if (!c)
		return NULL;
	c->base = base;
	c->dns = dns;
	c->req = *req;
	if (!c->req.connect_port)
		c->req.connect_port = c->req.port;
	c->cb = cb;
	c->cb_arg = arg;
	c->fd = -1;
	c->f.alert_received = -1;
	c->f.alert_sent = -1;
	c->f.dns_ms = c->f.connect_ms = c->f.starttls_ms = c->f.handshake_ms = c->f.total_ms = -1;
	c->f.ocsp_responder_ms = -1;
	c->f.resumed = -1;
	c->f.crl.depth = -1;
	c->f.resume_ms = -1;
	c->deadline = evtimer_new(base, on_deadline, c);
	c->finish_ev = event_new(base, -1, 0, on_finish, c);
	if (!c->deadline || !c->finish_ev) {
		handshake_free(c);
		return NULL;
	}

	/* SNI: never an IP literal (RFC 6066), never when the profile omits it. */
	const char *sni = req->sni ? req->sni : req->host;
	unsigned char ipbuf[16];
	if (!req->no_sni && req->tc->profile->send_sni && sni && *sni &&
	    inet_pton(AF_INET, sni, ipbuf) != 1 && inet_pton(AF_INET6, sni, ipbuf) != 1) {
		snprintf(c->sni, sizeof c->sni, "%s", sni);
		c->sni_set = true;
	}

	c->t0 = twtime_mono_ms();
	c->f.started_unix_ms = twtime_wall_ms();
	handshake_set_state(c, HS_RESOLVE);
	memset(&hints, 0, sizeof hints);
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_protocol = IPPROTO_TCP;
	snprintf(portstr, sizeof portstr, "%u", c->req.connect_port);
	/* The callback may run before this returns (numeric hosts). */
	struct evdns_getaddrinfo_request *r =
		evdns_getaddrinfo(dns, req->connect_to ? req->connect_to : req->host, portstr, &hints,
				  on_resolved, c);
	if (r && c->state == HS_RESOLVE)
		c->dns_req = r;
	return c;
}

const struct hs_facts *handshake_facts(const struct hs_conn *c) { return &c->f; }
const struct hs_request *handshake_request(const struct hs_conn *c) { return &c->req; }
const char *handshake_sni_sent(const struct hs_conn *c) { return c->sni_set ? c->sni : NULL; }

void handshake_free(struct hs_conn *c)
{
	if (!c)
		return;
	if (c->dns_req) {
		evdns_getaddrinfo_cancel(c->dns_req);
		c->dns_req = NULL;
	}
	handshake_close_socket(c);
	if (c->ocsp)
		ocsp_query_free(c->ocsp);
	crl_check_free(c->crl);
	handshake_aia_free(c);
	if (c->ai_list)
		evutil_freeaddrinfo(c->ai_list);
	if (c->deadline)
		event_free(c->deadline);
	if (c->finish_ev)
		event_free(c->finish_ev);
	sk_X509_pop_free(c->f.peer_chain, X509_free);
	sk_X509_pop_free(c->f.verified_chain, X509_free);
	SSL_SESSION_free(c->session);
	free(c);
}
