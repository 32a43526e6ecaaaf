/*
 * profile.h - emulated TLS client profiles (DESIGN 4.1).
 *
 * A profile is data: what a client offers. tlsctx.c turns one into an
 * SSL_CTX. Profiles come from the built-in table (profile_builtin.c) or
 * from testssl.sh's client database (testssl_db.c).
 *
 * Ownership: a struct profile_list owns its profiles and every string in
 * them; profile_list_free() releases all of it. Strings are heap copies,
 * NULL when the client does not set that knob (OpenSSL default applies).
 */
#ifndef TW_PROFILE_H
#define TW_PROFILE_H

#include <stdbool.h>
#include <stddef.h>

enum profile_origin {
	PROFILE_BUILTIN,   /* hand-written table in profile_builtin.c */
	PROFILE_TESTSSL,   /* loaded from testssl.sh client-simulation.txt */
	PROFILE_CUSTOM     /* built from command-line or config overrides */
};

struct profile {
	char *name;          /* contract name, e.g. "modern", "Java 8u161" */
	char *short_name;    /* testssl.sh "short" id, e.g. "java_8u161"; may be NULL */
	enum profile_origin origin;

	int min_version;     /* TLS1_VERSION .. TLS1_3_VERSION; 0 = no limit.
			      * A non-emulatable client keeps its real range
			      * here (SSL2_VERSION/SSL3_VERSION) for display. */
	int max_version;
	char *ciphers;       /* TLS<=1.2 cipher list (OpenSSL syntax), NULL = default */
	char *ciphersuites;  /* TLS1.3 suites, NULL = default; "" = none */
	char *groups;        /* "X25519:P-256", NULL = default */
	char *sigalgs;       /* "ECDSA+SHA256:RSA+SHA256", NULL = default */
	bool send_sni;
	char *alpn;          /* comma separated, e.g. "h2,http/1.1"; NULL = none */
	int seclevel;        /* OpenSSL security level to run at (0..5) */
	bool request_ocsp;   /* sends status_request */
	bool reads_cn;       /* matches the CN when a certificate has no
			      * subjectAltName (profile_cn.c says who does) */
	bool fetches_ca_issuers; /* completes a chain through the caIssuers URL
			      * (AIA) of the certificate whose issuer is
			      * missing (profile_aia.c says who does) */

	/* Certificate policy of the real client, beyond what the security
	 * level makes OpenSSL enforce (testssl.sh: minRsaBits, minEcdsaBits,
	 * requiresSha2). -1 / false = no extra requirement. classify.c turns
	 * a violation into the weak_key / weak_signature outcome. */
	int min_rsa_bits;
	int min_ecdsa_bits;
	bool requires_sha2;

	/* testssl.sh metadata */
	bool current;        /* testssl.sh marks the client as current */
	char *services;      /* "HTTP,FTP" or NULL */

	/* A client OpenSSL 3 cannot emulate (SSLv2/SSLv3-only, export-only
	 * ciphers) stays in the list with emulatable=false and the reason. */
	bool emulatable;
	char *unsupported_reason;

	/* Some of what the real client offers cannot be offered by this
	 * OpenSSL build (e.g. Debian's has no 3DES, RC4, static ECDH). The
	 * profile still runs; this says what was left out. NULL when none. */
	char *caveat;

	/* optional client certificate (mTLS) */
	char *client_cert;
	char *client_key;
};

struct profile_list {
	struct profile *items;
	size_t len;
	size_t cap;
};

/*
 * One client as testssl.sh describes it, before normalisation: the strings
 * are borrowed (not copied, not freed) and use testssl.sh's conventions
 * (protocols as 0x0300..0x0304 wire numbers, ':' separated OpenSSL cipher
 * and curve names, "" for none). The loader fills one per names+= block;
 * profile_builtin.c keeps a static table of them.
 */
struct profile_raw {
	const char *name;
	const char *short_name;    /* NULL or "" = none */
	const char *ciphers;       /* TLS<=1.2 cipher names */
	const char *ciphersuites;  /* TLS1.3 suites */
	const char *curves;
	const char *alpn;          /* NULL or "" = no ALPN */
	const char *services;      /* NULL or "" = none */
	bool send_sni;
	int lowest_protocol;       /* 0x0200 (SSLv2) .. 0x0304 (TLS1.3) */
	int highest_protocol;
	int min_rsa_bits;          /* -1 = none */
	int min_ecdsa_bits;
	bool requires_sha2;
	bool current;
};

/*
 * What this OpenSSL build can offer: the cipher names it knows, and a
 * scratch SSL_CTX to test TLS1.3 suites and groups against. Build one per
 * batch of profile_from_raw() calls (building it costs an SSL_CTX).
 * Returns NULL with the reason in err.
 */
struct profile_caps;
struct profile_caps *profile_caps_new(char *err, size_t errlen);
void profile_caps_free(struct profile_caps *caps);

/*
 * Normalises *raw into *out (DESIGN 4.1) for OpenSSL 3: SSLv2/SSLv3-only
 * clients and clients none of whose ciphers exist here get
 * emulatable=false and unsupported_reason; a lowest version below TLS1.0
 * is raised to TLS1.0; ciphers, TLS1.3 suites and groups this build
 * cannot offer are dropped and named in caveat; seclevel is 0 when the
 * client speaks below TLS1.2, else 1. *out owns fresh heap strings (free
 * with profile_free()); on failure (-1, out of memory) *out holds nothing.
 */
int profile_from_raw(struct profile_caps *caps, const struct profile_raw *raw,
		     enum profile_origin origin, struct profile *out);

/* Appends the built-in profiles (modern, intermediate, legacy, tls13 and the
 * real-client emulations) to *list. Returns 0, or -1 on allocation or
 * OpenSSL failure with the list left as it was. */
int profile_add_builtins(struct profile_list *list);

/* Appends every client of a testssl.sh client-simulation.txt to *list.
 * Returns the number of clients added, or -1 with a message in err
 * (file:line: what was wrong). Profiles whose name already exists in the
 * list are skipped (built-ins win), and counted in *skipped if non-NULL.
 * On error the list is left as it was before the call. */
int testssl_db_load(const char *path, struct profile_list *list,
		    size_t *skipped, char *err, size_t errlen);

/* The path searched when no database path is given. */
#define TESTSSL_DB_DEFAULT "/etc/testssl/client-simulation.txt"

/* Appends a deep copy of *p to *list; returns 0 or -1 (ENOMEM). */
int profile_list_push(struct profile_list *list, const struct profile *p);
/* The profile with that exact name; failing that, with that short_name
 * (e.g. "java_8u161"). NULL when none. */
const struct profile *profile_find(const struct profile_list *list,
				   const char *name);
void profile_free(struct profile *p);     /* frees the strings, not p */
void profile_list_free(struct profile_list *list);
const char *profile_origin_name(enum profile_origin o);
/* The version's name as OpenSSL spells it ("SSLv3", "TLSv1", "TLSv1.2"),
 * "any" for 0, "unknown" otherwise. */
const char *profile_version_name(int version);

#endif
