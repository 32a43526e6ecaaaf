/* tlsctx_keys.c - see tlsctx_keys.h. */

/* The ENGINE API is deprecated in OpenSSL 3 and is the only switch 3.0
 * offers for x509_pubkey_decode(): declare it without the warnings. */
#define OPENSSL_SUPPRESS_DEPRECATED 1

#include "tlsctx_keys.h"
#include "log.h"

#include <stdlib.h>
#include <string.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#ifndef OPENSSL_NO_ENGINE
#include <openssl/engine.h>
#endif

static bool tried;
static bool active;

bool tlsctx_keys_active(void)
{
	return active;
}

#ifndef OPENSSL_NO_ENGINE

/* The key types whose built-in methods the engine offers. */
static const int key_nids[] = { EVP_PKEY_EC, EVP_PKEY_RSA };

/* ENGINE_PKEY_METHS_PTR: with pmeth NULL, the list of types; else the
 * built-in method for nid (EVP_PKEY_meth_find never returns an engine's). */
static int pkey_meths(ENGINE *e, EVP_PKEY_METHOD **pmeth, const int **nids, int nid)
{
	(void)e;
	if (!pmeth) {
		*nids = key_nids;
		return (int)(sizeof key_nids / sizeof key_nids[0]);
	}
	for (size_t i = 0; i < sizeof key_nids / sizeof key_nids[0]; i++) {
		if (key_nids[i] == nid) {
			*pmeth = (EVP_PKEY_METHOD *)EVP_PKEY_meth_find(nid);
			return *pmeth != NULL;
		}
	}
	*pmeth = NULL;
	return 0;
}

static bool register_engine(void)
{
	ENGINE *e = ENGINE_new();
	bool ok = false;

	if (!e)
		goto out;
	/* every built-in method must exist before anything is registered */
	for (size_t i = 0; i < sizeof key_nids / sizeof key_nids[0]; i++)
		if (!EVP_PKEY_meth_find(key_nids[i]))
			goto out;
	if (!ENGINE_set_id(e, "tlswatch-builtin-keys") ||
	    !ENGINE_set_name(e, "tlswatch: OpenSSL's built-in EC and RSA key methods") ||
	    !ENGINE_set_pkey_meths(e, pkey_meths))
		goto out;
	/* the list takes its own reference; registration makes
	 * ENGINE_get_pkey_meth_engine() answer for the types above */
	if (!ENGINE_add(e))
		goto out;
	if (!ENGINE_register_pkey_meths(e)) {
		ENGINE_remove(e);
		goto out;
	}
	ok = true;
out:
	ENGINE_free(e);     /* ours; NULL is fine */
	return ok;
}

#endif

bool tlsctx_keys_init(void)
{
	if (tried)
		return active;
	tried = true;

	const char *off = getenv("TLSWATCH_PROVIDER_KEYS");
	if (off && *off && strcmp(off, "0") != 0) {
		log_info("tls public keys: provider decoders (TLSWATCH_PROVIDER_KEYS is set)");
		return false;
	}
	unsigned long v = OpenSSL_version_num();
	if (v < 0x30000000UL || v >= 0x30100000UL) {
		log_debug("tls public keys: provider decoders (OpenSSL %s is not 3.0)",
			  OpenSSL_version(OPENSSL_VERSION));
		return false;
	}
#ifndef OPENSSL_NO_ENGINE
	active = register_engine();
	if (!active) {
		ERR_clear_error();
		log_warn("tls public keys: cannot register the built-in EC/RSA key methods, "
			 "certificates are decoded by the provider decoders (slower)");
	}
#endif
	return active;
}
