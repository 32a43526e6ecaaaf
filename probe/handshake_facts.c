/*
 * handshake_facts.c - what a connection observes (see handshake_int.h):
 * the OpenSSL callbacks that record verify errors, alerts and the first
 * bytes, and the facts of a completed handshake. Nothing here changes a
 * connection's state.
 */
#include "handshake_int.h"
#include "ocsp_check.h"

#include <stdio.h>
#include <string.h>
#include <openssl/err.h>
#include <openssl/ocsp.h>

static void record_verify_error(struct hs_conn *c, int depth, int code)
{
	for (int i = 0; i < c->f.n_verify_errors; i++)
		if (c->f.verify_errors[i].depth == depth && c->f.verify_errors[i].code == code)
			return;
	if (c->f.n_verify_errors < HS_MAX_VERIFY_ERRORS) {
		c->f.verify_errors[c->f.n_verify_errors].depth = depth;
		c->f.verify_errors[c->f.n_verify_errors].code = code;
		c->f.n_verify_errors++;
	}
}

/* The ex_data index under which an SSL carries its struct hs_conn. */
int handshake_ex_index(void)
{
	static int idx = -1;
	if (idx < 0)
		idx = SSL_get_ex_new_index(0, "tlswatch hs_conn", NULL, NULL, NULL);
	return idx;
}

/* The verify callback never aborts: it records the error for classify.c
 * and lets the handshake go on, so that a bad chain still yields its
 * certificates. */
int handshake_verify_cb(int preverify_ok, X509_STORE_CTX *xs)
{
	if (!preverify_ok) {
		SSL *ssl = X509_STORE_CTX_get_ex_data(xs, SSL_get_ex_data_X509_STORE_CTX_idx());
		struct hs_conn *c = ssl ? SSL_get_ex_data(ssl, handshake_ex_index()) : NULL;
		/* a full second handshake (resumption refused) repeats them */
		if (c && c->state != HS_RESUME_HANDSHAKE)
			record_verify_error(c, X509_STORE_CTX_get_error_depth(xs),
					       X509_STORE_CTX_get_error(xs));
	}
	return 1;
}

/* ---- observation hooks ------------------------------------------------ */

/* Sees every TLS message: alerts both ways, ServerHello, CertificateRequest. */
void handshake_msg_cb(int write_p, int version, int content_type, const void *buf, size_t len,
		   SSL *ssl, void *arg)
{
	struct hs_conn *c = arg;
	const unsigned char *p = buf;
	(void)version; (void)ssl;
	if (content_type == SSL3_RT_ALERT && len >= 2) {
		/* close_notify is an orderly close, not a failure */
		if (p[1] == SSL_AD_CLOSE_NOTIFY)
			return;
		if (write_p)
			c->f.alert_sent = p[1];
		else if (c->f.alert_received < 0)
			c->f.alert_received = p[1];
	} else if (content_type == SSL3_RT_HANDSHAKE && len >= 1 && !write_p) {
		if (p[0] == SSL3_MT_SERVER_HELLO)
			c->f.server_hello_seen = true;
		else if (p[0] == SSL3_MT_CERTIFICATE_REQUEST) {
			c->f.cert_requested = true;
			c->f.cert_sent = c->req.tc->has_client_cert;
		}
	}
}

/* Before a read: once this event's budget is spent, refuses it as a socket
 * that would block; OpenSSL returns WANT_READ with its record state intact
 * and on_io() resumes it on the next turn (the socket is still readable).
 * Without it a peer streaming records OpenSSL skips (HelloRequest) kept
 * SSL_connect in one call as long as the socket had bytes.
 * After a read: counts it and keeps the first bytes the server sent once
 * TLS started: not a TLS record (HTTP, SSH banner...) means not_tls. */
