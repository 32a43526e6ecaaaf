/*
 * slow_fsync.c - an LD_PRELOAD shim that makes fsync() and fdatasync()
 * sleep TW_SLOW_FSYNC_MS milliseconds (default 200) before doing the real
 * call: a disk that is slow to make data durable, for tests that check the
 * probe's event loop does not wait for it (test_slow_disk).
 *
 * Not linked into anything: it lives in its own directory, so the
 * harness objects that every test links (the Makefile's wildcard over
 * tests/harness) do not pick it up. The test compiles it
 * at run time:  cc -shared -fPIC -o slow_fsync.so slow_fsync.c -ldl
 * Every call also bumps a counter that the destructor prints to stderr
 * ("slow_fsync: N calls, M on the main thread"), so a test can tell the
 * shim was in effect, and whether the thread that runs the event loop (the
 * process's first thread) ever waited for the disk itself.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

static unsigned long calls, main_calls;

static void nap(void)
{
	const char *e = getenv("TW_SLOW_FSYNC_MS");
	long ms = 200;
	if (e && *e) {
		char *end;
		long v = strtol(e, &end, 10);
		if (*end == '\0' && v >= 0)
			ms = v;
	}
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
	__atomic_add_fetch(&calls, 1, __ATOMIC_RELAXED);
	if (gettid() == getpid())
		__atomic_add_fetch(&main_calls, 1, __ATOMIC_RELAXED);
}

int fsync(int fd)
{
	int (*real)(int) = (int (*)(int))dlsym(RTLD_NEXT, "fsync");
	nap();
	if (!real) {
		errno = ENOSYS;
		return -1;
	}
	return real(fd);
}

int fdatasync(int fd)
{
	int (*real)(int) = (int (*)(int))dlsym(RTLD_NEXT, "fdatasync");
	nap();
	if (!real) {
		errno = ENOSYS;
		return -1;
	}
	return real(fd);
}

__attribute__((destructor)) static void report(void)
{
	fprintf(stderr, "slow_fsync: %lu calls, %lu on the main thread\n",
		__atomic_load_n(&calls, __ATOMIC_RELAXED),
		__atomic_load_n(&main_calls, __ATOMIC_RELAXED));
}
