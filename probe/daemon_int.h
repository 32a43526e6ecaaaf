/*
 * daemon_int.h - what the daemon's files share (not for use outside
 * probe/daemon*.c; the API is daemon.h, which its files include first).
 *
 *   daemon.c         the loop: startup, signals, periodic events, stop states
 *   daemon_gen.c     configuration generations: build, TLS contexts, reload
 *   daemon_runner.c  the target runner: start handshakes when due, classify,
 *                    number, pack and spool each result
 *   daemon_stats.c   the stats file (written by the background worker) and
 *                    the summary log line
 *
 * Objects and who owns them:
 *   struct daemon   the loop, resolver, scheduler, spool, uplink, signal and
 *                   timer events, counters; one per process.
 *   struct dgen     one configuration generation: the probe_config, its
 *                   profile list, shared TLS contexts, schedule entries
 *                   (struct dentry, the scheduler's udata) and the proto
 *                   Labels of each target. Current, or retired and kept
 *                   until `inflight` reaches 0.
 *   struct drun     one handshake in flight: its generation's entry, the
 *                   scheduler entry, the hs_conn. Freed in run_done() (the
 *                   done callback, delivered from its own event, so hs_free
 *                   there is allowed) or when abandoned at shutdown.
 *                   A target with `addresses: all` first gets a fan run: no
 *                   hs_conn, its DNS lookup (dnsreq) in flight; the answer
 *                   starts one child run per address (parent = the fan, which
 *                   counts them in pending). The fan alone holds the
 *                   scheduler entry: it is done when its last child is.
 *
 * States of the daemon (d->state, changed only by set_state()):
 *   RUNNING   scheduling and writing results
 *   DRAINING  stop requested: nothing new starts; in-flight handshakes
 *             finish (and are written) until the drain deadline
 *   GRACE     everything finished or abandoned; the uplink gets a short
 *             grace to have the spool acked
 *   STOPPED   the loop is told to exit; daemon_run syncs and closes
 */
#ifndef TW_DAEMON_INT_H
#define TW_DAEMON_INT_H

#include "classify.h"
#include "config.h"
#include "profile.h"
#include "sched.h"
#include "tlsctx.h"
#include "twtime.h"

#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <event2/event.h>
#include <event2/dns.h>

#include "tlswatch.pb-c.h"

struct bio;
struct daemon_opts;
struct spool;
struct uplink;
struct hs_conn;

#define DRAIN_MAX_MS      10000     /* in-flight handshakes get at most this at stop */
#define GRACE_MS          5000      /* the uplink gets this to have the spool acked */
#define GRACE_POLL_MS     50
#define MTLS_WAIT_MS      500       /* as `check`'s default */
#define OCSP_SLOW_MS      1000      /* as `check`'s default */
#define ERR_LOG_EVERY_MS  10000     /* rate limit of repeated per-result errors */

/* ---- types ---- */

struct dgen;

struct dentry {
	struct dgen *gen;
	const struct config_target *t;
	size_t tidx;
	const struct profile *p;
	struct tlsctx *tc;
};

struct dctx {
	char *key;                  /* profile NUL cert NUL key NUL ca, for sharing */
	size_t keylen;
	uint64_t hash;
	struct tlsctx *tc;
};

struct dgen {
	unsigned id;
	struct probe_config *cfg;
	struct profile_list profiles;
	struct dctx *ctxs;
	size_t nctxs;
	struct dentry *entries;
	size_t nentries;
	Tlswatch__Label *labels;    /* all targets' labels, pointing into cfg */
	Tlswatch__Label **labelv;   /* per target: labelv + label_off[t], nlabels */
	size_t *label_off;
	unsigned inflight;          /* runs started from this generation, not done */
	unsigned max_timeout_ms;
	struct dgen *next;          /* retired list */
};

struct drun {
	struct daemon *d;
	struct dentry *de;
	struct sched_entry *se;     /* NULL in a fan's child */
	struct hs_conn *conn;       /* NULL in a fan */
	struct drun *parent;        /* a fan's child: the fan */
	struct evdns_getaddrinfo_request *dnsreq; /* a fan while its lookup runs */
	bool fan;                   /* addresses: all, see above */
	bool resolving;             /* a fan before its lookup answered */
	unsigned pending;           /* a fan: children not done */
	struct drun *prev, *next;
};

