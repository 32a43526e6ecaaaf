/* accept_backoff.c - pausing a listener that cannot accept (see accept_backoff.h). */
#include "accept_backoff.h"
#include "log.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

struct accept_backoff {
	struct evconnlistener *lev;     /* borrowed */
	struct event *timer;            /* enables lev again */
	const char *what;
	unsigned delay_ms;              /* the next pause */
	unsigned long long pauses;
	struct log_ratelimit rl;
	struct accept_backoff *next;    /* in backoffs */
};

/*
 * libevent hands the error callback the listener and the listener's own
 * argument, which belongs to whoever accepts (evhttp passes its struct
 * evhttp). So the backoff of a listener is found by the listener: a short
 * list (one entry per listening socket), touched only on the loop thread.
 */
static struct accept_backoff *backoffs;

static void resume_cb(evutil_socket_t fd, short what, void *arg)
{
	struct accept_backoff *ab = arg;
	if (evconnlistener_enable(ab->lev) != 0)
		log_error("%s: cannot enable accepting again", ab->what);
}

static bool out_of_resources(int e)
{
	return e == EMFILE || e == ENFILE || e == ENOBUFS || e == ENOMEM;
}

static void error_cb(struct evconnlistener *lev, void *arg)
{
	int e = EVUTIL_SOCKET_ERROR();
	struct accept_backoff *ab = backoffs;
	while (ab && ab->lev != lev)
		ab = ab->next;
	if (!ab)
		return;
	if (!out_of_resources(e)) {
		log_every(&ab->rl, ACCEPT_BACKOFF_LOG_MS, TWLOG_WARN, "%s: accept failed: %s",
			  ab->what, evutil_socket_error_to_string(e));
		return;
	}
	unsigned ms = ab->delay_ms;
	struct timeval tv = { ms / 1000, (long)(ms % 1000) * 1000 };
	ab->pauses++;
	if (ab->delay_ms < ACCEPT_BACKOFF_MAX_MS)
		ab->delay_ms = ab->delay_ms * 2 > ACCEPT_BACKOFF_MAX_MS ? ACCEPT_BACKOFF_MAX_MS
									 : ab->delay_ms * 2;
	if (evconnlistener_disable(lev) != 0 || evtimer_add(ab->timer, &tv) != 0) {
		/* without the timer a disabled listener would never come back */
		evconnlistener_enable(lev);
		log_every(&ab->rl, ACCEPT_BACKOFF_LOG_MS, TWLOG_ERROR,
			  "%s: accept failed: %s; cannot pause accepting", ab->what,
			  evutil_socket_error_to_string(e));
		return;
	}
	log_every(&ab->rl, ACCEPT_BACKOFF_LOG_MS, TWLOG_ERROR,
		  "%s: accept failed: %s; accepting paused for %u ms (pauses=%llu)", ab->what,
		  evutil_socket_error_to_string(e), ms, ab->pauses);
}

struct accept_backoff *accept_backoff_new(struct event_base *base, struct evconnlistener *lev,
					  const char *what)
{
	struct accept_backoff *ab = calloc(1, sizeof *ab);
	if (!ab)
		return NULL;
	ab->timer = evtimer_new(base, resume_cb, ab);
	if (!ab->timer) {
		free(ab);
		return NULL;
	}
	ab->lev = lev;
	ab->what = what;
	ab->delay_ms = ACCEPT_BACKOFF_MIN_MS;
	ab->next = backoffs;
	backoffs = ab;
	evconnlistener_set_error_cb(lev, error_cb);
	return ab;
}

void accept_backoff_ok(struct accept_backoff *ab)
{
	ab->delay_ms = ACCEPT_BACKOFF_MIN_MS;
}

unsigned long long accept_backoff_pauses(const struct accept_backoff *ab)
{
	return ab->pauses;
}

void accept_backoff_free(struct accept_backoff *ab)
{
	if (!ab)
		return;
	for (struct accept_backoff **p = &backoffs; *p; p = &(*p)->next)
		if (*p == ab) {
			*p = ab->next;
			break;
		}
	event_free(ab->timer);
	free(ab);
}
