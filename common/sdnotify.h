/*
 * sdnotify.h - systemd's readiness/watchdog protocol (sd_notify(3)) without
 * libsystemd, for `Type=notify` units with `WatchdogSec=`.
 *
 * The protocol: the service manager puts the path of an AF_UNIX datagram
 * socket in $NOTIFY_SOCKET ("/run/systemd/notify", or "@name" for the Linux
 * abstract namespace); the service sends newline-separated VAR=VALUE
 * assignments to it, one datagram per message. READY=1 once it serves,
 * RELOADING=1 / READY=1 around a configuration reload, STOPPING=1 when it
 * begins to drain, WATCHDOG=1 at least every $WATCHDOG_USEC microseconds,
 * STATUS=... a one-line status `systemctl status` shows.
 *
 * Not under systemd ($NOTIFY_SOCKET unset or empty) every call is a no-op
 * that returns 0, so the daemons call these unconditionally.
 *
 * Ownership: nothing here keeps a pointer to its arguments. The watchdog
 * timer of sdnotify_watchdog_start() belongs to the caller, who frees it with
 * sdnotify_watchdog_free() before freeing the event_base.
 */
#ifndef TW_SDNOTIFY_H
#define TW_SDNOTIFY_H

#include <stdint.h>

struct event_base;

/*
 * Sends msg (e.g. "READY=1\nSTATUS=serving") as one datagram to
 * $NOTIFY_SOCKET. Returns 1 when sent, 0 when $NOTIFY_SOCKET is unset or
 * empty, -1 with errno set otherwise (EAFNOSUPPORT for an address that is
 * neither a path nor "@abstract", ENAMETOOLONG when it does not fit
 * sun_path, EMSGSIZE when msg is empty, or the socket/sendto error).
 */
int sdnotify_send(const char *msg) __attribute__((warn_unused_result));

/* The same as sdnotify_send() with a printf format; the message is capped
 * at 4 KiB (longer ones fail with EMSGSIZE rather than being cut). */
int sdnotify_sendf(const char *fmt, ...) __attribute__((format(printf, 1, 2)))
	__attribute__((warn_unused_result));

/* The usual messages. READY=1 may carry a status line (NULL for none);
 * reloading also sends MONOTONIC_USEC, which `Type=notify-reload` needs. */
int sdnotify_ready(const char *status) __attribute__((warn_unused_result));
int sdnotify_reloading(void) __attribute__((warn_unused_result));
int sdnotify_stopping(void) __attribute__((warn_unused_result));
int sdnotify_watchdog(void) __attribute__((warn_unused_result));
int sdnotify_status(const char *status) __attribute__((warn_unused_result));

/*
 * The watchdog interval systemd expects pings within, in microseconds, from
 * $WATCHDOG_USEC; 0 when there is none, when it does not parse, or when
 * $WATCHDOG_PID names another process (the variable was inherited).
 */
uint64_t sdnotify_watchdog_usec(void);

/*
 * When sdnotify_watchdog_usec() is not 0: arms a persistent timer on base
 * that sends WATCHDOG=1 every half interval (systemd's advice), so the pings
 * stop exactly when the event loop stops turning. Returns the timer, or NULL
 * when no watchdog is wanted (*err set to NULL) or on failure (*err says why).
 */
struct sdnotify_watchdog;
struct sdnotify_watchdog *sdnotify_watchdog_start(struct event_base *base, const char **err);
/* Deletes and frees the timer; NULL is fine. */
void sdnotify_watchdog_free(struct sdnotify_watchdog *w);

#endif
