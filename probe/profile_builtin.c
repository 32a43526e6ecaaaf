/*
 * profile_builtin.c - the built-in profiles (DESIGN 4.1).
 *
 * Two kinds: generic server-policy profiles (modern, intermediate, legacy,
 * tls13), and real clients transcribed from testssl.sh 3.0.8's
 * client-simulation.txt (Debian package testssl.sh). Both are written as
 * raw client records and go through profile_from_raw(), so a cipher this
 * OpenSSL build lacks (3DES, RC4...) is dropped and named in the caveat
 * exactly as it is for a client loaded from testssl.sh's file.
 *
 * Not included: "IE 6 XP" (SSLv3 at most) and "IE 8 XP" (RC4/DES/3DES/
 * export only): OpenSSL 3 cannot emulate either; load the testssl.sh
 * database to list them as not emulatable.
 */
#include "profile.h"

/* Mozilla Server Side TLS v5 groups, used by the generic profiles. */
#define GENERIC_GROUPS "X25519:prime256v1:secp384r1"
#define TLS13_SUITES "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384" \
	":TLS_CHACHA20_POLY1305_SHA256"
/* Every generic profile sends SNI and has no certificate policy of its
 * own beyond its security level. */
#define GENERIC_COMMON .send_sni = true, .min_rsa_bits = -1, .min_ecdsa_bits = -1

struct generic {
	struct profile_raw raw;
	int seclevel;
};

static const struct generic generics[] = {
	{
		/* ECDHE + AEAD only: Mozilla "modern" spirit, but keeping
		 * TLS1.2 so it still reaches TLS1.2-only servers. */
		.raw = {
			.name = "modern",
			.ciphers = "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256"
				":ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384"
				":ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305",
			.ciphersuites = TLS13_SUITES,
			.curves = GENERIC_GROUPS,
			.lowest_protocol = 0x0303,
			.highest_protocol = 0x0304,
			GENERIC_COMMON,
		},
		.seclevel = 2,
	},
	{
		/* Mozilla Server Side TLS v5.7 "intermediate", verbatim. */
		.raw = {
			.name = "intermediate",
			.ciphers = "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256"
				":ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384"
				":ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305"
				":DHE-RSA-AES128-GCM-SHA256:DHE-RSA-AES256-GCM-SHA384"
				":DHE-RSA-CHACHA20-POLY1305",
			.ciphersuites = TLS13_SUITES,
			.curves = GENERIC_GROUPS,
			.lowest_protocol = 0x0303,
			.highest_protocol = 0x0304,
			GENERIC_COMMON,
		},
		.seclevel = 2,
	},
	{
		/* Mozilla v5 "old" cipher list: CBC suites, static-RSA key
		 * exchange and DES-CBC3-SHA. Debian's OpenSSL 3 has no 3DES,
		 * so normalisation drops it and the caveat says so. Security
		 * level 0 because OpenSSL 3 speaks TLS1.0/1.1 only there. */
		.raw = {
			.name = "legacy",
			.ciphers = "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256"
				":ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384"
				":ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305"
				":DHE-RSA-AES128-GCM-SHA256:DHE-RSA-AES256-GCM-SHA384"
				":DHE-RSA-CHACHA20-POLY1305"
				":ECDHE-ECDSA-AES128-SHA256:ECDHE-RSA-AES128-SHA256"
				":ECDHE-ECDSA-AES128-SHA:ECDHE-RSA-AES128-SHA"
				":ECDHE-ECDSA-AES256-SHA384:ECDHE-RSA-AES256-SHA384"
				":ECDHE-ECDSA-AES256-SHA:ECDHE-RSA-AES256-SHA"
				":DHE-RSA-AES128-SHA256:DHE-RSA-AES256-SHA256"
				":AES128-GCM-SHA256:AES256-GCM-SHA384:AES128-SHA256"
				":AES256-SHA256:AES128-SHA:AES256-SHA:DES-CBC3-SHA",
			.ciphersuites = "",
			.curves = GENERIC_GROUPS,
			.lowest_protocol = 0x0301,
			.highest_protocol = 0x0303,
			GENERIC_COMMON,
		},
		.seclevel = 0,
	},
	{
		.raw = {
			.name = "tls13",
			.ciphers = "",
			.ciphersuites = TLS13_SUITES,
			.curves = GENERIC_GROUPS,
			.lowest_protocol = 0x0304,
			.highest_protocol = 0x0304,
			GENERIC_COMMON,
		},
		.seclevel = 2,
	},
};

