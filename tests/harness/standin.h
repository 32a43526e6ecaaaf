/*
 * standin.h - a collector stand-in for probe tests: an mTLS listener on
 * 127.0.0.1 (port chosen by the kernel) in a thread of the test process,
 * speaking just enough of the stream (DESIGN 5) to exercise the probe's
 * uplink: it acks every batch at once with the highest seq in it, or, in
 * refuse mode, answers the Hello with an Error frame and closes.
 *
 * No Criterion here (linked into every test binary). Setup failures abort
 * with a message on stderr.
 *
 * Side effect: standin_start() ignores SIGPIPE in the test process.
 *
 * Ownership: standin_start() returns an object standin_stop() joins and
 * frees; the counters may be read (atomically) while it runs.
 */
#ifndef TW_STANDIN_H
#define TW_STANDIN_H

#include <stdbool.h>
#include <stdint.h>

struct standin_opts {
	const char *cert, *key;     /* the collector's identity */
	const char *ca;             /* verifies the probe's client certificate */
	const char *refuse_code;    /* non-NULL: refuse every Hello with this code */
	const char *refuse_message;
};

struct standin;

struct standin *standin_start(const struct standin_opts *o);
int standin_port(const struct standin *s);
/* Counters so far: TLS connections accepted, Hellos, batches, records,
 * highest seq acked, Error frames sent. */
uint64_t standin_count(const struct standin *s, const char *what);
void standin_stop(struct standin *s);

#endif
