/*
 * handshake_int.h - what handshake.c (the state machine),
 * handshake_resume.c (its resumption phases), handshake_aia.c (its
 * caIssuers phase) and handshake_facts.c (what a connection observes)
 * share; nobody else includes it. The connection owns everything its
 * pointers name (handshake_free() releases it).
 */
#ifndef TW_HANDSHAKE_INT_H
#define TW_HANDSHAKE_INT_H

#include "handshake.h"

struct aia_check;
struct aia_verify;

/* What one event may read before it yields (a tiny record costs two reads). */
enum { HS_TURN_READS = 64, HS_TURN_BYTES = 64 * 1024 };

struct hs_conn {
	enum hs_state state;
	struct event_base *base;
	struct evdns_base *dns;
	struct hs_request req;
	hs_done_cb cb;
	void *cb_arg;

	struct evdns_getaddrinfo_request *dns_req;
	struct evutil_addrinfo *ai_list;
	struct evutil_addrinfo *ai_cur;
	int fd;
	struct event *rd_ev;
	struct event *wr_ev;
	struct event *deadline;
	struct event *finish_ev;
	SSL *ssl;
	struct starttls st;
	struct ocsp_query *ocsp;
	struct crl_check *crl;
	bool aia_checked;       /* aia_verify decided, once, while the first SSL lives */
	struct aia_verify *aia_verify; /* owned until HS_AIA: what its verification used */
	struct aia_check *aia;  /* HS_AIA (aia_fetch.h) */
	SSL_SESSION *session;   /* owned: the first handshake's session, for HS_RESUME_* */
	bool resume_tried;      /* the resumption phases ran (or were skipped) */
	char sni[256];
	bool sni_set;

	unsigned turn_reads;    /* BIO reads in this event (reset by handshake_drive) */
	size_t turn_bytes;      /* bytes those reads returned */

	double t0;              /* hs_start */
	double t_phase;         /* entry into the current phase */
	struct hs_facts f;
};

/* The ex_data index under which an SSL carries its struct hs_conn. */
int handshake_ex_index(void);
/* SSL_set_verify callback: records every error with its depth, never aborts. */
int handshake_verify_cb(int preverify_ok, X509_STORE_CTX *xs);
/* SSL_set_msg_callback: alerts both ways, ServerHello, CertificateRequest. */
void handshake_msg_cb(int write_p, int version, int content_type, const void *buf, size_t len,
		      SSL *ssl, void *arg);
/* BIO callback: the per-event read budget and the first bytes received. */
long handshake_bio_read_cb(BIO *b, int oper, const char *argp, size_t len, int argi, long argl,
			   int ret, size_t *processed);
/* The served and verified chains (once). */
void handshake_collect_certs(struct hs_conn *c);
/* Everything of a completed handshake: version, cipher, group, ALPN,
 * certificates and the stapled OCSP response. */
void handshake_collect_tls(struct hs_conn *c);

/* handshake.c, for handshake_resume.c: */
/* The one re-entry function: switches on c->state. */
void handshake_drive(struct hs_conn *c);
/* The only writer of c->state; arms the deadline of the new phase. */
void handshake_set_state(struct hs_conn *c, enum hs_state s);
/* Waits for the socket: readable, or writable when want_write. */
void handshake_arm(struct hs_conn *c, bool want_write);
/* Closes the socket and frees the SSL of the current connection. */
void handshake_close_socket(struct hs_conn *c);
/* A non-blocking socket connecting to c->f.address; 0 or -errno. */
int handshake_open_socket(struct hs_conn *c);
/* A new SSL on c->fd (observe: record alerts and messages into the facts);
 * -1 with a reason in err. */
int handshake_setup_ssl(struct hs_conn *c, bool observe, char *err, size_t errlen);
/* OpenSSL wants the socket readable or writable: arms that, true. */
bool handshake_wait_for_ssl(struct hs_conn *c, int ssl_err);
/* After the (first) handshake: resumption, caIssuers, OCSP, CRL, done. */
void handshake_after_handshake(struct hs_conn *c);

/* After the caIssuers phase: OCSP, CRL, done. */
void handshake_after_aia(struct hs_conn *c);

/* handshake_aia.c: the caIssuers phase (HS_AIA, aia_fetch.h). */
/* Once, while the first SSL lives: keeps its verification parameters
 * when the profile fetches caIssuers and an issuer is missing. */
void handshake_aia_prepare(struct hs_conn *c);
/* Enters HS_AIA when prepared (true); false: nothing to fetch, go on. */
bool handshake_aia_start(struct hs_conn *c);
/* HS_AIA's deadline: the check is dropped, the facts say so. */
void handshake_aia_timeout(struct hs_conn *c, double spent_ms);
void handshake_aia_free(struct hs_conn *c);

/* handshake_resume.c: the resumption phases (DESIGN 4.2). */
/* Starts them once after the first handshake (or says why not). */
void handshake_resume_start(struct hs_conn *c);
/* Not resumed (why in resume_detail); the connection goes on. */
void handshake_resume_not(struct hs_conn *c, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void handshake_step_ticket(struct hs_conn *c);          /* HS_TICKET */
void handshake_step_resume_connect(struct hs_conn *c);  /* HS_RESUME_CONNECT */
void handshake_step_resume_handshake(struct hs_conn *c);/* HS_RESUME_HANDSHAKE */

#endif
