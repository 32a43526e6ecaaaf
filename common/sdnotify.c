/*
 * sdnotify.c - sd_notify(3) over a plain AF_UNIX datagram socket (see
 * sdnotify.h). Written against the protocol systemd documents as stable, so
 * the daemons need no libsystemd.
 */
#include "sdnotify.h"

#include <errno.h>
#include <event2/event.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

#define SDNOTIFY_MSG_MAX 4096

/* Fills *sa from $NOTIFY_SOCKET. Returns its length, 0 when unset, -1 with
 * errno on an address we cannot use. */
static int notify_addr(struct sockaddr_un *sa, socklen_t *len)
{
	const char *e = getenv("NOTIFY_SOCKET");
	if (!e || !*e)
		return 0;
	if (e[0] != '/' && e[0] != '@') {
		/* newer systemd may also hand out vsock:...; we speak AF_UNIX only */
		errno = EAFNOSUPPORT;
		return -1;
	}
	size_t n = strlen(e);
	memset(sa, 0, sizeof *sa);
	sa->sun_family = AF_UNIX;
	/* A path needs its NUL inside sun_path; an abstract name (leading NUL
	 * instead of '@') is exactly n bytes and is not NUL-terminated. */
	if (n >= sizeof sa->sun_path + (e[0] == '@')) {
		errno = ENAMETOOLONG;
		return -1;
	}
	memcpy(sa->sun_path, e, n);
	if (e[0] == '@') {
		sa->sun_path[0] = '\0';
		*len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n);
	} else {
		*len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + 1);
	}
	return 1;
}

int sdnotify_send(const char *msg)
{
	struct sockaddr_un sa;
	socklen_t salen = 0;
	int r = notify_addr(&sa, &salen);
	if (r <= 0)
		return r;
	size_t n = msg ? strlen(msg) : 0;
	if (n == 0) {
		errno = EMSGSIZE;
		return -1;
	}
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	ssize_t sent = sendto(fd, msg, n, MSG_NOSIGNAL, (struct sockaddr *)&sa, salen);
	int saved = errno;
	close(fd);
	if (sent < 0) {
		errno = saved;
		return -1;
	}
	if ((size_t)sent != n) {
		/* a datagram is all or nothing; a short count means something odd */
		errno = EMSGSIZE;
		return -1;
	}
	return 1;
}

int sdnotify_sendf(const char *fmt, ...)
{
	char buf[SDNOTIFY_MSG_MAX];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof buf) {
		errno = EMSGSIZE;
		return -1;
	}
	return sdnotify_send(buf);
}

/* A STATUS= value is one line: systemd would take a newline as the start of
 * the next assignment, so a status with one could set other variables. */
static int status_ok(const char *status)
{
	if (strchr(status, '\n')) {
		errno = EINVAL;
		return 0;
	}
	return 1;
}

int sdnotify_ready(const char *status)
{
	if (!status)
		return sdnotify_send("READY=1");
	if (!status_ok(status))
		return -1;
	return sdnotify_sendf("READY=1\nSTATUS=%s", status);
}

int sdnotify_reloading(void)
{
	struct timespec ts;
	if (clock_gettime(CLOCK_MONOTONIC, &ts) < 0)
		return -1;
	uint64_t usec = (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
	return sdnotify_sendf("RELOADING=1\nMONOTONIC_USEC=%" PRIu64, usec);
}

int sdnotify_stopping(void)
{
	return sdnotify_send("STOPPING=1");
}

int sdnotify_watchdog(void)
{
	return sdnotify_send("WATCHDOG=1");
}

int sdnotify_status(const char *status)
{
	if (!status) {
		errno = EINVAL;
		return -1;
	}
	if (!status_ok(status))
		return -1;
	return sdnotify_sendf("STATUS=%s", status);
}

/* A decimal unsigned number and nothing else. */
static int parse_u64(const char *s, uint64_t *out)
{
	if (!s || *s < '0' || *s > '9')
		return -1;
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno || *end)
		return -1;
	*out = v;
	return 0;
}

uint64_t sdnotify_watchdog_usec(void)
{
	uint64_t usec, pid;
	if (parse_u64(getenv("WATCHDOG_USEC"), &usec) < 0 || usec == 0)
		return 0;
	const char *p = getenv("WATCHDOG_PID");
	if (p && *p) {
		if (parse_u64(p, &pid) < 0 || pid != (uint64_t)getpid())
			return 0;
	}
	return usec;
}

struct sdnotify_watchdog {
	struct event *timer;
	unsigned failures; /* consecutive failed pings, logged once per run */
};

static void on_watchdog(evutil_socket_t fd, short what, void *arg)
{
	struct sdnotify_watchdog *w = arg;
	if (sdnotify_watchdog() < 0) {
		if (w->failures++ == 0)
			log_warn("sdnotify: WATCHDOG=1 not sent: %s", strerror(errno));
	} else {
		w->failures = 0;
	}
}

struct sdnotify_watchdog *sdnotify_watchdog_start(struct event_base *base, const char **err)
{
	*err = NULL;
	uint64_t usec = sdnotify_watchdog_usec();
	if (usec == 0)
		return NULL;
	struct sdnotify_watchdog *w = calloc(1, sizeof *w);
	if (!w) {
		*err = "out of memory";
		return NULL;
	}
	w->timer = event_new(base, -1, EV_PERSIST, on_watchdog, w);
	if (!w->timer) {
		*err = "event_new failed";
		goto fail;
	}
	uint64_t half = usec / 2;
	struct timeval tv = { .tv_sec = (time_t)(half / 1000000u),
			      .tv_usec = (suseconds_t)(half % 1000000u) };
	if (event_add(w->timer, &tv) < 0) {
		*err = "event_add failed";
		goto fail;
	}
	/* the first ping now: the interval runs from when the service started */
	on_watchdog(-1, EV_TIMEOUT, w);
	return w;
fail:
	sdnotify_watchdog_free(w);
	return NULL;
}

void sdnotify_watchdog_free(struct sdnotify_watchdog *w)
{
	if (!w)
		return;
	if (w->timer)
		event_free(w->timer);
	free(w);
}