/*
 * Real clients, transcribed field by field from testssl.sh 3.0.8's
 * client-simulation.txt (SSL Labs captures). Names match testssl.sh's so
 * loading its database afterwards skips these. "Java 17.0.3 (OpenJDK)"
 * spells requiresSha2 "requireseha2" there; its value (true) is used.
 */
static const struct profile_raw clients[] = {
	{
		.name = "Android 2.3.7",
		.short_name = "android_237",
		.ciphers = "RC4-MD5:RC4-SHA:AES128-SHA:DHE-RSA-AES128-SHA"
		  ":DHE-DSS-AES128-SHA:DES-CBC3-SHA:EDH-RSA-DES-CBC3-SHA"
		  ":EDH-DSS-DES-CBC3-SHA:DES-CBC-SHA:EDH-RSA-DES-CBC-SHA"
		  ":EDH-DSS-DES-CBC-SHA:EXP-RC4-MD5:EXP-DES-CBC-SHA"
		  ":EXP-EDH-RSA-DES-CBC-SHA:EXP-EDH-DSS-DES-CBC-SHA",
		.ciphersuites = "",
		.curves = "",
		.services = "HTTP,FTP",
		.send_sni = false,
		.lowest_protocol = 0x0300,
		.highest_protocol = 0x0301,
		.min_rsa_bits = -1,
		.min_ecdsa_bits = -1,
		.requires_sha2 = false,
		.current = false,
	},
	{
		.name = "Android 4.4.2",
		.short_name = "android_442",
		.ciphers = "ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-AES256-GCM-SHA384"
		  ":ECDHE-RSA-AES256-SHA:ECDHE-ECDSA-AES256-SHA"
		  ":DHE-DSS-AES256-GCM-SHA384:DHE-RSA-AES256-GCM-SHA384"
		  ":DHE-RSA-AES256-SHA256:DHE-DSS-AES256-SHA256"
		  ":DHE-RSA-AES256-SHA:DHE-DSS-AES256-SHA:AES256-GCM-SHA384"
		  ":AES256-SHA256:AES256-SHA:ECDHE-RSA-DES-CBC3-SHA"
		  ":ECDHE-ECDSA-DES-CBC3-SHA:EDH-RSA-DES-CBC3-SHA"
		  ":EDH-DSS-DES-CBC3-SHA:DES-CBC3-SHA"
		  ":ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES128-GCM-SHA256"
		  ":ECDHE-RSA-AES128-SHA256:ECDHE-ECDSA-AES128-SHA256"
		  ":ECDHE-RSA-AES128-SHA:ECDHE-ECDSA-AES128-SHA"
		  ":DHE-DSS-AES128-GCM-SHA256:DHE-RSA-AES128-GCM-SHA256"
		  ":DHE-RSA-AES128-SHA256:DHE-DSS-AES128-SHA256"
		  ":DHE-RSA-AES128-SHA:DHE-DSS-AES128-SHA:AES128-GCM-SHA256"
		  ":AES128-SHA256:AES128-SHA:ECDHE-RSA-RC4-SHA"
		  ":ECDHE-ECDSA-RC4-SHA:RC4-SHA:RC4-MD5",
		.ciphersuites = "",
		.curves = "secp521r1:secp384r1:prime256v1",
		.services = "HTTP,FTP",
		.send_sni = true,
		.lowest_protocol = 0x0300,
		.highest_protocol = 0x0303,
		.min_rsa_bits = -1,
		.min_ecdsa_bits = -1,
		.requires_sha2 = false,
		.current = false,
	},
	{
		.name = "Android 12 (native)",
		.short_name = "android_12",
		.ciphers = "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384"
		  ":ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-AES128-GCM-SHA256"
		  ":ECDHE-RSA-AES256-GCM-SHA384:ECDHE-RSA-CHACHA20-POLY1305"
		  ":ECDHE-ECDSA-AES128-SHA:ECDHE-ECDSA-AES256-SHA"
		  ":ECDHE-RSA-AES128-SHA:ECDHE-RSA-AES256-SHA:AES128-GCM-SHA256"
		  ":AES256-GCM-SHA384:AES128-SHA:AES256-SHA",
		.ciphersuites = "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384"
		  ":TLS_CHACHA20_POLY1305_SHA256",
		.curves = "X25519:secp256r1:secp384r1",
		.alpn = "h2,http/1.1",
		.services = "ANY",
		.send_sni = true,
		.lowest_protocol = 0x0301,
		.highest_protocol = 0x0304,
		.min_rsa_bits = -1,
		.min_ecdsa_bits = -1,
		.requires_sha2 = false,
		.current = true,
	},
	{
		.name = "Chrome 101 (Win 10)",
		.short_name = "chrome_101_win10",
		.ciphers = "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256"
		  ":ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384"
		  ":ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305"
		  ":ECDHE-RSA-AES128-SHA:ECDHE-RSA-AES256-SHA:AES128-GCM-SHA256"
		  ":AES256-GCM-SHA384:AES128-SHA:AES256-SHA",
		.ciphersuites = "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384"
		  ":TLS_CHACHA20_POLY1305_SHA256",
		.curves = "X25519:secp256r1:secp384r1",
		.alpn = "h2,http/1.1",
		.services = "HTTP",
		.send_sni = true,
		.lowest_protocol = 0x0303,
		.highest_protocol = 0x0304,
		.min_rsa_bits = -1,
		.min_ecdsa_bits = -1,
		.requires_sha2 = true,
		.current = true,
	},
	{
		.name = "Firefox 100 (Win 10)",
		.short_name = "firefox_100_win10",
		.ciphers = "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256"
		  ":ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305"
		  ":ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384"
		  ":ECDHE-ECDSA-AES256-SHA:ECDHE-ECDSA-AES128-SHA"
		  ":ECDHE-RSA-AES128-SHA:ECDHE-RSA-AES256-SHA:AES128-GCM-SHA256"
		  ":AES256-GCM-SHA384:AES128-SHA:AES256-SHA",
		.ciphersuites = "TLS_AES_128_GCM_SHA256:TLS_CHACHA20_POLY1305_SHA256"
		  ":TLS_AES_256_GCM_SHA384",
		.curves = "X25519:secp256r1:secp384r1:secp521r1:ffdhe2048:ffdhe3072",
		.alpn = "h2,http/1.1",
		.services = "HTTP",
		.send_sni = true,
		.lowest_protocol = 0x0303,
		.highest_protocol = 0x0304,
		.min_rsa_bits = -1,
		.min_ecdsa_bits = -1,
		.requires_sha2 = false,
		.current = true,
	},
	{
		.name = "Edge 101 Win 10 21H2",
		.short_name = "edge_101_win10_21h2",
		.ciphers = "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256"
		  ":ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384"
		  ":ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305"
		  ":ECDHE-RSA-AES128-SHA:ECDHE-RSA-AES256-SHA:AES128-GCM-SHA256"
		  ":AES256-GCM-SHA384:AES128-SHA:AES256-SHA",
		.ciphersuites = "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384"
		  ":TLS_CHACHA20_POLY1305_SHA256",
		.curves = "X25519:secp256r1:secp384r1",
		.alpn = "h2,http/1.1",
		.services = "HTTP",
		.send_sni = true,
		.lowest_protocol = 0x0303,
		.highest_protocol = 0x0304,
		.min_rsa_bits = -1,
		.min_ecdsa_bits = -1,
		.requires_sha2 = true,
		.current = true,
	},
	{
		.name = "IE 11 Win 7",
		.short_name = "ie_11_win7",
		.ciphers = "ECDHE-RSA-AES256-SHA384:ECDHE-RSA-AES128-SHA256"
		  ":ECDHE-RSA-AES256-SHA:ECDHE-RSA-AES128-SHA"
		  ":DHE-RSA-AES256-GCM-SHA384:DHE-RSA-AES128-GCM-SHA256"
		  ":AES256-GCM-SHA384:AES128-GCM-SHA256:AES256-SHA256"
		  ":AES128-SHA256:AES256-SHA:AES128-SHA"
		  ":ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-ECDSA-AES128-GCM-SHA256"
		  ":ECDHE-ECDSA-AES256-SHA384:ECDHE-ECDSA-AES128-SHA256"
		  ":ECDHE-ECDSA-AES256-SHA:ECDHE-ECDSA-AES128-SHA"
		  ":DHE-DSS-AES256-SHA256:DHE-DSS-AES128-SHA256"
		  ":DHE-DSS-AES256-SHA:DHE-DSS-AES128-SHA:DES-CBC3-SHA"
		  ":EDH-DSS-DES-CBC3-SHA",
		.ciphersuites = "",
		.curves = "prime256v1:secp384r1",
		.services = "HTTP,FTP",
		.send_sni = true,
		.lowest_protocol = 0x0301,
		.highest_protocol = 0x0303,
		.min_rsa_bits = -1,
		.min_ecdsa_bits = -1,
		.requires_sha2 = false,
		.current = true,
	},
	{
		.name = "Safari 15.4 (macOS 12.3.1)",
		.short_name = "safari_154_osx_1231",
		.ciphers = "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-ECDSA-AES128-GCM-SHA256"
		  ":ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-AES256-GCM-SHA384"
		  ":ECDHE-RSA-AES128-GCM-SHA256:ECDHE-RSA-CHACHA20-POLY1305"
		  ":ECDHE-ECDSA-AES256-SHA:ECDHE-ECDSA-AES128-SHA"
		  ":ECDHE-RSA-AES256-SHA:ECDHE-RSA-AES128-SHA:AES256-GCM-SHA384"
		  ":AES128-GCM-SHA256:AES256-SHA:AES128-SHA"
		  ":ECDHE-ECDSA-DES-CBC3-SHA:ECDHE-RSA-DES-CBC3-SHA"
		  ":DES-CBC3-SHA",
		.ciphersuites = "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384"
		  ":TLS_CHACHA20_POLY1305_SHA256",
		.curves = "X25519:secp256r1:secp384r1:secp521r1",
		.alpn = "h2,http/1.1",
		.services = "HTTP",
		.send_sni = true,
		.lowest_protocol = 0x0301,
		.highest_protocol = 0x0304,
		.min_rsa_bits = -1,
		.min_ecdsa_bits = -1,
		.requires_sha2 = false,
		.current = true,
	},
	{
		.name = "Java 7u25",
		.short_name = "java_7u25",
		.ciphers = "ECDHE-ECDSA-AES128-SHA:ECDHE-RSA-AES128-SHA:AES128-SHA"
		  ":ECDH-ECDSA-AES128-SHA:ECDH-RSA-AES128-SHA"
		  ":DHE-RSA-AES128-SHA:DHE-DSS-AES128-SHA:ECDHE-ECDSA-RC4-SHA"
		  ":ECDHE-RSA-RC4-SHA:RC4-SHA:ECDH-ECDSA-RC4-SHA"
		  ":ECDH-RSA-RC4-SHA:ECDHE-ECDSA-DES-CBC3-SHA"
		  ":ECDHE-RSA-DES-CBC3-SHA:DES-CBC3-SHA:ECDH-ECDSA-DES-CBC3-SHA"
		  ":ECDH-RSA-DES-CBC3-SHA:EDH-RSA-DES-CBC3-SHA"
		  ":EDH-DSS-DES-CBC3-SHA:RC4-MD5",
		.ciphersuites = "",
		.curves = "prime256v1:sect163k1:sect163r2:prime192v1:secp224r1"
		  ":sect233k1:sect233r1:sect283k1:sect283r1:secp384r1:sect409k1"
		  ":sect409r1:secp521r1:sect571k1:sect571r1:secp160k1:secp160r1"
		  ":secp160r2:sect163r1:secp192k1:sect193r1:sect193r2:secp224k1"
		  ":sect239k1:secp256k1",
		.services = "ANY",
		.send_sni = true,
		.lowest_protocol = 0x0300,
		.highest_protocol = 0x0301,
		.min_rsa_bits = -1,
		.min_ecdsa_bits = -1,
		.requires_sha2 = false,
		.current = true,
	},
	{
		.name = "Java 8u161",
		.short_name = "java_8u161",
		.ciphers = "ECDHE-ECDSA-AES256-SHA384:ECDHE-RSA-AES256-SHA384"
		  ":AES256-SHA256:ECDH-ECDSA-AES256-SHA384"
		  ":ECDH-RSA-AES256-SHA384:DHE-RSA-AES256-SHA256"
		  ":DHE-DSS-AES256-SHA256:ECDHE-ECDSA-AES256-SHA"
		  ":ECDHE-RSA-AES256-SHA:AES256-SHA:ECDH-ECDSA-AES256-SHA"
		  ":ECDH-RSA-AES256-SHA:DHE-RSA-AES256-SHA:DHE-DSS-AES256-SHA"
		  ":ECDHE-ECDSA-AES128-SHA256:ECDHE-RSA-AES128-SHA256"
		  ":AES128-SHA256:ECDH-ECDSA-AES128-SHA256"
		  ":ECDH-RSA-AES128-SHA256:DHE-RSA-AES128-SHA256"
		  ":DHE-DSS-AES128-SHA256:ECDHE-ECDSA-AES128-SHA"
		  ":ECDHE-RSA-AES128-SHA:AES128-SHA:ECDH-ECDSA-AES128-SHA"
		  ":ECDH-RSA-AES128-SHA:DHE-RSA-AES128-SHA:DHE-DSS-AES128-SHA"
		  ":ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-ECDSA-AES128-GCM-SHA256"
		  ":ECDHE-RSA-AES256-GCM-SHA384:AES256-GCM-SHA384"
		  ":ECDH-ECDSA-AES256-GCM-SHA384:ECDH-RSA-AES256-GCM-SHA384"
		  ":DHE-RSA-AES256-GCM-SHA384:DHE-DSS-AES256-GCM-SHA384"
		  ":ECDHE-RSA-AES128-GCM-SHA256:AES128-GCM-SHA256"
		  ":ECDH-ECDSA-AES128-GCM-SHA256:ECDH-RSA-AES128-GCM-SHA256"
		  ":DHE-RSA-AES128-GCM-SHA256:DHE-DSS-AES128-GCM-SHA256"
		  ":ECDHE-ECDSA-DES-CBC3-SHA:ECDHE-RSA-DES-CBC3-SHA"
		  ":DES-CBC3-SHA:ECDH-ECDSA-DES-CBC3-SHA:ECDH-RSA-DES-CBC3-SHA"
		  ":EDH-RSA-DES-CBC3-SHA:EDH-DSS-DES-CBC3-SHA",
		.ciphersuites = "",
		.curves = "prime256v1:secp384r1:secp521r1:sect283k1:sect283r1:sect409k1"
		  ":sect409r1:sect571k1:sect571r1:secp256k1",
		.services = "ANY",
		.send_sni = true,
		.lowest_protocol = 0x0301,
		.highest_protocol = 0x0303,
		.min_rsa_bits = -1,
		.min_ecdsa_bits = -1,
		.requires_sha2 = false,
		.current = true,
	},
	{
		.name = "Java 17.0.3 (OpenJDK)",
		.short_name = "java1703",
		.ciphers = "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-ECDSA-AES128-GCM-SHA256"
		  ":ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-AES256-GCM-SHA384"
		  ":ECDHE-RSA-CHACHA20-POLY1305:ECDHE-RSA-AES128-GCM-SHA256"
		  ":DHE-RSA-AES256-GCM-SHA384:DHE-RSA-CHACHA20-POLY1305"
		  ":DHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-SHA384"
		  ":ECDHE-RSA-AES256-SHA384:ECDHE-ECDSA-AES128-SHA256"
		  ":ECDHE-RSA-AES128-SHA256:DHE-RSA-AES256-SHA256"
		  ":DHE-RSA-AES128-SHA256:ECDHE-ECDSA-AES256-SHA"
		  ":ECDHE-RSA-AES256-SHA:ECDHE-ECDSA-AES128-SHA"
		  ":ECDHE-RSA-AES128-SHA:DHE-RSA-AES256-SHA:DHE-RSA-AES128-SHA"
		  ":AES256-GCM-SHA384:AES128-GCM-SHA256:AES256-SHA256"
		  ":AES128-SHA256:AES256-SHA:AES128-SHA",
		.ciphersuites = "TLS_AES_256_GCM_SHA384:TLS_AES_128_GCM_SHA256"
		  ":TLS_CHACHA20_POLY1305_SHA256",
		.curves = "x25519:secp256r1:secp384r1:secp521r1:x448:ffdhe2048"
		  ":ffdhe3072:ffdhe4096:ffdhe6144:ffdhe8192",
		.services = "ANY",
		.send_sni = true,
		/* testssl.sh says 0x0301; its captured hello offers TLS 1.3
		 * and 1.2 only (TLS 1.0/1.1 disabled since 11.0.11; see
		 * profile_hello.c) */
		.lowest_protocol = 0x0303,
		.highest_protocol = 0x0304,
		.min_rsa_bits = -1,
		.min_ecdsa_bits = 224,
		.requires_sha2 = true,
		.current = true,
	},
	{
		.name = "OpenSSL 1.0.2e",
		.short_name = "openssl_102e",
		.ciphers = "ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-AES256-GCM-SHA384"
		  ":ECDHE-RSA-AES256-SHA384:ECDHE-ECDSA-AES256-SHA384"
		  ":ECDHE-RSA-AES256-SHA:ECDHE-ECDSA-AES256-SHA"
		  ":DH-DSS-AES256-GCM-SHA384:DHE-DSS-AES256-GCM-SHA384"
		  ":DH-RSA-AES256-GCM-SHA384:DHE-RSA-AES256-GCM-SHA384"
		  ":DHE-RSA-AES256-SHA256:DHE-DSS-AES256-SHA256"
		  ":DH-RSA-AES256-SHA256:DH-DSS-AES256-SHA256"
		  ":DHE-RSA-AES256-SHA:DHE-DSS-AES256-SHA:DH-RSA-AES256-SHA"
		  ":DH-DSS-AES256-SHA:DHE-RSA-CAMELLIA256-SHA"
		  ":DHE-DSS-CAMELLIA256-SHA:DH-RSA-CAMELLIA256-SHA"
		  ":DH-DSS-CAMELLIA256-SHA:ECDH-RSA-AES256-GCM-SHA384"
		  ":ECDH-ECDSA-AES256-GCM-SHA384:ECDH-RSA-AES256-SHA384"
		  ":ECDH-ECDSA-AES256-SHA384:ECDH-RSA-AES256-SHA"
		  ":ECDH-ECDSA-AES256-SHA:AES256-GCM-SHA384:AES256-SHA256"
		  ":AES256-SHA:CAMELLIA256-SHA:ECDHE-RSA-AES128-GCM-SHA256"
		  ":ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-SHA256"
		  ":ECDHE-ECDSA-AES128-SHA256:ECDHE-RSA-AES128-SHA"
		  ":ECDHE-ECDSA-AES128-SHA:DH-DSS-AES128-GCM-SHA256"
		  ":DHE-DSS-AES128-GCM-SHA256:DH-RSA-AES128-GCM-SHA256"
		  ":DHE-RSA-AES128-GCM-SHA256:DHE-RSA-AES128-SHA256"
		  ":DHE-DSS-AES128-SHA256:DH-RSA-AES128-SHA256"
		  ":DH-DSS-AES128-SHA256:DHE-RSA-AES128-SHA:DHE-DSS-AES128-SHA"
		  ":DH-RSA-AES128-SHA:DH-DSS-AES128-SHA:DHE-RSA-SEED-SHA"
		  ":DHE-DSS-SEED-SHA:DH-RSA-SEED-SHA:DH-DSS-SEED-SHA"
		  ":DHE-RSA-CAMELLIA128-SHA:DHE-DSS-CAMELLIA128-SHA"
		  ":DH-RSA-CAMELLIA128-SHA:DH-DSS-CAMELLIA128-SHA"
		  ":ECDH-RSA-AES128-GCM-SHA256:ECDH-ECDSA-AES128-GCM-SHA256"
		  ":ECDH-RSA-AES128-SHA256:ECDH-ECDSA-AES128-SHA256"
		  ":ECDH-RSA-AES128-SHA:ECDH-ECDSA-AES128-SHA:AES128-GCM-SHA256"
		  ":AES128-SHA256:AES128-SHA:SEED-SHA:CAMELLIA128-SHA"
		  ":IDEA-CBC-SHA:ECDHE-RSA-RC4-SHA:ECDHE-ECDSA-RC4-SHA"
		  ":ECDH-RSA-RC4-SHA:ECDH-ECDSA-RC4-SHA:RC4-SHA:RC4-MD5"
		  ":ECDHE-RSA-DES-CBC3-SHA:ECDHE-ECDSA-DES-CBC3-SHA"
		  ":EDH-RSA-DES-CBC3-SHA:EDH-DSS-DES-CBC3-SHA"
		  ":DH-RSA-DES-CBC3-SHA:DH-DSS-DES-CBC3-SHA"
		  ":ECDH-RSA-DES-CBC3-SHA:ECDH-ECDSA-DES-CBC3-SHA:DES-CBC3-SHA"
		  ":EDH-RSA-DES-CBC-SHA:EDH-DSS-DES-CBC-SHA:DH-RSA-DES-CBC-SHA"
		  ":DH-DSS-DES-CBC-SHA:DES-CBC-SHA",
		.ciphersuites = "",
		.curves = "prime256v1:secp521r1:brainpoolP512r1:brainpoolP384r1"
		  ":secp384r1:brainpoolP256r1:secp256k1:sect571r1:sect571k1"
		  ":sect409k1:sect409r1:sect283k1:sect283r1",
		.services = "ANY",
		.send_sni = true,
		.lowest_protocol = 0x0300,
		.highest_protocol = 0x0303,
		.min_rsa_bits = -1,
		.min_ecdsa_bits = -1,
		.requires_sha2 = false,
		.current = true,
	},
	{
		.name = "OpenSSL 3.0.3 (git)",
		.short_name = "openssl_303",
		.ciphers = "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384"
		  ":DHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305"
		  ":ECDHE-RSA-CHACHA20-POLY1305:DHE-RSA-CHACHA20-POLY1305"
		  ":ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256"
		  ":DHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-SHA384"
		  ":ECDHE-RSA-AES256-SHA384:DHE-RSA-AES256-SHA256"
		  ":ECDHE-ECDSA-AES128-SHA256:ECDHE-RSA-AES128-SHA256"
		  ":DHE-RSA-AES128-SHA256:ECDHE-ECDSA-AES256-SHA"
		  ":ECDHE-RSA-AES256-SHA:DHE-RSA-AES256-SHA"
		  ":ECDHE-ECDSA-AES128-SHA:ECDHE-RSA-AES128-SHA"
		  ":DHE-RSA-AES128-SHA:AES256-GCM-SHA384:AES128-GCM-SHA256"
		  ":AES256-SHA256:AES128-SHA256:AES256-SHA:AES128-SHA",
		.ciphersuites = "TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256"
		  ":TLS_AES_128_GCM_SHA256",
		.curves = "X25519:secp256r1:x448:secp521r1:secp384r1",
		.alpn = "h2,http/1.1",
		.services = "ANY",
		.send_sni = true,
		.lowest_protocol = 0x0301,
		.highest_protocol = 0x0304,
		.min_rsa_bits = -1,
		.min_ecdsa_bits = -1,
		.requires_sha2 = true,
		.current = true,
	},
};

