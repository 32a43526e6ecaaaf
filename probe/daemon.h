/*
 * daemon.h - `tlswatch-probe run`: the scheduling daemon (DESIGN 4.5).
 *
 * One libevent loop carries everything: the scheduler's timer
 * (sched.h), every handshake (handshake.h, the same engine and Result
 * as `check`), the spool (spool.h) and the uplink to the collector
 * (uplink.h). Per finished handshake: classify -> result_fill -> identity,
 * seq, service, labels, interval, mtls -> pack -> spool_append ->
 * uplink_kick.
 *
 * The loop never waits for the disk: fsync, rename and unlink (the spool's
 * acks, rotations and periodic syncs, and the stats file) run on one
 * background worker thread (bio.h) and report back to the loop. A slow
 * disk delays durability, not handshakes; the stats file's "durable"
 * object shows how far behind it is.
 *
 * Configuration generations. A loaded probe.yaml, its profile list, its
 * shared TLS contexts (one per distinct profile x client cert/key x
 * ca_file) and its schedule entries form one generation. SIGHUP builds a
 * new generation completely (parse, validate profile names, build contexts)
 * and only then swaps it in; any failure logs
 *   reload failed: FILE:LINE:COL: ...; keeping the previous configuration
 * and changes nothing. Handshakes in flight keep their old generation
 * (strings, contexts, labels) alive until the last of them finishes.
 * Collector, spool and probe identity settings are NOT reloaded (the spool
 * and the stream are long-lived and carry the identity); a reload that
 * changes them logs that a restart is needed and keeps the running values.
 * Reloaded live: targets, profiles, intervals, timeouts, concurrency,
 * spool.fsync_interval, log level/format (unless given on the command line).
 *
 * Signals: SIGHUP reload; SIGTERM/SIGINT stop (no new handshakes; in-flight
 * ones get until min(longest target timeout, 10 s), the rest are abandoned
 * and not written; then up to 5 s for the collector to ack what is spooled;
 * spool synced and closed; exit 0; a second SIGTERM/SIGINT skips the
 * waiting); SIGUSR1 writes the stats file now.
 */
#ifndef TW_DAEMON_H
#define TW_DAEMON_H

#include <stdbool.h>
#include <stddef.h>

#include "config.h"
#include "profile.h"

/* Exit codes of `run`. */
enum { DAEMON_EXIT_OK = 0, DAEMON_EXIT_RUNTIME = 1, DAEMON_EXIT_CONFIG = 2 };

struct daemon_opts {
	const char *config_path;
	const char *testssl_db;     /* loaded when readable */
	const char *stats_file;     /* NULL: none */
	unsigned summary_ms;        /* summary log + stats file period; 0 = 60000 */
	int log_level;              /* -1: from the config (default info) */
	int log_json;               /* -1: from the config */
	const char *nameserver;     /* IP[:PORT]: the one DNS server asked; NULL: resolv.conf */
};

/* Runs until stopped. Returns DAEMON_EXIT_*: 2 when the configuration (or
 * a file it names) is unusable at startup, 1 for runtime failures (spool
 * not openable, event loop), 0 after a clean stop. */
int daemon_run(const struct daemon_opts *o);

/* Builtins plus the testssl.sh database when db is readable. 0, or -1 with
 * err set. The list is the caller's (profile_list_free). */
int daemon_load_profiles(struct profile_list *all, const char *db, char *err, size_t errlen);

/* Every profile name of every target exists, can be emulated, and no
 * target names one profile twice (e.g. by name and by short name). 0 with
 * *entries = target x profile count, or -1 with
 * "FILE:LINE:COL: targets[i].profiles: ..." in err. */
int daemon_check_profiles(const struct probe_config *cfg, const struct profile_list *all,
			  size_t *entries, char *err, size_t errlen);

#endif
