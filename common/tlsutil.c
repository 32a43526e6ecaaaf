/* tlsutil.c - see tlsutil.h. */
#include "tlsutil.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <arpa/inet.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>

int tlsutil_check_key_file(const char *path, char *err, size_t errlen)
{
	struct stat st;

	if (stat(path, &st) != 0) {
		snprintf(err, errlen, "cannot read private key %s: %s", path, strerror(errno));
		return -1;
	}
	if (st.st_mode & (S_IRWXG | S_IRWXO)) {
		snprintf(err, errlen, "private key %s is accessible by group or others (mode %04o); "
			 "chmod 600 it", path, (unsigned)(st.st_mode & 07777));
		return -1;
	}
	return 0;
}

const char *tlsutil_err_drain(char *buf, size_t cap)
{
	size_t len = 0;
	bool truncated = false;
	unsigned long e;
	const char *data;
	int flags;

	if (cap == 0) {
		ERR_clear_error();
		return buf;
	}
	buf[0] = '\0';
	while ((e = ERR_get_error_all(NULL, NULL, NULL, &data, &flags)) != 0) {
		char one[256];
		int n;

		if (truncated)
			continue; /* keep emptying the queue */
		ERR_error_string_n(e, one, sizeof one);
		n = snprintf(buf + len, cap - len, "%s%s%s%s%s", len ? "; " : "", one,
			     (flags & ERR_TXT_STRING) && data && *data ? " (" : "",
			     (flags & ERR_TXT_STRING) && data ? data : "",
			     (flags & ERR_TXT_STRING) && data && *data ? ")" : "");
		if (n < 0 || (size_t)n >= cap - len)
			truncated = true;
		else
			len += (size_t)n;
	}
	if (truncated) {
		/* the entries that fit stay readable; "..." says more were lost */
		if (cap >= 4)
			memcpy(buf + cap - 4, "...", 4);
		else
			buf[cap - 1] = '\0';
	} else if (len == 0) {
		snprintf(buf, cap, "no OpenSSL error reported");
	}
	return buf;
}

int tlsutil_use_ca_file(SSL_CTX *ctx, const char *ca_file, char *err, size_t errlen)
{
	char why[512];

	if (SSL_CTX_load_verify_locations(ctx, ca_file, NULL) != 1) {
		snprintf(err, errlen, "cannot load CA file %s: %s", ca_file,
			 tlsutil_err_drain(why, sizeof why));
		return -1;
	}
	return 0;
}

int tlsutil_use_identity(SSL_CTX *ctx, const char *cert_file, const char *key_file,
			 char *err, size_t errlen)
{
	char why[512];

	/* the mode first: a key others can read is refused even if it loads */
	if (tlsutil_check_key_file(key_file, err, errlen) != 0)
		return -1;
	if (SSL_CTX_use_certificate_chain_file(ctx, cert_file) != 1) {
		snprintf(err, errlen, "cannot load certificate %s: %s", cert_file,
			 tlsutil_err_drain(why, sizeof why));
		return -1;
	}
	if (SSL_CTX_use_PrivateKey_file(ctx, key_file, SSL_FILETYPE_PEM) != 1) {
		/* OpenSSL 3 already compares the key with the certificate here:
		 * "key values mismatch" is the same fault as the check below */
		unsigned long e = ERR_peek_last_error();
		if (ERR_GET_LIB(e) == ERR_LIB_X509 && ERR_GET_REASON(e) == X509_R_KEY_VALUES_MISMATCH) {
			ERR_clear_error();
			snprintf(err, errlen, "private key %s does not match certificate %s",
				 key_file, cert_file);
		} else {
			snprintf(err, errlen, "cannot load private key %s: %s", key_file,
				 tlsutil_err_drain(why, sizeof why));
		}
		return -1;
	}
	if (SSL_CTX_check_private_key(ctx) != 1) {
		ERR_clear_error();
		snprintf(err, errlen, "private key %s does not match certificate %s", key_file, cert_file);
		return -1;
	}
	return 0;
}

