/*
 * handshake.h - one probe connection: resolve -> connect -> [STARTTLS] ->
 * TLS handshake -> [post-handshake read] -> [resumption: wait for a ticket,
 * second connection offering the session] -> [caIssuers: a missing
 * intermediate fetched, for a client that does] -> [OCSP responder query] ->
 * [CRLs] -> done.
 *
 * Non-blocking on a libevent loop; one struct hs_conn per connection with
 * an explicit state (see enum hs_state), one event callback, and a
 * deadline per phase. What was observed goes into struct hs_facts, which
 * classify.c turns into an outcome and findings.
 *
 * Ownership: handshake_start() returns a connection owned by the caller's
 * callback: when the connection finishes, done_cb is called once, from its
 * own event (never from inside an I/O callback), and the callee must call
 * handshake_free(). The facts stay valid until then.
 */
#ifndef TW_HANDSHAKE_H
#define TW_HANDSHAKE_H

#include <stdbool.h>
#include <stdint.h>
#include <netinet/in.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <event2/event.h>
#include <event2/dns.h>

#include "crl_check.h"
#include "ocsp_check.h"
#include "starttls.h"
#include "tlsctx.h"

#define HS_MAX_VERIFY_ERRORS 32

enum hs_state {
	HS_INIT,        /* created, not started */
	HS_RESOLVE,     /* evdns_getaddrinfo in flight */
	HS_CONNECT,     /* non-blocking connect, waiting for writable */
	HS_STARTTLS,    /* plaintext STARTTLS dialogue */
	HS_HANDSHAKE,   /* SSL_connect in progress */
	HS_POSTREAD,    /* TLS1.3 + client cert: one read to catch a late rejection */
	HS_TICKET,      /* resume, TLS1.3: reading until the server's session ticket arrives */
	HS_RESUME_CONNECT,   /* resume: TCP connect of the second connection, same address */
	HS_RESUME_HANDSHAKE, /* resume: TLS handshake offering the first handshake's session */
	HS_AIA,         /* fetching a missing issuer from caIssuers URLs (aia_fetch.c) */
	HS_OCSP,        /* querying the OCSP responder named in the leaf's AIA */
	HS_CRL,         /* fetching and checking the chain's CRLs (crl_check.c) */
	HS_DONE         /* finished; done_cb pending or called */
};

/* Where a connection stopped, for classification. */
enum hs_phase { PH_NONE, PH_DNS, PH_CONNECT, PH_STARTTLS, PH_HANDSHAKE, PH_POSTREAD };

/* Flags: staple alone is 0; OCSP and CRL may be combined. */
enum revocation_mode { REV_STAPLE = 0, REV_OCSP = 1, REV_CRL = 2 };

struct hs_verify_error { int depth; int code; };

/* Everything observed. Times are ms; a negative time means "not reached". */
struct hs_facts {
	enum hs_phase failed_phase;     /* PH_NONE when everything completed */
	bool timed_out;                 /* the failed phase hit its deadline */
	int sys_errno;                  /* errno of a socket failure, 0 if none */
	char detail[256];               /* human reason for a failure */

	char address[INET6_ADDRSTRLEN]; /* address connected to ("" before) */
	double dns_ms, connect_ms, starttls_ms, handshake_ms, total_ms;
	int64_t started_unix_ms;

	/* what crossed the wire */
	unsigned char first_bytes[8];   /* first bytes the server sent in TLS phase */
	size_t first_len;
	bool server_hello_seen;
	bool cert_requested;            /* CertificateRequest received */
	bool cert_sent;                 /* we had a certificate to answer it */
	int alert_received;             /* TLS alert description, -1 none */
	int alert_sent;
	unsigned long ssl_error;        /* first OpenSSL error code, 0 none */
	int ssl_get_error;              /* SSL_get_error() of the failing call */

	/* verification (every error, with its depth) */
	struct hs_verify_error verify_errors[HS_MAX_VERIFY_ERRORS];
	int n_verify_errors;

	/* negotiated */
	bool handshake_done;
	int version;
	const SSL_CIPHER *cipher;
	char group[64];
	char alpn[64];
	STACK_OF(X509) *peer_chain;     /* owned: served chain, leaf first */
	STACK_OF(X509) *verified_chain; /* owned: chain built to an anchor, may be NULL */

	/* revocation */
	bool ocsp_stapled;
	enum ocsp_status ocsp_status;   /* the verdict reported (staple or responder) */
	enum ocsp_error ocsp_error;     /* why ocsp_status is OCSP_ST_INVALID */
	enum ocsp_status staple_status; /* the staple's own verdict (bad_ocsp_staple) */
	char ocsp_source[16];           /* "staple", "responder" or "" */
	char ocsp_detail[128];
	double ocsp_responder_ms;       /* -1: not queried */

	/* CRLs (REV_CRL); status CRL_ST_NONE when not checked */
	struct crl_verdict crl;

	/* caIssuers (aia_fetch.c), for a profile that fetches them: the
	 * verification above is then the one with the fetched certificates */
	int aia_used;                   /* fetched certificates in verified_chain */
	bool aia_failed;                /* a fetch failed, or left the chain incomplete */
	char aia_detail[256];           /* "fetched URL[, URL]", or what failed and why */

	/* resumption (hs_request.resume) */
	int resumed;                    /* -1 not tried, 0 full handshake (or none offered), 1 resumed */
	double resume_ms;               /* the second TLS handshake; -1: none */
	char resume_detail[160];        /* why not resumed, "" when it was */
	bool ocsp_responder_unreachable;
};

struct aia_cache;

struct hs_request {
	const char *host;               /* name to resolve and to verify */
	uint16_t port;
	const char *connect_to;         /* address to connect to instead, or NULL */
	uint16_t connect_port;          /* 0: same as port */
	const char *sni;                /* name to send; NULL: host (unless no_sni) */
	bool no_sni;
	enum starttls_proto starttls;
	enum revocation_mode revocation;
	double timeout_ms;              /* per phase */
	double mtls_wait_ms;            /* how long HS_POSTREAD (and HS_TICKET) waits */
	bool resume;                    /* a second handshake offering the session (DESIGN 4.2) */
	const struct tlsctx *tc;
	struct aia_cache *aia_cache;    /* caIssuers answers shared by the connections of
					 * one check (aia_fetch.h); NULL: per connection */
};

struct hs_conn;
typedef void (*hs_done_cb)(struct hs_conn *c, void *arg);

/* Starts a connection on base. The request's strings must outlive the
 * connection. Returns NULL only when out of memory. */
struct hs_conn *handshake_start(struct event_base *base, struct evdns_base *dns,
			 const struct hs_request *req, hs_done_cb cb, void *arg);
const struct hs_facts *handshake_facts(const struct hs_conn *c);
const struct hs_request *handshake_request(const struct hs_conn *c);
/* The name actually sent as SNI, NULL when none. */
const char *handshake_sni_sent(const struct hs_conn *c);
void handshake_free(struct hs_conn *c);

const char *handshake_state_name(enum hs_state s);

#endif
