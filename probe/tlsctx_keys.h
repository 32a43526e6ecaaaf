/*
 * tlsctx_keys.h - how the probe's OpenSSL decodes the public keys of the
 * certificates servers send (issue 11, "a probe close to the crypto floor").
 *
 * On OpenSSL 3.0 every certificate libssl parses (d2i_X509 in
 * tls_process_server_certificate) decodes its SubjectPublicKeyInfo through
 * OSSL_DECODER_CTX_new_for_pkey(), which walks every key manager and every
 * decoder of every provider, under locks, for each certificate: 1.19 M of
 * the 5.5 M instructions of a full TLS 1.3 handshake with an ECDSA P-256
 * leaf (callgrind, bench_handshake), more than one ECDSA verification.
 * 3.0 decodes with its built-in (legacy) EC and RSA methods instead when an
 * ENGINE is registered for the key type (x509_pubkey_decode), so
 * tlsctx_keys_init() registers one engine that provides exactly the
 * built-in EC and RSA methods (EVP_PKEY_meth_find): the same code that
 * decodes and verifies, without the search.
 *
 * Consequence, process-wide and by design: every EC and RSA key operation
 * (certificate and CertificateVerify checks, TLS 1.2 ServerKeyExchange,
 * RSA key transport, ECDHE on NIST curves, the client certificate's
 * signature) runs on OpenSSL's built-in methods through EVP_PKEY_CTX, as in
 * OpenSSL 1.1. X25519/X448, Ed25519/Ed448, RSA-PSS keys, DH and DSA keep
 * the provider path. A key the built-in method cannot decode still falls
 * back to the decoders (x509_pubkey_ex_d2i_ex), so what a certificate
 * yields does not change. Only on OpenSSL 3.0.x, where it was measured;
 * other versions are left alone.
 *
 * What else changes with it: the built-in EC method knows curves by their
 * short names only, so EC key generation by a NIST alias
 * (EVP_EC_gen("P-256")) fails in such a process (libssl asks for
 * "prime256v1"; the probe itself generates no keys). That is why it is
 * called from the probe's main() (and bench_handshake), not from
 * tlsctx_new(): a program linking the probe library, such as a unit test
 * making its own keys, keeps OpenSSL's default behaviour.
 *
 * Ownership: the engine belongs to OpenSSL's engine list from then on and
 * is freed by OPENSSL_cleanup() at exit. Single-threaded: call it once at
 * start, before any key or certificate is loaded.
 */
#ifndef TW_TLSCTX_KEYS_H
#define TW_TLSCTX_KEYS_H

#include <stdbool.h>

/* Registers the engine once (later calls do nothing). Returns true when it
 * is active, false when this OpenSSL has no engines or is not 3.0.x, or
 * when registration failed (the error queue is cleared; the probe works as
 * before, only slower). TLSWATCH_PROVIDER_KEYS=1 in the environment keeps
 * the provider decoders (to compare, or to rule this out). */
bool tlsctx_keys_init(void);

/* Whether tlsctx_keys_init() activated it: for the daemon's statistics
 * and tests. */
bool tlsctx_keys_active(void);

#endif
