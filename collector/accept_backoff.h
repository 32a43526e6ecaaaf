/*
 * accept_backoff.h - what a listener does when accept() fails because the
 * process or the system is out of descriptors (EMFILE, ENFILE) or of
 * kernel memory (ENOBUFS, ENOMEM).
 *
 * The pending connection stays in the kernel's backlog, so the listening
 * socket stays readable and libevent would call accept() again at once:
 * a busy loop that writes one error line per turn. Instead the listener is
 * disabled and a timer enables it again after a pause that doubles with
 * each failure in a row (ACCEPT_BACKOFF_MIN_MS .. ACCEPT_BACKOFF_MAX_MS) and
 * starts over after accept_backoff_ok(). The error is logged at most once
 * per ACCEPT_BACKOFF_LOG_MS with the count of the lines held back. Other
 * accept errors (ECONNABORTED, a peer gone before accept) are logged the
 * same way and do not pause.
 *
 * Ownership: the listener is borrowed; free the backoff (accept_backoff_free)
 * before the listener, since its timer enables the listener. Names are
 * prefixed accept_backoff_.
 */
#ifndef TW_COL_ACCEPT_BACKOFF_H
#define TW_COL_ACCEPT_BACKOFF_H

#include <event2/event.h>
#include <event2/listener.h>

#define ACCEPT_BACKOFF_MIN_MS 50u
#define ACCEPT_BACKOFF_MAX_MS 1000u
#define ACCEPT_BACKOFF_LOG_MS 10000u

struct accept_backoff;

/* Installs itself as lev's error callback; what names the listener in the
 * log ("probe listener"), a string that must outlive the backoff. NULL when
 * out of memory. */
struct accept_backoff *accept_backoff_new(struct event_base *base, struct evconnlistener *lev,
					  const char *what);

/* A connection was accepted: the next failure pauses for the minimum again. */
void accept_backoff_ok(struct accept_backoff *ab);

/* Pauses taken so far (for /metrics and tests). */
unsigned long long accept_backoff_pauses(const struct accept_backoff *ab);

/* Stops the timer; the listener stays as it is. NULL is fine. */
void accept_backoff_free(struct accept_backoff *ab);

#endif