long handshake_bio_read_cb(BIO *b, int oper, const char *argp, size_t len, int argi, long argl,
			int ret, size_t *processed)
{
	struct hs_conn *c = (struct hs_conn *)BIO_get_callback_arg(b);
	(void)len; (void)argi; (void)argl;
	if (!c)
		return ret;
	if (oper == BIO_CB_READ) {
		if (c->turn_reads >= HS_TURN_READS || c->turn_bytes >= HS_TURN_BYTES) {
			BIO_clear_retry_flags(b);
			BIO_set_retry_read(b);
			return -1;
		}
		c->turn_reads++;
		return ret;
	}
	if (oper == (BIO_CB_READ | BIO_CB_RETURN) && ret > 0 && processed && *processed > 0) {
		c->turn_bytes += *processed;
		size_t room = sizeof c->f.first_bytes - c->f.first_len;
		size_t n = *processed < room ? *processed : room;
		if (n) {
			memcpy(c->f.first_bytes + c->f.first_len, argp, n);
			c->f.first_len += n;
		}
	}
	return ret;
}

/* ---- TLS facts -------------------------------------------------------- */

static STACK_OF(X509) *chain_dup(STACK_OF(X509) *sk)
{
	return sk ? X509_chain_up_ref(sk) : NULL;
}

void handshake_collect_certs(struct hs_conn *c)
{
	if (!c->f.peer_chain)
		c->f.peer_chain = chain_dup(SSL_get_peer_cert_chain(c->ssl));
	if (!c->f.verified_chain)
		c->f.verified_chain = chain_dup(SSL_get0_verified_chain(c->ssl));
}

static void collect_group(struct hs_conn *c)
{
	int nid = SSL_get_negotiated_group(c->ssl);
	EVP_PKEY *tmp = NULL;
	const char *name = NULL;

	if (nid > 0 && (nid & TLSEXT_nid_unknown) == 0)
		name = SSL_group_to_name(c->ssl, nid);
	if (name) {
		snprintf(c->f.group, sizeof c->f.group, "%s", name);
		return;
	}
	/* TLS1.2 DHE/ECDHE: the server's ephemeral key names the group. */
	if (SSL_get_peer_tmp_key(c->ssl, &tmp) == 1 && tmp) {
		char gname[64];
		size_t gl = 0;
		if (EVP_PKEY_get_group_name(tmp, gname, sizeof gname, &gl) == 1)
			snprintf(c->f.group, sizeof c->f.group, "%s", gname);
		else if (EVP_PKEY_is_a(tmp, "DH"))
			snprintf(c->f.group, sizeof c->f.group, "DH-%d", EVP_PKEY_get_bits(tmp));
		else
			snprintf(c->f.group, sizeof c->f.group, "%s", EVP_PKEY_get0_type_name(tmp));
		EVP_PKEY_free(tmp);
	}
	ERR_clear_error();
}

static void collect_staple(struct hs_conn *c)
{
	const unsigned char *der = NULL;
	long len = SSL_get_tlsext_status_ocsp_resp(c->ssl, &der);
	if (len <= 0 || !der)
		return;
	c->f.ocsp_stapled = true;
	snprintf(c->f.ocsp_source, sizeof c->f.ocsp_source, "staple");
	X509 *leaf = c->f.peer_chain && sk_X509_num(c->f.peer_chain) ? sk_X509_value(c->f.peer_chain, 0) : NULL;
	if (!leaf)
		return;  /* a status without a certificate: nothing it could be about */
	X509 *issuer = ocsp_find_issuer(leaf, c->f.verified_chain, c->f.peer_chain);
	c->f.staple_status = c->f.ocsp_status = ocsp_eval_der(der, len, leaf, issuer, c->f.peer_chain,
		SSL_CTX_get_cert_store(c->req.tc->ctx), &c->f.ocsp_error, c->f.ocsp_detail, sizeof c->f.ocsp_detail);
}

void handshake_collect_tls(struct hs_conn *c)
{
	const unsigned char *alpn = NULL;
	unsigned alpn_len = 0;

	c->f.version = SSL_version(c->ssl);
	c->f.cipher = SSL_get_current_cipher(c->ssl);
	collect_group(c);
	SSL_get0_alpn_selected(c->ssl, &alpn, &alpn_len);
	if (alpn && alpn_len < sizeof c->f.alpn) {
		memcpy(c->f.alpn, alpn, alpn_len);
		c->f.alpn[alpn_len] = '\0';
	}
	handshake_collect_certs(c);
	collect_staple(c);
}

