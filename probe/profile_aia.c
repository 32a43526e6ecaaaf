/*
 * profile_aia.c - see profile_aia.h.
 *
 * Who fetches caIssuers, and the sources (checked December 2026):
 *
 *   Chrome, every platform: before its own verifier, Chrome used the
 *   platform's (CryptoAPI on Windows and Security.framework on macOS both
 *   fetch), its built-in verifier on Linux (Chrome 79) and Chrome OS (77)
 *   carries an AIA issuer source (net/cert/internal/cert_issuer_source_aia),
 *   and on Android Chrome fetched itself on top of the platform verifier
 *   (net/cert/cert_verify_proc_android.cc, 2017). The Chrome Certificate
 *   Verifier took over on Windows and macOS from Chrome 105 (default 108)
 *   and on Android and Linux from Chrome 114 (chromium
 *   net/data/ssl/chrome_root_store/faq.md); it keeps AIA fetching. So:
 *   every Chrome. Opera from 15 and Edge from 79 are Chromium: the same.
 *   Opera up to 12 (Presto) had its own certificate code; we found no
 *   source that it fetched and treat it as not fetching.
 *   Internet Explorer and Edge 12-18 (EdgeHTML): Windows CryptoAPI, whose
 *   chain engine retrieves issuers from AIA unless told not to (.NET's
 *   X509ChainPolicy.DisableCertificateDownloads and WinRT's
 *   ChainBuildingParameters.AuthorityInformationAccessEnabled document the
 *   default: downloads on).
 *   Safari, Apple Mail, Apple ATS (iOS/macOS Security.framework): fetch.
 *   Apple's LibreSSL build is a library like OpenSSL: no.
 *
 *   Not fetching: Firefox, Thunderbird and Tor Browser (NSS/mozilla::pkix
 *   never fetch; mozilla-mobile/fenix#20206 closes a missing intermediate as
 *   the site's bug. Firefox 75+ instead preloads the intermediates disclosed
 *   to the CCADB, which completes chains of public CAs only - not modelled
 *   here, so a Firefox profile says chain_incomplete where a current Firefox
 *   may pass with a public CA); Java (its PKIX builder fetches only with
 *   com.sun.security.enableAIAcaIssuers=true, default false); the Android
 *   platform verifier (Conscrypt builds from the served chain and the store;
 *   no release in testssl.sh's list, up to Android 12, fetches; Microsoft's
 *   ADAL wiki "SSL Certificate Validation with ADFS" has an incomplete chain
 *   failing on Android only); Go's crypto/x509 on Linux (golang/go#31773,
 *   declined; on Windows Go verifies through CryptoAPI, which fetches, but
 *   testssl.sh's go profile is a Linux capture); OpenSSL, and with it curl
 *   (curl/curl#2793, open) and Python; the crawlers (nothing published:
 *   treated as not fetching, the strict verdict).
 */
#include "profile_aia.h"

#include <stdlib.h>
#include <string.h>

static bool brand(const char *name, const char *b)
{
	size_t n = strlen(b);
	return strncmp(name, b, n) == 0 && (name[n] == ' ' || name[n] == '\0');
}

bool profile_aia_fetches(const char *name)
{
	if (!name)
		return false;
	if (brand(name, "Chrome") || brand(name, "Edge") || brand(name, "IE") ||
	    brand(name, "Safari") || brand(name, "Apple"))
		return true;
	if (brand(name, "Opera"))
		return strtol(name + 5, NULL, 10) >= 15;
	return false;
}