enum daemon_state {
	D_RUNNING,    /* scheduling */
	D_DRAINING,   /* waiting for in-flight handshakes (deadline) */
	D_GRACE,      /* waiting for the collector's acks (deadline) */
	D_STOPPED     /* loop exiting */
};

struct daemon {
	const struct daemon_opts *o;
	enum daemon_state state;
	struct event_base *base;
	struct evdns_base *dns;
	struct sched *sched;
	struct dgen *gen;           /* current */
	struct dgen *retired;       /* older generations with runs in flight */
	unsigned next_gen_id;
	struct spool *spool;
	struct uplink *uplink;

	/* running values of the settings that are not reloaded */
	char *probe_id, *region;
	char *coll_addr, *coll_ca, *coll_cert, *coll_key, *spool_path;
	uint64_t spool_max;
	unsigned batch_records, batch_delay, heartbeat;

	struct event *ev_tick;       /* the scheduler's next due time */
	struct event *ev_sync;       /* spool fsync, every fsync_ms */
	struct event *ev_summary;    /* summary log + stats file */
	struct event *ev_drain_end;  /* DRAINING deadline */
	struct event *ev_grace_poll; /* GRACE: is everything acked? */
	struct event *ev_grace_end;  /* GRACE deadline */
	struct event *ev_sig[4];
	struct sdnotify_watchdog *watchdog; /* systemd WatchdogSec pings, or NULL */
	unsigned fsync_ms;

	struct drun *runs;          /* in flight */
	size_t nruns;

	uint8_t *packbuf;
	size_t packcap;

	/* counters (this process) */
	double started_mono;
	uint64_t produced, by_outcome[OUT__COUNT], result_errors, start_failures;
	uint64_t abandoned, reloads, reload_failures, first_seq;
	uint64_t summary_produced;  /* at the previous summary */
	double last_err_log;

	/* background durable writes (bio.h): the spool's and the stats file's */
	struct bio *bio;
	bool stats_busy;            /* a stats file write is queued */
	char *stats_next;           /* the newest text to write after it, or NULL */
};

static inline int64_t daemon_mono_now(void)
{
	return (int64_t)floor(twtime_mono_ms());
}

static inline void daemon_arm_ms(struct event *ev, int64_t ms)
{
	struct timeval tv = { (time_t)(ms / 1000), (suseconds_t)((ms % 1000) * 1000) };
	event_add(ev, &tv);
}

/* daemon.c */
const char *daemon_state_name(enum daemon_state s);
void daemon_set_state(struct daemon *d, enum daemon_state s);
/* DRAINING: the last run finished -> GRACE */
void daemon_drain_check(struct daemon *d);

/* daemon_gen.c */
struct dgen *daemon_gen_build(const char *path, const char *db, char *err, size_t errlen);
void daemon_gen_free(struct dgen *g);
/* The scheduler's view of a generation. Caller frees the array. */
struct sched_spec *daemon_gen_specs(const struct dgen *g);
/* A retired generation goes once its last run is done. */
void daemon_gen_release(struct daemon *d, struct dgen *g);
void daemon_gen_apply_log(const struct daemon *d, const struct probe_config *cfg);
/* SIGHUP: build a new generation and swap it in, or log and keep the old. */
void daemon_gen_reload(struct daemon *d);

/* daemon_runner.c */
/* sched_start_cb: one entry's slot starts now. */
void daemon_runner_start(struct sched_entry *se, void *arg);
/* Starts what is due and re-arms the tick for the next due time. */
void daemon_runner_pump(struct daemon *d);
void daemon_runner_on_tick(evutil_socket_t fd, short what, void *arg);
/* Finishes the bookkeeping of a run (done or abandoned) and frees it. */
void daemon_runner_end(struct daemon *d, struct drun *run);
/* Abandons whatever is still in flight (not written). */
void daemon_runner_abandon_all(struct daemon *d);

/* daemon_stats.c */
/* The stats file, atomically (PATH.tmp, fsync, rename) on the background
 * worker; a write asked for while one is queued replaces the one waiting. */
void daemon_stats_write(struct daemon *d);
void daemon_stats_log(struct daemon *d, const char *what);

#endif
