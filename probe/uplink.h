/*
 * uplink.h - the probe's stream to the collector (DESIGN 5).
 *
 * TLS over TCP with the probe's client certificate, verifying the collector
 * against ca_file and the host name of the address. Frames are
 * common/frame.h Envelopes. One struct uplink with an explicit state:
 *
 *   IDLE -> RESOLVING/CONNECTING -> HANDSHAKING -> STREAMING
 *     ^                                              |
 *     +------ BACKOFF (exponential, full jitter) <---+ on any error/close
 *
 * On STREAMING it sends Hello {probe_id, region, version, last_acked_seq,
 * spool_epoch, heartbeat_ms},
 * then batches read from the spool after the highest sequence sent so far
 * (starting from the spool's acked seq on every new connection, so every
 * unacked record is replayed). A batch is sent when it reaches
 * batch_max_records or batch_max_bytes, or batch_max_delay_ms after the
 * first pending record; at most window_batches unacked batches are in
 * flight. An Ack(seq) acks the spool up to seq (an Ack past the spool's
 * last seq is logged and ignored: it cannot be about this spool). Heartbeats go out every
 * heartbeat_ms; a connection that has heard nothing for 3 heartbeats is
 * closed and retried. Records leave the spool only through acks.
 *
 * Ownership: the spool is borrowed and must outlive the uplink.
 */
#ifndef TW_UPLINK_H
#define TW_UPLINK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <event2/event.h>
#include <event2/dns.h>

#include "spool.h"

struct uplink;

struct uplink_opts {
	const char *host;          /* collector host name or IP literal */
	unsigned port;
	const char *ca_file;       /* CA that signed the collector's certificate */
	const char *cert_file;     /* the probe's client certificate + key */
	const char *key_file;
	const char *probe_id;      /* sent in Hello; the collector trusts the cert */
	const char *region;
	const char *version;
	size_t batch_max_records;  /* 0 = 500 */
	size_t batch_max_bytes;    /* 0 = 1 MiB */
	unsigned batch_max_delay_ms; /* 0 = 200 */
	unsigned window_batches;   /* 0 = 8 */
	unsigned heartbeat_ms;     /* 0 = 10000 */
	unsigned backoff_min_ms;   /* 0 = 250 */
	unsigned backoff_max_ms;   /* 0 = 30000 */
	unsigned connect_timeout_ms; /* 0 = 10000 */
	size_t max_frame;          /* 0 = FRAME_DEFAULT_MAX */
};

/* Counters for heartbeats, logs and tests. */
struct uplink_stats {
	bool connected;            /* STREAMING */
	uint64_t connects;         /* successful TLS handshakes */
	uint64_t failures;         /* connection attempts or streams that failed */
	uint64_t sent_seq;         /* highest seq sent on this connection */
	uint64_t acked_seq;        /* highest seq acked by the collector */
	uint64_t batches_sent;
	uint64_t records_sent;     /* including replays */
};

/* Loads the TLS material and starts connecting. NULL with err set when the
 * files cannot be loaded (missing, key not matching, key world-readable). */
struct uplink *uplink_new(struct event_base *base, struct evdns_base *dns, struct spool *sp,
			  const struct uplink_opts *o, char *err, size_t errlen);

/* New records were appended to the spool: send them (now or when the batch
 * timer fires). Cheap; call after every append. */
void uplink_kick(struct uplink *u);

/* Extra fields for the next heartbeat (scheduler counters). */
void uplink_set_overdue(struct uplink *u, uint64_t overdue);

/* For shutdown: true when every record in the spool has been acked. */
bool uplink_drained(const struct uplink *u);

void uplink_get_stats(const struct uplink *u, struct uplink_stats *st);

/* Closes the connection and frees everything. NULL is fine. */
void uplink_free(struct uplink *u);

#endif