/* The server's TLS 1.2 suites: ECDHE with AES-GCM or ChaCha20-Poly1305. */
#define TLSUTIL_SERVER_CIPHERS_TLS12 "ECDHE+AESGCM:ECDHE+CHACHA20:!aNULL"

SSL_CTX *tlsutil_ctx_new(enum tlsutil_side side, const struct tlsutil_identity *id,
			 char *err, size_t errlen)
{
	char why[512];
	SSL_CTX *ctx = NULL;

	if (!id->ca_file || !id->cert_file || !id->key_file) {
		snprintf(err, errlen, "ca_file, cert_file and key_file are all required");
		return NULL;
	}
	ctx = SSL_CTX_new(side == TLSUTIL_SERVER ? TLS_server_method() : TLS_client_method());
	if (!ctx) {
		snprintf(err, errlen, "cannot create TLS context: %s", tlsutil_err_drain(why, sizeof why));
		return NULL;
	}
	if (SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1) {
		snprintf(err, errlen, "cannot require TLS 1.2: %s", tlsutil_err_drain(why, sizeof why));
		goto fail;
	}
	if (tlsutil_use_identity(ctx, id->cert_file, id->key_file, err, errlen) != 0 ||
	    tlsutil_use_ca_file(ctx, id->ca_file, err, errlen) != 0)
		goto fail;
	if (side == TLSUTIL_CLIENT) {
		SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
		return ctx;
	}

	SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
	/* TLS 1.2 only with AEAD suites and forward secrecy (ECDHE key
	 * exchange): CBC suites (MAC-then-encrypt, Lucky 13) and static RSA
	 * key exchange are refused. Every TLS 1.3 suite is AEAD with ECDHE
	 * already, so the 1.3 list stays OpenSSL's default. */
	if (SSL_CTX_set_cipher_list(ctx, TLSUTIL_SERVER_CIPHERS_TLS12) != 1) {
		snprintf(err, errlen, "cannot set the TLS 1.2 cipher list: %s",
			 tlsutil_err_drain(why, sizeof why));
		goto fail;
	}
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	if (SSL_CTX_set_num_tickets(ctx, 0) != 1) {
		snprintf(err, errlen, "cannot disable session tickets: %s",
			 tlsutil_err_drain(why, sizeof why));
		goto fail;
	}
	/* The CertificateRequest names the acceptable issuers, so a probe with
	 * several identities picks the right one. Without the list the
	 * handshake still works, so a failure here only loses the hint. */
	STACK_OF(X509_NAME) *names = SSL_load_client_CA_file(id->ca_file);
	if (names)
		SSL_CTX_set_client_CA_list(ctx, names);
	ERR_clear_error();
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
	SSL_CTX_set_verify_depth(ctx, 8);
	return ctx;
fail:
	SSL_CTX_free(ctx);
	return NULL;
}

int tlsutil_set_peer_name(SSL *ssl, const char *host, char *err, size_t errlen)
{
	char why[512];
	unsigned char ipbuf[16];
	bool is_ip = inet_pton(AF_INET, host, ipbuf) == 1 || inet_pton(AF_INET6, host, ipbuf) == 1;

	if (is_ip) {
		/* SNI carries host names only (RFC 6066 3) */
		if (X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), host) != 1) {
			snprintf(err, errlen, "cannot set the IP address %s to verify: %s", host,
				 tlsutil_err_drain(why, sizeof why));
			return -1;
		}
		return 0;
	}
	if (SSL_set_tlsext_host_name(ssl, host) != 1) {
		snprintf(err, errlen, "cannot send %s as SNI: %s", host, tlsutil_err_drain(why, sizeof why));
		return -1;
	}
	if (SSL_set1_host(ssl, host) != 1) {
		snprintf(err, errlen, "cannot set the host name %s to verify: %s", host,
			 tlsutil_err_drain(why, sizeof why));
		return -1;
	}
	return 0;
}
