/*
 * probe_run.c - run the tlswatch-probe binary (or any program) under a
 * timeout, collect its output and parse JSON Lines. See probe_run.h.
 */
#define _GNU_SOURCE
#include "probe_run.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define OUT_CAP (4 * 1024 * 1024)
#define MAX_ARGS 64

static void die(const char *what)
{
	fprintf(stderr, "probe_run: %s: %s\n", what, strerror(errno));
	abort();
}

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

/* A growable NUL-terminated buffer with a hard cap. */
struct buf {
	char *p;
	size_t len, cap;
};

static void buf_append(struct buf *b, const char *data, size_t n)
{
	if (b->len + n + 1 > OUT_CAP)
		n = OUT_CAP - 1 - b->len;
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 4096;
		while (cap < b->len + n + 1)
			cap *= 2;
		char *np = realloc(b->p, cap);
		if (!np)
			die("realloc");
		b->p = np;
		b->cap = cap;
	}
	memcpy(b->p + b->len, data, n);
	b->len += n;
	b->p[b->len] = '\0';
}

static void quote_cmdline(struct probe_run *r, char *const argv[])
{
	size_t off = 0;

	r->cmdline[0] = '\0';
	for (size_t i = 0; argv[i]; i++) {
		int w = snprintf(r->cmdline + off, sizeof(r->cmdline) - off, "%s'%s'",
				 i ? " " : "", argv[i]);
		if (w < 0 || (size_t)w >= sizeof(r->cmdline) - off)
			break;
		off += (size_t)w;
	}
}

static void parse_lines(struct probe_run *r)
{
	char *s = r->out;

	while (s && *s) {
		char *nl = strchr(s, '\n');
		size_t len = nl ? (size_t)(nl - s) : strlen(s);
		size_t k = 0;

		while (k < len && (s[k] == ' ' || s[k] == '\t' || s[k] == '\r'))
			k++;
		if (k < len) {
			json_error_t jerr;
			json_t *o = json_loadb(s, len, 0, &jerr);
			if (o && json_is_object(o) && r->n_lines < PROBE_RUN_MAX_LINES)
				r->lines[r->n_lines++] = o;
			else {
				json_decref(o);
				r->bad_lines++;
			}
		}
		s = nl ? nl + 1 : NULL;
	}
}

