/*
 * probe_run.h - run the real tlswatch-probe binary and parse its JSON Lines.
 *
 * For integration tests. No Criterion here: every test binary links every
 * tests/harness/ C file. Failures to set up (fork, pipe, missing env) abort
 * with a message on stderr: a test cannot go on without them.
 *
 * Environment: TW_BUILD (default "build") locates build/tlswatch-probe;
 * TW_PKI the test PKI made by tests/harness/mkpki.sh; TW_PORT_* the fixture
 * ports (tests/integration/test_check.sh).
 *
 * Ownership: a struct probe_run owns its buffers and JSON objects;
 * probe_run_free() releases them. Strings returned by tw_* helpers live in a
 * small ring of static buffers (valid for the next 16 tw_* calls): use them
 * to build one command line, not to keep.
 */
#ifndef TW_PROBE_RUN_H
#define TW_PROBE_RUN_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#define PROBE_RUN_MAX_LINES 64
#define PROBE_RUN_DEFAULT_TIMEOUT 15 /* seconds before the probe is killed */

struct probe_run {
	int exit_code;      /* exit status, or -1 if killed by a signal */
	int term_signal;    /* signal that ended it, 0 if it exited */
	bool timed_out;     /* we killed it after the timeout */
	double wall_ms;     /* fork to exit, monotonic */
	char *out;          /* stdout, NUL-terminated (never NULL after a run) */
	char *err;          /* stderr, NUL-terminated (never NULL after a run) */
	json_t *lines[PROBE_RUN_MAX_LINES]; /* stdout lines that parsed as JSON objects */
	size_t n_lines;
	size_t bad_lines;   /* non-empty stdout lines that did not */
	char cmdline[2048]; /* what was run, shell-quoted, for messages */
};

/* Runs argv (argv[0] is the program path; NULL-terminated) with stdin from
 * /dev/null, collecting stdout and stderr; kills it after timeout_sec.
 * Returns 0 when it ran (whatever its status), -1 if it could not start. */
int probe_run_argv(struct probe_run *r, char *const argv[], int timeout_sec);

/* Runs: $TW_BUILD/tlswatch-probe check --json --ca-file $TW_PKI/root.pem
 * ARGS... where ARGS is a NULL-terminated list. Aborts if it cannot run. */
void probe_check(struct probe_run *r, ...);

/* Like probe_check without the implicit --json/--ca-file: the whole
 * argument list after "tlswatch-probe" is given (e.g. "check", ...). */
void probe_exec(struct probe_run *r, ...);

void probe_run_free(struct probe_run *r);

/* The i-th JSON line, or NULL. */
json_t *probe_line(const struct probe_run *r, size_t i);

/* A multi-line description of the run (command, status, stdout, stderr)
 * for assertion messages. Static buffer, truncated. */
const char *probe_describe(const struct probe_run *r);

/* --- JSON accessors: NULL / false / NAN when absent or of another type */
const char *pj_str(const json_t *o, const char *key);
bool pj_is_null(const json_t *o, const char *key);   /* present and null */
bool pj_has(const json_t *o, const char *key);       /* key present */
bool pj_bool(const json_t *o, const char *key, bool *val); /* true if a boolean */
bool pj_num(const json_t *o, const char *key, double *val); /* true if a number */
bool pj_array_has_str(const json_t *o, const char *key, const char *s);
bool pj_has_finding(const json_t *o, const char *finding);
/* verify_errors[] has an item with this depth (and code, unless code < 0) */
bool pj_has_verify_error(const json_t *o, int depth, int code);

/* --- environment and paths */
const char *tw_env(const char *name);              /* aborts when unset/empty */
const char *tw_probe_bin(void);                    /* $TW_BUILD/tlswatch-probe */
const char *tw_pki(const char *file);              /* $TW_PKI/file */
const char *tw_port(const char *port_env);         /* value of TW_PORT_x */
const char *tw_target(const char *host, const char *port_env); /* host:$port */
const char *tw_loopback(const char *port_env);     /* 127.0.0.1:$port */

/* --- facts computed from a certificate with the openssl CLI
 * (independent of the probe), written to buf; 0 or -1. */
/* which: "startdate" or "enddate" -> RFC 3339 UTC "2026-11-24T13:00:00Z" */
int tw_cert_date(const char *pem, const char *which, char *buf, size_t n);
/* SHA-256 fingerprint of the (first) certificate: lowercase hex, no colons */
int tw_cert_fingerprint(const char *pem, char *buf, size_t n);
/* lowercase, strip ':' (normalises a fingerprint for comparison) */
void tw_normalise_hex(const char *in, char *out, size_t n);
/* seconds since the epoch of an RFC 3339 UTC "YYYY-MM-DDTHH:MM:SSZ" (fractions
 * allowed), or -1 */
long long tw_rfc3339_epoch(const char *s);

/* Copies FILE to $TW_WORK/NAME (or a temp dir) with MODE; returns the path
 * (static ring buffer). Aborts on failure. */
const char *tw_copy_file(const char *src, const char *name, unsigned mode);

#endif
