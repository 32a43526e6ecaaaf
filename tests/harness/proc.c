/* proc.c - see proc.h. */
#include "proc.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

double tw_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

void tw_sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

pid_t tw_spawn(char *const argv[], const char *logpath)
{
	int fd = open(logpath, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	if (fd < 0) {
		fprintf(stderr, "tw_spawn: %s: %s\n", logpath, strerror(errno));
		return -1;
	}
	pid_t pid = fork();
	if (pid < 0) {
		close(fd);
		return -1;
	}
	if (pid == 0) {
		/* as from a terminal: a runner started in the background (`make
		 * test &`, nohup) ignores SIGINT and SIGQUIT, children inherit
		 * that, and a shell script cannot trap a signal ignored on entry -
		 * a test's Ctrl-C would then be lost on the way */
		sigset_t none;
		signal(SIGINT, SIG_DFL);
		signal(SIGQUIT, SIG_DFL);
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		int nul = open("/dev/null", O_RDONLY);
		if (nul >= 0)
			dup2(nul, 0);
		dup2(fd, 1);
		dup2(fd, 2);
		execv(argv[0], argv);
		fprintf(stderr, "tw_spawn: exec %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	close(fd);
	return pid;
}

int tw_wait_exit(pid_t pid, int timeout_ms)
{
	double end = tw_now_ms() + timeout_ms;
	int st;
	for (;;) {
		pid_t r = waitpid(pid, &st, WNOHANG);
		if (r == pid)
			return st;
		if (r < 0)
			return -1;
		if (tw_now_ms() >= end)
			return -1;
		tw_sleep_ms(20);
	}
}

int tw_stop(pid_t pid, int sig, int timeout_ms)
{
	if (pid <= 0)
		return -1;
	kill(pid, sig);
	int st = tw_wait_exit(pid, timeout_ms);
	if (st == -1) {
		kill(pid, SIGKILL);
		st = tw_wait_exit(pid, 5000);
	}
	return st;
}

bool tw_wait_port(int port, int timeout_ms)
{
	double end = tw_now_ms() + timeout_ms;
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	while (tw_now_ms() < end) {
		int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (s < 0)
			return false;
		int ok = connect(s, (struct sockaddr *)&sa, sizeof sa) == 0;
		close(s);
		if (ok)
			return true;
		tw_sleep_ms(50);
	}
	return false;
}

char *tw_read_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	size_t len = 0, cap = 0;
	if (!f)
		return NULL;
	for (;;) {
		if (cap - len < 4096) {
			char *nb = realloc(buf, cap ? cap * 2 : 8192);
			if (!nb) {
				free(buf);
				fclose(f);
				return NULL;
			}
			buf = nb;
			cap = cap ? cap * 2 : 8192;
		}
		size_t n = fread(buf + len, 1, cap - len - 1, f);
		len += n;
		if (n == 0)
			break;
	}
	fclose(f);
	buf[len] = '\0';
	return buf;
}

int tw_file_count(const char *path, const char *needle)
{
	char *s = tw_read_file(path);
	int n = 0;
	if (!s)
		return 0;
	for (const char *p = s; (p = strstr(p, needle)); p += strlen(needle))
		n++;
	free(s);
	return n;
}

int tw_write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	if (!f)
		return -1;
	int rc = fputs(text, f) < 0 ? -1 : 0;
	if (fclose(f) != 0)
		rc = -1;
	return rc;
}

const char *tw_fmt(const char *fmt, ...)
{
	static char ring[16][4096];
	static unsigned k;
	char *b = ring[k++ % 16];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(b, sizeof ring[0], fmt, ap);
	va_end(ap);
	return b;
}

PGconn *tw_pg(const char *dbname)
{
	const char *ci = getenv("TW_PG_CONNINFO");
	if (!ci) {
		fprintf(stderr, "tw_pg: TW_PG_CONNINFO is not set\n");
		return NULL;
	}
	const char *keys[] = { "dbname", NULL, NULL };
	const char *vals[] = { ci, NULL, NULL };
	/* expand_dbname: the first dbname is the whole conninfo; a later one overrides */
	keys[0] = "dbname";
	vals[0] = ci;
	if (dbname) {
		keys[1] = "dbname";
		vals[1] = dbname;
	}
	PGconn *c = PQconnectdbParams(keys, vals, 1);
	if (PQstatus(c) != CONNECTION_OK) {
		fprintf(stderr, "tw_pg: %s", PQerrorMessage(c));
		PQfinish(c);
		return NULL;
	}
	return c;
}

long long tw_pg_ll(PGconn *c, const char *sql)
{
	PGresult *r = PQexec(c, sql);
	long long v = -1;
	if (PQresultStatus(r) != PGRES_TUPLES_OK) {
		fprintf(stderr, "tw_pg_ll: %s: %s", sql, PQerrorMessage(c));
	} else if (PQntuples(r) > 0 && !PQgetisnull(r, 0, 0)) {
		v = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
	}
	PQclear(r);
	return v;
}

int tw_pg_exec(PGconn *c, const char *sql)
{
	PGresult *r = PQexec(c, sql);
	int ok = PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK;
	if (!ok)
		fprintf(stderr, "tw_pg_exec: %s: %s", sql, PQerrorMessage(c));
	PQclear(r);
	return ok ? 0 : -1;
}