int probe_run_argv(struct probe_run *r, char *const argv[], int timeout_sec)
{
	int outp[2], errp[2];
	struct buf out = {0}, err = {0};
	double start, deadline;
	pid_t pid;
	int status = 0;

	memset(r, 0, sizeof(*r));
	r->exit_code = -1;
	quote_cmdline(r, argv);
	if (pipe2(outp, O_CLOEXEC) < 0 || pipe2(errp, O_CLOEXEC) < 0)
		return -1;
	start = now_ms();
	deadline = start + timeout_sec * 1000.0;
	pid = fork();
	if (pid < 0) {
		close(outp[0]); close(outp[1]); close(errp[0]); close(errp[1]);
		return -1;
	}
	if (pid == 0) {
		int devnull = open("/dev/null", O_RDONLY);

		setpgid(0, 0);
		if (devnull >= 0)
			dup2(devnull, 0);
		dup2(outp[1], 1);
		dup2(errp[1], 2);
		closefrom(3);
		signal(SIGPIPE, SIG_DFL);
		execvp(argv[0], argv);
		fprintf(stderr, "exec %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	setpgid(pid, pid); /* also in the parent, so the group exists for kill() */
	close(outp[1]);
	close(errp[1]);

	struct pollfd fds[2] = {{.fd = outp[0], .events = POLLIN}, {.fd = errp[0], .events = POLLIN}};
	int open_fds = 2;
	while (open_fds > 0) {
		double left = deadline - now_ms();
		if (left <= 0 && !r->timed_out) {
			r->timed_out = true;
			kill(-pid, SIGKILL);
			kill(pid, SIGKILL);
		}
		int n = poll(fds, 2, r->timed_out ? 1000 : (int)left + 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			break;
		if (n == 0 && r->timed_out)
			break; /* a grandchild holds the pipe: give up on it */
		for (int i = 0; i < 2; i++) {
			if (fds[i].fd < 0 || !(fds[i].revents & (POLLIN | POLLHUP | POLLERR)))
				continue;
			char chunk[8192];
			ssize_t got = read(fds[i].fd, chunk, sizeof(chunk));
			if (got > 0) {
				buf_append(i == 0 ? &out : &err, chunk, (size_t)got);
			} else if (got == 0 || (errno != EINTR && errno != EAGAIN)) {
				close(fds[i].fd);
				fds[i].fd = -1;
				open_fds--;
			}
		}
	}
	for (int i = 0; i < 2; i++)
		if (fds[i].fd >= 0)
			close(fds[i].fd);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	r->wall_ms = now_ms() - start;
	if (WIFEXITED(status))
		r->exit_code = WEXITSTATUS(status);
	else if (WIFSIGNALED(status))
		r->term_signal = WTERMSIG(status);
	buf_append(&out, "", 0);
	buf_append(&err, "", 0);
	r->out = out.p;
	r->err = err.p;
	parse_lines(r);
	return 0;
}

static void run_va(struct probe_run *r, bool check_json, va_list ap)
{
	char *argv[MAX_ARGS + 1];
	size_t n = 0;
	const char *a;

	argv[n++] = (char *)tw_probe_bin();
	if (check_json) {
		argv[n++] = "check";
		argv[n++] = "--json";
		argv[n++] = "--ca-file";
		argv[n++] = (char *)tw_pki("root.pem");
	}
	while ((a = va_arg(ap, const char *)) != NULL) {
		if (n >= MAX_ARGS) {
			fprintf(stderr, "probe_run: too many arguments\n");
			abort();
		}
		argv[n++] = (char *)a;
	}
	argv[n] = NULL;
	if (probe_run_argv(r, argv, PROBE_RUN_DEFAULT_TIMEOUT) < 0)
		die("cannot run the probe");
}

void probe_check(struct probe_run *r, ...)
{
	va_list ap;

	va_start(ap, r);
	run_va(r, true, ap);
	va_end(ap);
}

void probe_exec(struct probe_run *r, ...)
{
	va_list ap;

	va_start(ap, r);
	run_va(r, false, ap);
	va_end(ap);
}

void probe_run_free(struct probe_run *r)
{
	for (size_t i = 0; i < r->n_lines; i++)
		json_decref(r->lines[i]);
	free(r->out);
	free(r->err);
	memset(r, 0, sizeof(*r));
}

json_t *probe_line(const struct probe_run *r, size_t i)
{
	return i < r->n_lines ? r->lines[i] : NULL;
}

const char *probe_describe(const struct probe_run *r)
{
	static char msg[16384];
	char how[64];
	size_t off;
	int w;

	if (r->timed_out)
		snprintf(how, sizeof(how), "killed after timeout");
	else if (r->term_signal)
		snprintf(how, sizeof(how), "killed by signal %d", r->term_signal);
	else
		snprintf(how, sizeof(how), "exit %d", r->exit_code);
	w = snprintf(msg, sizeof(msg), "\n  command: %s\n  status: %s after %.0f ms, %zu JSON lines, "
		     "%zu bad lines", r->cmdline, how, r->wall_ms, r->n_lines, r->bad_lines);
	off = w < 0 ? 0 : ((size_t)w < sizeof(msg) ? (size_t)w : sizeof(msg) - 1);
	/* one key per line: Criterion cuts very long lines */
	for (size_t i = 0; i < r->n_lines && off < sizeof(msg) - 1; i++) {
		char *js = json_dumps(r->lines[i], JSON_INDENT(1) | JSON_PRESERVE_ORDER);
		w = snprintf(msg + off, sizeof(msg) - off, "\n  line %zu: %s", i + 1, js ? js : "?");
		free(js);
		if (w > 0)
			off += (size_t)w < sizeof(msg) - off ? (size_t)w : sizeof(msg) - 1 - off;
	}
	if (r->n_lines == 0 || r->bad_lines)
		snprintf(msg + off, sizeof(msg) - off, "\n  stdout: %.4000s", r->out ? r->out : "");
	off = strlen(msg);
	snprintf(msg + off, sizeof(msg) - off, "\n  stderr: %.3000s", r->err ? r->err : "");
	return msg;
}

/* --- JSON accessors */

const char *pj_str(const json_t *o, const char *key)
{
	json_t *v = o ? json_object_get(o, key) : NULL;

	return json_is_string(v) ? json_string_value(v) : NULL;
}

bool pj_is_null(const json_t *o, const char *key)
{
	json_t *v = o ? json_object_get(o, key) : NULL;

	return v && json_is_null(v);
}

bool pj_has(const json_t *o, const char *key)
{
	return o && json_object_get(o, key) != NULL;
}

bool pj_bool(const json_t *o, const char *key, bool *val)
{
	json_t *v = o ? json_object_get(o, key) : NULL;

	if (!json_is_boolean(v))
		return false;
	*val = json_is_true(v);
	return true;
}

bool pj_num(const json_t *o, const char *key, double *val)
{
	json_t *v = o ? json_object_get(o, key) : NULL;

	if (!json_is_number(v)) {
		*val = NAN;
		return false;
	}
	*val = json_number_value(v);
	return true;
}

bool pj_array_has_str(const json_t *o, const char *key, const char *s)
{
	json_t *arr = o ? json_object_get(o, key) : NULL;
	size_t i;
	json_t *v;

	if (!json_is_array(arr))
		return false;
	json_array_foreach(arr, i, v) {
		if (json_is_string(v) && strcmp(json_string_value(v), s) == 0)
			return true;
	}
	return false;
}

bool pj_has_finding(const json_t *o, const char *finding)
{
	return pj_array_has_str(o, "findings", finding);
}

bool pj_has_verify_error(const json_t *o, int depth, int code)
{
	json_t *arr = o ? json_object_get(o, "verify_errors") : NULL;
	size_t i;
	json_t *v;

	if (!json_is_array(arr))
		return false;
	json_array_foreach(arr, i, v) {
		json_t *d = json_object_get(v, "depth");
		json_t *c = json_object_get(v, "code");
		if (json_is_integer(d) && json_integer_value(d) == depth &&
		    (code < 0 || (json_is_integer(c) && json_integer_value(c) == code)))
			return true;
	}
	return false;
}

/* --- environment and paths */

static char *ring(void)
{
	static char bufs[16][1024];
	static unsigned next;

	return bufs[next++ % 16];
}

const char *tw_env(const char *name)
{
	const char *v = getenv(name);

	if (!v || !*v) {
		fprintf(stderr, "probe_run: environment variable %s is not set "
			"(run through the fixture script, e.g. `make test`)\n", name);
		abort();
	}
	return v;
}

const char *tw_probe_bin(void)
{
	const char *b = getenv("TW_BUILD");
	char *p = ring();

	snprintf(p, 1024, "%s/tlswatch-probe", b && *b ? b : "build");
	return p;
}

const char *tw_pki(const char *file)
{
	char *p = ring();

	snprintf(p, 1024, "%s/%s", tw_env("TW_PKI"), file);
	return p;
}

const char *tw_port(const char *port_env)
{
	return tw_env(port_env);
}

const char *tw_target(const char *host, const char *port_env)
{
	char *p = ring();

	snprintf(p, 1024, "%s:%s", host, tw_env(port_env));
	return p;
}

const char *tw_loopback(const char *port_env)
{
	return tw_target("127.0.0.1", port_env);
}

/* --- certificate facts via the openssl CLI */

static int openssl_x509(const char *pem, const char *opt, char *line, size_t n)
{
	struct probe_run r;
	char *argv[] = {"openssl", "x509", "-in", (char *)pem, "-noout", (char *)opt,
			"-dateopt", "iso_8601", NULL};
	int rc = -1;

	if (strcmp(opt, "-fingerprint") == 0) {
		argv[5] = "-fingerprint";
		argv[6] = "-sha256";
		argv[7] = NULL;
	}
	if (probe_run_argv(&r, argv, 10) == 0 && r.exit_code == 0) {
		char *eq = strchr(r.out, '=');
		if (eq) {
			snprintf(line, n, "%s", eq + 1);
			line[strcspn(line, "\r\n")] = '\0';
			rc = 0;
		}
	}
	probe_run_free(&r);
	return rc;
}

int tw_cert_date(const char *pem, const char *which, char *buf, size_t n)
{
	char line[128], opt[32];
	int Y, M, D, h, m, s;

	snprintf(opt, sizeof(opt), "-%s", which);
	if (openssl_x509(pem, opt, line, sizeof(line)) < 0)
		return -1;
	/* "2026-11-24 13:20:00Z" */
	if (sscanf(line, "%4d-%2d-%2d %2d:%2d:%2d", &Y, &M, &D, &h, &m, &s) != 6)
		return -1;
	snprintf(buf, n, "%04d-%02d-%02dT%02d:%02d:%02dZ", Y, M, D, h, m, s);
	return 0;
}

void tw_normalise_hex(const char *in, char *out, size_t n)
{
	size_t o = 0;

	for (; in && *in && o + 1 < n; in++) {
		if (*in == ':')
			continue;
		out[o++] = (*in >= 'A' && *in <= 'F') ? (char)(*in - 'A' + 'a') : *in;
	}
	if (n)
		out[o] = '\0';
}

int tw_cert_fingerprint(const char *pem, char *buf, size_t n)
{
	char line[256];

	if (openssl_x509(pem, "-fingerprint", line, sizeof(line)) < 0)
		return -1;
	tw_normalise_hex(line, buf, n);
	return 0;
}

long long tw_rfc3339_epoch(const char *s)
{
	struct tm tm = {0};
	int Y, M, D, h, m, sec, used = 0;

	if (!s || sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d%n", &Y, &M, &D, &h, &m, &sec, &used) != 6)
		return -1;
	s += used;
	if (*s == '.')
		for (s++; *s >= '0' && *s <= '9'; s++)
			;
	if (strcmp(s, "Z") != 0)
		return -1;
	tm.tm_year = Y - 1900;
	tm.tm_mon = M - 1;
	tm.tm_mday = D;
	tm.tm_hour = h;
	tm.tm_min = m;
	tm.tm_sec = sec;
	return (long long)timegm(&tm);
}

const char *tw_copy_file(const char *src, const char *name, unsigned mode)
{
	const char *dir = getenv("TW_WORK");
	char *dst = ring();
	char data[65536];
	ssize_t got;
	int in, out;

	snprintf(dst, 1024, "%s/%ld-%s", dir && *dir ? dir : "/tmp", (long)getpid(), name);
	in = open(src, O_RDONLY | O_CLOEXEC);
	if (in < 0)
		die(src);
	out = open(dst, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (out < 0)
		die(dst);
	while ((got = read(in, data, sizeof(data))) > 0)
		if (write(out, data, (size_t)got) != got)
			die(dst);
	if (got < 0 || fchmod(out, (mode_t)mode) < 0)
		die(dst);
	close(in);
	close(out);
	return dst;
}
