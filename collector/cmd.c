/*
 * cmd.c - what the collector's subcommands share: argument parsing of
 * `-c FILE`, RFC 3339 times on the command line, and a blocking session.
 */
#define _GNU_SOURCE      /* timegm */
#include "cmd.h"
#include "evaluator.h"
#include "pgconn.h"
#include "twtime.h"

#include <ctype.h>
#include <string.h>
#include <time.h>

int cmd_parse_config_args(int argc, char **argv, const char *cmd, bool allow_check,
			  void (*help)(FILE *), const char **path, bool *check_only, int *rc)
{
	*path = NULL;
	for (int i = 1; i < argc; i++) {
		if ((!strcmp(argv[i], "-c") || !strcmp(argv[i], "--config")) && i + 1 < argc) {
			*path = argv[++i];
		} else if (allow_check && !strcmp(argv[i], "--check-config")) {
			*check_only = true;
		} else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			help(stdout);
			*rc = CMD_EXIT_OK;
			return -1;
		} else {
			fprintf(stderr, "tlswatch-collector %s: unknown argument \"%s\" (see --help)\n",
				cmd, argv[i]);
			*rc = CMD_EXIT_USAGE;
			return -1;
		}
	}
	if (!*path) {
		fprintf(stderr, "tlswatch-collector %s: -c FILE is required (see --help)\n", cmd);
		*rc = CMD_EXIT_USAGE;
		return -1;
	}
	return 0;
}

int cmd_parse_time(const char *s, int64_t *ms)
{
	if (!strcmp(s, "now")) {
		*ms = twtime_wall_ms();
		return 0;
	}
	struct tm tm;
	memset(&tm, 0, sizeof tm);
	int n = 0;
	/* every field digits in its place: %d alone takes " 3" or "+3" */
	static const char shape[] = "dddd-dd-ddTdd:dd:dd";
	for (size_t i = 0; i < sizeof shape - 1; i++)
		if (shape[i] == 'd' ? !isdigit((unsigned char)s[i]) : s[i] != shape[i])
			return -1;
	if (sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
		   &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &n) != 6 || n != 19)
		return -1;
	const char *p = s + n;
	long frac = 0;
	if (*p == '.') {
		int digits = 0;
		for (p++; isdigit((unsigned char)*p); p++, digits++)
			if (digits < 3)
				frac = frac * 10 + (*p - '0');
		if (digits == 0)
			return -1;
		for (; digits < 3; digits++)
			frac *= 10;
	}
	long off = 0;
	if (*p == 'Z' || *p == 'z') {
		p++;
	} else if (*p == '+' || *p == '-') {
		int hh, mm, k = 0;
		if (sscanf(p + 1, "%2d:%2d%n", &hh, &mm, &k) != 2 || k != 5 || hh > 23 || mm > 59)
			return -1;
		off = (hh * 60L + mm) * 60L * (*p == '+' ? 1 : -1);
		p += 6;
	} else {
		return -1;
	}
	if (*p || tm.tm_mon < 1 || tm.tm_mon > 12 || tm.tm_mday < 1 || tm.tm_mday > 31 ||
	    tm.tm_hour > 23 || tm.tm_min > 59 || tm.tm_sec > 60)
		return -1;
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	/* a leap second is the next second (timegm would roll the day over) */
	int leap = tm.tm_sec == 60;
	tm.tm_sec -= leap;
	struct tm want = tm;
	time_t t = timegm(&tm);
	/* timegm normalises in place: a day the month does not have ("February
	 * 31") comes back as another date. (-1 is a valid time: 1969-12-31
	 * 23:59:59.) */
	if (tm.tm_year != want.tm_year || tm.tm_mon != want.tm_mon || tm.tm_mday != want.tm_mday)
		return -1;
	*ms = ((int64_t)t + leap - off) * 1000 + frac;
	return 0;
}

PGconn *cmd_connect(const struct col_config *cfg, const char *cmd)
{
	char err[512];
	/* the one conninfo expansion (pgconn.h); its messages never contain the password */
	PGconn *c = pgconn_connect_blocking(cfg->db_conninfo, "tlswatch-collector", err, sizeof err);
	if (!c) {
		fprintf(stderr, "tlswatch-collector %s: database: %s\n", cmd, err);
		return NULL;
	}
	if (evaluator_prepare_conn(c, err, sizeof err) < 0) {
		fprintf(stderr, "tlswatch-collector %s: database: %s\n", cmd, err);
		PQfinish(c);
		return NULL;
	}
	return c;
}
