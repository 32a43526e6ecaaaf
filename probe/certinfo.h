/* certinfo.h - facts about one X509 certificate, as the probe reports them. */
#ifndef TW_CERTINFO_H
#define TW_CERTINFO_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>
#include <openssl/x509.h>

enum cert_key_type { CERT_KEY_OTHER, CERT_KEY_RSA, CERT_KEY_EC, CERT_KEY_DSA, CERT_KEY_EDDSA };

/* "RSA-2048", "EC-P-256", "ED25519". Returns the type; *bits may be NULL. */
enum cert_key_type certinfo_key(X509 *x, char *buf, size_t cap, int *bits);
/* Weak by DESIGN 4.3: RSA/DSA < 2048 bits, EC < 256 bits. */
bool certinfo_key_weak(X509 *x);
/* Signature made with SHA-1 or MD5 (or older). */
bool certinfo_sig_weak(X509 *x);
/* "sha256WithRSAEncryption" style name. */
const char *certinfo_sig_alg(X509 *x);
bool certinfo_is_ca(X509 *x);
bool certinfo_self_signed(X509 *x);
/* The certificate has a subjectAltName extension (of any content). */
bool certinfo_has_san(X509 *x);
/* The certificate names an OCSP responder (authorityInfoAccess OCSP). */
bool certinfo_names_ocsp(X509 *x);
/* 0 and *out set, or -1 when the time cannot be read. */
int certinfo_not_before(X509 *x, time_t *out);
int certinfo_not_after(X509 *x, time_t *out);
/* RFC 2253 name into buf. */
char *certinfo_name(const X509_NAME *n, char *buf, size_t cap);
/* Lowercase hex SHA-256 of the DER, 64 characters. */
int certinfo_fingerprint(X509 *x, char *buf, size_t cap);
/* DNS and IP subjectAltNames as strings, appended via the callback. */
void certinfo_sans(X509 *x, void (*add)(const char *san, void *arg), void *arg);

#endif
