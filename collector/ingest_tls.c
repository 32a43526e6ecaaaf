/*
 * ingest_tls.c - the probe server's TLS context and identities (see
 * ingest_tls.h).
 */
#include "ingest_tls.h"
#include "tlsutil.h"

#include <stdio.h>
#include <string.h>

#include <event2/bufferevent_ssl.h>
#include <event2/util.h>
#include <openssl/err.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

SSL_CTX *ingest_tls_ctx_new(const char *ca_file, const char *cert_file, const char *key_file,
			     char *err, size_t errlen)
{
	const struct tlsutil_identity id = {
		.ca_file = ca_file, .cert_file = cert_file, .key_file = key_file,
	};
	return tlsutil_ctx_new(TLSUTIL_SERVER, &id, err, errlen);
}

/* The one entry of nid in the subject as UTF-8, checked: printable ASCII
 * without spaces, quotes or backslashes, 1..cap-1 bytes. */
static int subject_entry(X509 *x, int nid, char *out, size_t cap, const char **why)
{
	X509_NAME *name = X509_get_subject_name(x);
	int idx = X509_NAME_get_index_by_NID(name, nid, -1);
	if (idx < 0) {
		*why = "missing";
		return -1;
	}
	if (X509_NAME_get_index_by_NID(name, nid, idx) >= 0) {
		*why = "given more than once";
		return -1;
	}
	unsigned char *u = NULL;
	int n = ASN1_STRING_to_UTF8(&u, X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, idx)));
	if (n <= 0 || (size_t)n >= cap) {
		OPENSSL_free(u);
		*why = n <= 0 ? "empty or not decodable" : "too long";
		return -1;
	}
	for (int i = 0; i < n; i++) {
		unsigned char ch = u[i];
		if (ch <= 0x20 || ch >= 0x7f || ch == '"' || ch == '\\') {
			OPENSSL_free(u);
			*why = "not printable ASCII without spaces";
			return -1;
		}
	}
	memcpy(out, u, (size_t)n);
	out[n] = '\0';
	OPENSSL_free(u);
	return 0;
}

int ingest_tls_identity(SSL *ssl, char *cn, char *ou, size_t cap, enum ingest_refusal *why,
			char *msg, size_t msglen)
{
	const char *what;
	int rc = -1;
	X509 *x = SSL_get1_peer_certificate(ssl);
	if (!x) {
		*why = REFUSE_NO_CLIENT_CERT;
		snprintf(msg, msglen, "no client certificate");
		return -1;
	}
	*why = REFUSE_CERT_IDENTITY;
	if (subject_entry(x, NID_commonName, cn, cap, &what) < 0) {
		snprintf(msg, msglen, "certificate has no CN (probe id): CN %s", what);
		goto out;
	}
	if (subject_entry(x, NID_organizationalUnitName, ou, cap, &what) < 0) {
		snprintf(msg, msglen, "certificate has no OU (region): OU %s (CN %s)", what, cn);
		goto out;
	}
	rc = 0;
out:
	X509_free(x);
	return rc;
}

bool ingest_tls_handshake_failure(struct bufferevent *bev, SSL *ssl, short events,
				  enum ingest_refusal *why, char *msg, size_t msglen)
{
	enum ingest_refusal kind = REFUSE_TLS_HANDSHAKE_FAILED;
	char first[256] = "";
	unsigned long e;
	int sock_err = EVUTIL_SOCKET_ERROR();
	bool eof = false;
	while ((e = bufferevent_get_openssl_error(bev)) != 0) {
		int r = ERR_GET_REASON(e);
		if (r == SSL_R_UNEXPECTED_EOF_WHILE_READING)
			eof = true;
		else if (r == SSL_R_PEER_DID_NOT_RETURN_A_CERTIFICATE)
			kind = REFUSE_NO_CLIENT_CERT;
		else if (r == SSL_R_CERTIFICATE_VERIFY_FAILED && kind != REFUSE_NO_CLIENT_CERT)
			kind = REFUSE_CERT_VERIFY_FAILED;
		if (!first[0]) {
			const char *rs = ERR_reason_error_string(e);
			if (rs)
				snprintf(first, sizeof first, "%s", rs);
			else
				snprintf(first, sizeof first, "OpenSSL error %lx", e);
		}
	}
	ERR_clear_error();
	if (kind == REFUSE_TLS_HANDSHAKE_FAILED && (eof || (!first[0] && (events & BEV_EVENT_EOF))))
		return false;
	*why = kind;
	switch (kind) {
	case REFUSE_NO_CLIENT_CERT:
		snprintf(msg, msglen, "no client certificate");
		break;
	case REFUSE_CERT_VERIFY_FAILED:
		snprintf(msg, msglen, "certificate verify failed: %s",
			 X509_verify_cert_error_string(SSL_get_verify_result(ssl)));
		break;
	default:
		snprintf(msg, msglen, "TLS handshake failed: %s",
			 first[0] ? first : evutil_socket_error_to_string(sock_err));
		break;
	}
	return true;
}

bool ingest_tls_stream_error(struct bufferevent *bev, short events, char *why, size_t cap)
{
	bool error = (events & BEV_EVENT_ERROR) != 0;
	unsigned long e = bufferevent_get_openssl_error(bev);
	why[0] = '\0';
	if (e && ERR_GET_REASON(e) == SSL_R_UNEXPECTED_EOF_WHILE_READING) {
		error = false;  /* closed without close_notify: an ordinary disconnect */
	} else if (e) {
		const char *rs = ERR_reason_error_string(e);
		snprintf(why, cap, ": %s", rs ? rs : "OpenSSL error");
	} else if (error) {
		snprintf(why, cap, ": %s", evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()));
	}
	while (bufferevent_get_openssl_error(bev))
		;
	ERR_clear_error();
	return error;
}
