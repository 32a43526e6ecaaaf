/*
 * ingest_refusal.h - why the probe server refused or closed a connection:
 * the fixed vocabulary of its log lines, /metrics labels and the Error
 * frame's code (ingest_refusal_name() in ingest.h gives the names). A header
 * of its own so that ingest_tls.h can name a refusal without ingest.h.
 */
#ifndef TW_INGEST_REFUSAL_H
#define TW_INGEST_REFUSAL_H

/* Why a connection was refused; each has a metrics label (ingest_refusal_name). */
enum ingest_refusal {
	REFUSE_MAX_CONNECTIONS = 0,
	REFUSE_NO_CLIENT_CERT,
	REFUSE_CERT_VERIFY_FAILED,
	REFUSE_TLS_HANDSHAKE_FAILED,
	REFUSE_HANDSHAKE_TIMEOUT,
	REFUSE_CERT_IDENTITY,          /* certificate without a usable CN or OU */
	REFUSE_HELLO_TIMEOUT,
	REFUSE_HELLO_MISMATCH,         /* Hello probe_id/region differ from the certificate */
	REFUSE_IDENTITY_MISMATCH,      /* a Result claims another probe_id/region */
	REFUSE_FRAME_TOO_LARGE,
	REFUSE_MALFORMED_FRAME,
	REFUSE_PROTOCOL,               /* a valid frame at the wrong time, result without seq */
	REFUSE_HANDSHAKE_LIMIT,        /* oldest unfinished handshake closed for a new one */
	REFUSE_PROBE_CONFLICT,         /* the probe's identity streams on a live connection already */
	REFUSE_MEMORY_LIMIT,           /* a frame would take more memory than a connection may */
	REFUSE_RESULT_LIMITS,          /* a Result past the caps on repeated fields / strings */
	REFUSE__COUNT
};

/* Why the collector closed an accepted probe stream (not a refusal). */
enum ingest_close {
	CLOSE_PEER = 0,                /* the probe disconnected */
	CLOSE_IDLE_TIMEOUT,
	CLOSE_SUPERSEDED,              /* the same probe connected again after this
					* connection went silent (ingest_proto.c) */
	CLOSE_DB_FAILED,               /* the database failed the same rows too often */
	CLOSE_SHUTDOWN,
	CLOSE__COUNT
};

#endif
