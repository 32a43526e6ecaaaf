/*
 * tlsprobe.h - a small blocking mutual-TLS client that plays a probe against
 * the collector's probe port: Hello, ResultBatch and Heartbeat frames out,
 * Ack and Error frames in. Tests use it to be a good probe and to be every
 * kind of bad one. No Criterion here (linked into every test): functions
 * report failure by their return value.
 *
 * Ownership: tw_probe_connect() returns a client the caller frees with
 * tw_probe_free(). Envelopes returned by tw_probe_read_env() belong to the
 * caller (tlswatch__envelope__free_unpacked).
 */
#ifndef TW_TLSPROBE_H
#define TW_TLSPROBE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <openssl/ssl.h>

#include "tlswatch.pb-c.h"

struct tw_probe {
	int fd;
	SSL_CTX *ctx;
	SSL *ssl;
	bool handshake_ok;
	unsigned local_port;
	char peer[64];          /* how the collector names us: peer=127.0.0.1:PORT */
};

/* Connects to 127.0.0.1:port with the certificate pki_dir/NAME.pem/.key
 * (name NULL: none), trusting pki_dir/pipe-ca.pem; maxver 0 = any TLS
 * version. The handshake may fail (refused clients): see handshake_ok.
 * NULL only when the client cannot be set up (files, socket, connect). */
struct tw_probe *tw_probe_connect(const char *pki_dir, const char *name, int maxver, int port);
void tw_probe_free(struct tw_probe *c);

/* SO_RCVTIMEO for the following reads. */
void tw_probe_set_timeout(struct tw_probe *c, unsigned ms);
/* Raw bytes; a refused client's write may fail, which is not reported: the
 * test notices by what it reads next. */
void tw_probe_write(struct tw_probe *c, const void *buf, size_t len);
/* One frame: 0, or -1 when it cannot be encoded. */
int tw_probe_send(struct tw_probe *c, const Tlswatch__Envelope *e);
/* Next envelope: 1 ok (*out is the caller's), 0 closed, -1 timeout,
 * -2 the collector sent something that is not a frame. */
int tw_probe_read_env(struct tw_probe *c, Tlswatch__Envelope **out);
/* True when the collector closes the connection within a few seconds
 * (nothing but a close, or frames then a close). */
bool tw_probe_closed_by_peer(struct tw_probe *c);
/* Nothing arrives within ms (the connection stays open and quiet). */
bool tw_probe_quiet_for(struct tw_probe *c, unsigned ms);

int tw_probe_send_hello(struct tw_probe *c, const char *probe_id, const char *region);
int tw_probe_send_heartbeat(struct tw_probe *c);
/* Results seq first..last with started_unix_ms = started_base_ms + seq * 1000
 * (so a replay is byte-identical); claim_probe/claim_region go into every
 * Result (NULL: left out, as the real probe may do). */
int tw_probe_send_batch(struct tw_probe *c, uint64_t first, uint64_t last,
			const char *claim_probe, const char *claim_region,
			int64_t started_base_ms);

#endif