/* Normalises one record and appends it; the generic profiles then get
 * their own security level (normalisation only knows 0 and 1). */
static int add_one(struct profile_caps *caps, const struct profile_raw *raw,
		   int seclevel, struct profile_list *list)
{
	struct profile p;
	int rc;

	if (profile_from_raw(caps, raw, PROFILE_BUILTIN, &p) != 0)
		return -1;
	if (seclevel >= 0)
		p.seclevel = seclevel;
	rc = profile_list_push(list, &p);
	profile_free(&p);
	return rc;
}

int profile_add_builtins(struct profile_list *list)
{
	struct profile_caps *caps;
	size_t start = list->len;
	char err[256];
	int rc = -1;

	caps = profile_caps_new(err, sizeof err);
	if (caps == NULL)
		return -1;
	for (size_t i = 0; i < sizeof generics / sizeof generics[0]; i++)
		if (add_one(caps, &generics[i].raw, generics[i].seclevel, list) != 0)
			goto out;
	for (size_t i = 0; i < sizeof clients / sizeof clients[0]; i++)
		if (add_one(caps, &clients[i], -1, list) != 0)
			goto out;
	rc = 0;
out:
	if (rc != 0) {
		/* All or nothing: take back what this call appended. */
		while (list->len > start)
			profile_free(&list->items[--list->len]);
	}
	profile_caps_free(caps);
	return rc;
}
