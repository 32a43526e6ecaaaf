/*
 * profile_aia.h - which clients fetch a missing intermediate through the
 * caIssuers URL of a certificate's Authority Information Access ("AIA
 * chasing"). Pure; no allocation.
 */
#ifndef TW_PROFILE_AIA_H
#define TW_PROFILE_AIA_H

#include <stdbool.h>

/* true when the client named `name` (a built-in or testssl.sh profile
 * name) completes a chain the server sent incomplete by fetching the
 * issuer from caIssuers; false for everything else, the probe's own
 * profiles (modern, tls13, legacy...) included: they behave like OpenSSL. */
bool profile_aia_fetches(const char *name);

#endif
