/*
 * ingest_int.h - the probe server's internal types, shared by its files:
 *
 *   ingest.c         the server object: options, statistics, backpressure
 *                    (pause/resume reading for every connection), the reaper
 *   ingest_listen.c  the listening socket, accept and its limits, shutdown
 *   ingest_tls.c     the server SSL_CTX and a probe's identity from its
 *                    client certificate (CN = probe id, OU = region)
 *   ingest_conn.c    one connection's state machine: ingest_conn_drive()
 *                    and ingest_conn_set_state(), its I/O and its events
 *   ingest_commit.c  a connection's database side: last-seq lookup, one
 *                    job at a time, acks after commits, retries
 *   ingest_proto.c   what each frame means (Hello, ResultBatch, Heartbeat)
 *   ingest_batch.c   the per-connection queue of received batches
 *
 * Ownership: struct ingest owns every struct ingest_conn (on its live list
 * while open, on its closed list until the reaper frees it); a connection
 * owns its bufferevent (which owns the SSL and the socket), its events and
 * its batch queue. The event_base and the db_pool are borrowed.
 */
#ifndef TW_INGEST_INT_H
#define TW_INGEST_INT_H

#include "db.h"
#include "ingest.h"
#include "ingest_batch.h"
#include "log.h"
#include "frame.h"

#include <netinet/in.h>
#include <openssl/ssl.h>

#define INGEST_MAX_DB_ATTEMPTS 5
#define INGEST_RETRY_MIN_MS    500
#define INGEST_RETRY_MAX_MS    8000
#define INGEST_ID_MAX          128   /* probe id / region from a certificate */
#define INGEST_VERSION_MAX     64
#define INGEST_EPOCH_MAX       32    /* hex digits of a spool epoch (probe/spool.h) */
#define INGEST_HEARTBEAT_DEFAULT_MS 10000 /* a Hello that does not say its period */
/* Caps on one Result (ingest_frame.c): refused past them (result_limits). */
#define INGEST_MAX_FINDINGS      64
#define INGEST_MAX_VERIFY_ERRORS 32
#define INGEST_MAX_LABELS        64
#define INGEST_MAX_SANS          1024   /* leaf_sans, and any other repeated field */
#define INGEST_MAX_STRING        4096   /* bytes of any one string */
#define INGEST_RESUME_POLL_MS  1000
#define INGEST_LINGER_MS       2000  /* a refused peer gets this long to read the Error */

/* What an I/O step achieved, memcached-style. */
enum conn_io {
	IO_COMPLETE,    /* done: go on */
	IO_INCOMPLETE,  /* needs another event (more bytes, room in the database) */
	IO_SOFT_ERROR,  /* failed this time, c is fine: a later attempt may work */
	IO_HARD_ERROR,  /* c was refused or closed: stop */
};

/*
 * A connection's life. ingest_conn_set_state() is the only writer; it logs
 * the transition, arms the state's deadline and sets reading.
 */
enum conn_state {
	/* TCP accepted, TLS handshake in progress (the peer must present a
	 * certificate from ca_file). Deadline: handshake_timeout. */
	CONN_TLS_ACCEPTING = 0,
	/* TLS up; probe id and region taken from the certificate. The first
	 * frame must be a Hello naming the same probe. Deadline: hello_timeout. */
	CONN_AWAIT_HELLO,
	/* Hello accepted: ResultBatches go to the database (see enum conn_db),
	 * Heartbeats update the probe's last_seen. Deadline: idle_timeout since
	 * the last frame or commit, suspended while reading is paused or rows
	 * await their Ack. */
	CONN_STREAMING,
	/* Shutting down: no more reading; pending and in-flight batches are
	 * committed and acked, then the connection closes once its output is
	 * flushed. Bounded by the shutdown timeout, not a deadline of its own. */
	CONN_DRAINING,
	/* Superseded by a newer connection of the same probe while a db job was
	 * in flight: not reading, not acking; kept until that job finishes so
	 * the successor's commits come after it. No deadline. */
	CONN_RETIRING,
	/* Refused after the TLS handshake: an Error frame (code = the refusal
	 * name) is queued; input is discarded until the output is written.
	 * Deadline: INGEST_LINGER_MS. */
	CONN_REFUSING,
	/* The Error frame is written and our side is shut for writing; input is
	 * discarded until the peer closes, so that closing does not reset the
	 * connection before the peer has read the Error. Deadline: the rest of
	 * INGEST_LINGER_MS. */
	CONN_LINGERING,
	/* Closed: events off, on the free-later list, freed by the reaper. */
	CONN_CLOSED,
};

