/*
 * metrics_proc.c - build information and process metrics (see metrics_proc.h).
 * A value that cannot be read (no /proc: not Linux, or a sandbox) leaves its
 * family out rather than exporting a made-up number.
 */
#include "metrics_proc.h"
#include "metrics_expo.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include <event2/event.h>
#include <libpq-fe.h>
#include <openssl/crypto.h>

/* /proc/self/stat fields after the command name (which may hold spaces and
 * parentheses: parse from the last ')'): 14 utime, 15 stime, 22 starttime
 * (clock ticks since boot), 23 vsize (bytes), 24 rss (pages). */
struct proc_stat {
	double cpu_seconds, start_since_boot, vsize, rss_bytes;
};

static int read_proc_stat(struct proc_stat *ps)
{
	char buf[1024];
	FILE *f = fopen("/proc/self/stat", "r");
	if (!f)
		return -1;
	size_t n = fread(buf, 1, sizeof buf - 1, f);
	fclose(f);
	buf[n] = '\0';
	char *p = strrchr(buf, ')');
	if (!p)
		return -1;
	long tck = sysconf(_SC_CLK_TCK), page = sysconf(_SC_PAGESIZE);
	if (tck <= 0 || page <= 0)
		return -1;
	/* p + 2 is field 3 (state); walk to the fields we want */
	unsigned long long v[25] = { 0 };
	char *s = p + 2;
	for (int field = 3; field <= 24 && *s; field++) {
		if (field == 3) {
			s = strchr(s, ' ');
		} else {
			char *end;
			v[field] = strtoull(s, &end, 10);
			if (end == s)
				return -1;
			s = end;
		}
		if (!s)
			return -1;
		while (*s == ' ')
			s++;
	}
	ps->cpu_seconds = (double)(v[14] + v[15]) / (double)tck;
	ps->start_since_boot = (double)v[22] / (double)tck;
	ps->vsize = (double)v[23];
	ps->rss_bytes = (double)v[24] * (double)page;
	return 0;
}

/* The boot time (Unix seconds) from /proc/stat's btime line. */
static int read_btime(double *out)
{
	FILE *f = fopen("/proc/stat", "r");
	if (!f)
		return -1;
	char line[256];
	int rc = -1;
	while (fgets(line, sizeof line, f)) {
		if (strncmp(line, "btime ", 6) == 0) {
			char *end;
			unsigned long long v = strtoull(line + 6, &end, 10);
			if (end != line + 6) {
				*out = (double)v;
				rc = 0;
			}
			break;
		}
	}
	fclose(f);
	return rc;
}

static long count_open_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	if (!d)
		return -1;
	long n = 0;
	struct dirent *e;
	while ((e = readdir(d)))
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n - 1; /* the directory stream's own descriptor */
}

static void gauge(struct evbuffer *b, const char *name, const char *type, const char *help,
		  double v)
{
	metrics_expo_family(b, name, type, help);
	evbuffer_add_printf(b, "%s ", name);
	metrics_expo_value(b, v);
	evbuffer_add(b, "\n", 1);
}

void metrics_proc_render(struct evbuffer *b, const char *version)
{
	char pq[32];
	snprintf(pq, sizeof pq, "%d", PQlibVersion());
	metrics_expo_family(b, "tlswatch_build_info", "gauge",
			    "Always 1; the labels say which build and libraries run.");
	evbuffer_add_printf(b, "tlswatch_build_info{version=\"");
	metrics_expo_label_value(b, version);
	evbuffer_add_printf(b, "\"");
	metrics_expo_label(b, "component", "collector");
	metrics_expo_label(b, "openssl", OpenSSL_version(OPENSSL_VERSION_STRING));
	metrics_expo_label(b, "libevent", event_get_version());
	metrics_expo_label(b, "libpq", pq);
	evbuffer_add_printf(b, "} 1\n");

	struct proc_stat ps;
	double btime;
	if (read_proc_stat(&ps) == 0) {
		gauge(b, "process_cpu_seconds_total", "counter",
		      "Total user and system CPU time spent in seconds.", ps.cpu_seconds);
		gauge(b, "process_resident_memory_bytes", "gauge", "Resident memory size in bytes.",
		      ps.rss_bytes);
		gauge(b, "process_virtual_memory_bytes", "gauge", "Virtual memory size in bytes.",
		      ps.vsize);
		if (read_btime(&btime) == 0)
			gauge(b, "process_start_time_seconds", "gauge",
			      "Start time of the process since unix epoch in seconds.",
			      btime + ps.start_since_boot);
	}
	long fds = count_open_fds();
	if (fds >= 0)
		gauge(b, "process_open_fds", "gauge", "Number of open file descriptors.", (double)fds);
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY)
		gauge(b, "process_max_fds", "gauge", "Maximum number of open file descriptors.",
		      (double)rl.rlim_cur);
}
