/*
 * test_sdnotify.c - common/sdnotify.c against a real AF_UNIX datagram socket
 * standing in for systemd's notification socket (path and abstract
 * namespace), and the watchdog timer on a real libevent loop.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <event2/event.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "sdnotify.h"

TestSuite(sdnotify);

static char dir[64];
static char sock_path[128];

/* A datagram socket bound to a fresh path; NOTIFY_SOCKET points at it. */
static int listen_path(void)
{
	snprintf(dir, sizeof dir, "/tmp/tw-sdnotify.XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
	snprintf(sock_path, sizeof sock_path, "%s/notify", dir);
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	cr_assert_geq(fd, 0);
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	memcpy(sa.sun_path, sock_path, strlen(sock_path) + 1);
	cr_assert_eq(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0, "bind: %s", strerror(errno));
	cr_assert_eq(setenv("NOTIFY_SOCKET", sock_path, 1), 0);
	return fd;
}

static void unlisten_path(int fd)
{
	close(fd);
	unlink(sock_path);
	rmdir(dir);
}

/* Receives one datagram (non-blocking: it must already be there). */
static void expect_msg(int fd, const char *want)
{
	char buf[4200];
	ssize_t n = recv(fd, buf, sizeof buf - 1, MSG_DONTWAIT);
	cr_assert_geq(n, 0, "no datagram waiting for \"%s\": %s", want, strerror(errno));
	buf[n] = '\0';
	cr_assert_str_eq(buf, want);
}

static void expect_none(int fd)
{
	char buf[64];
	cr_assert_lt(recv(fd, buf, sizeof buf, MSG_DONTWAIT), 0, "an unexpected datagram");
	cr_assert(errno == EAGAIN || errno == EWOULDBLOCK);
}

Test(sdnotify, unset_socket_is_a_noop)
{
	cr_assert_eq(unsetenv("NOTIFY_SOCKET"), 0);
	cr_assert_eq(sdnotify_ready(NULL), 0);
	cr_assert_eq(sdnotify_watchdog(), 0);
	cr_assert_eq(setenv("NOTIFY_SOCKET", "", 1), 0);
	cr_assert_eq(sdnotify_stopping(), 0);
}

Test(sdnotify, sends_each_message_to_a_path_socket)
{
	int fd = listen_path();
	cr_assert_eq(sdnotify_ready(NULL), 1);
	expect_msg(fd, "READY=1");
	cr_assert_eq(sdnotify_ready("listening on 127.0.0.1:7443"), 1);
	expect_msg(fd, "READY=1\nSTATUS=listening on 127.0.0.1:7443");
	cr_assert_eq(sdnotify_stopping(), 1);
	expect_msg(fd, "STOPPING=1");
	cr_assert_eq(sdnotify_watchdog(), 1);
	expect_msg(fd, "WATCHDOG=1");
	cr_assert_eq(sdnotify_status("42 probes"), 1);
	expect_msg(fd, "STATUS=42 probes");
	cr_assert_eq(sdnotify_sendf("ERRNO=%d", 5), 1);
	expect_msg(fd, "ERRNO=5");
	expect_none(fd);
	unlisten_path(fd);
}

Test(sdnotify, reloading_carries_a_monotonic_timestamp)
{
	int fd = listen_path();
	struct timespec before;
	cr_assert_eq(clock_gettime(CLOCK_MONOTONIC, &before), 0);
	cr_assert_eq(sdnotify_reloading(), 1);
	char buf[256];
	ssize_t n = recv(fd, buf, sizeof buf - 1, MSG_DONTWAIT);
	cr_assert_gt(n, 0);
	buf[n] = '\0';
	unsigned long long usec = 0;
	cr_assert_eq(sscanf(buf, "RELOADING=1\nMONOTONIC_USEC=%llu", &usec), 1, "got \"%s\"", buf);
	unsigned long long b = (unsigned long long)before.tv_sec * 1000000ull +
			       (unsigned long long)before.tv_nsec / 1000ull;
	cr_assert_geq(usec, b);
	cr_assert_lt(usec - b, 10000000ull, "timestamp %llu is not from CLOCK_MONOTONIC", usec);
	unlisten_path(fd);
}

Test(sdnotify, abstract_namespace_address)
{
	char name[64];
	snprintf(name, sizeof name, "tw-sdnotify-test-%ld", (long)getpid());
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	cr_assert_geq(fd, 0);
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	size_t n = strlen(name);
	memcpy(sa.sun_path + 1, name, n); /* sun_path[0] = NUL: abstract */
	socklen_t len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + n);
	cr_assert_eq(bind(fd, (struct sockaddr *)&sa, len), 0, "bind: %s", strerror(errno));
	char env[80];
	snprintf(env, sizeof env, "@%s", name);
	cr_assert_eq(setenv("NOTIFY_SOCKET", env, 1), 0);
	cr_assert_eq(sdnotify_ready(NULL), 1);
	expect_msg(fd, "READY=1");
	close(fd);
}