/*
 * The database side of a connection that sent its Hello. conn_set_db() is
 * the only writer. At most one database request is outstanding per
 * connection, so commits (and acks) of one probe happen in order.
 */
enum conn_db {
	/* Hello not accepted yet, or accepted and the db_last_seq lookup not
	 * asked yet (a predecessor's job still runs: nothing may be sent to
	 * the database before it ends). */
	CDB_LOOKUP_DUE = 0,
	/* db_last_seq asked: its answer (Ack of what is committed) outstanding. */
	CDB_LOOKUP,
	/* Nothing in flight: pending batches go out when the database takes rows. */
	CDB_IDLE,
	/* One db_ingest job in flight (c->job); its callback decides what next. */
	CDB_JOB,
	/* The last attempt failed (database error, out of memory): c->retry
	 * fires (or the database says it is ready) and the rows go again. */
	CDB_BACKOFF,
};

struct ingest_conn {
	struct ingest *ing;
	struct ingest_conn *prev, *next;  /* live list, or the closed list */
	enum conn_state state;
	enum conn_db db;
	struct bufferevent *bev;          /* owns the SSL and the socket */
	SSL *ssl;                         /* borrowed from bev */
	struct event *deadline;           /* the state's timer */
	struct event *retry;              /* CDB_BACKOFF's timer */
	struct event *kick;               /* deferred ingest_conn_drive (never re-entrant) */
	char peer[INET6_ADDRSTRLEN + 8];
	char probe_id[INGEST_ID_MAX];     /* certificate CN ("" before the handshake) */
	char region[INGEST_ID_MAX];       /* certificate OU */
	char *version;                    /* from Hello, may be NULL */
	char epoch[INGEST_EPOCH_MAX + 1]; /* from Hello: the probe's spool epoch, "" if none */
	unsigned heartbeat_ms;            /* from Hello: the probe's heartbeat period */
	double heard_ms;                  /* twtime_mono_ms of the last frame read, or of
					   * reading (re)starting: the liveness clock */

	struct ingest_batchq q;           /* received, not yet committed */
	struct db_job *job;               /* CDB_JOB: the job, once db_ingest returned */
	unsigned db_failures;             /* consecutive failures of the same rows */
	uint64_t lookup_id;               /* CDB_LOOKUP: our entry in the lookup table */
	struct ingest_conn *lookup_next;  /* the lookup table's chain */
	uint64_t acked_seq;               /* highest seq acked on this connection */
	struct db_probe_counters beat;    /* the last heartbeat's spool counters */
	int64_t beat_at_ms;               /* when it came (wall clock); 0: none yet */

	struct ingest_conn *predecessor;  /* same probe, older, db job still running */
	struct ingest_conn *successor;
};

/* Whether the server is taking new connections. */
enum ingest_phase {
	INGEST_RUNNING = 0,
	/* ingest_shutdown() called: no accepting, connections drain. */
	INGEST_SHUTTING_DOWN,
};

struct accept_backoff;

struct ingest {
	struct event_base *base;
	struct db_pool *db;
	SSL_CTX *ctx;
	struct evconnlistener *lev;
	struct accept_backoff *backoff;   /* pauses lev at the descriptor limit */
	struct log_ratelimit refuse_rl;   /* "refused (max_connections)" lines */
	unsigned port;
	struct ingest_opts o;
	struct event *reaper;
	struct event *resume_poll;        /* while paused: is the database back? */
	struct ingest_conn *live;         /* doubly linked */
	struct ingest_conn *closed;
	bool db_paused;                   /* reading stopped on every connection */
	bool bytes_full;                  /* st.buffered_bytes + a frame's budget would pass
					   * o.max_total_bytes: streams stop reading */
	struct ingest_stats st;

	enum ingest_phase phase;
	struct event *shutdown_timer;
	struct event *shutdown_done_ev;
	void (*done)(void *arg);
	void *done_arg;
};

/* ---- ingest.c ---- */
void ingest_list_remove(struct ingest_conn **head, struct ingest_conn *c);
void ingest_list_push(struct ingest_conn **head, struct ingest_conn *c);
/* Rows go to the database only when it is up, migrated and has room. */
bool ingest_db_takes_rows(const struct ingest *ing);
/* Stops reading on every connection until the database takes rows again. */
void ingest_pause_all(struct ingest *ing);
void ingest_schedule_reaper(struct ingest *ing);
void ingest_ms_to_tv(unsigned ms, struct timeval *tv);
/* What decoding one frame may cost: max_conn_bytes / 2. */
size_t ingest_frame_budget(const struct ingest *ing);
/* Decoded batches came into (add) or left (sub) some connection's queue:
 * st.buffered_bytes follows, and reading stops everywhere while another
 * frame's budget would not fit under max_total_bytes, resumes after. */
