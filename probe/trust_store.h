/*
 * trust_store.h - one loaded X509_STORE per CA bundle, shared by every TLS
 * context that names it.
 *
 * The probe builds one SSL_CTX per (profile, client cert, CA file): with
 * the testssl.sh client list that is ~160 contexts, and each used to parse
 * the same bundle (often the system one, ~140 certificates) for itself, at
 * start and again on every SIGHUP. Here a bundle is parsed once and every
 * context takes a reference (SSL_CTX_set1_cert_store).
 *
 * A bundle is known by its path and by the file's identity when loaded
 * (device, inode, size, modification time in ns): an unchanged file is
 * never parsed twice, so a reload costs nothing for it; a file replaced or
 * edited since gets a fresh store on the next lookup, while contexts built
 * before keep the store they hold. NULL stands for the system store
 * (OpenSSL's default file and directory; the file's identity is checked
 * the same way).
 *
 * Single-threaded: the probe builds contexts on its event loop thread.
 *
 * Ownership: trust_store_get() returns a counted handle; each one is given
 * back with trust_store_put(). The last put frees the entry; the X509_STORE
 * itself lives on while any SSL_CTX still holds a reference to it.
 */
#ifndef TW_TRUST_STORE_H
#define TW_TRUST_STORE_H

#include <stddef.h>
#include <openssl/x509.h>

struct trust_store;

/* The store for ca_file (NULL: the system store), loaded if no current one
 * exists. NULL with "cannot load CA file F: reason" in err. */
struct trust_store *trust_store_get(const char *ca_file, char *err, size_t errlen)
	__attribute__((warn_unused_result));
/* The OpenSSL store, for SSL_CTX_set1_cert_store (which takes its own
 * reference). */
X509_STORE *trust_store_x509(const struct trust_store *ts);
void trust_store_put(struct trust_store *ts);

/* Bundles parsed since the process started, and entries alive now: for
 * tests and the daemon's statistics. */
unsigned long trust_store_loads(void);
size_t trust_store_count(void);

#endif