Test(sdnotify, refuses_what_it_cannot_send)
{
	cr_assert_eq(setenv("NOTIFY_SOCKET", "relative/path", 1), 0);
	cr_assert_eq(sdnotify_ready(NULL), -1);
	cr_assert_eq(errno, EAFNOSUPPORT);
	cr_assert_eq(setenv("NOTIFY_SOCKET", "vsock:2:1234", 1), 0);
	cr_assert_eq(sdnotify_watchdog(), -1);
	cr_assert_eq(errno, EAFNOSUPPORT);

	char longp[200];
	memset(longp, 'a', sizeof longp - 1);
	longp[0] = '/';
	longp[sizeof longp - 1] = '\0';
	cr_assert_eq(setenv("NOTIFY_SOCKET", longp, 1), 0);
	cr_assert_eq(sdnotify_ready(NULL), -1);
	cr_assert_eq(errno, ENAMETOOLONG);

	cr_assert_eq(setenv("NOTIFY_SOCKET", "/nonexistent-dir-tw/notify", 1), 0);
	cr_assert_eq(sdnotify_ready(NULL), -1);
	cr_assert_eq(errno, ENOENT);

	/* a newline in a status would smuggle in another assignment */
	int fd = listen_path();
	cr_assert_eq(sdnotify_status("ok\nREADY=1"), -1);
	cr_assert_eq(errno, EINVAL);
	cr_assert_eq(sdnotify_ready("a\nb"), -1);
	cr_assert_eq(sdnotify_send(""), -1);
	cr_assert_eq(errno, EMSGSIZE);
	char big[5000];
	memset(big, 'x', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	cr_assert_eq(sdnotify_sendf("STATUS=%s", big), -1);
	cr_assert_eq(errno, EMSGSIZE);
	expect_none(fd);
	unlisten_path(fd);
}

Test(sdnotify, watchdog_interval_from_the_environment)
{
	char pid[32];
	cr_assert_eq(unsetenv("WATCHDOG_PID"), 0);
	cr_assert_eq(unsetenv("WATCHDOG_USEC"), 0);
	cr_assert_eq(sdnotify_watchdog_usec(), 0);
	cr_assert_eq(setenv("WATCHDOG_USEC", "30000000", 1), 0);
	cr_assert_eq(sdnotify_watchdog_usec(), 30000000u);
	snprintf(pid, sizeof pid, "%ld", (long)getpid());
	cr_assert_eq(setenv("WATCHDOG_PID", pid, 1), 0);
	cr_assert_eq(sdnotify_watchdog_usec(), 30000000u);
	/* inherited from a parent: not ours to ping */
	snprintf(pid, sizeof pid, "%ld", (long)getpid() + 1);
	cr_assert_eq(setenv("WATCHDOG_PID", pid, 1), 0);
	cr_assert_eq(sdnotify_watchdog_usec(), 0);
	cr_assert_eq(unsetenv("WATCHDOG_PID"), 0);
	const char *bad[] = { "", "0", "-5", "12x", "x", " 12", "99999999999999999999999" };
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		cr_assert_eq(setenv("WATCHDOG_USEC", bad[i], 1), 0);
		cr_assert_eq(sdnotify_watchdog_usec(), 0, "WATCHDOG_USEC=\"%s\"", bad[i]);
	}
}

struct pings {
	int fd;
	int seen;
	struct event_base *base;
};

static void on_ping(evutil_socket_t fd, short what, void *arg)
{
	struct pings *p = arg;
	char buf[64];
	ssize_t n;
	while ((n = recv(fd, buf, sizeof buf - 1, MSG_DONTWAIT)) > 0) {
		buf[n] = '\0';
		cr_assert_str_eq(buf, "WATCHDOG=1");
		if (++p->seen == 3)
			event_base_loopbreak(p->base);
	}
}

static void on_deadline(evutil_socket_t fd, short what, void *arg)
{
	struct pings *p = arg;
	cr_assert_fail("only %d watchdog pings within the deadline", p->seen);
}

Test(sdnotify, watchdog_timer_pings_from_the_loop)
{
	struct pings p = { .fd = listen_path() };
	cr_assert_eq(unsetenv("WATCHDOG_PID"), 0);
	cr_assert_eq(setenv("WATCHDOG_USEC", "40000", 1), 0); /* pings every 20 ms */
	p.base = event_base_new();
	cr_assert_not_null(p.base);
	struct event *rd = event_new(p.base, p.fd, EV_READ | EV_PERSIST, on_ping, &p);
	struct event *dl = evtimer_new(p.base, on_deadline, &p);
	cr_assert(rd && dl);
	struct timeval ten = { 10, 0 };
	cr_assert_eq(event_add(rd, NULL), 0);
	cr_assert_eq(event_add(dl, &ten), 0);
	const char *err = "unset";
	struct sdnotify_watchdog *w = sdnotify_watchdog_start(p.base, &err);
	cr_assert_not_null(w, "watchdog_start: %s", err ? err : "(no reason)");
	cr_assert_eq(event_base_dispatch(p.base), 0);
	cr_assert_eq(p.seen, 3);
	sdnotify_watchdog_free(w);
	event_free(rd);
	event_free(dl);
	event_base_free(p.base);
	unlisten_path(p.fd);
}

Test(sdnotify, no_watchdog_without_the_variable)
{
	cr_assert_eq(unsetenv("WATCHDOG_USEC"), 0);
	struct event_base *base = event_base_new();
	cr_assert_not_null(base);
	const char *err = "unset";
	cr_assert_null(sdnotify_watchdog_start(base, &err));
	cr_assert_null(err);
	sdnotify_watchdog_free(NULL);
	event_base_free(base);
}