void ingest_bytes_add(struct ingest *ing, size_t n);
void ingest_bytes_sub(struct ingest *ing, size_t n);

/* ---- ingest_listen.c ---- */
/* Binds o->host:o->port (LEV_OPT_DISABLED) and records the port. 0, or -1
 * with the reason. */
int ingest_listen_bind(struct ingest *ing, const struct ingest_opts *o, char *err,
		       size_t errlen);
/* During shutdown: tells the caller once no connection is left. */
void ingest_listen_check_shutdown_done(struct ingest *ing);

/* ---- ingest_conn.c ---- */
/* Takes fd (closed on failure). NULL when out of memory. */
struct ingest_conn *ingest_conn_new(struct ingest *ing, evutil_socket_t fd, const char *peer);
/* The one re-entry point: does whatever c's state needs now. */
void ingest_conn_drive(struct ingest_conn *c);
/* Drives c from the loop soon (never inside the caller). */
void ingest_conn_kick(struct ingest_conn *c);
void ingest_conn_set_state(struct ingest_conn *c, enum conn_state st);
/* Restarts the idle clock of a streaming connection. */
void ingest_conn_idle_restart(struct ingest_conn *c);
/* Stops or resumes reading to match the state and the backpressure. */
void ingest_conn_update_reading(struct ingest_conn *c);
/* Closes c: its job is cancelled, its batches dropped; freed later by the
 * reaper. Statistics and logging are the caller's. */
void ingest_conn_close(struct ingest_conn *c);
/* A misbehaving peer: one warning with the reason, counted by kind; after
 * the TLS handshake the peer is told why in an Error frame first. */
void ingest_conn_refuse(struct ingest_conn *c, enum ingest_refusal why, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* The same, logged at lvl (a refusal someone must look at: error). */
void ingest_conn_refuse_at(struct ingest_conn *c, enum log_level lvl, enum ingest_refusal why,
			   const char *fmt, ...) __attribute__((format(printf, 4, 5)));
/* Whether c's socket is being read now (not paused, not closed). */
bool ingest_conn_is_reading(const struct ingest_conn *c);
/* Ends an accepted stream for a reason that is not the peer's fault. */
void ingest_conn_end(struct ingest_conn *c, enum ingest_close why, enum log_level lvl,
		     const char *fmt, ...) __attribute__((format(printf, 4, 5)));
void ingest_conn_log(const struct ingest_conn *c, enum log_level lvl, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void ingest_conn_free(struct ingest_conn *c);
/* Acks seq (or the highest acked so far, if more): never backwards. An Ack
 * that cannot be queued is covered by the next one. */
void ingest_conn_send_ack(struct ingest_conn *c, uint64_t seq);
/* IO_COMPLETE when everything queued for the peer is written. */
enum conn_io ingest_conn_flushed(struct ingest_conn *c);

/* ---- ingest_commit.c ---- */
/* The database side's next move (STREAMING, DRAINING): the db_last_seq
 * lookup after Hello, then one job at a time, never while a predecessor's
 * job runs. */
void ingest_commit_step(struct ingest_conn *c);
/* The database takes rows again: a backoff ends, c is driven. */
void ingest_commit_db_ready(struct ingest_conn *c);
/* c->retry's callback: the backoff is over. */
void ingest_commit_retry_cb(evutil_socket_t fd, short what, void *arg);
/* Cancels c's job, forgets its lookup, stops its backoff (closing). */
void ingest_commit_release(struct ingest_conn *c);

/* ---- ingest_frame.c ---- */
/* frame_read_evbuffer() with a memory budget for the unpacking: FRAME_OK
 * with *env (the caller's; free_unpacked(env, NULL)) and *cost, the bytes
 * it took; FRAME_MALFORMED with *over_budget set when the budget ran out. */
enum frame_status ingest_frame_read(struct evbuffer *in, size_t max_frame, size_t budget,
				    Tlswatch__Envelope **env, size_t *cost, bool *over_budget,
				    char *err, size_t errlen);
/* 0 when r is within the INGEST_MAX_* caps; -1 with the field in why. */
int ingest_frame_check_result(const Tlswatch__Result *r, char *why, size_t cap);

/* ---- ingest_proto.c ---- */
/* Handles one decoded frame; takes env. c's state may have changed
 * (streaming after a Hello, refusing, closed). */
void ingest_proto_on_frame(struct ingest_conn *c, Tlswatch__Envelope *env, size_t cost);

#endif
